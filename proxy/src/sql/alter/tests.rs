//! The ALTER reader's unit tests: the cases the migration relies on, and the
//! regressions of the private lexer it once had.

use super::*;

fn online(sql: &str) -> OnlineAlter {
    match plan(sql) {
        AlterPlan::Online(a) => a,
        AlterPlan::Native(why) => panic!("{sql}: native ({why})"),
        AlterPlan::NotTableChange => panic!("{sql}: not a table change"),
    }
}

#[test]
fn add_column_keeps_user_text() {
    let a = online("ALTER TABLE app.t ADD COLUMN note VARCHAR(32) NOT NULL DEFAULT '', FORCE;");
    assert_eq!(a.table.schema.as_deref(), Some("app"));
    assert_eq!(a.table.name, "t");
    assert_eq!(
        a.specs,
        "ADD COLUMN note VARCHAR(32) NOT NULL DEFAULT '', FORCE"
    );
    assert_eq!(a.added, vec!["note"]);
    assert!(!a.adds_index);
}

#[test]
fn renames_through_change_and_rename_column() {
    let a =
        online("alter table `my t` change `a` `b` int, rename column c to d, change e e bigint");
    assert_eq!(a.table.name, "my t");
    assert_eq!(
        a.renames,
        vec![("a".into(), "b".into()), ("c".into(), "d".into())]
    );
    assert_eq!(a.new_name_of("A"), Some("b"));
    assert_eq!(a.new_name_of("e"), Some("e"));
}

#[test]
fn drop_column_is_not_drop_index() {
    let a =
        online("ALTER TABLE t DROP COLUMN x, DROP KEY k, DROP INDEX i, DROP y, DROP PRIMARY KEY");
    assert_eq!(a.dropped, vec!["x", "y"]);
    assert_eq!(a.new_name_of("x"), None);
    assert_eq!(a.new_name_of("k"), Some("k"));
}

#[test]
fn drop_then_add_same_name_is_a_new_column() {
    let a = online("ALTER TABLE t DROP COLUMN x, ADD COLUMN x INT");
    assert_eq!(a.new_name_of("x"), None);
}

#[test]
fn forms_sqlparser_cannot_parse_are_online() {
    for sql in [
        "ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4",
        "ALTER TABLE t ENGINE=InnoDB",
        "ALTER TABLE t ROW_FORMAT=DYNAMIC",
        "ALTER TABLE t FORCE",
        "ALTER TABLE IF EXISTS t ADD COLUMN IF NOT EXISTS c INT",
        "ALTER ONLINE TABLE t DROP KEY k",
        "ALTER TABLE t MODIFY c INT ZEROFILL",
        "ALTER TABLE t ADD COLUMN partitioning INT, ADD COLUMN partitions INT",
    ] {
        online(sql);
    }
    assert!(online("ALTER TABLE IF EXISTS t ADD COLUMN IF NOT EXISTS c INT").if_exists);
    assert_eq!(
        online("ALTER TABLE t ADD COLUMN IF NOT EXISTS c INT").added,
        vec!["c"]
    );
}

#[test]
fn index_additions_are_seen() {
    assert!(online("ALTER TABLE t ADD INDEX (a)").adds_index);
    assert!(online("ALTER TABLE t ADD UNIQUE KEY u (a)").adds_index);
    assert!(online("ALTER TABLE t ADD CONSTRAINT c UNIQUE (a)").adds_index);
    assert!(
        online("ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES p(id)").adds_foreign_key
    );
    assert!(!online("ALTER TABLE t DROP INDEX a").adds_index);
    assert_eq!(
        online("ALTER TABLE t ADD (a INT, b INT)").added,
        vec!["a", "b"]
    );
}

#[test]
fn explicit_algorithm_is_read() {
    assert_eq!(
        online("ALTER TABLE t ADD c INT, ALGORITHM = INSTANT")
            .algorithm
            .as_deref(),
        Some("INSTANT")
    );
    assert_eq!(
        online("ALTER TABLE t ADD c INT, ALGORITHM=copy, LOCK=NONE")
            .algorithm
            .as_deref(),
        Some("COPY")
    );
}

