//! The byte stream to a backend: TCP, or the server's unix socket when the
//! server runs on this machine.
//!
//! Loopback TCP costs the kernel roughly twice what a unix socket does per
//! packet, and a proxy pays it twice per statement (client side and backend
//! side), so a co-located server is reached through its socket. The socket is
//! learned from the server itself (`@@socket`, read with the admin account at
//! start-up) and is only a faster road to the same server: any failure to use
//! it falls back to the TCP address.

use std::io;
use std::net::IpAddr;
use std::path::Path;

use tokio::net::{TcpStream, UnixStream};
use tokio_util::either::Either;

/// TCP on the left, the unix socket on the right.
pub type BackendStream = Either<TcpStream, UnixStream>;

pub async fn tcp(addr: &str) -> io::Result<BackendStream> {
    let stream = TcpStream::connect(addr).await?;
    // Replies are small and latency-bound; never wait for Nagle.
    let _ = stream.set_nodelay(true);
    Ok(Either::Left(stream))
}

pub async fn unix(path: &Path) -> io::Result<BackendStream> {
    Ok(Either::Right(UnixStream::connect(path).await?))
}

/// Is `addr` (HOST:PORT) on this machine, so that its unix socket is reachable?
pub fn is_loopback(addr: &str) -> bool {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_addresses() {
        assert!(is_loopback("127.0.0.1:3306"));
        assert!(is_loopback("localhost:3306"));
        assert!(is_loopback("[::1]:3306"));
        assert!(is_loopback("127.0.0.2:3306"));
        assert!(!is_loopback("10.0.0.5:3306"));
        assert!(!is_loopback("db.example.com:3306"));
    }
}
