//! The bank's health checks: its event store (an append/read round trip on a probe stream),
//! the `balances` projection's freshness, memory, and optionally an external dependency
//! behind a circuit breaker.
//!
//! ```no_run
//! let _guard = cqrs_obs::init();
//! cqrs_obs_examples::health::register_checks(Some("http://127.0.0.1:8080/health"))
//!     .expect("health checks register once");
//! ```

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use cqrs_obs::health::indicator::{
    EventStore, EventStoreProbe, Freshness, HttpGet, Memory, ProbeFuture, ProjectionFreshness,
};
use cqrs_obs::health::{self, BreakerConfig, Check, CircuitBreaker, HealthError};

use crate::{AccountEvent, AccountId, Bank};

/// The stream the event store probe writes to.
pub const PROBE_STREAM: AccountId = AccountId(u64::MAX);

static BANK: Mutex<Option<Arc<Bank>>> = Mutex::new(None);
static FRESHNESS: OnceLock<Freshness> = OnceLock::new();

/// Makes `bank` the one the event store check probes (the latest one wins).
pub fn watch(bank: &Arc<Bank>) {
    *BANK.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(bank));
}

/// When the `balances` projection last applied an event.
pub fn balances_freshness() -> &'static Freshness {
    FRESHNESS.get_or_init(Freshness::new)
}

/// Appends a probe event to [`PROBE_STREAM`] and reads it back.
struct StoreProbe;

impl EventStoreProbe for StoreProbe {
    fn round_trip(&self) -> ProbeFuture<'_> {
        Box::pin(async {
            let bank = BANK
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
                .ok_or("no bank is running")?;
            let store = bank.store();
            let (_, version) = store.load(PROBE_STREAM)?;
            let owner = "health-probe".to_owned();
            store.append(PROBE_STREAM, version, vec![AccountEvent::Opened { owner }])?;
            let read = store.recent(PROBE_STREAM, 1)?;
            if read.version != version + 1 {
                return Err(format!("wrote version {}, read {}", version + 1, read.version).into());
            }
            Ok(())
        })
    }
}

/// Registers the bank's checks: `event-store` and `balances-freshness` (readiness),
/// `memory` (liveness), and with `dependency_url` an `external-dependency` GET behind the
/// `external-dependency` circuit breaker, whose state is a readiness component too.
pub fn register_checks(dependency_url: Option<&str>) -> Result<(), HealthError> {
    let every = Duration::from_secs(5);
    health::register(
        Check::indicator("event-store", EventStore::new(StoreProbe))
            .group("readiness")
            .interval(every),
    )?;
    let fresh = ProjectionFreshness::new(balances_freshness().clone(), Duration::from_secs(300));
    health::register(
        Check::indicator("balances-freshness", fresh)
            .group("readiness")
            .critical(false)
            .interval(every),
    )?;
    health::register(Check::indicator("memory", Memory::new(1 << 30)).group("liveness"))?;
    if let Some(url) = dependency_url {
        let breaker = CircuitBreaker::new(
            "external-dependency",
            BreakerConfig {
                sliding_window_size: 10,
                minimum_number_of_calls: 5,
                wait_duration_in_open_state: Duration::from_secs(30),
                ..BreakerConfig::default()
            },
        );
        let get = HttpGet::new(url)
            .timeout(Duration::from_secs(1))
            .breaker(breaker.clone());
        health::register(
            Check::indicator("external-dependency", get)
                .group("readiness")
                .interval(every),
        )?;
        health::register(breaker.check().group("readiness").interval(every))?;
    }
    Ok(())
}
