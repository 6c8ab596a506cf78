//! Following a backend response without decoding it.
//!
//! The relay forwards backend bytes to the client as they arrive and only needs to
//! know where the response to the current command ends. [`ResponseTracker`] scans
//! frame headers and the first bytes of each logical packet, which is enough to
//! tell OK / ERR / EOF / LOCAL INFILE / column count apart and to read status flags.
//! Row payloads are skipped over, so a result of any size streams through a small
//! buffer: a frame larger than [`FULL_PACKET_LIMIT`] is classified from its first
//! [`HEAD_BYTES`] and forwarded in pieces.
//!
//! Invariants:
//! - a terminal packet (final OK/EOF without MORE_RESULTS, or ERR that is not a
//!   MariaDB progress report) is recognised only at a logical-packet boundary, never
//!   inside a continuation frame or a row;
//! - with CLIENT_DEPRECATE_EOF a 0xFE packet shorter than 16 MiB - 1 ends a row
//!   stream; without it, only a 0xFE packet shorter than 9 bytes does (longer ones
//!   are rows whose first column has an 8-byte length prefix).

use super::command::*;
use super::framing::frame_len;
use super::packets::{eof_status, is_progress_report, ok_status, read_lenenc};
use super::status::{CURSOR_EXISTS, MORE_RESULTS_EXISTS};
use super::MAX_FRAME;

/// Packets up to this size are inspected whole (OK packets with session-state
/// information, ERR packets); bigger ones are rows or column data.
pub const FULL_PACKET_LIMIT: usize = 64 * 1024;
/// Enough of a packet's head to classify it and read OK/EOF status flags.
pub const HEAD_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Start of a result: OK, ERR, LOCAL INFILE request or a column count.
    First,
    Columns(u64),
    ColumnsEof,
    Rows,
    /// Packets still expected after a COM_STMT_PREPARE OK: parameter and column
    /// definitions, each section followed by an EOF unless CLIENT_DEPRECATE_EOF.
    Prepare(u32),
    /// Any one packet ends the response (COM_PING, COM_STATISTICS, ...).
    Single,
    Done,
}

/// What the caller does after a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Forward what was scanned and read more from the backend.
    NeedMore,
    /// The server asked for a LOCAL INFILE: forward, then relay the client's file.
    LocalInfile,
    /// The response is complete.
    Done,
    /// The last packet scanned, whose frame starts at this offset of the scanned
    /// bytes, is an OK packet held whole in them. The caller inspects it (session
    /// state), forwards it, and calls `scan` again unless the tracker is done.
    Ok { frame_at: usize },
}

/// The code of an ERR packet from its first bytes (0 when they are missing).
fn err_code(head: &[u8]) -> u16 {
    match head {
        [_, a, b, ..] => u16::from_le_bytes([*a, *b]),
        _ => 0,
    }
}

/// How a response ended, for session bookkeeping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Status flags of the last OK or EOF seen.
    pub status: Option<u16>,
    /// The response ended with an ERR packet.
    pub error: bool,
    /// That ERR packet's error code.
    pub error_code: u16,
    /// COM_STMT_PREPARE succeeded: statement id and parameter count.
    pub prepared: Option<(u32, u16)>,
}

#[derive(Debug)]
pub struct ResponseTracker {
    command: u8,
    phase: Phase,
    deprecate_eof: bool,
    /// Payload bytes of the current frame still to pass through.
    skip: usize,
    /// The last frame was 16 MiB - 1 bytes: the next frame continues its packet.
    in_continuation: bool,
    /// Decision for a packet whose tail is still being skipped.
    pending: Option<Step>,
    /// The packet being classified is an OK packet (set by `on_packet`).
    saw_ok: bool,
    pub outcome: Outcome,
}

