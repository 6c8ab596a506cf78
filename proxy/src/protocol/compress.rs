//! The compressed protocol (`CLIENT_COMPRESS`) on the client's side of Tern.
//!
//! After the login, a client that asked for compression wraps every byte it
//! sends and expects in compressed packets: a 7-byte header (compressed
//! length, a sequence id of its own, uncompressed length or 0 for "stored
//! as is") and zlib data. The packets inside are ordinary protocol packets, but
//! a compressed packet may hold several of them or part of one, so this layer
//! is a byte stream: the rest of Tern reads and writes the same packets as for
//! any other client, and the backend link stays uncompressed (on the same
//! machine or network as the server, compressing costs CPU and saves nothing).
//!
//! Invariants:
//! - Reads never buffer more than one compressed packet's input and its
//!   output; a header announcing more than [`MAX_PAYLOAD`] is refused.
//! - The sequence id of a written compressed packet follows the last one read,
//!   as the server's does: a client's command starts at 0, so the answer's
//!   packets are 1, 2, ...
//! - Writes are collected and compressed when flushed, or every
//!   [`WRITE_CHUNK`] bytes so that a streamed result never sits whole in
//!   memory; every caller that waits for the client flushes first.
//! - Payloads shorter than [`MIN_COMPRESS_LENGTH`] are sent stored, as the
//!   server sends them.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, BufMut, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushDecompress};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const HEADER_LEN: usize = 7;
/// The largest compressed or uncompressed payload one packet may carry.
pub const MAX_PAYLOAD: usize = 0xFF_FFFF;
/// Below this the server does not compress: the zlib header costs more than
/// it saves.
pub const MIN_COMPRESS_LENGTH: usize = 50;
/// Written data is compressed in pieces of at most this size.
pub const WRITE_CHUNK: usize = 64 * 1024;

pub struct CompressedStream<S> {
    inner: S,
    /// Raw bytes read from `inner`, not yet a whole compressed packet.
    raw_in: BytesMut,
    /// Decompressed bytes for the reader.
    plain_in: BytesMut,
    /// Uncompressed bytes written and not yet compressed.
    plain_out: BytesMut,
    /// Compressed packets not yet written to `inner`.
    raw_out: BytesMut,
    next_seq: u8,
    inner_eof: bool,
    zlib: Zlib,
}

impl<S> CompressedStream<S> {
    pub fn new(inner: S) -> Self {
        CompressedStream {
            inner,
            raw_in: BytesMut::with_capacity(256),
            plain_in: BytesMut::new(),
            plain_out: BytesMut::new(),
            raw_out: BytesMut::new(),
            next_seq: 0,
            inner_eof: false,
            zlib: Zlib::default(),
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// The zlib streams of one connection, reset for each packet: creating one
/// allocates its window and tables (hundreds of KiB), which a busy compressed
/// session would otherwise pay per answer.
struct Zlib {
    deflater: Compress,
    inflater: Decompress,
}

impl Default for Zlib {
    fn default() -> Self {
        Zlib {
            deflater: Compress::new(Compression::default(), true),
            inflater: Decompress::new(true),
        }
    }
}

impl Zlib {
    /// Takes one whole compressed packet off the front of `raw`, if there is
    /// one, and appends its contents to `plain`; returns its sequence id.
    fn take_packet(&mut self, raw: &mut BytesMut, plain: &mut BytesMut) -> io::Result<Option<u8>> {
        if raw.len() < HEADER_LEN {
            return Ok(None);
        }
        let compressed_len = u32::from_le_bytes([raw[0], raw[1], raw[2], 0]) as usize;
        let seq = raw[3];
        let plain_len = u32::from_le_bytes([raw[4], raw[5], raw[6], 0]) as usize;
        if raw.len() < HEADER_LEN + compressed_len {
            raw.reserve(HEADER_LEN + compressed_len - raw.len());
            return Ok(None);
        }
        raw.advance(HEADER_LEN);
        let body = raw.split_to(compressed_len);
        if plain_len == 0 {
            plain.extend_from_slice(&body);
            return Ok(Some(seq));
        }
        let start = plain.len();
        plain.resize(start + plain_len, 0);
        let inflater = &mut self.inflater;
        inflater.reset(true);
        let status = inflater
            .decompress(&body, &mut plain[start..], FlushDecompress::Finish)
            .map_err(|_| invalid("corrupt compressed packet"))?;
        if status != flate2::Status::StreamEnd || inflater.total_out() as usize != plain_len {
            return Err(invalid("compressed packet length mismatch"));
        }
        Ok(Some(seq))
    }

    /// Appends compressed packets holding `plain` to `raw`, numbering them from
    /// `seq`; returns the next sequence id.
    fn put_packets(&mut self, raw: &mut BytesMut, plain: &[u8], mut seq: u8) -> u8 {
        for chunk in plain.chunks(MAX_PAYLOAD) {
            let header_at = raw.len();
            raw.put_bytes(0, HEADER_LEN);
            let compressed = chunk.len() >= MIN_COMPRESS_LENGTH && {
                let deflater = &mut self.deflater;
                deflater.reset();
                let body_at = raw.len();
                // zlib's worst case is a few bytes per 16 KiB over the input; data
                // that does not shrink is sent stored instead.
                raw.resize(body_at + chunk.len() + chunk.len() / 1000 + 64, 0);
                let shrank = matches!(
                    deflater.compress(chunk, &mut raw[body_at..], flate2::FlushCompress::Finish),
                    Ok(flate2::Status::StreamEnd)
                ) && (deflater.total_out() as usize) < chunk.len();
                raw.truncate(
                    body_at
                        + if shrank {
                            deflater.total_out() as usize
                        } else {
                            0
                        },
                );
                shrank
            };
            let (body_len, plain_len) = if compressed {
                (raw.len() - header_at - HEADER_LEN, chunk.len())
            } else {
                raw.extend_from_slice(chunk);
                (chunk.len(), 0)
            };
            let header = &mut raw[header_at..header_at + HEADER_LEN];
            header[..3].copy_from_slice(&(body_len as u32).to_le_bytes()[..3]);
            header[3] = seq;
            header[4..].copy_from_slice(&(plain_len as u32).to_le_bytes()[..3]);
            seq = seq.wrapping_add(1);
        }
        seq
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CompressedStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.plain_in.is_empty() {
                let n = this.plain_in.len().min(buf.remaining());
                buf.put_slice(&this.plain_in[..n]);
                this.plain_in.advance(n);
                return Poll::Ready(Ok(()));
            }
            if let Some(seq) = this
                .zlib
                .take_packet(&mut this.raw_in, &mut this.plain_in)?
            {
                this.next_seq = seq.wrapping_add(1);
                continue;
            }
            if this.inner_eof {
                return if this.raw_in.is_empty() {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()))
                };
            }
            if this.raw_in.len() >= HEADER_LEN + MAX_PAYLOAD {
                return Poll::Ready(Err(invalid("compressed packet too large")));
            }
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                this.inner_eof = true;
            }
            this.raw_in.extend_from_slice(read.filled());
        }
    }
}

