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
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use tokio::net::{TcpSocket, TcpStream, UnixStream};
use tokio_util::either::Either;

/// TCP on the left, the unix socket on the right.
pub type BackendStream = Either<TcpStream, UnixStream>;

/// Connects to `addr`. With `source`, a connection to a loopback address of the
/// same family leaves from `source` (a loopback address too): the server then
/// sees the client's own address and matches the same account for it (see
/// `server::login`). Any other connection leaves from the address the kernel
/// picks.
pub async fn tcp(addr: &str, source: Option<IpAddr>) -> io::Result<BackendStream> {
    let stream = match source.filter(|s| s.is_loopback()) {
        None => TcpStream::connect(addr).await?,
        Some(source) => connect_from(addr, source).await?,
    };
    // Replies are small and latency-bound; never wait for Nagle.
    let _ = stream.set_nodelay(true);
    Ok(Either::Left(stream))
}

/// As `TcpStream::connect`, trying each resolved address in turn, but bound to
/// `source` for loopback targets of its family.
async fn connect_from(addr: &str, source: IpAddr) -> io::Result<TcpStream> {
    let mut last = None;
    for target in tokio::net::lookup_host(addr).await? {
        let attempt = if target.ip().is_loopback() && target.is_ipv4() == source.is_ipv4() {
            let socket = if source.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            // Binding picks the local port now, for this source address only;
            // only clients from other loopback addresses than the kernel's own
            // choice take this road.
            socket.bind(SocketAddr::new(source, 0))?;
            socket.connect(target).await
        } else {
            TcpStream::connect(target).await
        };
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "address resolved to nothing")
    }))
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
