#!/usr/bin/env python3
"""Client-compatibility battery for mysql-connector-python.

Runs the battery twice per invocation: with the pure-Python implementation
(use_pure=True) and with the C extension (use_pure=False) when it can be
loaded.  Exercises the text protocol and the binary protocol (server-side
prepared statements: COM_STMT_PREPARE / EXECUTE / SEND_LONG_DATA / FETCH /
RESET / CLOSE) plus COM_INIT_DB, COM_PING, COM_RESET_CONNECTION and
COM_CHANGE_USER.

Run once directly against MariaDB and once through the proxy with different
--schema-prefix values; the two stdout reports must be byte-identical.
See README.md.
"""

# The C extension ships its own OpenSSL 3.x; it must be loaded before the
# system libssl/libcrypto get pulled in by `ssl`/`hashlib`, otherwise the
# dynamic loader refuses it (OPENSSL_3.2.0 symbol versions).  So: first.
try:
    import _mysql_connector  # noqa: F401

    HAVE_CEXT_MODULE = True
except Exception:  # pragma: no cover - depends on the platform
    HAVE_CEXT_MODULE = False

import datetime as dt  # noqa: E402
import decimal  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402

warnings.simplefilter("ignore", DeprecationWarning)

# no __pycache__ next to the sources (the repo does not ignore it)
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mysql.connector  # noqa: E402
from mysql.connector import errors as mc_errors  # noqa: E402
from mysql.connector import protocol as mc_protocol  # noqa: E402
from mysql.connector import utils as mc_utils  # noqa: E402
from mysql.connector.constants import ClientFlag  # noqa: E402

import compat_common as cc  # noqa: E402

try:
    from mysql.connector import connection_cext as mc_cext  # noqa: E402
except Exception:  # pragma: no cover
    mc_cext = None

CEXT_AVAILABLE = bool(HAVE_CEXT_MODULE and mc_cext is not None and getattr(mysql.connector, "HAVE_CEXT", False))

# ---------------------------------------------------------------------------
# Wire-level capture.  The driver's cursor.description drops length,
# decimals, table names ...; record every column definition (and every
# OK/EOF the pure implementation parses) so the report shows all of it.
# ---------------------------------------------------------------------------
WIRE = []
CAPTURE = [False]


def _record(kind, data):
    if CAPTURE[0]:
        WIRE.append((kind, data))


_orig_parse_column = mc_protocol.MySQLProtocol.parse_column
_orig_parse_ok = mc_protocol.MySQLProtocol.parse_ok
_orig_parse_eof = mc_protocol.MySQLProtocol.parse_eof
_orig_parse_prep_ok = mc_protocol.MySQLProtocol.parse_binary_prepare_ok


def _decode_column_packet(packet):
    rest = packet[4:]
    vals = []
    for _ in range(6):
        rest, v = mc_utils.read_lc_string(rest)
        vals.append(bytes(v))
    charset, length, ftype, flags, decimals = struct.unpack("<xHIBHBxx", rest[:13])
    return dict(
        catalog=vals[0], db=vals[1], table=vals[2], org_table=vals[3], name=vals[4], org_name=vals[5],
        charsetnr=charset, length=length, type=ftype, flags=flags, decimals=decimals,
    )


def _parse_column(packet, encoding="utf-8"):
    if CAPTURE[0]:
        try:
            _record("column", _decode_column_packet(packet))
        except Exception as e:  # pragma: no cover
            _record("column", {"undecodable": repr(e)})
    return _orig_parse_column(packet, encoding)


def _parse_ok(packet):
    res = _orig_parse_ok(packet)
    _record("ok", dict(res))
    return res


def _parse_eof(self, packet):
    res = _orig_parse_eof(self, packet)
    _record("eof", dict(res))
    return res


def _parse_prep_ok(packet):
    res = _orig_parse_prep_ok(packet)
    _record("prepare_ok", {k: v for k, v in res.items() if k != "statement_id"})
    return res


mc_protocol.MySQLProtocol.parse_column = staticmethod(_parse_column)
mc_protocol.MySQLProtocol.parse_ok = staticmethod(_parse_ok)
mc_protocol.MySQLProtocol.parse_eof = _parse_eof
mc_protocol.MySQLProtocol.parse_binary_prepare_ok = staticmethod(_parse_prep_ok)

