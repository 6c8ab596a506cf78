//! Packets Tern writes itself (greeting, OK, ERR, auth switch) and the small
//! field readers it needs to follow a response without decoding rows.

use bytes::{BufMut, BytesMut};

/// Reads a length-encoded integer; returns the value and the bytes it used.
#[inline]
pub fn read_lenenc(buf: &[u8]) -> Option<(u64, usize)> {
    let first = *buf.first()?;
    match first {
        0..=0xFA => Some((first as u64, 1)),
        0xFC => Some((
            u16::from_le_bytes(buf.get(1..3)?.try_into().ok()?) as u64,
            3,
        )),
        0xFD => {
            let b = buf.get(1..4)?;
            Some((b[0] as u64 | (b[1] as u64) << 8 | (b[2] as u64) << 16, 4))
        }
        0xFE => Some((u64::from_le_bytes(buf.get(1..9)?.try_into().ok()?), 9)),
        // 0xFB is NULL and 0xFF an error marker: neither is a length.
        _ => None,
    }
}

pub fn put_lenenc(out: &mut BytesMut, v: u64) {
    match v {
        0..=0xFA => out.put_u8(v as u8),
        0xFB..=0xFFFF => {
            out.put_u8(0xFC);
            out.put_u16_le(v as u16);
        }
        0x1_0000..=0xFF_FFFF => {
            out.put_u8(0xFD);
            out.put_uint_le(v, 3);
        }
        _ => {
            out.put_u8(0xFE);
            out.put_u64_le(v);
        }
    }
}

/// Status flags of an OK packet payload (header 0x00 or 0xFE).
pub fn ok_status(payload: &[u8]) -> Option<u16> {
    let mut pos = 1;
    let (_, n) = read_lenenc(payload.get(pos..)?)?;
    pos += n;
    let (_, n) = read_lenenc(payload.get(pos..)?)?;
    pos += n;
    Some(u16::from_le_bytes(
        payload.get(pos..pos + 2)?.try_into().ok()?,
    ))
}

/// Status flags of a classic EOF packet payload: 0xFE, warnings, status.
pub fn eof_status(payload: &[u8]) -> Option<u16> {
    Some(u16::from_le_bytes(payload.get(3..5)?.try_into().ok()?))
}

/// Is this ERR payload a MariaDB progress report (error code 0xFFFF)? Those are
/// informational and do not end a response.
#[inline]
pub fn is_progress_report(payload: &[u8]) -> bool {
    payload.len() >= 3 && payload[0] == 0xFF && payload[1] == 0xFF && payload[2] == 0xFF
}

/// A MariaDB progress report, as the server sends it during a long statement
/// to a client that asked for them (MARIADB_CLIENT_PROGRESS): an ERR-like
/// header with code 0xFFFF, one field, the stage (1-based) and the number of
/// stages, the stage's progress in thousandths of a percent (0..=100000) and
/// the stage's name.
pub fn progress_payload(stage: u8, max_stage: u8, percent: f64, name: &str) -> BytesMut {
    let mut out = BytesMut::with_capacity(12 + name.len());
    out.put_slice(&[0xFF, 0xFF, 0xFF, 1, stage, max_stage.max(stage)]);
    let thousandths = (percent.clamp(0.0, 100.0) * 1000.0).round() as u32;
    out.put_slice(&thousandths.to_le_bytes()[..3]);
    put_lenenc(&mut out, name.len() as u64);
    out.put_slice(name.as_bytes());
    out
}

/// SQLSTATE the server pairs with the error codes Tern may raise itself.
pub fn sqlstate_for(code: u16) -> &'static [u8; 5] {
    use super::errcode::*;
    match code {
        ER_CON_COUNT_ERROR | ER_NOT_SUPPORTED_AUTH_MODE => b"08004",
        ER_ACCESS_DENIED_ERROR => b"28000",
        ER_SPECIFIC_ACCESS_DENIED_ERROR => b"42000",
        ER_HANDSHAKE_ERROR
        | ER_UNKNOWN_COM_ERROR
        | ER_NET_PACKET_TOO_LARGE
        | ER_NET_PACKETS_OUT_OF_ORDER => b"08S01",
        _ => b"HY000",
    }
}

/// ERR packet payload with the server's SQLSTATE for `code`.
pub fn err_payload(code: u16, message: &str) -> BytesMut {
    err_payload_with_state(code, sqlstate_for(code), message)
}

pub fn err_payload_with_state(code: u16, sqlstate: &[u8; 5], message: &str) -> BytesMut {
    let mut out = BytesMut::with_capacity(9 + message.len());
    out.put_u8(0xFF);
    out.put_u16_le(code);
    out.put_u8(b'#');
    out.put_slice(sqlstate);
    out.put_slice(message.as_bytes());
    out
}

