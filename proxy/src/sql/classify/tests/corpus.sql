## Statement corpus for the classifier (see corpus.rs).
##
## Entries are separated by blank lines; lines starting with `##` are notes.
## An entry is SQL (one or more lines), optionally followed by one line that
## starts with `-->` and says what the classifier must report:
##
##   kind=K tables=a,db.b   expected kind and table set (case-insensitive);
##                          `tables=` alone means none. Required when
##                          sqlparser cannot parse the entry; otherwise both
##                          come from sqlparser's AST.
##   differs                sqlparser parses the entry but sees it otherwise,
##                          on purpose (the kind/tables given here win).
##   locking_read side_effects user_vars multi starts ends
##                          flags that must be true; unlisted ones are false.
##   pin=P                  temporary_table lock_tables unlock_tables
##                          user_lock prepare sql_log_bin; else no pin.
##   autocommit=0|1 use=db hint=key hint=key:value
##                          likewise: absent means None / no hints.

## ----- SELECT ----------------------------------------------------------------

SELECT 1

SELECT id, name FROM users WHERE id = 42

select * from Orders o where o.status = 'paid' order by o.created_at desc limit 20

SELECT u.id, COUNT(*) AS n FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.id HAVING COUNT(*) > 3

SELECT * FROM a LEFT JOIN b ON a.id = b.a_id LEFT OUTER JOIN c ON c.id = b.c_id RIGHT JOIN d ON d.id = c.d_id

SELECT * FROM a INNER JOIN b USING (id) CROSS JOIN c NATURAL JOIN d

SELECT * FROM a STRAIGHT_JOIN b ON a.x = b.x

SELECT * FROM a, b, c WHERE a.id = b.id AND b.id = c.id

SELECT * FROM shop.orders, shop.items WHERE orders.id = items.order_id

SELECT * FROM `shop`.`order lines` AS ol JOIN `select` s ON s.id = ol.id

SELECT * FROM db1.t1 AS x JOIN db2.t1 AS y ON x.id = y.id

SELECT name FROM users WHERE id IN (SELECT user_id FROM orders WHERE total > 100)

SELECT * FROM users u WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = u.id)

SELECT (SELECT MAX(created_at) FROM logins l WHERE l.user_id = u.id) AS last_login FROM users u

SELECT d.n FROM (SELECT COUNT(*) AS n FROM events GROUP BY kind) AS d

SELECT * FROM (SELECT id FROM a UNION ALL SELECT id FROM b) AS u JOIN c ON c.id = u.id

SELECT id FROM a UNION SELECT id FROM b UNION ALL SELECT id FROM c ORDER BY id

(SELECT id FROM a ORDER BY id LIMIT 1) UNION (SELECT id FROM b ORDER BY id LIMIT 1)

SELECT id FROM a INTERSECT SELECT id FROM b

SELECT id FROM a EXCEPT SELECT id FROM b

WITH recent AS (SELECT * FROM orders WHERE created_at > NOW() - INTERVAL 1 DAY) SELECT user_id, COUNT(*) FROM recent GROUP BY user_id

WITH a AS (SELECT 1 AS x), b AS (SELECT x FROM a) SELECT * FROM b JOIN users ON users.id = b.x

WITH RECURSIVE tree (id, parent_id) AS (SELECT id, parent_id FROM nodes WHERE parent_id IS NULL UNION ALL SELECT n.id, n.parent_id FROM nodes n JOIN tree t ON n.parent_id = t.id) SELECT * FROM tree

SELECT EXTRACT(YEAR FROM created_at) AS y, COUNT(*) FROM orders GROUP BY y

SELECT TRIM(LEADING '0' FROM code), SUBSTRING(name FROM 2 FOR 3) FROM products

SELECT COALESCE((SELECT SUM(amount) FROM payments p WHERE p.order_id = o.id), 0) FROM orders o

SELECT 1 FROM DUAL

SELECT NOW(), VERSION(), DATABASE(), USER()

SELECT @@version, @@session.sql_mode

SELECT * FROM users USE INDEX (idx_email) WHERE email = 'a@b.c'

SELECT * FROM t1 FORCE INDEX (PRIMARY) JOIN t2 IGNORE INDEX (idx_b) ON t1.id = t2.id

SELECT ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY created_at) AS rn FROM orders

SELECT user_id, SUM(total) OVER w FROM orders WINDOW w AS (PARTITION BY user_id)

SELECT CASE WHEN total > 100 THEN 'big' ELSE 'small' END FROM orders

