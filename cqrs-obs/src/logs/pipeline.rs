//! The pipeline: one background thread takes entries off the capture queue in batches,
//! enriches them (service name, version, environment), masks sensitive values, appends them
//! to the store, and offers them to followers and to each sink's own bounded buffer.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::entry::{LogEntry, Timestamp};
use super::layer::{suppress_this_thread, Capture, LogLayer};
use super::mask::Masker;
use super::query::{Page, Query};
use super::settings::{LogsError, PipelineConfig};
use super::sink::{SinkStats, SinkWorker};
use super::stats::Stats;
use super::store::{Store, StoreError};
use crate::metrics::names;

const BATCH: usize = 4096;
const FOLLOW_BUFFER: usize = 4096;
/// Processed entries kept for producers to reuse.
const SPARES: usize = 4096;

/// Counters of a running pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PipelineStats {
    /// Entries taken off the queue.
    pub received: u64,
    /// Entries dropped because the queue was full.
    pub dropped: u64,
    /// Entries in the local store (0 without one).
    pub stored: u64,
    /// Per sink.
    pub sinks: Vec<SinkStats>,
}

pub(crate) struct Shared {
    capture: Arc<Capture>,
    store: Option<RwLock<Store>>,
    received: AtomicU64,
    follow: tokio::sync::broadcast::Sender<Arc<LogEntry>>,
    /// Set when followers must end their streams (shutdown).
    closing: AtomicBool,
    sinks: Mutex<Vec<SinkWorker>>,
}

/// A running pipeline: its queue, thread, store and sinks. `init()` starts one; tests and
/// benchmarks may start their own.
///
/// ```
/// use cqrs_obs::logs::{Pipeline, PipelineConfig, Query};
/// use tracing_subscriber::layer::SubscriberExt;
/// let pipeline = Pipeline::start(PipelineConfig::new("doc"))?;
/// let subscriber = tracing_subscriber::registry().with(pipeline.layer());
/// tracing::subscriber::with_default(subscriber, || tracing::info!(password = "hunter2", "hello"));
/// pipeline.flush(std::time::Duration::from_secs(5));
/// assert_eq!(pipeline.stats().received, 1);
/// # Ok::<(), cqrs_obs::logs::LogsError>(())
/// ```
pub struct Pipeline {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("stats", &self.stats())
            .finish()
    }
}

/// The pipeline `init()` started (for the admin routes).
pub(crate) static RUNNING: OnceLock<Arc<Shared>> = OnceLock::new();

impl Pipeline {
    /// Opens the store, starts the sinks and the pipeline thread.
    pub fn start(config: PipelineConfig) -> Result<Pipeline, LogsError> {
        let store = config.store.clone().map(Store::open).transpose()?;
        let mut sinks = Vec::new();
        for sink in &config.sinks {
            sinks.push(SinkWorker::start(sink.clone(), &config).map_err(|source| {
                LogsError::Sink {
                    sink: sink.name(),
                    source,
                }
            })?);
        }
        let shared = Arc::new(Shared {
            capture: Arc::new(Capture::new(config.queue_capacity)),
            store: store.map(RwLock::new),
            received: AtomicU64::new(0),
            follow: tokio::sync::broadcast::channel(FOLLOW_BUFFER).0,
            closing: AtomicBool::new(false),
            sinks: Mutex::new(sinks),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            shared: shared.clone(),
            stop: stop.clone(),
            masker: Masker::new(&config.mask),
            config,
            next_seq: 1,
            published_drops: 0,
        };
        let thread = std::thread::Builder::new()
            .name("cqrs-obs-logs".into())
            .spawn(move || worker.run())
            .map_err(|source| LogsError::Sink {
                sink: "pipeline",
                source,
            })?;
        let _ = shared.capture.consumer.set(thread.thread().clone());
        Ok(Pipeline {
            shared,
            stop,
            thread: Some(thread),
        })
    }

    /// A capture layer feeding this pipeline.
    pub fn layer(&self) -> LogLayer {
        LogLayer::with_capture(self.shared.capture.clone())
    }

    /// Makes this the pipeline of [`layer()`](super::layer()) and of the admin routes.
    pub(crate) fn make_global(&self) -> bool {
        let ok = super::layer::GLOBAL
            .set(self.shared.capture.clone())
            .is_ok();
        ok && RUNNING.set(self.shared.clone()).is_ok()
    }

    /// Waits (up to `timeout`) until everything queued so far is stored and the sinks have
    /// delivered or given up on it. Returns whether that happened in time.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.shared.flush(timeout)
    }

    /// Ends the streams of `GET /logs?follow=true` (within half a second), so that the admin
    /// endpoint can shut down gracefully.
    pub fn close_followers(&self) {
        self.shared.closing.store(true, Ordering::SeqCst);
    }

    /// The counters.
    pub fn stats(&self) -> PipelineStats {
        self.shared.stats()
    }

    /// Searches the store (an empty page without one).
    pub fn search(&self, q: &Query) -> Result<Page, StoreError> {
        self.shared.search(q)
    }
}

