//! A loaded rule file and the per-statement evaluation.
//!
//! Semantics (the operator-facing version is docs/rules.md):
//!
//! - Rules are tried in file order. A rule *matches* when every condition it
//!   has holds.
//! - A decision has two slots: the *verdict* (`route` or `reject`) and the
//!   `consistency`. A matching rule fills each slot it has an action for,
//!   unless an earlier matching rule already filled it: the first rule wins,
//!   a later one never overrides.
//! - After a matching rule whose `last` is true, no further rule is tried.
//!   `last` defaults to true for a rule that routes or rejects and to false
//!   for a rule that only sets consistency.
//!
//! Cost: the rule set keeps, per statement kind, the list of rules that
//! apply to that kind, so a statement only walks its kind's rules. Cheap
//! conditions (client, user, schema, hint, tables) are tested first; the
//! regexes of all `pattern`s form one multi-pattern automaton that is run at
//! most once per statement, and only when a rule with a pattern got past its
//! cheap conditions. Evaluation never allocates: the decision borrows from
//! the rule set, and the regex's scratch space comes from a pool that is
//! filled on first use per thread (the regex crate's own scheme).

use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};

use regex_automata::util::pool::Pool;
use regex_automata::{meta, Input, MatchKind, PatternID, PatternSet};

use crate::cidr;
use crate::error::{RuleError, RuleErrorKind, RuleErrors};
use crate::parse::{self, ParsedFile};
use crate::rule::Rule;
use crate::{Decision, Destination, StatementFacts, StatementKind};

/// A validated, compiled rule file. Immutable; share it (e.g. behind an
/// `Arc`) and replace it whole on reload.
pub struct RuleSet {
    rules: Box<[Rule]>,
    /// For each `StatementKind::index()`, the indices of the rules that
    /// apply to that kind, in file order.
    by_kind: [Box<[usize]>; StatementKind::ALL.len()],
    /// `None` when no rule has a `pattern`.
    patterns: Option<PatternMatcher>,
    replica_groups: Box<[String]>,
}

/// The identity of one rule, for logs: its `name` and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo<'r> {
    /// Position in the file, from 0 (as in [`Decision::verdict_rule`]).
    pub index: usize,
    pub name: Option<&'r str>,
    /// 1-based line of the rule's `[[rule]]` header.
    pub line: usize,
}

impl fmt::Display for RuleInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name {
            Some(name) => write!(f, "rule {name:?} (line {})", self.line),
            None => write!(f, "rule at line {}", self.line),
        }
    }
}

impl RuleSet {
    /// No rules: every statement gets an empty decision.
    pub fn empty() -> RuleSet {
        RuleSet {
            rules: Box::new([]),
            by_kind: Default::default(),
            patterns: None,
            replica_groups: Box::new([]),
        }
    }

    /// Parses and validates a rule file. On failure every problem found is
    /// returned, each with its line and column.
    pub fn from_toml(text: &str) -> Result<RuleSet, RuleErrors> {
        let ParsedFile { rules, patterns } = parse::parse(text)?;
        let patterns = if patterns.is_empty() {
            None
        } else {
            Some(PatternMatcher::new(&patterns).map_err(|e| {
                // Each pattern compiled on its own during parsing, so only
                // the combined size can fail here; point at the first rule
                // with a pattern.
                let line = rules
                    .iter()
                    .find(|r| r.pattern.is_some())
                    .map_or(1, |r| r.line);
                RuleErrors::new(vec![RuleError {
                    line,
                    column: 1,
                    kind: RuleErrorKind::RegexSetTooLarge(e),
                }])
            })?)
        };

        let mut by_kind: [Vec<usize>; StatementKind::ALL.len()] = Default::default();
        for (index, rule) in rules.iter().enumerate() {
            for kind in StatementKind::ALL {
                if rule.kinds & (1 << kind.index()) != 0 {
                    by_kind[kind.index()].push(index);
                }
            }
        }

        let mut replica_groups: Vec<String> = rules
            .iter()
            .filter_map(|r| match &r.route {
                Some(Destination::ReplicaGroup(name)) => Some(name.clone()),
                _ => None,
            })
            .collect();
        replica_groups.sort();
        replica_groups.dedup();

        Ok(RuleSet {
            rules: rules.into_boxed_slice(),
            by_kind: by_kind.map(Vec::into_boxed_slice),
            patterns,
            replica_groups: replica_groups.into_boxed_slice(),
        })
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The replica group names that `route = "group:NAME"` rules refer to,
    /// sorted and without duplicates, so the proxy can warn about groups it
    /// has no replicas for.
    pub fn replica_groups(&self) -> &[String] {
        &self.replica_groups
    }

    /// Name and line of the rule at `index` (as found in a [`Decision`]).
    pub fn rule(&self, index: usize) -> Option<RuleInfo<'_>> {
        self.rules.get(index).map(|r| RuleInfo {
            index,
            name: r.name.as_deref(),
            line: r.line,
        })
    }