SELECT DISTINCT status FROM orders WHERE created_at BETWEEN '2024-01-01' AND '2024-12-31'

SELECT * FROM t WHERE name LIKE '%;%' AND note = 'it''s -- not a comment /* nor this */'

SELECT * FROM t WHERE a = "double \" quoted ; string"

SELECT * FROM t WHERE path = 'C:\\dir\\' AND x = 1

SELECT * FROM `order` WHERE `from` = 1 AND `table` = 2

SELECT a.* FROM a JOIN (SELECT b.id FROM b JOIN c ON c.b_id = b.id) AS bc ON bc.id = a.id

SELECT * FROM t1 WHERE (a, b) IN (SELECT a, b FROM t2)

SELECT * FROM orders WHERE user_id = (SELECT id FROM users WHERE email = 'x@y.z' LIMIT 1)

SELECT GROUP_CONCAT(name ORDER BY name SEPARATOR ', ') FROM tags

SELECT CAST(price AS DECIMAL(10, 2)), CONVERT(name USING utf8mb4) FROM products

SELECT JSON_EXTRACT(doc, '$.a') FROM documents WHERE JSON_CONTAINS(doc, '1', '$.b')

SELECT * FROM t LIMIT 10 OFFSET 20

SELECT * FROM t LIMIT 20, 10

SELECT * FROM t
-- a line comment
WHERE id = 1 # another comment
AND x = 2

/* leading comment */ SELECT id /* inline */ FROM users -- trailing

SeLeCt * FrOm UsErS wHeRe Id = 1

SELECT `a``b` FROM `weird``name`
--> tables=weird``name differs

SELECT * FROM tëst JOIN 表 ON tëst.id = 表.id

SELECT 1 FROM a WHERE 1--1
= 2

## ----- SELECT that sqlparser cannot parse or sees otherwise ----------------------

SELECT * FROM orders WHERE id = 1 FOR UPDATE
--> locking_read

SELECT * FROM orders WHERE id = 1 FOR SHARE
--> locking_read

SELECT * FROM orders WHERE id = 1 LOCK IN SHARE MODE
--> kind=select tables=orders locking_read

SELECT * FROM jobs WHERE state = 'ready' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
--> locking_read

SELECT * FROM jobs WHERE id = 3 FOR UPDATE NOWAIT
--> locking_read

SELECT * FROM jobs WHERE id = 3 FOR UPDATE WAIT 5
--> kind=select tables=jobs locking_read

SELECT * FROM a JOIN b ON a.id = b.id FOR UPDATE OF a
--> locking_read

SELECT SQL_CALC_FOUND_ROWS * FROM products LIMIT 10
--> kind=select tables=products side_effects

SELECT FOUND_ROWS()
--> side_effects

SELECT LAST_INSERT_ID()
--> side_effects

SELECT ROW_COUNT()
--> side_effects

SELECT GET_LOCK('migration', 10)
--> side_effects pin=user_lock

SELECT RELEASE_LOCK('migration')
--> side_effects

SELECT IS_FREE_LOCK('migration')

SELECT id INTO @last FROM orders ORDER BY id DESC LIMIT 1
--> kind=select tables=orders side_effects user_vars

SELECT * FROM orders INTO OUTFILE '/tmp/orders.csv' FIELDS TERMINATED BY ','
--> kind=select tables=orders side_effects

SELECT doc FROM documents WHERE id = 1 INTO DUMPFILE '/tmp/doc.bin'
--> kind=select tables=documents side_effects

SELECT @n := @n + 1 AS rn, t.* FROM t, (SELECT @n := 0) AS init
--> kind=select tables=t side_effects user_vars

SELECT * FROM orders WHERE user_id = @uid
--> user_vars

SELECT NEXT VALUE FOR order_seq
--> kind=select tables=order_seq side_effects

SELECT PREVIOUS VALUE FOR shop.order_seq
--> kind=select tables=shop.order_seq side_effects

SELECT NEXTVAL(order_seq), LASTVAL(order_seq)
--> kind=select tables=order_seq side_effects differs

SELECT SETVAL(order_seq, 100)
--> kind=select tables=order_seq side_effects differs

SELECT * FROM t FOR SYSTEM_TIME AS OF TIMESTAMP '2024-01-01 00:00:00' JOIN u ON t.id = u.id
--> kind=select tables=t,u

SELECT * FROM t, JSON_TABLE(t.doc, '$[*]' COLUMNS (x INT PATH '$.x')) AS jt
--> kind=select tables=t

