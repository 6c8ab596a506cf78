//! The accounts clients may log in as, read from the primary's accounts table
//! (`mysql.global_priv` on MariaDB, `mysql.user` on MySQL) with the admin
//! account, and the server's rule for which account a login lands on.
//!
//! A client names only a user; the server picks the account (`user@host`) by the
//! client's address, and that account's password is the one checked and its
//! privileges the ones the session gets. Tern picks exactly as the server does
//! (see `pick_account`), so it checks the same password, and logs in to the
//! server from an address that lands on the same account (see
//! `server::login`).
//!
//! The table is cached and read again when a login is refused for any reason
//! (the account or its password may have just changed). Re-reads are coalesced
//! and spaced by [`MIN_REFRESH_INTERVAL`], so a client hammering wrong
//! passwords cannot turn into a query storm against the primary.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use tokio::sync::Mutex;

use crate::protocol::auth::{
    parse_native_hash, seal_stage1, sha2_digests, stage1_matches, verify_sha2_fast, NativeStage1,
    NativeStage2, Sha2Digest2, NATIVE_PASSWORD,
};

/// Shortest time between two reads of `mysql.user`.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_millis(500);

/// MariaDB keeps accounts as JSON in mysql.global_priv (mysql.user is a view
/// without the lock flag). Roles cannot log in and are left out.
const MARIADB_ACCOUNTS: &str = "SELECT CAST(User AS CHAR), CAST(Host AS CHAR), \
     IFNULL(JSON_VALUE(Priv, '$.plugin'), ''), \
     IFNULL(JSON_VALUE(Priv, '$.authentication_string'), ''), \
     IF(JSON_VALUE(Priv, '$.account_locked') = 'true', 'Y', 'N') \
     FROM mysql.global_priv WHERE IFNULL(JSON_VALUE(Priv, '$.is_role'), 'false') <> 'true'";
const MYSQL_ACCOUNTS: &str =
    "SELECT CAST(User AS CHAR), CAST(Host AS CHAR), CAST(plugin AS CHAR), \
     CAST(authentication_string AS CHAR), CAST(account_locked AS CHAR) FROM mysql.user";

#[derive(Debug, Clone)]
pub struct Account {
    pub user: String,
    pub host: String,
    pub plugin: String,
    pub auth_string: String,
    /// Locked accounts are refused like on the server, whatever their password.
    pub locked: bool,
}

/// How an account proves its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// No password set: the client must send an empty response.
    Empty,
    Native(NativeStage2),
    /// A plugin Tern cannot verify (unix_socket, ed25519, gssapi, caching_sha2
    /// without a cached digest...).
    Unsupported(String),
}

impl Account {
    pub fn credential(&self) -> Credential {
        if self.locked {
            return Credential::Unsupported("account locked".into());
        }
        let plugin = self.plugin.as_str();
        if plugin.is_empty() || plugin == NATIVE_PASSWORD {
            if self.auth_string.is_empty() {
                return Credential::Empty;
            }
            if let Some(stage2) = parse_native_hash(&self.auth_string) {
                return Credential::Native(stage2);
            }
        }
        Credential::Unsupported(self.plugin.clone())
    }
}

/// One read of the accounts table.
#[derive(Debug, Default)]
struct Accounts {
    /// In the server's order ([`server_order`]).
    list: Vec<Account>,
    /// The server resolves client addresses to names (`skip_name_resolve` off).
    name_resolution: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("reading mysql.user on the primary failed: {0}")]
    Query(#[from] mysql_async::Error),
}

pub struct UserDirectory {
    pool: mysql_async::Pool,
    accounts: std::sync::RwLock<Arc<Accounts>>,
    /// Time of the last read; the mutex also coalesces concurrent refreshes.
    last_refresh: Mutex<Option<Instant>>,
    /// caching_sha2_password fast-path entries by account (user, host), filled
    /// by full authentications (see `protocol::auth`).
    sha2: std::sync::Mutex<HashMap<(String, String), Sha2Entry>>,
}