/// ERR packet sent in place of the greeting: the client's capabilities are not
/// known yet, so, like the server, Tern sends the pre-4.1 layout without SQLSTATE.
pub fn err_payload_before_greeting(code: u16, message: &str) -> BytesMut {
    let mut out = BytesMut::with_capacity(3 + message.len());
    out.put_u8(0xFF);
    out.put_u16_le(code);
    out.put_slice(message.as_bytes());
    out
}

/// A command packet's payload: the command byte, then its body (the SQL text
/// of COM_QUERY and COM_STMT_PREPARE, the schema of COM_INIT_DB, ...). Every
/// command Tern sends on its own behalf is built here.
pub fn command(command: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + body.len());
    out.push(command);
    out.extend_from_slice(body);
    out
}

/// Plain OK packet payload (the server's own OK is relayed whenever there is one).
pub fn ok_payload(affected_rows: u64, last_insert_id: u64, status: u16, warnings: u16) -> BytesMut {
    let mut out = BytesMut::with_capacity(16);
    out.put_u8(0x00);
    put_lenenc(&mut out, affected_rows);
    put_lenenc(&mut out, last_insert_id);
    out.put_u16_le(status);
    out.put_u16_le(warnings);
    out
}

/// AuthSwitchRequest: 0xFE, plugin name NUL, plugin data (nonce + NUL).
pub fn auth_switch_payload(plugin: &str, nonce: &[u8]) -> BytesMut {
    let mut out = BytesMut::with_capacity(2 + plugin.len() + nonce.len() + 1);
    out.put_u8(0xFE);
    out.put_slice(plugin.as_bytes());
    out.put_u8(0);
    out.put_slice(nonce);
    out.put_u8(0);
    out
}

/// Splits a NUL-terminated string off the front of `buf`.
pub fn take_nul_str(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = buf.iter().position(|&b| b == 0)?;
    Some((&buf[..end], &buf[end + 1..]))
}

/// Parsed ERR payload, for logs and for mapping backend login failures.
pub struct ErrView<'a> {
    pub code: u16,
    pub sqlstate: Option<&'a [u8]>,
    pub message: &'a [u8],
}