VALUES ROW(1, 'a'), ROW(2, 'b')
--> kind=select tables=

TABLE orders ORDER BY id LIMIT 5
--> kind=select tables=orders

SELECT * FROM a WHERE id IN (TABLE b)
--> kind=select tables=a,b

SELECT * FROM users u, LATERAL (SELECT * FROM orders o WHERE o.user_id = u.id LIMIT 1) AS last_order
--> kind=select tables=users,orders

SELECT /*+ MAX_EXECUTION_TIME(1000) */ * FROM t1

/*!40101 SELECT * FROM t */
--> kind=select tables=t

SELECT /*!STRAIGHT_JOIN*/ * FROM a /*!50000 JOIN b ON a.id = b.id */
--> kind=select tables=a,b

/*M!100100 SELECT * FROM mariadb_only */
--> kind=select tables=mariadb_only differs

/* tern:replica */ SELECT * FROM reports
--> hint=replica

/* tern:replica tern:consistency=eventual */ SELECT COUNT(*) FROM events
--> hint=replica hint=consistency:eventual

SELECT * FROM dashboards /* tern:group=analytics, tern:timeout_ms=500 */
--> hint=group:analytics hint=timeout_ms:500

SELECT '/* tern:replica */' FROM t

## ----- INSERT / REPLACE / LOAD -------------------------------------------------------

INSERT INTO users (email, name) VALUES ('a@b.c', 'A')

INSERT INTO users VALUES (1, 'a'), (2, 'b'), (3, 'c;d')

INSERT IGNORE INTO tags (name) VALUES ('x')

INSERT INTO counters (k, v) VALUES ('a', 1) ON DUPLICATE KEY UPDATE v = v + 1

INSERT INTO totals (user_id, total) SELECT user_id, SUM(amount) FROM payments GROUP BY user_id

INSERT INTO archive.orders SELECT * FROM shop.orders o JOIN shop.users u ON o.user_id = u.id WHERE o.created_at < '2020-01-01'

INSERT INTO t (a) SELECT a FROM s ON DUPLICATE KEY UPDATE a = VALUES(a), b = 2

INSERT INTO logs SET level = 'info', msg = 'started'

INSERT INTO t (a, b) VALUES (1, (SELECT MAX(b) FROM u))

INSERT LOW_PRIORITY INTO t VALUES (1)

INSERT DELAYED INTO t VALUES (1)
--> kind=insert tables=t

INSERT INTO t VALUES (1, 2) AS new ON DUPLICATE KEY UPDATE b = new.b
--> kind=insert tables=t

INSERT INTO t TABLE s
--> kind=insert tables=t,s

INSERT INTO users (email) VALUES ('x@y.z') RETURNING id, created_at
--> kind=insert tables=users

INSERT INTO t (id) VALUES (NEXT VALUE FOR s)
--> kind=insert tables=t,s side_effects

INSERT INTO t (a) VALUES (@a)
--> user_vars

INSERT INTO t VALUES (LAST_INSERT_ID())
--> side_effects

REPLACE INTO settings (k, v) VALUES ('theme', 'dark')

REPLACE INTO cache SELECT * FROM cache_staging

REPLACE settings SET k = 'a', v = 'b'

LOAD DATA LOCAL INFILE '/tmp/users.csv' INTO TABLE users FIELDS TERMINATED BY ',' IGNORE 1 LINES
--> kind=insert tables=users

LOAD DATA INFILE 'data.txt' REPLACE INTO TABLE shop.items (a, @b) SET c = @b * 2
--> kind=insert tables=shop.items user_vars

LOAD XML LOCAL INFILE 'items.xml' INTO TABLE items ROWS IDENTIFIED BY '<item>'
--> kind=insert tables=items

## ----- UPDATE ------------------------------------------------------------------------

UPDATE users SET name = 'B' WHERE id = 1

UPDATE orders SET status = 'shipped', shipped_at = NOW() WHERE id IN (1, 2, 3)

UPDATE orders o JOIN users u ON u.id = o.user_id SET o.email = u.email WHERE o.email IS NULL

UPDATE a, b SET a.x = b.x WHERE a.id = b.id
--> kind=update tables=a,b

UPDATE LOW_PRIORITY IGNORE t SET a = 1 ORDER BY id LIMIT 10
--> kind=update tables=t

UPDATE products SET price = price * 1.1 WHERE category_id = (SELECT id FROM categories WHERE name = 'books')