#[derive(Clone)]
struct Sha2Entry {
    /// The account's password hash when the entry was made: a changed password
    /// makes the entry stale.
    stage2: NativeStage2,
    digest2: Sha2Digest2,
    sealed_stage1: NativeStage1,
}

impl UserDirectory {
    pub fn new(pool: mysql_async::Pool) -> Self {
        Self {
            pool,
            accounts: std::sync::RwLock::new(Arc::new(Accounts::default())),
            last_refresh: Mutex::new(None),
            sha2: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The caching_sha2_password fast path: `response` to `nonce` checked
    /// against the cached digest of the account `user` at `ip` logs in as. Returns
    /// the stage1 for the backend login, or `None` when the cache cannot decide
    /// (no entry, a changed password, or a wrong one): the caller then asks for
    /// a full authentication, as a server does.
    pub fn sha2_fast(
        &self,
        user: &str,
        ip: IpAddr,
        nonce: &[u8],
        response: &[u8],
    ) -> Option<NativeStage1> {
        let account = self.find(user, ip)?;
        let Credential::Native(stage2) = account.credential() else {
            return None;
        };
        let entry = self
            .sha2
            .lock()
            .ok()?
            .get(&(account.user, account.host))?
            .clone();
        if entry.stage2 != stage2 {
            return None;
        }
        let sha256_password = verify_sha2_fast(nonce, response, &entry.digest2)?;
        let stage1 = seal_stage1(&entry.sealed_stage1, &sha256_password);
        stage1_matches(&stage1, &stage2).then_some(stage1)
    }

    /// Is there a fresh fast-path entry for the account `user` at `ip` logs in as?
    pub fn has_sha2(&self, user: &str, ip: IpAddr) -> bool {
        let Some(account) = self.find(user, ip) else {
            return false;
        };
        let Credential::Native(stage2) = account.credential() else {
            return false;
        };
        self.sha2
            .lock()
            .ok()
            .and_then(|c| {
                c.get(&(account.user, account.host))
                    .map(|e| e.stage2 == stage2)
            })
            .unwrap_or(false)
    }

    /// Remembers a password that just passed a full authentication for `account`.
    pub fn remember_sha2(&self, account: &Account, stage2: NativeStage2, password: &[u8]) {
        let (sha256_password, digest2) = sha2_digests(password);
        let stage1 = crate::protocol::auth::stage1_of(password);
        let entry = Sha2Entry {
            stage2,
            digest2,
            sealed_stage1: seal_stage1(&stage1, &sha256_password),
        };
        if let Ok(mut cache) = self.sha2.lock() {
            cache.insert((account.user.clone(), account.host.clone()), entry);
        }
    }

    /// Makes sure the accounts were read after `requested_at`: reads them again
    /// unless a concurrent caller already did, waiting out the minimum interval
    /// first if the last read was too recent.
    pub async fn refresh_after(&self, requested_at: Instant) -> Result<(), UsersError> {
        let mut last = self.last_refresh.lock().await;
        if let Some(t) = *last {
            if t >= requested_at {
                return Ok(());
            }
            let since = t.elapsed();
            if since < MIN_REFRESH_INTERVAL {
                tokio::time::sleep(MIN_REFRESH_INTERVAL - since).await;
            }
        }
        let read_started = Instant::now();
        let mut conn = self.pool.get_conn().await?;
        let rows: Vec<(String, String, String, String, String)> =
            match conn.query(MARIADB_ACCOUNTS).await {
                Ok(rows) => rows,
                // MySQL has no mysql.global_priv; its mysql.user holds the same facts.
                Err(mysql_async::Error::Server(e))
                    if e.code == crate::protocol::errcode::ER_NO_SUCH_TABLE =>
                {
                    conn.query(MYSQL_ACCOUNTS).await?
                }
                Err(e) => return Err(e.into()),
            };
        // Both flavors have the variable; a server that cannot say is taken to
        // resolve names, which only lets `localhost` match 127.0.0.1 and ::1.
        let skip_name_resolve: Option<bool> = conn
            .query_first("SELECT @@skip_name_resolve")
            .await
            .ok()
            .flatten();
        let name_resolution = !skip_name_resolve.unwrap_or(false);
        let mut accounts: Vec<Account> = rows
            .into_iter()
            .map(|(user, host, plugin, auth_string, locked)| Account {
                user,
                host,
                plugin,
                auth_string,
                locked: locked.eq_ignore_ascii_case("Y"),
            })
            // As the server does under skip-name-resolve (it warns "ignored in
            // --skip-name-resolve mode" at start-up).
            .filter(|a| name_resolution || !requires_name_resolution(&a.host))
            .collect();
        accounts.sort_by(server_order);
        tracing::debug!(
            accounts = accounts.len(),
            name_resolution,
            "read the accounts"
        );
        if let Ok(mut guard) = self.accounts.write() {
            *guard = Arc::new(Accounts {
                list: accounts,
                name_resolution,
            });
        }
        *last = Some(read_started);
        Ok(())
    }

    /// The account the server would pick for `user` connecting over TCP from
    /// `ip` (see `pick_account`).
    pub fn find(&self, user: &str, ip: IpAddr) -> Option<Account> {
        let accounts = self.accounts.read().ok()?.clone();
        let client = ClientHost::tcp(ip, accounts.name_resolution);
        pick_account(&accounts.list, user, &client).cloned()
    }
}

/// The longest host name the server keeps (`HOSTNAME_LENGTH`); the server's
/// specificity arithmetic in [`host_specificity`] is scaled by it.
const MAX_HOSTNAME_LENGTH: u32 = 255;

/// How specific an account's host pattern is, as the server ranks it: lower is
/// more specific and is tried first. This is MariaDB's `get_magic_sort` for one
/// host pattern, computed in the same 32-bit arithmetic:
///
/// - A host without wildcards (`127.0.0.1`, `localhost`, and also the netmask
///   form `127.0.0.0/255.255.255.0`, which the ranking sees as plain text) is 0,
///   the most specific, whatever its length.
/// - With wildcards the rank grows with how many strings the pattern could
///   match: first the room left to `%` (the host length limit minus the literal
///   and `_` characters), then the number of `%` runs, then the number of `_`.
///   So `127.0.0._` comes before `127.0.0.%`, which comes before `127.%`, and
///   `%` comes last.
/// - Ties are broken by the position of the first wildcard, earlier first
///   (`12_.0.0.5` before `127.0._.5`), as the server's code does it.
///
/// With the 255-character host limit the server's 32-bit arithmetic
/// overflows; it overflows the same way here, so that even odd, very long
/// patterns rank as the server ranks them.
pub fn host_specificity(pattern: &str) -> u32 {
    let bytes = pattern.as_bytes();
    // Literal characters, `_`, `%` runs, literal prefix before the first wildcard.
    let (mut n, mut m, mut k, mut p) = (0u32, 0u32, 0u32, 0u32);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                if k == 0 && m == 0 {
                    p = n;
                }
                k += 1;
                while bytes.get(i + 1) == Some(&b'%') {
                    i += 1;
                }
            }
            b'_' => {
                if k == 0 && m == 0 {
                    p = n;
                }
                m += 1;
            }
            c => {
                if c == b'\\' && i + 1 < bytes.len() {
                    i += 1;
                }
                n += 1;
            }
        }
        i += 1;
    }
    let l = if k > 0 {
        MAX_HOSTNAME_LENGTH.wrapping_sub(n).wrapping_sub(m)
    } else {
        0
    };
    let d = MAX_HOSTNAME_LENGTH + 1;
    let mix = |a: u32, b: u32, c: u32| {
        a.wrapping_mul(d)
            .wrapping_add(b)
            .wrapping_mul(d)
            .wrapping_add(c)
            .wrapping_mul(d)
            .wrapping_add(p)
    };
    if l > m {
        mix(l.wrapping_mul(2).wrapping_add(1), k, m)
    } else {
        mix(m.wrapping_mul(2), l, k)
    }
}

