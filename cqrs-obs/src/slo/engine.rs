//! The SLO registry and engine: reads the SLIs from the handlers' existing recordings on each
//! tick, feeds every SLO's windows, and answers reports.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::model::{Handlers, Sli, Slo, SloError};
use super::policy::{self, DeployDecision};
use super::state::{
    AckError, AlertEvent, AlertReport, AlertState, Budget, BudgetPoint, SloState, WindowReport,
};
use super::window::Counts;
use crate::handler::{HandlerSite, HandlerSnapshot, Outcome, ThresholdsFull, BUCKET_BOUNDS_NANOS};

/// A source of time, injectable so that tests run simulated weeks in milliseconds.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

/// An SLO declared at compile time (collected with `inventory`).
#[doc(hidden)]
#[derive(Debug)]
pub struct SloRegistration(pub fn() -> Slo);

inventory::collect!(SloRegistration);

#[derive(Debug)]
struct Tracked {
    state: SloState,
    /// The SLI's cumulative (good, total) at the previous tick.
    last: Option<Counts>,
}

/// Evaluates a set of SLOs.
pub struct Engine {
    clock: Box<dyn Clock>,
    slos: Vec<Tracked>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("slos", &self.slos.len())
            .finish()
    }
}

/// Everything known about one SLO at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct SloReport {
    /// The definition.
    pub slo: Slo,
    /// When the report was made (ms since the epoch).
    pub at_ms: u64,
    /// Attainment over the period in percent (`None` without traffic).
    pub attainment: Option<f64>,
    /// Every window.
    pub windows: Vec<WindowReport>,
    /// The error budget.
    pub budget: Budget,
    /// The burn-rate alerts.
    pub alerts: Vec<AlertReport>,
    /// Past alert transitions, oldest first.
    pub history: Vec<AlertEvent>,
    /// The budget left over the last period, oldest first.
    pub budget_history: Vec<BudgetPoint>,
}

impl Engine {
    /// An engine with no SLOs.
    pub fn new(clock: Box<dyn Clock>) -> Engine {
        Engine {
            clock,
            slos: Vec::new(),
        }
    }

    /// Adds an SLO after validating it.
    pub fn add(&mut self, slo: Slo) -> Result<(), SloError> {
        slo.validate()?;
        if self.slos.iter().any(|t| t.state.slo().id == slo.id) {
            return Err(SloError::Duplicate(slo.id));
        }
        let mut last = None;
        if let Sli::Latency {
            handlers,
            threshold,
        } = &slo.sli
        {
            // `validate` checked that the threshold is positive and fits.
            let nanos = super::model::threshold_nanos(*threshold).unwrap_or(1);
            count_threshold(handlers, nanos)
                .map_err(|source| SloError::Thresholds { id: slo.id, source })?;
            // A threshold between histogram bounds is counted from now on: so are its events.
            if !BUCKET_BOUNDS_NANOS.contains(&nanos) {
                last = read(&slo.sli, &crate::handler::snapshots());
            }
        }
        self.slos.push(Tracked {
            state: SloState::new(slo),
            last,
        });
        Ok(())
    }

    /// Number of SLOs.
    pub fn len(&self) -> usize {
        self.slos.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.slos.is_empty()
    }

