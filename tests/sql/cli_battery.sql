-- Client-compatibility battery for the `mariadb` command-line client.
--
-- Do not run this file directly: tests/sql/run_cli_battery.sh substitutes
--   @@DB@@      the run's own database (created and dropped by the runner)
--   @@INFILE@@  a small generated file for LOAD DATA LOCAL INFILE
-- and normalises the output.  Everything here must print the same bytes
-- whether the client talks to MariaDB directly or through the proxy: no
-- CONNECTION_ID(), NOW(), UUID(), GTIDs, `status`, timings, host names.

-- ---------------------------------------------------------------- session
SET time_zone = '+00:00';
SET sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';
SELECT @@character_set_client, @@character_set_connection, @@character_set_results,
       @@collation_connection, @@autocommit, @@time_zone, @@sql_mode;
SELECT DATABASE() = '@@DB@@' AS in_own_db;

-- ---------------------------------------------------------- column types
CREATE TABLE types (
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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

INSERT INTO types VALUES (1,
  127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,
  9223372036854775807, 18446744073709551615,
  12345678901234567890.1234567890, 3.14159, 2.718281828459045,
  b'1', b'10101010101010101',
  '2024-02-29', '2024-02-29 23:59:59.123456', '2038-01-19 03:14:07.999',
  '838:59:59.000000', 2155,
  'abc', 'hello world', X'0001020300', X'00ff80fe27225c',
  'tiny', 'text value', 'medium value', 'long value',
  X'00ff', X'00ff80fe0a0d1a5c27', X'c328e282', X'f0908c28fff8',
  'café ñ', 'héllo 😀 日本',
  '{"a": [1, 2.5, "x", null, true], "b": {"c": "é"}}',
  'b', 'x,z',
  '123e4567-e89b-12d3-a456-426614174000', '2001:db8::ff00:42:8329', '192.0.2.1',
  ST_GeomFromText('LINESTRING(0 0,1 1,2 2)'), POINT(1.5, -2.25));
INSERT INTO types VALUES (2,
  -128, 0, -32768, 0, -8388608, 0, -2147483648, 0,
  -9223372036854775808, 0,
  -99999999999999999999.9999999999, -1.5e-10, -1.7976931348623157e308,
  b'0', b'0',
  '1000-01-01', '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01.000',
  '-838:59:59.000000', 1901,
  '', '', '', '',
  '', '', '', '',
  '', '', '', '',
  'ÄÖÜß', '日本語 🎉',
  '[]', 'a', '',
  '00000000-0000-0000-0000-000000000000', '::', '0.0.0.0',
  ST_GeomFromText('POLYGON((0 0,4 0,4 4,0 4,0 0))'), POINT(0, 0));
INSERT INTO types VALUES (3,
  0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
  0.0000000001, 0, 0.1,
  b'1', b'11111111111111111',
  '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00',
  '-00:00:01.5', 0,
  'pad  ', 'trailing  ', X'41', X'42',
  'a\tb', 'quote''s "double" back\\slash', NULL, '',
  X'00', NULL, '', X'00000000',
  'x', 'y',
  '"just a string"', 'c', 'x,y,z',
  'ffffffff-ffff-ffff-ffff-ffffffffffff', '::ffff:192.0.2.128', '255.255.255.255',
  ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 2),LINESTRING(0 0,1 1))'), POINT(-1e10, 1e-10));
INSERT INTO types (id) VALUES (4);

-- every column, raw (binary values are shown as hex by --binary-as-hex)
SELECT * FROM types ORDER BY id;
-- the same values rendered server-side
SELECT id, c_bit1 + 0, c_bit17 + 0, BIN(c_bit17), HEX(c_binary), HEX(c_varbinary),
       HEX(c_blob), HEX(c_latin1), HEX(c_utf8mb4), CAST(c_json AS CHAR) AS json_text,
       ST_AsText(c_geometry) AS geom, ST_AsText(c_point) AS pt,
       CAST(c_time AS CHAR) AS t, UNIX_TIMESTAMP(c_timestamp) AS ts_unix,
       c_enum + 0, c_set + 0
  FROM types ORDER BY id;
SELECT 1, -1, 1.5, -0.0001, 1e3, 'str', _latin1 'lät', X'00ff', b'101', NULL, TRUE,
       18446744073709551615, -9223372036854775808,
       123456789012345678901234567890.123456789;
