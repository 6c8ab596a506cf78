//! Text result sets Tern answers itself (`SHOW TERN MIGRATIONS`, an async
//! ALTER's migration id), shaped like the server's for the client's
//! capabilities: EOF packets or not, MariaDB extended metadata or not.

use bytes::{BufMut, BytesMut};

use super::framing::write_packet;
use super::packets::put_lenenc;

/// utf8mb4_general_ci, the server's default for result text.
const UTF8MB4_GENERAL_CI: u16 = 45;
const MYSQL_TYPE_VAR_STRING: u8 = 0xFD;
const EOF_HEADER: u8 = 0xFE;

pub struct ResultShape {
    pub deprecate_eof: bool,
    pub extended_metadata: bool,
    /// Status flags for the closing EOF/OK (autocommit, in transaction).
    pub status: u16,
}

fn put_lenenc_str(out: &mut BytesMut, s: &[u8]) {
    put_lenenc(out, s.len() as u64);
    out.put_slice(s);
}

fn column_definition(name: &str, extended_metadata: bool) -> BytesMut {
    let mut p = BytesMut::with_capacity(48 + name.len() * 2);
    put_lenenc_str(&mut p, b"def");
    put_lenenc_str(&mut p, b"");
    put_lenenc_str(&mut p, b"");
    put_lenenc_str(&mut p, b"");
    put_lenenc_str(&mut p, name.as_bytes());
    put_lenenc_str(&mut p, name.as_bytes());
    if extended_metadata {
        put_lenenc_str(&mut p, b"");
    }
    p.put_u8(0x0c);
    p.put_u16_le(UTF8MB4_GENERAL_CI);
    p.put_u32_le(4 * 1024);
    p.put_u8(MYSQL_TYPE_VAR_STRING);
    p.put_u16_le(0);
    p.put_u8(0);
    p.put_u16_le(0);
    p
}

fn eof(status: u16) -> [u8; 5] {
    let s = status.to_le_bytes();
    [EOF_HEADER, 0, 0, s[0], s[1]]
}

/// Writes a whole text result set into `out`, sequence ids from 1.
pub fn write_text_result(
    out: &mut BytesMut,
    shape: &ResultShape,
    columns: &[&str],
    rows: &[Vec<Option<String>>],
) {
    let mut seq = 1u8;
    let mut count = BytesMut::new();
    put_lenenc(&mut count, columns.len() as u64);
    seq = write_packet(out, seq, &count);
    for name in columns {
        seq = write_packet(out, seq, &column_definition(name, shape.extended_metadata));
    }
    if !shape.deprecate_eof {
        seq = write_packet(out, seq, &eof(shape.status));
    }
    let mut row_buf = BytesMut::new();
    for row in rows {
        row_buf.clear();
        for value in row {
            match value {
                Some(v) => put_lenenc_str(&mut row_buf, v.as_bytes()),
                None => row_buf.put_u8(0xFB),
            }
        }
        seq = write_packet(out, seq, &row_buf);
    }
    if shape.deprecate_eof {
        // The OK that ends a result set for DEPRECATE_EOF clients has the EOF header.
        let mut ok = BytesMut::new();
        ok.put_u8(EOF_HEADER);
        put_lenenc(&mut ok, 0);
        put_lenenc(&mut ok, 0);
        ok.put_u16_le(shape.status);
        ok.put_u16_le(0);
        write_packet(out, seq, &ok);
    } else {
        write_packet(out, seq, &eof(shape.status));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_classic_eof() {
        let mut out = BytesMut::new();
        let shape = ResultShape {
            deprecate_eof: false,
            extended_metadata: false,
            status: 2,
        };
        write_text_result(&mut out, &shape, &["id"], &[vec![Some("7".into())]]);
        // count, column, EOF, row, EOF
        let mut seqs = Vec::new();
        let mut rest = &out[..];
        while rest.len() >= 4 {
            let len = rest[0] as usize | (rest[1] as usize) << 8 | (rest[2] as usize) << 16;
            seqs.push(rest[3]);
            rest = &rest[4 + len..];
        }
        assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    }
}
