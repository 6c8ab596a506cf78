//! Every validation error, with the line it must be reported at. Each file
//! below starts with a newline so that `[[rule]]` is on line 2.

mod common;

use common::errors;
use tern_rules::{RuleErrorKind, RuleSet};

/// Asserts that `toml` is refused with exactly one error, on `line`, whose
/// message contains `needle`.
fn one_error(toml: &str, line: usize, needle: &str) {
    let errors = errors(toml);
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    let (got_line, message) = &errors[0];
    assert_eq!(*got_line, line, "wrong line for {message:?}");
    assert!(
        message.contains(needle),
        "message {message:?} does not contain {needle:?}"
    );
}

#[test]
fn toml_syntax_error() {
    one_error("\n[[rule]]\nroute = primary\n", 3, "TOML syntax");
    one_error(
        "\n[[rule]]\nroute = \"primary\"\nroute = \"replica\"\n",
        4,
        "duplicate key",
    );
}

#[test]
fn unknown_top_level_key() {
    one_error(
        "version = 2\n[[rule]]\nroute = \"primary\"\n",
        1,
        "unknown top-level key `version`",
    );
    one_error("\n[rules]\nroute = \"primary\"\n", 2, "`rules`");
}

#[test]
fn rule_not_a_table() {
    one_error("\nrule = \"primary\"\n", 2, "array of tables");
    one_error("\n[rule]\nroute = \"primary\"\n", 2, "array of tables");
    one_error("\nrule = [1]\n", 2, "array of tables");
}

#[test]
fn unknown_rule_key_with_suggestion() {
    one_error(
        "\n[[rule]]\nroute = \"primary\"\ntable = \"orders\"\n",
        4,
        "unknown key `table` in a rule (did you mean `tables`?)",
    );
    one_error(
        "\n[[rule]]\nroute = \"primary\"\ncolour = \"blue\"\n",
        4,
        "unknown key `colour`",
    );
}

#[test]
fn wrong_value_types() {
    one_error(
        "\n[[rule]]\nname = 3\nroute = \"primary\"\n",
        3,
        "`name` must be a string, not integer",
    );
    one_error(
        "\n[[rule]]\nkind = 3\nroute = \"primary\"\n",
        3,
        "a string or a list of strings",
    );
    one_error(
        "\n[[rule]]\nkind = [\"select\",\n  7]\nroute = \"primary\"\n",
        4,
        "`kind` must be a list of strings, not integer",
    );
    one_error(
        "\n[[rule]]\npattern = [\"a\"]\nroute = \"primary\"\n",
        3,
        "`pattern` must be a string",
    );
    one_error("\n[[rule]]\nroute = true\n", 3, "`route` must be a string");
    one_error(
        "\n[[rule]]\nroute = \"primary\"\nlast = \"yes\"\n",
        4,
        "`last` must be true or false",
    );
    one_error("\n[[rule]]\nreject = 1142\n", 3, "`reject` must be a table");
    one_error(
        "\n[[rule]]\nreject = { code = \"1142\", message = \"no\" }\n",
        3,
        "`reject.code` must be an integer",
    );
    one_error(
        "\n[[rule]]\nconsistency = 1\n",
        3,
        "`consistency` must be a string",
    );
}

#[test]
fn empty_list() {
    one_error(
        "\n[[rule]]\nuser = []\nroute = \"primary\"\n",
        3,
        "`user` is an empty list",
    );
}

#[test]
fn empty_strings() {
    one_error(
        "\n[[rule]]\nname = \"\"\nroute = \"primary\"\n",
        3,
        "`name` is empty",
    );
    one_error(
        "\n[[rule]]\npattern = ''\nroute = \"primary\"\n",
        3,
        "`pattern` is empty",
    );
}

#[test]
fn unknown_kind() {
    one_error(
        "\n[[rule]]\nkind = [\"select\", \"selcet\"]\nroute = \"primary\"\n",
        3,
        "unknown statement kind `selcet`",
    );
}