#[test]
fn create_and_drop_index_become_specs() {
    let a = online("CREATE UNIQUE INDEX u ON app.t (a, b(10)) USING BTREE COMMENT 'x';");
    assert_eq!(a.table.to_string(), "`app`.`t`");
    assert_eq!(
        a.specs,
        "ADD UNIQUE INDEX u (a, b(10)) USING BTREE COMMENT 'x'"
    );
    assert!(a.adds_index);
    let d = online("DROP INDEX IF EXISTS `u` ON t ALGORITHM=COPY");
    assert_eq!(d.specs, "DROP INDEX IF EXISTS `u`, ALGORITHM=COPY");
    assert_eq!(d.algorithm.as_deref(), Some("COPY"));
}

#[test]
fn native_forms() {
    for sql in [
        "ALTER TABLE t RENAME TO u",
        "ALTER TABLE t RENAME u",
        "ALTER TABLE t ADD PARTITION (PARTITION p3 VALUES LESS THAN (30))",
        "ALTER TABLE t DISCARD TABLESPACE",
        "ALTER IGNORE TABLE t ADD UNIQUE (a)",
        "ALTER TABLE t PARTITION BY HASH(id) PARTITIONS 4",
    ] {
        assert!(matches!(plan(sql), AlterPlan::Native(_)), "{sql}");
    }
}

#[test]
fn comments_and_hints_are_not_specs() {
    let a = online("/* tern:async */ ALTER TABLE t /* why */ ADD c INT -- done\n");
    assert_eq!(a.specs, "ADD c INT");
    assert_eq!(a.added, vec!["c"]);
}

#[test]
fn clauses_that_must_come_last_run_natively() {
    for sql in [
        "ALTER TABLE r9 ORDER BY b",
        "ALTER TABLE r3b ENGINE=MyISAM PARTITION BY RANGE (id) (PARTITION p1 VALUES LESS THAN (5))",
        "ALTER TABLE t /*!50100 PARTITION BY HASH (id) PARTITIONS 2 */",
        "ALTER TABLE p CONVERT TABLE p1t TO PARTITION p1 VALUES LESS THAN (20)",
        "ALTER TABLE p CONVERT PARTITION p1 TO TABLE p1t",
        "ALTER TABLE t REMOVE PARTITIONING",
        "ALTER TABLE t ADD COLUMN c INT, ORDER BY c",
        "CREATE OR REPLACE INDEX i ON t (a)",
        "CREATE OR REPLACE UNIQUE INDEX i ON t (a)",
        "CREATE OR REPLACE ONLINE INDEX i ON t (a)",
    ] {
        assert!(matches!(plan(sql), AlterPlan::Native(_)), "{sql}");
    }
    // Inside a string, a comment or parentheses the words mean nothing.
    online("ALTER TABLE t ADD COLUMN c INT COMMENT 'PARTITION BY x ORDER BY y'");
    online("ALTER TABLE t /* ORDER BY b */ ADD c INT");
    online("ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4");
}

