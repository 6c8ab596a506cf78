//! The MySQL/MariaDB error codes Tern answers with or reacts to, in one table,
//! by number. They are the server's own codes (names as in the server's
//! `mysqld_error.h`), so drivers and applications react to an answer from
//! Tern exactly as they would to the server's; `CR_*` codes are the client
//! library's, for the few situations the server itself never reports. Code
//! paths use these names, never the numbers; tests that pin what goes on the
//! wire may spell the numbers out.

/// "Can't create table %`s (errno: %M)".
pub const ER_CANT_CREATE_TABLE: u16 = 1005;
/// "Too many connections".
pub const ER_CON_COUNT_ERROR: u16 = 1040;
/// "Bad handshake".
pub const ER_HANDSHAKE_ERROR: u16 = 1043;
/// "Access denied for user '%s'@'%s' (using password: %s)".
pub const ER_ACCESS_DENIED_ERROR: u16 = 1045;
/// "Unknown command".
pub const ER_UNKNOWN_COM_ERROR: u16 = 1047;
/// "Server shutdown in progress".
pub const ER_SERVER_SHUTDOWN: u16 = 1053;
/// "Duplicate entry '%s' for key '%s'".
pub const ER_DUP_ENTRY: u16 = 1062;
/// "You have an error in your SQL syntax".
pub const ER_PARSE_ERROR: u16 = 1064;
/// "Unknown error": what the server answers for failures it has no code for.
pub const ER_UNKNOWN_ERROR: u16 = 1105;
/// "Table '%s.%s' doesn't exist".
pub const ER_NO_SUCH_TABLE: u16 = 1146;
/// "Got a packet bigger than 'max_allowed_packet' bytes".
pub const ER_NET_PACKET_TOO_LARGE: u16 = 1153;
/// "Got packets out of order".
pub const ER_NET_PACKETS_OUT_OF_ORDER: u16 = 1156;
/// "Lock wait timeout exceeded; try restarting transaction".
pub const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
/// "Access denied; you need (at least one of) the %s privilege(s) for this operation".
pub const ER_SPECIFIC_ACCESS_DENIED_ERROR: u16 = 1227;
/// "Variable '%s' can't be set to the value of '%s'".
pub const ER_WRONG_VALUE_FOR_VAR: u16 = 1231;
/// "Client does not support authentication protocol requested by server".
pub const ER_NOT_SUPPORTED_AUTH_MODE: u16 = 1251;
/// "Query execution was interrupted".
pub const ER_QUERY_INTERRUPTED: u16 = 1317;
/// The server cannot run an ALTER with the requested algorithm or lock.
pub const ER_ALTER_OPERATION_NOT_SUPPORTED: u16 = 1845;
/// As [`ER_ALTER_OPERATION_NOT_SUPPORTED`], and says why.
pub const ER_ALTER_OPERATION_NOT_SUPPORTED_REASON: u16 = 1846;
/// Client library: "Can't connect to server"; the backend could not be
/// reached at login.
pub const CR_CONN_HOST_ERROR: u16 = 2003;
/// Client library: "Lost connection to server during query"; the backend
/// vanished under a running command, so the driver treats it the same way.
pub const CR_SERVER_LOST: u16 = 2013;

#[cfg(test)]
mod tests {
    #[test]
    fn the_table_is_in_order_and_has_no_duplicates() {
        let source = include_str!("errcode.rs");
        let codes: Vec<u16> = source
            .lines()
            .filter_map(|l| l.strip_prefix("pub const "))
            .filter_map(|l| l.rsplit_once("= ")?.1.trim_end_matches(';').parse().ok())
            .collect();
        assert!(codes.len() >= 20, "{codes:?}");
        assert!(
            codes.windows(2).all(|w| w[0] < w[1]),
            "errcode.rs must list each code once, by number: {codes:?}"
        );
    }
}
