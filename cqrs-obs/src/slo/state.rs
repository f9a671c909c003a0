//! One SLO's live state: its windows, alerts and budget, advanced by observed counts.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

use super::model::{Severity, Slo};
use super::window::{Counts, Window, WINDOWS, WINDOW_COUNT};

/// Alert transitions kept per SLO.
pub const HISTORY: usize = 128;

/// Points kept in an SLO's budget history: one every `period / BUDGET_POINTS`, so the
/// history covers one period (30 days: a point an hour) in about 11 KiB.
pub const BUDGET_POINTS: usize = 720;

/// The error budget left at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BudgetPoint {
    /// When (ms since the epoch).
    pub at_ms: u64,
    /// Share of the period's budget left then (1 = untouched, below 0 = overspent).
    pub remaining: f64,
}

/// Where an alert is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "since_ms")]
pub enum AlertState {
    /// The condition does not hold.
    Inactive,
    /// The condition holds, for less than the rule's `for`.
    Pending(u64),
    /// The alert fires.
    Firing(u64),
}

/// An operator's acknowledgement of a firing or pending alert: someone is on it. It lasts until
/// the alert resolves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acknowledgement {
    /// When, in milliseconds since the Unix epoch (or the test clock's epoch).
    pub at_ms: u64,
    /// Who acknowledged (as the caller names itself; the admin endpoint's audit log records the
    /// request with its role and peer address).
    pub by: String,
    /// A free-form note (`""` without one).
    pub note: String,
}

/// Why an alert could not be acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// No SLO has this id.
    #[error("no SLO `{0}`")]
    UnknownSlo(String),
    /// The SLO has no alert of this severity.
    #[error("SLO `{slo}` has no `{severity}` alert")]
    UnknownAlert {
        /// The SLO.
        slo: String,
        /// The severity asked for.
        severity: String,
    },
    /// The alert is neither firing nor pending.
    #[error("the `{severity}` alert of SLO `{slo}` is not firing or pending")]
    NotActive {
        /// The SLO.
        slo: String,
        /// The severity.
        severity: &'static str,
    },
}

/// A change of an alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AlertEvent {
    /// When, in milliseconds since the Unix epoch (or the test clock's epoch).
    pub at_ms: u64,
    /// The alert's severity.
    pub severity: Severity,
    /// `pending`, `firing` or `resolved`.
    pub transition: &'static str,
    /// Burn rate over the long window at that moment.
    pub burn_rate: f64,
}

/// Live state of one SLO.
#[derive(Debug, Clone)]
pub struct SloState {
    pub(crate) slo: Slo,
    windows: [Window; WINDOW_COUNT],
    alerts: Vec<AlertState>,
    acks: Vec<Option<Acknowledgement>>,
    history: VecDeque<AlertEvent>,
    budget_history: VecDeque<BudgetPoint>,
    last_ms: Option<u64>,
}

/// A window's view in a report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WindowReport {
    /// Window length in seconds.
    pub window_seconds: u64,
    /// Good events.
    pub good: u64,
    /// All events.
    pub total: u64,
    /// `bad / total` (`None` without traffic).
    pub error_ratio: Option<f64>,
    /// Error ratio divided by the error budget ratio.
    pub burn_rate: Option<f64>,
}

/// The error budget over the SLO period, traffic-weighted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Budget {
    /// Share of the period's budget left (1 = untouched, below 0 = overspent).
    pub remaining: f64,
    /// Burn rate over the last hour (1 = spending exactly the budget).
    pub burn_rate_1h: f64,
    /// At the last hour's bad-event rate, seconds until the budget is gone (`None` if not
    /// burning or already gone).
    pub exhaustion_seconds: Option<f64>,
}

/// One alert rule's status in a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertReport {
    /// Severity.
    pub severity: Severity,
    /// Long window, seconds.
    pub long_seconds: u64,
    /// Short window, seconds.
    pub short_seconds: u64,
    /// The burn-rate threshold.
    pub factor: f64,
    /// Lifecycle state.
    #[serde(flatten)]
    pub state: AlertState,
    /// The operator's acknowledgement, while the alert is active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Acknowledgement>,
}

impl SloState {
    /// Fresh state for a validated SLO.
    pub fn new(slo: Slo) -> SloState {
        let mut lengths = WINDOWS.to_vec();
        lengths.push(slo.period);
        let windows = std::array::from_fn(|i| Window::new(lengths[i]));
        let alerts = vec![AlertState::Inactive; slo.burn_rates.len()];
        let acks = vec![None; slo.burn_rates.len()];
        SloState {
            slo,
            windows,
            alerts,
            acks,
            history: VecDeque::new(),
            budget_history: VecDeque::new(),
            last_ms: None,
        }
    }