#[test]
fn explicit_algorithm_and_lock_are_found_wherever_they_stand() {
    let chose = |sql: &str| online(sql).client_chose_algorithm();
    assert!(chose("ALTER TABLE t ADD c INT, LOCK=NONE"));
    assert!(chose("ALTER TABLE t ADD c INT, LOCK SHARED"));
    assert!(chose("ALTER TABLE t ADD c INT /*!, ALGORITHM=INPLACE */"));
    assert!(chose("CREATE INDEX i ON t (a) ALGORITHM=INPLACE LOCK=NONE"));
    assert!(chose("DROP INDEX i ON t LOCK=EXCLUSIVE"));
    assert!(chose("ALTER ONLINE TABLE t DROP KEY k"));
    assert!(chose("CREATE ONLINE INDEX i ON t (a)"));
    assert_eq!(
        online("ALTER TABLE t ADD c INT, ALGORITHM = default")
            .algorithm
            .as_deref(),
        Some("DEFAULT")
    );
    // A column or a comment named like the clause is not the clause.
    assert!(!chose("ALTER TABLE t ADD COLUMN algorithm INT"));
    assert!(!chose("ALTER TABLE t CHANGE a algorithm VARCHAR(10)"));
    assert!(!chose("ALTER TABLE t ADD c INT COMMENT 'ALGORITHM=COPY'"));
    assert!(!chose("ALTER TABLE t ADD c INT /* ALGORITHM=COPY */"));
    assert!(!chose(
        "ALTER TABLE t ADD INDEX i (`algorithm`), ADD `lock` INT"
    ));
}

#[test]
fn engine_changes_are_seen() {
    assert!(online("ALTER TABLE t ENGINE=MyISAM").names_engine);
    assert!(online("ALTER TABLE t ENGINE InnoDB").names_engine);
    assert!(online("ALTER TABLE t ROW_FORMAT=DYNAMIC ENGINE = Aria").names_engine);
    assert!(online("ALTER TABLE t ADD c INT, ENGINE=InnoDB").names_engine);
    assert!(!online("ALTER TABLE t ADD COLUMN engine VARCHAR(10)").names_engine);
    assert!(!online("ALTER TABLE t CHANGE a engine INT").names_engine);
    assert!(!online("ALTER TABLE t ADD c INT COMMENT 'ENGINE=MyISAM'").names_engine);
}

#[test]
fn not_table_changes_are_told_apart() {
    for sql in [
        "CREATE TABLE t (a int)",
        "DROP TABLE t",
        "ALTER DATABASE d CHARACTER SET utf8mb4",
        "ALTER USER u IDENTIFIED BY 'x'",
        "ALTER TABLE t",
        // Once all read as CREATE OR REPLACE INDEX, with a Note 1846.
        "CREATE OR REPLACE FUNCTION f1(s CHAR(20)) RETURNS CHAR(100) RETURN CONCAT('a', s)",
        "CREATE OR REPLACE TABLE t (a int)",
        "CREATE OR REPLACE VIEW v AS SELECT 1",
        "CREATE OR REPLACE PROCEDURE p() SELECT 1",
        "CREATE OR REPLACE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET @a = 1",
        "CREATE OR REPLACE SEQUENCE s",
        "CREATE OR REPLACE DATABASE d",
        "CREATE OR REPLACE USER u",
        "CREATE OR REPLACE EVENT e ON SCHEDULE EVERY 1 DAY DO SELECT 1",
    ] {
        assert_eq!(plan(sql), AlterPlan::NotTableChange, "{sql}");
    }
}

// ----- the shared lexer's reading (once the private lexer's) -----

#[test]
fn double_dash_without_space_is_not_a_comment_in_alter_text() {
    // The server reads `5--1` as 5 - -1 and goes on to DROP COLUMN b.
    let a = online("ALTER TABLE t ADD COLUMN c INT DEFAULT (5--1), DROP COLUMN b");
    assert_eq!(a.specs, "ADD COLUMN c INT DEFAULT (5--1), DROP COLUMN b");
    assert_eq!(a.dropped, vec!["b"]);
    let a = online("ALTER TABLE t ADD COLUMN c INT DEFAULT (1--1)");
    assert_eq!(a.specs, "ADD COLUMN c INT DEFAULT (1--1)");
    // Read as a comment, the rest of the line hid the DROP and the old b
    // fed the new b.
    let a = online("ALTER TABLE t ADD c INT DEFAULT (5--1), DROP b,\nADD b INT");
    assert_eq!(a.new_name_of("b"), None);
    let a = online("ALTER TABLE t MODIFY c INT AS (id--1), RENAME COLUMN a TO z");
    assert_eq!(a.renames, vec![("a".to_string(), "z".to_string())]);
    let a = online("ALTER TABLE t ADD c INT DEFAULT (1--1), ALGORITHM=COPY");
    assert_eq!(a.algorithm.as_deref(), Some("COPY"));
}

