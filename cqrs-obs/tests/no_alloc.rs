//! An instrumented call allocates nothing once the thread has recorded before (its shard index
//! is assigned on the first call), for sync and async handlers and for every outcome.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use cqrs_obs::handler::{registered, HandlerKind};
use cqrs_obs::{command_handler, event_handler, query_handler, ClassifyError, Outcome};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[derive(Debug)]
enum DepositError {
    Refused,
}

impl ClassifyError for DepositError {
    fn outcome(&self) -> Outcome {
        Outcome::Rejected
    }
}

struct Deposit {
    amount: u64,
}

#[command_handler(aggregate = "Account")]
fn deposit(cmd: Deposit) -> Result<u64, DepositError> {
    if cmd.amount == 0 {
        return Err(DepositError::Refused);
    }
    Ok(cmd.amount * 2)
}

struct Deposited {
    amount: u64,
}

#[event_handler(projection = "balances")]
async fn on_deposited(event: &Deposited) -> u64 {
    event.amount + 1
}

struct Balance;

#[query_handler]
fn balance(_q: Balance) -> Option<u64> {
    Some(7)
}

fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fn count(name: &str, outcome: Outcome) -> u64 {
    registered()
        .find(|s| s.meta().name == name)
        .map(|s| s.snapshot().count(outcome))
        .unwrap_or_else(|| panic!("handler {name} is not registered"))
}

#[test]
fn unsampled_calls_do_not_allocate() {
    cqrs_obs::handler::enable();
    // First call on this thread assigns its shard.
    let _ = deposit(Deposit { amount: 1 });

    let allocations = allocations_during(|| {
        for i in 0..10_000u64 {
            let _ = std::hint::black_box(deposit(Deposit { amount: i % 10 }));
            let _ = std::hint::black_box(balance(Balance));
            let _ = std::hint::black_box(block_on(on_deposited(&Deposited { amount: i })));
        }
    });
    assert_eq!(allocations, 0, "instrumented calls allocated");

    assert_eq!(count("deposit", Outcome::Ok), 9_001);
    assert_eq!(count("deposit", Outcome::Rejected), 1_000);
    assert_eq!(count("balance", Outcome::Ok), 10_000);
    assert_eq!(count("on_deposited", Outcome::Ok), 10_000);
    let kinds: Vec<_> = registered().map(|s| s.meta().kind).collect();
    assert!(kinds.contains(&HandlerKind::Event));
}
