//! Property tests: statements generated from a small grammar, with random
//! whitespace, comments and keyword case between the tokens, names that are
//! keywords in backticks and string literals full of `;`, `--`, `/*` and
//! quotes. The generator knows the kind and tables it built; the classifier
//! and sqlparser must both agree with it. And no input makes the classifier
//! panic or report a name that is not part of the input.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::Config;

use super::oracle;
use super::{classify, classify_bytes, Classified, StatementKind};

#[derive(Clone, Debug)]
enum Piece {
    Kw(&'static str),
    Text(String),
}

#[derive(Clone, Debug)]
struct Generated {
    pieces: Vec<Piece>,
    kind: StatementKind,
    /// Lower-cased `schema.name` or `name`.
    tables: BTreeSet<String>,
}

fn text(s: impl Into<String>) -> Piece {
    Piece::Text(s.into())
}

const PLAIN_TABLES: &[&str] = &[
    "users",
    "orders",
    "t1",
    "Items",
    "a",
    "b",
    "x9",
    "data",
    "status",
    "Order_Lines",
];
const QUOTED_TABLES: &[&str] = &[
    "select", "from", "order", "table", "join", "where", "my table", "group", "dual",
];
const SCHEMAS: &[(&str, &str)] = &[
    ("shop", "shop"),
    ("`my db`", "my db"),
    ("Archive", "archive"),
];
const COLUMNS: &[&str] = &[
    "id",
    "name",
    "`group`",
    "total",
    "created_at",
    "`from`",
    "status",
];
const ALIASES: &[&str] = &["x", "y", "z1", "data"];
const LITERALS: &[&str] = &[
    "1",
    "42.5",
    "'a;b'",
    "'-- x'",
    "'/* y */'",
    "'it''s'",
    r"'\' FROM z'",
    "'\"q\"; DROP TABLE t; --'",
    "'# h'",
    "'`bt`'",
    r"'\\'",
    "''",
    "\"dq ; -- /* 'x'\"",
    "\"a\"\"b\"",
];
/// Between any two tokens.
const SEPARATORS: &[&str] = &[
    " ",
    "\n",
    "\t ",
    "   ",
    " /* c; -- x 'q */ ",
    " -- c; 'x /*\n",
    " # c; \"\n",
    "/**/",
    "\r\n",
];

fn table_name() -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        3 => prop::sample::select(PLAIN_TABLES).prop_map(|n| (n.to_string(), n.to_lowercase())),
        1 => prop::sample::select(QUOTED_TABLES).prop_map(|n| (format!("`{n}`"), n.to_string())),
    ];
    (
        prop::option::weighted(0.3, prop::sample::select(SCHEMAS)),
        name,
    )
        .prop_map(|(schema, (name, canonical))| match schema {
            Some((schema, schema_canonical)) => (
                format!("{schema}.{name}"),
                format!("{schema_canonical}.{canonical}"),
            ),
            None => (name, canonical),
        })
}

fn column() -> impl Strategy<Value = Piece> {
    prop::sample::select(COLUMNS).prop_map(text)
}

fn literal() -> impl Strategy<Value = Piece> {
    prop::sample::select(LITERALS).prop_map(text)
}

fn alias() -> impl Strategy<Value = Vec<Piece>> {
    (
        any::<bool>(),
        prop::option::of(prop::sample::select(ALIASES)),
    )
        .prop_map(|(with_as, alias)| match alias {
            Some(alias) if with_as => vec![Piece::Kw("AS"), text(alias)],
            Some(alias) => vec![text(alias)],
            None => vec![],
        })
}

type Fragment = (Vec<Piece>, BTreeSet<String>);

