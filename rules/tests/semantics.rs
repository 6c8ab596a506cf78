//! Precedence between rules and the `last` flag: the first matching rule
//! fills each slot (verdict = route/reject, consistency), later rules never
//! override, and a matching rule with `last = true` ends the search.

mod common;

use common::{rules, Stmt};
use tern_rules::{Consistency, Destination, StatementKind};

fn group(name: &str) -> Destination {
    Destination::ReplicaGroup(name.into())
}

#[test]
fn first_matching_route_wins() {
    let set = rules(
        r#"
[[rule]]
user = "nobody"
route = "group:never"

[[rule]]
kind = "select"
route = "group:first"

[[rule]]
route = "group:second"
"#,
    );
    let d = set.evaluate(&Stmt::select("q").facts());
    assert_eq!(d.route, Some(&group("first")));
    assert_eq!(d.verdict_rule, Some(1));
}

#[test]
fn routing_rule_is_last_by_default() {
    let set = rules(
        r#"
[[rule]]
route = "replica"

[[rule]]
consistency = "eventual"
"#,
    );
    let d = set.evaluate(&Stmt::select("q").facts());
    assert_eq!(d.route, Some(&Destination::AnyReplica));
    assert_eq!(d.consistency, None, "the search ended at the routing rule");
}

#[test]
fn rejecting_rule_is_last_by_default() {
    let set = rules(
        r#"
[[rule]]
reject = { code = 1142, message = "no" }

[[rule]]
consistency = "eventual"
"#,
    );
    let d = set.evaluate(&Stmt::select("q").facts());
    assert!(d.reject.is_some());
    assert_eq!(d.consistency, None);
}

#[test]
fn consistency_only_rule_is_not_last_by_default() {
    let set = rules(
        r#"
[[rule]]
user = "dash*"
consistency = "eventual"

[[rule]]
kind = "select"
route = "replica"
"#,
    );
    let d = set.evaluate(&Stmt::select("q").user("dashboard").facts());
    assert_eq!(d.consistency, Some(Consistency::Eventual));
    assert_eq!(d.consistency_rule, Some(0));
    assert_eq!(d.route, Some(&Destination::AnyReplica));
    assert_eq!(d.verdict_rule, Some(1));
}

#[test]
fn route_with_last_false_lets_later_rules_add_consistency_but_not_reroute() {
    let set = rules(
        r#"
[[rule]]
tables = "reports.*"
route = "group:analytics"
last = false

[[rule]]
route = "primary"

[[rule]]
consistency = "eventual"
"#,
    );
    let d = set.evaluate(&Stmt::select("q").tables(&["reports.daily"]).facts());
    assert_eq!(d.route, Some(&group("analytics")), "not overridden");
    // Rule 1 matched too but found the verdict taken; it is last, so rule 2
    // is never reached.
    assert_eq!(d.consistency, None);

    let set = rules(
        r#"
[[rule]]
tables = "reports.*"
route = "group:analytics"
last = false

[[rule]]
consistency = "eventual"

[[rule]]
consistency = "global"
"#,
    );
    let d = set.evaluate(&Stmt::select("q").tables(&["reports.daily"]).facts());
    assert_eq!(d.route, Some(&group("analytics")));
    assert_eq!(d.consistency, Some(Consistency::Eventual), "first one wins");
    assert_eq!(d.consistency_rule, Some(1));
}

#[test]
fn a_later_reject_does_not_override_an_earlier_route() {
    let set = rules(
        r#"
[[rule]]
route = "replica"
last = false

[[rule]]
reject = { code = 1142, message = "no" }
"#,
    );
    let d = set.evaluate(&Stmt::select("q").facts());
    assert_eq!(d.route, Some(&Destination::AnyReplica));
    assert!(d.reject.is_none());
}

#[test]
fn consistency_rule_with_last_true_ends_the_search() {
    let set = rules(
        r#"
[[rule]]
user = "dashboard"
consistency = "eventual"
last = true

[[rule]]
route = "primary"
"#,
    );
    let d = set.evaluate(&Stmt::select("q").user("dashboard").facts());
    assert_eq!(d.consistency, Some(Consistency::Eventual));
    assert_eq!(d.route, None, "the proxy's default routing applies");
    // Another user skips rule 0 and reaches rule 1.
    let d = set.evaluate(&Stmt::select("q").user("app").facts());
    assert_eq!(d.route, Some(&Destination::Primary));
}

#[test]
fn last_only_applies_when_the_rule_matches() {
    let set = rules(
        r#"
[[rule]]
user = "someone-else"
route = "primary"
last = true

[[rule]]
route = "replica"
"#,
    );
    let d = set.evaluate(&Stmt::select("q").facts());
    assert_eq!(d.route, Some(&Destination::AnyReplica));
}

#[test]
fn file_order_holds_across_kind_specific_and_generic_rules() {
    // The rule set indexes rules by kind; this pins that the index keeps
    // file order between a rule for every kind and a select-only rule.
    let set = rules(
        r#"
[[rule]]
user = "app"
route = "group:any-kind"

[[rule]]
kind = "select"
route = "group:select-only"
"#,
    );
    let d = set.evaluate(&Stmt::select("q").facts());
    assert_eq!(d.route, Some(&group("any-kind")));
    let d = set.evaluate(&Stmt::select("q").user("other").facts());
    assert_eq!(d.route, Some(&group("select-only")));
    let d = set.evaluate(&Stmt::new(StatementKind::Insert, "q").user("other").facts());
    assert!(d.is_empty());
}

#[test]
fn pattern_rule_after_a_decided_verdict_is_not_needed() {
    // The verdict is taken and consistency too, so the search stops before
    // the pattern rule; the result is the same as if it had run.
    let set = rules(
        r#"
[[rule]]
route = "replica"
consistency = "session"

[[rule]]
pattern = "anything"
route = "primary"
"#,
    );
    let d = set.evaluate(&Stmt::select("anything").facts());
    assert_eq!(d.route, Some(&Destination::AnyReplica));
    assert_eq!(d.consistency, Some(Consistency::Session));
    assert_eq!(d.verdict_rule, Some(0));
    assert_eq!(d.consistency_rule, Some(0));
}
