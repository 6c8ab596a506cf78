//! `TERN REVERT <id>` and `tern alter --revert ID`: a finished migration's
//! previous table goes back online with every write made since its
//! cut-over, and the revert can itself be reverted. Writers through Tern and
//! straight to the primary keep writing across the cut-over and both
//! reverts; every acknowledged write is in the table at the end, and the
//! replica ends identical. A revert the kept table cannot express is refused
//! with the reason.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use common::migrations::{column, migration_row, parked_old_table, show_create};
use common::{server_error, Setup};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tern_tests::cluster::{ADMIN_PASSWORD, ADMIN_USER, APP_DATABASE};

const ROWS: i64 = 20_000;
/// Columns of `SHOW TERN MIGRATIONS` this file reads.
const COL_REVERTS: usize = 21;
const COL_REVERTIBLE_UNTIL: usize = 22;
const COL_REVERT_NOTE: usize = 23;

/// What one writer's acknowledged writes left: id to `a`, `None` when deleted.
type Expected = BTreeMap<i64, Option<i64>>;

/// Inserts, updates and deletes rows of its own (ids `w mod 4` of the first
/// `ROWS`, and new ids from `first_new`) until told to stop. Every statement
/// must succeed; returns what the table must hold for those ids.
fn writer(
    mut c: Conn,
    w: i64,
    first_new: i64,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Result<Expected>> {
    tokio::spawn(async move {
        let mut expected = Expected::new();
        let mut next_new = first_new;
        let mut n: i64 = 0;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let old_id = ((n * 7919) % (ROWS / 4)) * 4 + w + 1;
            let result = match n % 4 {
                0 | 2 => {
                    next_new += 1;
                    expected.insert(next_new, Some(n));
                    c.query_drop(format!(
                        "INSERT INTO rv (id, a, b) VALUES ({next_new}, {n}, 'w{w}')"
                    ))
                    .await
                }
                1 => {
                    if expected.get(&old_id) == Some(&None) {
                        continue;
                    }
                    expected.insert(old_id, Some(-n));
                    c.query_drop(format!("UPDATE rv SET a = {} WHERE id = {old_id}", -n))
                        .await
                }
                _ => {
                    let id = if n % 8 == 3 { old_id } else { next_new };
                    expected.insert(id, None);
                    c.query_drop(format!("DELETE FROM rv WHERE id = {id}"))
                        .await
                }
            };
            if let Err(e) = result {
                bail!("writer {w}, statement {n}: {e}");
            }
        }
        Ok(expected)
    })
}

/// The table's (id, a) must be the first `ROWS` rows (a = id) with every
/// writer's acknowledged writes applied.
async fn check_rows(admin: &mut Conn, writers: &[Expected], phase: &str) -> Result<()> {
    let mut want: BTreeMap<i64, i64> = (1..=ROWS).map(|id| (id, id)).collect();
    for expected in writers {
        for (id, a) in expected {
            match a {
                Some(a) => want.insert(*id, *a),
                None => want.remove(id),
            };
        }
    }
    let have: BTreeMap<i64, i64> = admin
        .query::<(i64, i64), _>("SELECT id, CAST(a AS SIGNED) FROM rv")
        .await?
        .into_iter()
        .collect();
    if have != want {
        let missing: Vec<_> = want
            .iter()
            .filter(|(k, v)| have.get(k) != Some(v))
            .take(5)
            .collect();
        let extra: Vec<_> = have
            .iter()
            .filter(|(k, _)| !want.contains_key(k))
            .take(5)
            .collect();
        bail!(
            "{phase}: {} rows, {} expected; differing (expected) {missing:?}, unexpected {extra:?}",
            have.len(),
            want.len()
        );
    }
    Ok(())
}

fn revert_args() -> Vec<&'static str> {
    vec!["--migration-chunk-ms", "5"]
}

async fn steer(s: &Setup) -> Result<Conn> {
    Ok(Conn::new(s.tern_opts(ADMIN_USER, ADMIN_PASSWORD)).await?)
}

