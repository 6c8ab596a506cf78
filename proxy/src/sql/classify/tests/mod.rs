//! One test per feature of the classifier; the corpus and property tests in
//! the child modules check it against sqlparser at large.

mod corpus;
mod oracle;
mod props;

use super::*;
use StatementKind as K;

fn tables(sql: &str) -> Vec<String> {
    classify(sql)
        .tables
        .iter()
        .map(|t| match t.schema {
            Some(schema) => format!("{schema}.{}", t.name),
            None => t.name.to_string(),
        })
        .collect()
}

fn kind(sql: &str) -> StatementKind {
    classify(sql).kind
}

#[track_caller]
fn check(sql: &str, expected_kind: StatementKind, expected_tables: &[&str]) {
    let c = classify(sql);
    assert_eq!(c.kind, expected_kind, "kind of {sql:?}");
    assert_eq!(tables(sql), expected_tables, "tables of {sql:?}");
}

// ----- kinds -----------------------------------------------------------------

#[test]
fn query_forms_are_select() {
    check("SELECT 1", K::Select, &[]);
    check(
        "(SELECT a FROM t) UNION (SELECT a FROM u)",
        K::Select,
        &["t", "u"],
    );
    check("((SELECT 1))", K::Select, &[]);
    check(
        "WITH c AS (SELECT * FROM t) SELECT * FROM c",
        K::Select,
        &["t"],
    );
    check("VALUES ROW(1, 2), ROW(3, 4)", K::Select, &[]);
    check("TABLE t ORDER BY a LIMIT 2", K::Select, &["t"]);
    check("select * from T", K::Select, &["T"]);
}

#[test]
fn dml_kinds() {
    check("INSERT INTO t VALUES (1)", K::Insert, &["t"]);
    check("INSERT t SET a = 1", K::Insert, &["t"]);
    check("REPLACE INTO t VALUES (1)", K::Replace, &["t"]);
    check("UPDATE t SET a = 1", K::Update, &["t"]);
    check("DELETE FROM t", K::Delete, &["t"]);
    check(
        "LOAD DATA LOCAL INFILE '/tmp/x' INTO TABLE t",
        K::Insert,
        &["t"],
    );
    check(
        "LOAD XML INFILE 'x.xml' REPLACE INTO TABLE db.t ROWS IDENTIFIED BY '<row>'",
        K::Insert,
        &["db.t"],
    );
}

#[test]
fn with_leads_into_update_and_delete() {
    check(
        "WITH ids AS (SELECT id FROM a) UPDATE b JOIN ids ON b.id = ids.id SET b.x = 1",
        K::Update,
        &["a", "b"],
    );
    check(
        "WITH RECURSIVE c AS (SELECT 1) DELETE FROM t WHERE id IN (SELECT * FROM c)",
        K::Delete,
        &["t"],
    );
}

#[test]
fn ddl_kinds_end_transactions() {
    for sql in [
        "CREATE TABLE t (a INT)",
        "ALTER TABLE t ADD COLUMN b INT",
        "DROP TABLE t",
        "RENAME TABLE a TO b",
        "TRUNCATE t",
        "CREATE USER 'u'@'%' IDENTIFIED BY 'p'",
        "GRANT SELECT ON db.* TO 'u'@'%'",
        "REVOKE SELECT ON db.t FROM u",
        "SET PASSWORD FOR u = 'x'",
        "CREATE DATABASE d",
    ] {
        let c = classify(sql);
        assert_eq!(c.kind, K::Ddl, "{sql}");
        assert!(c.ends_transaction, "{sql}");
        assert!(!c.starts_transaction, "{sql}");
    }
}

#[test]
fn account_statements_name_no_tables() {
    check("REVOKE SELECT ON db.t FROM u", K::Ddl, &[]);
    check("GRANT SELECT ON t TO u", K::Ddl, &[]);
    assert!(!classify("CREATE USER 'u'@'%'").reads_user_variables);
}

#[test]
fn temporary_tables_pin_and_do_not_commit() {
    let c = classify("CREATE TEMPORARY TABLE tmp (id INT)");
    assert_eq!(c.kind, K::Ddl);
    assert_eq!(c.pin, Some(Pin::TemporaryTable));
    assert!(!c.ends_transaction);
    let c = classify("DROP TEMPORARY TABLE IF EXISTS tmp");
    assert_eq!(c.kind, K::Ddl);
    assert!(!c.ends_transaction);
    assert_eq!(tables("DROP TEMPORARY TABLE IF EXISTS tmp"), ["tmp"]);
}

