//! The anomaly service: one composite detector and one trend per named series, a bounded
//! history of what was reported, and subscriptions.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};

use serde::Serialize;

use super::composite::{Assessment, Composite, CompositeConfig, Confidence, PARTS};
use super::score::Severity;
use super::trend::{Direction, Trend, TrendTracker};
use crate::metrics::names::{self, label};

/// One observation of a series.
///
/// ```
/// use cqrs_obs::anomaly::DataPoint;
/// let p = DataPoint::new(1_700_000_000_000, 0.042).with("release", "v2");
/// assert_eq!(p.metadata["release"], "v2");
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataPoint {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// The value.
    pub value: f64,
    /// Context kept with an anomaly reported at this point.
    pub metadata: BTreeMap<String, String>,
}

impl DataPoint {
    /// A point without metadata.
    pub fn new(timestamp: i64, value: f64) -> DataPoint {
        DataPoint {
            timestamp,
            value,
            metadata: BTreeMap::new(),
        }
    }

    /// Adds a metadata entry.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> DataPoint {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// A reported anomaly.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anomaly {
    /// Increasing id, unique in the process.
    pub id: u64,
    /// The series.
    pub metric: String,
    /// When (ms since the epoch).
    pub timestamp: i64,
    /// The value.
    pub value: f64,
    /// The composite score in [0, 1].
    pub score: f64,
    /// The severity.
    pub severity: Severity,
    /// Signed deviation from the expectation, in sigmas (positive: above).
    pub deviation: f64,
    /// The confidence and its parts.
    pub confidence: Confidence,
    /// The detectors that found the point unusual (3 sigmas or more).
    pub detectors: Vec<&'static str>,
    /// The series' trend at the time, when there is enough history.
    pub trend: Option<Trend>,
    /// The point's metadata.
    pub metadata: BTreeMap<String, String>,
}

/// How one series is watched.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesConfig {
    /// The composite detector.
    pub composite: CompositeConfig,
    /// Which way is bad: anomalies the good way are learned, not reported (it replaces the
    /// composite's own `direction`).
    pub direction: Direction,
    /// Points per trend bucket.
    pub trend_stride: u32,
    /// Smallest change worth a report, relative to the series' running level (0.25: a value
    /// 25% away from it): a latency that goes from 80 to 95 microseconds can be a 6-sigma
    /// event and still not be news.
    pub min_change: f64,
}

impl Default for SeriesConfig {
    /// For a point a second: 2-minute windows, no daily seasonality (it would need a bin per
    /// second), no smoothing (a one-tick spike counts in full), scores after a minute of
    /// history (a report needs a few minutes: the surprise of a new extreme grows with the
    /// history), at most one report a minute.
    fn default() -> Self {
        SeriesConfig {
            composite: CompositeConfig {
                window: 120,
                period_ms: None,
                short: 1,
                warmup: 60,
                refractory: 60,
                ..CompositeConfig::default()
            },
            direction: Direction::Both,
            trend_stride: 10,
            min_change: 0.25,
        }
    }
}

/// Limits of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConfig {
    /// Series tracked at most; points of further series are dropped (and counted).
    pub max_series: usize,
    /// Anomalies kept in the history, over all series.
    pub history: usize,
    /// Configuration of series not configured explicitly.
    pub series: SeriesConfig,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            max_series: 1_000,
            history: 1_000,
            series: SeriesConfig::default(),
        }
    }
}

#[derive(Debug)]
struct Series {
    composite: Composite,
    trend: TrendTracker,
    direction: Direction,
    min_change: f64,
    /// Running level (exponentially weighted mean) of the values.
    level: Option<f64>,
    last: Option<(i64, f64, Assessment)>,
}

impl Series {
    fn new(config: &SeriesConfig) -> Series {
        Series {
            composite: Composite::new(CompositeConfig {
                direction: config.direction,
                ..config.composite.clone()
            }),
            trend: TrendTracker::new(config.trend_stride, config.direction),
            direction: config.direction,
            min_change: config.min_change,
            level: None,
            last: None,
        }
    }
}