SELECT CAST('2024-01-02' AS DATE) AS d, CAST('2024-01-02 03:04:05.678' AS DATETIME(3)) AS dt,
       CAST('-12:34:56.7' AS TIME(1)) AS t, CAST(1.25 AS DECIMAL(5,2)) AS dec52,
       CAST(1.25 AS FLOAT) AS f, CAST(1.25 AS DOUBLE) AS dbl, CAST('x' AS BINARY(3)) AS bin3,
       CONVERT('é' USING latin1) AS conv_latin1, '😀' AS emoji, JSON_OBJECT('k', 1) AS jo;
SELECT * FROM (SELECT 1 AS x) AS d WHERE 1 = 0;
SHOW COLUMNS FROM types LIKE 'c_b%';
SELECT COLUMN_NAME, COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME
  FROM information_schema.COLUMNS
 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'types' ORDER BY ORDINAL_POSITION;
SHOW CREATE TABLE types;

-- ------------------------------------------------------------- errors
CREATE TABLE chk (a INT, CONSTRAINT chk_pos CHECK (a > 0));
CREATE TABLE trunc (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(5), n TINYINT UNSIGNED)
  DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
INSERT INTO types (id) VALUES (1);
SELECT no_such_column FROM types;
SELEC 1;
SELECT * FROM no_such_table;
SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'custom';
SIGNAL SQLSTATE '01000' SET MESSAGE_TEXT = 'custom warning', MYSQL_ERRNO = 1642;
INSERT INTO chk (a) VALUES (-1);
INSERT INTO chk (a) VALUES (1 / 0);
SELECT 1 / 0, 5 % 0;
INSERT INTO trunc (v) VALUES ('far too long');
INSERT INTO trunc (n) VALUES (300);
SELECT CAST('abc' AS SIGNED);
INSERT INTO types (id, c_inet4) VALUES (98, 'not-an-ip');
CALL no_such_proc();
SHOW WARNINGS;
SET sql_mode = '';
INSERT INTO trunc (v) VALUES ('far too long');
INSERT INTO trunc (v, n) VALUES ('ok', -5), ('also far too long', 1000);
SHOW WARNINGS;
SHOW COUNT(*) WARNINGS;
SELECT * FROM trunc ORDER BY id;
SET sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';

-- ---------------------------------------------- affected rows / insert id
CREATE TABLE ar (id INT AUTO_INCREMENT PRIMARY KEY, k INT UNIQUE, v VARCHAR(20))
  DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
INSERT INTO ar (k, v) VALUES (10, 'one');
SELECT LAST_INSERT_ID();
INSERT INTO ar (k, v) VALUES (20, 'two'), (30, 'three'), (40, 'four');
SELECT LAST_INSERT_ID(), ROW_COUNT();
UPDATE ar SET v = CONCAT(v, '!') WHERE k IN (10, 20);
UPDATE ar SET v = v WHERE k IN (10, 20);
SELECT ROW_COUNT();
INSERT INTO ar (k, v) VALUES (10, 'dup') ON DUPLICATE KEY UPDATE v = VALUES(v);
INSERT INTO ar (k, v) VALUES (10, 'dup') ON DUPLICATE KEY UPDATE v = VALUES(v);
INSERT INTO ar (k, v) VALUES (70, 'new') ON DUPLICATE KEY UPDATE v = VALUES(v);
REPLACE INTO ar (k, v) VALUES (40, 'replaced');
INSERT IGNORE INTO ar (k, v) VALUES (40, 'ignored'), (90, 'not ignored');
DELETE FROM ar WHERE k >= 70;
SELECT * FROM ar ORDER BY id;

-- ------------------------- multi-statement queries and stored procedures
DELIMITER //
SELECT 1 AS one; SELECT 2 AS two, 3 AS three; UPDATE ar SET v = 'ms' WHERE k = 10; SELECT v FROM ar WHERE k = 10 //
SELECT 'before' AS b; SELECT no_such_col FROM nope; SELECT 'never' //
CREATE PROCEDURE proc(IN n INT)
BEGIN
  SELECT n AS first_col, 'first' AS label;
  SELECT n + 1 AS a, n * 2.5 AS b, CAST(n AS CHAR) AS c UNION ALL SELECT n + 2, NULL, 'z';
  UPDATE ar SET v = CONCAT('p', n) WHERE k = 10;
END //
CREATE PROCEDURE proc_out(IN a INT, OUT b INT, INOUT c VARCHAR(20))
BEGIN
  SET b = a * 10;
  SET c = CONCAT(c, '+', a);
