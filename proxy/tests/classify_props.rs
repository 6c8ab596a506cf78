//! The classifier's hot-path promises, checked from outside the crate: no
//! heap allocation for ordinary statements, and its speed (an ignored test,
//! to be run in release mode:
//! `cargo test --release -p tern --test classify_props -- --ignored --nocapture`).
//!
//! Its own binary, because measuring allocations needs a global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::time::Instant;

use tern::sql::classify::classify;

/// Counts allocations made by the current thread, so that tests running in
/// parallel do not disturb each other's counts.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // `try_with`: the thread-local may already be gone while a thread
        // shuts down, and an allocator must not panic.
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

const TYPICAL: &[(&str, &str)] = &[
    ("point select", "SELECT id, name, email FROM users WHERE id = 42"),
    (
        "join with hint",
        "/* tern:replica */ SELECT o.id, o.total, u.email FROM orders o JOIN users u ON u.id = o.user_id WHERE o.status = 'paid' ORDER BY o.created_at DESC LIMIT 20",
    ),
    ("insert", "INSERT INTO orders (user_id, total, status) VALUES (7, 19.99, 'new')"),
    ("update", "UPDATE orders SET status = 'shipped' WHERE id = 1001"),
    ("empty", ""),
    ("begin", "BEGIN"),
    ("set autocommit", "SET autocommit = 0"),
    (
        "subquery, locking",
        "SELECT * FROM jobs WHERE queue_id IN (SELECT id FROM queues WHERE name = 'mail') ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
    ),
    (
        "sysbench point select",
        "SELECT c FROM sbtest1 WHERE id=5012",
    ),
];

#[test]
fn typical_statements_do_not_allocate() {
    // Warm up whatever the first call touches (thread-locals, lazy statics).
    let _ = classify("SELECT 1");
    for (name, sql) in TYPICAL {
        let count = allocations_during(|| {
            black_box(classify(black_box(sql)));
        });
        assert_eq!(count, 0, "{name} allocated {count} times");
    }
    let four_tables =
        "SELECT * FROM a JOIN b ON a.x = b.x JOIN c ON c.y = b.y, d /* tern:a tern:b=1 */";
    assert_eq!(
        allocations_during(|| drop(black_box(classify(four_tables)))),
        0
    );
}

#[test]
fn many_tables_allocate_but_stay_correct() {
    let sql = "SELECT * FROM a, b, c, d, e";
    assert!(allocations_during(|| drop(black_box(classify(sql)))) > 0);
    assert_eq!(classify(sql).tables.len(), 5);
}

#[test]
#[ignore = "benchmark: run in release mode with --ignored --nocapture"]
fn bench_classify() {
    const ROUNDS: u32 = 50_000;
    const TRIALS: usize = 7;
    println!();
    for (name, sql) in TYPICAL {
        // Best of several trials: the machine is shared, and interference
        // only ever adds time.
        let ns = (0..TRIALS)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..ROUNDS {
                    black_box(classify(black_box(sql)));
                }
                start.elapsed().as_nanos() as f64 / f64::from(ROUNDS)
            })
            .fold(f64::INFINITY, f64::min);
        println!("{ns:8.1} ns  {:4} bytes  {name}", sql.len());
    }
    // For scale: the full parse the classifier exists to avoid.
    let sql = TYPICAL[0].1;
    let dialect = sqlparser::dialect::MySqlDialect {};
    let start = Instant::now();
    for _ in 0..10_000 {
        black_box(sqlparser::parser::Parser::parse_sql(&dialect, black_box(sql)).ok());
    }
    let ns = start.elapsed().as_nanos() as f64 / 10_000.0;
    println!(
        "{ns:8.1} ns  {:4} bytes  point select, sqlparser full parse",
        sql.len()
    );

    let big = format!(
        "INSERT INTO t (a, b, c) VALUES {}",
        vec!["(1, 'some text; -- here', 3.5)"; 1000].join(", ")
    );
    let start = Instant::now();
    for _ in 0..200 {
        black_box(classify(black_box(&big)));
    }
    let per = start.elapsed().as_nanos() as f64 / 200.0;
    println!(
        "{:8.1} µs  {} bytes  1000-row INSERT ({:.2} ns/byte)",
        per / 1000.0,
        big.len(),
        per / big.len() as f64
    );
}
