//! Packet framing: a 3-byte little-endian payload length, a 1-byte sequence id, the
//! payload. A payload of 16 MiB - 1 bytes or more continues in the next frame; a
//! logical packet ends with the first frame shorter than that (possibly empty).
//!
//! [`PacketReader`] owns a reusable read buffer. Client commands are read as whole
//! logical packets (bounded by `max_packet`), because the proxy must look at them;
//! backend responses are never assembled here, see [`super::response`].

use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::MAX_FRAME;

/// Read buffers start small so that idle sessions stay cheap; they grow on demand.
pub const INITIAL_READ_BUF: usize = 4 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("connection closed")]
    Closed,
    #[error("packet of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("packets out of order: expected sequence {expected}, got {got}")]
    OutOfOrder { expected: u8, got: u8 },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// One logical packet: the sequence id of its first frame and the whole payload.
#[derive(Debug, Clone)]
pub struct Packet {
    pub seq: u8,
    pub payload: Bytes,
}

impl Packet {
    /// Sequence id that follows this packet's last frame.
    pub fn next_seq(&self) -> u8 {
        let frames = self.payload.len() / MAX_FRAME + 1;
        self.seq.wrapping_add(frames as u8)
    }
}

pub struct PacketReader {
    buf: BytesMut,
}

impl Default for PacketReader {
    fn default() -> Self {
        Self::new()
    }
}

impl PacketReader {
    pub fn new() -> Self {
        Self {
            buf: BytesMut::with_capacity(INITIAL_READ_BUF),
        }
    }

    /// Bytes already read from the socket but not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Reads more bytes from `src` into the buffer; `Closed` on EOF.
    pub async fn fill<R: AsyncRead + Unpin>(&mut self, src: &mut R) -> Result<usize, FrameError> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(INITIAL_READ_BUF.max(self.buf.len()));
        }
        let n = src.read_buf(&mut self.buf).await?;
        if n == 0 {
            return Err(FrameError::Closed);
        }
        Ok(n)
    }

    /// Reads one logical packet, reassembling continuation frames. `expected_seq`
    /// checks the first frame's sequence id when given. The total payload may not
    /// exceed `max_packet`; the check happens before the payload is buffered.
    pub async fn read_packet<R: AsyncRead + Unpin>(
        &mut self,
        src: &mut R,
        expected_seq: Option<u8>,
        max_packet: usize,
    ) -> Result<Packet, FrameError> {
        // Fast path: one frame already (or soon) in the buffer, no copy needed.
        let mut assembled: Option<BytesMut> = None;
        let mut expected = expected_seq;
        let mut first_seq = None;
        loop {
            while self.buf.len() < 4 {
                self.fill(src).await?;
            }
            let len = frame_len(&self.buf);
            let seq = self.buf[3];
            if let Some(want) = expected {
                if seq != want {
                    return Err(FrameError::OutOfOrder {
                        expected: want,
                        got: seq,
                    });
                }
            }
            let so_far = assembled.as_ref().map_or(0, |a| a.len());
            if so_far + len > max_packet {
                return Err(FrameError::TooLarge {
                    size: so_far + len,
                    limit: max_packet,
                });
            }
            if self.buf.len() < 4 + len {
                self.buf.reserve(4 + len - self.buf.len());
                while self.buf.len() < 4 + len {
                    self.fill(src).await?;
                }
            }
            self.buf.advance(4);
            let frame = self.buf.split_to(len);
            let first = *first_seq.get_or_insert(seq);
            expected = Some(seq.wrapping_add(1));
            match (&mut assembled, len == MAX_FRAME) {
                (None, false) => {
                    return Ok(Packet {
                        seq: first,
                        payload: frame.freeze(),
                    })
                }
                (None, true) => assembled = Some(frame),
                (Some(a), more) => {
                    a.extend_from_slice(&frame);
                    if !more {
                        let payload = assembled.take().map(BytesMut::freeze).unwrap_or_default();
                        return Ok(Packet {
                            seq: first,
                            payload,
                        });
                    }
                }
            }
        }
    }

    /// Releases a read buffer that grew for one big packet, so that a session which
    /// once moved 20 MiB does not keep that memory while idle.
    pub fn shrink_if_idle(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 256 * 1024 {
            self.buf = BytesMut::with_capacity(INITIAL_READ_BUF);
        }
    }
}

/// Payload length from a frame header (the first 3 bytes of `header`).
#[inline]
pub fn frame_len(header: &[u8]) -> usize {
    header[0] as usize | (header[1] as usize) << 8 | (header[2] as usize) << 16
}

/// Appends `payload` to `out` as one logical packet starting at sequence `seq`,
/// split into frames as the protocol requires. Returns the next sequence id.
pub fn write_packet(out: &mut BytesMut, mut seq: u8, payload: &[u8]) -> u8 {
    let mut rest = payload;
    loop {
        let n = rest.len().min(MAX_FRAME);
        out.reserve(4 + n);
        out.put_uint_le(n as u64, 3);
        out.put_u8(seq);
        out.put_slice(&rest[..n]);
        seq = seq.wrapping_add(1);
        rest = &rest[n..];
        if n < MAX_FRAME {
            return seq;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reassembles_continuation_frames() {
        let payload: Vec<u8> = (0..(MAX_FRAME * 2 + 10)).map(|i| i as u8).collect();
        let mut wire = BytesMut::new();
        let next = write_packet(&mut wire, 0, &payload);
        assert_eq!(next, 3);
        let mut reader = PacketReader::new();
        let mut src = &wire[..];
        let p = reader
            .read_packet(&mut src, Some(0), usize::MAX)
            .await
            .expect("packet");
        assert_eq!(p.seq, 0);
        assert_eq!(p.next_seq(), 3);
        assert_eq!(&p.payload[..], &payload[..]);
    }

    #[tokio::test]
    async fn exact_multiple_of_frame_size_ends_with_empty_frame() {
        let payload = vec![7u8; MAX_FRAME];
        let mut wire = BytesMut::new();
        write_packet(&mut wire, 5, &payload);
        assert_eq!(wire.len(), 4 + MAX_FRAME + 4);
        let mut reader = PacketReader::new();
        let mut src = &wire[..];
        let p = reader
            .read_packet(&mut src, None, usize::MAX)
            .await
            .expect("packet");
        assert_eq!(p.payload.len(), MAX_FRAME);
        assert_eq!(p.seq, 5);
        assert_eq!(p.next_seq(), 7);
    }

    #[tokio::test]
    async fn oversized_packet_is_refused_before_buffering() {
        let mut wire = BytesMut::new();
        wire.put_uint_le(1_000_000, 3);
        wire.put_u8(0);
        let mut reader = PacketReader::new();
        let mut src = &wire[..];
        let err = reader.read_packet(&mut src, None, 1000).await.unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }));
    }

    #[tokio::test]
    async fn truncated_packet_is_closed_not_panic() {
        let wire = [10u8, 0, 0, 0, 1, 2];
        let mut reader = PacketReader::new();
        let mut src = &wire[..];
        let err = reader.read_packet(&mut src, None, 1000).await.unwrap_err();
        assert!(matches!(err, FrameError::Closed));
    }

    #[tokio::test]
    async fn out_of_sequence_is_reported() {
        let mut wire = BytesMut::new();
        write_packet(&mut wire, 3, b"x");
        let mut reader = PacketReader::new();
        let mut src = &wire[..];
        let err = reader
            .read_packet(&mut src, Some(1), 1000)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            FrameError::OutOfOrder {
                expected: 1,
                got: 3
            }
        ));
    }
}
