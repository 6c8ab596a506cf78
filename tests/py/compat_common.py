"""Shared helpers for the client-compatibility batteries (compat_pymysql.py,
compat_connector.py).

Everything printed goes through Report.line(), which replaces the per-run
schema prefix by the fixed token ``PFX_`` so that a run directly against the
server and a run through the proxy produce byte-identical output.

Rules for anything added here (see README.md): never print connection ids,
thread ids, NOW()/timestamps, GTIDs, server version strings, random file
names, host names/addresses or timing.
"""

import argparse
import hashlib
import io
import os
import re
import sys
import tempfile

# Printed instead of the run's schema prefix.
PREFIX_TOKEN = "PFX_"

# Values longer than this are printed as length + sha256 only.
BIG_VALUE = 512

# Deterministic large payloads.
MIB = 1024 * 1024
BLOB_20M_LEN = 20 * MIB
REPEAT_17M_LEN = 17 * MIB
# A row whose only column is a string of this length gives a row packet of
# exactly 0xFFFFFF bytes (4-byte length-encoded prefix + data), which must be
# followed by an empty packet on the wire.
EXACT_16M_ROW_STR = 0xFFFFFF - 4
# Same for a binary-protocol row: 0x00 header + 1-byte NULL bitmap + 4-byte
# length prefix + data.
EXACT_16M_BINARY_ROW_STR = 0xFFFFFF - 6


def parse_args(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=3306)
    ap.add_argument("--user", default="app")
    ap.add_argument("--password", default="app_pw")
    ap.add_argument("--database", default="app")
    ap.add_argument(
        "--schema-prefix",
        required=True,
        help="prefix for every table/database/lock this run creates; must be "
        "distinctive (>=4 chars, [a-z0-9_], e.g. cmp_direct_)",
    )
    args = ap.parse_args()
    if not re.fullmatch(r"[a-z][a-z0-9_]{3,30}", args.schema_prefix):
        ap.error("--schema-prefix must match [a-z][a-z0-9_]{3,30}")
    return args


def deterministic_bytes(n, seed=0):
    """n bytes cycling through every byte value (so every escape-worthy byte,
    0x00, quotes, backslash, 0x1a, high bytes ... appears)."""
    pattern = bytes((i * 7 + seed) & 0xFF for i in range(256)) + b"\x00'\"\\\x1a\r\n%_"
    reps = n // len(pattern) + 1
    return (pattern * reps)[:n]


def summarize(b):
    if isinstance(b, str):
        raw = b.encode("utf-8", "surrogatepass")
        kind = "str"
        n = len(b)
    else:
        raw = bytes(b)
        kind = type(b).__name__
        n = len(raw)
    return f"<{kind} len={n} sha256={hashlib.sha256(raw).hexdigest()}>"


def fmt_value(v):
    """repr() of a Python value, with big values replaced by length + hash."""
    if isinstance(v, io.BytesIO):
        return "<BytesIO " + summarize(v.getvalue())[1:]
    if isinstance(v, (bytes, bytearray, str)) and len(v) > BIG_VALUE:
        return summarize(v)
    if isinstance(v, float):
        return f"float({v!r})"
    if isinstance(v, (set, frozenset)):
        # set iteration order depends on hash randomization
        return f"{type(v).__name__}(" + "{" + ", ".join(sorted(repr(x) for x in v)) + "})"
    return repr(v)


def fmt_row(row):
    if isinstance(row, dict):
        return "{" + ", ".join(f"{k!r}: {fmt_value(v)}" for k, v in row.items()) + "}"
    return "(" + ", ".join(fmt_value(v) for v in row) + ")"


ADDRESS_RE = re.compile(r" at 0x[0-9a-fA-F]+")


