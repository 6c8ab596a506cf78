// MariaDB Connector/J battery for Tern's client matrix: prints a deterministic
// report of what the driver sees, so that a run against the primary and a run
// through Tern can be compared line by line.
//
//   java -cp mariadb-java-client.jar CompatConnectorJ.java HOST PORT USER PASSWORD SCHEMA [MODE]
//
// MODE is `battery` (the default), `cancel` (cancel a read outside a
// transaction) or `ryw` (a read right after a commit, see readYourWrites).
// In the first two modes SCHEMA is created (dropped first if present) and
// dropped at the end; the report never prints it, so two runs with different
// schemas compare equal.

import java.math.BigDecimal;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.Arrays;

public class CompatConnectorJ {
    static String schema;

    static void out(String line) {
        // The driver puts its connection id (the greeting's) into messages;
        // it differs between any two connections.
        System.out.println(line.replace(schema, "<schema>")
            .replaceAll("\\(conn=-?[0-9]+\\)", "(conn=<id>)"));
    }

    // Reads that check what earlier commits left run inside a transaction,
    // which keeps them on the primary through Tern. With
    // rewriteBatchedStatements, Connector/J sets the session's
    // session_track_system_variables to 'auto_increment_increment', so the
    // server stops reporting commits' GTIDs (last_gtid) to Tern, and a read
    // right after a commit may reach a replica that has not applied it yet.
    // That bug is pinned separately by the `ryw` mode of this program.
    static void checkRead(Connection c, String what, String sql, boolean withMetadata)
        throws SQLException {
        c.setAutoCommit(false);
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            if (withMetadata) {
                metadata(what, rs.getMetaData());
            }
            rows(what, rs);
        }
        c.commit();
        c.setAutoCommit(true);
    }

    static String show(Object v) {
        if (v == null) {
            return "NULL";
        }
        if (v instanceof byte[]) {
            StringBuilder sb = new StringBuilder("0x");
            for (byte b : (byte[]) v) {
                sb.append(String.format("%02x", b));
            }
            return sb.toString();
        }
        return v.getClass().getSimpleName() + ":" + v;
    }

    // Runs SELECT SLEEP(30) on `c` and cancels it from another thread once the
    // primary shows it running (or after 3 s if it never shows there, which is
    // the case when Tern runs the read on a replica). The sleep is long so that
    // a slow machine still cancels it before it ends by itself.
    static void cancelSleep(Connection c, String url, String what) throws Exception {
        try (Statement st = c.createStatement();
             Connection watcher = DriverManager.getConnection(url, user, password)) {
            // A transaction keeps the watcher's reads on the primary.
            watcher.setAutoCommit(false);
            Thread canceller = new Thread(() -> {
                try (PreparedStatement running = watcher.prepareStatement(
                        "SELECT COUNT(*) FROM information_schema.PROCESSLIST"
                            + " WHERE INFO = 'SELECT SLEEP(30) AS s'")) {
                    for (int i = 0; i < 30; i++) {
                        try (ResultSet rs = running.executeQuery()) {
                            rs.next();
                            if (rs.getInt(1) > 0) {
                                break;
                            }
                        }
                        watcher.rollback();
                        Thread.sleep(100);
                    }
                    watcher.rollback();
                    st.cancel();
                } catch (Exception e) {
                    out(what + ": cancel failed: " + e);
                }
            });
            canceller.start();
            try (ResultSet rs = st.executeQuery("SELECT SLEEP(30) AS s")) {
                rows(what + ": not cancelled", rs);
            } catch (SQLException e) {
                error(what, e);
            }
            canceller.join();
        }
    }

    static void metadata(String what, ResultSetMetaData md) throws SQLException {
        out(what + " columns=" + md.getColumnCount());
        for (int i = 1; i <= md.getColumnCount(); i++) {
            out(
                "  col " + i
                    + " label=" + md.getColumnLabel(i)
                    + " name=" + md.getColumnName(i)
                    + " table=" + md.getTableName(i)
                    + " type=" + md.getColumnType(i)
                    + " typeName=" + md.getColumnTypeName(i)
                    + " class=" + md.getColumnClassName(i)
                    + " precision=" + md.getPrecision(i)
                    + " scale=" + md.getScale(i)
                    + " displaySize=" + md.getColumnDisplaySize(i)
                    + " nullable=" + md.isNullable(i)
                    + " signed=" + md.isSigned(i)
                    + " autoIncrement=" + md.isAutoIncrement(i));
        }
    }

    static void rows(String what, ResultSet rs) throws SQLException {
        ResultSetMetaData md = rs.getMetaData();
        int n = 0;
        while (rs.next()) {
            StringBuilder sb = new StringBuilder("  row");
            for (int i = 1; i <= md.getColumnCount(); i++) {
                sb.append(' ').append(show(rs.getObject(i)));
            }
            out(sb.toString());
            n++;
        }
        out(what + " rows=" + n);
    }

    static void error(String what, SQLException e) {
        out(what + " error sqlstate=" + e.getSQLState() + " code=" + e.getErrorCode()
            + " message=" + e.getMessage());
    }

    static String user;
    static String password;

    static void dropSchema(String base, String user, String password) throws SQLException {
        try (Connection admin = DriverManager.getConnection(base, user, password);
             Statement st = admin.createStatement()) {
            st.execute("DROP DATABASE " + schema);
        }
    }

    // A commit, then a read of it on the same connection, with and without
    // rewriteBatchedStatements (which makes the driver replace the session's
    // session_track_system_variables). The caller has created table t(id INT)
    // in the schema and holds up its replication on the replicas, so a read
    // that reaches a replica misses the row.
    static void readYourWrites(String url) throws SQLException {
        String[] options = {"", "?rewriteBatchedStatements=true"};
        for (int i = 0; i < options.length; i++) {
            try (Connection c = DriverManager.getConnection(url + options[i], user, password);
                 Statement st = c.createStatement()) {
                st.executeUpdate("INSERT INTO t VALUES (" + (i + 1) + ")");
                try (ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM t WHERE id = " + (i + 1))) {
                    rs.next();
                    out("options '" + options[i] + "': own insert visible " + (rs.getInt(1) == 1));
                }
            }
        }
    }

    public static void main(String[] args) throws Exception {
        String host = args[0];
        String port = args[1];
        user = args[2];
        password = args[3];
        schema = args[4];
        String mode = args.length > 5 ? args[5] : "battery";
        String base = "jdbc:mariadb://" + host + ":" + port + "/";

        if (!mode.equals("ryw")) {
            try (Connection admin = DriverManager.getConnection(base, user, password);
                 Statement st = admin.createStatement()) {
                st.execute("DROP DATABASE IF EXISTS " + schema);
                st.execute("CREATE DATABASE " + schema);
            }
        }

        String url = base + schema
            + "?useServerPrepStmts=true&rewriteBatchedStatements=true";
        if (mode.equals("ryw")) {
            readYourWrites(base + schema);
            return;
        }
        if (mode.equals("cancel")) {
            try (Connection c = DriverManager.getConnection(url, user, password)) {
                cancelSleep(c, url, "cancelled sleep");
            }
            dropSchema(base, user, password);
            out("done");
            return;
        }
        try (Connection c = DriverManager.getConnection(url, user, password)) {
            DatabaseMetaData dmd = c.getMetaData();
            out("driver " + dmd.getDriverName() + " " + dmd.getDriverVersion());
            out("autocommit " + c.getAutoCommit());
            out("catalog matches " + schema.equals(c.getCatalog()));

            try (Statement st = c.createStatement()) {
                st.execute(
                    "CREATE TABLE t ("
                        + " id INT AUTO_INCREMENT PRIMARY KEY,"
                        + " name VARCHAR(40) NOT NULL UNIQUE,"
                        + " qty SMALLINT UNSIGNED,"
                        + " price DECIMAL(10,2),"
                        + " ratio DOUBLE,"
                        + " big BIGINT UNSIGNED,"
                        + " born DATE,"
                        + " seen DATETIME(3),"
                        + " blob_col VARBINARY(16),"
                        + " doc TEXT,"
                        + " flag TINYINT(1),"
                        + " kind ENUM('a','b','c')"
                        + ") ENGINE=InnoDB");
                out("created table, update count " + st.getUpdateCount());
            }

            // Server-side prepared statement, executed several times.
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO t (name, qty, price, ratio, big, born, seen, blob_col, doc, flag, kind)"
                        + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    Statement.RETURN_GENERATED_KEYS)) {
                out("insert params " + ps.getParameterMetaData().getParameterCount());
                for (int i = 1; i <= 3; i++) {
                    ps.setString(1, "item" + i);
                    ps.setInt(2, i * 10);
                    ps.setBigDecimal(3, new BigDecimal(i + ".25"));
                    ps.setDouble(4, i / 4.0);
                    ps.setObject(5, new BigDecimal("18446744073709551615").subtract(BigDecimal.valueOf(i)));
                    ps.setDate(6, java.sql.Date.valueOf("2024-0" + i + "-1" + i));
                    ps.setTimestamp(7, java.sql.Timestamp.valueOf("2024-05-06 07:08:0" + i + ".123"));
                    ps.setBytes(8, new byte[] {0, (byte) i, (byte) 0xff});
                    if (i == 2) {
                        ps.setNull(9, java.sql.Types.VARCHAR);
                    } else {
                        ps.setString(9, "héllo wörld " + i);
                    }
                    ps.setBoolean(10, i % 2 == 1);
                    ps.setString(11, i == 1 ? "a" : "c");
                    int n = ps.executeUpdate();
                    try (ResultSet keys = ps.getGeneratedKeys()) {
                        keys.next();
                        out("prepared insert " + i + " count=" + n + " key=" + keys.getLong(1));
                    }
                }
            }

            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT id, name, qty, price, ratio, big, born, seen, blob_col, doc, flag, kind,"
                        + " qty * 2 AS doubled, CAST(NULL AS CHAR) AS nothing"
                        + " FROM t WHERE id >= ? ORDER BY id")) {
                metadata("prepared select (before execute)", ps.getMetaData());
                ps.setInt(1, 2);
                try (ResultSet rs = ps.executeQuery()) {
                    metadata("prepared select", rs.getMetaData());
                    rows("prepared select id>=2", rs);
                }
                ps.setInt(1, 1);
                try (ResultSet rs = ps.executeQuery()) {
                    rows("prepared select id>=1", rs);
                }
            }

            // Batch with rewrite on.
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO t (name, qty) VALUES (?, ?)")) {
                for (int i = 0; i < 50; i++) {
                    ps.setString(1, "batch" + i);
                    ps.setInt(2, i);
                    ps.addBatch();
                }
                int[] counts = ps.executeBatch();
                out("batch counts length=" + counts.length + " sum=" + Arrays.stream(counts).sum()
                    + " first=" + counts[0]);
            }
            try (Statement st = c.createStatement()) {
                st.addBatch("UPDATE t SET qty = qty + 1 WHERE name LIKE 'batch1%'");
                st.addBatch("DELETE FROM t WHERE name = 'batch49'");
                st.addBatch("INSERT INTO t (name) VALUES ('stmtbatch')");
                out("statement batch counts " + Arrays.toString(st.executeBatch()));
            }
            // A batch that fails part way: duplicate key in the middle.
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO t (name, qty) VALUES (?, ?)")) {
                for (String name : new String[] {"dupA", "item1", "dupB"}) {
                    ps.setString(1, name);
                    ps.setInt(2, 1);
                    ps.addBatch();
                }
                ps.executeBatch();
                out("failing batch did not fail");
            } catch (BatchUpdateException e) {
                error("failing batch", e);
                out("failing batch counts " + Arrays.toString(e.getUpdateCounts()));
            }
            checkRead(c, "after failing batch",
                "SELECT COUNT(*), SUM(qty), GROUP_CONCAT(name ORDER BY id) FROM t WHERE name LIKE 'dup%'",
                false);

            // Transaction with savepoints.
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                st.executeUpdate("INSERT INTO t (name, qty) VALUES ('tx1', 1)");
                Savepoint sp1 = c.setSavepoint("sp1");
                st.executeUpdate("INSERT INTO t (name, qty) VALUES ('tx2', 2)");
                Savepoint sp2 = c.setSavepoint("sp2");
                st.executeUpdate("INSERT INTO t (name, qty) VALUES ('tx3', 3)");
                c.rollback(sp2);
                try (ResultSet rs = st.executeQuery(
                        "SELECT name FROM t WHERE name LIKE 'tx%' ORDER BY name")) {
                    rows("after rollback to sp2", rs);
                }
                c.releaseSavepoint(sp1);
                try {
                    c.rollback(sp2);
                    out("rollback to released savepoint did not fail");
                } catch (SQLException e) {
                    error("rollback to released savepoint", e);
                }
                c.commit();
                st.executeUpdate("INSERT INTO t (name, qty) VALUES ('tx4', 4)");
                c.rollback();
            }
            c.setAutoCommit(true);
            checkRead(c, "after commit and rollback",
                "SELECT name, qty FROM t WHERE name LIKE 'tx%' ORDER BY name", false);

            // Errors: duplicate key through a prepared statement and a plain one,
            // a syntax error, an unknown table.
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO t (name) VALUES (?)")) {
                ps.setString(1, "item2");
                ps.executeUpdate();
                out("duplicate key did not fail");
            } catch (SQLException e) {
                error("prepared duplicate key", e);
            }
            try (Statement st = c.createStatement()) {
                st.executeUpdate("INSERT INTO t (id, name) VALUES (1, 'other')");
                out("duplicate primary key did not fail");
            } catch (SQLException e) {
                error("text duplicate primary key", e);
            }
            try (Statement st = c.createStatement()) {
                st.executeQuery("SELEC 1");
            } catch (SQLException e) {
                error("syntax", e);
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT * FROM no_such_table WHERE id = ?")) {
                ps.setInt(1, 1);
                ps.executeQuery();
            } catch (SQLException e) {
                error("prepare unknown table", e);
            }
            // The session still works after the errors, and warnings reach the driver.
            try (Statement st = c.createStatement()) {
                st.execute("SELECT CAST('12abc' AS INT) AS x");
                try (ResultSet rs = st.getResultSet()) {
                    rows("warning select", rs);
                }
                for (java.sql.SQLWarning w = st.getWarnings(); w != null; w = w.getNextWarning()) {
                    out("warning sqlstate=" + w.getSQLState() + " code=" + w.getErrorCode()
                        + " message=" + w.getMessage());
                }
            }

            // Statement.cancel() sends KILL QUERY <the greeting's thread id> on a
            // second connection. Inside a transaction, so that through Tern the
            // statement runs on the primary connection the id is translated to;
            // cancelling a read that runs on a replica is the `cancel` mode.
            c.setAutoCommit(false);
            cancelSleep(c, url, "cancelled sleep in transaction");
            c.commit();
            c.setAutoCommit(true);
            try (Statement st = c.createStatement()) {
                st.setQueryTimeout(1);
                try (ResultSet rs = st.executeQuery("SELECT SLEEP(20) AS s")) {
                    rows("sleep with query timeout", rs);
                } catch (SQLException e) {
                    error("query timeout", e);
                }
            }

            // Final contents, in full.
            checkRead(c, "final select", "SELECT * FROM t ORDER BY id", true);
            try (Statement st = c.createStatement()) {
                st.execute("DROP DATABASE " + schema);
            }
        }
        out("done");
    }
}