#[derive(Debug)]
struct State {
    series: HashMap<String, Series>,
    history: VecDeque<Anomaly>,
    dropped_points: u64,
}

type Callback = Arc<dyn Fn(&Anomaly) + Send + Sync>;

/// Watches named series for anomalies.
///
/// ```
/// use cqrs_obs::anomaly::{AnomalyService, DataPoint, ServiceConfig};
/// let service = AnomalyService::new(ServiceConfig::default());
/// let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
/// let counter = seen.clone();
/// service.subscribe(move |a| {
///     counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///     println!("{} at {}: {:.2}", a.metric, a.timestamp, a.confidence.value);
/// });
/// for i in 0..600 {
///     service.add_data_point("checkout.latency", DataPoint::new(i * 1_000, 0.020 + (i % 5) as f64 * 1e-3));
/// }
/// let a = service.add_data_point("checkout.latency", DataPoint::new(600_000, 0.5)).unwrap();
/// assert_eq!(a.metric, "checkout.latency");
/// assert_eq!(service.anomaly_history(Some("checkout.latency"), None, 10).len(), 1);
/// assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 1);
/// ```
pub struct AnomalyService {
    config: ServiceConfig,
    configured: RwLock<HashMap<String, SeriesConfig>>,
    state: Mutex<State>,
    subscribers: RwLock<Vec<(u64, Callback)>>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for AnomalyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnomalyService")
            .field("config", &self.config)
            .field("series", &self.lock().series.len())
            .finish()
    }
}

/// Filters of [`AnomalyService::query`]: everything is optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Only anomalies at least this severe.
    pub severity: Option<Severity>,
    /// Only this series, or series starting with it when it ends with `*`.
    pub metric: Option<String>,
    /// Only anomalies at or after this time (ms since the epoch).
    pub since: Option<i64>,
    /// At most this many, newest first.
    pub limit: Option<usize>,
}

impl Filter {
    fn matches(&self, a: &Anomaly) -> bool {
        let metric_ok = match self.metric.as_deref() {
            None => true,
            Some(m) => match m.strip_suffix('*') {
                Some(prefix) => a.metric.starts_with(prefix),
                None => a.metric == m,
            },
        };
        metric_ok
            && self.severity.is_none_or(|s| a.severity >= s)
            && self.since.is_none_or(|t| a.timestamp >= t)
    }
}