END //
CREATE PROCEDURE proc_fail()
BEGIN
  SELECT 'row before failure' AS msg;
  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'failed inside procedure';
END //
CREATE FUNCTION add_one(x INT) RETURNS INT DETERMINISTIC RETURN x + 1 //
DELIMITER ;
CALL proc(7);
SELECT v FROM ar WHERE k = 10;
SET @b = NULL, @c = 'in';
CALL proc_out(4, @b, @c);
SELECT @b, @c;
CALL proc_fail();
SELECT add_one(41);

-- ------------------------------------------------------ transactions
CREATE TABLE tx (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB;
BEGIN;
INSERT INTO tx VALUES (1, 'rolled back');
SELECT * FROM tx;
ROLLBACK;
SELECT COUNT(*) FROM tx;
START TRANSACTION;
INSERT INTO tx VALUES (2, 'committed');
COMMIT;
SELECT * FROM tx;
SET autocommit = 0;
INSERT INTO tx VALUES (3, 'autocommit off');
ROLLBACK;
SET autocommit = 1;
START TRANSACTION READ ONLY;
INSERT INTO tx VALUES (4, 'ro');
COMMIT;
SELECT * FROM tx ORDER BY id;

-- ----------------------------------------------------- session state
SET @x = 5;
SELECT @x, @x + 1, @undefined_var;
CREATE TEMPORARY TABLE tmp (a INT, b VARCHAR(10));
INSERT INTO tmp VALUES (1, 'tmp one'), (2, 'tmp two');
SELECT * FROM tmp ORDER BY a;
SELECT GET_LOCK('@@DB@@_lock', 5) AS got;
SELECT IS_FREE_LOCK('@@DB@@_lock') AS free_, RELEASE_LOCK('@@DB@@_lock') AS rel1,
       RELEASE_LOCK('@@DB@@_lock') AS rel2;
LOCK TABLES ar WRITE, tx READ;
INSERT INTO ar (k, v) VALUES (500, 'locked');
SELECT COUNT(*) FROM tx;
SELECT COUNT(*) FROM chk;
INSERT INTO tx VALUES (99, 'read lock');
UNLOCK TABLES;
PREPARE ps FROM 'SELECT ? + 1 AS p, CONCAT(?, ''!'') AS q';
SET @p1 = 41, @p2 = 'hey';
EXECUTE ps USING @p1, @p2;
DEALLOCATE PREPARE ps;

-- ---------------------------------------------- LOAD DATA LOCAL INFILE
CREATE TABLE li (id INT PRIMARY KEY, name VARCHAR(30), amount DECIMAL(10,2), note VARCHAR(30) NULL)
  DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
LOAD DATA LOCAL INFILE '@@INFILE@@' INTO TABLE li CHARACTER SET utf8mb4
  FIELDS TERMINATED BY '\t' LINES TERMINATED BY '\n' (id, name, amount, note);
SELECT * FROM li ORDER BY id;

-- -------------------------------------------------- larger values
SELECT LENGTH(REPEAT('x', 1048576)) AS len, SHA2(REPEAT('x', 1048576), 256) AS sha;
SELECT REPEAT('ab', 3000) AS six_k;

-- ----------------------------------------------------- COM_INIT_DB
CREATE DATABASE @@DB@@_o;
use @@DB@@_o
SELECT DATABASE() = '@@DB@@_o' AS in_other_db;
CREATE TABLE t1 (a INT);
INSERT INTO t1 VALUES (1);
SELECT * FROM t1;
use @@DB@@
SELECT DATABASE() = '@@DB@@' AS back_in_own_db;
SELECT COUNT(*) FROM ar;
DROP DATABASE @@DB@@_o;

-- --------------------------------------------------- SET NAMES latin1
SET NAMES latin1;
SELECT @@character_set_client, @@character_set_results;
SELECT c_latin1, HEX(c_latin1), c_utf8mb4 FROM types ORDER BY id;
SET NAMES utf8mb4;
SELECT c_latin1, c_utf8mb4 FROM types ORDER BY id;

-- ---------------------------------------------------------- cleanup
DROP TABLE types, chk, trunc, ar, tx, li;
DROP PROCEDURE proc;
DROP PROCEDURE proc_out;
DROP PROCEDURE proc_fail;
DROP FUNCTION add_one;
SELECT 'END OF BATTERY' AS done;