#[test]
fn transaction_statements() {
    let c = classify("BEGIN");
    assert_eq!(
        (c.kind, c.starts_transaction, c.ends_transaction),
        (K::Transaction, true, false)
    );
    let c = classify("begin work");
    assert!(c.starts_transaction);
    let c = classify("START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT");
    assert_eq!((c.kind, c.starts_transaction), (K::Transaction, true));
    let c = classify("COMMIT");
    assert_eq!(
        (c.kind, c.starts_transaction, c.ends_transaction),
        (K::Transaction, false, true)
    );
    let c = classify("COMMIT WORK AND CHAIN");
    assert_eq!((c.starts_transaction, c.ends_transaction), (true, true));
    let c = classify("COMMIT AND NO CHAIN NO RELEASE");
    assert_eq!((c.starts_transaction, c.ends_transaction), (false, true));
    let c = classify("ROLLBACK");
    assert!(c.ends_transaction);
    let c = classify("ROLLBACK WORK TO SAVEPOINT s1");
    assert_eq!((c.kind, c.ends_transaction), (K::Transaction, false));
    let c = classify("SAVEPOINT s1");
    assert_eq!(
        (c.kind, c.ends_transaction, c.starts_transaction),
        (K::Transaction, false, false)
    );
    assert_eq!(kind("RELEASE SAVEPOINT s1"), K::Transaction);
    let c = classify("XA START 'x'");
    assert_eq!((c.kind, c.starts_transaction), (K::Transaction, true));
    assert!(classify("XA BEGIN 'x'").starts_transaction);
    let c = classify("XA END 'x'");
    assert_eq!((c.starts_transaction, c.ends_transaction), (false, false));
    assert!(classify("XA COMMIT 'x' ONE PHASE").ends_transaction);
    assert!(classify("XA ROLLBACK 'x'").ends_transaction);
    assert_eq!(kind("START SLAVE"), K::Other);
    assert!(!classify("START SLAVE").starts_transaction);
}

#[test]
fn transaction_flags_give_the_state_after_the_whole_text() {
    let c = classify("BEGIN; UPDATE t SET a = 1; COMMIT");
    assert_eq!((c.starts_transaction, c.ends_transaction), (false, true));
    let c = classify("COMMIT; BEGIN");
    assert_eq!((c.starts_transaction, c.ends_transaction), (true, true));
    let c = classify("BEGIN; INSERT INTO t VALUES (1)");
    assert_eq!(
        (c.kind, c.starts_transaction, c.ends_transaction),
        (K::Transaction, true, false)
    );
}

#[test]
fn set_kinds_and_decisions() {
    assert_eq!(kind("SET NAMES utf8mb4"), K::Set);
    assert_eq!(kind("SET CHARACTER SET utf8"), K::Set);
    assert_eq!(
        kind("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"),
        K::Set
    );
    assert_eq!(kind("SET TRANSACTION READ ONLY"), K::Set);
    assert_eq!(kind("SET ROLE r"), K::Set);
    assert_eq!(kind("SET DEFAULT ROLE r TO u"), K::Ddl);
    assert_eq!(kind("SET PASSWORD = 'x'"), K::Ddl);
    let c = classify("SET GLOBAL max_connections = 10");
    assert_eq!(c.kind, K::Set);
    assert!(c.side_effects);
    assert!(classify("SET @@global.max_connections = 10").side_effects);
    assert!(classify("SET PERSIST x = 1").side_effects);
    assert!(!classify("SET SESSION sql_mode = ''").side_effects);
    assert!(classify("SET GLOBAL TRANSACTION READ ONLY").side_effects);
}

#[test]
fn set_statement_takes_the_inner_kind() {
    check(
        "SET STATEMENT max_statement_time = 1 FOR SELECT * FROM t",
        K::Select,
        &["t"],
    );
    check(
        "SET STATEMENT a = (1), b = 2 FOR UPDATE t SET x = 1",
        K::Update,
        &["t"],
    );
    assert!(!classify("SET STATEMENT a = 1 FOR UPDATE t SET x = 1").locking_read);
}

#[test]
fn other_kinds() {
    for sql in [
        "SHOW TABLES FROM db",
        "SHOW CREATE TABLE t",
        "CALL p(1)",
        "DO SLEEP(1)",
        "USE db",
        "EXPLAIN SELECT 1",
        "DESCRIBE t",
        "DESC t",
        "HANDLER t OPEN",
        "LOCK TABLES t READ",
        "UNLOCK TABLES",
        "ANALYZE TABLE t",
        "OPTIMIZE TABLE t",
        "CHECK TABLE t",
        "REPAIR TABLE t",
        "CHECKSUM TABLE t",
        "FLUSH PRIVILEGES",
        "KILL QUERY 3",
        "PREPARE s FROM 'SELECT 1'",
        "EXECUTE s USING @a",
        "DEALLOCATE PREPARE s",
        "DROP PREPARE s",
        "HELP 'select'",
        "BEGIN NOT ATOMIC SELECT 1; END",
        "TERN PAUSE 5",
        "",
        "  -- nothing\n",
        ";",
    ] {
        assert_eq!(kind(sql), K::Other, "{sql}");
    }
    assert!(!classify("DROP PREPARE s").ends_transaction);
}

