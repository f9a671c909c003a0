//! What happens when an SLO burns: notify (a callback, a webhook), throttle (an admission
//! gate the application asks before accepting work), block deployments (`/slo/deploy-gate`).
//!
//! A [`Policy`] applies to alerts at or above its severity. Without any policy set, the default
//! is to block deployments while a `high` or `critical` alert fires.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use serde::Serialize;

use super::model::{Severity, Slo};
use super::state::AlertEvent;

/// A callback run on every alert transition a policy matches.
pub type Callback = Arc<dyn Fn(&Slo, &AlertEvent) + Send + Sync>;

/// One thing to do when an alert matches.
#[derive(Clone)]
#[non_exhaustive]
pub enum Action {
    /// Call a function on each transition (pending, firing, resolved).
    Notify(Callback),
    /// POST the transition as JSON to an `http://` URL, retried with backoff.
    Webhook(WebhookUrl),
    /// While the alert fires, admit only this share (0..=1) of the work asked through
    /// [`gate`].
    Throttle(f64),
    /// While the alert fires, `/slo/deploy-gate` answers 423.
    BlockDeployments,
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Notify(_) => f.write_str("Notify(..)"),
            Action::Webhook(url) => write!(f, "Webhook({url:?})"),
            Action::Throttle(share) => write!(f, "Throttle({share})"),
            Action::BlockDeployments => f.write_str("BlockDeployments"),
        }
    }
}

/// Actions for alerts at or above a severity.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The least severe alert the policy applies to.
    pub severity: Severity,
    /// What to do.
    pub actions: Vec<Action>,
}

/// A webhook address: `http://host:port/path` (plain HTTP; put a proxy in front for TLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    host: String,
    port: u16,
    path: String,
}

/// Why a webhook URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid webhook URL `{0}`: expected http://host[:port]/path")]
pub struct WebhookUrlError(String);

impl std::str::FromStr for WebhookUrl {
    type Err = WebhookUrlError;

    /// ```
    /// let url: cqrs_obs::slo::WebhookUrl = "http://127.0.0.1:8080/hooks/slo".parse().unwrap();
    /// assert!("https://example.com/".parse::<cqrs_obs::slo::WebhookUrl>().is_err());
    /// ```
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || WebhookUrlError(text.to_owned());
        let rest = text.strip_prefix("http://").ok_or_else(err)?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, port.parse::<u16>().map_err(|_| err())?),
            None => (authority, 80),
        };
        let host_ok = !host.is_empty()
            && host.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':')
            });
        let path_ok = path.bytes().all(|b| b.is_ascii_graphic());
        if !host_ok || !path_ok {
            return Err(err());
        }
        let path = if path.is_empty() {
            "/".to_owned()
        } else {
            path.to_owned()
        };
        Ok(WebhookUrl {
            host: host.to_owned(),
            port,
            path,
        })
    }
}

fn policies() -> &'static RwLock<Vec<Policy>> {
    static POLICIES: OnceLock<RwLock<Vec<Policy>>> = OnceLock::new();
    POLICIES.get_or_init(|| {
        RwLock::new(vec![Policy {
            severity: Severity::High,
            actions: vec![Action::BlockDeployments],
        }])
    })
}

/// Replaces the policies (the default blocks deployments on `high` and `critical` alerts).
pub fn set_policies(new: Vec<Policy>) {
    *policies().write().unwrap_or_else(|p| p.into_inner()) = new;
}

fn matching(severity: Severity) -> Vec<Action> {
    let policies = policies().read().unwrap_or_else(|p| p.into_inner());
    policies
        .iter()
        .filter(|p| severity >= p.severity)
        .flat_map(|p| p.actions.clone())
        .collect()
}

/// The admission gate of one SLO: cheap enough to ask on every request.
#[derive(Debug)]
pub struct Gate {
    /// Admitted share in thousandths (1000 = all).
    permille: AtomicU64,
    asked: AtomicU64,
}

impl Gate {
    /// Whether to accept one more unit of work. While a throttle policy holds, admits the
    /// configured share, spread evenly.
    pub fn admit(&self) -> bool {
        let permille = self.permille.load(Relaxed);
        permille >= 1000 || self.asked.fetch_add(1, Relaxed) % 1000 < permille
    }

    /// The share currently admitted (1 = everything).
    pub fn admitted_share(&self) -> f64 {
        self.permille.load(Relaxed) as f64 / 1000.0
    }
}

fn gates() -> &'static RwLock<HashMap<String, Arc<Gate>>> {
    static GATES: OnceLock<RwLock<HashMap<String, Arc<Gate>>>> = OnceLock::new();
    GATES.get_or_init(Default::default)
}

