// Node mysql2 battery for Tern's client matrix: prints a deterministic report
// of what the driver sees, so that a run against the primary and a run through
// Tern can be compared line by line.
//
//   node compat_mysql2.js HOST PORT USER PASSWORD SCHEMA
//
// SCHEMA is created (dropped first if present) and dropped at the end; the
// report never prints it.
'use strict';

const mysql = require('mysql2');

const [host, port, user, password, schema] = process.argv.slice(2);

function out(line) {
  console.log(String(line).split(schema).join('<schema>'));
}

function show(v) {
  if (v === null) return 'NULL';
  if (Buffer.isBuffer(v)) return '0x' + v.toString('hex');
  if (v instanceof Date) return 'Date:' + v.toISOString();
  return typeof v + ':' + String(v);
}

function fields(what, fs) {
  out(`${what} fields=${fs.length}`);
  for (const f of fs) {
    out(`  field name=${f.name} orgName=${f.orgName} table=${f.table} orgTable=${f.orgTable}` +
      ` type=${f.columnType} length=${f.columnLength} charset=${f.characterSet}` +
      ` flags=${f.flags} decimals=${f.decimals}`);
  }
}

function rows(what, rs) {
  for (const r of rs) {
    out('  row ' + (Array.isArray(r) ? r : Object.values(r)).map(show).join(' '));
  }
  out(`${what} rows=${rs.length}`);
}

function okPacket(what, r) {
  out(`${what} affected=${r.affectedRows} insertId=${r.insertId} warnings=${r.warningStatus}` +
    ` info=${JSON.stringify(r.info)}`);
}

function error(what, e) {
  out(`${what} error code=${e.code} errno=${e.errno} sqlState=${e.sqlState} message=${e.sqlMessage}`);
}

async function main() {
  const base = { host, port: Number(port), user, password, supportBigNumbers: true, bigNumberStrings: true, dateStrings: true };
  const admin = mysql.createConnection(base).promise();
  await admin.query(`DROP DATABASE IF EXISTS ${schema}`);
  await admin.query(`CREATE DATABASE ${schema}`);
  await admin.end();

  const conn = mysql.createConnection({ ...base, database: schema, multipleStatements: true });
  const c = conn.promise();

  await c.query(`CREATE TABLE t (
    id INT AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(40) NOT NULL UNIQUE,
    price DECIMAL(10,2),
    big BIGINT UNSIGNED,
    ratio DOUBLE,
    born DATE,
    seen DATETIME(3),
    raw VARBINARY(8),
    doc JSON)`);

  // Prepared statements (binary protocol), reused with different parameters.
  for (let i = 1; i <= 4; i++) {
    const [r] = await c.execute(
      'INSERT INTO t (name, price, big, ratio, born, seen, raw, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [`n${i}`, `${i}.5`, '18446744073709551615', i / 8, `2024-01-0${i}`, `2024-02-03 04:05:0${i}.250`,
        Buffer.from([0, i, 255]), i === 3 ? null : JSON.stringify({ k: i, s: 'ü' })]);
    okPacket(`execute insert ${i}`, r);
  }
  {
    const [rs, fs] = await c.execute('SELECT *, price * 2 AS twice FROM t WHERE id > ? ORDER BY id', [1]);
    fields('execute select', fs);
    rows('execute select', rs);
  }
  {
    const [rs] = await c.execute('SELECT ? AS a, ? AS b, ? AS c, ? AS d', [1, 'x', null, 2.5]);
    rows('execute params only', rs);
  }

  // Several result sets from one query.
  {
    const [results, fs] = await c.query(
      'SELECT 1 AS one; UPDATE t SET price = price + 1 WHERE id <= 2; SELECT name FROM t ORDER BY id; ' +
      "SELECT 'x' AS a, 2 AS b; DO 1");
    out(`multi results=${results.length}`);
    results.forEach((r, i) => {
      if (Array.isArray(r)) {
        fields(`multi ${i}`, fs[i]);
        rows(`multi ${i}`, r);
      } else {
        okPacket(`multi ${i}`, r);
      }
    });
  }
  // A multi-statement query that fails in its second statement.
  try {
    await c.query('SELECT 1; SELECT * FROM no_such_table; SELECT 3');
    out('multi with error did not fail');
  } catch (e) {
    error('multi with error', e);
  }
  {
    const [rs] = await c.query('SELECT COUNT(*) AS n FROM t');
    rows('after multi error', rs);
  }

  // A large result streamed row by row.
  await new Promise((resolve, reject) => {
    let n = 0;
    let sum = 0n;
    let last = null;
    conn.query(
      "SELECT seq AS n, CONCAT('row-', seq) AS label FROM seq_1_to_200000")
      .stream({ highWaterMark: 100 })
      .on('data', (r) => {
        n += 1;
        sum += BigInt(r.n);
        last = r.label;
      })
      .on('error', reject)
      .on('end', () => {
        out(`stream rows=${n} sum=${sum} last=${last}`);
        resolve();
      });
  });

  // Errors: duplicate key through execute and query, a syntax error.
  try {
    await c.execute('INSERT INTO t (name) VALUES (?)', ['n2']);
  } catch (e) {
    error('execute duplicate', e);
  }
  try {
    await c.query("INSERT INTO t (id, name) VALUES (1, 'z')");
  } catch (e) {
    error('query duplicate', e);
  }
  try {
    await c.query('SELEC 1');
  } catch (e) {
    error('syntax', e);
  }
  try {
    await c.execute('SELECT * FROM no_such_table WHERE id = ?', [1]);
  } catch (e) {
    error('execute unknown table', e);
  }
  {
    const [rs] = await c.query("SELECT CAST('7x' AS INT) AS w");
    rows('warning query', rs);
    const [ws] = await c.query('SHOW WARNINGS');
    rows('warnings', ws);
  }

  // A transaction through the promise API.
  await c.beginTransaction();
  await c.execute('INSERT INTO t (name) VALUES (?)', ['tx1']);
  await c.rollback();
  await c.beginTransaction();
  await c.execute('INSERT INTO t (name) VALUES (?)', ['tx2']);
  await c.commit();
  {
    const [rs] = await c.query("SELECT name FROM t WHERE name LIKE 'tx%'");
    rows('after transactions', rs);
  }

  await c.query(`DROP DATABASE ${schema}`);
  await c.end();
  out('done');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