#[test]
fn explain_reports_the_explained_tables() {
    check(
        "EXPLAIN SELECT * FROM t JOIN u ON t.a = u.a",
        K::Other,
        &["t", "u"],
    );
    check("EXPLAIN FORMAT=JSON UPDATE t SET a = 1", K::Other, &["t"]);
    check(
        "EXPLAIN ANALYZE WITH c AS (SELECT 1) SELECT * FROM c, t",
        K::Other,
        &["t"],
    );
    check("DESCRIBE db.t a", K::Other, &["db.t"]);
    check("ANALYZE FORMAT=JSON SELECT * FROM t", K::Other, &["t"]);
    check("EXPLAIN FOR CONNECTION 4", K::Other, &[]);
}

// ----- tables ------------------------------------------------------------------

#[test]
fn from_lists_joins_and_aliases() {
    check("SELECT * FROM a, b AS x, c y", K::Select, &["a", "b", "c"]);
    check(
        "SELECT * FROM a JOIN b ON a.id = b.id LEFT OUTER JOIN c USING (id) STRAIGHT_JOIN d NATURAL JOIN e",
        K::Select,
        &["a", "b", "c", "d", "e"],
    );
    check(
        "SELECT * FROM a JOIN b ON a.x = b.x, c",
        K::Select,
        &["a", "b", "c"],
    );
    check(
        "SELECT * FROM a CROSS JOIN b INNER JOIN c ON LEFT(c.x, 2) = b.y",
        K::Select,
        &["a", "b", "c"],
    );
    check(
        "SELECT * FROM a JOIN b JOIN c ON b.x = c.x ON a.x = b.x",
        K::Select,
        &["a", "b", "c"],
    );
    check(
        "SELECT * FROM (a, b) JOIN (c JOIN d ON c.x = d.x) ON a.x = c.x",
        K::Select,
        &["a", "b", "c", "d"],
    );
}

#[test]
fn aliases_that_are_keywords_to_us_but_not_reserved() {
    check(
        "SELECT * FROM t data, u value, v next",
        K::Select,
        &["t", "u", "v"],
    );
}

#[test]
fn schema_qualified_and_quoted_names() {
    check(
        "SELECT * FROM db.t, `my db`.`my table`, `x`.y",
        K::Select,
        &["db.t", "my db.my table", "x.y"],
    );
    check(
        "SELECT * FROM db.`order`, `select`",
        K::Select,
        &["db.order", "select"],
    );
    check("SELECT * FROM `a``b`", K::Select, &["a``b"]);
}

#[test]
fn derived_tables_and_subqueries() {
    check(
        "SELECT * FROM (SELECT * FROM a) AS d JOIN b ON d.x = b.x",
        K::Select,
        &["a", "b"],
    );
    check(
        "SELECT (SELECT MAX(x) FROM a), (SELECT 1 FROM b WHERE EXISTS (SELECT 1 FROM c)) FROM d",
        K::Select,
        &["a", "b", "c", "d"],
    );
    check(
        "SELECT * FROM t WHERE a IN (SELECT a FROM u UNION SELECT a FROM v)",
        K::Select,
        &["t", "u", "v"],
    );
    check(
        "SELECT * FROM t, LATERAL (SELECT * FROM u WHERE u.a = t.a) AS l",
        K::Select,
        &["t", "u"],
    );
    check("SELECT * FROM ((SELECT 1) AS d)", K::Select, &[]);
}

#[test]
fn from_inside_functions_is_not_a_table_list() {
    check(
        "SELECT EXTRACT(YEAR FROM d), TRIM(LEADING 'x' FROM s), SUBSTRING(s FROM 2 FOR 3) FROM t",
        K::Select,
        &["t"],
    );
    check(
        "SELECT COUNT(*), POSITION('a' IN s) FROM t",
        K::Select,
        &["t"],
    );
    check("SELECT COALESCE((SELECT x FROM a), 0)", K::Select, &["a"]);
}

#[test]
fn dual_and_table_functions_are_not_tables() {
    check("SELECT 1 FROM DUAL", K::Select, &[]);
    check("SELECT 1 FROM dual WHERE 1 = 1", K::Select, &[]);
    check("SELECT * FROM `dual`", K::Select, &["dual"]);
    check(
        "SELECT * FROM t, JSON_TABLE(t.j, '$[*]' COLUMNS (x INT PATH '$.x')) AS jt",
        K::Select,
        &["t"],
    );
}

#[test]
fn index_hints_and_partitions() {
    check(
        "SELECT * FROM a USE INDEX (i) JOIN b FORCE INDEX FOR JOIN (j) IGNORE KEY FOR ORDER BY (k) ON a.x = b.x, c PARTITION (p0)",
        K::Select,
        &["a", "b", "c"],
    );
}