    /// Decides what the rules say about one statement. See the module
    /// documentation for the semantics and the cost.
    pub fn evaluate<'r>(&'r self, facts: &StatementFacts<'_>) -> Decision<'r> {
        let mut decision = Decision::default();
        let client = cidr::canonical(facts.client_addr);
        // Filled the first time a rule with a pattern passes its other
        // conditions, then reused for every later rule.
        let mut matched_patterns = None;
        for &index in self.by_kind[facts.kind.index()].iter() {
            let rule = &self.rules[index];
            if !rule.conditions.hold(facts, &client) {
                continue;
            }
            if let (Some(pattern), Some(matcher)) = (rule.pattern, &self.patterns) {
                let found = matched_patterns.get_or_insert_with(|| matcher.search(facts.text));
                if !found.matched.contains(PatternID::new_unchecked(pattern)) {
                    continue;
                }
            }
            if decision.route.is_none() && decision.reject.is_none() {
                if let Some(route) = &rule.route {
                    decision.route = Some(route);
                    decision.verdict_rule = Some(index);
                } else if let Some(reject) = &rule.reject {
                    decision.reject = Some(reject);
                    decision.verdict_rule = Some(index);
                }
            }
            if decision.consistency.is_none() {
                if let Some(consistency) = rule.consistency {
                    decision.consistency = Some(consistency);
                    decision.consistency_rule = Some(index);
                }
            }
            if rule.last || decision.is_complete() {
                break;
            }
        }
        decision
    }
}

impl Default for RuleSet {
    fn default() -> RuleSet {
        RuleSet::empty()
    }
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules.len())
            .field(
                "patterns",
                &self.patterns.as_ref().map_or(0, |p| p.regex.pattern_len()),
            )
            .field("replica_groups", &self.replica_groups)
            .finish()
    }
}

/// All `pattern` regexes as one automaton: one scan of the statement text
/// answers every pattern at once. This is the engine `regex::RegexSet` is
/// built on, configured the same way; it is used directly because
/// `RegexSet::matches` allocates its answer on every call, while here the
/// answer goes into a pooled, reusable `PatternSet`.
struct PatternMatcher {
    regex: meta::Regex,
    scratch: Pool<Scratch, ScratchFn>,
}

struct Scratch {
    cache: meta::Cache,
    matched: PatternSet,
}

type ScratchFn = Box<dyn Fn() -> Scratch + Send + Sync + UnwindSafe + RefUnwindSafe>;

/// The guard holding one statement's pattern results until `evaluate` ends.
type MatchedPatterns<'a> = regex_automata::util::pool::PoolGuard<'a, Scratch, ScratchFn>;

impl PatternMatcher {
    /// The error is the regex crate's explanation, as text.
    fn new(patterns: &[String]) -> Result<PatternMatcher, String> {
        // As regex::RegexSetBuilder does: report every pattern that matches
        // (MatchKind::All), never split a UTF-8 character, no captures.
        let regex = meta::Builder::new()
            .configure(
                meta::Config::new()
                    .match_kind(MatchKind::All)
                    .utf8_empty(true)
                    .which_captures(regex_automata::nfa::thompson::WhichCaptures::None),
            )
            .syntax(regex_automata::util::syntax::Config::new().utf8(true))
            .build_many(patterns)
            .map_err(|e| e.to_string())?;
        let for_pool = regex.clone();
        let scratch: ScratchFn = Box::new(move || Scratch {
            cache: for_pool.create_cache(),
            matched: PatternSet::new(for_pool.pattern_len()),
        });
        Ok(PatternMatcher {
            regex,
            scratch: Pool::new(scratch),
        })
    }

    fn search(&self, text: &str) -> MatchedPatterns<'_> {
        let mut guard = self.scratch.get();
        let Scratch { cache, matched } = &mut *guard;
        matched.clear();
        self.regex
            .which_overlapping_matches_with(cache, &Input::new(text), matched);
        guard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_set_can_be_shared_between_threads() {
        // The proxy keeps one behind an Arc for all sessions.
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<RuleSet>();
    }

    #[test]
    fn debug_output_is_a_summary() {
        let set =
            RuleSet::from_toml("[[rule]]\npattern = 'x'\nroute = \"group:a\"\n").expect("valid");
        assert_eq!(
            format!("{set:?}"),
            r#"RuleSet { rules: 1, patterns: 1, replica_groups: ["a"] }"#
        );
    }
}
