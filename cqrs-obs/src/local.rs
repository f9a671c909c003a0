//! The per-thread state of the hot path, kept in one thread-local so that a handler call
//! touches thread-local storage once on entry and once on exit: the current message context,
//! the id source, and the counter shard this thread owns.

use std::cell::{Cell, RefCell};
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crate::context::{Context, Frame};

/// Shards a thread can own exclusively; one more is shared by all other threads.
pub const OWNED_SHARDS: usize = 8;
/// The shard of threads that own none.
pub(crate) const SHARED_SHARD: usize = OWNED_SHARDS;
const UNCLAIMED: usize = usize::MAX;

/// Which shards are owned by a live thread (bit i = shard i).
static OWNED: AtomicUsize = AtomicUsize::new(0);

pub(crate) struct Local {
    /// The contexts installed on this thread, innermost last (`None`: a scope with none). A
    /// call pushes its context and pops it when it ends, so the caller's is never moved.
    pub(crate) stack: RefCell<Vec<Frame>>,
    /// Random per-thread prefix (0 until drawn) and a counter.
    ids: Cell<(u64, u64)>,
    shard: Cell<usize>,
    /// The address of a handler site whose nested calls record nothing while a wrapper that
    /// already records the call under that site is being polled on this thread (0: none).
    pub(crate) absorbing: Cell<usize>,
}

thread_local! {
    pub(crate) static LOCAL: Local = const {
        Local {
            stack: RefCell::new(Vec::new()),
            ids: Cell::new((0, 0)),
            shard: Cell::new(UNCLAIMED),
            absorbing: Cell::new(0),
        }
    };
}

impl Local {
    /// Installs `ctx` as the current context until the matching [`pop`](Local::pop).
    #[inline(always)]
    pub(crate) fn push(&self, ctx: Option<Context>) {
        let mut stack = self.stack.borrow_mut();
        if stack.capacity() == 0 {
            stack.reserve(8);
        }
        stack.push(Frame::from_context(ctx));
    }

    /// Builds the innermost context if it is a root frame nobody has read yet. While a reader
    /// holds the stack, its top is built already (nothing can be pushed meanwhile).
    #[inline(always)]
    pub(crate) fn materialize_top(&self) {
        if let Ok(mut stack) = self.stack.try_borrow_mut() {
            if let Some(top) = stack.last_mut() {
                top.materialize();
            }
        }
    }

    /// Removes the innermost context, returning it.
    #[inline(always)]
    pub(crate) fn pop(&self) -> Option<Context> {
        self.stack.borrow_mut().pop().and_then(Frame::into_context)
    }

    /// This thread's shard, claimed on first use.
    #[inline(always)]
    pub(crate) fn shard(&self) -> usize {
        let shard = self.shard.get();
        if shard != UNCLAIMED {
            return shard;
        }
        let shard = claim();
        self.shard.set(shard);
        shard
    }

    /// The id prefix and first counter value of a new root context, which uses two
    /// consecutive counter values (its correlation and message ids; see
    /// [`Frame::Root`](crate::context::Frame::Root)).
    #[inline(always)]
    pub(crate) fn root_ids(&self) -> (u64, u64) {
        let [first, _] = self.next_ids::<2>();
        first
    }

    /// `N` fresh ids' halves: unique within the process (one prefix per thread) and, with a
    /// 64-bit random prefix, across processes with overwhelming probability. Ids name messages;
    /// they are not secrets.
    #[inline(always)]
    pub(crate) fn next_ids<const N: usize>(&self) -> [(u64, u64); N] {
        let (mut prefix, counter) = self.ids.get();
        if prefix == 0 {
            prefix = random_prefix(self);
        }
        self.ids.set((prefix, counter.wrapping_add(N as u64)));
        std::array::from_fn(|i| (prefix, counter.wrapping_add(i as u64 + 1)))
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let shard = self.shard.get();
        if shard < OWNED_SHARDS {
            // Release pairs with the Acquire of the next owner (see `claim`).
            OWNED.fetch_and(!(1 << shard), Release);
        }
    }
}

fn claim() -> usize {
    let mut owned = OWNED.load(Relaxed);
    loop {
        let free = (!owned).trailing_zeros() as usize;
        if free >= OWNED_SHARDS {
            return SHARED_SHARD;
        }
        // Acquire pairs with the Release of the thread that gave the shard up, so this thread's
        // plain load-and-store updates start from that thread's last values.
        match OWNED.compare_exchange_weak(owned, owned | (1 << free), Acquire, Relaxed) {
            Ok(_) => return free,
            Err(now) => owned = now,
        }
    }
}

fn random_prefix(local: &Local) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_usize(local as *const Local as usize);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    hasher.write_u128(now.map_or(0, |d| d.as_nanos()));
    hasher.finish() | 1
}

/// This thread's shard (the shared one while thread-locals are being torn down).
#[inline(always)]
pub(crate) fn shard() -> usize {
    LOCAL.try_with(Local::shard).unwrap_or(SHARED_SHARD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_own_distinct_shards_and_release_them_on_exit() {
        let mine = shard();
        let theirs = std::thread::spawn(shard).join().unwrap();
        if theirs != SHARED_SHARD {
            assert_ne!(mine, theirs, "two live threads never share an owned shard");
            assert_eq!(
                OWNED.load(Relaxed) & (1 << theirs),
                0,
                "the exited thread gave it back"
            );
        }
    }

    #[test]
    fn ids_are_unique_per_thread_and_across_threads() {
        let a = LOCAL.with(|l| l.next_ids::<2>());
        let b = std::thread::spawn(|| LOCAL.with(|l| l.next_ids::<2>()))
            .join()
            .unwrap();
        assert_ne!(a[0], a[1]);
        assert_ne!(a[0].0, b[0].0, "threads draw their own prefixes");
    }
}