    /// Reads every SLI from `snapshots` (and the other sources), adds what changed since the
    /// previous tick and evaluates the alerts.
    pub fn tick(&mut self, snapshots: &[HandlerSnapshot]) {
        let now = self.clock.now_ms();
        for tracked in &mut self.slos {
            let elapsed = tracked.state.last_ms().map_or(0, |t| now.saturating_sub(t));
            let cumulative = read(&tracked.state.slo().sli, snapshots);
            let delta = match (&tracked.state.slo().sli, cumulative, tracked.last) {
                (Sli::Throughput { per_second, .. }, Some(c), Some(last)) => {
                    let seconds = elapsed as f64 / 1000.0;
                    let calls = c.total.saturating_sub(last.total) as f64;
                    let slices = seconds.round() as u64;
                    let good = calls >= per_second * seconds;
                    Counts {
                        good: if good { slices } else { 0 },
                        total: slices,
                    }
                }
                (
                    Sli::Freshness {
                        projection,
                        max_lag,
                    },
                    _,
                    _,
                ) => {
                    let slices = (elapsed as f64 / 1000.0).round() as u64;
                    let fresh = projection_lag(projection).is_some_and(|lag| lag <= *max_lag);
                    Counts {
                        good: if fresh { slices } else { 0 },
                        total: slices,
                    }
                }
                // Handler counters start at zero with the process, so the first tick counts
                // every call made before it.
                (_, Some(c), last) => {
                    let last = last.unwrap_or_default();
                    Counts {
                        good: c.good.saturating_sub(last.good),
                        total: c.total.saturating_sub(last.total),
                    }
                }
                _ => Counts::default(),
            };
            tracked.last = cumulative.or(tracked.last);
            let events = tracked.state.observe(now, delta);
            let slo = tracked.state.slo();
            policy::dispatch(slo, &events);
            let firing: Vec<_> = tracked.state.firing().collect();
            policy::update_gate(slo, &firing);
        }
    }

    /// Adds counts to one SLO directly (for SLIs fed by the application).
    pub fn observe(&mut self, id: &str, delta: Counts) -> bool {
        let now = self.clock.now_ms();
        match self.slos.iter_mut().find(|t| t.state.slo().id == id) {
            Some(t) => {
                let events = t.state.observe(now, delta);
                policy::dispatch(t.state.slo(), &events);
                let firing: Vec<_> = t.state.firing().collect();
                policy::update_gate(t.state.slo(), &firing);
                true
            }
            None => false,
        }
    }

    /// Reports of every SLO.
    pub fn reports(&mut self) -> Vec<SloReport> {
        let now = self.clock.now_ms();
        self.slos
            .iter_mut()
            .map(|t| report(&mut t.state, now))
            .collect()
    }

    /// The report of one SLO.
    pub fn report(&mut self, id: &str) -> Option<SloReport> {
        let now = self.clock.now_ms();
        self.slos
            .iter_mut()
            .find(|t| t.state.slo().id == id)
            .map(|t| report(&mut t.state, now))
    }

    /// Acknowledges the active alert of `severity` of SLO `id` (see
    /// [`SloState::acknowledge`]).
    pub fn acknowledge(
        &mut self,
        id: &str,
        severity: &str,
        by: &str,
        note: &str,
    ) -> Result<AlertReport, AckError> {
        let now = self.clock.now_ms();
        self.slos
            .iter_mut()
            .find(|t| t.state.slo().id == id)
            .ok_or_else(|| AckError::UnknownSlo(id.to_owned()))?
            .state
            .acknowledge(severity, now, by, note)
    }

    /// Whether a deployment may go ahead: no alert that blocks deployments is firing.
    pub fn deploy_decision(&self) -> DeployDecision {
        let mut reasons = Vec::new();
        for tracked in &self.slos {
            for (state, rule) in tracked
                .state
                .alerts()
                .iter()
                .zip(tracked.state.slo().burn_rates)
            {
                if let super::state::AlertState::Firing(since) = state {
                    if policy::blocks_deployments(rule.severity) {
                        reasons.push(format!(
                            "SLO `{}`: {} burn-rate alert ({}x over {} and {}) firing since {since} ms",
                            tracked.state.slo().id,
                            rule.severity.as_str(),
                            rule.factor(tracked.state.slo().period),
                            super::rules::promql_duration(rule.long),
                            super::rules::promql_duration(rule.short),
                        ));
                    }
                }
            }
        }
        DeployDecision {
            allowed: reasons.is_empty(),
            reasons,
        }
    }

    /// The SLO definitions.
    pub fn slos(&self) -> impl Iterator<Item = &Slo> {
        self.slos.iter().map(|t| t.state.slo())
    }
}