/// The admission gate of the SLO `id` (created open if the SLO has none yet). Keep the `Arc`
/// and call [`Gate::admit`] before accepting work.
///
/// ```
/// let gate = cqrs_obs::slo::gate("command-availability");
/// assert!(gate.admit(), "open while nothing burns");
/// ```
pub fn gate(id: &str) -> Arc<Gate> {
    if let Some(gate) = gates().read().unwrap_or_else(|p| p.into_inner()).get(id) {
        return gate.clone();
    }
    let mut gates = gates().write().unwrap_or_else(|p| p.into_inner());
    gates
        .entry(id.to_owned())
        .or_insert_with(|| {
            Arc::new(Gate {
                permille: AtomicU64::new(1000),
                asked: AtomicU64::new(0),
            })
        })
        .clone()
}

/// Sets an SLO's gate from the severities firing now.
pub(crate) fn update_gate(slo: &Slo, firing: &[Severity]) {
    let share = firing
        .iter()
        .flat_map(|s| matching(*s))
        .filter_map(|a| match a {
            Action::Throttle(share) => Some(share.clamp(0.0, 1.0)),
            _ => None,
        })
        .fold(1.0f64, f64::min);
    gate(slo.id)
        .permille
        .store((share * 1000.0).round() as u64, Relaxed);
}

/// Whether firing alerts of these severities block deployments.
pub(crate) fn blocks_deployments(severity: Severity) -> bool {
    matching(severity)
        .iter()
        .any(|a| matches!(a, Action::BlockDeployments))
}

/// The JSON a webhook receives.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookBody<'a> {
    /// SLO id.
    pub slo_id: &'a str,
    /// SLO name.
    pub slo_name: &'a str,
    /// The transition.
    #[serde(flatten)]
    pub event: &'a AlertEvent,
}

/// Runs the notify and webhook actions for new transitions.
pub(crate) fn dispatch(slo: &Slo, events: &[AlertEvent]) {
    for event in events {
        for action in matching(event.severity) {
            match action {
                Action::Notify(callback) => callback(slo, event),
                Action::Webhook(url) => {
                    let body = WebhookBody {
                        slo_id: slo.id,
                        slo_name: slo.name,
                        event,
                    };
                    if let Ok(json) = serde_json::to_vec(&body) {
                        sender().lock().map(|s| s.send((url, json))).ok();
                    }
                }
                Action::Throttle(_) | Action::BlockDeployments => {}
            }
        }
    }
}

/// Webhook deliveries run on a thread of their own so that a slow receiver never delays the
/// evaluation.
type Delivery = (WebhookUrl, Vec<u8>);

fn sender() -> &'static Mutex<Sender<Delivery>> {
    static SENDER: OnceLock<Mutex<Sender<Delivery>>> = OnceLock::new();
    SENDER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Delivery>();
        let _ = std::thread::Builder::new()
            .name("cqrs-obs-slo-webhook".into())
            .spawn(move || {
                for (url, body) in rx {
                    deliver(&url, &body);
                }
            });
        Mutex::new(tx)
    })
}

/// Attempts and backoff of one delivery.
const ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

fn deliver(url: &WebhookUrl, body: &[u8]) -> bool {
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        if post(url, body).is_ok() {
            return true;
        }
        if attempt < ATTEMPTS {
            std::thread::sleep(backoff);
            backoff *= 4;
        }
    }
    ::metrics::counter!(crate::metrics::names::OBS_EXPORT_ERRORS_TOTAL, crate::metrics::names::label::SIGNAL => "slo_webhook")
        .increment(1);
    false
}

fn post(url: &WebhookUrl, body: &[u8]) -> std::io::Result<()> {
    let addr = (url.host.as_str(), url.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        url.path,
        url.host,
        url.port,
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut status = [0u8; 12];
    stream.read_exact(&mut status)?;
    // "HTTP/1.1 2xx"
    if status.starts_with(b"HTTP/1.") && status[9] == b'2' {
        Ok(())
    } else {
        Err(std::io::Error::other("non-2xx answer"))
    }
}

/// The answer of `/slo/deploy-gate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployDecision {
    /// Whether a deployment may go ahead.
    pub allowed: bool,
    /// Why not: one line per firing alert that blocks deployments.
    pub reasons: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls() {
        let url: WebhookUrl = "http://localhost:9000/x?y=1".parse().unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.path.as_str()),
            ("localhost", 9000, "/x?y=1")
        );
        let url: WebhookUrl = "http://h".parse().unwrap();
        assert_eq!((url.port, url.path.as_str()), (80, "/"));
        for bad in [
            "ftp://h/",
            "http://",
            "http://h:99999/",
            "http://h/a b",
            "http://h\r\n/",
        ] {
            assert!(bad.parse::<WebhookUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn gate_admits_the_configured_share() {
        let gate = Gate {
            permille: AtomicU64::new(250),
            asked: AtomicU64::new(0),
        };
        let admitted = (0..4000).filter(|_| gate.admit()).count();
        assert_eq!(admitted, 1000);
        gate.permille.store(1000, Relaxed);
        assert!((0..100).all(|_| gate.admit()));
    }
}