#[test]
fn bad_globs() {
    one_error(
        "\n[[rule]]\nuser = \"report_%\"\nroute = \"primary\"\n",
        3,
        "`%` is not a wildcard",
    );
    one_error(
        "\n[[rule]]\nuser = \"app@10.%\"\nroute = \"primary\"\n",
        3,
        "with `client`",
    );
    one_error(
        "\n[[rule]]\nschema = \"\"\nroute = \"primary\"\n",
        3,
        "empty",
    );
    one_error(
        "\n[[rule]]\ntables = [\"a.b.c\"]\nroute = \"primary\"\n",
        3,
        "at most one dot",
    );
    one_error(
        "\n[[rule]]\ntables = [\"shop.\"]\nroute = \"primary\"\n",
        3,
        "table part",
    );
    one_error(
        "\n[[rule]]\ntables = [\"[ab]*\"]\nroute = \"primary\"\n",
        3,
        "character classes",
    );
}

#[test]
fn bad_regex() {
    one_error(
        "\n[[rule]]\npattern = \"^select (\"\nroute = \"primary\"\n",
        3,
        "bad regex in `pattern`",
    );
}

#[test]
fn bad_cidr() {
    one_error(
        "\n[[rule]]\nclient = [\"10.0.0.0/8\", \"10.0.0.0/33\"]\nroute = \"primary\"\n",
        3,
        "prefix length",
    );
    one_error(
        "\n[[rule]]\nclient = \"db.example\"\nroute = \"primary\"\n",
        3,
        "not an IPv4 or IPv6 address",
    );
}

#[test]
fn bad_hint() {
    one_error(
        "\n[[rule]]\nhint = \"route=\"\nroute = \"primary\"\n",
        3,
        "bad `hint`",
    );
    one_error(
        "\n[[rule]]\nhint = \"tern:analytics\"\nroute = \"primary\"\n",
        3,
        "`tern:` prefix",
    );
}

#[test]
fn bad_route() {
    for bad in ["master", "group:", "group:a b", "replicas"] {
        one_error(
            &format!("\n[[rule]]\nroute = \"{bad}\"\n"),
            3,
            "bad `route`",
        );
    }
}

#[test]
fn bad_consistency() {
    one_error(
        "\n[[rule]]\nconsistency = \"strong\"\n",
        3,
        "bad `consistency` `strong`",
    );
}

#[test]
fn reject_code_out_of_range() {
    for code in ["0", "999", "65535", "70000", "-1"] {
        one_error(
            &format!("\n[[rule]]\nreject = {{ code = {code}, message = \"no\" }}\n"),
            3,
            "out of range",
        );
    }
}

#[test]
fn bad_reject_fields() {
    one_error(
        "\n[[rule]]\nreject = { code = 1142, message = \"no\", sqlstate = \"4200\" }\n",
        3,
        "`reject.sqlstate` `4200`",
    );
    one_error(
        "\n[[rule]]\nreject = { code = 1142, message = \"no\", sqlstate = \"42s02\" }\n",
        3,
        "capital letters",
    );
    one_error(
        "\n[[rule]]\nreject = { code = 1142, message = \"\" }\n",
        3,
        "`reject.message` is empty",
    );
    one_error(
        &format!(
            "\n[[rule]]\nreject = {{ code = 1142, message = \"{}\" }}\n",
            "x".repeat(513)
        ),
        3,
        "longer than 512 bytes",
    );
    one_error(
        "\n[[rule]]\nreject = { code = 1142, message = \"no\", state = \"42000\" }\n",
        3,
        "unknown key `state` in `reject`",
    );
}

#[test]
fn reject_missing_keys() {
    one_error(
        "\n[[rule]]\nreject = { code = 1142 }\n",
        3,
        "`reject` needs `message`",
    );
    let both = errors("\n[[rule]]\nreject = {}\n");
    assert_eq!(
        both,
        vec![
            (3, "`reject` needs `code`".to_owned()),
            (3, "`reject` needs `message`".to_owned())
        ]
    );
}

#[test]
fn reject_code_on_its_own_line_in_a_subtable() {
    one_error(
        "\n[[rule]]\n[rule.reject]\ncode = 12\nmessage = \"no\"\n",
        4,
        "out of range",
    );
}