/// A table or a derived table in a FROM list.
fn table_ref() -> BoxedStrategy<Fragment> {
    prop_oneof![
        3 => (table_name(), alias()).prop_map(|((name, canonical), alias)| {
            let mut pieces = vec![text(name)];
            pieces.extend(alias);
            (pieces, BTreeSet::from([canonical]))
        }),
        1 => (column(), table_name()).prop_map(|(col, (name, canonical))| {
            let pieces = vec![
                text("("), Piece::Kw("SELECT"), col, Piece::Kw("FROM"), text(name), text(")"),
                Piece::Kw("AS"), text("d"),
            ];
            (pieces, BTreeSet::from([canonical]))
        }),
    ]
    .boxed()
}

fn condition() -> BoxedStrategy<Fragment> {
    prop_oneof![
        (column(), literal()).prop_map(|(col, lit)| (vec![col, text("="), lit], BTreeSet::new())),
        (column(), column(), table_name()).prop_map(|(a, b, (name, canonical))| {
            let pieces = vec![
                a,
                Piece::Kw("IN"),
                text("("),
                Piece::Kw("SELECT"),
                b,
                Piece::Kw("FROM"),
                text(name),
                text(")"),
            ];
            (pieces, BTreeSet::from([canonical]))
        }),
        (table_name(), column(), literal()).prop_map(|((name, canonical), col, lit)| {
            let pieces = vec![
                Piece::Kw("EXISTS"),
                text("("),
                Piece::Kw("SELECT"),
                text("1"),
                Piece::Kw("FROM"),
                text(name),
                Piece::Kw("WHERE"),
                col,
                text("="),
                lit,
                text(")"),
            ];
            (pieces, BTreeSet::from([canonical]))
        }),
    ]
    .boxed()
}

fn where_clause(
    pieces: &mut Vec<Piece>,
    tables: &mut BTreeSet<String>,
    condition: Option<Fragment>,
) {
    if let Some((cond, cond_tables)) = condition {
        pieces.push(Piece::Kw("WHERE"));
        pieces.extend(cond);
        tables.extend(cond_tables);
    }
}

const JOINS: &[&[&str]] = &[
    &["JOIN"],
    &["LEFT", "JOIN"],
    &["INNER", "JOIN"],
    &["CROSS", "JOIN"],
    &[","],
];

fn select() -> impl Strategy<Value = Generated> {
    (
        prop::collection::vec(column(), 1..3),
        table_ref(),
        prop::collection::vec(
            (prop::sample::select(JOINS), table_ref(), column(), column()),
            0..3,
        ),
        prop::option::of(condition()),
        any::<bool>(),
        prop::option::of(0u32..100),
    )
        .prop_map(
            |(columns, (first, first_tables), joins, condition, order, limit)| {
                let mut pieces = vec![Piece::Kw("SELECT")];
                for (i, col) in columns.into_iter().enumerate() {
                    if i > 0 {
                        pieces.push(text(","));
                    }
                    pieces.push(col);
                }
                pieces.push(Piece::Kw("FROM"));
                pieces.extend(first);
                let mut tables = first_tables;
                for (join, (table, join_tables), a, b) in joins {
                    match join {
                        [","] => pieces.push(text(",")),
                        words => pieces.extend(words.iter().map(|w| Piece::Kw(w))),
                    }
                    pieces.extend(table);
                    tables.extend(join_tables);
                    if !matches!(join, [","] | ["CROSS", _]) {
                        pieces.extend([Piece::Kw("ON"), a, text("="), b]);
                    }
                }
                where_clause(&mut pieces, &mut tables, condition);
                if order {
                    pieces.extend([Piece::Kw("ORDER"), Piece::Kw("BY"), text("1")]);
                }
                if let Some(limit) = limit {
                    pieces.extend([Piece::Kw("LIMIT"), text(limit.to_string())]);
                }
                Generated {
                    pieces,
                    kind: StatementKind::Select,
                    tables,
                }
            },
        )
}