#[test]
fn double_dash_with_space_control_character_or_end_is_a_comment() {
    for (sql, specs, dropped) in [
        (
            "ALTER TABLE t ADD c INT -- , DROP b\n",
            "ADD c INT",
            &[][..],
        ),
        ("ALTER TABLE t ADD c INT --\t, DROP b\n", "ADD c INT", &[]),
        ("ALTER TABLE t ADD c INT --", "ADD c INT", &[]),
        (
            "ALTER TABLE t ADD c INT --\n, DROP b",
            "ADD c INT --\n, DROP b",
            &["b"],
        ),
    ] {
        let a = online(sql);
        assert_eq!(a.specs, specs, "{sql:?}");
        assert_eq!(a.dropped, dropped, "{sql:?}");
    }
}

#[test]
fn comments_of_every_kind_are_read_as_the_classifier_reads_them() {
    let a = online("ALTER TABLE t # , DROP x\n ADD c INT /* , DROP y */ -- , DROP z\n");
    assert_eq!(a.specs, "ADD c INT");
    assert!(a.dropped.is_empty());
    let a = online("ALTER TABLE t ADD c INT /*!, DROP x */ /*M!100100 , DROP y */");
    assert_eq!(a.specs, "ADD c INT /*!, DROP x */ /*M!100100 , DROP y */");
    assert_eq!(a.dropped, vec!["x", "y"]);
    let a = online("/*!40000 ALTER TABLE t DISABLE KEYS */");
    assert_eq!(a.specs, "DISABLE KEYS");
    assert!(matches!(
        plan("ALTER TABLE t ADD c INT /*!50100 , PARTITION BY HASH (c) */"),
        AlterPlan::Native(_)
    ));
}

#[test]
fn executable_comment_at_the_edge_of_the_specs_stays_paired() {
    // The private lexer cut these at the last token and left `/*!` or `*/`
    // unpaired: the shadow's ALTER was a syntax error the statement was not.
    let a = online("ALTER TABLE u ADD e INT /*!, ADD f INT */");
    assert_eq!(a.specs, "ADD e INT /*!, ADD f INT */");
    assert_eq!(a.added, vec!["e", "f"]);
    let a = online("ALTER TABLE u /*!ADD g INT*/, ADD h INT");
    assert_eq!(a.specs, "/*! ADD g INT*/, ADD h INT");
    let a = online("/*!ALTER TABLE u ADD g INT*/, ADD h INT");
    assert_eq!(a.specs, "/*! ADD g INT*/, ADD h INT");
    // The version gate goes along, for the server to apply to the shadow.
    let a = online("ALTER TABLE u ADD n INT /*!99999 , ADD o INT */;");
    assert_eq!(a.specs, "ADD n INT /*!99999 , ADD o INT */");
    let a = online("ALTER TABLE u /*M!100100 ADD p INT */ /*!50100 , ADD q INT */");
    assert_eq!(a.specs, "/*M!100100 ADD p INT */ /*!50100 , ADD q INT */");
    let d = online("DROP INDEX i ON t /*!ALGORITHM=COPY*/");
    assert_eq!(d.specs, "DROP INDEX i, ALGORITHM=COPY");
    let c = online("CREATE INDEX i ON t /*!50100 (a) */ COMMENT 'x'");
    assert_eq!(c.specs, "ADD INDEX i /*!50100 (a) */ COMMENT 'x'");
}

