//! The conditions a table change leaves behind when Tern answered it: the Note
//! of a native fallback, the error of an online migration, or the warnings
//! the online copy raised (the server ran those statements on another
//! connection, so the client's own diagnostics area does not hold them).
//!
//! The server cannot be told to add a condition of Tern's to its diagnostics
//! area, so the session remembers it and merges it into the server's own
//! answers: a fallback's OK counts the Note in its warnings, and until the next
//! statement that is not a diagnostics statement, `SHOW WARNINGS` gets the
//! conditions as more rows after the server's rows (the server's packets
//! otherwise unchanged), and `SHOW COUNT(*) WARNINGS` / `SELECT
//! @@warning_count` count them (all of them: an online copy keeps only the
//! first max_error_count rows but counts every warning, as the server does);
//! an error is shown and counted by `SHOW ERRORS`, `SHOW COUNT(*) ERRORS`
//! and `@@error_count` too. `GET DIAGNOSTICS` keeps it without showing it: it
//! answers into user variables Tern does not rewrite.
//!
//! The server keeps its own warnings across statements that use no table
//! (`SELECT 1`); Tern forgets the Note at any statement that is not a
//! diagnostics statement, and at any command other than COM_QUERY or
//! COM_PING, so a Note never outlives the answer it explains.

use bytes::{Bytes, BytesMut};

use super::super::{Session, SessionEnd};
use crate::backend::BackendError;
use crate::migrate::{AlterReport, Condition};
use crate::protocol::framing::{write_packet, Packet};
use crate::protocol::packets::{eof_status, ok_status, put_lenenc, read_lenenc};
use crate::server::relay::{client_ok, RelayOutcome};
use crate::sql::lexer::token_texts;

/// The code of the Note: the server's ER_ALTER_OPERATION_NOT_SUPPORTED_REASON.
pub const NOTE_CODE: u16 = crate::protocol::errcode::ER_ALTER_OPERATION_NOT_SUPPORTED_REASON;
/// Most packets a diagnostics answer may have: the server keeps at most
/// max_error_count (65535) conditions, plus the metadata.
const MAX_DIAGNOSTICS_PACKETS: usize = 65_535 + 16;

/// Conditions of Tern's for the session's diagnostics area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingConditions {
    /// The rows `SHOW WARNINGS` shows, in order.
    kept: Vec<Condition>,
    /// What `@@warning_count` counts: at least `kept.len()`.
    total: u64,
    /// The server's own diagnostics area was emptied before these were
    /// raised, so they are the whole list and a LIMIT window indexes them.
    whole_list: bool,
}

impl PendingConditions {
    /// Why a table change ran as sent instead of online.
    pub fn fallback_note(why: &str) -> PendingConditions {
        PendingConditions::one(
            "Note",
            NOTE_CODE,
            format!("Online ALTER is not supported. Reason: {why}. Ran as the server's own ALTER"),
        )
    }

    /// The error Tern answered a table change with.
    pub fn error(code: u16, message: &str) -> PendingConditions {
        PendingConditions::one("Error", code, message.to_string())
    }

    fn one(level: &str, code: u16, message: String) -> PendingConditions {
        PendingConditions {
            kept: vec![Condition {
                level: level.into(),
                code,
                message,
            }],
            total: 1,
            whole_list: false,
        }
    }

    /// The warnings of an online copy; `None` when it had none. The session
    /// emptied its diagnostics area before the copy started.
    pub fn copy_warnings(report: &AlterReport) -> Option<PendingConditions> {
        (report.warnings > 0).then(|| PendingConditions {
            kept: report.conditions.clone(),
            total: report.warnings.max(report.conditions.len() as u64),
            whole_list: true,
        })
    }

    fn is_error(c: &Condition) -> bool {
        c.level == "Error"
    }

    /// What `SHOW COUNT(*) WARNINGS|ERRORS` adds.
    fn count(&self, errors: bool) -> u64 {
        if errors {
            self.kept.iter().filter(|c| Self::is_error(c)).count() as u64
        } else {
            self.total
        }
    }

    /// The SHOW WARNINGS (or ERRORS) rows: Level, Code, Message.
    fn rows(&self, errors: bool) -> Vec<Bytes> {
        self.kept
            .iter()
            .filter(|c| !errors || Self::is_error(c))
            .map(|c| {
                let mut row = BytesMut::new();
                lenenc_str(&mut row, c.level.as_bytes());
                lenenc_str(&mut row, c.code.to_string().as_bytes());
                lenenc_str(&mut row, c.message.as_bytes());
                row.freeze()
            })
            .collect()
    }
}