class Report:
    def __init__(self, prefix, stream=None):
        self.prefix = prefix
        self.stream = stream or sys.stdout
        self.extra_replacements = []

    def add_replacement(self, old, new):
        if old:
            self.extra_replacements.append((old, new))

    def norm(self, s):
        s = str(s)
        for old, new in self.extra_replacements:
            s = s.replace(old, new)
        return s.replace(self.prefix, PREFIX_TOKEN)

    def line(self, s=""):
        # safety net: never print object addresses
        s = ADDRESS_RE.sub(" at 0x?", self.norm(s))
        self.stream.write(s + "\n")
        self.stream.flush()

    def section(self, title):
        self.line("")
        self.line("=" * 8 + " " + title + " " + "=" * 8)


HOST_IN_MSG = re.compile(r"'([^']*)'@'[^']*'")


def norm_exception_text(e):
    """str() of a client-side exception without memory addresses."""
    return re.sub(r"0x[0-9a-fA-F]{6,}", "0x?", str(e))


def norm_error_message(msg):
    """Access-denied messages contain the client address as the server sees it;
    that legitimately differs when a proxy sits in between."""
    return HOST_IN_MSG.sub(r"'\1'@'<HOST>'", msg)


# Flag names (MySQL column definition flags).
COLUMN_FLAGS = [
    (1, "NOT_NULL"),
    (2, "PRI_KEY"),
    (4, "UNIQUE_KEY"),
    (8, "MULTIPLE_KEY"),
    (16, "BLOB"),
    (32, "UNSIGNED"),
    (64, "ZEROFILL"),
    (128, "BINARY"),
    (256, "ENUM"),
    (512, "AUTO_INCREMENT"),
    (1024, "TIMESTAMP"),
    (2048, "SET"),
    (4096, "NO_DEFAULT_VALUE"),
    (8192, "ON_UPDATE_NOW"),
    (16384, "PART_KEY"),
    (32768, "NUM"),
    (65536, "GROUP"),
    (131072, "UNIQUE"),
    (262144, "BINCMP"),
]


def flag_names(flags):
    names = [n for bit, n in COLUMN_FLAGS if flags & bit]
    rest = flags & ~sum(b for b, _ in COLUMN_FLAGS)
    if rest:
        names.append(hex(rest))
    return "|".join(names) or "0"


STATUS_FLAGS = [
    (0x0001, "IN_TRANS"),
    (0x0002, "AUTOCOMMIT"),
    (0x0008, "MORE_RESULTS"),
    (0x0010, "NO_GOOD_INDEX"),
    (0x0020, "NO_INDEX"),
    (0x0040, "CURSOR_EXISTS"),
    (0x0080, "LAST_ROW_SENT"),
    (0x0100, "DB_DROPPED"),
    (0x0200, "NO_BACKSLASH_ESCAPES"),
    (0x0400, "METADATA_CHANGED"),
    (0x0800, "QUERY_WAS_SLOW"),
    (0x1000, "PS_OUT_PARAMS"),
    (0x2000, "IN_TRANS_READONLY"),
    (0x4000, "SESSION_STATE_CHANGED"),
]


def status_names(st):
    if st is None:
        return "None"
    names = [n for bit, n in STATUS_FLAGS if st & bit]
    rest = st & ~sum(b for b, _ in STATUS_FLAGS)
    if rest:
        names.append(hex(rest))
    return f"{st:#06x}[" + "|".join(names) + "]"


FIELD_TYPES = {
    0: "DECIMAL", 1: "TINY", 2: "SHORT", 3: "LONG", 4: "FLOAT", 5: "DOUBLE",
    6: "NULL", 7: "TIMESTAMP", 8: "LONGLONG", 9: "INT24", 10: "DATE",
    11: "TIME", 12: "DATETIME", 13: "YEAR", 14: "NEWDATE", 15: "VARCHAR",
    16: "BIT", 17: "TIMESTAMP2", 18: "DATETIME2", 19: "TIME2", 245: "JSON",
    246: "NEWDECIMAL", 247: "ENUM", 248: "SET", 249: "TINY_BLOB",
    250: "MEDIUM_BLOB", 251: "LONG_BLOB", 252: "BLOB", 253: "VAR_STRING",
    254: "STRING", 255: "GEOMETRY",
}