/// The id of the newest migration of `table`.
async fn last_migration(admin: &mut Conn, table: &str) -> Result<u64> {
    let id: Option<u64> = admin
        .exec_first(
            "SELECT MAX(id) FROM _tern.migrations WHERE table_name = ?",
            (table,),
        )
        .await?;
    id.context("no migration recorded")
}

/// Waits until migration `id` shows as revertible.
async fn wait_revertible(c: &mut Conn, id: u64) -> Result<Vec<Option<String>>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row = migration_row(c, id).await?;
        if !column(&row, COL_REVERTIBLE_UNTIL).is_empty() {
            return Ok(row);
        }
        ensure!(Instant::now() < deadline, "never revertible: {row:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revert_under_load_keeps_every_write_and_can_itself_be_reverted() -> Result<()> {
    let s = Setup::start(1, &revert_args())?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(format!(
            "CREATE TABLE rv (id BIGINT PRIMARY KEY, a INT NOT NULL, b VARCHAR(20) NOT NULL,
               gone INT NOT NULL DEFAULT 5, KEY by_a (a));
             INSERT INTO rv SELECT seq, seq, 'x', seq % 7 FROM seq_1_to_{ROWS};"
        ))
        .await?;
    let before = show_create(&mut admin, "rv").await?;

    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..3 {
        writers.push(writer(
            s.app_via_tern().await?,
            w,
            1_000_000 * (w + 1),
            stop.clone(),
        ));
    }
    writers.push(writer(s.app_direct().await?, 3, 9_000_000, stop.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A COPY-only change: INT to BIGINT, a column dropped, one added.
    let mut c = s.app_via_tern().await?;
    c.query_drop("ALTER TABLE rv MODIFY a BIGINT NOT NULL, DROP COLUMN gone, ADD COLUMN c INT NOT NULL DEFAULT 3")
        .await?;
    let after = show_create(&mut admin, "rv").await?;
    ensure!(
        after.contains("`a` bigint(20)") && !after.contains("`gone`"),
        "{after}"
    );
    let id = last_migration(&mut admin, "rv").await?;
    let mut steer = steer(&s).await?;
    let row = wait_revertible(&mut steer, id).await?;
    ensure!(column(&row, COL_REVERTS) == "0", "{row:?}");
    tokio::time::sleep(Duration::from_millis(700)).await;

    steer.query_drop(format!("TERN REVERT {id}")).await?;
    let reverted = show_create(&mut admin, "rv").await?;
    ensure!(
        reverted == before,
        "after the revert the table should read as before the change:\n{reverted}\nbefore:\n{before}\n{}",
        s.tern.log_tail()
    );
    tokio::time::sleep(Duration::from_millis(700)).await;

    // The revert itself is undone the same way.
    steer.query_drop(format!("TERN REVERT {id}")).await?;
    let again = show_create(&mut admin, "rv").await?;
    ensure!(again == after, "{again}\nexpected\n{after}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut expected = Vec::new();
    for w in writers {
        expected.push(w.await??);
    }
    check_rows(&mut admin, &expected, "after two reverts").await?;
    let writes: usize = expected.iter().map(BTreeMap::len).sum();
    eprintln!(
        "{writes} rows written by four writers across the cut-over and two reverts, none lost"
    );

    let row = migration_row(&mut steer, id).await?;
    ensure!(
        column(&row, COL_REVERTS) == "2" && !column(&row, COL_REVERTIBLE_UNTIL).is_empty(),
        "{row:?}"
    );
    // Old rows kept the value of the column the revert brought back; the
    // added column kept its values through the revert and back.
    let kept: Option<(u64, u64)> = admin
        .query_first(format!(
            "SELECT SUM(c <> 3), COUNT(*) FROM rv WHERE id <= {ROWS}"
        ))
        .await?;
    ensure!(kept.context("c")?.0 == 0, "{kept:?}");

    tokio::task::block_in_place(|| s.cluster.wait_replicas_caught_up(Duration::from_secs(60)))?;
    let mut replica =
        Conn::new(s.cluster.replicas()[0].opts(ADMIN_USER, ADMIN_PASSWORD, Some(APP_DATABASE)))
            .await?;
    let primary_sum: Option<(String, i64)> = admin.query_first("CHECKSUM TABLE rv").await?;
    let replica_sum: Option<(String, i64)> = replica.query_first("CHECKSUM TABLE rv").await?;
    ensure!(
        primary_sum == replica_sum,
        "{primary_sum:?} {replica_sum:?}"
    );
    Ok(())
}

/// Rows kept from before the change keep a dropped column's value; rows
/// inserted since take its default, or the type's implicit default when it
/// has none. The replica of the revert matches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_column_comes_back_with_its_old_values_and_defaults_for_new_rows() -> Result<()> {
    let s = Setup::start(0, &revert_args())?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE dc (id INT PRIMARY KEY, v INT NOT NULL, d1 INT NOT NULL DEFAULT 9,
               d2 VARCHAR(10) NOT NULL, d3 BIGINT NOT NULL);
             INSERT INTO dc SELECT seq, seq, seq, CONCAT('s', seq), seq * 2 FROM seq_1_to_1000;",
        )
        .await?;
    let mut c = s.app_via_tern().await?;
    c.query_drop(
        "ALTER TABLE dc MODIFY v BIGINT NOT NULL, DROP COLUMN d1, DROP COLUMN d2, DROP COLUMN d3",
    )
    .await?;
    let id = last_migration(&mut admin, "dc").await?;
    let mut steer = steer(&s).await?;
    wait_revertible(&mut steer, id).await?;
    c.query_drop(
        "INSERT INTO dc (id, v) VALUES (2001, 1), (2002, 2);
         UPDATE dc SET v = -1 WHERE id <= 10;
         DELETE FROM dc WHERE id BETWEEN 11 AND 20;",
    )
    .await?;
    steer.query_drop(format!("TERN REVERT {id}")).await?;
    let rows: Vec<(i64, i64, i64, String, i64)> = admin
        .query("SELECT id, v, d1, d2, d3 FROM dc WHERE id <= 12 OR id > 2000 ORDER BY id")
        .await?;
    let want: Vec<(i64, i64, i64, String, i64)> = (1..=10)
        .map(|i| (i, -1, i, format!("s{i}"), i * 2))
        .chain([
            (2001, 1, 9, String::new(), 0),
            (2002, 2, 9, String::new(), 0),
        ])
        .collect();
    ensure!(rows == want, "{rows:?}");
    let count: Option<u64> = admin.query_first("SELECT COUNT(*) FROM dc").await?;
    ensure!(count == Some(992), "{count:?}");
    Ok(())
}

