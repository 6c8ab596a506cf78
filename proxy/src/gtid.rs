//! GTIDs and GTID positions for both server flavors.
//!
//! MariaDB: a GTID is `domain-server-seq`; a replica's position is one GTID per
//! replication domain (`@@gtid_slave_pos`), and with `gtid_strict_mode` sequence
//! numbers only grow within a domain, so "has applied d-s-n" is "its position in
//! domain d has seq >= n".
//!
//! MySQL: a GTID is `uuid:n`; a position is a set of intervals per source uuid
//! (`@@gtid_executed`), and "has applied" is interval membership.

use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MariaGtid {
    pub domain: u32,
    pub server: u32,
    pub seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Gtid {
    Maria(MariaGtid),
    /// MySQL: source uuid (lower-case, as text) and transaction number.
    Mysql {
        uuid: String,
        n: u64,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid GTID `{0}`")]
pub struct GtidParseError(pub String);

impl Gtid {
    pub fn parse(text: &str) -> Result<Gtid, GtidParseError> {
        let t = text.trim();
        let err = || GtidParseError(t.to_string());
        if let Some((uuid, n)) = t.split_once(':') {
            if uuid.len() != 36 || !uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
                return Err(err());
            }
            let n = n.parse::<u64>().map_err(|_| err())?;
            return Ok(Gtid::Mysql {
                uuid: uuid.to_ascii_lowercase(),
                n,
            });
        }
        let mut parts = t.split('-');
        let (Some(d), Some(s), Some(n), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err());
        };
        Ok(Gtid::Maria(MariaGtid {
            domain: d.parse().map_err(|_| err())?,
            server: s.parse().map_err(|_| err())?,
            seq: n.parse().map_err(|_| err())?,
        }))
    }
}

impl fmt::Display for Gtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gtid::Maria(g) => write!(f, "{}-{}-{}", g.domain, g.server, g.seq),
            Gtid::Mysql { uuid, n } => write!(f, "{uuid}:{n}"),
        }
    }
}

/// What a server has applied (or a session must see): MariaDB's per-domain
/// positions, or MySQL's interval sets, or both (a set is only ever compared with
/// GTIDs of its own flavor).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidSet {
    /// domain → highest sequence number (and the GTID carrying it).
    maria: BTreeMap<u32, MariaGtid>,
    /// uuid → sorted, disjoint, inclusive intervals.
    mysql: BTreeMap<String, Vec<(u64, u64)>>,
}

impl GtidSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses `@@gtid_slave_pos` / `@@gtid_binlog_pos` (`0-1-5,1-2-7`) or
    /// `@@gtid_executed` (`uuid:1-5:7,uuid2:3`). Empty text is the empty set.
    pub fn parse(text: &str) -> Result<GtidSet, GtidParseError> {
        let mut set = GtidSet::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if let Some((uuid, ranges)) = item.split_once(':') {
                let uuid = uuid.trim().to_ascii_lowercase();
                if uuid.len() != 36 {
                    return Err(GtidParseError(item.to_string()));
                }
                for range in ranges.split(':') {
                    let (a, b) = match range.split_once('-') {
                        Some((a, b)) => (a, b),
                        None => (range, range),
                    };
                    let a = a
                        .trim()
                        .parse::<u64>()
                        .map_err(|_| GtidParseError(item.to_string()))?;
                    let b = b
                        .trim()
                        .parse::<u64>()
                        .map_err(|_| GtidParseError(item.to_string()))?;
                    if a > b {
                        return Err(GtidParseError(item.to_string()));
                    }
                    set.add_mysql_interval(&uuid, a, b);
                }
            } else {
                set.add(&Gtid::parse(item)?);
            }
        }
        Ok(set)
    }

    pub fn is_empty(&self) -> bool {
        self.maria.is_empty() && self.mysql.is_empty()
    }

    /// Records that `gtid` is applied.
    pub fn add(&mut self, gtid: &Gtid) {
        match gtid {
            Gtid::Maria(g) => {
                let e = self.maria.entry(g.domain).or_insert(*g);
                if g.seq > e.seq {
                    *e = *g;
                }
            }
            Gtid::Mysql { uuid, n } => self.add_mysql_interval(uuid, *n, *n),
        }
    }

    fn add_mysql_interval(&mut self, uuid: &str, a: u64, b: u64) {
        let list = self.mysql.entry(uuid.to_string()).or_default();
        list.push((a, b));
        list.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(list.len());
        for &(s, e) in list.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1.saturating_add(1) => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *list = merged;
    }

    pub fn contains(&self, gtid: &Gtid) -> bool {
        match gtid {
            Gtid::Maria(g) => self
                .maria
                .get(&g.domain)
                .is_some_and(|have| have.seq >= g.seq),
            Gtid::Mysql { uuid, n } => self
                .mysql
                .get(uuid)
                .is_some_and(|list| list.iter().any(|&(a, b)| a <= *n && *n <= b)),
        }
    }

    /// Does this set include everything in `other`?
    pub fn contains_set(&self, other: &GtidSet) -> bool {
        other
            .maria
            .values()
            .all(|g| self.contains(&Gtid::Maria(*g)))
            && other.mysql.iter().all(|(uuid, list)| {
                list.iter().all(|&(a, b)| {
                    self.mysql
                        .get(uuid)
                        .is_some_and(|mine| mine.iter().any(|&(s, e)| s <= a && b <= e))
                })
            })
    }

    /// Adds everything in `other`.
    pub fn merge(&mut self, other: &GtidSet) {
        for g in other.maria.values() {
            self.add(&Gtid::Maria(*g));
        }
        for (uuid, list) in &other.mysql {
            for &(a, b) in list {
                self.add_mysql_interval(uuid, a, b);
            }
        }
    }

    /// The MariaDB GTIDs of this set, one per domain: what MASTER_GTID_WAIT takes.
    pub fn maria_positions(&self) -> impl Iterator<Item = &MariaGtid> {
        self.maria.values()
    }
}

impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| -> fmt::Result {
            if !std::mem::replace(&mut first, false) {
                f.write_str(",")?;
            }
            Ok(())
        };
        for g in self.maria.values() {
            sep(f)?;
            write!(f, "{}-{}-{}", g.domain, g.server, g.seq)?;
        }
        for (uuid, list) in &self.mysql {
            sep(f)?;
            f.write_str(uuid)?;
            for &(a, b) in list {
                if a == b {
                    write!(f, ":{a}")?;
                } else {
                    write!(f, ":{a}-{b}")?;
                }
            }
        }
        Ok(())
    }
}

/// The statement that waits up to `timeout` for a server to apply `required`
/// and returns 0 when it has: MASTER_GTID_WAIT on MariaDB (-1 on timeout),
/// WAIT_FOR_EXECUTED_GTID_SET on MySQL (1 on timeout).
pub fn wait_statement(required: &GtidSet, timeout: std::time::Duration) -> String {
    let secs = timeout.as_secs_f64();
    if required.mysql.is_empty() {
        format!("SELECT MASTER_GTID_WAIT('{required}', {secs:.3})")
    } else {
        format!("SELECT WAIT_FOR_EXECUTED_GTID_SET('{required}', {secs:.3})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

    #[test]
    fn mariadb_positions_compare_by_domain_seq() {
        let pos = GtidSet::parse("0-1-100,5-2-7").expect("parses");
        assert!(pos.contains(&Gtid::parse("0-1-100").expect("gtid")));
        assert!(pos.contains(&Gtid::parse("0-3-99").expect("gtid")));
        assert!(!pos.contains(&Gtid::parse("0-1-101").expect("gtid")));
        assert!(!pos.contains(&Gtid::parse("1-1-1").expect("gtid")));
        assert_eq!(pos.to_string(), "0-1-100,5-2-7");
        let mut grown = pos.clone();
        grown.add(&Gtid::parse("0-1-150").expect("gtid"));
        assert!(grown.contains_set(&pos));
        assert!(!pos.contains_set(&grown));
    }

    #[test]
    fn mysql_sets_are_interval_sets() {
        let set = GtidSet::parse(&format!("{U}:1-5:7-9")).expect("parses");
        assert!(set.contains(&Gtid::Mysql {
            uuid: U.into(),
            n: 3
        }));
        assert!(!set.contains(&Gtid::Mysql {
            uuid: U.into(),
            n: 6
        }));
        let mut s2 = set.clone();
        s2.add(&Gtid::Mysql {
            uuid: U.into(),
            n: 6,
        });
        assert_eq!(s2.to_string(), format!("{U}:1-9"));
        assert!(s2.contains_set(&set));
        assert!(!set.contains_set(&s2));
        assert_eq!(
            Gtid::parse(&format!("{}:42", U.to_uppercase())).expect("gtid"),
            Gtid::Mysql {
                uuid: U.into(),
                n: 42
            }
        );
    }

    #[test]
    fn wait_statements_per_flavor() {
        let t = std::time::Duration::from_millis(250);
        assert_eq!(
            wait_statement(&GtidSet::parse("0-1-5").expect("pos"), t),
            "SELECT MASTER_GTID_WAIT('0-1-5', 0.250)"
        );
        assert_eq!(
            wait_statement(&GtidSet::parse(&format!("{U}:1-3")).expect("pos"), t),
            format!("SELECT WAIT_FOR_EXECUTED_GTID_SET('{U}:1-3', 0.250)")
        );
    }

    #[test]
    fn malformed_input_is_an_error() {
        for bad in ["", "1-2", "a-b-c", "1-2-3-4", "xyz:1", &format!("{U}:x")] {
            assert!(Gtid::parse(bad).is_err(), "{bad}");
        }
        assert!(GtidSet::parse("0-1-x").is_err());
        assert!(GtidSet::parse(&format!("{U}:5-3")).is_err());
        assert!(GtidSet::parse("").expect("empty").is_empty());
    }
}
