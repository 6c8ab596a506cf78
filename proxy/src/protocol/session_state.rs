//! OK packets with session-state information (CLIENT_SESSION_TRACK).
//!
//! Tern always asks its backends for session tracking: the OK packet is where it
//! learns a session's last GTID (MariaDB's `last_gtid` variable, MySQL's
//! SESSION_TRACK_GTIDS) and its current schema, without an extra round trip.
//! A client that did not ask for tracking must get the OK packet the server would
//! have sent it: no SERVER_SESSION_STATE_CHANGED flag, no state block, and the
//! info text (length-encoded) only when it is not empty. Measured on MariaDB
//! 10.11: that is exactly the server's own layout for such clients.

use bytes::{BufMut, BytesMut};

use super::packets::{put_lenenc, read_lenenc};
use super::status::SESSION_STATE_CHANGED;

pub const SESSION_TRACK_SYSTEM_VARIABLES: u8 = 0;
pub const SESSION_TRACK_SCHEMA: u8 = 1;
pub const SESSION_TRACK_STATE_CHANGE: u8 = 2;
pub const SESSION_TRACK_GTIDS: u8 = 3;

/// The fields of an OK packet (header 0x00, or 0xFE when it ends a result set
/// for a CLIENT_DEPRECATE_EOF client), parsed as sent to a tracking client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OkView<'a> {
    pub header: u8,
    pub affected_rows: u64,
    pub last_insert_id: u64,
    pub status: u16,
    pub warnings: u16,
    pub info: &'a [u8],
    /// The session-state block (entries), empty when nothing changed.
    pub state: &'a [u8],
}

pub fn parse_ok(payload: &[u8]) -> Option<OkView<'_>> {
    let header = *payload.first()?;
    let mut pos = 1;
    let (affected_rows, n) = read_lenenc(payload.get(pos..)?)?;
    pos += n;
    let (last_insert_id, n) = read_lenenc(payload.get(pos..)?)?;
    pos += n;
    let status = u16::from_le_bytes(payload.get(pos..pos + 2)?.try_into().ok()?);
    let warnings = u16::from_le_bytes(payload.get(pos + 2..pos + 4)?.try_into().ok()?);
    pos += 4;
    let mut info: &[u8] = &[];
    let mut state: &[u8] = &[];
    if pos < payload.len() {
        let (len, n) = read_lenenc(&payload[pos..])?;
        let start = pos + n;
        info = payload.get(start..start + len as usize)?;
        pos = start + len as usize;
        if status & SESSION_STATE_CHANGED != 0 && pos < payload.len() {
            let (len, n) = read_lenenc(&payload[pos..])?;
            let start = pos + n;
            state = payload.get(start..start + len as usize)?;
        }
    }
    Some(OkView {
        header,
        affected_rows,
        last_insert_id,
        status,
        warnings,
        info,
        state,
    })
}

/// One entry of a session-state block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateChange<'a> {
    SystemVariable {
        name: &'a [u8],
        value: &'a [u8],
    },
    Schema(&'a [u8]),
    /// MySQL's SESSION_TRACK_GTIDS payload: the GTID set text.
    Gtids(&'a [u8]),
    Other(u8),
}

/// Iterates the entries of a session-state block; stops at the first malformed one.
pub fn state_changes(mut block: &[u8]) -> impl Iterator<Item = StateChange<'_>> {
    std::iter::from_fn(move || {
        let (&kind, rest) = block.split_first()?;
        let (len, n) = read_lenenc(rest)?;
        let data = rest.get(n..n + len as usize)?;
        block = &rest[n + len as usize..];
        Some(match kind {
            SESSION_TRACK_SYSTEM_VARIABLES => {
                let (nlen, n1) = read_lenenc(data)?;
                let name = data.get(n1..n1 + nlen as usize)?;
                let rest = &data[n1 + nlen as usize..];
                let (vlen, n2) = read_lenenc(rest)?;
                let value = rest.get(n2..n2 + vlen as usize)?;
                StateChange::SystemVariable { name, value }
            }
            SESSION_TRACK_SCHEMA => {
                let (slen, n1) = read_lenenc(data)?;
                StateChange::Schema(data.get(n1..n1 + slen as usize)?)
            }
            SESSION_TRACK_GTIDS => {
                // encoding specification byte, then the set as a length-encoded string
                let rest = data.get(1..)?;
                let (glen, n1) = read_lenenc(rest)?;
                StateChange::Gtids(rest.get(n1..n1 + glen as usize)?)
            }
            other => StateChange::Other(other),
        })
    })
}