/// A period of breach: from an alert firing to its resolution (`end_ms` is `None` while it
/// still fires).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Breach {
    /// Severity of the alert.
    pub severity: super::model::Severity,
    /// When it started firing.
    pub start_ms: u64,
    /// When it resolved.
    pub end_ms: Option<u64>,
}

impl SloReport {
    /// Breaches found in the alert history, oldest first.
    pub fn breaches(&self) -> Vec<Breach> {
        let mut breaches: Vec<Breach> = Vec::new();
        for event in &self.history {
            match event.transition {
                "firing" => breaches.push(Breach {
                    severity: event.severity,
                    start_ms: event.at_ms,
                    end_ms: None,
                }),
                "resolved" => {
                    if let Some(open) = breaches
                        .iter_mut()
                        .rev()
                        .find(|b| b.severity == event.severity && b.end_ms.is_none())
                    {
                        open.end_ms = Some(event.at_ms);
                    }
                }
                _ => {}
            }
        }
        breaches
    }

    /// A readable summary: target, attainment, budget, firing alerts and breaches.
    ///
    /// ```
    /// use cqrs_obs::slo::{CqrsSlos, Engine, SystemClock};
    /// let mut engine = Engine::new(Box::new(SystemClock));
    /// engine.add(CqrsSlos::command_availability()).unwrap();
    /// let text = engine.reports()[0].summary();
    /// assert!(text.starts_with("command-availability"));
    /// assert!(text.contains("target 99.9% over 30d"));
    /// ```
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let slo = &self.slo;
        let mut out = format!("{} — {}\n", slo.id, slo.name);
        let attainment = self
            .attainment
            .map_or("no traffic".to_owned(), |a| format!("{a:.3}%"));
        let _ = writeln!(
            out,
            "  target {}% over {}, attainment {attainment}, budget remaining {:.1}%, burn rate (1h) {:.2}x",
            slo.target,
            super::rules::promql_duration(slo.period),
            self.budget.remaining * 100.0,
            self.budget.burn_rate_1h,
        );
        if let Some(seconds) = self.budget.exhaustion_seconds {
            let _ = writeln!(
                out,
                "  budget exhausted in {:.1} h at this rate",
                seconds / 3600.0
            );
        }
        for alert in self
            .alerts
            .iter()
            .filter(|a| !matches!(a.state, AlertState::Inactive))
        {
            let _ = writeln!(
                out,
                "  {} alert {} ({:.1}x over {}s and {}s)",
                alert.severity.as_str(),
                match alert.state {
                    AlertState::Firing(_) => "FIRING",
                    _ => "pending",
                },
                alert.factor,
                alert.long_seconds,
                alert.short_seconds,
            );
        }
        for breach in self.breaches() {
            let end = breach
                .end_ms
                .map_or("ongoing".to_owned(), |e| format!("{e}"));
            let _ = writeln!(
                out,
                "  breach: {} from {} to {end}",
                breach.severity.as_str(),
                breach.start_ms
            );
        }
        out
    }
}

fn report(state: &mut SloState, now: u64) -> SloReport {
    let period = state.slo().period;
    let counts = state.counts(period, now);
    SloReport {
        slo: state.slo().clone(),
        at_ms: now,
        attainment: counts.error_ratio().map(|r| 100.0 * (1.0 - r)),
        windows: state.windows(now),
        budget: state.budget(now),
        alerts: state.alert_reports(),
        history: state.history().copied().collect(),
        budget_history: state.budget_history().copied().collect(),
    }
}