UPDATE t SET a = 1 WHERE b = 'FROM x JOIN y'

UPDATE t SET rank = (@r := @r + 1) ORDER BY score DESC
--> side_effects user_vars

WITH stale AS (SELECT id FROM sessions WHERE expires_at < NOW()) UPDATE sessions s JOIN stale ON s.id = stale.id SET s.active = 0
--> kind=update tables=sessions

## ----- DELETE ------------------------------------------------------------------------

DELETE FROM sessions WHERE expires_at < NOW()

DELETE FROM logs ORDER BY id LIMIT 1000

DELETE LOW_PRIORITY QUICK IGNORE FROM t WHERE a = 1
--> kind=delete tables=t

DELETE o FROM orders o LEFT JOIN users u ON u.id = o.user_id WHERE u.id IS NULL

DELETE a, b FROM a JOIN b ON a.id = b.a_id WHERE a.x = 1

DELETE FROM a, b USING a JOIN b ON a.id = b.a_id WHERE a.x = 1

DELETE FROM x USING orders AS x JOIN items AS y ON x.id = y.order_id
--> kind=delete tables=orders,items differs

DELETE FROM t WHERE id IN (SELECT id FROM (SELECT id FROM t ORDER BY id LIMIT 5) AS d)

DELETE FROM queue WHERE id = 7 RETURNING payload
--> kind=delete tables=queue

WITH old AS (SELECT id FROM events WHERE ts < '2020-01-01') DELETE FROM events WHERE id IN (SELECT id FROM old)
--> kind=delete tables=events

## ----- DDL ---------------------------------------------------------------------------

CREATE TABLE users (id BIGINT PRIMARY KEY AUTO_INCREMENT, email VARCHAR(255) NOT NULL UNIQUE, created_at DATETIME DEFAULT CURRENT_TIMESTAMP)
--> ends

CREATE TABLE IF NOT EXISTS shop.orders (id INT PRIMARY KEY, user_id INT, FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE)
--> ends

CREATE TABLE items (id INT, order_id INT REFERENCES orders (id))
--> ends

CREATE TABLE t (id INT) ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
--> kind=ddl tables=t ends

CREATE TABLE p (id INT, d DATE) PARTITION BY RANGE (YEAR(d)) (PARTITION p0 VALUES LESS THAN (2020), PARTITION p1 VALUES LESS THAN MAXVALUE)
--> kind=ddl tables=p ends

CREATE TABLE t2 LIKE t1
--> ends

CREATE TABLE t2 (LIKE t1)
--> kind=ddl tables=t2,t1 ends differs

CREATE TABLE summary AS SELECT user_id, COUNT(*) AS n FROM orders GROUP BY user_id
--> ends

CREATE TABLE summary2 SELECT user_id FROM orders
--> kind=ddl tables=summary2,orders ends

CREATE OR REPLACE TABLE t (a INT)
--> kind=ddl tables=t ends

CREATE TEMPORARY TABLE tmp_ids (id INT PRIMARY KEY)
--> pin=temporary_table

CREATE TEMPORARY TABLE tmp_orders AS SELECT * FROM orders WHERE user_id = 1
--> pin=temporary_table

ALTER TABLE orders ADD COLUMN note VARCHAR(64)
--> ends

ALTER TABLE orders ADD COLUMN note VARCHAR(64), ALGORITHM=INSTANT
--> kind=ddl tables=orders ends

ALTER TABLE orders ADD INDEX idx_user (user_id), ALGORITHM=INPLACE, LOCK=NONE
--> kind=ddl tables=orders ends

ALTER ONLINE TABLE orders DROP COLUMN note
--> kind=ddl tables=orders ends

ALTER IGNORE TABLE t ADD UNIQUE (a)
--> kind=ddl tables=t ends

ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4
--> kind=ddl tables=t ends

ALTER TABLE t ENGINE=InnoDB
--> kind=ddl tables=t ends

ALTER TABLE t DROP FOREIGN KEY fk_user
--> ends

ALTER TABLE t ADD CONSTRAINT fk_user FOREIGN KEY (user_id) REFERENCES users (id)
--> ends

ALTER TABLE t RENAME TO t_old
--> ends

ALTER TABLE t RENAME COLUMN a TO b
--> ends

ALTER TABLE t MODIFY COLUMN a BIGINT NOT NULL
--> ends

ALTER TABLE t EXCHANGE PARTITION p0 WITH TABLE t_archive
--> kind=ddl tables=t,t_archive ends

DROP TABLE old_orders
--> ends

