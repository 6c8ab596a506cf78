//! The example rule file shipped in `rules/examples/` (and shown in
//! docs/rules.md) loads, and routes the way its comments say.

mod common;

use common::{rules, Stmt};
use tern_rules::{Consistency, Destination, StatementKind};

const EXAMPLE: &str = include_str!("../examples/tern-rules.toml");

fn analytics() -> Destination {
    Destination::ReplicaGroup("analytics".into())
}

#[test]
fn example_file_loads() {
    let set = rules(EXAMPLE);
    assert_eq!(set.len(), 7);
    assert_eq!(set.replica_groups(), ["analytics"]);
    assert_eq!(
        set.rule(0).and_then(|r| r.name),
        Some("no-drop-table-for-apps")
    );
}

#[test]
fn example_blocks_drop_table_for_app_users_only() {
    let set = rules(EXAMPLE);
    let drop = Stmt::new(StatementKind::Ddl, "/* tern:async */ DROP TABLE orders");
    let d = set.evaluate(&drop.clone().user("app_checkout").facts());
    assert_eq!(
        d.reject.map(|r| (r.code, r.sqlstate_str())),
        Some((1142, "42000"))
    );
    assert_eq!(
        set.rule(d.verdict_rule.unwrap_or(99)).and_then(|r| r.name),
        Some("no-drop-table-for-apps")
    );
    assert!(set.evaluate(&drop.user("deploy").facts()).is_empty());
    let alter = Stmt::new(StatementKind::Ddl, "ALTER TABLE orders ADD note TEXT").user("app");
    assert!(set.evaluate(&alter.facts()).is_empty());
}

#[test]
fn example_refuses_writes_from_the_decommissioned_host() {
    let set = rules(EXAMPLE);
    let insert =
        Stmt::new(StatementKind::Insert, "INSERT INTO orders VALUES (1)").client("192.168.1.7");
    assert_eq!(
        set.evaluate(&insert.facts()).reject.map(|r| r.code),
        Some(1290)
    );
    let select = Stmt::select("SELECT 1").client("192.168.1.7");
    assert!(set.evaluate(&select.facts()).reject.is_none());
}

#[test]
fn example_dashboards_read_eventual_and_still_get_routed() {
    let set = rules(EXAMPLE);
    let d = set.evaluate(
        &Stmt::select("SELECT count(*) FROM reports.daily")
            .user("grafana")
            .tables(&["reports.daily"])
            .facts(),
    );
    assert_eq!(d.consistency, Some(Consistency::Eventual));
    assert_eq!(d.route, Some(&analytics()));
    // A dashboard query on other tables: eventual, default routing.
    let d = set.evaluate(
        &Stmt::select("SELECT 1 FROM shop.orders")
            .user("dashboard_ops")
            .tables(&["shop.orders"])
            .facts(),
    );
    assert_eq!(d.consistency, Some(Consistency::Eventual));
    assert_eq!(d.route, None);
}

#[test]
fn example_pins_tenant_acme_to_primary() {
    let set = rules(EXAMPLE);
    let qualified = Stmt::select("q").tables(&["tenant_acme.invoices"]);
    assert_eq!(
        set.evaluate(&qualified.facts()).route,
        Some(&Destination::Primary)
    );
    let by_default_schema = Stmt::new(StatementKind::Update, "q")
        .schema("tenant_acme")
        .tables(&["invoices"]);
    assert_eq!(
        set.evaluate(&by_default_schema.facts()).route,
        Some(&Destination::Primary)
    );
    // Pinning wins over the reports rule below it: first route wins.
    let join = Stmt::select("q").tables(&["reports.daily", "tenant_acme.invoices"]);
    assert_eq!(
        set.evaluate(&join.facts()).route,
        Some(&Destination::Primary)
    );
}

#[test]
fn example_sends_reports_hints_and_batch_scans_to_analytics() {
    let set = rules(EXAMPLE);
    let audit = Stmt::select("q").tables(&["shop.audit_orders"]);
    assert_eq!(set.evaluate(&audit.facts()).route, Some(&analytics()));
    let hinted = Stmt::select("/* tern:analytics */ SELECT 1").hint("analytics", None);
    assert_eq!(set.evaluate(&hinted.facts()).route, Some(&analytics()));

    let scan = Stmt::select("SELECT * FROM big_table WHERE day = 1").client("10.20.3.4");
    let d = set.evaluate(&scan.facts());
    assert_eq!(d.route, Some(&analytics()));
    assert_eq!(d.consistency, Some(Consistency::Eventual));
    // Same scan from the web tier: no rule applies.
    assert!(set.evaluate(&scan.client("10.30.0.1").facts()).is_empty());
}
