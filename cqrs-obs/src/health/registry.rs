//! The registry of checks: their last results, damping, transition history, group
//! settings, and the parallel runs that fill them.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Instant, SystemTime};

use serde::Serialize;

use super::aggregate::Aggregation;
use super::check::Check;
use super::execute::execute;
use super::format::ShowDetails;
use super::status::{rfc3339, HealthStatus, Report, Status};
use super::HealthError;

/// One change of an indicator's (damped) status.
///
/// ```
/// # use std::time::SystemTime;
/// use cqrs_obs::health::{Status, Transition};
/// let t = Transition { from: Status::Up, to: Status::Down, at: SystemTime::UNIX_EPOCH, reason: None };
/// assert_eq!(t.at_rfc3339(), "1970-01-01T00:00:00.000Z");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The status before.
    pub from: Status,
    /// The status after.
    pub to: Status,
    /// When the change was decided.
    pub at: SystemTime,
    /// The reason the check gave with the new status.
    pub reason: Option<String>,
}

impl Transition {
    /// The time as RFC 3339.
    pub fn at_rfc3339(&self) -> String {
        rfc3339(self.at)
    }
}

impl Serialize for Transition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Transition", 4)?;
        st.serialize_field("from", &self.from)?;
        st.serialize_field("to", &self.to)?;
        st.serialize_field("time", &self.at_rfc3339())?;
        st.serialize_field("reason", &self.reason)?;
        st.end()
    }
}

/// The registry's settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) aggregation: HashMap<String, Aggregation>,
    pub(crate) damping: NonZeroU32,
    pub(crate) history: usize,
    pub(crate) details: ShowDetails,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            aggregation: HashMap::new(),
            damping: NonZeroU32::MIN,
            history: 32,
            details: ShowDetails::Always,
        }
    }
}

#[derive(Default)]
struct State {
    last: Option<Report>,
    candidate: Option<Status>,
    streak: u32,
    history: VecDeque<Transition>,
    running: bool,
    due: Option<Instant>,
}

pub(crate) struct Entry {
    pub(crate) check: Check,
    state: Mutex<State>,
}

impl Entry {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn last(&self) -> Option<Report> {
        self.state().last.clone()
    }

    /// Records one raw result through damping: the reported status changes after `damping`
    /// consecutive results that agree on the new status.
    fn apply(&self, raw: HealthStatus, report: Report, settings: &Settings) -> Report {
        let mut state = self.state();
        let reported = state.last.as_ref().map(|r| r.health.status());
        let new = raw.status();
        let mut health = raw;
        let mut transition = None;
        match reported {
            None => transition = Some((Status::Unknown, new)),
            Some(old) if old == new => {
                state.candidate = None;
                state.streak = 0;
            }
            Some(old) => {
                state.streak = if state.candidate == Some(new) {
                    state.streak + 1
                } else {
                    1
                };
                state.candidate = Some(new);
                if state.streak >= settings.damping.get() {
                    transition = Some((old, new));
                    state.candidate = None;
                    state.streak = 0;
                } else {
                    let pending = format!("{new} {}/{}", state.streak, settings.damping);
                    health = health.with_detail("pending", pending);
                    health.set_status(old);
                }
            }
        }
        if let Some((from, to)) = transition {
            if from != to || state.history.is_empty() {
                state.history.push_back(Transition {
                    from,
                    to,
                    at: report.time,
                    reason: health.reason().map(str::to_owned),
                });
            }
            while state.history.len() > settings.history.max(1) {
                state.history.pop_front();
            }
        }
        let report = Report { health, ..report };
        state.last = Some(report.clone());
        report
    }
}

/// One component in an answer.
#[derive(Debug, Clone)]
pub struct Component {
    /// The check's name.
    pub name: String,
    /// Whether it counts in the aggregate.
    pub critical: bool,
    /// Its groups.
    pub groups: Vec<String>,
    /// Its latest result.
    pub report: Report,
}

/// The answer for a set of checks: the aggregate status and every component.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The aggregate of the critical components.
    pub status: Status,
    /// The components, in registration order.
    pub components: Vec<Component>,
}

/// The set of checks an answer covers.
#[derive(Debug, Clone, Copy)]
pub enum Selector<'a> {
    /// Every check.
    All,
    /// The checks of one group.
    Group(&'a str),
}

/// A set of checks with their state. The process-wide one is [`registry()`](super::registry);
/// tests and embedders can make their own.
///
/// ```
/// use cqrs_obs::health::{Check, Registry, Selector, Status};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let registry = Registry::new();
/// registry.register(Check::from_fn("disk", || true).group("readiness")).unwrap();
/// registry.register(Check::from_fn("cache", || false).critical(false)).unwrap();
/// let snapshot = registry.check(Selector::All).await;
/// assert_eq!(snapshot.status, Status::Up); // `cache` is informational
/// assert_eq!(snapshot.components.len(), 2);
/// # });
/// ```
#[derive(Default)]
pub struct Registry {
    entries: RwLock<Vec<Arc<Entry>>>,
    settings: RwLock<Settings>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("checks", &self.names())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// An empty registry with the default settings (no damping, 32 transitions of history
    /// per check, all-up aggregation, details always shown).
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds a check; names are unique.
    pub fn register(&self, check: Check) -> Result<(), HealthError> {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.iter().any(|e| e.check.name == check.name) {
            return Err(HealthError::DuplicateName {
                name: check.name.into_owned(),
            });
        }
        entries.push(Arc::new(Entry {
            check,
            state: Mutex::default(),
        }));
        Ok(())
    }

    /// Removes a check by name; returns whether it was there.
    pub fn unregister(&self, name: &str) -> bool {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let before = entries.len();
        entries.retain(|e| e.check.name != name);
        entries.len() != before
    }