fn insert() -> impl Strategy<Value = Generated> {
    let values = (table_name(), prop::collection::vec(literal(), 1..3)).prop_map(
        |((name, canonical), literals)| {
            let mut pieces = vec![text(name), Piece::Kw("VALUES"), text("(")];
            for (i, lit) in literals.into_iter().enumerate() {
                if i > 0 {
                    pieces.push(text(","));
                }
                pieces.push(lit);
            }
            pieces.push(text(")"));
            (pieces, BTreeSet::from([canonical]))
        },
    );
    let select = (
        table_name(),
        column(),
        table_name(),
        prop::option::of(condition()),
    )
        .prop_map(
            |((target, target_canonical), col, (source, source_canonical), condition)| {
                let mut pieces = vec![
                    text(target),
                    text("("),
                    col.clone(),
                    text(")"),
                    Piece::Kw("SELECT"),
                    col,
                    Piece::Kw("FROM"),
                    text(source),
                ];
                let mut tables = BTreeSet::from([target_canonical, source_canonical]);
                where_clause(&mut pieces, &mut tables, condition);
                (pieces, tables)
            },
        );
    (any::<bool>(), prop_oneof![values, select]).prop_map(|(replace, (rest, tables))| {
        let (verb, kind) = if replace {
            ("REPLACE", StatementKind::Replace)
        } else {
            ("INSERT", StatementKind::Insert)
        };
        let mut pieces = vec![Piece::Kw(verb), Piece::Kw("INTO")];
        pieces.extend(rest);
        Generated {
            pieces,
            kind,
            tables,
        }
    })
}

fn update() -> impl Strategy<Value = Generated> {
    (
        table_name(),
        alias(),
        column(),
        literal(),
        prop::option::of(condition()),
    )
        .prop_map(|((name, canonical), alias, col, lit, condition)| {
            let mut pieces = vec![Piece::Kw("UPDATE"), text(name)];
            pieces.extend(alias);
            pieces.extend([Piece::Kw("SET"), col, text("="), lit]);
            let mut tables = BTreeSet::from([canonical]);
            where_clause(&mut pieces, &mut tables, condition);
            Generated {
                pieces,
                kind: StatementKind::Update,
                tables,
            }
        })
}

fn delete() -> impl Strategy<Value = Generated> {
    (table_name(), prop::option::of(condition())).prop_map(|((name, canonical), condition)| {
        let mut pieces = vec![Piece::Kw("DELETE"), Piece::Kw("FROM"), text(name)];
        let mut tables = BTreeSet::from([canonical]);
        where_clause(&mut pieces, &mut tables, condition);
        Generated {
            pieces,
            kind: StatementKind::Delete,
            tables,
        }
    })
}

fn statement() -> BoxedStrategy<Generated> {
    prop_oneof![3 => select().boxed(), 1 => insert().boxed(), 1 => update().boxed(), 1 => delete().boxed()].boxed()
}