/// An OK payload for an online ALTER that answers what the server's own would.
pub fn alter_ok(report: &AlterReport, status: u16) -> BytesMut {
    let info = report.info();
    let mut ok = BytesMut::with_capacity(16 + info.len());
    ok.extend_from_slice(&[0x00]);
    put_lenenc(&mut ok, report.records);
    put_lenenc(&mut ok, 0);
    ok.extend_from_slice(&status.to_le_bytes());
    // The packet's field stops at 65535; the info text does not.
    let warnings = u16::try_from(report.warnings).unwrap_or(u16::MAX);
    ok.extend_from_slice(&warnings.to_le_bytes());
    put_lenenc(&mut ok, info.len() as u64);
    ok.extend_from_slice(info.as_bytes());
    ok
}

/// An OK payload with its warning count one higher.
pub fn with_one_more_warning(ok: &[u8]) -> Vec<u8> {
    let mut out = ok.to_vec();
    let at = (|| {
        let mut pos = 1;
        let (_, n) = read_lenenc(ok.get(pos..)?)?;
        pos += n;
        let (_, n) = read_lenenc(ok.get(pos..)?)?;
        pos += n + 2;
        ok.get(pos..pos + 2).map(|_| pos)
    })();
    if let Some(at) = at {
        let warnings = u16::from_le_bytes([out[at], out[at + 1]]).saturating_add(1);
        out[at..at + 2].copy_from_slice(&warnings.to_le_bytes());
    }
    out
}

/// A diagnostics statement, as far as a pending condition is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diagnostics {
    /// `SHOW WARNINGS|ERRORS [LIMIT [offset,] count]`: the condition is one
    /// more row (for ERRORS, when it is an error).
    Show {
        errors: bool,
        offset: u64,
        limit: Option<u64>,
    },
    /// `SHOW COUNT(*) WARNINGS|ERRORS`, `SELECT @@[session.]warning_count|error_count
    /// [[AS] alias]`: one value, one more.
    Count { errors: bool },
    /// Another diagnostics statement: relayed as it is; the condition stays.
    Other,
}

/// Which list a SHOW names: `Some(true)` for ERRORS.
fn shown_list(w: &str) -> Option<bool> {
    match w {
        "WARNINGS" => Some(false),
        "ERRORS" => Some(true),
        _ => None,
    }
}

/// Which count a variable is: `Some(true)` for error_count.
fn counted_list(w: &str) -> Option<bool> {
    match w {
        "WARNING_COUNT" => Some(false),
        "ERROR_COUNT" => Some(true),
        _ => None,
    }
}

/// Recognises diagnostics statements; `None` for every other statement.
pub fn diagnostics(sql: &str) -> Option<Diagnostics> {
    let mut t = token_texts(sql);
    if t.last().is_some_and(|w| w == ";") {
        t.pop();
    }
    let t: Vec<&str> = t.iter().map(String::as_str).collect();
    match t.as_slice() {
        ["SHOW", which] => Some(Diagnostics::Show {
            errors: shown_list(which)?,
            offset: 0,
            limit: None,
        }),
        ["SHOW", which, "LIMIT", rest @ ..] if shown_list(which).is_some() => {
            let errors = shown_list(which)?;
            Some(
                limit(rest).map_or(Diagnostics::Other, |(offset, limit)| Diagnostics::Show {
                    errors,
                    offset,
                    limit: Some(limit),
                }),
            )
        }
        ["SHOW", "COUNT", "(", "*", ")", which] => Some(Diagnostics::Count {
            errors: shown_list(which)?,
        }),
        ["SELECT", "@", "@", rest @ ..] => {
            let rest = match rest {
                ["SESSION", ".", rest @ ..] => rest,
                _ => rest,
            };
            match rest {
                [v] | [v, _] | [v, "AS", _] if counted_list(v).is_some() => {
                    Some(Diagnostics::Count {
                        errors: counted_list(v)?,
                    })
                }
                _ if rest.iter().any(|w| counted_list(w).is_some()) => Some(Diagnostics::Other),
                _ => None,
            }
        }
        ["SHOW", rest @ ..] if rest.iter().any(|w| shown_list(w).is_some()) => {
            Some(Diagnostics::Other)
        }
        ["GET", rest @ ..] if rest.contains(&"DIAGNOSTICS") => Some(Diagnostics::Other),
        _ => None,
    }
}

