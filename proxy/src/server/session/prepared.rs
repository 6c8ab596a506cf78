//! Prepared statements (binary protocol): prepared on the primary, whose ids
//! the client holds; executes of plain reads may run on a replica, where the
//! statement is prepared again under the replica's own id.
//!
//! Invariants: the client only ever sees the primary's statement ids; an
//! execute sent to a replica carries the replica's id and the parameter
//! types that replica needs (the client may have sent them only once, to the
//! primary); an execute is routed by [`crate::route::plan`] with the
//! session's real state, the same rule COM_QUERY follows, and stays on the
//! primary when it asks for a cursor or its statement received long data
//! there.

use std::time::Instant;

use bytes::Bytes;
use tern_rules::StatementKind;

use super::replica::ReadCommand;
use super::{Session, SessionEnd};
use crate::protocol::command::*;
use crate::protocol::packets::command;
use crate::route::{plan, Plan, Route, Target};
use crate::server::relay::RelayOutcome;
use crate::sql::classify::{classify_bytes, Classified};

/// What Tern remembers of a statement the client prepared (on the primary).
pub(super) struct PreparedStatement {
    /// The statement text, to classify its executes and to prepare it again
    /// on a replica.
    pub(super) sql: Bytes,
    pub(super) params: u16,
    /// Parameter types from the last execute that sent them.
    pub(super) param_types: Option<Vec<u8>>,
    /// Long data was sent to the primary's copy: its executes stay there.
    pub(super) long_data: bool,
    /// Statement kind, for the metrics of its executes.
    kind: StatementKind,
}

impl Session {
    /// COM_STMT_PREPARE runs on the primary; Tern notes the statement so that its
    /// executes can run on replicas when they are plain reads.
    pub(super) async fn prepare(&mut self, seq: u8, payload: Bytes) -> Result<(), SessionEnd> {
        self.forward(seq, &payload).await?;
        self.last_replica = None;
        let outcome = self.relay_primary(COM_STMT_PREPARE).await?;
        if let Some((id, params)) = outcome.prepared {
            let sql = payload.slice(1..);
            let kind = classify_bytes(&sql).kind;
            self.prepared.insert(
                id,
                PreparedStatement {
                    sql,
                    params,
                    param_types: None,
                    long_data: false,
                    kind,
                },
            );
        }
        Ok(())
    }

    /// COM_STMT_SEND_LONG_DATA: goes to the primary's copy (no reply), which
    /// keeps the statement's executes there.
    pub(super) async fn send_long_data(
        &mut self,
        seq: u8,
        payload: &[u8],
    ) -> Result<(), SessionEnd> {
        if let Some(ps) = statement_id(payload).and_then(|id| self.prepared.get_mut(&id)) {
            ps.long_data = true;
        }
        self.forward(seq, payload).await
    }

    /// COM_STMT_EXECUTE: on a replica when the router sends the statement
    /// there, no cursor is asked for and no long data went to the primary.
    pub(super) async fn execute(&mut self, seq: u8, payload: &[u8]) -> Result<(), SessionEnd> {
        let started = Instant::now();
        let Some(id) = statement_id(payload) else {
            return self.on_primary(COM_STMT_EXECUTE, seq, payload).await;
        };
        let Some(ps) = self.prepared.get_mut(&id) else {
            let outcome = self.execute_on_primary(seq, payload, None).await?;
            self.record_execute(id, started, &outcome);
            return Ok(());
        };
        if let Some(types) = execute_param_types(payload, ps.params) {
            ps.param_types = Some(types.to_vec());
        }
        let cursor = payload.get(5).is_some_and(|flags| *flags != 0);
        let stays_on_primary = ps.long_data || cursor;
        let sql = ps.sql.clone();
        let c = classify_bytes(&sql);
        let replica_route = if stays_on_primary {
            None
        } else {
            self.replica_route(&c)
        };
        let outcome = match replica_route {
            Some(route) => {
                self.read(&route, seq, ReadCommand::Execute { id, payload })
                    .await?
            }
            None => self.execute_on_primary(seq, payload, Some(&c)).await?,
        };
        self.record_execute(id, started, &outcome);
        Ok(())
    }

    /// The route of a prepared statement's execute when it goes to a replica:
    /// the router's plan with the session as it is now (no rules: they are
    /// written against statement text, which an execute does not carry).
    fn replica_route(&self, c: &Classified<'_>) -> Option<Route> {
        let catalog = self.catalog_for(c);
        let view = self.session_view(catalog.as_deref());
        match plan(c, &view, None) {
            Plan::Send(route) if matches!(route.target, Target::Replica { .. }) => Some(route),
            _ => None,
        }
    }

