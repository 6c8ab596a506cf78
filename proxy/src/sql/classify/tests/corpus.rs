//! Checks every statement of `corpus.sql` against sqlparser's view of it, or
//! against the expectations written beside it (the file's header explains
//! the format). All mismatches are reported at once, with the statement.

use std::collections::BTreeSet;

use super::oracle;
use super::{classify, Classified, Pin, StatementKind};

const CORPUS: &str = include_str!("corpus.sql");

#[derive(Default, Debug)]
struct Expect {
    kind: Option<StatementKind>,
    tables: Option<BTreeSet<String>>,
    differs: bool,
    locking_read: bool,
    side_effects: bool,
    user_vars: bool,
    multi: bool,
    starts: bool,
    ends: bool,
    pin: Option<Pin>,
    autocommit: Option<bool>,
    use_schema: Option<String>,
    hints: Vec<(String, Option<String>)>,
}

struct Entry {
    line: usize,
    sql: String,
    expect: Expect,
}

fn parse_pin(name: &str) -> Pin {
    match name {
        "temporary_table" => Pin::TemporaryTable,
        "lock_tables" => Pin::LockTables,
        "unlock_tables" => Pin::UnlockTables,
        "user_lock" => Pin::UserLock,
        "prepare" => Pin::Prepare,
        "sql_log_bin" => Pin::SqlLogBin,
        other => panic!("unknown pin {other:?} in corpus.sql"),
    }
}

fn parse_expect(line: &str) -> Expect {
    let mut expect = Expect::default();
    for item in line.split_whitespace() {
        let (key, value) = item.split_once('=').unwrap_or((item, ""));
        match key {
            "kind" => {
                expect.kind = Some(
                    StatementKind::from_name(value)
                        .unwrap_or_else(|| panic!("unknown kind {value:?} in corpus.sql")),
                )
            }
            "tables" => {
                expect.tables = Some(
                    value
                        .split(',')
                        .filter(|t| !t.is_empty())
                        .map(str::to_lowercase)
                        .collect(),
                )
            }
            "differs" => expect.differs = true,
            "locking_read" => expect.locking_read = true,
            "side_effects" => expect.side_effects = true,
            "user_vars" => expect.user_vars = true,
            "multi" => expect.multi = true,
            "starts" => expect.starts = true,
            "ends" => expect.ends = true,
            "pin" => expect.pin = Some(parse_pin(value)),
            "autocommit" => expect.autocommit = Some(value == "1"),
            "use" => expect.use_schema = Some(value.to_string()),
            "hint" => {
                let (k, v) = match value.split_once(':') {
                    Some((k, v)) => (k, Some(v.to_string())),
                    None => (value, None),
                };
                expect.hints.push((k.to_string(), v));
            }
            other => panic!("unknown expectation {other:?} in corpus.sql"),
        }
    }
    expect
}

fn entries() -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut sql: Vec<&str> = Vec::new();
    let mut expect = None;
    let mut start = 0;
    let lines = CORPUS.lines().chain(std::iter::once(""));
    for (number, line) in lines.enumerate() {
        if line.starts_with("##") {
            continue;
        }
        if line.trim().is_empty() {
            if !sql.is_empty() {
                entries.push(Entry {
                    line: start,
                    sql: sql.join("\n"),
                    expect: expect.take().unwrap_or_default(),
                });
                sql.clear();
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("-->") {
            expect = Some(parse_expect(rest));
        } else {
            if sql.is_empty() {
                start = number + 1;
            }
            sql.push(line);
        }
    }
    entries
}

fn table_set(c: &Classified<'_>) -> BTreeSet<String> {
    c.tables
        .iter()
        .map(|t| match t.schema {
            Some(schema) => format!("{schema}.{}", t.name).to_lowercase(),
            None => t.name.to_lowercase(),
        })
        .collect()
}

/// Compares one entry; returns what is wrong with it.
fn check(entry: &Entry, parsed: &mut usize) -> Vec<String> {
    let mut problems = Vec::new();
    let expect = &entry.expect;
    let c = classify(&entry.sql);
    let reference = oracle::facts(&entry.sql);
    if reference.is_some() {
        *parsed += 1;
    }

    let annotated = expect.kind.is_some() && expect.tables.is_some();
    match (&reference, annotated) {
        (None, false) => {
            problems.push("sqlparser cannot parse this entry: give kind= and tables=".to_string())
        }
        (None, true) if expect.differs => {
            problems.push("marked `differs` but sqlparser cannot parse it".to_string())
        }
        (Some(r), true) => {
            let agrees = Some(r.kind) == expect.kind && Some(&r.tables) == expect.tables.as_ref();
            if agrees && expect.differs {
                problems.push("marked `differs` but sqlparser agrees".to_string());
            }
            if !agrees && !expect.differs {
                problems.push(format!(
                    "sqlparser sees kind={:?} tables={:?}; mark `differs` if that is on purpose",
                    r.kind, r.tables
                ));
            }
        }
        _ => {}
    }

    let expected_kind = expect.kind.or(reference.as_ref().map(|r| r.kind));
    let expected_tables = expect
        .tables
        .clone()
        .or_else(|| reference.as_ref().map(|r| r.tables.clone()));
    if let Some(kind) = expected_kind {
        if c.kind != kind {
            problems.push(format!("kind: expected {kind:?}, got {:?}", c.kind));
        }
    }
    if let Some(tables) = expected_tables {
        let got = table_set(&c);
        if got != tables {
            problems.push(format!("tables: expected {tables:?}, got {got:?}"));
        }
    }

    let flags = [
        ("locking_read", expect.locking_read, c.locking_read),
        ("side_effects", expect.side_effects, c.side_effects),
        ("user_vars", expect.user_vars, c.reads_user_variables),
        ("multi", expect.multi, c.multi_statement),
        ("starts", expect.starts, c.starts_transaction),
        ("ends", expect.ends, c.ends_transaction),
    ];
    for (name, want, got) in flags {
        if want != got {
            problems.push(format!("{name}: expected {want}, got {got}"));
        }
    }
    if expect.pin != c.pin {
        problems.push(format!("pin: expected {:?}, got {:?}", expect.pin, c.pin));
    }
    if expect.autocommit != c.sets_autocommit {
        problems.push(format!(
            "autocommit: expected {:?}, got {:?}",
            expect.autocommit, c.sets_autocommit
        ));
    }
    if expect.use_schema.as_deref() != c.use_schema {
        problems.push(format!(
            "use: expected {:?}, got {:?}",
            expect.use_schema, c.use_schema
        ));
    }
    let hints: Vec<(String, Option<String>)> = c
        .hints
        .iter()
        .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
        .collect();
    if hints != expect.hints {
        problems.push(format!("hints: expected {:?}, got {hints:?}", expect.hints));
    }
    problems
}

#[test]
fn corpus_agrees_with_sqlparser_and_annotations() {
    let entries = entries();
    assert!(
        entries.len() >= 150,
        "corpus has only {} entries",
        entries.len()
    );
    let mut parsed = 0;
    let mut report = String::new();
    for entry in &entries {
        let problems = check(entry, &mut parsed);
        if !problems.is_empty() {
            report.push_str(&format!("\ncorpus.sql:{}: {}\n", entry.line, entry.sql));
            for problem in problems {
                report.push_str(&format!("    {problem}\n"));
            }
        }
    }
    println!(
        "{} entries, {} parsed by sqlparser, {} checked against annotations only",
        entries.len(),
        parsed,
        entries.len() - parsed
    );
    assert!(report.is_empty(), "{report}");
}