/// Cumulative (good, total) of an SLI, `None` for SLIs that are sampled per tick instead.
fn read(sli: &Sli, snapshots: &[HandlerSnapshot]) -> Option<Counts> {
    let mut counts = Counts::default();
    match sli {
        Sli::Availability { handlers, good } => {
            for snap in snapshots.iter().filter(|s| handlers.matches(s)) {
                for outcome in Outcome::ALL {
                    match good.classify(outcome) {
                        Some(true) => counts.good += snap.count(outcome),
                        Some(false) => {}
                        None => continue,
                    }
                    counts.total += snap.count(outcome);
                }
            }
        }
        Sli::Latency {
            handlers,
            threshold,
        } => {
            let nanos = super::model::threshold_nanos(*threshold)?;
            for snap in snapshots.iter().filter(|s| handlers.matches(s)) {
                for outcome in Outcome::ALL
                    .into_iter()
                    .filter(|o| *o != Outcome::Cancelled)
                {
                    counts.good += snap.calls_within(outcome, nanos)?;
                    counts.total += snap.count(outcome);
                }
            }
        }
        Sli::Throughput { handlers, .. } => {
            counts.total = snapshots
                .iter()
                .filter(|s| handlers.matches(s))
                .map(|s| s.total())
                .sum();
        }
        Sli::Freshness { .. } => return None,
        Sli::Custom { read, .. } => {
            let (good, total) = read();
            counts = Counts { good, total };
        }
    }
    Some(counts)
}

fn lags() -> &'static RwLock<HashMap<&'static str, Duration>> {
    static LAGS: OnceLock<RwLock<HashMap<&'static str, Duration>>> = OnceLock::new();
    LAGS.get_or_init(Default::default)
}

/// Reports how far `projection` is behind the event store (feeds freshness SLIs).
pub fn report_projection_lag(projection: &'static str, lag: Duration) {
    if let Ok(mut lags) = lags().write() {
        lags.insert(projection, lag);
    }
    ::metrics::gauge!(crate::metrics::names::PROJECTION_LAG, crate::metrics::names::label::PROJECTION => projection)
        .set(lag.as_secs_f64());
}

fn projection_lag(projection: &str) -> Option<Duration> {
    lags().read().ok()?.get(projection).copied()
}

/// Every projection's last reported lag, by projection name.
pub(crate) fn projection_lags() -> Vec<(&'static str, Duration)> {
    let mut all: Vec<_> = lags()
        .read()
        .map(|lags| lags.iter().map(|(p, l)| (*p, *l)).collect())
        .unwrap_or_default();
    all.sort_unstable();
    all
}

/// The latency thresholds of every SLO added, for handlers registered later.
fn thresholds() -> &'static Mutex<Vec<(Handlers, u64)>> {
    static THRESHOLDS: Mutex<Vec<(Handlers, u64)>> = Mutex::new(Vec::new());
    &THRESHOLDS
}

/// Makes every handler `handlers` covers, now and registered later, count `nanos` exactly.
fn count_threshold(handlers: &Handlers, nanos: u64) -> Result<(), ThresholdsFull> {
    let mut all = thresholds()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for site in crate::handler::registered().filter(|s| handlers.covers(s.meta())) {
        site.count_threshold(nanos)?;
    }
    all.push((handlers.clone(), nanos));
    Ok(())
}

/// Makes a handler registered at run time count the thresholds of the latency SLOs covering it.
pub(crate) fn on_registered(site: &'static HandlerSite) {
    let all = thresholds()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (_, nanos) in all.iter().filter(|(h, _)| h.covers(site.meta())) {
        if let Err(e) = site.count_threshold(*nanos) {
            eprintln!(
                "cqrs-obs: {e}; its calls are not counted against the {nanos} ns latency objective"
            );
        }
    }
}

static ENGINE: OnceLock<Mutex<Engine>> = OnceLock::new();