DROP TABLE IF EXISTS a, b, shop.c
--> ends

DROP TEMPORARY TABLE IF EXISTS tmp_ids
--> kind=ddl tables=tmp_ids

DROP VIEW IF EXISTS v_orders
--> ends

DROP DATABASE legacy
--> ends

RENAME TABLE orders TO orders_old, orders_new TO orders
--> ends

RENAME TABLE shop.a TO archive.a
--> ends

TRUNCATE TABLE sessions
--> ends

TRUNCATE sessions
--> ends

CREATE INDEX idx_email ON users (email)
--> ends

CREATE UNIQUE INDEX idx_code USING BTREE ON products (code)
--> kind=ddl tables=products ends

DROP INDEX idx_email ON users
--> ends

CREATE VIEW v_orders AS SELECT o.id, u.email FROM orders o JOIN users u ON u.id = o.user_id
--> ends

CREATE OR REPLACE ALGORITHM=MERGE DEFINER=`admin`@`%` SQL SECURITY INVOKER VIEW v AS SELECT * FROM t
--> kind=ddl tables=v,t ends

/*!50001 CREATE ALGORITHM=UNDEFINED */ /*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */ /*!50001 VIEW `v_users` AS select `users`.`id` AS `id` from `users` */
--> kind=ddl tables=v_users,users ends

ALTER VIEW v AS SELECT id FROM t2
--> ends

CREATE DATABASE IF NOT EXISTS shop CHARACTER SET utf8mb4
--> ends

CREATE SCHEMA reports
--> ends

CREATE SEQUENCE order_seq START WITH 1 INCREMENT BY 1
--> kind=ddl tables=order_seq ends

DROP SEQUENCE IF EXISTS order_seq
--> kind=ddl tables=order_seq ends

CREATE TRIGGER trg_orders BEFORE INSERT ON orders FOR EACH ROW SET NEW.created_at = NOW()
--> kind=ddl tables=orders ends

CREATE DEFINER=`root`@`localhost` TRIGGER audit AFTER UPDATE ON shop.accounts FOR EACH ROW BEGIN INSERT INTO audit_log (id) VALUES (NEW.id); UPDATE stats SET n = n + 1; END
--> kind=ddl tables=shop.accounts ends differs

CREATE PROCEDURE cleanup(IN days INT) BEGIN DELETE FROM logs WHERE ts < NOW() - INTERVAL days DAY; IF ROW_COUNT() > 0 THEN SELECT 'ok'; END IF; END
--> kind=ddl tables= ends

CREATE FUNCTION add_one(x INT) RETURNS INT DETERMINISTIC RETURN x + 1
--> kind=ddl tables= ends

CREATE EVENT purge ON SCHEDULE EVERY 1 DAY DO DELETE FROM sessions WHERE expires_at < NOW()
--> kind=ddl tables= ends

DROP PROCEDURE IF EXISTS cleanup
--> ends

DROP TRIGGER IF EXISTS trg_orders
--> kind=ddl tables= ends

CREATE USER 'app'@'%' IDENTIFIED BY 'secret'
--> kind=ddl tables= ends

GRANT SELECT, INSERT ON shop.* TO 'app'@'%'
--> ends

REVOKE INSERT ON shop.orders FROM 'app'@'%'
--> kind=ddl tables= ends

SET PASSWORD FOR 'app'@'%' = 'new'
--> kind=ddl tables= ends

## ----- transactions ------------------------------------------------------------------

BEGIN
--> starts

BEGIN WORK
--> starts

START TRANSACTION
--> starts

START TRANSACTION READ ONLY
--> starts

START TRANSACTION WITH CONSISTENT SNAPSHOT
--> kind=transaction tables= starts

COMMIT
--> ends

COMMIT WORK
--> ends

COMMIT AND CHAIN
--> kind=transaction tables= starts ends

ROLLBACK
--> ends

ROLLBACK TO SAVEPOINT sp1

ROLLBACK WORK TO sp1
--> kind=transaction tables=

SAVEPOINT sp1

RELEASE SAVEPOINT sp1

XA START 'trx1'
--> kind=transaction tables= starts

XA END 'trx1'
--> kind=transaction tables=

XA PREPARE 'trx1'
--> kind=transaction tables=

XA COMMIT 'trx1'
--> kind=transaction tables= ends

XA ROLLBACK 'trx1'
--> kind=transaction tables= ends

## ----- SET -----------------------------------------------------------------------------

SET autocommit = 0
--> autocommit=0