#[test]
fn ctes_are_not_tables() {
    check(
        "WITH RECURSIVE c (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 5), d AS (SELECT * FROM t) SELECT * FROM c, d",
        K::Select,
        &["t"],
    );
    check(
        "SELECT * FROM (WITH c AS (SELECT * FROM t) SELECT * FROM c) AS x",
        K::Select,
        &["t"],
    );
    check("SELECT a FROM t GROUP BY a WITH ROLLUP", K::Select, &["t"]);
}

#[test]
fn insert_select_includes_source_tables() {
    check(
        "INSERT INTO t (a, b) SELECT a, b FROM s JOIN u ON s.x = u.x",
        K::Insert,
        &["t", "s", "u"],
    );
    check(
        "INSERT IGNORE INTO t SELECT * FROM s ON DUPLICATE KEY UPDATE a = VALUES(a), b = 2",
        K::Insert,
        &["t", "s"],
    );
    check(
        "INSERT LOW_PRIORITY t (a) VALUES ((SELECT MAX(a) FROM u))",
        K::Insert,
        &["t", "u"],
    );
    check("INSERT INTO t TABLE s", K::Insert, &["t", "s"]);
    check(
        "INSERT INTO t VALUES (1) AS new ON DUPLICATE KEY UPDATE a = new.a",
        K::Insert,
        &["t"],
    );
    check(
        "INSERT INTO t PARTITION (p1) (a) VALUES (1)",
        K::Insert,
        &["t"],
    );
    check("REPLACE INTO db.t (a) VALUES (1)", K::Replace, &["db.t"]);
}

#[test]
fn update_tables() {
    check("UPDATE LOW_PRIORITY IGNORE t SET a = 1", K::Update, &["t"]);
    check(
        "UPDATE a JOIN b ON a.id = b.id SET a.x = b.x, a.y = 2 WHERE b.z = 3",
        K::Update,
        &["a", "b"],
    );
    check(
        "UPDATE a, b SET a.x = b.x WHERE a.id = b.id",
        K::Update,
        &["a", "b"],
    );
    check(
        "UPDATE t SET a = (SELECT MAX(x) FROM u) ORDER BY id LIMIT 3",
        K::Update,
        &["t", "u"],
    );
}

#[test]
fn delete_tables() {
    check(
        "DELETE LOW_PRIORITY QUICK IGNORE FROM t WHERE a = 1",
        K::Delete,
        &["t"],
    );
    check(
        "DELETE a FROM a JOIN b ON a.id = b.id",
        K::Delete,
        &["a", "b"],
    );
    check(
        "DELETE o FROM orders o LEFT JOIN items i ON o.id = i.oid WHERE i.id IS NULL",
        K::Delete,
        &["orders", "items"],
    );
    check(
        "DELETE a.*, b.* FROM a, b WHERE a.id = b.id",
        K::Delete,
        &["a", "b"],
    );
    check(
        "DELETE FROM x, y USING orders AS x JOIN items AS y ON x.id = y.oid",
        K::Delete,
        &["orders", "items"],
    );
    check(
        "DELETE FROM a USING a JOIN b USING (id)",
        K::Delete,
        &["a", "b"],
    );
    check(
        "DELETE FROM t WHERE id IN (SELECT id FROM u) RETURNING id",
        K::Delete,
        &["t", "u"],
    );
}

#[test]
fn ddl_tables() {
    check("CREATE TABLE IF NOT EXISTS db.t (id INT, pid INT REFERENCES p (id), FOREIGN KEY (x) REFERENCES db2.q(id) ON DELETE CASCADE) ENGINE=InnoDB", K::Ddl, &["db.t", "p", "db2.q"]);
    check("CREATE TABLE t LIKE s", K::Ddl, &["t", "s"]);
    check("CREATE TABLE t (LIKE s)", K::Ddl, &["t", "s"]);
    check(
        "CREATE TABLE t AS SELECT * FROM s WHERE a = 1",
        K::Ddl,
        &["t", "s"],
    );
    check(
        "CREATE OR REPLACE TABLE t SELECT a FROM s",
        K::Ddl,
        &["t", "s"],
    );
    check(
        "CREATE UNIQUE INDEX i USING BTREE ON t (a, b)",
        K::Ddl,
        &["t"],
    );
    check("DROP INDEX i ON db.t", K::Ddl, &["db.t"]);
    check(
        "DROP TABLE IF EXISTS a, db.b CASCADE",
        K::Ddl,
        &["a", "db.b"],
    );
    check("DROP VIEW v1, v2", K::Ddl, &["v1", "v2"]);
    check("TRUNCATE TABLE t", K::Ddl, &["t"]);
    check(
        "RENAME TABLE a TO b, db.c TO db.d",
        K::Ddl,
        &["a", "b", "db.c", "db.d"],
    );
    check("ALTER TABLE t RENAME TO u", K::Ddl, &["t", "u"]);
    check(
        "ALTER TABLE t RENAME COLUMN a TO b, RENAME INDEX i TO j",
        K::Ddl,
        &["t"],
    );
    check(
        "ALTER TABLE t EXCHANGE PARTITION p WITH TABLE u",
        K::Ddl,
        &["t", "u"],
    );
    check(
        "ALTER ONLINE IGNORE TABLE t ADD c INT, ALGORITHM=INSTANT, LOCK=NONE",
        K::Ddl,
        &["t"],
    );
    check(
        "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES p (id)",
        K::Ddl,
        &["t", "p"],
    );
    check(
        "CREATE ALGORITHM=MERGE DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW v AS SELECT * FROM t",
        K::Ddl,
        &["v", "t"],
    );
    check("CREATE SEQUENCE s START WITH 1", K::Ddl, &["s"]);
    check("CREATE DATABASE IF NOT EXISTS d", K::Ddl, &[]);
    check("DROP DATABASE d", K::Ddl, &[]);
}