def type_name(t):
    return f"{t}({FIELD_TYPES.get(t, '?')})"


# ---------------------------------------------------------------------------
# Shared SQL
# ---------------------------------------------------------------------------

SESSION_SETUP = [
    "SET time_zone = '+00:00'",
    "SET sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
    "SET div_precision_increment = 4",
    "SELECT @@character_set_client, @@character_set_connection, "
    "@@character_set_results, @@collation_connection, @@autocommit, "
    "@@time_zone, @@sql_mode",
]

TYPE_COLUMNS = """
  id INT NOT NULL PRIMARY KEY,
  c_tinyint TINYINT, c_tinyint_u TINYINT UNSIGNED,
  c_smallint SMALLINT, c_smallint_u SMALLINT UNSIGNED,
  c_mediumint MEDIUMINT, c_mediumint_u MEDIUMINT UNSIGNED,
  c_int INT, c_int_u INT UNSIGNED,
  c_bigint BIGINT, c_bigint_u BIGINT UNSIGNED,
  c_decimal DECIMAL(30,10), c_float FLOAT, c_double DOUBLE,
  c_bit1 BIT(1), c_bit17 BIT(17),
  c_date DATE, c_datetime DATETIME(6), c_timestamp TIMESTAMP(3) NULL DEFAULT NULL,
  c_time TIME(6), c_year YEAR,
  c_char CHAR(10), c_varchar VARCHAR(100), c_binary BINARY(8), c_varbinary VARBINARY(32),
  c_tinytext TINYTEXT, c_text TEXT, c_mediumtext MEDIUMTEXT, c_longtext LONGTEXT,
  c_tinyblob TINYBLOB, c_blob BLOB, c_mediumblob MEDIUMBLOB, c_longblob LONGBLOB,
  c_latin1 VARCHAR(50) CHARACTER SET latin1 COLLATE latin1_swedish_ci,
  c_utf8mb4 VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
  c_json JSON, c_enum ENUM('a','b','c'), c_set SET('x','y','z'),
  c_uuid UUID, c_inet6 INET6, c_inet4 INET4,
  c_geometry GEOMETRY, c_point POINT
"""

TYPE_COLUMN_NAMES = [
    ln.strip().split()[0]
    for part in TYPE_COLUMNS.strip().split("\n")
    for ln in re.split(r",\s*(?=c_|id )", part.strip().rstrip(","))
    if ln.strip()
]


def create_types_table(p, name="types"):
    return (
        f"CREATE TABLE {p}{name} ({TYPE_COLUMNS}) ENGINE=InnoDB "
        "DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"
    )


def insert_types_rows(p, name="types"):
    t = f"{p}{name}"
    return [py_escape_fix(s) for s in _insert_types_rows(t)]


