//! Client address ranges: `10.0.0.0/8`, `192.168.1.7`, `fd00::/8`, `::1`.
//!
//! Both sides are compared in canonical form: a client that reaches a
//! dual-stack listener as `::ffff:10.1.2.3` is the IPv4 client `10.1.2.3`,
//! and a rule written as `::ffff:10.0.0.0/104` is the range `10.0.0.0/8`.
//! Without that, an IPv4 rule would silently stop matching the day Tern is
//! told to listen on `[::]`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One parsed range. Host bits below the prefix are cleared at parse time
/// (`10.1.2.3/8` is `10.0.0.0/8`), as `ip route` and most firewalls do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cidr {
    V4 { network: u32, mask: u32 },
    V6 { network: u128, mask: u128 },
}

impl Cidr {
    /// Parses `ADDR` or `ADDR/PREFIX`, or says why not.
    pub(crate) fn parse(text: &str) -> Result<Cidr, String> {
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .trim()
            .parse()
            .map_err(|_| format!("`{addr_text}` is not an IPv4 or IPv6 address"))?;
        let max_prefix = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max_prefix,
            Some(p) => match p.trim().parse::<u8>() {
                Ok(n) if u32::from(n) <= max_prefix => u32::from(n),
                _ => {
                    return Err(format!(
                        "prefix length `/{p}` must be a number from 0 to {max_prefix}"
                    ))
                }
            },
        };
        Ok(match addr {
            IpAddr::V4(v4) => Cidr::v4(v4, prefix),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) if prefix >= 96 => Cidr::v4(v4, prefix - 96),
                _ => Cidr::v6(v6, prefix),
            },
        })
    }

    fn v4(addr: Ipv4Addr, prefix: u32) -> Cidr {
        // checked_shl: a shift by the full width (prefix 0) is "no bits".
        let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
        Cidr::V4 {
            network: u32::from(addr) & mask,
            mask,
        }
    }

    fn v6(addr: Ipv6Addr, prefix: u32) -> Cidr {
        let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
        Cidr::V6 {
            network: u128::from(addr) & mask,
            mask,
        }
    }

    /// Whether `client` (already canonical, see [`canonical`]) is in range.
    pub(crate) fn contains(&self, client: IpAddr) -> bool {
        match (*self, client) {
            (Cidr::V4 { network, mask }, IpAddr::V4(a)) => u32::from(a) & mask == network,
            (Cidr::V6 { network, mask }, IpAddr::V6(a)) => u128::from(a) & mask == network,
            _ => false,
        }
    }
}

/// The client address as rules compare it: IPv4-mapped IPv6 becomes IPv4.
pub(crate) fn canonical(addr: IpAddr) -> IpAddr {
    addr.to_canonical()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(cidr: &str, addr: &str) -> bool {
        let addr: IpAddr = addr.parse().expect("test address");
        Cidr::parse(cidr)
            .expect("valid cidr")
            .contains(canonical(addr))
    }

    #[test]
    fn ipv4_ranges_and_single_addresses() {
        assert!(contains("10.0.0.0/8", "10.200.3.4"));
        assert!(!contains("10.0.0.0/8", "11.0.0.1"));
        assert!(contains("192.168.1.7", "192.168.1.7"));
        assert!(!contains("192.168.1.7", "192.168.1.8"));
        assert!(contains("0.0.0.0/0", "203.0.113.9"));
        assert!(contains("10.1.2.3/8", "10.9.9.9"), "host bits are cleared");
    }

    #[test]
    fn ipv6_ranges_and_single_addresses() {
        assert!(contains("fd00::/8", "fd12:3456::1"));
        assert!(!contains("fd00::/8", "fe80::1"));
        assert!(contains("::1", "::1"));
        assert!(contains("::/0", "2001:db8::1"));
        assert!(!contains("::/0", "10.0.0.1"), "families never mix");
    }

    #[test]
    fn mapped_ipv4_clients_match_ipv4_rules() {
        assert!(contains("10.0.0.0/8", "::ffff:10.1.2.3"));
        assert!(contains("::ffff:10.0.0.0/104", "10.1.2.3"));
        assert!(contains("::ffff:10.0.0.0/104", "::ffff:10.1.2.3"));
    }

    #[test]
    fn rejects_malformed_ranges() {
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "10.0.0.0/",
            "10.0.0.0/x",
            "host.example",
            "",
            "10.0.0.0/8/8",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