#[test]
fn stored_programs_are_ddl_without_body_tables() {
    let sql = "CREATE DEFINER=`u`@`%` PROCEDURE p(IN x INT) BEGIN DECLARE n INT; IF x > 0 THEN SELECT COUNT(*) INTO n FROM t; END IF; CASE WHEN n > 1 THEN UPDATE u SET a = 1; ELSE BEGIN END; END CASE; END";
    let c = classify(sql);
    assert_eq!(c.kind, K::Ddl);
    assert!(c.tables.is_empty());
    assert!(!c.multi_statement);
    let c = classify("CREATE TRIGGER trg BEFORE INSERT ON db.t FOR EACH ROW BEGIN SET NEW.a = 1; INSERT INTO log VALUES (1); END; SELECT 1 FROM x");
    assert_eq!(c.kind, K::Ddl);
    assert_eq!(
        c.tables.as_slice(),
        &[
            TableName {
                schema: Some("db"),
                name: "t"
            },
            TableName {
                schema: None,
                name: "x"
            }
        ]
    );
    assert!(c.multi_statement);
    let c = classify("CREATE FUNCTION f() RETURNS INT RETURN (SELECT COUNT(*) FROM t); SELECT f()");
    assert!(c.multi_statement);
    assert!(c.tables.is_empty());
}

#[test]
fn lock_tables() {
    let c = classify("LOCK TABLES t READ, db.u AS x WRITE, v READ LOCAL, w LOW_PRIORITY WRITE");
    assert_eq!(c.kind, K::Other);
    assert_eq!(c.pin, Some(Pin::LockTables));
    assert!(c.ends_transaction);
    assert_eq!(
        tables("LOCK TABLES t READ, db.u AS x WRITE, v READ LOCAL, w LOW_PRIORITY WRITE"),
        ["t", "db.u", "v", "w"]
    );
    let c = classify("UNLOCK TABLES");
    assert_eq!(c.pin, Some(Pin::UnlockTables));
    assert!(!c.ends_transaction);
    assert_eq!(
        classify("FLUSH TABLES t WITH READ LOCK").pin,
        Some(Pin::LockTables)
    );
    assert_eq!(tables("FLUSH TABLES a, b FOR EXPORT"), ["a", "b"]);
    assert_eq!(classify("FLUSH TABLES").pin, None);
}

#[test]
fn tables_are_deduplicated_in_order_of_first_appearance() {
    assert_eq!(
        tables("SELECT * FROM b JOIN a ON 1 JOIN b x ON 1; SELECT * FROM a, c"),
        ["b", "a", "c"]
    );
    assert_eq!(tables("SELECT * FROM t, T, db.t"), ["t", "T", "db.t"]);
}

#[test]
fn many_tables_spill_and_stay_deduplicated() {
    let names: Vec<String> = (0..100).map(|i| format!("t{i}")).collect();
    let sql = format!("SELECT * FROM {}, {}", names.join(", "), names.join(", "));
    assert_eq!(tables(&sql), names);
    let sql = format!(
        "DELETE FROM {} USING {}",
        names.join(", "),
        names[..50].join(", ")
    );
    assert_eq!(tables(&sql), names[..50]);
}

#[test]
fn show_and_prepare_name_no_tables() {
    check("SHOW TABLES FROM db", K::Other, &[]);
    check("SHOW COLUMNS FROM t FROM db", K::Other, &[]);
    check("PREPARE s FROM 'SELECT * FROM t'", K::Other, &[]);
    check("PREPARE s FROM @sql", K::Other, &[]);
}

// ----- flags -------------------------------------------------------------------