#[test]
fn rule_without_action() {
    one_error(
        "\n[[rule]]\nname = \"idle\"\nkind = \"select\"\n",
        2,
        "no action",
    );
    one_error(
        "\n[[rule]]\nkind = \"select\"\nlast = true\n",
        2,
        "no action",
    );
}

#[test]
fn reject_combined_with_route_or_consistency() {
    one_error(
        "\n[[rule]]\nroute = \"primary\"\nreject = { code = 1142, message = \"no\" }\n",
        4,
        "cannot also `route`",
    );
    one_error(
        "\n[[rule]]\nreject = { code = 1142, message = \"no\" }\nconsistency = \"eventual\"\n",
        3,
        "cannot also `route`",
    );
}

#[test]
fn consistency_with_primary_route() {
    one_error(
        "\n[[rule]]\nroute = \"primary\"\nconsistency = \"global\"\n",
        4,
        "no effect",
    );
}

#[test]
fn writes_routed_to_a_replica() {
    one_error(
        "\n[[rule]]\nkind = [\"select\", \"insert\"]\nroute = \"group:reports\"\n",
        3,
        "`kind` includes `insert`, a write",
    );
    assert_eq!(
        errors("\n[[rule]]\nkind = [\"ddl\", \"update\"]\nroute = \"replica\"\n").len(),
        2
    );
    // Writes may be pinned to the primary, and reads sent anywhere.
    common::rules("[[rule]]\nkind = \"insert\"\nroute = \"primary\"\n");
    common::rules("[[rule]]\nkind = [\"select\", \"other\"]\nroute = \"replica\"\n");
}

#[test]
fn duplicate_rule_name() {
    one_error(
        "\n[[rule]]\nname = \"a\"\nroute = \"primary\"\n\n[[rule]]\nname = \"a\"\nroute = \"replica\"\n",
        7,
        "already used by the rule at line 3",
    );
}

#[test]
fn every_error_in_the_file_is_reported_in_file_order() {
    let text = r#"
[[rule]]
name = "first"
kind = ["select", "selcet"]
user = "report_%"
route = "master"

[[rule]]
name = "second"
client = "10.0.0.0/40"
pattern = "("

[[rule]]
name = "third"
reject = { code = 5, message = "" }
colour = "blue"
"#;
    let errors = errors(text);
    let lines: Vec<usize> = errors.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, vec![4, 5, 6, 8, 10, 11, 15, 15, 16], "{errors:#?}");
}

#[test]
fn crlf_files_and_a_byte_order_mark_count_lines_the_same() {
    let crlf = "\r\n[[rule]]\r\nroute = \"master\"\r\n";
    assert_eq!(errors(crlf)[0].0, 3);
    let bom = "\u{feff}\n[[rule]]\nroute = \"master\"\n";
    assert_eq!(errors(bom)[0].0, 3);
}

#[test]
fn display_is_line_colon_column_colon_message() {
    let err = RuleSet::from_toml("\n[[rule]]\nroute = \"primary\"\n  kind = \"bogus\"\n")
        .expect_err("bad kind");
    assert_eq!(
        err.to_string(),
        "4:10: unknown statement kind `bogus`; the kinds are select, insert, update, delete, \
         replace, ddl, transaction, set, other"
    );
    assert_eq!(err.errors()[0].column, 10);
    assert!(matches!(
        err.errors()[0].kind,
        RuleErrorKind::UnknownKind(_)
    ));

    // Several errors: one per line.
    let err = RuleSet::from_toml("[[rule]]\nkind = \"x\"\nroute = \"y\"\n").expect_err("two");
    assert_eq!(err.to_string().lines().count(), 2);
    assert!(err.to_string().starts_with("2:8: "));
}

#[test]
fn columns_count_characters_not_bytes() {
    let err = RuleSet::from_toml("[[rule]]\nname = \"é\"; route = 1\n").expect_err("syntax");
    // Not a rule error but a TOML one; what matters is a sane position.
    assert_eq!(err.errors()[0].line, 2);

    let err = RuleSet::from_toml("[[rule]]\nuser = [\"é\", \"%\"]\nroute = \"primary\"\n")
        .expect_err("bad glob");
    assert_eq!((err.errors()[0].line, err.errors()[0].column), (2, 14));
}