    pub(crate) fn last_ms(&self) -> Option<u64> {
        self.last_ms
    }

    /// The SLO.
    pub fn slo(&self) -> &Slo {
        &self.slo
    }

    fn window_index(&self, length: Duration) -> usize {
        self.windows
            .iter()
            .position(|w| w.length() == length)
            .unwrap_or(WINDOW_COUNT - 1)
    }

    /// Counts inside the window of `length` (one of [`WINDOWS`] or the period).
    pub fn counts(&mut self, length: Duration, now_ms: u64) -> Counts {
        let i = self.window_index(length);
        self.windows[i].counts(now_ms)
    }

    fn burn_rate(&mut self, length: Duration, now_ms: u64) -> Option<f64> {
        let budget = self.slo.error_budget_ratio();
        self.counts(length, now_ms)
            .error_ratio()
            .map(|r| r / budget)
    }

    /// Adds the counts observed since the last call, re-evaluates the alerts, and returns the
    /// alert transitions this caused.
    pub fn observe(&mut self, now_ms: u64, delta: Counts) -> Vec<AlertEvent> {
        for window in &mut self.windows {
            window.add(now_ms, delta);
        }
        self.last_ms = Some(now_ms);
        self.sample_budget(now_ms);
        self.evaluate(now_ms)
    }

    /// Adds a point to the budget history when the last one is a step old.
    fn sample_budget(&mut self, now_ms: u64) {
        let step = (self.slo.period.as_millis() as u64 / BUDGET_POINTS as u64).max(1);
        let due = self
            .budget_history
            .back()
            .is_none_or(|last| now_ms >= last.at_ms + step);
        if !due {
            return;
        }
        let remaining = self.budget(now_ms).remaining;
        if self.budget_history.len() == BUDGET_POINTS {
            self.budget_history.pop_front();
        }
        self.budget_history.push_back(BudgetPoint {
            at_ms: now_ms,
            remaining,
        });
    }

    /// The budget left over time, oldest first: a point every `period / BUDGET_POINTS`, at
    /// most [`BUDGET_POINTS`].
    pub fn budget_history(&self) -> impl Iterator<Item = &BudgetPoint> {
        self.budget_history.iter()
    }

    fn evaluate(&mut self, now_ms: u64) -> Vec<AlertEvent> {
        let mut events = Vec::new();
        for i in 0..self.alerts.len() {
            let rule = self.slo.burn_rates[i];
            let factor = rule.factor(self.slo.period);
            let long = self.counts(rule.long, now_ms);
            let long_burn = long
                .error_ratio()
                .map_or(0.0, |r| r / self.slo.error_budget_ratio());
            let short_burn = self.burn_rate(rule.short, now_ms).unwrap_or(0.0);
            let holds =
                long.total >= self.slo.min_events && long_burn >= factor && short_burn >= factor;
            let for_ms = rule.for_.as_millis() as u64;
            let (next, transition) = match (self.alerts[i], holds) {
                (AlertState::Inactive, true) if for_ms == 0 => {
                    (AlertState::Firing(now_ms), Some("firing"))
                }
                (AlertState::Inactive, true) => (AlertState::Pending(now_ms), Some("pending")),
                (AlertState::Pending(since), true) if now_ms.saturating_sub(since) >= for_ms => {
                    (AlertState::Firing(now_ms), Some("firing"))
                }
                (AlertState::Pending(_) | AlertState::Firing(_), false) => {
                    (AlertState::Inactive, Some("resolved"))
                }
                (state, _) => (state, None),
            };
            self.alerts[i] = next;
            if next == AlertState::Inactive {
                self.acks[i] = None;
            }
            if let Some(transition) = transition {
                if self.history.len() == HISTORY {
                    self.history.pop_front();
                }
                let event = AlertEvent {
                    at_ms: now_ms,
                    severity: rule.severity,
                    transition,
                    burn_rate: long_burn,
                };
                self.history.push_back(event);
                events.push(event);
            }
        }
        events
    }

    /// The alert states, in the order of the SLO's burn-rate table.
    pub fn alerts(&self) -> &[AlertState] {
        &self.alerts
    }

    /// Past transitions, oldest first (at most [`HISTORY`]).
    pub fn history(&self) -> impl Iterator<Item = &AlertEvent> {
        self.history.iter()
    }

