//! Each condition and each action, one at a time, through the public API:
//! a rule file in, a decision out.

mod common;

use common::{rules, Stmt};
use tern_rules::{Consistency, Destination, RuleSet, StatementKind};

/// Whether a one-rule file with `condition` routes `stmt` to the primary.
fn matches(condition: &str, stmt: &Stmt) -> bool {
    let set = rules(&format!("[[rule]]\n{condition}\nroute = \"primary\"\n"));
    set.evaluate(&stmt.facts()).route == Some(&Destination::Primary)
}

#[test]
fn empty_rule_set_decides_nothing() {
    let set = RuleSet::empty();
    assert!(set.is_empty());
    assert!(set.evaluate(&Stmt::select("select 1").facts()).is_empty());
    let from_empty_file = rules("# nothing yet\n");
    assert_eq!(from_empty_file.len(), 0);
}

#[test]
fn rule_without_conditions_matches_everything() {
    for kind in StatementKind::ALL {
        assert!(matches("", &Stmt::new(kind, "x")), "{kind:?}");
    }
}

#[test]
fn kind_condition() {
    let cond = r#"kind = ["select", "ddl"]"#;
    assert!(matches(cond, &Stmt::select("select 1")));
    assert!(matches(
        cond,
        &Stmt::new(StatementKind::Ddl, "drop table t")
    ));
    assert!(!matches(cond, &Stmt::new(StatementKind::Insert, "insert")));
    // A single string is a one-element list, and names ignore case.
    assert!(matches(
        r#"kind = "SET""#,
        &Stmt::new(StatementKind::Set, "set x=1")
    ));
    assert!(!matches(r#"kind = "set""#, &Stmt::select("select 1")));
}

#[test]
fn every_kind_name_is_accepted() {
    for kind in StatementKind::ALL {
        let cond = format!("kind = \"{}\"", kind.name());
        assert!(matches(&cond, &Stmt::new(kind, "x")), "{kind:?}");
    }
}

#[test]
fn tables_condition_plain_name_matches_any_schema() {
    let cond = r#"tables = ["orders"]"#;
    assert!(matches(cond, &Stmt::select("q").tables(&["orders"])));
    assert!(matches(cond, &Stmt::select("q").tables(&["shop.ORDERS"])));
    assert!(!matches(
        cond,
        &Stmt::select("q").tables(&["orders_archive"])
    ));
    assert!(!matches(cond, &Stmt::select("select 1")), "no tables");
}

#[test]
fn tables_condition_schema_and_wildcards() {
    let cond = r#"tables = ["reports.*", "*.audit_*"]"#;
    assert!(matches(cond, &Stmt::select("q").tables(&["reports.daily"])));
    assert!(matches(
        cond,
        &Stmt::select("q").tables(&["shop.audit_log"])
    ));
    assert!(matches(cond, &Stmt::select("q").tables(&["audit_log"])));
    assert!(!matches(cond, &Stmt::select("q").tables(&["shop.orders"])));
    // Any one table of a join is enough.
    assert!(matches(
        cond,
        &Stmt::select("q").tables(&["shop.orders", "reports.daily"])
    ));
}

#[test]
fn tables_condition_unqualified_table_is_in_the_default_schema() {
    let cond = r#"tables = ["reports.*"]"#;
    let stmt = Stmt::select("q").tables(&["daily"]);
    assert!(matches(cond, &stmt.clone().schema("reports")));
    assert!(!matches(cond, &stmt.clone().schema("shop")));
    assert!(!matches(cond, &stmt), "no default schema");
}

#[test]
fn user_condition() {
    let cond = r#"user = ["report_*", "bi"]"#;
    assert!(matches(cond, &Stmt::select("q").user("report_ro")));
    assert!(matches(cond, &Stmt::select("q").user("BI")));
    assert!(!matches(cond, &Stmt::select("q").user("app")));
}

#[test]
fn schema_condition() {
    let cond = r#"schema = "shop*""#;
    assert!(matches(cond, &Stmt::select("q").schema("shop")));
    assert!(matches(cond, &Stmt::select("q").schema("shop_eu")));
    assert!(!matches(cond, &Stmt::select("q").schema("crm")));
    assert!(!matches(cond, &Stmt::select("q")), "no default schema");
}

#[test]
fn client_condition() {
    let cond = r#"client = ["10.0.0.0/8", "192.168.1.7", "fd00::/8"]"#;
    assert!(matches(cond, &Stmt::select("q").client("10.20.30.40")));
    assert!(matches(cond, &Stmt::select("q").client("192.168.1.7")));
    assert!(matches(cond, &Stmt::select("q").client("fd00::42")));
    assert!(matches(cond, &Stmt::select("q").client("::ffff:10.1.1.1")));
    assert!(!matches(cond, &Stmt::select("q").client("192.168.1.8")));
    assert!(!matches(cond, &Stmt::select("q").client("::1")));
}

#[test]
fn pattern_condition() {
    let cond = r#"pattern = "(?i)^select .* from big_table""#;
    assert!(matches(
        cond,
        &Stmt::select("SELECT a FROM big_table WHERE x")
    ));
    assert!(!matches(cond, &Stmt::select("select a from small_table")));
    // Case matters without (?i).
    assert!(!matches(
        r#"pattern = "^select""#,
        &Stmt::select("SELECT 1")
    ));
}

#[test]
fn several_pattern_rules_each_answered_by_the_one_scan() {
    let set = rules(
        r#"
[[rule]]
pattern = "foo"
route = "group:foo"

[[rule]]
pattern = "bar"
route = "group:bar"

[[rule]]
pattern = "o+b"
route = "group:oob"
"#,
    );
    let route = |text: &'static str| {
        set.evaluate(&Stmt::select(text).facts())
            .route
            .map(ToString::to_string)
    };
    assert_eq!(route("select foo"), Some("group:foo".into()));
    assert_eq!(route("select bar"), Some("group:bar".into()));
    assert_eq!(route("select oob"), Some("group:oob".into()));
    assert_eq!(route("select baz"), None);
}

#[test]
fn hint_condition_key_only_and_key_value() {
    let key_only = r#"hint = "analytics""#;
    assert!(matches(
        key_only,
        &Stmt::select("q").hint("analytics", None)
    ));
    assert!(matches(
        key_only,
        &Stmt::select("q").hint("analytics", Some("heavy"))
    ));
    assert!(!matches(key_only, &Stmt::select("q").hint("async", None)));
    assert!(!matches(key_only, &Stmt::select("q")));

    let pair = r#"hint = "route=reports""#;
    assert!(matches(
        pair,
        &Stmt::select("q").hint("route", Some("reports"))
    ));
    assert!(!matches(
        pair,
        &Stmt::select("q").hint("route", Some("other"))
    ));
    assert!(!matches(pair, &Stmt::select("q").hint("route", None)));
}

#[test]
fn conditions_are_anded() {
    let cond = r#"
kind = "select"
user = "report_*"
tables = "reports.*"
client = "10.0.0.0/8"
pattern = "daily"
"#;
    let full = || {
        Stmt::select("select * from reports.daily")
            .user("report_ro")
            .tables(&["reports.daily"])
            .client("10.1.1.1")
    };
    assert!(matches(cond, &full()));
    assert!(!matches(cond, &full().user("app")));
    assert!(!matches(cond, &full().tables(&["shop.orders"])));
    assert!(!matches(cond, &full().client("192.168.0.1")));
    assert!(!matches(
        cond,
        &Stmt::new(StatementKind::Insert, "insert into reports.daily")
            .user("report_ro")
            .tables(&["reports.daily"])
            .client("10.1.1.1")
    ));
    let mut other_text = full();
    other_text.text = "select * from reports.weekly";
    assert!(!matches(cond, &other_text));
}

#[test]
fn route_actions() {
    let route_of = |route: &str| {
        let set = rules(&format!("[[rule]]\nroute = \"{route}\"\n"));
        set.evaluate(&Stmt::select("q").facts()).route.cloned()
    };
    assert_eq!(route_of("primary"), Some(Destination::Primary));
    assert_eq!(route_of("replica"), Some(Destination::AnyReplica));
    assert_eq!(route_of("Replica"), Some(Destination::AnyReplica));
    assert_eq!(
        route_of("group:analytics"),
        Some(Destination::ReplicaGroup("analytics".into()))
    );
}

#[test]
fn reject_action_with_explicit_and_derived_sqlstate() {
    let set = rules(
        r#"
[[rule]]
kind = "ddl"
reject = { code = 1142, message = "DDL goes through the migration tool" }

[[rule]]
kind = "insert"
reject = { code = 1290, message = "read-only window", sqlstate = "HY000" }

[[rule]]
kind = "delete"
reject = { code = 3100, message = "custom", sqlstate = "45000" }
"#,
    );
    let decision = set.evaluate(&Stmt::new(StatementKind::Ddl, "drop table t").facts());
    let reject = decision.reject.expect("ddl rejected");
    assert_eq!(reject.code, 1142);
    assert_eq!(reject.sqlstate_str(), "42000", "derived from the code");
    assert_eq!(reject.message, "DDL goes through the migration tool");
    assert!(decision.route.is_none());
    assert_eq!(decision.verdict_rule, Some(0));

    let reject = set
        .evaluate(&Stmt::new(StatementKind::Insert, "insert").facts())
        .reject
        .expect("insert rejected");
    assert_eq!((reject.code, reject.sqlstate_str()), (1290, "HY000"));

    let reject = set
        .evaluate(&Stmt::new(StatementKind::Delete, "delete").facts())
        .reject
        .expect("delete rejected");
    assert_eq!((reject.code, reject.sqlstate_str()), (3100, "45000"));
}

#[test]
fn reject_may_be_written_as_a_subtable() {
    let set = rules(
        r#"
[[rule]]
kind = "ddl"
[rule.reject]
code = 1142
message = "no DDL"
"#,
    );
    let decision = set.evaluate(&Stmt::new(StatementKind::Ddl, "drop").facts());
    assert_eq!(decision.reject.map(|r| r.code), Some(1142));
}

#[test]
fn consistency_actions() {
    for (name, want) in [
        ("session", Consistency::Session),
        ("global", Consistency::Global),
        ("eventual", Consistency::Eventual),
    ] {
        let set = rules(&format!("[[rule]]\nconsistency = \"{name}\"\n"));
        let decision = set.evaluate(&Stmt::select("q").facts());
        assert_eq!(decision.consistency, Some(want));
        assert_eq!(decision.consistency_rule, Some(0));
        assert!(decision.route.is_none());
    }
}

#[test]
fn rules_may_be_written_as_an_inline_array() {
    let set = rules(
        r#"rule = [
  { kind = "select", route = "replica" },
  { kind = "ddl", reject = { code = 1142, message = "no" } },
]"#,
    );
    assert_eq!(set.len(), 2);
    assert_eq!(
        set.evaluate(&Stmt::select("q").facts()).route,
        Some(&Destination::AnyReplica)
    );
}

#[test]
fn replica_groups_lists_referenced_groups_once_sorted() {
    let set = rules(
        r#"
[[rule]]
user = "b"
route = "group:reports"
[[rule]]
user = "a"
route = "group:analytics"
[[rule]]
user = "c"
route = "group:reports"
[[rule]]
route = "replica"
"#,
    );
    assert_eq!(set.replica_groups(), ["analytics", "reports"]);
}

#[test]
fn rule_info_names_rules_for_logs() {
    let set = rules(
        r#"
[[rule]]
name = "reports-to-analytics"
route = "group:analytics"

[[rule]]
route = "primary"
"#,
    );
    let first = set.rule(0).expect("rule 0");
    assert_eq!(first.name, Some("reports-to-analytics"));
    assert_eq!(first.line, 2);
    assert_eq!(first.to_string(), "rule \"reports-to-analytics\" (line 2)");
    assert_eq!(
        set.rule(1).map(|r| r.to_string()),
        Some("rule at line 6".into())
    );
    assert!(set.rule(2).is_none());
}