    /// An execute on the primary, through the write gate for a write and
    /// with the catalog distrusted around DDL.
    async fn execute_on_primary(
        &mut self,
        seq: u8,
        payload: &[u8],
        c: Option<&Classified<'_>>,
    ) -> Result<RelayOutcome, SessionEnd> {
        if let Some(c) = c {
            self.pass_write_gate(c).await;
        }
        let ddl = c.is_some_and(|c| c.kind == StatementKind::Ddl);
        if ddl {
            self.shared.catalog.invalidate();
        }
        self.forward(seq, payload).await?;
        self.last_replica = None;
        let outcome = self.relay_primary(COM_STMT_EXECUTE).await?;
        if ddl {
            self.shared.catalog.invalidate();
            // Recorded once the answer is out: a prepared table change is
            // rare enough to leave that window open (see read-your-writes.md).
            if let Some(c) = c {
                self.note_table_change(c, b"", &outcome.gtids).await;
            }
        }
        Ok(outcome)
    }

    /// COM_STMT_CLOSE: on the primary and on every replica that has a copy. No
    /// reply is expected from any of them.
    pub(super) async fn close_statement(
        &mut self,
        seq: u8,
        payload: &[u8],
    ) -> Result<(), SessionEnd> {
        if let Some(id) = statement_id(payload) {
            self.prepared.remove(&id);
            let mut failed = Vec::new();
            for (idx, slot) in self.replicas.iter_mut().enumerate() {
                if let Some(link) = slot {
                    if let Some(st) = link.statements.remove(&id) {
                        let cmd = command(COM_STMT_CLOSE, &st.id.to_le_bytes());
                        if link.conn.send(0, &cmd).await.is_err() {
                            failed.push(idx);
                        }
                    }
                }
            }
            for idx in failed {
                self.replicas[idx] = None;
            }
        }
        self.forward(seq, payload).await
    }

    fn record_execute(&self, id: u32, started: std::time::Instant, outcome: &RelayOutcome) {
        let kind = self
            .prepared
            .get(&id)
            .map_or(StatementKind::Other, |ps| ps.kind);
        self.record_statement(kind, started, outcome);
    }
}

