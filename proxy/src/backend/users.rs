//! The accounts clients may log in as, read from the primary's `mysql.user` with
//! the admin account.
//!
//! The table is cached and read again when a login names an unknown user or
//! fails its password check (the password may have just changed). Re-reads are
//! coalesced and spaced by [`MIN_REFRESH_INTERVAL`], so a client hammering wrong
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

#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("reading mysql.user on the primary failed: {0}")]
    Query(#[from] mysql_async::Error),
}

pub struct UserDirectory {
    pool: mysql_async::Pool,
    accounts: std::sync::RwLock<Arc<Vec<Account>>>,
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
            accounts: std::sync::RwLock::new(Arc::new(Vec::new())),
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
                Err(mysql_async::Error::Server(e)) if e.code == 1146 => {
                    conn.query(MYSQL_ACCOUNTS).await?
                }
                Err(e) => return Err(e.into()),
            };
        let mut accounts: Vec<Account> = rows
            .into_iter()
            .map(|(user, host, plugin, auth_string, locked)| Account {
                user,
                host,
                plugin,
                auth_string,
                locked: locked.eq_ignore_ascii_case("Y"),
            })
            .collect();
        sort_like_server(&mut accounts);
        tracing::debug!(accounts = accounts.len(), "read mysql.user");
        if let Ok(mut guard) = self.accounts.write() {
            *guard = Arc::new(accounts);
        }
        *last = Some(read_started);
        Ok(())
    }

    /// The account the server would pick for `user` connecting from `ip`.
    pub fn find(&self, user: &str, ip: IpAddr) -> Option<Account> {
        let accounts = self.accounts.read().ok()?.clone();
        accounts
            .iter()
            .find(|a| (a.user == user || a.user.is_empty()) && host_matches(&a.host, ip))
            .cloned()
    }
}

/// Orders accounts the way the server matches them: most specific host first
/// (no wildcards, then longer literal prefixes), and for equal hosts a named
/// user before the anonymous one.
fn sort_like_server(accounts: &mut [Account]) {
    fn host_rank(host: &str) -> (u8, std::cmp::Reverse<usize>) {
        let wild = host.find(['%', '_']);
        match wild {
            None => (0, std::cmp::Reverse(host.len())),
            Some(pos) if host == "%" => (2, std::cmp::Reverse(pos)),
            Some(pos) => (1, std::cmp::Reverse(pos)),
        }
    }
    accounts.sort_by(|a, b| {
        host_rank(&a.host)
            .cmp(&host_rank(&b.host))
            .then_with(|| a.user.is_empty().cmp(&b.user.is_empty()))
    });
}

/// Does an account's host pattern admit a client at `ip`? Supports literal
/// addresses, `localhost` for loopback, LIKE wildcards (`%`, `_`) and the
/// `address/netmask` form.
pub fn host_matches(pattern: &str, ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    if pattern.eq_ignore_ascii_case("localhost") {
        return ip.is_loopback();
    }
    if let Some((addr, mask)) = pattern.split_once('/') {
        return match (addr.parse::<IpAddr>(), mask.parse::<IpAddr>(), ip) {
            (Ok(IpAddr::V4(a)), Ok(IpAddr::V4(m)), IpAddr::V4(c)) => {
                u32::from(c) & u32::from(m) == u32::from(a)
            }
            _ => false,
        };
    }
    like_match(pattern.as_bytes(), ip.to_string().as_bytes())
}

fn like_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'%', rest)) => (0..=text.len()).any(|i| like_match(rest, &text[i..])),
        Some((b'_', rest)) => !text.is_empty() && like_match(rest, &text[1..]),
        Some((c, rest)) => text
            .split_first()
            .is_some_and(|(t, trest)| t.eq_ignore_ascii_case(c) && like_match(rest, trest)),
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

    #[test]
    fn host_patterns() {
        let ip: IpAddr = "10.1.2.3".parse().expect("ip");
        assert!(host_matches("%", ip));
        assert!(host_matches("10.1.%", ip));
        assert!(host_matches("10.1.2._", ip));
        assert!(!host_matches("10.2.%", ip));
        assert!(host_matches("10.1.0.0/255.255.0.0", ip));
        assert!(!host_matches("10.2.0.0/255.255.0.0", ip));
        assert!(host_matches("localhost", "127.0.0.1".parse().expect("ip")));
        assert!(host_matches(
            "127.0.0.1",
            "::ffff:127.0.0.1".parse().expect("ip")
        ));
        assert!(!host_matches("localhost", ip));
    }

    #[test]
    fn most_specific_account_wins() {
        let mut v = vec![
            acct("app", "%"),
            acct("", "10.1.2.3"),
            acct("app", "10.%"),
            acct("app", "10.1.2.3"),
        ];
        sort_like_server(&mut v);
        let order: Vec<_> = v.iter().map(|a| format!("{}@{}", a.user, a.host)).collect();
        // Host specificity first, then a named user before the anonymous one: as on
        // the server, ''@10.1.2.3 shadows app@10.% for a client at 10.1.2.3.
        assert_eq!(order, ["app@10.1.2.3", "@10.1.2.3", "app@10.%", "app@%"]);
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