def _insert_types_rows(t):
    return [
        # 1: maximum values, non-ASCII text, non-UTF-8 bytes in blobs
        f"""INSERT INTO {t} VALUES (1,
          127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,
          9223372036854775807, 18446744073709551615,
          12345678901234567890.1234567890, 3.14159, 2.718281828459045,
          b'1', b'10101010101010101',
          '2024-02-29', '2024-02-29 23:59:59.123456', '2038-01-19 03:14:07.999',
          '838:59:59.000000', 2155,
          'abc', 'hello world', X'0001020300', X'00ff80fe27225c',
          'tiny', 'text value', 'medium value', 'long value',
          X'00ff', X'00ff80fe0a0d1a5c27', X'c328e282', X'f0908c28fff8',
          'caf\\xe9 \\xf1', 'h\\xe9llo \\U0001F600 \\u65e5\\u672c',
          '{{"a": [1, 2.5, "x", null, true], "b": {{"c": "\\u00e9"}}}}',
          'b', 'x,z',
          '123e4567-e89b-12d3-a456-426614174000', '2001:db8::ff00:42:8329', '192.0.2.1',
          ST_GeomFromText('LINESTRING(0 0,1 1,2 2)'), POINT(1.5, -2.25))""",
        # 2: minimum values
        f"""INSERT INTO {t} VALUES (2,
          -128, 0, -32768, 0, -8388608, 0, -2147483648, 0,
          -9223372036854775808, 0,
          -99999999999999999999.9999999999, -1.5e-10, -1.7976931348623157e308,
          b'0', b'0',
          '1000-01-01', '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01.000',
          '-838:59:59.000000', 1901,
          '', '', '', '',
          '', '', '', '',
          '', '', '', '',
          '\\xc4\\xd6\\xdc\\xdf', '\\u65e5\\u672c\\u8a9e \\U0001F389',
          '[]', 'a', '',
          '00000000-0000-0000-0000-000000000000', '::', '0.0.0.0',
          ST_GeomFromText('POLYGON((0 0,4 0,4 4,0 4,0 0))'), POINT(0, 0))""",
        # 3: zero dates, negative fractional time, odd values
        f"""INSERT INTO {t} VALUES (3,
          0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
          0.0000000001, 0, 0.1,
          b'1', b'11111111111111111',
          '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00',
          '-00:00:01.5', 0,
          'pad  ', 'trailing  ', X'41', X'42',
          'a\\tb\\nc', 'quote''s "double" back\\\\slash', NULL, '',
          X'00', NULL, '', X'00000000',
          'x', 'y',
          '"just a string"', 'c', 'x,y,z',
          'ffffffff-ffff-ffff-ffff-ffffffffffff', '::ffff:192.0.2.128', '255.255.255.255',
          ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 2),LINESTRING(0 0,1 1))'), POINT(-1e10, 1e-10))""",
        # 4: NULL in every column
        f"INSERT INTO {t} (id) VALUES (4)",
    ]


def py_escape_fix(sql):
    """The INSERTs above are written with Python-style escapes for non-ASCII
    characters (\\xe9, \\U0001F600, ...) so this file stays ASCII; turn them
    into the real characters (leaving SQL escapes like \\\\, \\t, \\n alone)."""
    return re.sub(
        r"\\x([0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})",
        lambda m: chr(int(m.group(1) or m.group(2) or m.group(3), 16)),
        sql,
    )


def select_types(p, name="types"):
    return f"SELECT * FROM {p}{name} ORDER BY id"


def select_types_as_text(p, name="types"):
    """The same table with every value turned into text server-side (so the
    bytes the server sent are visible independent of driver conversions)."""
    return (
        "SELECT id, c_bit1 + 0 AS bit1_num, c_bit17 + 0 AS bit17_num, BIN(c_bit17) AS bit17_bin, "
        "HEX(c_binary) AS hex_binary, HEX(c_varbinary) AS hex_varbinary, "
        "HEX(c_tinyblob), HEX(c_blob), HEX(c_mediumblob), HEX(c_longblob), "
        "HEX(c_latin1), HEX(c_utf8mb4), CAST(c_json AS CHAR) AS json_text, "
        "ST_AsText(c_geometry) AS geom_wkt, ST_AsText(c_point) AS point_wkt, "
        "HEX(c_geometry) AS geom_hex, CAST(c_uuid AS CHAR) AS uuid_text, "
        "CAST(c_inet6 AS CHAR) AS inet6_text, CAST(c_inet4 AS CHAR) AS inet4_text, "
        "CAST(c_time AS CHAR) AS time_text, CAST(c_datetime AS CHAR) AS dt_text, "
        "CAST(c_timestamp AS CHAR) AS ts_text, UNIX_TIMESTAMP(c_timestamp) AS ts_unix, "
        "c_enum + 0 AS enum_num, c_set + 0 AS set_num, "
        "CONCAT(c_float) AS float_text, CONCAT(c_double) AS double_text "
        f"FROM {p}{name} ORDER BY id"
    )