if mc_cext is not None:
    _orig_fetch_eof_columns = mc_cext.CMySQLConnection.fetch_eof_columns

    def _fetch_eof_columns(self, prep_stmt=None):
        if CAPTURE[0]:
            try:
                fields = prep_stmt.fetch_fields() if prep_stmt else self._cmysql.fetch_fields()
                for f in fields:
                    _record("column", dict(
                        catalog=f[0], db=f[1], table=f[2], org_table=f[3], name=f[4], org_name=f[5],
                        charsetnr=f[6], length=f[7], type=f[8], flags=f[9], decimals=f[10],
                    ))
            except Exception as e:  # pragma: no cover
                _record("column", {"unavailable": type(e).__name__})
        return _orig_fetch_eof_columns(self, prep_stmt)

    mc_cext.CMySQLConnection.fetch_eof_columns = _fetch_eof_columns


class Battery:
    def __init__(self, args, mode):
        self.args = args
        self.mode = mode
        self.pure = mode == "pure"
        self.p = args.schema_prefix
        self.r = cc.Report(self.p)
        self.conn = None

    # -- connection ----------------------------------------------------------
    def connect(self, **kw):
        a = self.args
        params = dict(
            host=a.host,
            port=a.port,
            user=a.user,
            password=a.password,
            database=a.database,
            use_pure=self.pure,
            charset="utf8mb4",
            collation="utf8mb4_general_ci",
            autocommit=True,
            allow_local_infile=True,
            ssl_disabled=True,
            use_unicode=True,
        )
        params.update(kw)
        return mysql.connector.connect(**params)

    # -- printing ------------------------------------------------------------
    def print_error(self, e, indent="  "):
        if isinstance(e, mc_errors.Error):
            self.r.line(
                f"{indent}ERROR {type(e).__name__} errno={e.errno} sqlstate={e.sqlstate} "
                f"msg={cc.norm_error_message(str(e.msg))!r}"
            )
        else:
            self.r.line(f"{indent}ERROR {type(e).__name__} {cc.norm_error_message(str(e))!r}")

    def print_wire(self):
        events = list(WIRE)
        WIRE.clear()
        if not events:
            return
        self.r.line("  wire:")
        for kind, d in events:
            if kind == "column" and "type" in d:
                self.r.line(
                    f"    column name={d['name']!r} org_name={d['org_name']!r} table={d['table']!r} "
                    f"org_table={d['org_table']!r} db={d['db']!r} catalog={d['catalog']!r}"
                )
                self.r.line(
                    f"           type={cc.type_name(d['type'])} charsetnr={d['charsetnr']} length={d['length']} "
                    f"decimals={d['decimals']} flags={d['flags']:#x}[{cc.flag_names(d['flags'])}]"
                )
            else:
                dd = dict(d)
                for key in ("status_flag", "server_status"):
                    if key in dd:
                        dd[key] = cc.status_names(dd[key])
                self.r.line(f"    {kind} " + ", ".join(f"{k}={v!r}" for k, v in sorted(dd.items())))

    def print_cursor_result(self, cur):
        desc = cur.description
        if desc:
            self.r.line(f"  columns: {len(desc)} column_names={tuple(cur.column_names)!r}")
            for i, d in enumerate(desc):
                self.r.line(f"    [{i}] {d!r} flags=[{cc.flag_names(d[7])}]")
        if cur.with_rows:
            rows = cur.fetchall()
            self.r.line(f"  rows: {len(rows)}")
            for row in rows:
                self.r.line("    " + cc.fmt_row(row))
        self.r.line(
            f"  rowcount={cur.rowcount} lastrowid={cur.lastrowid} warning_count={cur.warning_count} "
            f"with_rows={cur.with_rows}"
        )

    def show_warnings(self):
        CAPTURE[0] = False
        cur = self.conn.cursor(buffered=True)
        try:
            cur.execute("SHOW WARNINGS")
            rows = cur.fetchall()
            self.r.line(f"  SHOW WARNINGS: {len(rows)}")
            for row in rows:
                self.r.line("    " + cc.fmt_row(row))
        finally:
            cur.close()

    # -- statement runner -----------------------------------------------------
    def q(self, sql, params=None, prepared=False, label=None, warnings=True, cursor=None):
        self.r.line("")
        self.r.line(f"{'PS' if prepared else 'SQL'}: {label or sql}")
        if params is not None:
            self.r.line(f"  params: {cc.fmt_row(params)}")
        own = cursor is None
        WIRE.clear()
        CAPTURE[0] = True
        failed = False
        warn_total = 0
        cur = cursor
        try:
            if cur is None:
                # (the pure implementation sends a COM_PING from cursor())
                cur = self.conn.cursor(prepared=True) if prepared else self.conn.cursor(buffered=True)
            WIRE.clear()
            CAPTURE[0] = True
            cur.execute(sql, params)
            idx = 0
            while True:
                self.r.line(f" result #{idx}:")
                self.print_cursor_result(cur)
                warn_total += cur.warning_count or 0
                idx += 1
                if prepared:
                    break
                try:
                    more = cur.nextset()
                except mc_errors.Error as e:
                    self.r.line(f" result #{idx}:")
                    self.print_error(e)
                    failed = True
                    break
                except Exception as e:
                    # e.g. the C extension leaks _mysql_connector.MySQLInterfaceError
                    # from nextset() when a later statement of a batch fails
                    self.r.line(f" result #{idx}:")
                    self.r.line(f"  CLIENT-EXCEPTION {type(e).__name__}: {cc.norm_exception_text(e)}")
                    failed = True
                    break
                if not more:
                    break
        except mc_errors.Error as e:
            self.print_error(e)
            failed = True
        except (TypeError, ValueError, OverflowError, SystemError) as e:
            # client-side conversion failures (e.g. a parameter the driver
            # cannot encode); printed, not fatal
            self.r.line(f"  CLIENT-EXCEPTION {type(e).__name__}: {cc.norm_exception_text(e)}")
            failed = True
        finally:
            CAPTURE[0] = False
            self.print_wire()
            if own and cur is not None:
                try:
                    cur.close()
                except mc_errors.Error as e:
                    self.r.line("  (cursor close)")
                    self.print_error(e)
        if warnings and (failed or warn_total):
            self.show_warnings()
        return not failed

    def note(self, s):
        self.r.line(s)

    # -- battery --------------------------------------------------------------
    def run(self):
        p = self.p
        r = self.r
        r.section(f"mode: {self.mode}")
        self.conn = self.connect()
        conn = self.conn
        r.line(f"connection class={type(conn).__name__} autocommit={conn.autocommit} "
               f"charset={conn.charset!r} collation={conn.collation!r} in_transaction={conn.in_transaction}")

        r.section("session setup")
        for s in cc.SESSION_SETUP:
            self.q(s)

        r.section("cleanup of earlier runs + tables")
        for s in cc.drop_everything(p):
            self.q(s)
        for s in cc.support_tables(p):
            self.q(s)

        r.section("all column types: text protocol")
        for s in cc.insert_types_rows(p):
            self.q(s)
        self.q(cc.select_types(p))
        self.q(cc.select_types_as_text(p))
        for s in cc.LITERAL_SELECTS:
            self.q(s)

        r.section("all column types: binary protocol (prepared)")
        if self.pure:
            # The pure implementation decodes a binary-protocol YEAR (2-byte
            # int) as a length-coded string, which derails the rest of the
            # row; keep YEAR out of its wide selects and show it separately.
            cols = ", ".join(c for c in cc.TYPE_COLUMN_NAMES if c != "c_year")
            self.note("")
            self.note("(pure: c_year excluded from the wide binary selects, see below)")
        else:
            cols = "*"
        self.q(f"SELECT {cols} FROM {p}types WHERE id >= ? ORDER BY id", (1,), prepared=True)
        self.q(f"SELECT {cols} FROM {p}types WHERE id = ?", (4,), prepared=True)
        self.q(f"SELECT id, c_year + 0, CAST(c_year AS CHAR) FROM {p}types WHERE id >= ? ORDER BY id", (1,),
               prepared=True)
        self.q(cc.select_types_as_text(p), prepared=True)
        for s in cc.LITERAL_SELECTS:
            self.q(s, prepared=True)
        self.q("SELECT ?, ?, ?, ?, ?, ?, ?", (1, -2**63, 2**63 - 1, 0, -1, 255, 65536), prepared=True)
        self.q("SELECT ?", (2**64 - 1,), prepared=True)
        self.q("SELECT ?, ?, ?, ?, ?", (1.25, -0.0, 1e300, decimal.Decimal("-12345.678901"),
                                       decimal.Decimal("123456789012345678901234567890.12345")), prepared=True)
        self.q("SELECT ?, ?, ?, ?", ("str \u00e9 \U0001F600", b"\x00\xff'\\\"", "", b""), prepared=True)
        self.q("SELECT ?", (bytearray(b"ba"),), prepared=True)
        self.q("SELECT ?, ?, ?", (None, True, False), prepared=True)
        self.q("SELECT ?, ?, ?, ?, ?", (dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 1, 2, 3, 456789),
                                       dt.datetime(1000, 1, 1), dt.time(23, 59, 59, 1),
                                       dt.timedelta(days=-1, seconds=86398, microseconds=500000)), prepared=True)
        self.q("SELECT ? + 0, CONCAT(?, ''), ? IS NULL, CAST(? AS DATE)", (5, 7, None, "2020-01-02"), prepared=True)
        self.q(f"INSERT INTO {p}types (id, c_tinyint, c_bigint_u, c_decimal, c_float, c_double, c_bit17, c_date, "
               f"c_datetime, c_timestamp, c_time, c_year, c_varchar, c_varbinary, c_blob, c_latin1, c_utf8mb4, "
               f"c_json, c_enum, c_set, c_uuid, c_inet6, c_inet4) VALUES "
               f"(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (10, -5, 9223372036854775807, decimal.Decimal("-1234567890.0123456789"), 0.5, 1e300,
                b"\x01\x00\x01", dt.date(1999, 12, 31), dt.datetime(2000, 1, 1, 0, 0, 0, 1),
                dt.datetime(2001, 9, 9, 1, 46, 40, 500000),
                dt.timedelta(days=-1, seconds=86399, microseconds=250000), 1999, "param \u00fc",
                b"\x00\x01\xfe\xff", bytes(range(256)), "\u00e0\u00e9\u00ee", "\u2603 \U0001F600",
                '{"k": [1, 2]}', "c", "y,x", "6ccd780c-baba-1026-9564-5b8c656024db", "fe80::1", "10.0.0.1"),
               prepared=True)
        self.q(f"SELECT {cols} FROM {p}types WHERE id = ?", (10,), prepared=True)
        self.q(f"SELECT * FROM {p}types WHERE id = 10")
        self.q(f"UPDATE {p}types SET c_varchar = ? WHERE id = ?", ("updated", 10), prepared=True)
        self.q(f"UPDATE {p}types SET c_varchar = ? WHERE id = ?", ("updated", 10), prepared=True)
        self.q(f"DELETE FROM {p}types WHERE id = ?", (10,), prepared=True)
        # same statement text re-executed with different parameter types
        cur = conn.cursor(prepared=True)
        for params in ((1,), ("2",), (3.0,), (None,), (b"4",)):
            self.q(f"SELECT id, c_varchar FROM {p}types WHERE id = ?", params, prepared=True, cursor=cur)
        cur.close()

        r.section("errors: text protocol")
        for s, _expected in cc.error_statements(p):
            self.q(s)
        r.section("errors: binary protocol")
        self.q("SELEC ?", (1,), prepared=True)
        self.q(f"SELECT * FROM {p}no_such_table WHERE a = ?", (1,), prepared=True)
        self.q(f"SELECT no_such_column FROM {p}types WHERE id = ?", (1,), prepared=True)
        self.q(f"INSERT INTO {p}types (id) VALUES (?)", (1,), prepared=True)
        self.q(f"INSERT INTO {p}chk (a) VALUES (?)", (-1,), prepared=True)
        self.q(f"INSERT INTO {p}chk (a) VALUES (? / 0)", (1,), prepared=True)
        self.q(f"INSERT INTO {p}trunc (v) VALUES (?)", ("far too long",), prepared=True)
        self.q("SELECT ? / 0, ? % 0", (1, 5), prepared=True)
        self.q("SELECT ?, ?", (1,), prepared=True)
        self.q("SELECT 1; SELECT 2", prepared=True)
        self.q("SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'custom'", prepared=True)
        self.q("SELECT 'connection still usable'", prepared=True)
        r.section("non-strict mode warnings")
        for s in cc.nonstrict_statements(p):
            self.q(s)
        self.q("SET sql_mode = ''")
        self.q(f"INSERT INTO {p}trunc (v, n) VALUES (?, ?)", ("prepared too long", 999), prepared=True)
        self.q("SET sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'")

        r.section("affected rows / last insert id")
        for s in cc.affected_rows_statements(p):
            self.q(s)
        self.q(f"INSERT INTO {p}ar (k, v) VALUES (?, ?)", (700, "ps one"), prepared=True)
        self.q(f"INSERT INTO {p}ar (k, v) VALUES (?, ?), (?, ?)", (701, "ps two", 702, "ps three"), prepared=True)
        self.q(f"UPDATE {p}ar SET v = v WHERE k >= ?", (700,), prepared=True)
        self.q(f"INSERT INTO {p}ar (k, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v)",
               (700, "ps dup"), prepared=True)
        self.q(f"DELETE FROM {p}ar WHERE k >= ?", (700,), prepared=True)
        cur = conn.cursor(prepared=True)
        self.note("")
        self.note("executemany (prepared):")
        try:
            cur.executemany(f"INSERT INTO {p}ar (k, v) VALUES (?, ?)", [(800, "em1"), (801, "em2"), (802, "em3")])
            self.note(f"  rowcount={cur.rowcount} lastrowid={cur.lastrowid}")
        except mc_errors.Error as e:
            self.print_error(e)
        cur.close()
        cur = conn.cursor()
        self.note("executemany (text, batched INSERT):")
        try:
            cur.executemany(f"INSERT INTO {p}ar (k, v) VALUES (%s, %s)", [(900, "t1"), (901, "t2")])
            self.note(f"  rowcount={cur.rowcount} lastrowid={cur.lastrowid}")
        except mc_errors.Error as e:
            self.print_error(e)
        cur.close()
        self.q(f"SELECT * FROM {p}ar WHERE k >= 800 ORDER BY id")
        self.note("")
        self.note("-- CLIENT_FOUND_ROWS connection")
        main = self.conn
        self.conn = self.connect(client_flags=[ClientFlag.FOUND_ROWS])
        self.q(f"UPDATE {p}ar SET v = v WHERE k IN (10, 20)")
        self.q(f"UPDATE {p}ar SET v = v WHERE k IN (?, ?)", (10, 20), prepared=True)
        self.conn.close()
        self.conn = main

        r.section("multi-statements")
        self.q(f"SELECT 1; SELECT 2, 3; UPDATE {p}ar SET v = 'ms' WHERE k = 10; SELECT v FROM {p}ar WHERE k = 10")
        self.q("SELECT 'before'; SELECT no_such_col FROM dual_nope; SELECT 'never'")
        self.q("SELECT 'after failed multi'")
        self.q("SET @m1 = 1; SET @m2 = 2; SELECT @m1 + @m2 AS s")

        r.section("stored procedures")
        for s in cc.procedure_ddl(p):
            self.q(s)
        self.q(f"CALL {p}proc(7)")
        self.q(f"SELECT v FROM {p}ar WHERE k = 10")
        self.note("")
        self.note("callproc via driver:")
        cur = conn.cursor()
        CAPTURE[0] = True
        try:
            res = cur.callproc(f"{p}proc_out", (3, 0, "cp"))
            self.note(f"  returned {tuple(res)!r}")
            for i, sr in enumerate(cur.stored_results()):
                self.note(f"  stored result #{i}: {sr.fetchall()!r}")
        except mc_errors.Error as e:
            self.print_error(e)
        CAPTURE[0] = False
        WIRE.clear()
        cur.close()
        self.note("")
        self.note("callproc with result sets:")
        cur = conn.cursor()
        try:
            cur.callproc(f"{p}proc", (11,))
            for i, sr in enumerate(cur.stored_results()):
                self.note(f"  stored result #{i}: description={sr.description!r}")
                self.note(f"    rows={sr.fetchall()!r}")
        except mc_errors.Error as e:
            self.print_error(e)
        cur.close()
        self.binary_call(f"CALL {p}proc(?)", (21,))
        self.binary_call(f"CALL {p}proc_out(?, @ob, @oc)", (5,))
        self.q("SELECT @ob, @oc")

        r.section("transactions")
        for s in cc.transaction_statements(p):
            self.q(s)
        self.note("")
        self.note("-- driver API")
        conn.start_transaction()
        self.note(f"start_transaction(): in_transaction={conn.in_transaction}")
        self.q(f"INSERT INTO {p}tx VALUES (?, ?)", (20, "api rollback"), prepared=True)
        conn.rollback()
        self.note(f"rollback(): in_transaction={conn.in_transaction}")
        self.q(f"SELECT COUNT(*) FROM {p}tx WHERE id = ?", (20,), prepared=True)
        conn.autocommit = False
        self.note(f"autocommit=False -> {conn.autocommit}")
        self.q("SELECT @@autocommit")
        self.q(f"INSERT INTO {p}tx VALUES (21, 'api commit')")
        self.note(f"in_transaction={conn.in_transaction}")
        conn.commit()
        self.note(f"commit(): in_transaction={conn.in_transaction}")
        conn.autocommit = True
        self.note(f"autocommit=True -> {conn.autocommit}")
        self.q(f"SELECT * FROM {p}tx ORDER BY id")

        r.section("session state")
        for s in cc.session_statements(p):
            self.q(s)
        self.q("SELECT @x, @s", prepared=True)
        self.q(f"CREATE TEMPORARY TABLE {p}tmp2 (a INT)")
        self.q(f"INSERT INTO {p}tmp2 VALUES (?)", (42,), prepared=True)
        self.q(f"SELECT * FROM {p}tmp2")

        r.section("COM_RESET_CONNECTION / COM_CHANGE_USER")
        self.reset_and_change_user()

        r.section("LOAD DATA LOCAL INFILE")
        path = cc.make_local_infile()
        try:
            self.q(f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {p}li CHARACTER SET utf8mb4 "
                   "FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' (id, name, amount, note)",
                   label=f"LOAD DATA LOCAL INFILE '<FILE>' INTO TABLE {p}li ...")
            self.q(f"SELECT * FROM {p}li ORDER BY id")
        finally:
            os.unlink(path)
        self.q("SELECT 'connection usable after LOAD DATA LOCAL'")

        r.section("large values")
        blob = cc.deterministic_bytes(cc.BLOB_20M_LEN)
        self.note(f"20 MiB blob: {cc.summarize(blob)}")
        self.q(f"INSERT INTO {p}big (id, b) VALUES (?, ?)", (1, blob), prepared=True,
               label=f"INSERT INTO {p}big (id, b) VALUES (?, ?)  -- 20 MiB bytes parameter")
        del blob
        self.q(f"SELECT id, LENGTH(b), SHA2(b, 256) FROM {p}big ORDER BY id")
        if self.pure:
            self.note("")
            self.note("(pure: binary-protocol rows >= 16 MiB skipped: the pure implementation does not "
                      "reassemble multi-packet binary rows)")
        else:
            self.q(f"SELECT b FROM {p}big WHERE id = ?", (1,), prepared=True)
        self.q(f"SELECT b FROM {p}big WHERE id = 1")
        long_data = cc.deterministic_bytes(3 * cc.MIB + 12345, seed=3)
        self.note(f"3 MiB long data: {cc.summarize(long_data)}")
        if self.pure:
            self.q(f"INSERT INTO {p}big (id, b) VALUES (?, ?)", (2, io.BytesIO(long_data)), prepared=True,
                   label=f"INSERT INTO {p}big (id, b) VALUES (?, ?)  -- BytesIO -> COM_STMT_SEND_LONG_DATA")
        else:
            self.q(f"INSERT INTO {p}big (id, b) VALUES (?, ?)", (2, long_data), prepared=True,
                   label=f"INSERT INTO {p}big (id, b) VALUES (?, ?)  -- 3 MiB bytes parameter")
        self.q(f"SELECT id, LENGTH(b), SHA2(b, 256) FROM {p}big ORDER BY id")
        if self.pure:
            self.long_data_reset(long_data)
        self.q(f"SELECT REPEAT('x', {cc.REPEAT_17M_LEN}) AS big")
        self.q(f"SELECT REPEAT('y', {cc.EXACT_16M_ROW_STR}) AS exact_16m_text_row")
        if not self.pure:
            self.q(f"SELECT REPEAT('x', ?) AS big", (cc.REPEAT_17M_LEN,), prepared=True)
            self.q(f"SELECT REPEAT('y', ?) AS exact_16m_binary_row", (cc.EXACT_16M_BINARY_ROW_STR,),
                   prepared=True)
        self.q(f"SELECT REPEAT('y', ?) AS just_below_16m_binary_row", (cc.EXACT_16M_BINARY_ROW_STR - 1,),
               prepared=True)
        sql, n = cc.exact_16m_query()
        self.q(sql, label=f"SELECT LENGTH('<{n} x q>') AS len  -- COM_QUERY payload exactly 0xFFFFFF bytes")

        r.section("cursor over a prepared statement (COM_STMT_FETCH)")
        self.stmt_cursor()

        r.section("COM_INIT_DB / ping")
        self.q(f"CREATE DATABASE {p}otherdb")
        try:
            res = conn.cmd_init_db(f"{p}otherdb")
            self.note(f"cmd_init_db({p}otherdb) -> {self.ok_summary(res)}")
        except mc_errors.Error as e:
            self.print_error(e)
        self.note(f"conn.database={conn.database!r}")
        self.q("SELECT DATABASE()", prepared=True)
        self.q(f"CREATE TABLE {p}otherdb.t1 (a INT)")
        self.q("INSERT INTO t1 VALUES (?)", (1,), prepared=True)
        self.q("SELECT * FROM t1")
        try:
            conn.cmd_init_db(f"{p}no_such_db")
            self.note("cmd_init_db(no_such_db) unexpectedly succeeded")
        except mc_errors.Error as e:
            self.note(f"cmd_init_db({p}no_such_db):")
            self.print_error(e)
        self.q("SELECT DATABASE()")
        conn.database = self.args.database
        self.note("conn.database = <database>")
        self.q(f"SELECT DATABASE() = '{self.args.database}'")
        try:
            conn.ping(reconnect=False)
            self.note("ping() ok")
            if self.pure:
                res = conn.cmd_ping()
                self.note(f"cmd_ping() -> {self.ok_summary(res)}")
        except mc_errors.Error as e:
            self.print_error(e)
        self.q("SELECT @x AS session_var_survives_ping")
        self.note(f"is_connected()={conn.is_connected()}")

        r.section("SET NAMES latin1")
        conn.set_charset_collation("latin1")
        self.note(f"set_charset_collation('latin1'): charset={conn.charset!r} collation={conn.collation!r}")
        self.q("SELECT @@character_set_client, @@character_set_connection, @@character_set_results")
        self.q(cc.latin1_select(p))
        if self.pure:
            self.q(cc.latin1_select(p), prepared=True)
        else:
            # the C extension raises SystemError decoding latin1 binary rows
            # and leaves the connection unusable
            self.note("")
            self.note("(cext: prepared select under latin1 skipped)")
        self.q("SELECT 'caf\u00e9' AS literal, LENGTH('caf\u00e9') AS len")
        conn.set_charset_collation("utf8mb4", "utf8mb4_general_ci")
        self.note(f"set_charset_collation('utf8mb4'): charset={conn.charset!r} collation={conn.collation!r}")
        self.q(cc.latin1_select(p))

        r.section("connection errors")
        for kw in (dict(password="wrong_password"), dict(database=f"{p}no_such_db")):
            shown = {k: ("<wrong>" if k == "password" else v) for k, v in kw.items()}
            self.note(f"connect({shown})")
            try:
                c = self.connect(**kw)
                self.note("  unexpectedly connected")
                c.close()
            except mc_errors.Error as e:
                self.print_error(e)

        r.section("cleanup")
        for s in cc.drop_everything(p):
            self.q(s)
        conn.close()
        self.note("")
        self.note(f"END OF BATTERY ({self.mode})")

    # -- helpers for protocol features the cursor API does not reach -------------
    @staticmethod
    def ok_summary(res):
        if isinstance(res, dict):
            d = {k: v for k, v in res.items()}
            for key in ("status_flag", "server_status"):
                if key in d:
                    d[key] = cc.status_names(d[key])
            return ", ".join(f"{k}={v!r}" for k, v in sorted(d.items()))
        return repr(res)

    def binary_call(self, sql, params):
        """CALL through COM_STMT_EXECUTE: several binary result sets + final OK.
        The prepared cursor of this driver cannot consume the extra results,
        so this uses the (pure) connection's low-level command API."""
        self.note("")
        self.note(f"PS-CALL: {sql}")
        self.note(f"  params: {cc.fmt_row(params)}")
        if not self.pure:
            self.note("  skipped: needs the pure implementation's low-level API")
            return
        conn = self.conn
        WIRE.clear()
        CAPTURE[0] = True
        stmt = None
        try:
            stmt = conn.cmd_stmt_prepare(sql.encode())
            res = conn.cmd_stmt_execute(stmt["statement_id"], data=params, parameters=stmt["parameters"])
            idx = 0
            while True:
                if isinstance(res, tuple):
                    conn.unread_result = True
                    rows, eof = conn.get_rows(binary=True, columns=res[1])
                    self.note(f" result #{idx}: columns={[c[0] for c in res[1]]!r}")
                    for row in rows:
                        self.note("    " + cc.fmt_row(row))
                    self.note(f"    eof: {self.ok_summary(eof)}")
                    more = eof["status_flag"] & 0x08
                else:
                    self.note(f" result #{idx}: {self.ok_summary(res)}")
                    more = res["status_flag"] & 0x08
                idx += 1
                if not more:
                    break
                res = conn._handle_binary_result(conn._socket.recv())
        except mc_errors.Error as e:
            self.print_error(e)
        finally:
            CAPTURE[0] = False
            if stmt is not None:
                conn.cmd_stmt_close(stmt["statement_id"])
            self.print_wire()

    def stmt_cursor(self):
        p = self.p
        sql = f"SELECT k, v FROM {p}ar WHERE k >= ? ORDER BY k"
        self.note("")
        self.note(f"PS-CURSOR: {sql}  (CURSOR_TYPE_READ_ONLY, fetch 2 rows at a time)")
        if not self.pure:
            self.note("  skipped: needs the pure implementation's low-level API")
            return
        conn = self.conn
        WIRE.clear()
        CAPTURE[0] = True
        stmt = None
        try:
            stmt = conn.cmd_stmt_prepare(sql.encode())
            res = conn.cmd_stmt_execute(stmt["statement_id"], data=(0,), parameters=stmt["parameters"], flags=1)
            self.note(f"  execute: columns={[c[0] for c in res[1]]!r} eof: {self.ok_summary(res[2])}")
            for i in range(20):
                conn.cmd_stmt_fetch(stmt["statement_id"], 2)
                rows, eof = conn.get_rows(binary=True, columns=res[1])
                self.note(f"  fetch #{i}: {[cc.fmt_row(r) for r in rows]} eof: {self.ok_summary(eof)}")
                if eof["status_flag"] & 0x80:
                    break
            # interleave a text query while a second cursor is open
            res2 = conn.cmd_stmt_execute(stmt["statement_id"], data=(100,), parameters=stmt["parameters"], flags=1)
            self.note(f"  re-execute: eof: {self.ok_summary(res2[2])}")
            conn.cmd_stmt_fetch(stmt["statement_id"], 1)
            rows, eof = conn.get_rows(binary=True, columns=res2[1])
            self.note(f"  fetch: {[cc.fmt_row(r) for r in rows]} eof: {self.ok_summary(eof)}")
            CAPTURE[0] = False
            self.q("SELECT 'text query while a cursor is open'")
            CAPTURE[0] = True
            conn.cmd_stmt_fetch(stmt["statement_id"], 100)
            rows, eof = conn.get_rows(binary=True, columns=res2[1])
            self.note(f"  fetch rest: {[cc.fmt_row(r) for r in rows]} eof: {self.ok_summary(eof)}")
            conn.cmd_stmt_reset(stmt["statement_id"])
            self.note("  COM_STMT_RESET ok")
            conn.cmd_stmt_close(stmt["statement_id"])
            self.note("  COM_STMT_CLOSE sent")
            stmt = None
        except mc_errors.Error as e:
            self.print_error(e)
        finally:
            CAPTURE[0] = False
            if stmt is not None:
                conn.cmd_stmt_close(stmt["statement_id"])
            self.print_wire()
        self.q("SELECT 'after cursor'", prepared=True)

    def long_data_reset(self, long_data):
        """SEND_LONG_DATA, then COM_STMT_RESET discards it, then execute with
        a normal parameter."""
        p = self.p
        conn = self.conn
        self.note("")
        self.note("PS-LONGDATA-RESET: send long data, COM_STMT_RESET, execute with inline value")
        stmt = None
        WIRE.clear()
        CAPTURE[0] = True
        try:
            stmt = conn.cmd_stmt_prepare(f"INSERT INTO {p}big (id, b) VALUES (?, ?)".encode())
            sent = conn.cmd_stmt_send_long_data(stmt["statement_id"], 1, io.BytesIO(long_data[:100000]))
            self.note(f"  sent {sent} bytes of long data")
            conn.cmd_stmt_reset(stmt["statement_id"])
            self.note("  reset ok")
            res = conn.cmd_stmt_execute(stmt["statement_id"], data=(3, b"inline after reset"),
                                        parameters=stmt["parameters"])
            self.note(f"  execute -> {self.ok_summary(res)}")
        except mc_errors.Error as e:
            self.print_error(e)
        finally:
            CAPTURE[0] = False
            if stmt is not None:
                conn.cmd_stmt_close(stmt["statement_id"])
            self.print_wire()
        self.q(f"SELECT id, LENGTH(b), SHA2(b, 256) FROM {p}big ORDER BY id")

    def reset_and_change_user(self):
        conn = self.conn
        self.q("SET @x = 77")
        self.q("SELECT @x")
        try:
            ok = conn.cmd_reset_connection()
            self.note(f"cmd_reset_connection() -> {ok}")
        except mc_errors.Error as e:
            self.print_error(e)
        self.q("SELECT @x AS after_reset, @@time_zone")
        self.q(f"SELECT * FROM {self.p}tmp2")
        for s in cc.SESSION_SETUP[:3]:
            self.q(s)
        self.q("SET @x = 88")
        try:
            res = conn.cmd_change_user(username=self.args.user, password=self.args.password,
                                       database=self.args.database)
            self.note(f"cmd_change_user(same user) -> {self.ok_summary(res)}")
        except mc_errors.Error as e:
            self.print_error(e)
        self.q("SELECT @x AS after_change_user, DATABASE() IS NOT NULL AS has_db, CURRENT_USER() LIKE 'app@%'")
        for s in cc.SESSION_SETUP[:3]:
            self.q(s)
        self.q("SET @x = 5")


def main():
    args = cc.parse_args("mysql-connector-python compatibility battery")
    modes = ["pure", "cext"]
    print("mysql-connector-python compatibility battery")
    print(f"mysql-connector-python {mysql.connector.__version__}")
    rc = 0
    for mode in modes:
        if mode == "cext" and not CEXT_AVAILABLE:
            print("")
            print("======== mode: cext ========")
            print("C extension unavailable: skipped")
            continue
        b = Battery(args, mode)
        try:
            b.run()
        except Exception:
            sys.stdout.flush()
            traceback.print_exc()
            print(f"UNEXPECTED EXCEPTION in mode {mode} (see stderr)")
            rc = 1
            try:
                if b.conn is not None:
                    b.conn.close()
            except Exception:
                pass
    return rc


if __name__ == "__main__":
    sys.exit(main())