    /// Severities whose alerts are firing.
    pub fn firing(&self) -> impl Iterator<Item = Severity> + '_ {
        self.alerts
            .iter()
            .zip(self.slo.burn_rates)
            .filter(|(a, _)| matches!(a, AlertState::Firing(_)))
            .map(|(_, r)| r.severity)
    }

    /// The error budget at `now_ms`.
    pub fn budget(&mut self, now_ms: u64) -> Budget {
        let ratio = self.slo.error_budget_ratio();
        let period = self.counts(self.slo.period, now_ms);
        let allowed = period.total as f64 * ratio;
        let remaining = if period.total == 0 {
            1.0
        } else {
            1.0 - period.bad() as f64 / allowed
        };
        let hour = self.counts(Duration::from_secs(3600), now_ms);
        let burn_rate_1h = hour.error_ratio().map_or(0.0, |r| r / ratio);
        let bad_per_second = hour.bad() as f64 / 3600.0;
        let left = allowed - period.bad() as f64;
        let exhaustion_seconds =
            (bad_per_second > 0.0 && left > 0.0).then(|| left / bad_per_second);
        Budget {
            remaining,
            burn_rate_1h,
            exhaustion_seconds,
        }
    }

    /// Every window's counts and burn rate at `now_ms`.
    pub fn windows(&mut self, now_ms: u64) -> Vec<WindowReport> {
        let ratio = self.slo.error_budget_ratio();
        (0..WINDOW_COUNT)
            .map(|i| {
                let counts = self.windows[i].counts(now_ms);
                let error_ratio = counts.error_ratio();
                WindowReport {
                    window_seconds: self.windows[i].length().as_secs(),
                    good: counts.good,
                    total: counts.total,
                    error_ratio,
                    burn_rate: error_ratio.map(|r| r / ratio),
                }
            })
            .collect()
    }

    /// Each alert rule with its state.
    pub fn alert_reports(&self) -> Vec<AlertReport> {
        self.slo
            .burn_rates
            .iter()
            .zip(&self.alerts)
            .zip(&self.acks)
            .map(|((rule, state), ack)| AlertReport {
                severity: rule.severity,
                long_seconds: rule.long.as_secs(),
                short_seconds: rule.short.as_secs(),
                factor: rule.factor(self.slo.period),
                state: *state,
                acknowledged: ack.clone(),
            })
            .collect()
    }

    /// Acknowledges the firing or pending alert of `severity` (`critical`, `high`, `medium` or
    /// `low`) until it resolves; acknowledging it again replaces the acknowledgement.
    pub fn acknowledge(
        &mut self,
        severity: &str,
        now_ms: u64,
        by: &str,
        note: &str,
    ) -> Result<AlertReport, AckError> {
        let unknown = || AckError::UnknownAlert {
            slo: self.slo.id.to_owned(),
            severity: severity.to_owned(),
        };
        let i = self
            .slo
            .burn_rates
            .iter()
            .position(|r| r.severity.as_str() == severity)
            .ok_or_else(unknown)?;
        if self.alerts[i] == AlertState::Inactive {
            return Err(AckError::NotActive {
                slo: self.slo.id.to_owned(),
                severity: self.slo.burn_rates[i].severity.as_str(),
            });
        }
        self.acks[i] = Some(Acknowledgement {
            at_ms: now_ms,
            by: by.to_owned(),
            note: note.to_owned(),
        });
        Ok(self.alert_reports().swap_remove(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::model::{CqrsSlos, Severity};

    const SECOND: u64 = 1000;
    const HOUR: u64 = 3600 * SECOND;

    /// Steady traffic of `rate` events per second; from `outage_at` on, `error_share` of them
    /// fail. Returns the time from the start of the outage until `severity` first fires.
    fn detection(error_share: f64, severity: Severity, horizon: u64) -> Option<f64> {
        let mut state = SloState::new(CqrsSlos::command_availability());
        let rate = 100u64;
        let start = 80 * HOUR; // three days of good traffic fill every window but the period
        let mut bad_acc = 0.0;
        let mut t = 0;
        while t < start + horizon {
            let mut bad = 0;
            if t >= start {
                bad_acc += rate as f64 * error_share;
                bad = bad_acc as u64;
                bad_acc -= bad as f64;
            }
            state.observe(
                t,
                Counts {
                    good: rate - bad,
                    total: rate,
                },
            );
            if state.firing().any(|s| s == severity) {
                return Some((t - start) as f64 / 1000.0);
            }
            t += SECOND;
        }
        None
    }

    #[test]
    fn full_outage_pages_after_about_52_seconds() {
        let seconds = detection(1.0, Severity::Critical, 120 * SECOND).unwrap();
        assert!((50.0..=54.0).contains(&seconds), "{seconds}");
    }

    #[test]
    fn ten_percent_errors_page_after_about_8_6_minutes() {
        let seconds = detection(0.10, Severity::Critical, 20 * 60 * SECOND).unwrap();
        assert!((500.0..=530.0).contains(&seconds), "{seconds}");
    }

    #[test]
    fn one_percent_errors_never_page_fast_but_page_at_6x_after_about_3_6_hours() {
        assert_eq!(detection(0.01, Severity::Critical, 6 * HOUR), None);
        let seconds = detection(0.01, Severity::High, 5 * HOUR).unwrap();
        assert!(
            (3.5 * 3600.0..=3.7 * 3600.0).contains(&seconds),
            "{seconds}"
        );
    }

    #[test]
    fn errors_within_budget_fire_nothing() {
        for severity in [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
        ] {
            assert_eq!(detection(0.0005, severity, 4 * HOUR), None, "{severity:?}");
        }
    }

    #[test]
    fn budget_history_keeps_a_point_per_step_for_one_period() {
        let mut slo = CqrsSlos::command_availability();
        slo.period = Duration::from_secs(7_200); // 2 h: a point every 10 s
        let mut state = SloState::new(slo);
        let bad_from = 3_600;
        for s in 0..3 * 7_200u64 {
            let good = if (bad_from..bad_from + 60).contains(&s) {
                90
            } else {
                100
            };
            state.observe(s * SECOND, Counts { good, total: 100 });
        }
        let points: Vec<BudgetPoint> = state.budget_history().copied().collect();
        assert_eq!(points.len(), BUDGET_POINTS, "bounded");
        assert!(points
            .windows(2)
            .all(|w| w[1].at_ms - w[0].at_ms == 10 * SECOND));
        assert_eq!(points.last().unwrap().at_ms, (3 * 7_200 - 10) * SECOND);
        // The last period saw no errors: the budget is whole again at the end.
        assert_eq!(points.last().unwrap().remaining, 1.0);
    }

    #[test]
    fn budget_and_alert_lifecycle() {
        let mut state = SloState::new(CqrsSlos::command_availability());
        for s in 0..3600 {
            state.observe(
                s * SECOND,
                Counts {
                    good: 100,
                    total: 100,
                },
            );
        }
        let budget = state.budget(3600 * SECOND);
        assert_eq!(budget.remaining, 1.0);
        assert_eq!(budget.exhaustion_seconds, None);
        // Two minutes of total failure: the page fires, then resolves once traffic is good.
        for s in 3600..3720 {
            state.observe(
                s * SECOND,
                Counts {
                    good: 0,
                    total: 100,
                },
            );
        }
        assert!(state.firing().any(|s| s == Severity::Critical));
        let budget = state.budget(3720 * SECOND);
        // 12,000 bad of 372,000 events against a 0.1 % budget: overspent.
        assert!(budget.remaining < 0.0, "{budget:?}");
        for s in 3720..4400 {
            state.observe(
                s * SECOND,
                Counts {
                    good: 100,
                    total: 100,
                },
            );
        }
        assert!(!state.firing().any(|s| s == Severity::Critical));
        let transitions: Vec<_> = state
            .history()
            .filter(|e| e.severity == Severity::Critical)
            .map(|e| e.transition)
            .collect();
        assert_eq!(transitions, ["firing", "resolved"]);
    }

    #[test]
    fn an_acknowledgement_lasts_while_the_alert_is_active() {
        let mut state = SloState::new(CqrsSlos::command_availability());
        let traffic = |good| Counts { good, total: 100 };
        for s in 0..3600 {
            state.observe(s * SECOND, traffic(100));
        }
        assert!(matches!(
            state.acknowledge("critical", 3600 * SECOND, "ana", ""),
            Err(AckError::NotActive { .. })
        ));
        assert!(matches!(
            state.acknowledge("urgent", 3600 * SECOND, "ana", ""),
            Err(AckError::UnknownAlert { .. })
        ));
        for s in 3600..3720 {
            state.observe(s * SECOND, traffic(0));
        }
        let alert = state
            .acknowledge("critical", 3720 * SECOND, "ana", "rolling back")
            .unwrap();
        assert_eq!(alert.severity, Severity::Critical);
        let ack = Acknowledgement {
            at_ms: 3720 * SECOND,
            by: "ana".into(),
            note: "rolling back".into(),
        };
        assert_eq!(alert.acknowledged.as_ref(), Some(&ack));
        let critical = |state: &SloState| {
            state
                .alert_reports()
                .into_iter()
                .find(|a| a.severity == Severity::Critical)
                .unwrap()
        };
        // Still burning: still acknowledged.
        state.observe(3720 * SECOND, traffic(0));
        assert_eq!(critical(&state).acknowledged, Some(ack));
        // Resolved: the acknowledgement goes with it, and the next firing starts unacknowledged.
        for s in 3721..4400 {
            state.observe(s * SECOND, traffic(100));
        }
        assert_eq!(critical(&state).state, AlertState::Inactive);
        assert_eq!(critical(&state).acknowledged, None);
    }
}