/// The server's rank of an account (lower first): the host's specificity, and
/// for the same host a named user before the anonymous one. The server compares
/// an anonymous entry with the named match by this rank alone (see
/// `pick_account`).
fn account_rank(account: &Account) -> u64 {
    (u64::from(host_specificity(&account.host)) << 1) | u64::from(account.user.is_empty())
}

/// The order the server keeps its accounts in: by user name, then by rank, and
/// for equal ranks by host in descending byte order (so `localhost` precedes
/// `127.0.0.1`, and `127.0.0.5/255.255.255.255` precedes `127.0.0.5`).
fn server_order(a: &Account, b: &Account) -> std::cmp::Ordering {
    a.user
        .as_bytes()
        .cmp(b.user.as_bytes())
        .then_with(|| account_rank(a).cmp(&account_rank(b)))
        .then_with(|| b.host.as_bytes().cmp(a.host.as_bytes()))
}

/// Where a client connects from, as the server sees it when matching accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHost {
    /// The address as the server prints it (IPv4-mapped IPv6 as IPv4).
    pub ip: IpAddr,
    /// The host name the server would match host-name entries against: with
    /// name resolution on, `localhost` for 127.0.0.1 and ::1 (the server does
    /// not ask DNS for those). Tern does no DNS itself, so other addresses have
    /// none (see the README's limits).
    pub name: Option<&'static str>,
}

