//! The local log store: append-only segment files of blocks, each block carrying its time and
//! sequence range, level mask and a Bloom filter over trace, correlation and aggregate ids, so
//! that a search reads only the blocks that may hold what it asks for.
//!
//! The store keeps every block header in memory (rebuilt from the files on open), writes a
//! block when it reaches 16 KiB or when [`Store::tick`] finds it older than the flush
//! interval, rolls segments by size and age, and enforces retention by deleting (or
//! archiving, snappy-compressed) whole segments.
//!
//! ```
//! use cqrs_obs::logs::{Level, LogEntry, Query, Store, StoreConfig};
//! # let dir = std::env::temp_dir().join(format!("cqrs-obs-doc-{}", std::process::id()));
//! let mut store = Store::open(StoreConfig::new(&dir))?;
//! store.append(&mut [LogEntry::new(Level::Info, "bank", "opened account")])?;
//! let page = store.search(&Query { text: Some("opened".into()), ..Query::default() })?;
//! assert_eq!(page.entries.len(), 1);
//! # drop(store); std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), cqrs_obs::logs::StoreError>(())
//! ```

mod block;
mod codec;
mod segment;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use block::{key_hash, BlockMeta, Builder};
use segment::Segment;

use super::entry::{LogEntry, Timestamp};
use super::query::{Cursor, Page, Query};
use super::stats::{Stats, StatsBuilder};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file operation failed.
    #[error("log store i/o on {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Another process has the store directory open.
    #[error("log store {0} is in use by another process (set CQRS_OBS_LOG_STORE to another directory or `off`)")]
    Locked(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Store settings.
///
/// ```
/// use std::time::Duration;
/// let config = cqrs_obs::logs::StoreConfig::new("/var/lib/bank/logs")
///     .max_age(Duration::from_secs(3 * 86_400))
///     .max_bytes(64 << 20);
/// assert_eq!(config.max_bytes, 64 << 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The directory of the segment files.
    pub dir: PathBuf,
    /// A segment is closed when it reaches this size (default 16 MiB).
    pub segment_bytes: u64,
    /// ... or this age (default 1 h).
    pub segment_age: Duration,
    /// Segments whose newest entry is older are removed (default 7 days).
    pub max_age: Duration,
    /// Oldest segments are removed while the store is larger (default 256 MiB).
    pub max_bytes: u64,
    /// A partly filled block is written after this long (default 1 s).
    pub flush_interval: Duration,
    /// Sync each block to disk (default off: the OS writes back).
    pub fsync: bool,
    /// Move removed segments here, snappy-compressed, instead of deleting them.
    pub archive: Option<PathBuf>,
}

impl StoreConfig {
    /// Defaults with this directory.
    pub fn new(dir: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            dir: dir.into(),
            segment_bytes: 16 << 20,
            segment_age: Duration::from_secs(3600),
            max_age: Duration::from_secs(7 * 86_400),
            max_bytes: 256 << 20,
            flush_interval: Duration::from_secs(1),
            fsync: false,
            archive: None,
        }
    }

    /// Sets [`max_age`](Self::max_age).
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// Sets [`max_bytes`](Self::max_bytes).
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Sets [`segment_bytes`](Self::segment_bytes).
    pub fn segment_bytes(mut self, bytes: u64) -> Self {
        self.segment_bytes = bytes;
        self
    }

    /// Sets [`archive`](Self::archive).
    pub fn archive(mut self, dir: impl Into<PathBuf>) -> Self {
        self.archive = Some(dir.into());
        self
    }
}

/// The store. See the [module docs](self).
#[derive(Debug)]
pub struct Store {
    config: StoreConfig,
    /// Oldest first; the last one is written to.
    segments: Vec<Segment>,
    active: Builder,
    next_seq: u64,
    /// Held for the life of the store: one process per directory.
    _lock: File,
}

