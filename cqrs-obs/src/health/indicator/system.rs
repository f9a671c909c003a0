//! Process memory (RSS) and disk space.

use std::path::PathBuf;

use super::threshold;
use crate::health::{HealthFuture, HealthIndicator, HealthStatus};

/// Process resident memory (RSS, from `/proc/self/status`) against a limit: DEGRADED from
/// `warn_percent` (default 80) of the limit, DOWN at the limit. UNKNOWN where `/proc` is not
/// available. Observes `utilization` in `%`.
///
/// ```
/// use cqrs_obs::health::indicator::Memory;
/// let memory = Memory::new(512 * 1024 * 1024).warn_percent(90.0);
/// # let _ = memory;
/// ```
#[derive(Debug, Clone)]
pub struct Memory {
    limit_bytes: u64,
    warn_percent: f64,
}

impl Memory {
    /// A limit in bytes.
    pub fn new(limit_bytes: u64) -> Memory {
        Memory {
            limit_bytes,
            warn_percent: 80.0,
        }
    }

    /// The warning level, in percent of the limit.
    pub fn warn_percent(mut self, percent: f64) -> Memory {
        self.warn_percent = percent;
        self
    }

    fn status(&self) -> HealthStatus {
        let Some(rss) = rss_bytes() else {
            return HealthStatus::unknown().with_reason("process RSS is not readable here");
        };
        let percent = rss as f64 * 100.0 / self.limit_bytes.max(1) as f64;
        threshold(percent, self.warn_percent, 100.0)
            .with_detail("rss_bytes", rss)
            .with_detail("limit_bytes", self.limit_bytes)
            .with_observed("utilization", round2(percent), "%")
    }
}

impl HealthIndicator for Memory {
    fn check(&self) -> HealthFuture<'_> {
        let status = self.status();
        Box::pin(async move { status })
    }
}

/// `VmRSS` of this process, in bytes.
pub(crate) fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Disk space of the file system holding `path`: DEGRADED from `warn_percent` used (default
/// 80), DOWN from `critical_percent` used (default 95). Observes `utilization` in `%`.
///
/// ```
/// use cqrs_obs::health::indicator::Disk;
/// let disk = Disk::new("/var/lib/bank").warn_percent(70.0).critical_percent(90.0);
/// # let _ = disk;
/// ```
#[derive(Debug, Clone)]
pub struct Disk {
    path: PathBuf,
    warn_percent: f64,
    critical_percent: f64,
}

impl Disk {
    /// The file system of `path`.
    pub fn new(path: impl Into<PathBuf>) -> Disk {
        Disk {
            path: path.into(),
            warn_percent: 80.0,
            critical_percent: 95.0,
        }
    }

    /// The warning level, in percent used.
    pub fn warn_percent(mut self, percent: f64) -> Disk {
        self.warn_percent = percent;
        self
    }

    /// The critical level, in percent used.
    pub fn critical_percent(mut self, percent: f64) -> Disk {
        self.critical_percent = percent;
        self
    }

    fn status(&self) -> HealthStatus {
        let stat = match rustix::fs::statvfs(&self.path) {
            Ok(stat) => stat,
            Err(e) => {
                return HealthStatus::down_because(format!("statvfs {}: {e}", self.path.display()))
            }
        };
        let block = stat.f_frsize.max(1);
        let total = stat.f_blocks.saturating_mul(block);
        let free = stat.f_bavail.saturating_mul(block);
        let used = total.saturating_sub(stat.f_bfree.saturating_mul(block));
        // As `df`: used over what users can have (used + available to unprivileged users).
        let percent = used as f64 * 100.0 / (used + free).max(1) as f64;
        threshold(percent, self.warn_percent, self.critical_percent)
            .with_detail("path", self.path.display().to_string())
            .with_detail("total_bytes", total)
            .with_detail("free_bytes", free)
            .with_observed("utilization", round2(percent), "%")
    }
}

impl HealthIndicator for Disk {
    fn check(&self) -> HealthFuture<'_> {
        let status = self.status();
        Box::pin(async move { status })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::Status;

    #[test]
    fn memory_against_limits() {
        let rss = rss_bytes().expect("linux /proc");
        assert!(rss > 0);
        assert_eq!(Memory::new(rss * 100).status().status(), Status::Up);
        assert_eq!(Memory::new(rss / 2).status().status(), Status::Down);
        let s = Memory::new(rss * 100 / 95).status();
        assert_eq!(s.status(), Status::Degraded, "{s:?}");
    }

    #[test]
    fn disk_of_the_temp_dir() {
        let s = Disk::new(std::env::temp_dir())
            .critical_percent(101.0)
            .warn_percent(101.0)
            .status();
        assert_eq!(s.status(), Status::Up);
        assert!(s.details()["total_bytes"].as_u64().unwrap() > 0);
        let s = Disk::new(std::env::temp_dir()).warn_percent(0.0).status();
        assert_ne!(s.status(), Status::Up);
        assert_eq!(Disk::new("/no/such/dir").status().status(), Status::Down);
    }
}
