//! The file sink: JSON lines, rotated by size and by age, keeping a bounded number of
//! rotated files, with optional fsync after each batch. When the file disappears (removed,
//! or moved away by an outside rotation) it is created again, directories included; while
//! that fails, batches are retried like any sink's.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Delivery, Sink, SinkError};
use crate::logs::entry::{LogEntry, Timestamp};

/// File sink settings.
///
/// ```
/// let config = cqrs_obs::logs::FileConfig::new("/var/log/bank/logs.jsonl");
/// assert_eq!(config.keep, 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileConfig {
    /// The file written to; rotated files are named `<path>.<unix nanos>`.
    pub path: PathBuf,
    /// Rotate when the file reaches this size (default 64 MiB).
    pub max_bytes: u64,
    /// Rotate when the file is this old (default 24 h).
    pub max_age: Duration,
    /// Rotated files kept (default 5; older ones are deleted).
    pub keep: usize,
    /// Sync to disk after each batch (default off).
    pub fsync: bool,
}

impl FileConfig {
    /// Defaults with this path.
    pub fn new(path: impl Into<PathBuf>) -> FileConfig {
        FileConfig {
            path: path.into(),
            max_bytes: 64 << 20,
            max_age: Duration::from_secs(86_400),
            keep: 5,
            fsync: false,
        }
    }
}

pub(crate) struct FileSink {
    config: FileConfig,
    file: File,
    bytes: u64,
    opened: Instant,
}

impl FileSink {
    pub(crate) fn open(config: FileConfig) -> std::io::Result<FileSink> {
        if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.path)?;
        let bytes = file.metadata()?.len();
        Ok(FileSink {
            config,
            file,
            bytes,
            opened: Instant::now(),
        })
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let rotated = super::rotated_name(&self.config.path, Timestamp::now().nanos());
        std::fs::rename(&self.config.path, &rotated)?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.config.path)?;
        self.bytes = 0;
        self.opened = Instant::now();
        let (Some(dir), Some(name)) = (self.config.path.parent(), self.config.path.file_name())
        else {
            return Ok(());
        };
        let dir = if dir.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            dir
        };
        let prefix = format!("{}.", name.to_string_lossy());
        let mut old: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.strip_prefix(&prefix)
                    .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
            })
            .map(|e| e.path())
            .collect();
        old.sort();
        let excess = old.len().saturating_sub(self.config.keep);
        for path in &old[..excess] {
            std::fs::remove_file(path)?;
        }
        Ok(())
    }
}

fn open_file(path: &std::path::Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

impl Sink for FileSink {
    fn send(&mut self, batch: &[Arc<LogEntry>]) -> Result<Delivery, SinkError> {
        if !self.config.path.exists() {
            self.file = open_file(&self.config.path)?;
            self.bytes = 0;
            self.opened = Instant::now();
        }
        if self.bytes > 0
            && (self.bytes >= self.config.max_bytes || self.opened.elapsed() >= self.config.max_age)
        {
            self.rotate()?;
        }
        let mut out = Vec::with_capacity(batch.len() * 256);
        for e in batch {
            serde_json::to_writer(&mut out, &**e)
                .map_err(|e| SinkError::Response(e.to_string()))?;
            out.push(b'\n');
        }
        self.file.write_all(&out)?;
        if self.config.fsync {
            self.file.sync_data()?;
        }
        self.bytes += out.len() as u64;
        Ok(Delivery::default())
    }
}