#[test]
fn backtick_names_with_doubled_backticks_are_unquoted_once() {
    let a = online(
        "ALTER TABLE `my``db`.`t``1` CHANGE `a``b` `c``d` INT, DROP COLUMN `e``f`, ADD `g``` INT",
    );
    assert_eq!(a.table.schema.as_deref(), Some("my`db"));
    assert_eq!(a.table.name, "t`1");
    assert_eq!(a.table.to_string(), "`my``db`.`t``1`");
    assert_eq!(a.renames, vec![("a`b".to_string(), "c`d".to_string())]);
    assert_eq!(a.dropped, vec!["e`f"]);
    assert_eq!(a.added, vec!["g`"]);
    assert_eq!(
        a.specs,
        "CHANGE `a``b` `c``d` INT, DROP COLUMN `e``f`, ADD `g``` INT"
    );
    let c = online("CREATE INDEX `i``x` ON `t``1` (`a``b`)");
    assert_eq!(c.specs, "ADD INDEX `i``x` (`a``b`)");
}

#[test]
fn string_defaults_with_comment_markers_are_one_token() {
    let sql = r#"ALTER TABLE t ADD c VARCHAR(20) DEFAULT '-- /* # it''s \' ;', ADD d INT COMMENT "*/ -- \" #", DROP e"#;
    let a = online(sql);
    assert_eq!(a.added, vec!["c", "d"]);
    assert_eq!(a.dropped, vec!["e"]);
    assert_eq!(a.specs, &sql["ALTER TABLE t ".len()..]);
}

#[test]
fn a_second_statement_is_not_part_of_the_change() {
    assert!(matches!(
        plan("ALTER TABLE t ADD c INT; DROP TABLE u"),
        AlterPlan::Native(_)
    ));
    assert_eq!(
        online("ALTER TABLE t ADD c INT;; -- done\n").specs,
        "ADD c INT"
    );
    assert_eq!(
        plan("CREATE TABLE u (a INT); ALTER TABLE t ADD c INT"),
        AlterPlan::NotTableChange
    );
}

#[test]
fn names_starting_like_numbers_are_names() {
    // `1e` and `0xg` are columns to the server, as the shared lexer now reads them.
    let a = online("ALTER TABLE t CHANGE 1e e2 INT, DROP COLUMN 0xg, ADD 0b12 INT");
    assert_eq!(a.renames, vec![("1e".to_string(), "e2".to_string())]);
    assert_eq!(a.dropped, vec!["0xg"]);
    assert_eq!(a.added, vec!["0b12"]);
}

#[test]
fn dropped_foreign_keys_are_renamed_for_the_shadow_and_nothing_else_changes() {
    let rename = |name: &str| match name {
        "fk_a" => Some("tern7_fk1".to_string()),
        "t_ibfk_1" => Some("t_tern7_new_ibfk_1".to_string()),
        _ => None,
    };
    for (specs, want) in [
        (
            "DROP FOREIGN KEY fk_a, ADD COLUMN c INT",
            "DROP FOREIGN KEY `tern7_fk1`, ADD COLUMN c INT",
        ),
        (
            "drop foreign key if exists `fk_a`, drop constraint t_ibfk_1",
            "drop foreign key if exists `tern7_fk1`, drop constraint `t_tern7_new_ibfk_1`",
        ),
        (
            "/*!50100 DROP FOREIGN KEY fk_a */, DROP INDEX fk_a",
            "/*!50100 DROP FOREIGN KEY `tern7_fk1` */, DROP INDEX fk_a",
        ),
        (
            "DROP /* c */ FOREIGN KEY fk_a -- x\n, MODIFY v INT",
            "DROP /* c */ FOREIGN KEY `tern7_fk1` -- x\n, MODIFY v INT",
        ),
        (
            "DROP FOREIGN KEY other, DROP CONSTRAINT chk",
            "DROP FOREIGN KEY other, DROP CONSTRAINT chk",
        ),
        (
            "ADD CONSTRAINT fk_a FOREIGN KEY (a) REFERENCES p (id)",
            "ADD CONSTRAINT fk_a FOREIGN KEY (a) REFERENCES p (id)",
        ),
    ] {
        assert_eq!(with_foreign_key_names(specs, rename), want, "{specs}");
    }
}