#[test]
fn locking_reads() {
    for sql in [
        "SELECT * FROM t FOR UPDATE",
        "SELECT * FROM t WHERE id = 1 FOR SHARE",
        "SELECT * FROM t LOCK IN SHARE MODE",
        "SELECT * FROM t FOR UPDATE NOWAIT",
        "SELECT * FROM t FOR UPDATE SKIP LOCKED",
        "SELECT * FROM t FOR UPDATE WAIT 5",
        "SELECT * FROM t JOIN u ON t.a = u.a FOR UPDATE OF t",
        "SELECT * FROM (SELECT * FROM t FOR UPDATE) d",
    ] {
        let c = classify(sql);
        assert!(c.locking_read, "{sql}");
        assert_eq!(c.kind, K::Select);
        assert!(c.tables.as_slice().iter().any(|t| t.name == "t"), "{sql}");
    }
    assert!(!classify("SELECT * FROM t").locking_read);
    assert!(!classify("SELECT 'FOR UPDATE' FROM t").locking_read);
    assert!(
        !classify("SELECT * FROM t FOR SYSTEM_TIME AS OF TIMESTAMP '2020-01-01 00:00:00'")
            .locking_read
    );
}

#[test]
fn side_effects() {
    for sql in [
        "SELECT GET_LOCK('a', 1)",
        "SELECT RELEASE_LOCK('a')",
        "DO RELEASE_ALL_LOCKS()",
        "SELECT LAST_INSERT_ID()",
        "SELECT LAST_INSERT_ID(5)",
        "SELECT FOUND_ROWS()",
        "SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1",
        "SELECT ROW_COUNT()",
        "SELECT NEXTVAL(s)",
        "SELECT SETVAL(s, 10)",
        "SELECT LASTVAL(s)",
        "SELECT NEXT VALUE FOR s",
        "SELECT PREVIOUS VALUE FOR db.s",
        "SELECT @x := 1",
        "SELECT a INTO @x FROM t",
        "SELECT a FROM t INTO @x",
        "SELECT * FROM t INTO OUTFILE '/tmp/t'",
        "SELECT * FROM t INTO DUMPFILE '/tmp/t'",
        "SET @x = 1",
        "SET @x := (SELECT 1)",
        "SET GLOBAL x = 1",
        "UPDATE t SET a = (@n := @n + 1)",
    ] {
        assert!(classify(sql).side_effects, "{sql}");
    }
    for sql in [
        "SELECT IS_FREE_LOCK('a')",
        "SELECT last_insert_id FROM t",
        "SELECT @x",
        "SELECT @x = 1",
        "SELECT 'GET_LOCK(1)'",
        "SET @@session.x = 1",
        "SELECT * FROM t WHERE a = @x",
    ] {
        assert!(!classify(sql).side_effects, "{sql}");
    }
}

#[test]
fn sequences_are_tables() {
    assert_eq!(
        tables("SELECT NEXT VALUE FOR db.s, NEXTVAL(t), LASTVAL(`u`)"),
        ["db.s", "t", "u"]
    );
}

#[test]
fn get_lock_pins() {
    assert_eq!(
        classify("SELECT GET_LOCK('x', 10)").pin,
        Some(Pin::UserLock)
    );
    assert_eq!(
        classify("SELECT get_lock ('x', 10)").pin,
        Some(Pin::UserLock)
    );
}

#[test]
fn user_variables() {
    for sql in [
        "SELECT @x",
        "SELECT * FROM t WHERE id = @id",
        "SET @x = 1",
        "SELECT @`quoted`, @'q'",
        "CALL p(@out)",
        "EXECUTE s USING @a",
    ] {
        assert!(classify(sql).reads_user_variables, "{sql}");
    }
    for sql in [
        "SELECT @@version",
        "SELECT @@session.autocommit",
        "SELECT '@x'",
        "SELECT 1 -- @x",
        "CREATE DEFINER = 'app'@'%' VIEW v AS SELECT 1",
        "GRANT ALL ON *.* TO app@localhost",
    ] {
        assert!(!classify(sql).reads_user_variables, "{sql}");
    }
}

#[test]
fn autocommit() {
    let cases = [
        ("SET autocommit = 0", Some(false)),
        ("SET autocommit=1", Some(true)),
        ("SET AUTOCOMMIT = ON", Some(true)),
        ("SET autocommit = off", Some(false)),
        ("SET autocommit = TRUE", Some(true)),
        ("SET autocommit = 'OFF'", Some(false)),
        ("SET SESSION autocommit = 1", Some(true)),
        ("SET LOCAL autocommit = 1", Some(true)),
        ("SET @@autocommit = 1", Some(true)),
        ("SET @@session.autocommit := 0", Some(false)),
        ("SET @@SESSION.AUTOCOMMIT = 1", Some(true)),
        ("SET NAMES utf8mb4, autocommit = 0", Some(false)),
        ("SET sql_mode = '', autocommit = 1, @x = 2", Some(true)),
        ("SET autocommit = DEFAULT", Some(false)),
        ("SET autocommit = @saved", Some(false)),
        ("SET autocommit = 1 + 0", Some(false)),
        ("SET GLOBAL autocommit = 0", None),
        ("SET @@global.autocommit = 0", None),
        ("SET GLOBAL x = 1, autocommit = 0", None),
        ("SET GLOBAL x = 1, SESSION autocommit = 0", Some(false)),
        ("SET @autocommit = 0", None),
        ("SELECT @@autocommit", None),
        ("SET autocommit = 0; SET autocommit = 1", Some(true)),
    ];
    for (sql, expected) in cases {
        assert_eq!(classify(sql).sets_autocommit, expected, "{sql}");
    }
}