LITERAL_SELECTS = [
    "SELECT 1, -1, 1.5, -0.0001, 1e3, 2.5e-3, 'str', _latin1 'l\xe4t', _binary 'b\\0n', "
    "X'00ff', b'101', NULL, TRUE, 18446744073709551615, -9223372036854775808, "
    "123456789012345678901234567890.123456789",
    "SELECT CAST('2024-01-02' AS DATE) AS d, CAST('2024-01-02 03:04:05.678' AS DATETIME(3)) AS dt, "
    "CAST('-12:34:56.7' AS TIME(1)) AS t, TIMESTAMP'2001-02-03 04:05:06' AS ts_lit, "
    "CAST(3 AS UNSIGNED) AS u, CAST(-3 AS SIGNED) AS s, CAST(1.25 AS DECIMAL(5,2)) AS dec52, "
    "CAST(1.25 AS FLOAT) AS f, CAST(1.25 AS DOUBLE) AS dbl, CAST('x' AS BINARY(3)) AS bin3, "
    "CONVERT('\u00e9' USING latin1) AS conv_latin1, CONVERT('\u00e9' USING utf8mb3) AS conv_utf8mb3, "
    "'\U0001F600' AS emoji, CHAR(65, 66) AS char_fn, JSON_OBJECT('k', 1) AS jo, "
    "INET6_ATON('::1') AS aton, UUID_SHORT() IS NOT NULL AS us",
    "SELECT 1 AS a UNION ALL SELECT 2 UNION ALL SELECT NULL",
    "SELECT * FROM (SELECT 1 AS x) AS d WHERE 1 = 0",
    "SELECT SQL_CALC_FOUND_ROWS 1 LIMIT 0",
    "SELECT FOUND_ROWS(), ROW_COUNT()",
]


def error_statements(p):
    """(sql, expected errno) pairs; the expected errno is only informative."""
    return [
        (f"INSERT INTO {p}types (id) VALUES (1)", 1062),
        (f"SELECT no_such_column FROM {p}types", 1054),
        ("SELEC 1", 1064),
        (f"SELECT * FROM {p}no_such_table", 1146),
        ("SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'custom'", 1644),
        ("SIGNAL SQLSTATE '01000' SET MESSAGE_TEXT = 'custom warning', MYSQL_ERRNO = 1642", 0),
        (f"INSERT INTO {p}chk (a) VALUES (-1)", 4025),
        (f"INSERT INTO {p}chk (a) VALUES (1 / 0)", 1365),
        ("SELECT 1 / 0, 5 % 0, LOG(-1)", 0),
        (f"INSERT INTO {p}trunc (v) VALUES ('far too long')", 1406),
        (f"INSERT INTO {p}trunc (n) VALUES (300)", 1264),
        ("SELECT CAST('abc' AS SIGNED), CAST('1x' AS DECIMAL(5,2))", 0),
        ("DROP TABLE no_such_db_xyz.no_such_table", 1051),
        ("KILL 999999999", 1094),
        ("SELECT JSON_EXTRACT('{bad', '$')", 4038),
        (f"INSERT INTO {p}types (id, c_enum) VALUES (99, 'nope')", 1265),
        (f"INSERT INTO {p}types (id, c_inet4) VALUES (98, 'not-an-ip')", 1292),
    ]


def nonstrict_statements(p):
    return [
        "SET sql_mode = ''",
        f"INSERT INTO {p}trunc (v) VALUES ('far too long')",
        f"INSERT INTO {p}trunc (n) VALUES (300)",
        f"INSERT INTO {p}trunc (v, n) VALUES ('ok', -5), ('also far too long', 1000)",
        f"INSERT INTO {p}chk (a) VALUES (1 / 0)",
        f"INSERT INTO {p}types (id, c_enum, c_date) VALUES (97, 'nope', '2024-13-45')",
        f"SELECT * FROM {p}trunc ORDER BY id",
        f"DELETE FROM {p}types WHERE id = 97",
        "SET sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
    ]