impl<S: AsyncWrite + Unpin> CompressedStream<S> {
    /// Compresses what was written so far into packets ready to go out.
    fn seal(&mut self) {
        if !self.plain_out.is_empty() {
            let plain = self.plain_out.split();
            self.next_seq = self
                .zlib
                .put_packets(&mut self.raw_out, &plain, self.next_seq);
        }
    }

    /// Writes sealed packets to the inner stream until none are left.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.raw_out.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.raw_out))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.raw_out.advance(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CompressedStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.plain_out.len() >= WRITE_CHUNK {
            this.seal();
        }
        ready!(this.poll_drain(cx))?;
        let n = buf
            .len()
            .min(WRITE_CHUNK.saturating_sub(this.plain_out.len()).max(1));
        this.plain_out.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.seal();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.seal();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn packets_round_trip_stored_and_compressed() {
        for plain in [
            b"short".to_vec(),
            vec![b'x'; 5000],
            (0..70_000u32)
                .flat_map(|i| i.to_le_bytes())
                .collect::<Vec<u8>>(),
        ] {
            let mut raw = BytesMut::new();
            let next = Zlib::default().put_packets(&mut raw, &plain, 7);
            assert_eq!(next, 8);
            let mut out = BytesMut::new();
            assert_eq!(
                Zlib::default()
                    .take_packet(&mut raw, &mut out)
                    .expect("packet"),
                Some(7)
            );
            assert!(raw.is_empty());
            assert_eq!(&out[..], &plain[..]);
        }
    }

    #[test]
    fn short_payloads_are_stored_and_long_ones_compressed() {
        let mut raw = BytesMut::new();
        Zlib::default().put_packets(&mut raw, b"tiny", 0);
        assert_eq!(&raw[4..7], &[0, 0, 0], "stored: uncompressed length 0");
        let mut raw = BytesMut::new();
        Zlib::default().put_packets(&mut raw, &[b'a'; 1000], 0);
        assert_eq!(&raw[4..7], &1000u32.to_le_bytes()[..3]);
        assert!(raw.len() < 100);
    }

    #[test]
    fn a_partial_packet_waits_and_a_lying_header_is_refused() {
        let mut raw = BytesMut::new();
        Zlib::default().put_packets(&mut raw, &[b'a'; 1000], 0);
        let mut part = BytesMut::from(&raw[..raw.len() - 1]);
        let mut out = BytesMut::new();
        assert_eq!(
            Zlib::default()
                .take_packet(&mut part, &mut out)
                .expect("partial"),
            None
        );
        let mut lying = raw.clone();
        lying[4] = lying[4].wrapping_add(1);
        assert!(Zlib::default()
            .take_packet(&mut lying, &mut BytesMut::new())
            .is_err());
    }

    #[tokio::test]
    async fn the_answer_numbers_its_packets_after_the_command() {
        let (mut peer, ours) = tokio::io::duplex(1 << 20);
        let mut stream = CompressedStream::new(ours);
        let mut command = BytesMut::new();
        Zlib::default().put_packets(&mut command, b"\x03\x00\x00\x00\x03SELECT 1", 0);
        peer.write_all(&command).await.expect("write");
        let mut got = [0u8; 13];
        stream.read_exact(&mut got).await.expect("read");
        assert_eq!(&got[4..], b"\x03SELECT 1");
        stream.write_all(&[b'r'; 100]).await.expect("answer");
        stream.write_all(b"more").await.expect("answer");
        stream.flush().await.expect("flush");
        let mut header = [0u8; 7];
        peer.read_exact(&mut header).await.expect("header");
        assert_eq!(header[3], 1, "sequence after the command's 0");
        assert_eq!(&header[4..], &104u32.to_le_bytes()[..3]);
    }
}