/// The process-wide engine, holding every SLO declared with `#[slo]` or registered at run
/// time. Invalid compile-time declarations are reported on stderr and skipped.
pub(crate) fn global() -> MutexGuard<'static, Engine> {
    let engine = ENGINE.get_or_init(|| {
        let mut engine = Engine::new(Box::new(SystemClock));
        for registration in inventory::iter::<SloRegistration> {
            if let Err(e) = engine.add((registration.0)()) {
                eprintln!("cqrs-obs: {e}; the SLO is skipped");
            }
        }
        Mutex::new(engine)
    });
    engine
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Creates the process-wide engine with the SLOs declared with `#[slo]` (at start-up, so that
/// their latency thresholds are counted from the first call).
pub(crate) fn load() {
    drop(global());
}

/// Registers an SLO with the process-wide engine.
///
/// ```
/// use cqrs_obs::slo::{self, CqrsSlos};
/// slo::register(CqrsSlos::command_availability()).unwrap();
/// assert!(slo::register(CqrsSlos::command_availability()).is_err(), "ids are unique");
/// ```
pub fn register(slo: Slo) -> Result<(), SloError> {
    global().add(slo)
}

/// Reports of every registered SLO, as of now.
pub fn reports() -> Vec<SloReport> {
    global().reports()
}

/// Acknowledges an active alert of a registered SLO (`POST /slo/{id}/alerts/{severity}/ack`,
/// an operator action).
pub fn acknowledge(
    id: &str,
    severity: &str,
    by: &str,
    note: &str,
) -> Result<AlertReport, AckError> {
    global().acknowledge(id, severity, by, note)
}

/// Whether deployments may go ahead now (`GET /slo/deploy-gate`).
pub fn deploy_decision() -> DeployDecision {
    global().deploy_decision()
}

/// Runs one evaluation of every registered SLO against the handlers' recordings.
pub fn tick() {
    let snapshots = crate::handler::snapshots();
    global().tick(&snapshots);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::{HandlerKind, HandlerMeta};
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::sync::Arc;

    struct Manual(Arc<AtomicU64>);

    impl Clock for Manual {
        fn now_ms(&self) -> u64 {
            self.0.load(Relaxed)
        }
    }

    /// Records a call of `nanos` the way a guard does.
    fn call(site: &HandlerSite, nanos: u64) {
        let timebase = crate::handler::timebase::Timebase::enable();
        let ticks = timebase.ticks_within(nanos);
        let shard = crate::local::shard();
        site.record_start(shard);
        site.record_end(shard, Outcome::Ok, timebase.bucket(ticks), ticks);
    }

    #[test]
    fn a_latency_threshold_between_bounds_is_counted_exactly_from_when_the_slo_is_added() {
        let site = crate::handler::register(HandlerMeta {
            kind: HandlerKind::Query,
            name: "engine_threshold_test",
            message: "Q",
            aggregate: None,
            projection: None,
            saga: None,
            module: "m",
            file: "f.rs",
            line: 1,
            is_async: false,
        });
        // Before the SLO exists: not counted against it.
        call(site, 110_000_000);
        let now = Arc::new(AtomicU64::new(1_000_000));
        let mut engine = Engine::new(Box::new(Manual(now.clone())));
        let mut slo = Slo::new(
            "threshold-120ms",
            Sli::Latency {
                handlers: Handlers::Named("engine_threshold_test"),
                threshold: Duration::from_millis(120),
            },
            99.0,
        );
        slo.min_events = 1;
        engine.add(slo).unwrap();
        assert_eq!(site.snapshot().thresholds(), &[120_000_000]);
        // 119 ms and 120 ms are within, 121 ms is not, whatever the bucket bounds (100, 250 ms).
        for nanos in [
            50_000_000,
            119_000_000,
            120_000_000,
            121_000_000,
            240_000_000,
        ] {
            call(site, nanos);
        }
        now.fetch_add(1000, Relaxed);
        engine.tick(&crate::handler::snapshots());
        let report = engine.report("threshold-120ms").unwrap();
        let attainment = report.attainment.unwrap();
        assert!(
            (attainment - 60.0).abs() < 1e-9,
            "3 of 5 within: {attainment}"
        );
        // The same threshold on the same handler is counted once; a full handler is an error.
        for extra in 1..crate::handler::THRESHOLDS as u64 {
            site.count_threshold(120_000_000 + extra).unwrap();
        }
        let full = Slo::new(
            "threshold-130ms",
            Sli::Latency {
                handlers: Handlers::Named("engine_threshold_test"),
                threshold: Duration::from_millis(130),
            },
            99.0,
        );
        assert!(matches!(engine.add(full), Err(SloError::Thresholds { .. })));
    }
}