#[test]
fn session_pins() {
    assert_eq!(classify("SET sql_log_bin = 0").pin, Some(Pin::SqlLogBin));
    assert_eq!(
        classify("SET SESSION sql_log_bin = 1").pin,
        Some(Pin::SqlLogBin)
    );
    assert_eq!(
        classify("SET @@sql_log_bin = OFF").pin,
        Some(Pin::SqlLogBin)
    );
    assert_eq!(
        classify("PREPARE s FROM 'SELECT 1'").pin,
        Some(Pin::Prepare)
    );
    assert_eq!(
        classify("CREATE TEMPORARY TABLE t (a INT)").pin,
        Some(Pin::TemporaryTable)
    );
    assert_eq!(classify("SELECT 1").pin, None);
    // UNLOCK TABLES releases table locks, not a temporary table.
    assert_eq!(
        classify("CREATE TEMPORARY TABLE t (a INT); UNLOCK TABLES").pin,
        Some(Pin::TemporaryTable)
    );
    assert_eq!(
        classify("LOCK TABLES t WRITE; UNLOCK TABLES").pin,
        Some(Pin::UnlockTables)
    );
    let both = classify("CREATE TEMPORARY TABLE t AS SELECT GET_LOCK('x', 1) AS l");
    assert_eq!(both.pin, Some(Pin::UserLock));
    assert_eq!(
        both.pins.iter().collect::<Vec<_>>(),
        [Pin::TemporaryTable, Pin::UserLock]
    );
    let net = classify("LOCK TABLES t WRITE; UNLOCK TABLES; PREPARE s FROM 'SELECT 1'");
    assert_eq!(
        net.pins.iter().collect::<Vec<_>>(),
        [Pin::UnlockTables, Pin::Prepare]
    );
    let net = classify("UNLOCK TABLES; LOCK TABLES t READ");
    assert_eq!(net.pins.iter().collect::<Vec<_>>(), [Pin::LockTables]);
    assert!(classify("SELECT 1").pins.is_empty());
}

#[test]
fn use_schema() {
    assert_eq!(classify("USE db").use_schema, Some("db"));
    assert_eq!(classify("use `my db`").use_schema, Some("my db"));
    assert_eq!(classify("USE a; SELECT 1; USE b").use_schema, Some("b"));
    assert_eq!(classify("SELECT 1").use_schema, None);
}

#[test]
fn multi_statements() {
    assert!(!classify("SELECT 1;").multi_statement);
    assert!(!classify("SELECT 1 ; -- done\n /* x */ ;  ").multi_statement);
    assert!(classify("SELECT 1; SELECT 2").multi_statement);
    assert!(!classify("SELECT ';'").multi_statement);
    assert!(!classify("SELECT 1 -- ; SELECT 2").multi_statement);
    assert!(!classify("SELECT 1 /* ; SELECT 2 */").multi_statement);
    assert!(!classify("SELECT `;`").multi_statement);
    let c = classify("SELECT * FROM a; DELETE FROM b");
    assert_eq!(c.kind, K::Select);
    assert_eq!(tables("SELECT * FROM a; DELETE FROM b"), ["a", "b"]);
    assert!(c.multi_statement);
}

#[test]
fn hints() {
    let c = classify("/* tern:replica tern:consistency=eventual */ SELECT 1 /* tern:group=reports, tern:tag=a=b */");
    let hints: Vec<_> = c.hints.iter().collect();
    assert_eq!(
        hints,
        [
            ("replica", None),
            ("consistency", Some("eventual")),
            ("group", Some("reports")),
            ("tag", Some("a=b"))
        ]
    );
    assert_eq!(c.hints.get("CONSISTENCY"), Some(Some("eventual")));
    let c = classify(
        "SELECT 1 /* tern:after=0-1-5,0-2-7, tern:replica,tern:consistency=session note,tern:x */",
    );
    let hints: Vec<_> = c.hints.iter().collect();
    assert_eq!(
        hints,
        [
            ("after", Some("0-1-5,0-2-7")),
            ("replica", None),
            ("consistency", Some("session")),
            ("x", None)
        ]
    );
    assert_eq!(c.hints.get("replica"), Some(None));
    assert_eq!(c.hints.get("primary"), None);
    assert!(classify("SELECT '/* tern:replica */'").hints.is_empty());
    assert!(classify("SELECT 1 -- tern:replica").hints.is_empty());
    assert!(classify("/*! tern:replica */ SELECT 1").hints.is_empty());
    assert_eq!(classify("/*+ tern:replica */ SELECT 1").hints.len(), 1);
    assert_eq!(
        classify("SELECT 1 /*tern:async*/").hints.get("async"),
        Some(None)
    );
}