/// Reverts the kept table cannot express, and reverts of what is not a
/// finished migration, are refused with ERROR 1105 and the reason; the
/// table is left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reverts_that_cannot_be_done_are_refused_with_the_reason() -> Result<()> {
    let s = Setup::start(0, &revert_args())?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE uq (id INT PRIMARY KEY, v INT NOT NULL, UNIQUE KEY uk (v));
             INSERT INTO uq SELECT seq, seq FROM seq_1_to_1000;
             CREATE TABLE again (id INT PRIMARY KEY, v INT NOT NULL);
             INSERT INTO again SELECT seq, seq FROM seq_1_to_1000;",
        )
        .await?;
    let mut steer = steer(&s).await?;
    let refused = |r: Result<(), mysql_async::Error>, want: &str| -> Result<()> {
        let (code, _, message) = server_error(r).with_context(|| format!("refusal: {want}"))?;
        ensure!(code == 1105 && message.contains(want), "{code} {message}");
        Ok(())
    };
    refused(
        steer.query_drop("TERN REVERT 424242").await,
        "Unknown migration 424242",
    )?;

    // The change dropped a unique key: rows written since may break it.
    let mut c = s.app_via_tern().await?;
    c.query_drop("ALTER TABLE uq MODIFY v BIGINT NOT NULL, DROP INDEX uk")
        .await?;
    let id = last_migration(&mut admin, "uq").await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let note = loop {
        let row = migration_row(&mut steer, id).await?;
        let note = column(&row, COL_REVERT_NOTE);
        if !note.is_empty() {
            ensure!(column(&row, COL_REVERTIBLE_UNTIL).is_empty(), "{row:?}");
            break note;
        }
        ensure!(Instant::now() < deadline, "no revert note: {row:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    ensure!(note.contains("unique key `uk`"), "{note}");
    refused(
        steer.query_drop(format!("TERN REVERT {id}")).await,
        "unique key `uk`",
    )?;
    ensure!(!show_create(&mut admin, "uq").await?.contains("UNIQUE KEY"));

    // A changed key: rows could not be matched. A dropped column without
    // a default whose type has no implicit one: new rows could not go back.
    admin
        .query_drop(
            "CREATE TABLE pk (id INT PRIMARY KEY, v INT NOT NULL);
             INSERT INTO pk SELECT seq, seq FROM seq_1_to_1000;
             CREATE TABLE dd (id INT PRIMARY KEY, v INT NOT NULL, born DATE NOT NULL);
             INSERT INTO dd SELECT seq, seq, '2020-01-01' FROM seq_1_to_1000;",
        )
        .await?;
    for (table, change, why) in [
        (
            "pk",
            "ALTER TABLE pk DROP PRIMARY KEY, ADD PRIMARY KEY (id, v)",
            "altered the table's key",
        ),
        (
            "dd",
            "ALTER TABLE dd MODIFY v BIGINT NOT NULL, DROP COLUMN born",
            "dropped column `born`, which has no default",
        ),
    ] {
        c.query_drop(change).await?;
        let id = last_migration(&mut admin, table).await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let row = migration_row(&mut steer, id).await?;
            if !column(&row, COL_REVERT_NOTE).is_empty() {
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "{table}: no revert note: {row:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        refused(steer.query_drop(format!("TERN REVERT {id}")).await, why)?;
    }

    // A later migration of the table ends the earlier one's revert.
    c.query_drop("ALTER TABLE again MODIFY v BIGINT NOT NULL")
        .await?;
    let first = last_migration(&mut admin, "again").await?;
    wait_revertible(&mut steer, first).await?;
    c.query_drop("ALTER TABLE again ADD COLUMN w INT NULL, FORCE")
        .await?;
    let second = last_migration(&mut admin, "again").await?;
    refused(
        steer.query_drop(format!("TERN REVERT {first}")).await,
        &format!("being changed again by migration {second}"),
    )?;
    // The later one reverts: back to the first change's result.
    wait_revertible(&mut steer, second).await?;
    steer.query_drop(format!("TERN REVERT {second}")).await?;
    let create = show_create(&mut admin, "again").await?;
    ensure!(
        create.contains("`v` bigint(20)") && !create.contains("`w`"),
        "{create}"
    );

    // A running migration is not reverted.
    let running: Option<String> = c
        .query_first("/* tern:async tern:postpone */ ALTER TABLE uq ADD COLUMN z INT NULL, FORCE")
        .await?;
    let running: u64 = running.context("id")?.parse()?;
    refused(
        steer.query_drop(format!("TERN REVERT {running}")).await,
        "has not finished",
    )?;
    steer.query_drop(format!("TERN CANCEL {running}")).await?;

    // Only an administrator reverts.
    admin
        .query_drop(
            "CREATE USER plain@'%' IDENTIFIED BY 'plain_pw'; GRANT ALL ON app.* TO plain@'%'",
        )
        .await?;
    let mut plain = Conn::new(s.tern_opts("plain", "plain_pw")).await?;
    let (code, _, _) = server_error(plain.query_drop(format!("TERN REVERT {second}")).await)?;
    ensure!(code == 1227, "{code}");
    let create = show_create(&mut admin, "again").await?;
    ensure!(!create.contains("`w`"), "{create}");
    Ok(())
}

async fn app_tables(admin: &mut Conn) -> Result<Vec<String>> {
    Ok(admin
        .query(format!("SHOW TABLES FROM {APP_DATABASE}"))
        .await?)
}

/// A previous version kept for a revert waits in Tern's schema, so the
/// application's `SHOW TABLES` is what it would be without Tern. Dropping a
/// table (or renaming it away), through Tern or not, drops its previous
/// version too, instead of keeping it for the rest of the keep time (a day),
/// and the revert says why it cannot be done. A table that lives on keeps
/// its previous version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_table_leaves_no_previous_version_behind() -> Result<()> {
    let s = Setup::start(0, &revert_args())?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE gone (id INT PRIMARY KEY, v INT NOT NULL);
             INSERT INTO gone SELECT seq, seq FROM seq_1_to_1000;
             CREATE TABLE moved (id INT PRIMARY KEY, v INT NOT NULL);
             INSERT INTO moved SELECT seq, seq FROM seq_1_to_1000;
             CREATE TABLE stays (id INT PRIMARY KEY, v INT NOT NULL);
             INSERT INTO stays SELECT seq, seq FROM seq_1_to_1000;",
        )
        .await?;
    let mut c = s.app_via_tern().await?;
    let mut steer = steer(&s).await?;
    let mut ids = Vec::new();
    for table in ["gone", "moved", "stays"] {
        c.query_drop(format!("ALTER TABLE {table} MODIFY v BIGINT NOT NULL"))
            .await?;
        let id = last_migration(&mut admin, table).await?;
        wait_revertible(&mut steer, id).await?;
        ids.push(id);
    }
    // Each previous version waits in Tern's schema, not beside its table.
    for (table, id) in ["gone", "moved", "stays"].iter().zip(&ids) {
        parked_old_table(&mut admin, &format!("{table}_tern{id}_old")).await?;
    }
    let before = app_tables(&mut admin).await?;
    ensure!(
        before == ["gone", "moved", "stays"],
        "the application's schema shows more than its tables: {before:?}"
    );
    // A change still to be merged when the table goes: the keeper cannot
    // read it from the table any more (found by MariaDB's test suite).
    c.query_drop("INSERT INTO gone VALUES (5000, 5000); DROP TABLE gone")
        .await?;
    admin
        .query_drop("RENAME TABLE moved TO moved_archive")
        .await?;
    let want = vec!["moved_archive".to_string(), "stays".to_string()];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = app_tables(&mut admin).await?;
        if now == want {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "tables after the drop: {now:?}, expected {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for &id in &ids[..2] {
        loop {
            let parked: Vec<String> = admin
                .exec(
                    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '_tern' AND TABLE_NAME LIKE ?",
                    (format!("%\\_tern{id}\\_old"),),
                )
                .await?;
            if parked.is_empty() {
                break;
            }
            ensure!(Instant::now() < deadline, "still kept: {parked:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for &id in &ids[..2] {
        let row = migration_row(&mut steer, id).await?;
        ensure!(column(&row, COL_REVERTIBLE_UNTIL).is_empty(), "{row:?}");
        ensure!(
            column(&row, COL_REVERT_NOTE).contains("dropped or renamed away"),
            "{row:?}"
        );
        let (code, _, message) = server_error(steer.query_drop(format!("TERN REVERT {id}")).await)?;
        ensure!(
            code == 1105 && message.contains("dropped or renamed away"),
            "{code} {message}"
        );
    }
    let row = wait_revertible(&mut steer, ids[2]).await?;
    ensure!(column(&row, COL_REVERT_NOTE).is_empty(), "{row:?}");
    parked_old_table(&mut admin, &format!("stays_tern{}_old", ids[2])).await?;
    Ok(())
}

/// Past the keep time the old table is gone and the revert says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_revert_after_the_keep_time() -> Result<()> {
    let s = Setup::start(0, &["--migration-keep-old-secs", "2"])?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE kt (id INT PRIMARY KEY, v INT NOT NULL);
             INSERT INTO kt SELECT seq, seq FROM seq_1_to_1000;",
        )
        .await?;
    let mut c = s.app_via_tern().await?;
    c.query_drop("ALTER TABLE kt MODIFY v BIGINT NOT NULL")
        .await?;
    let id = last_migration(&mut admin, "kt").await?;
    let mut steer = steer(&s).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let dropped: Option<u8> = admin
            .exec_first(
                "SELECT old_dropped FROM _tern.migrations WHERE id = ?",
                (id,),
            )
            .await?;
        if dropped == Some(1) {
            break;
        }
        ensure!(Instant::now() < deadline, "the old table was never dropped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let row = migration_row(&mut steer, id).await?;
    ensure!(column(&row, COL_REVERTIBLE_UNTIL).is_empty(), "{row:?}");
    let (code, _, message) = server_error(steer.query_drop(format!("TERN REVERT {id}")).await)?;
    ensure!(
        code == 1105 && message.contains("keep time"),
        "{code} {message}"
    );
    Ok(())
}

/// With Tern gone, writes straight to the primary still reach the old table:
/// `tern alter --revert` reads the binlog from where the keeper stopped, then
/// reverts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tern_alter_revert_catches_up_on_writes_made_while_tern_was_down() -> Result<()> {
    let s = Setup::start(1, &revert_args())?;
    let mut admin = s.admin_direct().await?;
    admin
        .query_drop(
            "CREATE TABLE cr (id INT PRIMARY KEY, v INT NOT NULL, gone INT NOT NULL DEFAULT 4);
             INSERT INTO cr SELECT seq, seq, seq FROM seq_1_to_5000;",
        )
        .await?;
    let mut c = s.app_via_tern().await?;
    c.query_drop("ALTER TABLE cr MODIFY v BIGINT NOT NULL, DROP COLUMN gone")
        .await?;
    let id = last_migration(&mut admin, "cr").await?;
    let mut steer = steer(&s).await?;
    wait_revertible(&mut steer, id).await?;
    drop(steer);
    drop(c);
    s.tern.kill9()?;
    admin
        .query_drop(
            "INSERT INTO cr (id, v) VALUES (6001, 61), (6002, 62);
             UPDATE cr SET v = 0 WHERE id <= 100;
             DELETE FROM cr WHERE id > 4900 AND id <= 5000;",
        )
        .await?;
    let out = std::process::Command::new(tern_tests::tern::tern_binary()?)
        .args([
            "alter",
            "--primary",
            &s.cluster.primary().addr(),
            "--replica",
            &s.cluster.replicas()[0].addr(),
            "--admin-user",
            ADMIN_USER,
            "--admin-password",
            ADMIN_PASSWORD,
            "--revert",
            &id.to_string(),
        ])
        .output()
        .context("running tern alter --revert")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.code() == Some(0) && stdout.contains(&format!("migration {id} reverted")),
        "{:?}\n{stdout}\n{stderr}",
        out.status
    );
    let create = show_create(&mut admin, "cr").await?;
    ensure!(
        create.contains("`v` int(11)") && create.contains("`gone`"),
        "{create}"
    );
    let summary: Option<(u64, i64, u64, u64)> = admin
        .query_first(
            "SELECT COUNT(*), CAST(SUM(v) AS SIGNED), SUM(id <= 100 AND v = 0), SUM(id > 6000 AND gone = 4) FROM cr",
        )
        .await?;
    let want_sum: i64 = (101..=4900).sum::<i64>() + 61 + 62;
    ensure!(
        summary == Some((4902, want_sum, 100, 2)),
        "{summary:?}, expected 4902 rows summing to {want_sum}"
    );
    Ok(())
}
