//! Client-controlled text on its way into a log.
//!
//! A user name, schema, statement or an error that quotes one is chosen by
//! whoever connects. Written into a log as it came, a newline in it starts a
//! line the attacker wrote (a forged record), an ANSI escape repaints the
//! operator's terminal, and a 60 KB name makes a 60 KB line. [`Untrusted`]
//! writes such a value with control and line-breaking characters escaped
//! (`\n`, `\r`, `\t`, `\u{1b}`, ...) and cut after [`LOG_LIMIT`] characters,
//! saying how much was left out, in the text and JSON formats alike.
//!
//! Backslashes are left alone: the escaped form only has to be unable to end
//! a line or steer a terminal, and SQL is full of backslashes worth reading.

use std::fmt::{self, Display, Write};

/// Characters of one client-controlled value that reach a log.
pub const LOG_LIMIT: usize = 256;

/// Displays `T` escaped and bounded; see the module documentation.
pub struct Untrusted<T>(pub T);

/// Wraps a displayable client-controlled value for a log field.
pub fn untrusted<T: Display>(value: T) -> Untrusted<T> {
    Untrusted(value)
}

/// Wraps client-controlled bytes (a schema, a statement) for a log field;
/// invalid UTF-8 shows as U+FFFD. Only the bounded prefix is decoded.
pub fn untrusted_bytes(value: &[u8]) -> UntrustedBytes<'_> {
    UntrustedBytes(value)
}

/// Bytes displayed like [`Untrusted`] text.
pub struct UntrustedBytes<'a>(&'a [u8]);

impl Display for UntrustedBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Escaper {
            out: f,
            written: 0,
            dropped: 0,
        };
        let mut kept = 0;
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                if out.written >= LOG_LIMIT {
                    break;
                }
                out.write_char(c)?;
                kept += c.len_utf8();
            }
            if !chunk.invalid().is_empty() && out.written < LOG_LIMIT {
                out.write_char('\u{fffd}')?;
                kept += chunk.invalid().len();
            }
            if out.written >= LOG_LIMIT {
                break;
            }
        }
        let dropped = self.0.len() - kept;
        if dropped > 0 {
            write!(f, "...[{dropped} more bytes]")?;
        }
        Ok(())
    }
}

impl fmt::Debug for UntrustedBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        Display::fmt(self, f)?;
        f.write_char('"')
    }
}

impl<T: Display> Display for Untrusted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Escaper {
            out: f,
            written: 0,
            dropped: 0,
        };
        write!(out, "{}", self.0)?;
        let dropped = out.dropped;
        if dropped > 0 {
            write!(f, "...[{dropped} more bytes]")?;
        }
        Ok(())
    }
}

impl<T: Display> fmt::Debug for Untrusted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        Display::fmt(self, f)?;
        f.write_char('"')
    }
}

struct Escaper<'a, 'b> {
    out: &'a mut fmt::Formatter<'b>,
    written: usize,
    dropped: usize,
}

impl Write for Escaper<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.written >= LOG_LIMIT {
                self.dropped += c.len_utf8();
                continue;
            }
            self.written += 1;
            if needs_escape(c) {
                match c {
                    '\n' => self.out.write_str("\\n")?,
                    '\r' => self.out.write_str("\\r")?,
                    '\t' => self.out.write_str("\\t")?,
                    _ => write!(self.out, "\\u{{{:x}}}", c as u32)?,
                }
            } else {
                self.out.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// Control characters (C0, DEL, C1: newlines, ESC), Unicode line and
/// paragraph separators, and the bidirectional overrides that make a log line
/// read differently from what it holds.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}' | '\u{feff}'
        )
}

/// Escapes every line break but the last in one formatted text log record.
///
/// The text formatter writes each event with one `write_all`; a record that
/// holds more than one line break can only hold client text that no
/// [`Untrusted`] wrapped. This catches it, so no log site, present or future,
/// can start a line of its own.
pub struct OneLine<W>(pub W);

impl<W: std::io::Write> std::io::Write for OneLine<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let body = buf.strip_suffix(b"\n").unwrap_or(buf);
        if !body.iter().any(|&b| b == b'\n' || b == b'\r') {
            self.0.write_all(buf)?;
            return Ok(buf.len());
        }
        let mut fixed = Vec::with_capacity(buf.len() + 16);
        for &b in body {
            match b {
                b'\n' => fixed.extend_from_slice(b"\\n"),
                b'\r' => fixed.extend_from_slice(b"\\r"),
                _ => fixed.push(b),
            }
        }
        if body.len() < buf.len() {
            fixed.push(b'\n');
        }
        self.0.write_all(&fixed)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        let s = untrusted("a\nb\r\x1b[31mc\u{2028}\u{202e}").to_string();
        assert_eq!(s, "a\\nb\\r\\u{1b}[31mc\\u{2028}\\u{202e}");
        assert!(!s.contains('\n'));
    }

    #[test]
    fn long_values_are_cut_with_a_count() {
        let long = "x".repeat(60_000);
        let s = untrusted(&long).to_string();
        assert_eq!(
            s,
            format!(
                "{}...[{} more bytes]",
                "x".repeat(LOG_LIMIT),
                60_000 - LOG_LIMIT
            )
        );
        let b = untrusted_bytes(long.as_bytes()).to_string();
        assert_eq!(b, s);
        assert_eq!(untrusted_bytes(b"a\xffb\n").to_string(), "a\u{fffd}b\\n");
    }

    #[test]
    fn one_line_escapes_inner_breaks_only() {
        use std::io::Write;
        let mut out = OneLine(Vec::new());
        out.write_all(b"ok line\n").unwrap();
        out.write_all(b"bad\nforged\r line\n").unwrap();
        assert_eq!(
            String::from_utf8(out.0).unwrap(),
            "ok line\nbad\\nforged\\r line\n"
        );
    }
}
