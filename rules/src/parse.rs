//! Reading a rule file: TOML text to compiled [`Rule`]s, collecting every
//! error instead of stopping at the first.
//!
//! `toml_edit` keeps the byte span of each key and value, which is what lets
//! every error name a line. A TOML syntax error is the one exception to
//! "report everything": the parser cannot go on past it, so it is reported
//! alone.

use std::collections::HashMap;
use std::ops::Range;

use toml_edit::{Document, Item, TableLike, Value};

use crate::cidr::Cidr;
use crate::decision::default_sqlstate;
use crate::error::{RuleError, RuleErrorKind, RuleErrors};
use crate::glob::Glob;
use crate::rule::{Conditions, HintMatch, Rule, TablePattern};
use crate::{Consistency, Destination, Reject, StatementKind};

/// A file's rules, and the regexes their `pattern` indices point into.
pub(crate) struct ParsedFile {
    pub(crate) rules: Vec<Rule>,
    pub(crate) patterns: Vec<String>,
}

/// Byte offset in the file where a key or value starts; `None` only for
/// items the parser made up (it never does for a parsed document), which are
/// then reported at 1:1.
type At = Option<usize>;

fn start(span: Option<Range<usize>>) -> At {
    span.map(|s| s.start)
}

const RULE_KEYS: &str = "`name`, `kind`, `tables`, `user`, `schema`, `client`, `pattern`, \
                         `hint`, `route`, `reject`, `consistency`, `last`";

/// The longest message MySQL and MariaDB put in an error packet
/// (`MYSQL_ERRMSG_SIZE`); clients may cut or choke on longer ones.
const MAX_REJECT_MESSAGE_BYTES: usize = 512;

pub(crate) fn parse(text: &str) -> Result<ParsedFile, RuleErrors> {
    let mut reader = Reader::new(text);
    let doc = match Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            reader.error(
                start(e.span()),
                RuleErrorKind::Syntax(e.message().trim().to_owned()),
            );
            return Err(RuleErrors::new(reader.errors));
        }
    };
    let mut file = ParsedFile {
        rules: Vec::new(),
        patterns: Vec::new(),
    };
    let root = doc.as_table();
    for (key, item) in root.iter() {
        let key_span = root.key(key).and_then(|k| start(k.span()));
        if key != "rule" {
            reader.error(key_span, RuleErrorKind::UnknownTopLevelKey(key.to_owned()));
            continue;
        }
        match item {
            Item::ArrayOfTables(tables) => {
                for table in tables.iter() {
                    reader.rule(table, start(table.span()), &mut file);
                }
            }
            // `rule = [{ ... }, { ... }]` is the same thing written inline.
            Item::Value(Value::Array(array)) => {
                for value in array.iter() {
                    match value.as_inline_table() {
                        Some(table) => reader.rule(table, start(value.span()), &mut file),
                        None => reader.error(start(value.span()), RuleErrorKind::RuleNotTable),
                    }
                }
            }
            _ => reader.error(start(item.span()).or(key_span), RuleErrorKind::RuleNotTable),
        }
    }
    reader.check_unique_names(&file.rules);
    if reader.errors.is_empty() {
        Ok(file)
    } else {
        Err(RuleErrors::new(reader.errors))
    }
}

/// Span-to-position conversion and the error list.
struct Reader<'t> {
    text: &'t str,
    /// Byte offset where each line starts.
    line_starts: Vec<usize>,
    errors: Vec<RuleError>,
    /// Where each rule's `name` value is, for the duplicate check.
    name_spans: Vec<At>,
}