pub fn parse_err(payload: &[u8]) -> Option<ErrView<'_>> {
    if payload.first() != Some(&0xFF) || payload.len() < 3 {
        return None;
    }
    let code = u16::from_le_bytes([payload[1], payload[2]]);
    let rest = &payload[3..];
    if rest.first() == Some(&b'#') && rest.len() >= 6 {
        Some(ErrView {
            code,
            sqlstate: Some(&rest[1..6]),
            message: &rest[6..],
        })
    } else {
        Some(ErrView {
            code,
            sqlstate: None,
            message: rest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_progress_report_reads_as_the_client_library_reads_it() {
        let p = progress_payload(2, 3, 45.25, "verify");
        assert!(is_progress_report(&p));
        // After the 0xFF and the 0xFFFF code: field count, stage, stages,
        // 3-byte progress in thousandths of a percent, then the name.
        assert_eq!(&p[3..6], &[1, 2, 3]);
        assert_eq!(u32::from_le_bytes([p[6], p[7], p[8], 0]), 45_250);
        assert_eq!(read_lenenc(&p[9..]), Some((6, 1)));
        assert_eq!(&p[10..], b"verify");
        let over = progress_payload(1, 3, 250.0, "copy");
        assert_eq!(u32::from_le_bytes([over[6], over[7], over[8], 0]), 100_000);
    }

    #[test]
    fn a_command_is_its_byte_then_its_body() {
        use crate::protocol::command::{COM_QUERY, COM_QUIT};
        assert_eq!(command(COM_QUERY, b"SELECT 1"), b"\x03SELECT 1");
        assert_eq!(command(COM_QUIT, b""), [COM_QUIT]);
    }

    #[test]
    fn lenenc_round_trip() {
        for v in [
            0u64,
            250,
            251,
            65535,
            65536,
            0xFF_FFFF,
            0x100_0000,
            u64::MAX,
        ] {
            let mut b = BytesMut::new();
            put_lenenc(&mut b, v);
            assert_eq!(read_lenenc(&b), Some((v, b.len())));
        }
        assert_eq!(read_lenenc(&[0xFB]), None);
        assert_eq!(read_lenenc(&[0xFC, 1]), None);
    }

    #[test]
    fn ok_and_eof_status() {
        let ok = ok_payload(300, 7, 0x0008 | 0x0002, 1);
        assert_eq!(ok_status(&ok), Some(0x000A));
        assert_eq!(eof_status(&[0xFE, 0, 0, 0x22, 0]), Some(0x22));
        assert_eq!(ok_status(&[0x00]), None);
    }

    #[test]
    fn err_packet_layout() {
        let e = err_payload(1045, "Access denied");
        let v = parse_err(&e).expect("err");
        assert_eq!(v.code, 1045);
        assert_eq!(v.sqlstate, Some(&b"28000"[..]));
        assert_eq!(v.message, b"Access denied");
        assert!(is_progress_report(&[0xFF, 0xFF, 0xFF, 1]));
        assert!(!is_progress_report(&e));
    }
}

/// A parsed COM_CHANGE_USER request (mysql_common only writes this packet).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ChangeUserRequest {
    pub user: Vec<u8>,
    pub auth_data: Vec<u8>,
    pub database: Option<Vec<u8>>,
    pub collation: Option<u16>,
    pub plugin: Option<Vec<u8>>,
    pub attributes: Option<Vec<(String, String)>>,
}

impl ChangeUserRequest {
    /// Parses the payload (starting with the command byte) as sent by a client
    /// with `secure_connection` / `plugin_auth` / `connect_attrs` capabilities.
    pub fn parse(
        payload: &[u8],
        secure_connection: bool,
        plugin_auth: bool,
        connect_attrs: bool,
    ) -> Option<Self> {
        let rest = payload.strip_prefix(&[super::command::COM_CHANGE_USER])?;
        let (user, rest) = take_nul_str(rest)?;
        let (auth, rest) = if secure_connection {
            let (&len, rest) = rest.split_first()?;
            let len = len as usize;
            (rest.get(..len)?, rest.get(len..)?)
        } else {
            take_nul_str(rest)?
        };
        let (database, mut rest) = take_nul_str(rest).unwrap_or((rest, &[]));
        let mut req = ChangeUserRequest {
            user: user.to_vec(),
            auth_data: auth.to_vec(),
            database: (!database.is_empty()).then(|| database.to_vec()),
            ..Default::default()
        };
        if rest.len() >= 2 {
            req.collation = Some(u16::from_le_bytes([rest[0], rest[1]]));
            rest = &rest[2..];
            if plugin_auth && !rest.is_empty() {
                let (plugin, r) = take_nul_str(rest).unwrap_or((rest, &[]));
                req.plugin = Some(plugin.to_vec());
                rest = r;
            }
            if connect_attrs && !rest.is_empty() {
                let (total, n) = read_lenenc(rest)?;
                let mut attrs = rest.get(n..n + total as usize)?;
                let mut list = Vec::new();
                while !attrs.is_empty() {
                    let (klen, n) = read_lenenc(attrs)?;
                    let key = attrs.get(n..n + klen as usize)?;
                    attrs = &attrs[n + klen as usize..];
                    let (vlen, n) = read_lenenc(attrs)?;
                    let value = attrs.get(n..n + vlen as usize)?;
                    attrs = &attrs[n + vlen as usize..];
                    list.push((
                        String::from_utf8_lossy(key).into_owned(),
                        String::from_utf8_lossy(value).into_owned(),
                    ));
                }
                req.attributes = Some(list);
            }
        }
        Some(req)
    }
}

#[cfg(test)]
mod change_user_tests {
    use super::*;

    #[test]
    fn parses_full_change_user() {
        let mut p = vec![0x11];
        p.extend_from_slice(b"bob\0");
        p.push(3);
        p.extend_from_slice(b"abc");
        p.extend_from_slice(b"shop\0");
        p.extend_from_slice(&45u16.to_le_bytes());
        p.extend_from_slice(b"mysql_native_password\0");
        p.extend_from_slice(&[8, 3, b'k', b'e', b'y', 3, b'v', b'a', b'l']);
        let r = ChangeUserRequest::parse(&p, true, true, true).expect("parses");
        assert_eq!(r.user, b"bob");
        assert_eq!(r.auth_data, b"abc");
        assert_eq!(r.database.as_deref(), Some(&b"shop"[..]));
        assert_eq!(r.collation, Some(45));
        assert_eq!(r.plugin.as_deref(), Some(&b"mysql_native_password"[..]));
        assert_eq!(r.attributes, Some(vec![("key".into(), "val".into())]));
    }

    #[test]
    fn truncated_change_user_is_none_not_panic() {
        for cut in 0..12 {
            let p = b"\x11bob\0\x14abc";
            let _ = ChangeUserRequest::parse(&p[..cut.min(p.len())], true, true, true);
        }
        assert!(ChangeUserRequest::parse(b"\x11bob\0\x14abc", true, true, true).is_none());
    }
}
