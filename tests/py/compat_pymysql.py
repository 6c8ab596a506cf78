#!/usr/bin/env python3
"""Client-compatibility battery for PyMySQL (text protocol).

Run once directly against MariaDB and once through the proxy with different
--schema-prefix values; the two stdout reports must be byte-identical.
See README.md.
"""

import datetime as dt
import decimal
import os
import sys
import traceback

# no __pycache__ next to the sources (the repo does not ignore it)
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pymysql  # noqa: E402
import pymysql.cursors  # noqa: E402
from pymysql import err as pymysql_err  # noqa: E402
from pymysql.constants import CLIENT  # noqa: E402

import compat_common as cc  # noqa: E402

# ---------------------------------------------------------------------------
# PyMySQL drops the SQLSTATE of error packets; capture it from the raw packet.
# ---------------------------------------------------------------------------
_last_sqlstate = [None]
_orig_raise = pymysql_err.raise_mysql_exception


def _raise_with_sqlstate(data):
    _last_sqlstate[0] = None
    if len(data) >= 9 and data[3:4] == b"#":
        _last_sqlstate[0] = data[4:9].decode("ascii", "replace")
    return _orig_raise(data)


pymysql_err.raise_mysql_exception = _raise_with_sqlstate


class Battery:
    def __init__(self, args):
        self.args = args
        self.p = args.schema_prefix
        self.r = cc.Report(self.p)
        self.conn = None

    # -- connection helpers -------------------------------------------------
    def connect(self, **kw):
        a = self.args
        params = dict(
            host=a.host,
            port=a.port,
            user=a.user,
            password=a.password,
            database=a.database,
            charset="utf8mb4",
            autocommit=True,
            client_flag=CLIENT.MULTI_STATEMENTS,
            local_infile=True,
            max_allowed_packet=64 * 1024 * 1024,
        )
        params.update(kw)
        return pymysql.connect(**params)

    # -- printing -----------------------------------------------------------
    def print_error(self, e):
        if isinstance(e, pymysql_err.MySQLError) and len(e.args) >= 2 and isinstance(e.args[0], int):
            errno, msg = e.args[0], e.args[1]
            self.r.line(
                f"  ERROR {type(e).__name__} errno={errno} sqlstate={_last_sqlstate[0]} "
                f"msg={cc.norm_error_message(str(msg))!r}"
            )
        else:
            self.r.line(f"  ERROR {type(e).__name__} {cc.norm_error_message(str(e))!r}")
        _last_sqlstate[0] = None

    def print_fields(self, cur):
        res = cur._result
        fields = getattr(res, "fields", None) or []
        self.r.line(f"  columns: {len(fields)}")
        for i, f in enumerate(fields):
            self.r.line(
                f"    [{i}] name={f.name!r} org_name={f.org_name!r} table={f.table_name!r} "
                f"org_table={f.org_table!r} db={f.db!r} catalog={f.catalog!r}"
            )
            self.r.line(
                f"        type={cc.type_name(f.type_code)} charsetnr={f.charsetnr} "
                f"length={f.length} decimals={f.scale} flags={f.flags:#x}[{cc.flag_names(f.flags)}]"
            )
            self.r.line(f"        description={cur.description[i]!r}")

    def print_result(self, cur, fetch="all"):
        res = cur._result
        if cur.description:
            self.print_fields(cur)
            if fetch == "all":
                rows = cur.fetchall()
            else:
                rows = []
                while True:
                    row = cur.fetchone()
                    if row is None:
                        break
                    rows.append(row)
            self.r.line(f"  rows: {len(rows)}")
            for row in rows:
                self.r.line("    " + cc.fmt_row(row))
        self.r.line(
            f"  rowcount={cur.rowcount} lastrowid={cur.lastrowid} "
            f"affected_rows={getattr(res, 'affected_rows', None)} insert_id={getattr(res, 'insert_id', None)} "
            f"warning_count={getattr(res, 'warning_count', None)} "
            f"status={cc.status_names(getattr(res, 'server_status', None))} "
            f"message={getattr(res, 'message', None)!r} has_next={bool(getattr(res, 'has_next', 0))}"
        )

    def show_warnings(self, label="SHOW WARNINGS"):
        cur = self.conn.cursor()
        cur.execute("SHOW WARNINGS")
        rows = cur.fetchall()
        self.r.line(f"  {label}: {len(rows)}")
        for row in rows:
            self.r.line("    " + cc.fmt_row(row))
        cur.close()

    # -- statement runner ---------------------------------------------------
    def q(self, sql, args=None, label=None, cursor=None, fetch="all", warnings=True):
        """Execute one statement (possibly multi-statement), print every result."""
        self.r.line("")
        self.r.line(f"SQL: {label or sql}")
        if args is not None:
            self.r.line(f"  args: {cc.fmt_row(args) if isinstance(args, (tuple, list)) else repr(args)}")
        own = cursor is None
        cur = cursor or self.conn.cursor()
        failed = False
        total_warnings = 0
        try:
            cur.execute(sql, args)
            idx = 0
            while True:
                self.r.line(f" result #{idx}:")
                self.print_result(cur, fetch)
                total_warnings += getattr(cur._result, "warning_count", 0) or 0
                idx += 1
                try:
                    more = cur.nextset()
                except pymysql_err.MySQLError as e:
                    self.r.line(f" result #{idx}:")
                    self.print_error(e)
                    failed = True
                    break
                if not more:
                    break
        except pymysql_err.MySQLError as e:
            self.print_error(e)
            failed = True
        finally:
            if own:
                cur.close()
        if warnings and (failed or total_warnings):
            self.show_warnings()
        return not failed

    # -- battery ------------------------------------------------------------
    def run(self):
        p = self.p
        r = self.r
        r.line("PyMySQL compatibility battery")
        r.line(f"pymysql {pymysql.VERSION_STRING}")

        self.conn = self.connect()
        conn = self.conn
        r.line(f"connection: open={conn.open} get_autocommit={conn.get_autocommit()} "
               f"server_status={cc.status_names(conn.server_status)} encoding={conn.encoding!r} "
               f"charset={conn.charset!r}")
        r.line(f"server capabilities & common: PROTOCOL_41={bool(conn.server_capabilities & CLIENT.PROTOCOL_41)} "
               f"TRANSACTIONS={bool(conn.server_capabilities & CLIENT.TRANSACTIONS)} "
               f"MULTI_STATEMENTS={bool(conn.server_capabilities & CLIENT.MULTI_STATEMENTS)} "
               f"MULTI_RESULTS={bool(conn.server_capabilities & CLIENT.MULTI_RESULTS)} "
               f"LOCAL_FILES={bool(conn.server_capabilities & CLIENT.LOCAL_FILES)} "
               f"PLUGIN_AUTH={bool(conn.server_capabilities & CLIENT.PLUGIN_AUTH)}")

        r.section("session setup")
        for s in cc.SESSION_SETUP:
            self.q(s)

        r.section("cleanup of earlier runs + tables")
        for s in cc.drop_everything(p):
            self.q(s)
        for s in cc.support_tables(p):
            self.q(s)

        r.section("all column types")
        for s in cc.insert_types_rows(p):
            self.q(s)
        self.q(cc.select_types(p))
        self.q(cc.select_types_as_text(p))
        self.q(f"SELECT * FROM {p}types WHERE id = %s", (1,))
        self.q(f"SELECT id, c_varchar, c_blob FROM {p}types WHERE c_varchar = %s OR c_blob = %s ORDER BY id",
               ("hello world", b"\x00\xff\x80\xfe\n\r\x1a\\'"))
        self.q(f"SELECT * FROM {p}types ORDER BY id", cursor=conn.cursor(pymysql.cursors.DictCursor))
        self.q(f"SELECT id, c_longtext, c_point FROM {p}types ORDER BY id",
               cursor=conn.cursor(pymysql.cursors.SSCursor), fetch="one")
        # fixed-name TEMPORARY copy: SHOW CREATE TABLE's text (and so the
        # column length) would otherwise depend on the prefix length
        self.q(f"CREATE TEMPORARY TABLE showcreate LIKE {p}types")
        self.q("SHOW CREATE TABLE showcreate")
        self.q("DROP TEMPORARY TABLE showcreate")
        self.q(f"SHOW COLUMNS FROM {p}types LIKE 'c_b%'")
        self.q(f"SELECT COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, CHARACTER_SET_NAME FROM information_schema.COLUMNS "
               f"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{p}types' ORDER BY ORDINAL_POSITION")
        for s in cc.LITERAL_SELECTS:
            self.q(s)
        # parameters of several Python types (client-side interpolation)
        self.q("SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s",
               (1, -2**63, 2**64 - 1, 1.25, decimal.Decimal("-12345.678901"),
                "str \u00e9 \U0001F600", b"\x00\xff'\\", None, True,
                dt.datetime(2024, 2, 29, 1, 2, 3, 456789),
                dt.timedelta(hours=-1, seconds=1)))
        # insert through parameters and read back
        self.q(f"INSERT INTO {p}types (id, c_tinyint, c_bigint_u, c_decimal, c_float, c_double, c_bit17, c_date, "
               f"c_datetime, c_timestamp, c_time, c_year, c_varchar, c_varbinary, c_blob, c_latin1, c_utf8mb4, "
               f"c_json, c_enum, c_set, c_uuid, c_inet6, c_inet4) VALUES "
               f"(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
               (10, -5, 18446744073709551615, decimal.Decimal("-1234567890.0123456789"), 0.5, 1e300, b"\x01\x00\x01",
                dt.date(1999, 12, 31), dt.datetime(2000, 1, 1, 0, 0, 0, 1), dt.datetime(2001, 9, 9, 1, 46, 40, 500000),
                dt.timedelta(days=-1, seconds=86399, microseconds=250000), 1999, "param \u00fc", b"\x00\x01\xfe\xff",
                bytes(range(256)), "\u00e0\u00e9\u00ee", "\u2603 \U0001F600", '{"k": [1, 2]}', "c", "y,x",
                "6ccd780c-baba-1026-9564-5b8c656024db", "fe80::1", "10.0.0.1"))
        self.q(f"SELECT * FROM {p}types WHERE id = 10")

        r.section("errors")
        for s, _expected in cc.error_statements(p):
            self.q(s)
        r.section("non-strict mode warnings")
        for s in cc.nonstrict_statements(p):
            self.q(s)

        r.section("affected rows / last insert id")
        for s in cc.affected_rows_statements(p):
            self.q(s)
        r.line("")
        r.line("-- CLIENT_FOUND_ROWS connection: UPDATE reports matched rows")
        c2 = self.connect(client_flag=CLIENT.MULTI_STATEMENTS | CLIENT.FOUND_ROWS)
        main = self.conn
        self.conn = c2
        self.q(f"UPDATE {p}ar SET v = v WHERE k IN (10, 20)")
        self.q(f"INSERT INTO {p}ar (k, v) VALUES (10, 'dup') ON DUPLICATE KEY UPDATE v = VALUES(v)")
        c2.close()
        self.conn = main

        r.section("multi-statements")
        self.q(f"SELECT 1; SELECT 2, 3; UPDATE {p}ar SET v = 'ms' WHERE k = 10; SELECT v FROM {p}ar WHERE k = 10")
        self.q("SELECT 'before'; SELECT no_such_col FROM dual_nope; SELECT 'never'")
        self.q("SELECT 'after failed multi'")
        self.q("SET @m1 = 1; SET @m2 = 2; SELECT @m1 + @m2 AS s")
        self.q(f"INSERT INTO {p}ar (k, v) VALUES (600, 'm1'); INSERT INTO {p}ar (k, v) VALUES (601, 'm2'), (602, 'm3')")
        self.q("SELECT 1 / 0; SELECT 'second has no warning'")

        r.section("stored procedures")
        for s in cc.procedure_ddl(p):
            self.q(s)
        self.q(f"CALL {p}proc(7)")
        self.q(f"SELECT v FROM {p}ar WHERE k = 10")
        self.q("SET @b = NULL, @c = 'in'")
        self.q(f"CALL {p}proc_out(4, @b, @c)")
        self.q("SELECT @b, @c")
        self.q(f"CALL {p}no_such_proc()")
        cur = conn.cursor()
        r.line("")
        r.line("callproc via driver:")
        try:
            cur.callproc(f"{p}proc_out", (3, 0, "cp"))
            idx = 0
            while True:
                r.line(f" result #{idx}:")
                self.print_result(cur)
                idx += 1
                if not cur.nextset():
                    break
            self.q(f"SELECT @_{p}proc_out_0, @_{p}proc_out_1, @_{p}proc_out_2")
        except pymysql_err.MySQLError as e:
            self.print_error(e)
        cur.close()

        r.section("transactions")
        for s in cc.transaction_statements(p):
            self.q(s)
        r.line("")
        r.line("-- driver autocommit / commit / rollback")
        conn.autocommit(False)
        r.line(f"autocommit(False): get_autocommit={conn.get_autocommit()} status={cc.status_names(conn.server_status)}")
        self.q("SELECT @@autocommit")
        self.q(f"INSERT INTO {p}tx VALUES (10, 'driver rollback')")
        r.line(f"in trans: status={cc.status_names(conn.server_status)}")
        conn.rollback()
        r.line(f"after rollback(): status={cc.status_names(conn.server_status)}")
        self.q(f"SELECT COUNT(*) FROM {p}tx WHERE id = 10")
        self.q(f"INSERT INTO {p}tx VALUES (11, 'driver commit')")
        conn.commit()
        r.line(f"after commit(): status={cc.status_names(conn.server_status)}")
        conn.autocommit(True)
        r.line(f"autocommit(True): get_autocommit={conn.get_autocommit()} status={cc.status_names(conn.server_status)}")
        self.q("SELECT @@autocommit")
        self.q(f"SELECT * FROM {p}tx ORDER BY id")
        self.q("SET autocommit = 0")
        r.line(f"after SET autocommit=0: get_autocommit={conn.get_autocommit()}")
        self.q(f"DELETE FROM {p}tx WHERE id = 11")
        self.q("ROLLBACK")
        self.q("SET autocommit = 1")
        self.q(f"SELECT COUNT(*) FROM {p}tx WHERE id = 11")

        r.section("session state")
        for s in cc.session_statements(p):
            self.q(s)

        r.section("LOAD DATA LOCAL INFILE")
        path = cc.make_local_infile()
        try:
            self.q(f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {p}li CHARACTER SET utf8mb4 "
                   "FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' (id, name, amount, note)",
                   label=f"LOAD DATA LOCAL INFILE '<FILE>' INTO TABLE {p}li ...")
            self.q(f"SELECT * FROM {p}li ORDER BY id")
            self.q(f"LOAD DATA LOCAL INFILE '{path}' REPLACE INTO TABLE {p}li CHARACTER SET utf8mb4 "
                   "FIELDS TERMINATED BY '\\t' (id, name, amount, note)",
                   label=f"LOAD DATA LOCAL INFILE '<FILE>' REPLACE INTO TABLE {p}li ...")
            self.q(f"SELECT COUNT(*), SUM(amount) FROM {p}li")
        finally:
            os.unlink(path)
        self.q(f"LOAD DATA LOCAL INFILE '/nonexistent/compat/file.tsv' INTO TABLE {p}li",
               warnings=False)
        self.q("SELECT 'connection usable after failed LOAD DATA LOCAL'")

        r.section("large values")
        blob = cc.deterministic_bytes(cc.BLOB_20M_LEN)
        r.line(f"20 MiB blob: {cc.summarize(blob)}")
        self.q(f"INSERT INTO {p}big (id, b) VALUES (%s, %s)", (1, blob),
               label=f"INSERT INTO {p}big (id, b) VALUES (1, <20 MiB blob>)")
        del blob
        self.q(f"SELECT id, LENGTH(b), SHA2(b, 256) FROM {p}big")
        cur = conn.cursor()
        self.q(f"SELECT b FROM {p}big WHERE id = 1", cursor=cur)
        cur.close()
        self.q(f"SELECT REPEAT('x', {cc.REPEAT_17M_LEN}) AS big")
        self.q(f"SELECT REPEAT('y', {cc.EXACT_16M_ROW_STR}) AS exact_16m_packet")
        self.q(f"SELECT REPEAT('z', {cc.EXACT_16M_ROW_STR}) AS a, 1 AS b UNION ALL SELECT 'small', 2")
        sql, n = cc.exact_16m_query()
        self.q(sql, label=f"SELECT LENGTH('<{n} x q>') AS len  -- COM_QUERY payload exactly 0xFFFFFF bytes")
        self.q(f"SELECT REPEAT('x', {cc.REPEAT_17M_LEN}) AS big",
               cursor=conn.cursor(pymysql.cursors.SSCursor), fetch="one",
               label=f"SELECT REPEAT('x', {cc.REPEAT_17M_LEN}) AS big  -- unbuffered cursor")
        self.q("SELECT @@max_allowed_packet")

        r.section("select_db / COM_INIT_DB, ping")
        self.q(f"CREATE DATABASE {p}otherdb")
        conn.select_db(f"{p}otherdb")
        r.line(f"select_db({p}otherdb) ok")
        self.q("SELECT DATABASE()")
        self.q(f"CREATE TABLE {p}otherdb.t1 (a INT)")
        self.q("INSERT INTO t1 VALUES (1)")
        self.q("SELECT * FROM t1")
        try:
            conn.select_db(f"{p}no_such_db")
        except pymysql_err.MySQLError as e:
            self.print_error(e)
        self.q("SELECT DATABASE()")
        conn.select_db(self.args.database)
        r.line("select_db(<database>) ok")
        self.q(f"SELECT DATABASE() = '{self.args.database}'")
        self.q(f"SELECT COUNT(*) FROM {p}ar")
        self.q(f"USE {p}otherdb")
        self.q("SELECT DATABASE()")
        self.q(f"USE `{self.args.database}`")
        conn.ping(reconnect=False)
        r.line("ping() ok")
        self.q("SELECT @x AS session_var_survives_ping")

        r.section("SET NAMES latin1")
        conn.set_character_set("latin1")
        r.line(f"set_character_set('latin1'): encoding={conn.encoding!r}")
        self.q("SELECT @@character_set_client, @@character_set_connection, @@character_set_results")
        self.q(cc.latin1_select(p))
        self.q("SELECT 'caf\u00e9' AS literal_latin1, LENGTH('caf\u00e9') AS len")
        conn.set_character_set("utf8mb4")
        r.line(f"set_character_set('utf8mb4'): encoding={conn.encoding!r}")
        self.q(cc.latin1_select(p))
        self.q("SET NAMES binary")
        self.q("SELECT @@character_set_results")
        conn.set_character_set("utf8mb4", "utf8mb4_unicode_ci")
        self.q("SELECT @@collation_connection")

        r.section("connection errors")
        for kw in (dict(password="wrong_password"), dict(database=f"{p}no_such_db")):
            shown = {k: ("<wrong>" if k == "password" else v) for k, v in kw.items()}
            r.line(f"connect({shown})")
            try:
                c = self.connect(**kw)
                r.line("  unexpectedly connected")
                c.close()
            except pymysql_err.MySQLError as e:
                self.print_error(e)

        r.section("cleanup")
        for s in cc.drop_everything(p):
            self.q(s)
        conn.close()
        r.line("")
        r.line("END OF BATTERY")


def main():
    args = cc.parse_args("PyMySQL compatibility battery")
    b = Battery(args)
    try:
        b.run()
    except Exception:
        sys.stdout.flush()
        traceback.print_exc()
        print("UNEXPECTED EXCEPTION (see stderr)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