impl ClientHost {
    /// A TCP client at `ip`; `name_resolution` is the server's
    /// `skip_name_resolve = OFF`.
    pub fn tcp(ip: IpAddr, name_resolution: bool) -> Self {
        let ip = normalize_ip(ip);
        let loopback = match ip {
            IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST,
            IpAddr::V6(v6) => v6 == std::net::Ipv6Addr::LOCALHOST,
        };
        Self {
            ip,
            name: (name_resolution && loopback).then_some("localhost"),
        }
    }
}

/// The server matches IPv4-mapped IPv6 clients by their IPv4 address.
pub fn normalize_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The account the server picks for `user` connecting from `client`, from
/// accounts in [`server_order`]: the first (most specific) entry of that user
/// whose host admits the client, unless an anonymous entry (`''@host`) that
/// admits it ranks strictly higher. The server stops there: a wrong password
/// for the picked account is a refusal, never a try of the next entry.
fn pick_account<'a>(
    accounts: &'a [Account],
    user: &str,
    client: &ClientHost,
) -> Option<&'a Account> {
    let named = accounts
        .iter()
        .find(|a| a.user == user && host_matches(&a.host, client));
    let anonymous = accounts.iter().filter(|a| a.user.is_empty()).find(|a| {
        named.is_none_or(|n| account_rank(a) < account_rank(n)) && host_matches(&a.host, client)
    });
    anonymous.or(named)
}

/// Does an account's host admit `client`? As the server's `compare_hostname`:
/// an IPv4 `address/netmask` entry admits IPv4 clients whose address masked
/// equals it; any other entry is a LIKE pattern (`%`, `_`, `\` escapes) matched
/// against the client's host name without regard to case, or against its
/// address exactly. An empty host is `%`.
pub fn host_matches(pattern: &str, client: &ClientHost) -> bool {
    if pattern.is_empty() {
        return true;
    }
    if let (Some((net, mask)), IpAddr::V4(ip)) = (parse_netmask(pattern), client.ip) {
        return u32::from(ip) & mask == net;
    }
    client
        .name
        .is_some_and(|name| like_match(pattern.as_bytes(), name.as_bytes(), true))
        || like_match(pattern.as_bytes(), client.ip.to_string().as_bytes(), false)
}