impl Shared {
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let (tx, rx) = mpsc::channel();
        self.capture
            .flushes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(tx);
        self.capture.wake();
        rx.recv_timeout(timeout).is_ok()
    }

    pub(crate) fn stats(&self) -> PipelineStats {
        PipelineStats {
            received: self.received.load(Ordering::Relaxed),
            dropped: self.capture.ring.dropped(),
            stored: self.store.as_ref().map_or(0, |s| {
                s.read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .len()
            }),
            sinks: self
                .sinks
                .lock()
                .map(|s| s.iter().map(SinkWorker::stats).collect())
                .unwrap_or_default(),
        }
    }

    pub(crate) fn search(&self, q: &Query) -> Result<Page, StoreError> {
        match &self.store {
            Some(store) => store
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .search(q),
            None => Ok(Page {
                entries: Vec::new(),
                next_cursor: None,
            }),
        }
    }

    pub(crate) fn store_stats(&self, q: &Query) -> Result<Option<Stats>, StoreError> {
        self.store
            .as_ref()
            .map(|s| {
                s.read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .stats(q)
            })
            .transpose()
    }

    pub(crate) fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<LogEntry>> {
        self.follow.subscribe()
    }

    pub(crate) fn closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.close_followers();
        self.stop.store(true, Ordering::SeqCst);
        self.shared.capture.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct Worker {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    masker: Masker,
    config: PipelineConfig,
    next_seq: u64,
    published_drops: u64,
}

impl Worker {
    fn run(mut self) {
        suppress_this_thread();
        let mut batch: Vec<Box<LogEntry>> = Vec::with_capacity(BATCH);
        let mut spares: Vec<Box<LogEntry>> = Vec::new();
        let mut last_upkeep = Instant::now();
        let mut idle_wait = Duration::from_millis(1);
        loop {
            let stopping = self.stop.load(Ordering::SeqCst);
            // Taken before draining: every entry published before a flush was asked for is
            // processed before it is answered.
            let flushes = std::mem::take(
                &mut *self
                    .shared
                    .capture
                    .flushes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            let mut drained = 0;
            loop {
                let n = self
                    .shared
                    .capture
                    .ring
                    .drain(&mut batch, &mut spares, BATCH);
                if n > 0 {
                    self.process(&mut batch, &mut spares);
                }
                drained += n;
                if n < BATCH || drained >= 16 * BATCH {
                    break;
                }
            }
            if !flushes.is_empty() {
                self.flush_all(Duration::from_secs(10));
                for done in flushes {
                    let _ = done.send(());
                }
            }
            if last_upkeep.elapsed() >= Duration::from_secs(1) {
                last_upkeep = Instant::now();
                self.upkeep();
            }
            if drained > 0 {
                idle_wait = Duration::from_millis(1);
            } else if stopping {
                break;
            } else {
                // Idle: sleep a little longer each time (up to 50 ms); a flush or stop wakes it.
                std::thread::park_timeout(idle_wait);
                idle_wait = (idle_wait * 2).min(Duration::from_millis(50));
            }
        }
        self.upkeep();
        self.flush_all(Duration::from_secs(5));
        if let Ok(mut sinks) = self.shared.sinks.lock() {
            for sink in sinks.drain(..) {
                sink.stop();
            }
        }
    }

    #[allow(clippy::vec_box)] // see `Ring::drain`
    fn process(&mut self, batch: &mut Vec<Box<LogEntry>>, spares: &mut Vec<Box<LogEntry>>) {
        batch.sort_by_key(|e| e.timestamp);
        for e in batch.iter_mut() {
            if e.service.is_empty() {
                e.service.clone_from(&self.config.service);
            }
            if e.service_version.is_none() {
                e.service_version.clone_from(&self.config.service_version);
            }
            if e.environment.is_none() {
                e.environment.clone_from(&self.config.environment);
            }
            self.masker.mask_entry(e);
        }
        self.shared
            .received
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        match &self.shared.store {
            Some(store) => {
                let mut store = store
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Err(e) = store.append_each(batch.iter_mut().map(|e| &mut **e)) {
                    tracing::warn!(target: "cqrs_obs::logs", error = %e, "log store append failed");
                }
            }
            None => {
                for e in batch.iter_mut() {
                    e.seq = self.next_seq;
                    self.next_seq += 1;
                }
            }
        }
        let followers = self.shared.follow.receiver_count() > 0;
        let sinks = self
            .shared
            .sinks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !followers && sinks.is_empty() {
            // Hand the entries back to the producers, keeping their allocations.
            let keep = SPARES.saturating_sub(spares.len()).min(batch.len());
            spares.extend(batch.drain(..keep));
            batch.clear();
            return;
        }
        let shared: Vec<Arc<LogEntry>> = batch.drain(..).map(|e| Arc::new(*e)).collect();
        if followers {
            for e in &shared {
                let _ = self.shared.follow.send(e.clone());
            }
        }
        for sink in sinks.iter() {
            sink.offer(&shared);
        }
    }

    fn flush_all(&mut self, timeout: Duration) {
        if let Some(store) = &self.shared.store {
            let mut store = store
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Err(e) = store.flush() {
                tracing::warn!(target: "cqrs_obs::logs", error = %e, "log store flush failed");
            }
        }
        let deadline = Instant::now() + timeout;
        if let Ok(sinks) = self.shared.sinks.lock() {
            for sink in sinks.iter() {
                sink.flush(deadline);
            }
        }
    }

    fn upkeep(&mut self) {
        if let Some(store) = &self.shared.store {
            let mut store = store
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let result = store
                .tick()
                .and_then(|()| store.enforce_retention(Timestamp::now()));
            if let Err(e) = result {
                tracing::warn!(target: "cqrs_obs::logs", error = %e, "log store upkeep failed");
            }
        }
        let dropped = self.shared.capture.ring.dropped();
        if dropped > self.published_drops {
            metrics::counter!(names::OBS_DROPPED_TOTAL, names::label::SIGNAL => names::signal::LOGS)
                .increment(dropped - self.published_drops);
            self.published_drops = dropped;
        }
    }
}