/// Writes `ok` as the server writes an OK packet for a client without
/// CLIENT_SESSION_TRACK.
pub fn write_untracked_ok(ok: &OkView<'_>, out: &mut BytesMut) {
    out.put_u8(ok.header);
    put_lenenc(out, ok.affected_rows);
    put_lenenc(out, ok.last_insert_id);
    out.put_u16_le(ok.status & !SESSION_STATE_CHANGED);
    out.put_u16_le(ok.warnings);
    if !ok.info.is_empty() {
        put_lenenc(out, ok.info.len() as u64);
        out.put_slice(ok.info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Payload seen from MariaDB 10.11 after `SET time_zone='+01:00'` with tracking.
    const SET_TZ: &[u8] = b"\x00\x00\x00\x00\x40\x00\x00\x00\x13\x00\x11\ttime_zone\x06+01:00";
    /// After `USE mysql` inside a transaction.
    const USE_DB: &[u8] = b"\x00\x00\x00\x01\x40\x00\x00\x00\x08\x01\x06\x05mysql";

    #[test]
    fn reads_variables_and_schema() {
        let ok = parse_ok(SET_TZ).expect("ok");
        assert_eq!(ok.status, 0x4000);
        let changes: Vec<_> = state_changes(ok.state).collect();
        assert_eq!(
            changes,
            vec![StateChange::SystemVariable {
                name: b"time_zone",
                value: b"+01:00"
            }]
        );
        let ok = parse_ok(USE_DB).expect("ok");
        assert_eq!(
            state_changes(ok.state).collect::<Vec<_>>(),
            vec![StateChange::Schema(b"mysql")]
        );
    }

    #[test]
    fn untracked_form_matches_the_server() {
        // The server sends these to a client without CLIENT_SESSION_TRACK.
        let mut out = BytesMut::new();
        write_untracked_ok(&parse_ok(SET_TZ).expect("ok"), &mut out);
        assert_eq!(&out[..], b"\x00\x00\x00\x00\x00\x00\x00");
        out.clear();
        write_untracked_ok(&parse_ok(USE_DB).expect("ok"), &mut out);
        assert_eq!(&out[..], b"\x00\x00\x00\x01\x00\x00\x00");
        // Info text survives, length-encoded.
        let with_info = b"\x00\x00\x00\x21\x40\x00\x00\x05hello\x03\x01\x01x";
        out.clear();
        write_untracked_ok(&parse_ok(with_info).expect("ok"), &mut out);
        assert_eq!(&out[..], b"\x00\x00\x00\x21\x00\x00\x00\x05hello");
    }

    #[test]
    fn mysql_gtid_entry() {
        let block = b"\x03\x2b\x00\x29aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa:1-42";
        let changes: Vec<_> = state_changes(block).collect();
        assert_eq!(
            changes,
            vec![StateChange::Gtids(
                b"aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa:1-42"
            )]
        );
    }

    #[test]
    fn malformed_blocks_do_not_panic() {
        for cut in 0..SET_TZ.len() {
            if let Some(ok) = parse_ok(&SET_TZ[..cut]) {
                let _ = state_changes(ok.state).count();
            }
        }
        let _ = state_changes(b"\x00\xfc\xff").count();
    }
}