/// The statement id of a COM_STMT_* packet.
pub(super) fn statement_id(payload: &[u8]) -> Option<u32> {
    payload
        .get(1..5)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Where the "new params bound" flag of a COM_STMT_EXECUTE sits: command,
/// id (4), flags, iteration count (4), then the NULL bitmap.
fn new_params_bound_at(params: u16) -> usize {
    10 + (params as usize).div_ceil(8)
}

/// The parameter types a COM_STMT_EXECUTE carries, if it carries them: two
/// bytes per parameter after the "new params bound" flag.
fn execute_param_types(payload: &[u8], params: u16) -> Option<&[u8]> {
    if params == 0 {
        return None;
    }
    let bound_at = new_params_bound_at(params);
    if *payload.get(bound_at)? != 1 {
        return None;
    }
    payload.get(bound_at + 1..bound_at + 1 + 2 * params as usize)
}

/// The client's COM_STMT_EXECUTE made fit for a replica's copy of the
/// statement: the replica's statement id in place of the primary's and, while
/// the replica has not been sent parameter types (`replica_typed`), the types
/// the client sent with an earlier execute (`known_types`) added with the
/// "new params bound" flag set, when this execute omits them. `None` when the
/// packet is too short for its parameters or the replica needs types nobody
/// sent.
pub(super) fn execute_for_replica(
    payload: &[u8],
    replica_id: u32,
    params: u16,
    replica_typed: bool,
    known_types: Option<&[u8]>,
) -> Option<Vec<u8>> {
    let mut out = payload.to_vec();
    out.get_mut(1..5)?
        .copy_from_slice(&replica_id.to_le_bytes());
    if params > 0 && !replica_typed {
        let bound_at = new_params_bound_at(params);
        if *out.get(bound_at)? == 0 {
            let types = known_types?;
            out[bound_at] = 1;
            out.splice(bound_at + 1..bound_at + 1, types.iter().copied());
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A COM_STMT_EXECUTE as a client sends it: statement id, flags, one
    /// iteration, the NULL bitmap, the "new params bound" flag, the types when
    /// bound, then the values.
    fn execute(id: u32, flags: u8, params: u16, types: Option<&[u8]>, values: &[u8]) -> Vec<u8> {
        let mut p = vec![COM_STMT_EXECUTE];
        p.extend_from_slice(&id.to_le_bytes());
        p.push(flags);
        p.extend_from_slice(&1u32.to_le_bytes());
        if params > 0 {
            p.extend(std::iter::repeat_n(0u8, (params as usize).div_ceil(8)));
            match types {
                Some(t) => {
                    p.push(1);
                    p.extend_from_slice(t);
                }
                None => p.push(0),
            }
        }
        p.extend_from_slice(values);
        p
    }

    /// MYSQL_TYPE_LONGLONG and MYSQL_TYPE_VAR_STRING, both signed.
    const TWO_TYPES: &[u8] = &[0x08, 0x00, 0xfd, 0x00];
    /// 7 as a LONGLONG, then 'ab' as a length-encoded string.
    const TWO_VALUES: &[u8] = &[7, 0, 0, 0, 0, 0, 0, 0, 2, b'a', b'b'];

    /// What, the client's payload, parameter count, whether the replica has
    /// the types, the types known from earlier executes, and the expected
    /// packet for the replica.
    type Case<'a> = (
        &'a str,
        Vec<u8>,
        u16,
        bool,
        Option<&'a [u8]>,
        Option<Vec<u8>>,
    );

    #[test]
    fn execute_packets_for_a_replica() {
        let nine_types: Vec<u8> = std::iter::repeat_n([0x03u8, 0x00], 9).flatten().collect();
        let nine_values: Vec<u8> = (0..9u8).flat_map(|v| [v, 0, 0, 0]).collect();
        let cases: Vec<Case<'_>> = vec![
            (
                "no parameters: only the id changes",
                execute(1, 0, 0, None, &[]),
                0,
                false,
                None,
                Some(execute(0x0102_0304, 0, 0, None, &[])),
            ),
            (
                "types sent by the client pass as they are",
                execute(1, 0, 2, Some(TWO_TYPES), TWO_VALUES),
                2,
                false,
                Some(&[0x01, 0x00, 0x01, 0x00]),
                Some(execute(0x0102_0304, 0, 2, Some(TWO_TYPES), TWO_VALUES)),
            ),
            (
                "types the replica lacks are added and the flag set",
                execute(1, 0, 2, None, TWO_VALUES),
                2,
                false,
                Some(TWO_TYPES),
                Some(execute(0x0102_0304, 0, 2, Some(TWO_TYPES), TWO_VALUES)),
            ),
            (
                "a replica that has the types gets none again",
                execute(1, 0, 2, None, TWO_VALUES),
                2,
                true,
                Some(TWO_TYPES),
                Some(execute(0x0102_0304, 0, 2, None, TWO_VALUES)),
            ),
            (
                "types needed but never sent: not for a replica",
                execute(1, 0, 2, None, TWO_VALUES),
                2,
                false,
                None,
                None,
            ),
            (
                "nine parameters: a two-byte NULL bitmap before the flag",
                execute(1, 0, 9, None, &nine_values),
                9,
                false,
                Some(&nine_types),
                Some(execute(0x0102_0304, 0, 9, Some(&nine_types), &nine_values)),
            ),
            (
                "cut before the flag",
                execute(1, 0, 2, None, &[])[..11].to_vec(),
                2,
                false,
                Some(TWO_TYPES),
                None,
            ),
            (
                "cut inside the id",
                vec![COM_STMT_EXECUTE, 1, 0],
                0,
                true,
                None,
                None,
            ),
        ];
        for (what, payload, params, typed, known, want) in cases {
            let got = execute_for_replica(&payload, 0x0102_0304, params, typed, known);
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn the_replica_id_is_little_endian_after_the_command_byte() {
        let out = execute_for_replica(&execute(5, 0, 0, None, &[]), 0x0A0B_0C0D, 0, true, None)
            .expect("rewritten");
        assert_eq!(&out[..5], &[COM_STMT_EXECUTE, 0x0D, 0x0C, 0x0B, 0x0A]);
    }

    #[test]
    fn parameter_types_are_read_only_when_bound() {
        let bound = execute(1, 0, 2, Some(TWO_TYPES), TWO_VALUES);
        assert_eq!(execute_param_types(&bound, 2), Some(TWO_TYPES));
        let unbound = execute(1, 0, 2, None, TWO_VALUES);
        assert_eq!(execute_param_types(&unbound, 2), None);
        assert_eq!(execute_param_types(&execute(1, 0, 0, None, &[]), 0), None);
        // A flag claiming types the packet does not hold.
        assert_eq!(execute_param_types(&bound[..13], 2), None);
    }

    #[test]
    fn statement_ids_of_short_packets() {
        assert_eq!(
            statement_id(&execute(0x11223344, 0, 0, None, &[])),
            Some(0x11223344)
        );
        assert_eq!(statement_id(&[COM_STMT_CLOSE, 1, 2]), None);
    }
}
