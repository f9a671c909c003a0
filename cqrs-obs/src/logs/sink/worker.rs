//! The thread behind each sink: a bounded buffer, batching, retry with backoff, counting.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Sink, SinkConfig, SinkStats};
use crate::logs::entry::LogEntry;
use crate::logs::layer::suppress_this_thread;
use crate::metrics::names;

#[derive(Default)]
struct State {
    buf: VecDeque<Arc<LogEntry>>,
    busy: bool,
    stop: bool,
}

struct Shared {
    name: &'static str,
    capacity: usize,
    state: Mutex<State>,
    wake: Condvar,
    sent: AtomicU64,
    dropped: AtomicU64,
    errors: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn drop_entries(&self, n: usize) {
        if n > 0 {
            self.dropped.fetch_add(n as u64, Ordering::Relaxed);
            metrics::counter!(names::OBS_DROPPED_TOTAL, names::label::SIGNAL => self.name)
                .increment(n as u64);
        }
    }
}

/// A sink's thread and buffer.
pub(crate) struct SinkWorker {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl SinkWorker {
    pub(crate) fn start(
        config: SinkConfig,
        pipeline: &crate::logs::PipelineConfig,
    ) -> std::io::Result<SinkWorker> {
        let sink = super::build(&config, pipeline)?;
        let shared = Arc::new(Shared {
            name: config.name(),
            capacity: config.buffer,
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        });
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("cqrs-obs-{}", config.name()))
            .spawn(move || run(sink, config, for_thread))?;
        Ok(SinkWorker {
            shared,
            thread: Some(thread),
        })
    }

    /// Buffers entries, dropping (and counting) those that do not fit.
    pub(crate) fn offer(&self, entries: &[Arc<LogEntry>]) {
        let mut state = self.shared.lock();
        let room = self.shared.capacity.saturating_sub(state.buf.len());
        let take = room.min(entries.len());
        state.buf.extend(entries[..take].iter().cloned());
        drop(state);
        self.shared.drop_entries(entries.len() - take);
        self.shared.wake.notify_all();
    }

    /// Waits until the buffer is empty and no send is in flight, or `deadline`.
    pub(crate) fn flush(&self, deadline: Instant) {
        let mut state = self.shared.lock();
        self.shared.wake.notify_all();
        while !state.buf.is_empty() || state.busy {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            state = self
                .shared
                .wake
                .wait_timeout(state, left.min(Duration::from_millis(50)))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    pub(crate) fn stats(&self) -> SinkStats {
        SinkStats {
            name: self.shared.name,
            sent: self.shared.sent.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            errors: self.shared.errors.load(Ordering::Relaxed),
            buffered: self.shared.lock().buf.len() as u64,
        }
    }

    /// Stops after one more attempt at what is buffered.
    pub(crate) fn stop(mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for SinkWorker {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.shared.lock().stop = true;
            self.shared.wake.notify_all();
            let _ = thread.join();
        }
    }
}

fn run(mut sink: Box<dyn Sink>, config: SinkConfig, shared: Arc<Shared>) {
    suppress_this_thread();
    let mut failing = false;
    loop {
        let batch: Vec<Arc<LogEntry>> = {
            let mut state = shared.lock();
            let started = Instant::now();
            while !state.stop && state.buf.len() < config.batch_size {
                let waited = started.elapsed();
                if !state.buf.is_empty() && waited >= config.linger {
                    break;
                }
                let wait = if state.buf.is_empty() {
                    Duration::from_millis(500)
                } else {
                    config.linger - waited
                };
                state = shared
                    .wake
                    .wait_timeout(state, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            if state.buf.is_empty() {
                if state.stop {
                    return;
                }
                continue;
            }
            let n = state.buf.len().min(config.batch_size);
            state.busy = true;
            state.buf.drain(..n).collect()
        };
        deliver(&mut *sink, &config, &shared, batch, &mut failing);
        shared.lock().busy = false;
        shared.wake.notify_all();
    }
}

/// Sends one batch, retrying what failed, until done or out of attempts.
fn deliver(
    sink: &mut dyn Sink,
    config: &SinkConfig,
    shared: &Shared,
    mut pending: Vec<Arc<LogEntry>>,
    failing: &mut bool,
) {
    let mut backoff = config.backoff;
    let mut attempt = 0;
    loop {
        match sink.send(&pending) {
            Ok(delivery) => {
                let delivered = pending.len() - delivery.retry.len() - delivery.rejected;
                shared.sent.fetch_add(delivered as u64, Ordering::Relaxed);
                shared.drop_entries(delivery.rejected);
                if *failing {
                    *failing = false;
                    tracing::info!(target: "cqrs_obs::logs", sink = shared.name, "log sink recovered");
                }
                if delivery.retry.is_empty() {
                    return;
                }
                pending = delivery
                    .retry
                    .iter()
                    .filter_map(|&i| pending.get(i).cloned())
                    .collect();
            }
            Err(e) => {
                if !*failing {
                    *failing = true;
                    tracing::warn!(target: "cqrs_obs::logs", sink = shared.name, error = %e, "log sink failing; retrying with backoff");
                }
                if !e.retriable() {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!(names::OBS_EXPORT_ERRORS_TOTAL, names::label::SIGNAL => shared.name).increment(1);
                    shared.drop_entries(pending.len());
                    return;
                }
            }
        }
        shared.errors.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(names::OBS_EXPORT_ERRORS_TOTAL, names::label::SIGNAL => shared.name)
            .increment(1);
        attempt += 1;
        if attempt > config.max_retries {
            shared.drop_entries(pending.len());
            return;
        }
        // Sleeps, but wakes early to give up when stopping.
        let deadline = Instant::now() + backoff;
        let mut state = shared.lock();
        while !state.stop && Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            state = shared
                .wake
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let stopping = state.stop;
        drop(state);
        if stopping && attempt > 1 {
            shared.drop_entries(pending.len());
            return;
        }
        backoff = (backoff * 2).min(config.max_backoff);
    }
}