SET autocommit=1
--> autocommit=1

SET SESSION autocommit = ON
--> autocommit=1

SET @@session.autocommit = OFF
--> autocommit=0

SET NAMES utf8mb4
--> kind=set tables=

SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci, autocommit = 0
--> kind=set tables= autocommit=0

SET CHARACTER SET utf8
--> kind=set tables=

SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED

SET TRANSACTION READ ONLY
--> kind=set tables=

SET sql_mode = 'STRICT_TRANS_TABLES', time_zone = '+00:00'

SET @x = 5
--> side_effects user_vars

SET @x := (SELECT COUNT(*) FROM orders)
--> kind=set tables=orders side_effects user_vars

SET @a = 1, @b = @a + 1
--> side_effects user_vars

SET GLOBAL max_connections = 500
--> side_effects

SET @@global.read_only = 1
--> kind=set tables= side_effects

SET sql_log_bin = 0
--> pin=sql_log_bin

SET STATEMENT max_statement_time = 5 FOR SELECT * FROM big_table
--> kind=select tables=big_table

SET STATEMENT sql_mode = '' FOR UPDATE t SET a = 1
--> kind=update tables=t

/*!40101 SET NAMES utf8 */
--> kind=set tables=

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */
--> kind=set tables= side_effects user_vars

SET ROLE reporting
--> kind=set tables=

SET DEFAULT ROLE reporting TO 'app'@'%'
--> kind=ddl tables= ends

## ----- everything else -----------------------------------------------------------------

SHOW TABLES

SHOW FULL PROCESSLIST

SHOW VARIABLES LIKE 'max%'

SHOW CREATE TABLE orders

SHOW COLUMNS FROM orders FROM shop
--> kind=other tables= differs

SHOW TABLES FROM shop
--> kind=other tables= differs

SHOW SLAVE STATUS
--> kind=other tables=

SHOW TERN MIGRATIONS
--> kind=other tables=

TERN PAUSE 3
--> kind=other tables=

USE shop
--> use=shop

USE `my-db`
--> use=my-db

CALL refresh_totals(1, @out)
--> user_vars

DO SLEEP(0.1)
--> kind=other tables=

DO RELEASE_ALL_LOCKS()
--> kind=other tables= side_effects

EXPLAIN SELECT * FROM orders WHERE user_id = 1

EXPLAIN FORMAT=JSON SELECT * FROM orders o JOIN users u ON u.id = o.user_id
--> kind=other tables=orders,users

EXPLAIN UPDATE orders SET a = 1
--> kind=other tables=orders

DESCRIBE orders

DESC shop.orders

ANALYZE TABLE orders
--> ends

OPTIMIZE TABLE orders, items
--> kind=other tables=orders,items ends

REPAIR TABLE t
--> kind=other tables=t ends

CHECK TABLE t
--> kind=other tables=t ends

CHECKSUM TABLE t1, t2
--> kind=other tables=t1,t2

LOCK TABLES orders WRITE, users READ
--> pin=lock_tables ends

LOCK TABLE orders AS o READ LOCAL
--> kind=other tables=orders pin=lock_tables ends

UNLOCK TABLES
--> pin=unlock_tables

FLUSH TABLES WITH READ LOCK
--> kind=other tables= pin=lock_tables

FLUSH PRIVILEGES

HANDLER orders OPEN
--> kind=other tables=orders

PREPARE stmt FROM 'SELECT * FROM orders WHERE id = ?'
--> kind=other tables= pin=prepare

PREPARE stmt FROM @sql
--> kind=other tables= pin=prepare user_vars

EXECUTE stmt USING @id
--> user_vars

DEALLOCATE PREPARE stmt

DROP PREPARE stmt
--> kind=other tables=

KILL QUERY 42

BEGIN NOT ATOMIC DECLARE x INT; SELECT COUNT(*) INTO x FROM t; END
--> kind=other tables=

## ----- several statements ------------------------------------------------------------

SELECT 1; SELECT 2
--> multi

SELECT * FROM a; UPDATE b SET x = 1
--> multi

BEGIN; UPDATE accounts SET balance = balance - 10 WHERE id = 1; COMMIT
--> kind=transaction tables=accounts multi ends

SELECT 1;
-- trailing comment after the last statement

SELECT ';' AS semi; SELECT "--" AS dashes
--> multi

SET autocommit = 0; SELECT * FROM t
--> multi autocommit=0

USE shop; SELECT * FROM orders
--> multi use=shop
