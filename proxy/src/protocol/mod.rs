//! MySQL wire protocol: packet framing and the few packets the proxy must read or
//! write itself. Everything else on the data path is relayed as opaque bytes.

pub mod auth;
pub mod compress;
pub mod errcode;
pub mod framing;
pub mod packets;
pub mod response;
pub mod resultset;
pub mod session_state;

/// Payload length of a frame that continues in the next frame (16 MiB - 1).
pub const MAX_FRAME: usize = 0xFF_FFFF;

/// Command bytes (first byte of a client command packet).
pub mod command {
    pub const COM_SLEEP: u8 = 0x00;
    pub const COM_QUIT: u8 = 0x01;
    pub const COM_INIT_DB: u8 = 0x02;
    pub const COM_QUERY: u8 = 0x03;
    pub const COM_FIELD_LIST: u8 = 0x04;
    pub const COM_STATISTICS: u8 = 0x09;
    pub const COM_PROCESS_INFO: u8 = 0x0A;
    pub const COM_PROCESS_KILL: u8 = 0x0C;
    pub const COM_PING: u8 = 0x0E;
    pub const COM_BINLOG_DUMP: u8 = 0x12;
    pub const COM_CHANGE_USER: u8 = 0x11;
    pub const COM_REGISTER_SLAVE: u8 = 0x15;
    pub const COM_STMT_PREPARE: u8 = 0x16;
    pub const COM_STMT_EXECUTE: u8 = 0x17;
    pub const COM_STMT_SEND_LONG_DATA: u8 = 0x18;
    pub const COM_STMT_CLOSE: u8 = 0x19;
    pub const COM_STMT_RESET: u8 = 0x1A;
    pub const COM_SET_OPTION: u8 = 0x1B;
    pub const COM_STMT_FETCH: u8 = 0x1C;
    pub const COM_RESET_CONNECTION: u8 = 0x1F;
    pub const COM_BINLOG_DUMP_GTID: u8 = 0x1E;
    pub const COM_STMT_BULK_EXECUTE: u8 = 0xFA;
}

/// Server status flags carried by OK and EOF packets.
pub mod status {
    pub const IN_TRANS: u16 = 0x0001;
    pub const AUTOCOMMIT: u16 = 0x0002;
    pub const MORE_RESULTS_EXISTS: u16 = 0x0008;
    pub const CURSOR_EXISTS: u16 = 0x0040;
    pub const SESSION_STATE_CHANGED: u16 = 0x4000;
}