impl AnomalyService {
    /// A service with `config`.
    pub fn new(config: ServiceConfig) -> AnomalyService {
        AnomalyService {
            config,
            configured: RwLock::new(HashMap::new()),
            state: Mutex::new(State {
                series: HashMap::new(),
                history: VecDeque::new(),
                dropped_points: 0,
            }),
            subscribers: RwLock::new(Vec::new()),
            next_id: AtomicU64::new(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets how `metric` is watched (before its first point, or it starts over).
    pub fn configure(&self, metric: &str, config: SeriesConfig) {
        let mut configured = self.configured.write().unwrap_or_else(|p| p.into_inner());
        configured.insert(metric.to_owned(), config);
        self.lock().series.remove(metric);
    }

    /// Whether `metric` was configured with [`configure`](Self::configure).
    pub fn is_configured(&self, metric: &str) -> bool {
        self.configured
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(metric)
    }

    /// Adds a point to `metric`, returning the anomaly it reports, if any (also recorded in
    /// the history, counted in `cqrs_anomalies_total` and sent to the subscribers).
    pub fn add_data_point(&self, metric: &str, point: DataPoint) -> Option<Anomaly> {
        let anomaly = {
            let mut state = self.lock();
            let state = &mut *state;
            if !state.series.contains_key(metric) {
                if state.series.len() >= self.config.max_series {
                    state.dropped_points += 1;
                    return None;
                }
                let configured = self.configured.read().unwrap_or_else(|p| p.into_inner());
                let config = configured.get(metric).unwrap_or(&self.config.series);
                state.series.insert(metric.to_owned(), Series::new(config));
            }
            let series = state.series.get_mut(metric)?;
            let a = series.composite.update(point.timestamp, point.value);
            series.trend.add(point.timestamp, point.value);
            series.last = Some((point.timestamp, point.value, a));
            let level = series.level.unwrap_or(point.value);
            if point.value.is_finite() {
                series.level = Some(level + 0.05 * (point.value - level));
            }
            let change = (point.value - level).abs();
            // NaN compares false: a NaN change is no news either.
            let news = change >= series.min_change * level.abs();
            if !a.anomaly || !news {
                return None;
            }
            let anomaly = Anomaly {
                id: self.next_id.fetch_add(1, Ordering::Relaxed),
                metric: metric.to_owned(),
                timestamp: point.timestamp,
                value: point.value,
                score: a.score,
                severity: a.severity,
                deviation: a.deviation,
                confidence: a.confidence,
                detectors: PARTS
                    .iter()
                    .zip(a.parts.iter())
                    .filter(|(_, v)| v.deviation.abs() >= 3.0)
                    .map(|(n, _)| *n)
                    .collect(),
                trend: series.trend.trend(),
                metadata: point.metadata,
            };
            if state.history.len() >= self.config.history.max(1) {
                state.history.pop_front();
            }
            state.history.push_back(anomaly.clone());
            anomaly
        };
        ::metrics::counter!(
            names::ANOMALIES_TOTAL,
            label::METRIC => anomaly.metric.clone(),
            label::SEVERITY => anomaly.severity.as_str(),
        )
        .increment(1);
        let subscribers: Vec<Callback> = self
            .subscribers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(_, f)| Arc::clone(f))
            .collect();
        for f in subscribers {
            f(&anomaly);
        }
        Some(anomaly)
    }

    /// Anomalies of `metric` (all series with `None`) at or after `since`, newest first, at
    /// most `limit`.
    pub fn anomaly_history(
        &self,
        metric: Option<&str>,
        since: Option<i64>,
        limit: usize,
    ) -> Vec<Anomaly> {
        self.query(&Filter {
            metric: metric.map(str::to_owned),
            since,
            limit: Some(limit),
            ..Filter::default()
        })
    }

    /// Anomalies matching `filter`, newest first.
    pub fn query(&self, filter: &Filter) -> Vec<Anomaly> {
        self.lock()
            .history
            .iter()
            .rev()
            .filter(|a| filter.matches(a))
            .take(filter.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    /// Calls `f` with every anomaly reported from now on (outside the service's lock; `f`
    /// may query the service). Returns an id for [`unsubscribe`](Self::unsubscribe).
    pub fn subscribe(&self, f: impl Fn(&Anomaly) + Send + Sync + 'static) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.subscribers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push((id, Arc::new(f)));
        id
    }

    /// Stops a subscription; whether it existed.
    pub fn unsubscribe(&self, id: u64) -> bool {
        let mut subs = self.subscribers.write().unwrap_or_else(|p| p.into_inner());
        let before = subs.len();
        subs.retain(|(i, _)| *i != id);
        subs.len() != before
    }

    /// The trend of `metric`.
    pub fn trend(&self, metric: &str) -> Option<Trend> {
        self.lock().series.get(metric)?.trend.trend()
    }

    /// Every series: its name, last point and assessment, and trend.
    pub fn series(&self) -> Vec<SeriesReport> {
        let state = self.lock();
        let mut out: Vec<SeriesReport> = state
            .series
            .iter()
            .map(|(name, s)| SeriesReport {
                metric: name.clone(),
                direction: s.direction,
                last_timestamp: s.last.map(|l| l.0),
                last_value: s.last.map(|l| l.1),
                last_score: s.last.map(|l| l.2.score),
                trend: s.trend.trend(),
                memory_bytes: s.composite.memory_bytes() + std::mem::size_of::<Series>(),
            })
            .collect();
        out.sort_by(|a, b| a.metric.cmp(&b.metric));
        out
    }

    /// Points dropped because the series limit was reached.
    pub fn dropped_points(&self) -> u64 {
        self.lock().dropped_points
    }
}

/// What [`AnomalyService::series`] says about one series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesReport {
    /// The series.
    pub metric: String,
    /// Which way is bad.
    pub direction: Direction,
    /// Time of the last point.
    pub last_timestamp: Option<i64>,
    /// The last value.
    pub last_value: Option<f64>,
    /// The last composite score.
    pub last_score: Option<f64>,
    /// The trend.
    pub trend: Option<Trend>,
    /// Bytes of detector state.
    pub memory_bytes: usize,
}

/// The process-wide service that the built-in CQRS detectors feed and `GET /anomalies`
/// reads; applications may add their own series to it.
///
/// ```
/// use cqrs_obs::anomaly::{self, DataPoint};
/// anomaly::global().add_data_point("orders.pending", DataPoint::new(0, 3.0));
/// assert!(anomaly::global().series().iter().any(|s| s.metric == "orders.pending"));
/// ```
pub fn global() -> &'static AnomalyService {
    static SERVICE: OnceLock<AnomalyService> = OnceLock::new();
    SERVICE.get_or_init(|| AnomalyService::new(ServiceConfig::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steady(service: &AnomalyService, metric: &str, n: i64) {
        for i in 0..n {
            let v = 10.0 + (i * 7 % 5) as f64 * 0.1;
            assert!(service
                .add_data_point(metric, DataPoint::new(i * 1_000, v))
                .is_none());
        }
    }

    #[test]
    fn the_bad_direction_is_reported_the_good_one_learned() {
        let service = AnomalyService::new(ServiceConfig::default());
        let latency = SeriesConfig {
            direction: Direction::HigherIsWorse,
            ..SeriesConfig::default()
        };
        service.configure("lat", latency);
        steady(&service, "lat", 400);
        assert!(service
            .add_data_point("lat", DataPoint::new(400_000, 1.0))
            .is_none());
        // After the quiet period that follows any unusual point.
        for i in 401..500 {
            service.add_data_point(
                "lat",
                DataPoint::new(i * 1_000, 10.0 + (i * 7 % 5) as f64 * 0.1),
            );
        }
        let up = service.add_data_point("lat", DataPoint::new(500_000, 90.0).with("k", "v"));
        let up = up.expect("a rise in latency is reported");
        assert_eq!(up.metadata["k"], "v");
        assert!(up.detectors.contains(&"zscore"), "{up:?}");
    }

    #[test]
    fn history_and_series_are_bounded() {
        let service = AnomalyService::new(ServiceConfig {
            max_series: 2,
            history: 3,
            ..ServiceConfig::default()
        });
        for m in ["a", "b", "c"] {
            service.add_data_point(m, DataPoint::new(0, 1.0));
        }
        assert_eq!(service.series().len(), 2);
        assert_eq!(service.dropped_points(), 1);
        for k in 0..5 {
            let metric = format!("s{k}");
            let service2 = AnomalyService::new(ServiceConfig::default());
            steady(&service2, &metric, 400);
            assert!(service2
                .add_data_point(&metric, DataPoint::new(400_000, 1e3))
                .is_some());
        }
        let service = AnomalyService::new(ServiceConfig {
            history: 3,
            ..ServiceConfig::default()
        });
        for k in 0..5 {
            let metric = format!("s{k}");
            steady(&service, &metric, 400);
            service.add_data_point(&metric, DataPoint::new(400_000, 1e3));
        }
        let all = service.anomaly_history(None, None, 100);
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].metric, "s4", "newest first");
        let filter = Filter {
            metric: Some("s*".into()),
            severity: Some(Severity::Critical),
            since: Some(0),
            limit: Some(1),
        };
        assert!(service.query(&filter).len() <= 1);
    }

    #[test]
    fn unsubscribing_stops_the_callbacks() {
        let service = AnomalyService::new(ServiceConfig::default());
        let id = service.subscribe(|_| panic!("unsubscribed"));
        assert!(service.unsubscribe(id));
        assert!(!service.unsubscribe(id));
        steady(&service, "x", 400);
        assert!(service
            .add_data_point("x", DataPoint::new(400_000, 1e3))
            .is_some());
    }
}