TABLES = ["types", "chk", "trunc", "ar", "tx", "li", "big"]


def support_tables(p):
    return [
        create_types_table(p),
        f"CREATE TABLE {p}chk (a INT, CONSTRAINT {p}chk_pos CHECK (a > 0))",
        f"CREATE TABLE {p}trunc (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(5), "
        "n TINYINT UNSIGNED) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
        f"CREATE TABLE {p}ar (id INT AUTO_INCREMENT PRIMARY KEY, k INT UNIQUE, "
        "v VARCHAR(20)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
        f"CREATE TABLE {p}tx (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB",
        f"CREATE TABLE {p}li (id INT PRIMARY KEY, name VARCHAR(30), amount DECIMAL(10,2), "
        "note VARCHAR(30) NULL) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
        f"CREATE TABLE {p}big (id INT PRIMARY KEY, b LONGBLOB)",
    ]


def drop_everything(p):
    return [
        # one table per statement: the 1051 note for a list of unknown tables
        # is truncated at a fixed length, which would depend on the prefix
        *[f"DROP TABLE IF EXISTS {p}{t}" for t in TABLES],
        f"DROP PROCEDURE IF EXISTS {p}proc",
        f"DROP PROCEDURE IF EXISTS {p}proc_out",
        f"DROP DATABASE IF EXISTS {p}otherdb",
    ]


def affected_rows_statements(p):
    t = f"{p}ar"
    return [
        f"INSERT INTO {t} (k, v) VALUES (10, 'one')",
        f"INSERT INTO {t} (k, v) VALUES (20, 'two'), (30, 'three'), (40, 'four')",
        "SELECT LAST_INSERT_ID(), ROW_COUNT()",
        f"INSERT INTO {t} (id, k, v) VALUES (100, 50, 'explicit id')",
        f"INSERT INTO {t} (k, v) VALUES (60, 'after explicit')",
        f"UPDATE {t} SET v = CONCAT(v, '!') WHERE k IN (10, 20)",
        f"UPDATE {t} SET v = v WHERE k IN (10, 20)",
        f"UPDATE {t} SET v = 'x' WHERE k = -1",
        "SELECT ROW_COUNT()",
        f"INSERT INTO {t} (k, v) VALUES (10, 'dup') ON DUPLICATE KEY UPDATE v = VALUES(v)",
        f"INSERT INTO {t} (k, v) VALUES (10, 'dup') ON DUPLICATE KEY UPDATE v = VALUES(v)",
        f"INSERT INTO {t} (k, v) VALUES (70, 'new') ON DUPLICATE KEY UPDATE v = VALUES(v)",
        f"INSERT INTO {t} (k, v) VALUES (20, 'a'), (80, 'b') ON DUPLICATE KEY UPDATE v = 'multi'",
        f"INSERT INTO {t} (k, v) VALUES (30, 'lid') ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id), v = 'lid'",
        f"REPLACE INTO {t} (k, v) VALUES (40, 'replaced')",
        f"INSERT IGNORE INTO {t} (k, v) VALUES (40, 'ignored'), (90, 'not ignored')",
        f"DELETE FROM {t} WHERE k >= 70",
        f"DELETE FROM {t} WHERE k = -1",
        "SELECT LAST_INSERT_ID(12345)",
        "SELECT LAST_INSERT_ID()",
        f"SELECT * FROM {t} ORDER BY id",
    ]


def procedure_ddl(p):
    return [
        f"DROP PROCEDURE IF EXISTS {p}proc",
        f"""CREATE PROCEDURE {p}proc(IN n INT)
BEGIN
  SELECT n AS first_col, 'first' AS label;
  SELECT n + 1 AS a, n * 2.5 AS b, CAST(n AS CHAR) AS c UNION ALL SELECT n + 2, NULL, 'z';
  UPDATE {p}ar SET v = CONCAT('p', n) WHERE k = 10;
END""",
        f"DROP PROCEDURE IF EXISTS {p}proc_out",
        f"""CREATE PROCEDURE {p}proc_out(IN a INT, OUT b INT, INOUT c VARCHAR(20))
BEGIN
  SET b = a * 10;
  SET c = CONCAT(c, '+', a);
END""",
    ]