impl Store {
    /// Opens (or creates) the store in `config.dir`, reading back the segments there.
    pub fn open(config: StoreConfig) -> Result<Store, StoreError> {
        let dir = config.dir.clone();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let lock_path = dir.join("LOCK");
        let lock = File::create(&lock_path).map_err(io(&lock_path))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .map_err(|_| StoreError::Locked(dir.clone()))?;
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(io(&dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == segment::EXTENSION))
            .collect();
        paths.sort();
        let mut segments = Vec::new();
        // A file left out (damaged, or of another format) stays where it is, so the next
        // sequence number also passes the one its name holds: a new segment never takes
        // the name of a file that is already there.
        let mut named_after = 0;
        for path in paths {
            if let Some(first) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u64>().ok())
            {
                named_after = named_after.max(first);
            }
            match Segment::open(&path) {
                Ok(s) => segments.push(s),
                Err(e) => eprintln!("cqrs-obs: skipping log segment {}: {e}", path.display()),
            }
        }
        let next_seq = segments
            .iter()
            .filter_map(Segment::max_seq)
            .max()
            .unwrap_or(0)
            .max(named_after)
            + 1;
        if segments
            .last()
            .is_none_or(|s| s.bytes >= config.segment_bytes)
        {
            segments.push(Segment::create(&dir, next_seq).map_err(io(&dir))?);
        }
        Ok(Store {
            config,
            segments,
            active: Builder::new(),
            next_seq,
            _lock: lock,
        })
    }

    /// The settings.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Appends entries in order, giving each its sequence number.
    pub fn append(&mut self, entries: &mut [LogEntry]) -> Result<(), StoreError> {
        self.append_each(entries.iter_mut())
    }

    /// Appends entries in order, giving each its sequence number.
    pub(crate) fn append_each<'a>(
        &mut self,
        entries: impl Iterator<Item = &'a mut LogEntry>,
    ) -> Result<(), StoreError> {
        for entry in entries {
            entry.seq = self.next_seq;
            self.next_seq += 1;
            self.active.push(entry);
            if self.active.is_full() {
                self.write_block()?;
            }
        }
        Ok(())
    }

    fn write_block(&mut self) -> Result<(), StoreError> {
        if self.active.is_empty() {
            return Ok(());
        }
        let (meta, payload) = self.active.take();
        let fsync = self.config.fsync;
        let segment = self.segments.last_mut().expect("a segment is always open");
        segment
            .append(meta, &payload, fsync)
            .map_err(io(&segment.path))?;
        let age = Timestamp::now().minus(self.config.segment_age).nanos();
        if segment.bytes >= self.config.segment_bytes || segment.min_ts() < age {
            self.segments.push(
                Segment::create(&self.config.dir, self.next_seq).map_err(io(&self.config.dir))?,
            );
        }
        Ok(())
    }

    /// Writes the block being filled, if any.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        self.write_block()
    }

    /// Periodic upkeep: writes a block older than the flush interval.
    pub fn tick(&mut self) -> Result<(), StoreError> {
        if self
            .active
            .opened
            .is_some_and(|t| t.elapsed() >= self.config.flush_interval)
        {
            self.write_block()?;
        }
        Ok(())
    }

    /// Entries stored (including the block being filled).
    pub fn len(&self) -> u64 {
        self.segments.iter().map(Segment::entries).sum::<u64>() + u64::from(self.active.meta.count)
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the segment files.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// Number of segment files.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Calls `visit` with each block that may hold entries matching `q`, newest first, until it
    /// returns `false`.
    fn scan(&self, q: &Query, mut visit: impl FnMut(&[u8]) -> bool) -> Result<(), StoreError> {
        let mask = q.level_mask();
        let trace = q.trace_id.map(|t| key_hash(block::TRACE, &t.to_bytes()));
        let corr = q
            .correlation_id
            .as_ref()
            .map(|c| key_hash(block::CORRELATION, c.as_bytes()));
        let agg = q
            .aggregate_id
            .as_ref()
            .map(|a| key_hash(block::AGGREGATE, a.as_bytes()));
        let skip = |m: &BlockMeta| {
            m.count == 0
                || m.levels & mask == 0
                || q.cursor.is_some_and(|c| m.min_seq >= c.seq)
                || q.since.is_some_and(|s| m.max_ts < s.nanos())
                || q.until.is_some_and(|u| m.min_ts >= u.nanos())
                || [trace, corr, agg]
                    .iter()
                    .flatten()
                    .any(|h| !m.bloom.may_contain(*h))
        };
        if !skip(&self.active.meta) && !visit(&self.active.payload) {
            return Ok(());
        }
        for segment in self.segments.iter().rev() {
            for meta in segment.blocks.iter().rev().filter(|m| !skip(m)) {
                let payload = segment.payload(meta).map_err(io(&segment.path))?;
                if !visit(&payload) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Searches newest first; see [`Query`].
    pub fn search(&self, q: &Query) -> Result<Page, StoreError> {
        let limit = q.page_size();
        let mask = q.level_mask();
        let trace = q.trace_id.map(|t| t.to_bytes());
        let mut entries = Vec::new();
        let mut more = false;
        self.scan(q, |payload| {
            for (head, body) in codec::entries(payload).into_iter().rev() {
                if q.cursor.is_some_and(|c| head.seq >= c.seq)
                    || mask & (1 << head.level) == 0
                    || q.since.is_some_and(|s| head.ts < s.nanos())
                    || q.until.is_some_and(|u| head.ts >= u.nanos())
                    || trace.is_some_and(|t| head.trace != Some(t))
                {
                    continue;
                }
                let Some(entry) = codec::decode(body) else {
                    continue;
                };
                if q.matches(&entry) {
                    if entries.len() == limit {
                        more = true;
                        return false;
                    }
                    entries.push(entry);
                }
            }
            true
        })?;
        let next_cursor = more.then(|| entries.last()).flatten().map(|e| {
            Cursor {
                timestamp: e.timestamp.nanos(),
                seq: e.seq,
            }
            .to_string()
        });
        Ok(Page {
            entries,
            next_cursor,
        })
    }

    /// Counts by level, service and target, and the top error patterns, of the entries matching
    /// `q` (its limit and cursor are ignored).
    pub fn stats(&self, q: &Query) -> Result<Stats, StoreError> {
        let q = Query {
            cursor: None,
            ..q.clone()
        };
        let mut stats = StatsBuilder::default();
        self.scan(&q, |payload| {
            for (head, body) in codec::entries(payload) {
                if q.since.is_some_and(|s| head.ts < s.nanos())
                    || q.until.is_some_and(|u| head.ts >= u.nanos())
                {
                    continue;
                }
                if let Some(entry) = codec::decode(body).filter(|e| q.matches(e)) {
                    stats.add(&entry);
                }
            }
            true
        })?;
        Ok(stats.finish(q.since, q.until, self.len(), self.bytes()))
    }

    /// Removes (or archives) whole closed segments: those whose newest entry is older than
    /// `max_age` before `now`, then the oldest while the store is larger than `max_bytes`.
    /// Returns how many were removed.
    pub fn enforce_retention(&mut self, now: Timestamp) -> Result<usize, StoreError> {
        let cutoff = now.minus(self.config.max_age).nanos();
        let mut removed = 0;
        while self.segments.len() > 1 {
            let oldest = &self.segments[0];
            let expired = !oldest.blocks.is_empty() && oldest.max_ts() < cutoff;
            let too_big = self.bytes() > self.config.max_bytes;
            if !expired && !too_big {
                break;
            }
            let segment = self.segments.remove(0);
            self.retire(segment)?;
            removed += 1;
        }
        Ok(removed)
    }

    fn retire(&self, segment: Segment) -> Result<(), StoreError> {
        let path = segment.path.clone();
        drop(segment);
        if let Some(archive) = &self.config.archive {
            std::fs::create_dir_all(archive).map_err(io(archive))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let target = archive.join(format!("{name}.sz"));
            let mut input = File::open(&path).map_err(io(&path))?;
            let output = File::create(&target).map_err(io(&target))?;
            let mut encoder = snap::write::FrameEncoder::new(output);
            std::io::copy(&mut input, &mut encoder).map_err(io(&target))?;
            encoder
                .into_inner()
                .map_err(|e| io(&target)(e.into_error()))?;
        }
        std::fs::remove_file(&path).map_err(io(&path))
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Err(e) = self.write_block() {
            eprintln!("cqrs-obs: log store: {e}");
        }
    }
}