/// `n`, `o , n` or `n OFFSET o` → (offset, count).
fn limit(rest: &[&str]) -> Option<(u64, u64)> {
    let n = |s: &str| s.parse::<u64>().ok();
    match rest {
        [count] => Some((0, n(count)?)),
        [offset, ",", count] => Some((n(offset)?, n(count)?)),
        [count, "OFFSET", offset] => Some((n(offset)?, n(count)?)),
        _ => None,
    }
}

/// Is this row-phase packet the one that ends a text result set?
fn ends_result(payload: &[u8], deprecate_eof: bool) -> bool {
    match payload.first() {
        Some(0xFF) => true,
        Some(0xFE) if deprecate_eof => payload.len() < 0xFF_FFFF,
        Some(0xFE) => payload.len() < 9,
        _ => false,
    }
}

fn lenenc_str(out: &mut BytesMut, s: &[u8]) {
    put_lenenc(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// A text result set split into its parts.
struct ResultSet {
    first_seq: u8,
    head: Vec<Bytes>,
    rows: Vec<Bytes>,
    /// The EOF/OK (or ERR) that ends it.
    end: Bytes,
    columns: u64,
}

impl ResultSet {
    /// The server's answer with `rows` in place of its rows, sequence ids
    /// renumbered from the server's first.
    fn write(&self, rows: &[Bytes], end: &[u8]) -> BytesMut {
        let mut out = BytesMut::new();
        let mut seq = self.first_seq;
        for p in self.head.iter().chain(rows) {
            seq = write_packet(&mut out, seq, p);
        }
        write_packet(&mut out, seq, end);
        out
    }
}

/// The server's SHOW WARNINGS rows with ours added where they fall in the
/// LIMIT window (they come after every condition the server holds).
fn rows_with_conditions(
    rows: &[Bytes],
    ours: &[Bytes],
    whole_list: bool,
    offset: u64,
    limit: Option<u64>,
) -> Vec<Bytes> {
    let mut out = rows.to_vec();
    let shown = rows.len() as u64;
    let room = limit.map_or(u64::MAX, |l| l.saturating_sub(shown));
    // Ours start right after the server's last row. A window that shows some
    // of the server's rows, or starts at the first, tells where that is; one
    // that starts past the server's rows and shows none of them does not,
    // unless the server holds none.
    let skip = if shown > 0 || offset == 0 {
        0
    } else if whole_list {
        offset
    } else {
        return out;
    };
    let skip = usize::try_from(skip).unwrap_or(usize::MAX);
    let room = usize::try_from(room).unwrap_or(usize::MAX);
    out.extend(ours.iter().skip(skip).take(room).cloned());
    out
}

/// A one-value count row with `n` added; `None` when it is not a number.
fn count_plus(row: &[u8], add: u64) -> Option<Bytes> {
    let (len, n) = read_lenenc(row)?;
    let digits = row.get(n..n + len as usize)?;
    if n + len as usize != row.len() {
        return None;
    }
    let value: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let mut out = BytesMut::new();
    lenenc_str(&mut out, value.saturating_add(add).to_string().as_bytes());
    Some(out.freeze())
}

impl Session {
    /// With a condition pending, answers the diagnostics statements that must
    /// show it (returning their outcome), keeps it across the other
    /// diagnostics statements and forgets it at any other statement.
    pub(in crate::server::session) async fn diagnostics_with_note(
        &mut self,
        seq: u8,
        payload: &[u8],
    ) -> Result<Option<RelayOutcome>, SessionEnd> {
        let Some(condition) = self.ddl_note.take() else {
            return Ok(None);
        };
        let kind = std::str::from_utf8(&payload[1..])
            .ok()
            .and_then(diagnostics);
        let Some(kind) = kind else {
            return Ok(None);
        };
        self.ddl_note = Some(condition.clone());
        let shown = match kind {
            Diagnostics::Show { errors, .. } | Diagnostics::Count { errors } => {
                condition.count(errors) > 0
            }
            Diagnostics::Other => false,
        };
        if !shown {
            return Ok(None);
        }
        self.forward(seq, payload).await?;
        let answer = match self.read_result_set().await {
            Ok(a) => a,
            Err(e) => {
                self.client
                    .close_like(crate::server::client::ServerClose::from_backend(&e))
                    .await;
                return Err(SessionEnd::Backend(e));
            }
        };
        let mut outcome = RelayOutcome::default();
        let out = match answer {
            Err(single) => {
                // An error (or an OK): the server's answer as it is.
                outcome.error = single.payload.first() == Some(&0xFF);
                let mut out = BytesMut::new();
                write_packet(&mut out, single.seq, &single.payload);
                out
            }
            Ok(set) => {
                let end_is_ok = set.end.first() == Some(&0xFE) && self.deprecate_eof;
                outcome.status = if end_is_ok {
                    ok_status(&set.end)
                } else {
                    eof_status(&set.end)
                };
                outcome.error = set.end.first() == Some(&0xFF);
                let mut scratch = BytesMut::new();
                let end = if end_is_ok {
                    client_ok(&set.end, self.client_tracks, &mut scratch).to_vec()
                } else {
                    set.end.to_vec()
                };
                let rows = match kind {
                    _ if outcome.error => None,
                    Diagnostics::Show {
                        errors,
                        offset,
                        limit,
                    } if set.columns == 3 => Some(rows_with_conditions(
                        &set.rows,
                        &condition.rows(errors),
                        condition.whole_list,
                        offset,
                        limit,
                    )),
                    Diagnostics::Count { errors } if set.columns == 1 && set.rows.len() == 1 => {
                        count_plus(&set.rows[0], condition.count(errors)).map(|r| vec![r])
                    }
                    _ => None,
                };
                set.write(rows.as_deref().unwrap_or(&set.rows), &end)
            }
        };
        self.client
            .send_built(&out)
            .await
            .map_err(|e| SessionEnd::Client(e.into()))?;
        self.absorb(&outcome);
        Ok(Some(outcome))
    }

    async fn read_primary_packet(&mut self) -> Result<Packet, BackendError> {
        let max = self.shared.settings.max_packet_size;
        self.primary
            .reader
            .read_packet(&mut self.primary.stream, None, max)
            .await
            .map_err(BackendError::Lost)
    }

    /// Reads one whole text result set from the primary (`Err` with the single
    /// packet when the answer is an OK or an ERR instead).
    async fn read_result_set(&mut self) -> Result<Result<ResultSet, Packet>, BackendError> {
        let first = self.read_primary_packet().await?;
        let columns = match first.payload.first() {
            Some(0x00 | 0xFF | 0xFB) => return Ok(Err(first)),
            _ => match read_lenenc(&first.payload) {
                Some((n, _)) => n,
                None => return Ok(Err(first)),
            },
        };
        let first_seq = first.seq;
        let mut head = vec![first.payload];
        for _ in 0..columns {
            head.push(self.read_primary_packet().await?.payload);
        }
        let deprecate_eof = self.deprecate_eof;
        if !deprecate_eof {
            head.push(self.read_primary_packet().await?.payload);
        }
        let mut rows = Vec::new();
        loop {
            let p = self.read_primary_packet().await?;
            if ends_result(&p.payload, deprecate_eof) {
                return Ok(Ok(ResultSet {
                    first_seq,
                    head,
                    rows,
                    end: p.payload,
                    columns,
                }));
            }
            if rows.len() >= MAX_DIAGNOSTICS_PACKETS {
                return Err(BackendError::Protocol(
                    "a diagnostics answer longer than the server can hold".into(),
                ));
            }
            rows.push(p.payload);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_statements_are_recognised() {
        use Diagnostics::*;
        let show = |errors, offset, limit| {
            Some(Show {
                errors,
                offset,
                limit,
            })
        };
        assert_eq!(diagnostics("SHOW WARNINGS"), show(false, 0, None));
        assert_eq!(diagnostics(" show warnings ;"), show(false, 0, None));
        assert_eq!(
            diagnostics("SHOW WARNINGS LIMIT 2"),
            show(false, 0, Some(2))
        );
        assert_eq!(
            diagnostics("SHOW WARNINGS LIMIT 1, 2"),
            show(false, 1, Some(2))
        );
        assert_eq!(
            diagnostics("SHOW WARNINGS LIMIT 2 OFFSET 1"),
            show(false, 1, Some(2))
        );
        assert_eq!(diagnostics("SHOW ERRORS"), show(true, 0, None));
        let count = |errors| Some(Count { errors });
        assert_eq!(diagnostics("SHOW COUNT(*) WARNINGS"), count(false));
        assert_eq!(diagnostics("SHOW COUNT(*) ERRORS"), count(true));
        assert_eq!(diagnostics("select @@warning_count"), count(false));
        assert_eq!(
            diagnostics("SELECT @@session.warning_count AS n"),
            count(false)
        );
        assert_eq!(diagnostics("SELECT @@error_count"), count(true));
        assert_eq!(
            diagnostics("SELECT @@warning_count, @@error_count"),
            Some(Other)
        );
        assert_eq!(diagnostics("SHOW WARNINGS LIMIT x"), Some(Other));
        assert_eq!(diagnostics("GET DIAGNOSTICS @n = NUMBER"), Some(Other));
        assert_eq!(diagnostics("SELECT 1"), None);
        assert_eq!(diagnostics("SELECT @@sql_mode"), None);
        assert_eq!(diagnostics("SHOW TABLES"), None);
        assert_eq!(diagnostics("SHOW WARNING_COUNT"), None);
        assert_eq!(diagnostics("SELECT 'SHOW WARNINGS'"), None);
    }

    #[test]
    fn the_ok_counts_one_more_warning() {
        // OK, 0 rows, id 0, status 2, 3 warnings, info.
        let ok = [0x00, 0x00, 0x00, 0x02, 0x00, 0x03, 0x00, 0x01, b'x'];
        let counted = with_one_more_warning(&ok);
        assert_eq!(&counted[5..7], &[0x04, 0x00]);
        assert_eq!(counted[..5], ok[..5]);
        assert_eq!(counted[7..], ok[7..]);
    }

    #[test]
    fn the_note_row_respects_the_limit_window() {
        let note = PendingConditions::fallback_note("why");
        let row = note.rows(false);
        let with = |rows: &[Bytes], offset, limit| {
            rows_with_conditions(rows, &row, note.whole_list, offset, limit)
        };
        let one = vec![Bytes::from_static(b"\x04Note")];
        assert_eq!(with(&[], 0, None), row);
        assert_eq!(with(&one, 0, None).len(), 2);
        assert_eq!(with(&one, 0, Some(1)).len(), 1);
        assert_eq!(with(&one, 0, Some(2)).len(), 2);
        assert_eq!(with(&[], 0, Some(0)).len(), 0);
        assert_eq!(with(&[], 3, Some(2)).len(), 0);
        assert!(row[0].starts_with(b"\x04Note\x041846"));
        assert!(note.rows(true).is_empty());
        let error = PendingConditions::error(1062, "Duplicate entry");
        assert!(error.rows(true)[0].starts_with(b"\x05Error\x041062"));
    }

    #[test]
    fn copy_warnings_window_and_count() {
        let report = AlterReport {
            records: 100,
            warnings: 100,
            conditions: (1..=64)
                .map(|n| Condition {
                    level: "Warning".into(),
                    code: 1265,
                    message: format!("at row {n}"),
                })
                .collect(),
        };
        let pending = PendingConditions::copy_warnings(&report).unwrap();
        let rows = pending.rows(false);
        let with = |offset, limit| rows_with_conditions(&[], &rows, true, offset, limit);
        assert_eq!(with(0, None).len(), 64);
        assert_eq!(with(62, Some(5)), rows[62..].to_vec());
        assert_eq!(with(70, Some(5)).len(), 0);
        assert_eq!(pending.count(false), 100);
        assert_eq!(pending.count(true), 0);
        assert!(PendingConditions::copy_warnings(&AlterReport::default()).is_none());
        let ok = alter_ok(&report, 2);
        assert_eq!(&ok[..6], &[0x00, 100, 0x00, 0x02, 0x00, 100]);
        assert!(ok.ends_with(b"Records: 100  Duplicates: 0  Warnings: 100"));
    }

    #[test]
    fn counts_go_up() {
        assert_eq!(count_plus(b"\x011", 1).as_deref(), Some(&b"\x012"[..]));
        assert_eq!(count_plus(b"\x019", 1).as_deref(), Some(&b"\x0210"[..]));
        assert_eq!(count_plus(b"\x010", 100).as_deref(), Some(&b"\x03100"[..]));
        assert_eq!(count_plus(b"\xfb", 1), None);
    }
}