impl<'t> Reader<'t> {
    fn new(text: &'t str) -> Reader<'t> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Reader {
            text,
            line_starts,
            errors: Vec::new(),
            name_spans: Vec::new(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line_index = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let line_start = self.line_starts[line_index];
        let column = self
            .text
            .get(line_start..offset)
            .map_or(0, |s| s.chars().count());
        (line_index + 1, column + 1)
    }

    fn line(&self, at: At) -> usize {
        self.position(at.unwrap_or(0)).0
    }

    fn error(&mut self, at: At, kind: RuleErrorKind) {
        let (line, column) = self.position(at.unwrap_or(0));
        self.errors.push(RuleError { line, column, kind });
    }

    /// Reads one `[[rule]]` table. Errors are recorded; the rule is still
    /// pushed (possibly half-read) so that rule indices stay in file order,
    /// which only matters when there are no errors at all.
    fn rule(&mut self, table: &dyn TableLike, header: At, file: &mut ParsedFile) {
        let mut rule = Rule {
            name: None,
            line: self.line(header),
            kinds: 0,
            conditions: Conditions::default(),
            pattern: None,
            route: None,
            reject: None,
            consistency: None,
            last: false,
        };
        let mut last = None;
        let mut name_span = None;
        let mut reject_span = None;
        let mut consistency_span = None;
        let mut kind_span = None;
        for (key, item) in table.iter() {
            let key_span = table.key(key).and_then(|k| start(k.span()));
            let at = start(item.span()).or(key_span);
            match key {
                "name" => {
                    match self.string(item, "name", at) {
                        Some("") => self.error(at, RuleErrorKind::EmptyString { key: "name" }),
                        Some(name) => rule.name = Some(name.to_owned()),
                        None => {}
                    }
                    name_span = at;
                }
                "kind" => {
                    kind_span = at;
                    for (name, span) in self.string_list(item, "kind", at) {
                        match StatementKind::from_name(&name.to_ascii_lowercase()) {
                            Some(kind) => rule.kinds |= 1 << kind.index(),
                            None => self.error(span, RuleErrorKind::UnknownKind(name.to_owned())),
                        }
                    }
                }
                "tables" => {
                    rule.conditions.tables = self.compiled_list(item, "tables", at, |p| {
                        TablePattern::parse(p).map_err(|reason| RuleErrorKind::BadGlob {
                            key: "tables",
                            pattern: p.to_owned(),
                            reason,
                        })
                    });
                }
                "user" | "schema" => {
                    let key: &'static str = if key == "user" { "user" } else { "schema" };
                    let globs = self.compiled_list(item, key, at, |p| {
                        name_glob(key, p).map_err(|reason| RuleErrorKind::BadGlob {
                            key,
                            pattern: p.to_owned(),
                            reason,
                        })
                    });
                    if key == "user" {
                        rule.conditions.users = globs;
                    } else {
                        rule.conditions.schemas = globs;
                    }
                }
                "client" => {
                    rule.conditions.clients = self.compiled_list(item, "client", at, |p| {
                        Cidr::parse(p).map_err(RuleErrorKind::BadCidr)
                    });
                }
                "hint" => {
                    rule.conditions.hints = self.compiled_list(item, "hint", at, |p| {
                        HintMatch::parse(p).map_err(|reason| RuleErrorKind::BadHint {
                            value: p.to_owned(),
                            reason,
                        })
                    });
                }
                "pattern" => {
                    if let Some(pattern) = self.string(item, "pattern", at) {
                        // An empty regex matches every statement: surely a
                        // mistake, and leaving the key out says it better.
                        if pattern.is_empty() {
                            self.error(at, RuleErrorKind::EmptyString { key: "pattern" });
                            continue;
                        }
                        match regex::Regex::new(pattern) {
                            Ok(_) => {
                                rule.pattern = Some(file.patterns.len());
                                file.patterns.push(pattern.to_owned());
                            }
                            Err(e) => {
                                self.error(at, RuleErrorKind::BadRegex(indent(&e.to_string())))
                            }
                        }
                    }
                }
                "route" => {
                    if let Some(route) = self.string(item, "route", at) {
                        match parse_route(route) {
                            Some(dest) => rule.route = Some(dest),
                            None => self.error(at, RuleErrorKind::BadRoute(route.to_owned())),
                        }
                    }
                }
                "reject" => {
                    rule.reject = self.reject(item, at);
                    reject_span = at;
                }
                "consistency" => {
                    if let Some(name) = self.string(item, "consistency", at) {
                        match Consistency::from_name(name) {
                            Some(c) => rule.consistency = Some(c),
                            None => self.error(at, RuleErrorKind::BadConsistency(name.to_owned())),
                        }
                    }
                    consistency_span = at;
                }
                "last" => match item.as_bool() {
                    Some(b) => last = Some(b),
                    None => self.wrong_type(item, "last", "true or false", at),
                },
                other => self.error(
                    key_span,
                    RuleErrorKind::UnknownKey {
                        key: other.to_owned(),
                        suggestion: suggest_key(other),
                        expected: RULE_KEYS,
                    },
                ),
            }
        }

        // Rule-level checks. They look at which keys were given (the spans),
        // not at whether their values were valid, so a rule with a bad
        // `route` is not also told it has no action.
        let routes = table.contains_key("route");
        let rejects = reject_span.is_some();
        let sets_consistency = consistency_span.is_some();
        if !routes && !rejects && !sets_consistency {
            self.error(header, RuleErrorKind::NoAction);
        }
        if rejects && (routes || sets_consistency) {
            self.error(reject_span, RuleErrorKind::RejectWithOtherAction);
        }
        if matches!(
            rule.route,
            Some(Destination::AnyReplica | Destination::ReplicaGroup(_))
        ) {
            // Only a `kind` the operator wrote out is checked: a rule with
            // no `kind` routes reads, and the proxy keeps writes on the
            // primary whatever the rules say.
            for kind in StatementKind::ALL {
                if is_write(kind) && rule.kinds & (1 << kind.index()) != 0 {
                    self.error(kind_span, RuleErrorKind::WriteToReplica(kind.name()));
                }
            }
        }
        if rule.route == Some(Destination::Primary) && sets_consistency {
            self.error(consistency_span, RuleErrorKind::ConsistencyWithPrimary);
        }
        // A rule that decides where the statement goes ends the search by
        // default; one that only sets consistency lets later rules decide.
        rule.last = last.unwrap_or(routes || rejects);
        if rule.kinds == 0 {
            // No `kind` key (or only bad names, already reported): any kind.
            rule.kinds = u16::MAX;
        }
        self.name_spans.push(name_span);
        file.rules.push(rule);
    }

    fn reject(&mut self, item: &Item, at: At) -> Option<Reject> {
        let Some(table) = item.as_table_like() else {
            self.wrong_type(
                item,
                "reject",
                "a table like { code = 1142, message = \"...\" }",
                at,
            );
            return None;
        };
        let mut code = None;
        let mut message = None;
        let mut sqlstate = None;
        for (key, value) in table.iter() {
            let key_span = table.key(key).and_then(|k| start(k.span()));
            let value_at = start(value.span()).or(key_span);
            match key {
                "code" => match value.as_integer() {
                    Some(n) => match u16::try_from(n) {
                        Ok(n) if (1000..=65534).contains(&n) => code = Some(n),
                        _ => self.error(value_at, RuleErrorKind::RejectCodeOutOfRange(n)),
                    },
                    None => self.wrong_type(value, "reject.code", "an integer", value_at),
                },
                "message" => match self.string(value, "reject.message", value_at) {
                    Some("") => self.error(value_at, RuleErrorKind::BadRejectMessage("is empty")),
                    Some(m) if m.len() > MAX_REJECT_MESSAGE_BYTES => self.error(
                        value_at,
                        RuleErrorKind::BadRejectMessage(
                            "is longer than 512 bytes, the most a server error message carries",
                        ),
                    ),
                    Some(m) => message = Some(m.to_owned()),
                    None => {}
                },
                "sqlstate" => {
                    if let Some(s) = self.string(value, "reject.sqlstate", value_at) {
                        match parse_sqlstate(s) {
                            Some(state) => sqlstate = Some(state),
                            None => self.error(value_at, RuleErrorKind::BadSqlstate(s.to_owned())),
                        }
                    }
                }
                other => self.error(
                    key_span,
                    RuleErrorKind::UnknownRejectKey {
                        key: other.to_owned(),
                    },
                ),
            }
        }
        // Missing keys are reported even when others were wrong: all errors.
        if !table.contains_key("code") {
            self.error(at, RuleErrorKind::MissingRejectKey("code"));
        }
        if !table.contains_key("message") {
            self.error(at, RuleErrorKind::MissingRejectKey("message"));
        }
        // A half-valid reject is never used: any error above refuses the
        // whole file.
        let (code, message) = (code?, message?);
        Some(Reject {
            code,
            sqlstate: sqlstate.unwrap_or_else(|| default_sqlstate(code)),
            message,
        })
    }

    /// A string value, or an error saying it is not one.
    fn string<'i>(&mut self, item: &'i Item, key: &'static str, at: At) -> Option<&'i str> {
        match item.as_str() {
            Some(s) => Some(s),
            None => {
                self.wrong_type(item, key, "a string", at);
                None
            }
        }
    }

    /// A string or a list of strings, with each element's span. Errors are
    /// recorded and the bad elements left out.
    fn string_list<'i>(&mut self, item: &'i Item, key: &'static str, at: At) -> Vec<(&'i str, At)> {
        if let Some(s) = item.as_str() {
            return vec![(s, at)];
        }
        let Some(array) = item.as_array() else {
            self.wrong_type(item, key, "a string or a list of strings", at);
            return Vec::new();
        };
        if array.is_empty() {
            self.error(at, RuleErrorKind::EmptyList { key });
            return Vec::new();
        }
        let mut out = Vec::with_capacity(array.len());
        for value in array.iter() {
            match value.as_str() {
                Some(s) => out.push((s, start(value.span()))),
                None => self.error(
                    start(value.span()),
                    RuleErrorKind::WrongType {
                        key,
                        expected: "a list of strings",
                        found: value.type_name(),
                    },
                ),
            }
        }
        out
    }

    /// A string list compiled element by element. `None` (the condition is
    /// absent) when nothing valid came out; in that case errors were
    /// recorded, so the file is refused anyway.
    fn compiled_list<T>(
        &mut self,
        item: &Item,
        key: &'static str,
        at: At,
        mut compile: impl FnMut(&str) -> Result<T, RuleErrorKind>,
    ) -> Option<Box<[T]>> {
        let mut out = Vec::new();
        for (text, span) in self.string_list(item, key, at) {
            match compile(text) {
                Ok(t) => out.push(t),
                Err(kind) => self.error(span, kind),
            }
        }
        (!out.is_empty()).then(|| out.into_boxed_slice())
    }

    fn wrong_type(&mut self, item: &Item, key: &'static str, expected: &'static str, at: At) {
        self.error(
            at,
            RuleErrorKind::WrongType {
                key,
                expected,
                found: item.type_name(),
            },
        );
    }

    /// Names appear in logs as the rule's identity; two rules with one name
    /// would make those logs ambiguous.
    fn check_unique_names(&mut self, rules: &[Rule]) {
        let mut first_line: HashMap<&str, usize> = HashMap::new();
        for (rule, span) in rules.iter().zip(self.name_spans.clone()) {
            let Some(name) = rule.name.as_deref() else {
                continue;
            };
            match first_line.get(name) {
                Some(&line) => self.error(
                    span,
                    RuleErrorKind::DuplicateName {
                        name: name.to_owned(),
                        first_line: line,
                    },
                ),
                None => {
                    first_line.insert(name, self.line(span));
                }
            }
        }
    }
}

/// A `user` or `schema` glob. Refuses `user@host`, a MySQL account spelling
/// that would otherwise silently never match a user name.
fn name_glob(key: &str, pattern: &str) -> Result<Glob, String> {
    if key == "user" && pattern.contains('@') {
        return Err(
            "`user` matches the user name only; match the client address with `client`".into(),
        );
    }
    Glob::new(pattern).map_err(String::from)
}

/// Kinds that change data or schema and so can only run on the primary.
fn is_write(kind: StatementKind) -> bool {
    matches!(
        kind,
        StatementKind::Insert
            | StatementKind::Update
            | StatementKind::Delete
            | StatementKind::Replace
            | StatementKind::Ddl
    )
}

/// `primary`, `replica`, or `group:NAME`; keywords ignore case, the group
/// name is kept as written because it must equal a configured group.
fn parse_route(text: &str) -> Option<Destination> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("primary") {
        return Some(Destination::Primary);
    }
    if text.eq_ignore_ascii_case("replica") {
        return Some(Destination::AnyReplica);
    }
    let (prefix, name) = text.split_once(':')?;
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    (prefix.eq_ignore_ascii_case("group") && valid_name)
        .then(|| Destination::ReplicaGroup(name.to_owned()))
}

