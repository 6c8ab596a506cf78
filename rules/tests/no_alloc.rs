//! `RuleSet::evaluate` allocates nothing, with or without a match, once the
//! regex scratch space of the calling thread exists. Measured with a global
//! allocator that counts this thread's allocations; kept in its own test
//! binary so the counting allocator touches nothing else.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::{rules, Stmt};
use tern_rules::StatementKind;

struct CountingAllocator;

thread_local! {
    // const-initialised and without a destructor, so reading it from inside
    // the allocator cannot itself allocate.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is a thread-local Cell.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn the_counter_sees_allocations() {
    let n = allocations_during(|| {
        std::hint::black_box(vec![1u8; 16]);
    });
    assert!(n >= 1);
}

#[test]
fn evaluate_does_not_allocate() {
    let set = rules(include_str!("../examples/tern-rules.toml"));
    let no_match = Stmt::select("SELECT * FROM big_table")
        .client("10.30.0.1")
        .user("web");
    // Passes the cheap conditions of the `batch-scans` rule, so the regex
    // runs, but the pattern does not match.
    let regex_runs_no_match = Stmt::select("SELECT 1").client("10.20.0.1");
    let reject = Stmt::new(StatementKind::Ddl, "DROP TABLE t").user("app");
    let route_and_consistency = Stmt::select("SELECT * FROM big_table").client("10.20.0.1");
    let cases = [
        &no_match,
        &regex_runs_no_match,
        &reject,
        &route_and_consistency,
    ];

    // Warm-up: the regex's per-thread cache and pattern set are made here.
    for stmt in cases {
        let _ = set.evaluate(&stmt.facts());
    }
    for stmt in cases {
        let facts = stmt.facts();
        let mut decided = false;
        let n = allocations_during(|| decided = !set.evaluate(&facts).is_empty());
        assert_eq!(n, 0, "{} allocations for {:?}", n, stmt.text);
        assert_eq!(
            decided,
            !std::ptr::eq(stmt, &no_match) && !std::ptr::eq(stmt, &regex_runs_no_match)
        );
    }
}