/// Renders the pieces with a separator before each and keywords in upper,
/// lower or alternating case.
fn rendered(
    generated: impl Strategy<Value = Generated>,
) -> impl Strategy<Value = (Generated, String)> {
    generated.prop_flat_map(|g| {
        let n = g.pieces.len();
        (
            Just(g),
            prop::collection::vec(prop::sample::select(SEPARATORS), n),
            prop::collection::vec(0u8..3, n),
        )
            .prop_map(|(g, separators, cases)| {
                let mut sql = String::new();
                for ((piece, separator), case) in g.pieces.iter().zip(separators).zip(cases) {
                    sql.push_str(separator);
                    match piece {
                        Piece::Text(t) => sql.push_str(t),
                        Piece::Kw(k) => match case {
                            0 => sql.push_str(k),
                            1 => sql.push_str(&k.to_lowercase()),
                            _ => sql.extend(k.chars().enumerate().map(|(i, c)| {
                                if i % 2 == 0 {
                                    c.to_ascii_lowercase()
                                } else {
                                    c
                                }
                            })),
                        },
                    }
                }
                (g, sql)
            })
    })
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

/// Every name the classifier returns must be a slice of the input.
fn borrows_from(sql: &str, part: &str) -> bool {
    let range = sql.as_bytes().as_ptr_range();
    let p = part.as_ptr();
    part.is_empty() || (range.start <= p && p.wrapping_add(part.len()) <= range.end)
}

/// Pieces that trip lexers: quotes, comment markers, nesting, keywords.
const SOUP: &[&str] = &[
    "'",
    "\"",
    "`",
    "/*",
    "*/",
    "/*!",
    "/*!50100",
    "/*M!",
    "--",
    "-- ",
    "#",
    "\n",
    "(",
    ")",
    ";",
    "@",
    "@@",
    "@'",
    "SELECT",
    "FROM",
    "JOIN",
    "WITH",
    "a",
    " ",
    ",",
    ".",
    "\\",
    "ON",
    "USING",
    "DELETE",
    "SET",
    "FOR",
    "UPDATE",
    "BEGIN",
    "END",
    "CASE",
    ":=",
    "=",
    "TABLE",
    "INTO",
    "12",
    "é",
    "表",
    "STATEMENT",
    "CREATE",
    "TRIGGER",
    "AS",
    "NEXT VALUE FOR",
    "tern:x=",
    "LOCK",
    "IN",
    "EXPLAIN",
    "x:",
    "DUAL",
    "*",
];

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn generated_statements_agree_with_grammar_and_sqlparser((g, sql) in rendered(statement())) {
        let c = classify(&sql);
        prop_assert_eq!(c.kind, g.kind, "kind of {}", sql);
        prop_assert_eq!(table_set(&c), g.tables.clone(), "tables of {}", sql);
        prop_assert!(!c.multi_statement && !c.side_effects && !c.locking_read && !c.reads_user_variables);
        prop_assert!(c.hints.is_empty() && c.pin.is_none() && c.sets_autocommit.is_none());
        let reference = oracle::facts(&sql);
        prop_assert!(reference.is_some(), "sqlparser rejects {}", sql);
        if let Some(reference) = reference {
            prop_assert_eq!(reference.kind, g.kind, "sqlparser's kind of {}", sql);
            prop_assert_eq!(reference.tables, g.tables, "sqlparser's tables of {}", sql);
        }
    }

    #[test]
    fn statements_after_a_semicolon_count_too(
        (first, first_sql) in rendered(statement()),
        (second, second_sql) in rendered(statement()),
        trailing in prop::sample::select(vec!["", ";", "; -- end", ";\n/* x */ ;"]),
    ) {
        let sql = format!("{first_sql};{second_sql}{trailing}");
        let c = classify(&sql);
        prop_assert_eq!(c.kind, first.kind);
        prop_assert!(c.multi_statement, "{}", sql);
        let mut tables = first.tables;
        tables.extend(second.tables);
        prop_assert_eq!(table_set(&c), tables);
        let alone = format!("{first_sql}{trailing}");
        prop_assert!(!classify(&alone).multi_statement, "{}", alone);
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn never_panics_on_soup(parts in prop::collection::vec(prop::sample::select(SOUP), 0..40)) {
        let sql = parts.concat();
        let c = classify(&sql);
        for t in c.tables.iter() {
            prop_assert!(borrows_from(&sql, t.name) && t.schema.is_none_or(|s| borrows_from(&sql, s)));
        }
        for (k, v) in c.hints.iter() {
            prop_assert!(borrows_from(&sql, k) && v.is_none_or(|v| borrows_from(&sql, v)));
        }
        prop_assert!(c.use_schema.is_none_or(|s| borrows_from(&sql, s)));
    }

    #[test]
    fn never_panics_on_any_string(sql in any::<String>()) {
        let c = classify(&sql);
        for t in c.tables.iter() {
            prop_assert!(borrows_from(&sql, t.name));
        }
    }

    #[test]
    fn never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = classify_bytes(&bytes);
    }
}