    /// The names of the registered checks.
    pub fn names(&self) -> Vec<String> {
        self.entries()
            .iter()
            .map(|e| e.check.name.to_string())
            .collect()
    }

    /// Every group some check belongs to, sorted.
    pub fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = self
            .entries()
            .iter()
            .flat_map(|e| e.check.groups.iter().map(|g| g.to_string()))
            .collect();
        groups.sort();
        groups.dedup();
        groups
    }

    /// How a group aggregates (default [`Aggregation::AllUp`]; `/health` as a whole uses the
    /// group name `""`).
    pub fn set_aggregation(&self, group: impl Into<String>, aggregation: Aggregation) {
        self.settings_mut()
            .aggregation
            .insert(group.into(), aggregation);
    }

    /// Flapping damping: a check's reported status changes only after `results` consecutive
    /// results agree on the new status (default 1: every change is reported at once).
    pub fn set_damping(&self, results: NonZeroU32) {
        self.settings_mut().damping = results;
    }

    /// How many transitions each check keeps (default 32).
    pub fn set_history_capacity(&self, transitions: usize) {
        self.settings_mut().history = transitions;
    }

    /// Who sees details in `/health` (default [`ShowDetails::Always`]).
    pub fn set_show_details(&self, policy: ShowDetails) {
        self.settings_mut().details = policy;
    }

    /// The transitions of a check, oldest first (`None` for an unknown name).
    pub fn history(&self, name: &str) -> Option<Vec<Transition>> {
        let entry = self.entry(name)?;
        let history = entry.state().history.iter().cloned().collect();
        Some(history)
    }

    /// The latest result of a check without running it.
    pub fn last(&self, name: &str) -> Option<Report> {
        self.entry(name)?.last()
    }

    /// Answers for `selector`: checks with an interval answer from their cached result (run
    /// once if there is none yet); the others run now, all in parallel, each bounded by its
    /// timeout. Call within a tokio runtime with the time driver.
    pub async fn check(&self, selector: Selector<'_>) -> Snapshot {
        self.answer(selector, false).await
    }

    /// Like [`check`](Self::check), but every selected check runs now.
    pub async fn run(&self, selector: Selector<'_>) -> Snapshot {
        self.answer(selector, true).await
    }

    async fn answer(&self, selector: Selector<'_>, force: bool) -> Snapshot {
        let entries: Vec<Arc<Entry>> = self
            .entries()
            .into_iter()
            .filter(|e| match selector {
                Selector::All => true,
                Selector::Group(group) => e.check.groups.iter().any(|g| g == group),
            })
            .collect();
        let settings = self.settings();
        let mut reports: Vec<Option<Report>> = entries
            .iter()
            .map(|e| match (force, e.check.interval) {
                (false, Some(_)) => e.last(),
                _ => None,
            })
            .collect();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, entry) in entries.iter().enumerate() {
            if reports[i].is_none() {
                let (entry, settings) = (entry.clone(), settings.clone());
                tasks.spawn(async move { (i, run_entry(&entry, &settings).await) });
            }
        }
        while let Some(done) = tasks.join_next().await {
            if let Ok((i, report)) = done {
                reports[i] = Some(report);
            }
        }
        let group = match selector {
            Selector::All => "",
            Selector::Group(group) => group,
        };
        snapshot(&entries, reports, settings.aggregation_of(group))
    }

    /// Starts a background run of every check with an interval that is due; returns at once.
    /// Call within a tokio runtime.
    pub(crate) fn refresh_due(&self) {
        let now = Instant::now();
        let settings = self.settings();
        for entry in self.entries() {
            let Some(interval) = entry.check.interval else {
                continue;
            };
            {
                let mut state = entry.state();
                if state.running || state.due.is_some_and(|due| due > now) {
                    continue;
                }
                state.running = true;
                state.due = Some(now + interval);
            }
            let settings = settings.clone();
            tokio::spawn(async move {
                run_entry(&entry, &settings).await;
                entry.state().running = false;
            });
        }
    }

    pub(crate) fn entries(&self) -> Vec<Arc<Entry>> {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn entry(&self, name: &str) -> Option<Arc<Entry>> {
        self.entries().into_iter().find(|e| e.check.name == name)
    }

    pub(crate) fn settings(&self) -> Settings {
        self.settings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn settings_mut(&self) -> std::sync::RwLockWriteGuard<'_, Settings> {
        self.settings
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Settings {
    pub(crate) fn aggregation_of(&self, group: &str) -> Aggregation {
        self.aggregation.get(group).copied().unwrap_or_default()
    }
}

async fn run_entry(entry: &Entry, settings: &Settings) -> Report {
    let (health, duration) = execute(&entry.check).await;
    let report = Report::new(HealthStatus::unknown(), duration, SystemTime::now());
    entry.apply(health, report, settings)
}

fn snapshot(entries: &[Arc<Entry>], reports: Vec<Option<Report>>, how: Aggregation) -> Snapshot {
    let components: Vec<Component> = entries
        .iter()
        .zip(reports)
        .map(|(entry, report)| Component {
            name: entry.check.name.to_string(),
            critical: entry.check.critical,
            groups: entry.check.groups.iter().map(|g| g.to_string()).collect(),
            report: report.unwrap_or_else(|| {
                let lost = HealthStatus::down_because("the check's task was lost");
                Report::new(lost, Default::default(), SystemTime::now())
            }),
        })
        .collect();
    let status = how.aggregate(
        components
            .iter()
            .filter(|c| c.critical)
            .map(|c| c.report.health.status()),
    );
    Snapshot { status, components }
}