fn parse_sqlstate(text: &str) -> Option<[u8; 5]> {
    let bytes: [u8; 5] = text.as_bytes().try_into().ok()?;
    bytes
        .iter()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        .then_some(bytes)
}

/// The rule keys, for typo suggestions.
const RULE_KEY_NAMES: [&str; 12] = [
    "name",
    "kind",
    "tables",
    "user",
    "schema",
    "client",
    "pattern",
    "hint",
    "route",
    "reject",
    "consistency",
    "last",
];

/// The key an operator probably meant: a known synonym (including the names
/// ProxySQL's query rules use), else a rule key within two edits.
fn suggest_key(key: &str) -> Option<&'static str> {
    let lower = key.to_ascii_lowercase();
    let synonym = match lower.as_str() {
        "users" | "username" => Some("user"),
        "schemas" | "database" | "db" | "schemaname" => Some("schema"),
        "kinds" | "type" | "statement" => Some("kind"),
        "clients" | "address" | "addr" | "ip" | "source" | "client_addr" => Some("client"),
        "hints" => Some("hint"),
        "patterns" | "regex" | "match" | "match_pattern" | "match_digest" => Some("pattern"),
        "destination" | "dest" | "to" | "destination_hostgroup" => Some("route"),
        "error" | "deny" | "block" | "error_msg" => Some("reject"),
        "final" | "apply" | "stop" => Some("last"),
        _ => None,
    };
    synonym.or_else(|| {
        RULE_KEY_NAMES
            .iter()
            .map(|k| (edit_distance(&lower, k), *k))
            .filter(|(d, _)| *d <= 2)
            .min_by_key(|(d, _)| *d)
            .map(|(_, k)| k)
    })
}

/// Levenshtein distance over bytes; keys are short ASCII words.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// Regex errors span several lines (the pattern, a caret, the reason);
/// indent the continuation lines so they read as part of one error.
fn indent(message: &str) -> String {
    message.replace('\n', "\n    ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_for_typos_and_synonyms() {
        assert_eq!(suggest_key("tabel"), Some("tables"));
        assert_eq!(suggest_key("table"), Some("tables"));
        assert_eq!(suggest_key("Kind"), Some("kind"));
        assert_eq!(suggest_key("destination_hostgroup"), Some("route"));
        assert_eq!(suggest_key("consistancy"), Some("consistency"));
        assert_eq!(suggest_key("colour"), None);
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