impl ResponseTracker {
    /// Tracks the response to `command`; `deprecate_eof` is the session's
    /// CLIENT_DEPRECATE_EOF capability.
    pub fn new(command: u8, deprecate_eof: bool) -> Self {
        let phase = match command {
            // COM_PROCESS_INFO answers with a text result set, as SHOW PROCESSLIST.
            COM_QUERY | COM_STMT_EXECUTE | COM_STMT_PREPARE | COM_PROCESS_INFO => Phase::First,
            COM_STMT_FETCH | COM_FIELD_LIST => Phase::Rows,
            _ => Phase::Single,
        };
        Self {
            command,
            phase,
            deprecate_eof,
            skip: 0,
            in_continuation: false,
            pending: None,
            saw_ok: false,
            outcome: Outcome::default(),
        }
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// After the client's LOCAL INFILE data the server answers like the start of a
    /// result (OK or ERR, possibly followed by more results).
    pub fn resume_after_infile(&mut self) {
        self.phase = Phase::First;
    }

    /// Scans `buf` (bytes received from the backend and not yet forwarded).
    /// Returns how many leading bytes may be forwarded now and what to do next.
    /// Incomplete frame heads are left unconsumed.
    pub fn scan(&mut self, buf: &[u8]) -> (usize, Step) {
        let mut pos = 0;
        loop {
            if self.skip > 0 {
                let n = self.skip.min(buf.len() - pos);
                pos += n;
                self.skip -= n;
                if self.skip > 0 {
                    return (pos, Step::NeedMore);
                }
                if let Some(step) = self.pending.take() {
                    return (pos, step);
                }
            }
            if self.phase == Phase::Done {
                return (pos, Step::Done);
            }
            let rest = &buf[pos..];
            if rest.len() < 4 {
                return (pos, Step::NeedMore);
            }
            let len = frame_len(rest);
            let avail = rest.len() - 4;
            let continuation = self.in_continuation;
            if !continuation {
                let need = if len <= FULL_PACKET_LIMIT {
                    len
                } else {
                    HEAD_BYTES
                };
                if avail < need {
                    return (pos, Step::NeedMore);
                }
            }
            self.in_continuation = len == MAX_FRAME;
            let take = len.min(avail);
            self.saw_ok = false;
            let step = if continuation {
                Step::NeedMore
            } else {
                self.on_packet(&rest[4..4 + take], len)
            };
            let frame_at = pos;
            pos += 4 + take;
            self.skip = len - take;
            if self.saw_ok && self.skip == 0 {
                return (pos, Step::Ok { frame_at });
            }
            match step {
                Step::NeedMore => {}
                done_or_infile if self.skip > 0 => self.pending = Some(done_or_infile),
                done_or_infile => return (pos, done_or_infile),
            }
        }
    }

    /// Advances the phase for one logical packet, given its head and full length.
    fn on_packet(&mut self, head: &[u8], len: usize) -> Step {
        // A packet that spans frames is always data (a row or a huge column value).
        let header = if len >= MAX_FRAME {
            None
        } else {
            head.first().copied()
        };
        match self.phase {
            Phase::First => match header {
                Some(0x00) if self.command == COM_STMT_PREPARE => {
                    let count = |at: usize| {
                        head.get(at..at + 2)
                            .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]) as u32)
                    };
                    let section = |n: u32| {
                        if n > 0 && !self.deprecate_eof {
                            n + 1
                        } else {
                            n
                        }
                    };
                    let expected = section(count(5)) + section(count(7));
                    if let Some(id) = head.get(1..5) {
                        self.outcome.prepared = Some((
                            u32::from_le_bytes([id[0], id[1], id[2], id[3]]),
                            count(7) as u16,
                        ));
                    }
                    self.phase = if expected == 0 {
                        Phase::Done
                    } else {
                        Phase::Prepare(expected)
                    };
                }
                Some(0x00) => {
                    self.saw_ok = true;
                    let status = ok_status(head).unwrap_or(0);
                    self.outcome.status = Some(status);
                    if status & MORE_RESULTS_EXISTS == 0 {
                        self.phase = Phase::Done;
                    }
                }
                Some(0xFF) => self.on_err(head),
                Some(0xFB) if self.command == COM_QUERY => return Step::LocalInfile,
                _ => match read_lenenc(head) {
                    Some((n, _)) if n > 0 => self.phase = Phase::Columns(n),
                    // Not a valid column count: the stream is broken. Ending here
                    // hands control back to the session, which reads the next
                    // command; the backend connection is discarded on its next error.
                    _ => self.phase = Phase::Done,
                },
            },
            Phase::Columns(n) => {
                self.phase = if n > 1 {
                    Phase::Columns(n - 1)
                } else if self.deprecate_eof {
                    Phase::Rows
                } else {
                    Phase::ColumnsEof
                };
            }
            Phase::ColumnsEof => {
                let status = eof_status(head).unwrap_or(0);
                self.outcome.status = Some(status);
                // An opened cursor sends its rows later, on COM_STMT_FETCH.
                self.phase = if self.command == COM_STMT_EXECUTE && status & CURSOR_EXISTS != 0 {
                    Phase::Done
                } else {
                    Phase::Rows
                };
            }
            Phase::Rows => match header {
                Some(0xFE) if self.is_terminator(len) => {
                    self.saw_ok = self.deprecate_eof;
                    let status = if self.deprecate_eof {
                        ok_status(head)
                    } else {
                        eof_status(head)
                    }
                    .unwrap_or(0);
                    self.outcome.status = Some(status);
                    self.phase =
                        if status & MORE_RESULTS_EXISTS != 0 && self.command != COM_FIELD_LIST {
                            Phase::First
                        } else {
                            Phase::Done
                        };
                }
                Some(0xFF) => self.on_err(head),
                _ => {}
            },
            Phase::Prepare(n) => {
                self.phase = if n > 1 {
                    Phase::Prepare(n - 1)
                } else {
                    Phase::Done
                };
            }
            Phase::Single => {
                if header == Some(0xFF) {
                    self.outcome.error = true;
                    self.outcome.error_code = err_code(head);
                } else if header == Some(0x00) {
                    self.saw_ok = true;
                    self.outcome.status = ok_status(head);
                }
                // A progress report before the final answer (e.g. a long COM_QUERY
                // is never Single, but be safe for every command).
                if !(header == Some(0xFF) && is_progress_report(head)) {
                    self.phase = Phase::Done;
                }
            }
            Phase::Done => {}
        }
        if self.phase == Phase::Done {
            Step::Done
        } else {
            Step::NeedMore
        }
    }

    fn on_err(&mut self, head: &[u8]) {
        if !is_progress_report(head) {
            self.outcome.error = true;
            self.outcome.error_code = err_code(head);
            self.phase = Phase::Done;
        }
    }

    fn is_terminator(&self, len: usize) -> bool {
        if self.deprecate_eof {
            len < MAX_FRAME
        } else {
            len < 9
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::framing::write_packet;
    use crate::protocol::packets::{err_payload, ok_payload};
    use crate::protocol::status::*;
    use bytes::BytesMut;

    struct Wire {
        buf: BytesMut,
        seq: u8,
    }

    impl Wire {
        fn new() -> Self {
            Self {
                buf: BytesMut::new(),
                seq: 1,
            }
        }
        fn packet(&mut self, payload: &[u8]) -> &mut Self {
            self.seq = write_packet(&mut self.buf, self.seq, payload);
            self
        }
        fn ok(&mut self, status: u16) -> &mut Self {
            self.packet(&ok_payload(0, 0, status, 0))
        }
        fn eof(&mut self, status: u16) -> &mut Self {
            let s = status.to_le_bytes();
            self.packet(&[0xFE, 0, 0, s[0], s[1]])
        }
        fn ok_eof(&mut self, status: u16) -> &mut Self {
            let mut p = ok_payload(0, 0, status, 0);
            p[0] = 0xFE;
            self.packet(&p)
        }
        fn result(
            &mut self,
            columns: u8,
            rows: &[&[u8]],
            deprecate_eof: bool,
            status: u16,
        ) -> &mut Self {
            self.packet(&[columns]);
            for _ in 0..columns {
                self.packet(
                    b"\x03def\x00\x00\x00\x01a\x00\x0c\x21\x00\x00\x00\x00\xfd\x00\x00\x00\x00\x00",
                );
            }
            if !deprecate_eof {
                self.eof(AUTOCOMMIT);
            }
            for r in rows {
                self.packet(r);
            }
            if deprecate_eof {
                self.ok_eof(status)
            } else {
                self.eof(status)
            }
        }
    }

    /// Feeds the wire bytes in chunks of `chunk` and returns the bytes consumed
    /// when the tracker reported Done.
    fn run(tracker: &mut ResponseTracker, wire: &[u8], chunk: usize) -> usize {
        let mut received = 0;
        let mut consumed = 0;
        loop {
            received = (received + chunk).min(wire.len());
            let (n, step) = tracker.scan(&wire[consumed..received]);
            consumed += n;
            match step {
                Step::Done => return consumed,
                Step::Ok { .. } if tracker.is_done() => return consumed,
                Step::Ok { .. } => {}
                Step::LocalInfile => panic!("unexpected infile"),
                Step::NeedMore => assert!(received < wire.len(), "ran out of input at {consumed}"),
            }
        }
    }

    fn check_all_chunkings(command: u8, deprecate_eof: bool, wire: &[u8]) -> ResponseTracker {
        let mut last = None;
        for chunk in [1, 3, 7, 64, wire.len()] {
            let mut t = ResponseTracker::new(command, deprecate_eof);
            assert_eq!(run(&mut t, wire, chunk), wire.len(), "chunk {chunk}");
            last = Some(t);
        }
        last.expect("ran")
    }

    #[test]
    fn ok_ends_query() {
        let mut w = Wire::new();
        w.ok(AUTOCOMMIT);
        let t = check_all_chunkings(COM_QUERY, false, &w.buf);
        assert_eq!(t.outcome.status, Some(AUTOCOMMIT));
    }

    #[test]
    fn result_set_classic_eof() {
        let mut w = Wire::new();
        w.result(2, &[b"\x011\x012", b"\xfb\x012"], false, AUTOCOMMIT);
        check_all_chunkings(COM_QUERY, false, &w.buf);
    }

    #[test]
    fn result_set_deprecate_eof() {
        let mut w = Wire::new();
        w.result(1, &[b"\x01x"], true, AUTOCOMMIT);
        check_all_chunkings(COM_QUERY, true, &w.buf);
    }

    #[test]
    fn multi_result_classic_and_deprecate_eof() {
        for deprecate in [false, true] {
            let mut w = Wire::new();
            w.result(1, &[b"\x011"], deprecate, AUTOCOMMIT | MORE_RESULTS_EXISTS)
                .result(
                    2,
                    &[b"\x011\x012"],
                    deprecate,
                    AUTOCOMMIT | MORE_RESULTS_EXISTS,
                )
                .ok(AUTOCOMMIT);
            let t = check_all_chunkings(COM_QUERY, deprecate, &w.buf);
            assert_eq!(t.outcome.status, Some(AUTOCOMMIT));
        }
    }

    #[test]
    fn error_ends_multi_statement() {
        let mut w = Wire::new();
        w.ok(MORE_RESULTS_EXISTS)
            .packet(&err_payload(1064, "syntax"));
        let t = check_all_chunkings(COM_QUERY, false, &w.buf);
        assert!(t.outcome.error);
    }

    #[test]
    fn progress_report_does_not_end_response() {
        let mut w = Wire::new();
        w.packet(b"\xff\xff\xff\x01\x01\x00\x10\x00\x00\x05stage")
            .ok(AUTOCOMMIT);
        check_all_chunkings(COM_QUERY, false, &w.buf);
    }

    #[test]
    fn classic_row_starting_with_fe_is_not_eof() {
        // A row whose first value has an 8-byte length prefix starts with 0xFE.
        let mut row = vec![0xFE];
        row.extend_from_slice(&10u64.to_le_bytes());
        row.extend_from_slice(b"0123456789");
        let mut w = Wire::new();
        w.result(1, &[&row], false, AUTOCOMMIT);
        check_all_chunkings(COM_QUERY, false, &w.buf);
    }

    #[test]
    fn multi_frame_row_streams_through() {
        let big = vec![b'x'; MAX_FRAME + 100];
        let mut row = vec![0xFE];
        row.extend_from_slice(&(big.len() as u64).to_le_bytes());
        row.extend_from_slice(&big);
        for deprecate in [false, true] {
            let mut w = Wire::new();
            w.result(1, &[&row, b"\x01y"], deprecate, AUTOCOMMIT);
            let mut t = ResponseTracker::new(COM_QUERY, deprecate);
            assert_eq!(run(&mut t, &w.buf, 60_000), w.buf.len());
        }
    }

    #[test]
    fn prepare_with_params_and_columns() {
        for deprecate in [false, true] {
            let mut w = Wire::new();
            // stmt id 1, 2 columns, 3 params
            w.packet(&[0, 1, 0, 0, 0, 2, 0, 3, 0, 0, 0, 0]);
            for _ in 0..3 {
                w.packet(b"\x03def\x00\x00\x00\x01?\x00\x0c\x3f\x00\x00\x00\x00\x00\xfd\x80\x00\x00\x00\x00");
            }
            if !deprecate {
                w.eof(AUTOCOMMIT);
            }
            for _ in 0..2 {
                w.packet(b"\x03def\x00\x00\x00\x01c\x00\x0c\x3f\x00\x00\x00\x00\x00\xfd\x80\x00\x00\x00\x00");
            }
            if !deprecate {
                w.eof(AUTOCOMMIT);
            }
            check_all_chunkings(COM_STMT_PREPARE, deprecate, &w.buf);
        }
        let mut w = Wire::new();
        w.packet(&[0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        check_all_chunkings(COM_STMT_PREPARE, false, &w.buf);
    }

    #[test]
    fn cursor_execute_ends_after_metadata() {
        let mut w = Wire::new();
        w.packet(&[1]);
        w.packet(b"\x03def\x00\x00\x00\x01a\x00\x0c\x21\x00\x00\x00\x00\xfd\x00\x00\x00\x00\x00");
        w.eof(AUTOCOMMIT | CURSOR_EXISTS);
        check_all_chunkings(COM_STMT_EXECUTE, false, &w.buf);
        let mut fetch = Wire::new();
        fetch
            .packet(b"\x00\x00\x01")
            .eof(AUTOCOMMIT | CURSOR_EXISTS);
        check_all_chunkings(COM_STMT_FETCH, false, &fetch.buf);
    }

    #[test]
    fn local_infile_request_then_ok() {
        let mut w = Wire::new();
        w.packet(b"\xfb/tmp/data.csv");
        let mut t = ResponseTracker::new(COM_QUERY, false);
        let (n, step) = t.scan(&w.buf);
        assert_eq!((n, step), (w.buf.len(), Step::LocalInfile));
        t.resume_after_infile();
        let mut ok = Wire::new();
        ok.ok(AUTOCOMMIT);
        assert_eq!(t.scan(&ok.buf), (ok.buf.len(), Step::Ok { frame_at: 0 }));
        assert!(t.is_done());
    }

    /// It was relayed as a one-packet answer: the column packets that followed
    /// reached the client as answers to its next commands.
    #[test]
    fn process_info_is_a_result_set() {
        for deprecate in [false, true] {
            let mut w = Wire::new();
            w.packet(&[1]);
            w.packet(b"\x03def\x00\x00\x00\x02Id\x00\x0c\x3f\x00\x0b\x00\x00\x00\x08\x81\x00\x00\x00\x00");
            if !deprecate {
                w.eof(AUTOCOMMIT);
            }
            w.packet(b"\x015");
            if deprecate {
                w.packet(&[0xFE, 0, 0, 2, 0, 0, 0]);
            } else {
                w.eof(AUTOCOMMIT);
            }
            check_all_chunkings(COM_PROCESS_INFO, deprecate, &w.buf);
        }
    }

    #[test]
    fn single_packet_commands() {
        let mut w = Wire::new();
        w.packet(b"Uptime: 5  Threads: 1");
        check_all_chunkings(COM_STATISTICS, false, &w.buf);
        let mut w = Wire::new();
        w.eof(AUTOCOMMIT);
        check_all_chunkings(COM_SET_OPTION, false, &w.buf);
        let mut w = Wire::new();
        w.packet(
            b"\x03def\x00\x00\x00\x01c\x00\x0c\x3f\x00\x00\x00\x00\x00\xfd\x80\x00\x00\x00\x00",
        )
        .eof(AUTOCOMMIT);
        check_all_chunkings(COM_FIELD_LIST, false, &w.buf);
    }

    #[test]
    fn ok_packets_are_reported_where_they_start() {
        let mut w = Wire::new();
        w.ok(MORE_RESULTS_EXISTS)
            .result(1, &[b"\x01x"], true, AUTOCOMMIT);
        let mut t = ResponseTracker::new(COM_QUERY, true);
        let (n, step) = t.scan(&w.buf);
        assert_eq!(step, Step::Ok { frame_at: 0 });
        assert!(!t.is_done());
        let (m, step) = t.scan(&w.buf[n..]);
        assert!(matches!(step, Step::Ok { .. }));
        assert_eq!(n + m, w.buf.len());
        assert!(t.is_done());
    }

    #[test]
    fn garbage_column_count_does_not_hang() {
        let mut w = Wire::new();
        w.packet(&[0xFC]);
        let mut t = ResponseTracker::new(COM_QUERY, false);
        assert_eq!(t.scan(&w.buf).1, Step::Done);
    }
}