/// `a.b.c.d/m.m.m.m` as the server reads it (decimal octets; a zero mask means
/// the entry is no netmask at all).
fn parse_netmask(pattern: &str) -> Option<(u32, u32)> {
    let (net, mask) = pattern.split_once('/')?;
    let octets = |text: &str| -> Option<u32> {
        let mut parts = text.split('.');
        let mut value = 0u32;
        for _ in 0..4 {
            let part = parts.next()?;
            if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let octet: u32 = part.parse().ok()?;
            if octet > 255 {
                return None;
            }
            value = (value << 8) | octet;
        }
        parts.next().is_none().then_some(value)
    };
    let (net, mask) = (octets(net)?, octets(mask)?);
    (mask != 0).then_some((net, mask))
}

/// An entry the server ignores under `skip-name-resolve`: a host name other
/// than `localhost` (not an address, netmask or pattern).
fn requires_name_resolution(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return false;
    }
    if host.contains([':', '%', '_', '/']) {
        return false;
    }
    host.bytes().any(|b| b != b'.' && !b.is_ascii_digit())
}

/// SQL LIKE as the server matches hosts: `%` any run, `_` one character, `\`
/// makes the next character literal.
fn like_match(pattern: &[u8], text: &[u8], ignore_case: bool) -> bool {
    let same = |a: u8, b: u8| {
        if ignore_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'%', rest)) => {
            // A run of `%` is one wildcard; trying each run member would only
            // multiply the work.
            let rest = &rest[rest.iter().take_while(|&&b| b == b'%').count()..];
            (0..=text.len()).any(|i| like_match(rest, &text[i..], ignore_case))
        }
        Some((b'_', rest)) => !text.is_empty() && like_match(rest, &text[1..], ignore_case),
        Some((b'\\', rest)) if !rest.is_empty() => text.split_first().is_some_and(|(t, trest)| {
            same(*t, rest[0]) && like_match(&rest[1..], trest, ignore_case)
        }),
        Some((c, rest)) => text
            .split_first()
            .is_some_and(|(t, trest)| same(*t, *c) && like_match(rest, trest, ignore_case)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acct(user: &str, host: &str) -> Account {
        Account {
            user: user.into(),
            host: host.into(),
            plugin: NATIVE_PASSWORD.into(),
            auth_string: String::new(),
            locked: false,
        }
    }

    fn tcp(ip: &str) -> ClientHost {
        ClientHost::tcp(ip.parse().expect("ip"), false)
    }

    fn sorted(mut accounts: Vec<Account>) -> Vec<Account> {
        accounts.sort_by(server_order);
        accounts
    }

    fn picked(accounts: &[Account], user: &str, client: &ClientHost) -> Option<String> {
        pick_account(accounts, user, client).map(|a| format!("{}@{}", a.user, a.host))
    }

    #[test]
    fn host_patterns() {
        let c = tcp("10.1.2.3");
        assert!(host_matches("%", &c));
        assert!(host_matches("", &c));
        assert!(host_matches("10.1.%", &c));
        assert!(host_matches("10.1.2._", &c));
        assert!(!host_matches("10.2.%", &c));
        assert!(host_matches("10.1.0.0/255.255.0.0", &c));
        assert!(!host_matches("10.2.0.0/255.255.0.0", &c));
        // Bits outside the mask never match, as on the server.
        assert!(!host_matches("10.1.2.3/255.255.0.0", &c));
        // CIDR is not a form the server reads; a zero mask is no netmask.
        assert!(!host_matches("10.1.2.0/24", &c));
        assert!(!host_matches("0.0.0.0/0.0.0.0", &c));
        assert!(host_matches(r"10.1.2\.3", &c));
        assert!(!host_matches(r"10\_1.2.3", &c));
        assert!(host_matches("127.0.0.1", &tcp("::ffff:127.0.0.1")));
        assert!(host_matches("::1", &tcp("::1")));
        assert!(!host_matches("::1", &tcp("127.0.0.1")));
    }

    #[test]
    fn localhost_is_not_a_tcp_address_under_skip_name_resolve() {
        let ip: IpAddr = "127.0.0.1".parse().expect("ip");
        assert!(!host_matches("localhost", &ClientHost::tcp(ip, false)));
        // With name resolution the server calls 127.0.0.1 and ::1 `localhost`
        // (any case), but not the rest of 127.0.0.0/8.
        assert!(host_matches("localhost", &ClientHost::tcp(ip, true)));
        assert!(host_matches("LocalHost", &ClientHost::tcp(ip, true)));
        assert!(host_matches("local%", &ClientHost::tcp(ip, true)));
        let v6: IpAddr = "::1".parse().expect("ip");
        assert!(host_matches("localhost", &ClientHost::tcp(v6, true)));
        let other: IpAddr = "127.0.0.2".parse().expect("ip");
        assert!(!host_matches("localhost", &ClientHost::tcp(other, true)));
    }

    #[test]
    fn specificity_ranks_patterns_like_the_server() {
        let order = [
            "127.0.0.1",
            "12_.0.0.5",
            "127.0._.5",
            "127.0.0._",
            "1%7.0.0.5",
            "127.0.0.%",
            "127.0.%",
            "127.%",
            "%.5",
            "%",
        ];
        for pair in order.windows(2) {
            assert!(
                host_specificity(pair[0]) < host_specificity(pair[1]),
                "{} should rank before {}",
                pair[0],
                pair[1]
            );
        }
        // No wildcard at all: equally specific whatever the text.
        assert_eq!(host_specificity("localhost"), 0);
        assert_eq!(host_specificity("127.0.0.0/255.255.255.0"), 0);
        assert_eq!(host_specificity("db1.example.com"), 0);
        // A run of `%` counts once; an escaped wildcard is a literal.
        assert_eq!(
            host_specificity("127.0.0.%%"),
            host_specificity("127.0.0.%")
        );
        assert_eq!(host_specificity(r"127\_0"), 0);
    }

    #[test]
    fn equal_ranks_are_ordered_by_host_descending() {
        let v = sorted(vec![
            acct("y", "127.0.0.0/255.255.255.0"),
            acct("y", "127.0.0.5"),
            acct("y", "127.0.0.5/255.255.255.255"),
            acct("x", "127.0.%._"),
            acct("x", "127.0._.%"),
            acct("r", "127.0.0.1"),
            acct("r", "localhost"),
        ]);
        let order: Vec<_> = v.iter().map(|a| format!("{}@{}", a.user, a.host)).collect();
        assert_eq!(
            order,
            [
                "r@localhost",
                "r@127.0.0.1",
                "x@127.0._.%",
                "x@127.0.%._",
                "y@127.0.0.5/255.255.255.255",
                "y@127.0.0.5",
                "y@127.0.0.0/255.255.255.0",
            ]
        );
    }

    /// The accounts of the issue: `localhost` shadowed the TCP account.
    #[test]
    fn localhost_account_does_not_shadow_the_tcp_one() {
        let v = sorted(vec![acct("u2x", "localhost"), acct("u2x", "127.0.0.1")]);
        let ip: IpAddr = "127.0.0.1".parse().expect("ip");
        assert_eq!(
            picked(&v, "u2x", &ClientHost::tcp(ip, false)).as_deref(),
            Some("u2x@127.0.0.1")
        );
        // With name resolution on, the server itself picks localhost (both rank
        // 0; `localhost` sorts first).
        assert_eq!(
            picked(&v, "u2x", &ClientHost::tcp(ip, true)).as_deref(),
            Some("u2x@localhost")
        );
    }

    /// What MariaDB 10.11 answered for `CURRENT_USER()` with these accounts,
    /// from these loopback addresses (skip-name-resolve).
    #[test]
    fn picks_what_the_server_picked() {
        let v = sorted(vec![
            acct("v", "127.0.0.1"),
            acct("v", "127.0.0.%"),
            acct("v", "127.0.0._"),
            acct("v", "127.%"),
            acct("v", "%"),
            acct("", "127.0.0.7"),
            acct("w", "127.0._.5"),
            acct("w", "127.0.0._"),
            acct("w", "12_.0.0.5"),
            acct("x", "127.0._.%"),
            acct("x", "127.0.%._"),
            acct("y", "127.0.0.0/255.255.255.0"),
            acct("y", "127.0.0.5"),
            acct("y", "127.0.0.0/255.0.0.0"),
            acct("y", "127.0.0.5/255.255.255.255"),
            acct("z", "127.0.0.%"),
            acct("z", "127.0.%"),
            acct("z", "127.0.0.%%"),
            acct("z", "1%7.0.0.5"),
            acct("z", "%.5"),
            acct("h", "myhost"),
            acct("h", "%"),
        ]);
        let cases = [
            ("127.0.0.1", "v", Some("v@127.0.0.1")),
            ("127.0.0.5", "v", Some("v@127.0.0._")),
            // The anonymous entry's exact host outranks v's `_` pattern.
            ("127.0.0.7", "v", Some("@127.0.0.7")),
            ("127.0.0.7", "nobody", Some("@127.0.0.7")),
            ("127.0.0.12", "v", Some("v@127.0.0.%")),
            ("127.1.1.1", "v", Some("v@127.%")),
            ("10.0.0.1", "v", Some("v@%")),
            ("127.0.0.5", "w", Some("w@12_.0.0.5")),
            ("127.0.9.5", "w", Some("w@127.0._.5")),
            ("127.0.0.5", "x", Some("x@127.0._.%")),
            ("127.0.0.5", "y", Some("y@127.0.0.5/255.255.255.255")),
            ("127.0.0.7", "y", Some("y@127.0.0.0/255.255.255.0")),
            ("127.0.9.5", "y", Some("y@127.0.0.0/255.0.0.0")),
            ("127.0.0.5", "z", Some("z@1%7.0.0.5")),
            ("127.0.9.5", "z", Some("z@127.0.%")),
            ("127.0.0.1", "h", Some("h@%")),
            ("127.0.0.1", "nobody", None),
        ];
        for (ip, user, want) in cases {
            assert_eq!(
                picked(&v, user, &tcp(ip)).as_deref(),
                want,
                "{user} from {ip}"
            );
        }
    }

    #[test]
    fn named_user_wins_a_tie_with_the_anonymous_one() {
        let v = sorted(vec![
            acct("", "127.0.0.7"),
            acct("v", "127.0.0.0/255.255.255.0"),
        ]);
        assert_eq!(
            picked(&v, "v", &tcp("127.0.0.7")).as_deref(),
            Some("v@127.0.0.0/255.255.255.0")
        );
        // An empty user name is the anonymous account itself.
        assert_eq!(
            picked(&v, "", &tcp("127.0.0.7")).as_deref(),
            Some("@127.0.0.7")
        );
    }

    #[test]
    fn host_names_need_resolution() {
        assert!(requires_name_resolution("myhost"));
        assert!(requires_name_resolution("db1.example.com"));
        assert!(!requires_name_resolution("localhost"));
        assert!(!requires_name_resolution("LOCALHOST"));
        assert!(!requires_name_resolution("127.0.0.1"));
        assert!(!requires_name_resolution("::1"));
        assert!(!requires_name_resolution("%.example.com"));
        assert!(!requires_name_resolution("10.0.0.0/255.0.0.0"));
    }

    #[test]
    fn credentials_by_plugin() {
        let mut a = acct("u", "%");
        assert_eq!(a.credential(), Credential::Empty);
        a.auth_string = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19".into();
        assert!(matches!(a.credential(), Credential::Native(_)));
        a.locked = true;
        assert!(matches!(a.credential(), Credential::Unsupported(_)));
        a.locked = false;
        a.plugin = "unix_socket".into();
        assert!(matches!(a.credential(), Credential::Unsupported(_)));
    }
}