def transaction_statements(p):
    t = f"{p}tx"
    return [
        "BEGIN",
        f"INSERT INTO {t} VALUES (1, 'rolled back')",
        f"SELECT * FROM {t}",
        "ROLLBACK",
        f"SELECT COUNT(*) FROM {t}",
        "START TRANSACTION",
        f"INSERT INTO {t} VALUES (2, 'committed')",
        "COMMIT",
        f"SELECT * FROM {t}",
        "START TRANSACTION READ ONLY",
        f"SELECT COUNT(*) FROM {t}",
        f"INSERT INTO {t} VALUES (3, 'ro')",
        "COMMIT",
        "BEGIN",
        f"INSERT INTO {t} VALUES (4, 'sp')",
        "SAVEPOINT sp1",
        f"INSERT INTO {t} VALUES (5, 'after sp')",
        "ROLLBACK TO SAVEPOINT sp1",
        "COMMIT",
        f"SELECT * FROM {t} ORDER BY id",
    ]


def session_statements(p):
    return [
        "SET @x = 5",
        "SELECT @x, @x + 1, @undefined_var",
        "SET @s = _utf8mb4'\u00e9\U0001F600', @b = X'00FF', @d = 1.5",
        "SELECT @s, @b, @d, @x",
        f"CREATE TEMPORARY TABLE {p}tmp (a INT, b VARCHAR(10))",
        f"INSERT INTO {p}tmp VALUES (1, 'tmp one'), (2, 'tmp two')",
        f"SELECT * FROM {p}tmp ORDER BY a",
        f"SELECT GET_LOCK('{p}lock', 5)",
        f"SELECT IS_FREE_LOCK('{p}lock'), IS_USED_LOCK('{p}lock') IS NOT NULL",
        f"SELECT RELEASE_LOCK('{p}lock')",
        f"SELECT RELEASE_LOCK('{p}lock')",
        f"SELECT RELEASE_LOCK('{p}never_taken')",
        f"LOCK TABLES {p}ar WRITE, {p}tx READ",
        f"INSERT INTO {p}ar (k, v) VALUES (500, 'locked')",
        f"SELECT COUNT(*) FROM {p}tx",
        f"SELECT COUNT(*) FROM {p}chk",
        f"INSERT INTO {p}tx VALUES (99, 'read lock')",
        "UNLOCK TABLES",
        f"SELECT COUNT(*) FROM {p}chk",
        f"DROP TEMPORARY TABLE {p}tmp",
        f"SELECT * FROM {p}tmp",
    ]


def latin1_select(p):
    return f"SELECT c_latin1, c_utf8mb4, _latin1 X'E9' AS lit FROM {p}types ORDER BY id"


def make_local_infile():
    """A small tab-separated file; returns its path (caller deletes)."""
    rows = [
        "1\talpha\t1.50\t\\N",
        "2\tb\u00e9ta \U0001F600\t-2.25\tnote",
        "3\tgamma\ttoo-many-digits-not-a-number\t",
        "4\tdelta\t4\textra\tfield",
        "1\tduplicate\t0\t\\N",
    ]
    fd, path = tempfile.mkstemp(prefix="compat_li_", suffix=".tsv")
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(rows) + "\n")
    return path


def exact_16m_query():
    """A COM_QUERY whose payload (command byte + SQL) is exactly 0xFFFFFF bytes,
    so the client must send it as a full packet plus an empty one."""
    head = "SELECT LENGTH('"
    tail = "') AS len"
    n = 0xFFFFFF - 1 - len(head) - len(tail)
    return head + "q" * n + tail, n