// ----- lexing ------------------------------------------------------------------

#[test]
fn strings_and_comments_hide_keywords() {
    check(
        "SELECT 'FROM x', \"JOIN y\", `FROM` FROM t -- FROM z\n WHERE a = '\\' FROM w' # FROM v\n",
        K::Select,
        &["t"],
    );
    check(
        "SELECT 'it''s; -- /*' FROM t /* FROM u; */ JOIN v ON 1",
        K::Select,
        &["t", "v"],
    );
    check("SELECT 1--1\nFROM t", K::Select, &["t"]);
}

#[test]
fn executable_comments_are_code() {
    check("/*!40101 SELECT * FROM t */", K::Select, &["t"]);
    check(
        "SELECT /*!STRAIGHT_JOIN*/ * FROM a /*!50000 JOIN b ON 1 */",
        K::Select,
        &["a", "b"],
    );
    check("/*M!100100 DELETE FROM t */", K::Delete, &["t"]);
    check("/*M! UPDATE t SET a = 1 */", K::Update, &["t"]);
    check(
        "CREATE TABLE t (a INT) /*!50100 PARTITION BY HASH (a) */",
        K::Ddl,
        &["t"],
    );
    check("/*!40000 ALTER TABLE `t` DISABLE KEYS */", K::Ddl, &["t"]);
    let c = classify("/*!40101 SET NAMES utf8 */;");
    assert_eq!(c.kind, K::Set);
    assert!(!c.multi_statement);
}

#[test]
fn keywords_are_case_insensitive() {
    check("sElEcT * FrOm a JoIn b On 1", K::Select, &["a", "b"]);
    check("insert into t values (1)", K::Insert, &["t"]);
}

#[test]
fn classify_bytes_refuses_invalid_utf8() {
    let c = classify_bytes(b"SELECT * FROM t WHERE a = '\xff'");
    assert_eq!(c.kind, K::Other);
    assert!(c.tables.is_empty());
    let c = classify_bytes("SELECT * FROM t WHERE a = 'é'".as_bytes());
    assert_eq!(c.kind, K::Select);
    assert_eq!(c.tables.len(), 1);
}

#[test]
fn non_ascii_identifiers() {
    check(
        "SELECT * FROM tëst JOIN 表 ON 1",
        K::Select,
        &["tëst", "表"],
    );
}

#[test]
fn deep_nesting_and_garbage_terminate() {
    let deep = format!(
        "SELECT {} 1 {} FROM t",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    assert_eq!(tables(&deep), ["t"]);
    let deep = format!(
        "SELECT * FROM {}SELECT * FROM t{}",
        "(".repeat(70),
        ")".repeat(70)
    );
    assert_eq!(kind(&deep), K::Select);
    let nested = "SET STATEMENT a=1 FOR ".repeat(50_000) + "SELECT * FROM t";
    check(&nested, K::Select, &["t"]);
    // Each USING forgets the DELETE's targets; with many tables known from
    // before, that must not rebuild anything per USING.
    let names: Vec<String> = (0..20_000).map(|i| format!("t{i}")).collect();
    let many = format!(
        "SELECT * FROM {}; DELETE FROM a {}",
        names.join(","),
        "USING b ".repeat(20_000)
    );
    assert_eq!(classify(&many).tables.len(), 20_001);
    let ctes = format!(
        "WITH {} SELECT * FROM c1",
        (0..1000)
            .map(|i| format!("c{i} AS (SELECT 1)"))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert!(classify(&ctes).tables.is_empty());
    let labels = "a: ".repeat(50_000);
    assert_eq!(kind(&labels), K::Other);
    for sql in [
        "(",
        ")",
        "((",
        "))",
        "'",
        "`",
        "\"",
        "/*",
        "/*!",
        "*/",
        "@",
        "@@",
        "--",
        "#",
        "\\",
        "SELECT * FROM",
        "WITH",
        "WITH a AS (",
        "DELETE FROM a USING",
        "SET",
        "SET @",
        "SET STATEMENT",
        "CREATE",
        "ALTER TABLE",
        "LOCK TABLES",
        "RENAME TABLE a TO",
        "x:",
        "EXPLAIN",
        "FLUSH TABLES a,",
    ] {
        let _ = classify(sql);
    }
}
