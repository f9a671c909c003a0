//! Head sampling, decided by cqrs-obs before any span is built.
//!
//! The decision for a new trace is made when its root context is created (a command handler
//! called outside any context, or an event handler that starts a new trace with a link). It
//! travels in the W3C `sampled` flag; under a parent-based sampler every descendant follows it.
//! An unsampled call therefore never reaches the OpenTelemetry SDK and stays allocation-free.
//!
//! The configured sampler lives in a few atomics read with relaxed loads on the hot path.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8};
use std::sync::OnceLock;
use std::time::Instant;

use crate::propagation::TraceId;

/// How the root of a new trace is sampled.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Root {
    /// Every new trace (`always_on`).
    AlwaysOn,
    /// No new trace (`always_off`).
    AlwaysOff,
    /// A fraction in `0.0..=1.0` of new traces, decided from the trace id (`traceidratio`), so
    /// every service that sees the trace id decides the same.
    Ratio(f64),
    /// At most this many new traces per second (`cqrs_obs_ratelimited`): a fixed one-second
    /// window, counted with one atomic add per root.
    PerSecond(u32),
    /// About this many new traces per second whatever the load (`cqrs_obs_adaptive`): a
    /// trace-id ratio whose probability the background tick sets every second to the target
    /// over the smoothed rate of new roots (one atomic add per root counts them). It starts
    /// at 1 and follows a change of load by more than 2x at the next tick; smaller changes
    /// are smoothed over a few ticks.
    Adaptive(u32),
}

/// A head sampler: how roots are sampled and whether children follow their parent.
///
/// ```
/// use cqrs_obs::trace::{Root, Sampler};
///
/// let sampler = Sampler::parse("parentbased_traceidratio", Some("0.25")).unwrap();
/// assert_eq!(sampler, Sampler::parent_based(Root::Ratio(0.25)));
/// assert!(Sampler::parse("sometimes", None).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampler {
    /// The decision for a new trace.
    pub root: Root,
    /// Whether a call inside a trace follows the parent's decision (`parentbased_*`).
    pub parent_based: bool,
}

/// The values `OTEL_TRACES_SAMPLER` accepts, for error messages.
pub const ACCEPTED: &str = "`always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, \
     `parentbased_always_off`, `parentbased_traceidratio`, `cqrs_obs_ratelimited`, \
     `parentbased_cqrs_obs_ratelimited`, `cqrs_obs_adaptive` or `parentbased_cqrs_obs_adaptive`";

/// Why a sampler name or argument was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SamplerError {
    /// Not a sampler name.
    #[error("unknown sampler `{0}`: expected {ACCEPTED}")]
    Name(String),
    /// The argument does not fit the sampler.
    #[error("invalid argument `{value}` for sampler `{sampler}`: expected {expected}")]
    Arg {
        /// The sampler name.
        sampler: String,
        /// The argument.
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },
}

/// The default: `parentbased_always_on`, as in the OpenTelemetry specification.
impl Default for Sampler {
    fn default() -> Self {
        Sampler::parent_based(Root::AlwaysOn)
    }
}

impl Sampler {
    /// A parent-based sampler with the given root decision.
    pub const fn parent_based(root: Root) -> Sampler {
        Sampler {
            root,
            parent_based: true,
        }
    }

    /// A sampler that decides every call on its own (children do not follow parents).
    pub const fn independent(root: Root) -> Sampler {
        Sampler {
            root,
            parent_based: false,
        }
    }

    /// Parses `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` (names are case-insensitive).
    /// The ratio argument defaults to `1.0`, the rate limit to `100` per second.
    pub fn parse(name: &str, arg: Option<&str>) -> Result<Sampler, SamplerError> {
        let lower = name.trim().to_ascii_lowercase();
        let (parent_based, root) = match lower.strip_prefix("parentbased_") {
            Some(root) => (true, root),
            None => (false, lower.as_str()),
        };
        let arg = arg.map(str::trim).filter(|a| !a.is_empty());
        let bad = |expected| SamplerError::Arg {
            sampler: lower.clone(),
            value: arg.unwrap_or_default().to_owned(),
            expected,
        };
        let root = match root {
            "always_on" => Root::AlwaysOn,
            "always_off" => Root::AlwaysOff,
            "traceidratio" => match arg.map(str::parse::<f64>) {
                None => Root::Ratio(1.0),
                Some(Ok(p)) if (0.0..=1.0).contains(&p) => Root::Ratio(p),
                Some(_) => return Err(bad("a probability between 0 and 1, such as `0.1`")),
            },
            "cqrs_obs_ratelimited" => match arg.map(str::parse::<u32>) {
                None => Root::PerSecond(100),
                Some(Ok(n)) => Root::PerSecond(n),
                Some(_) => return Err(bad("a whole number of traces per second, such as `100`")),
            },
            "cqrs_obs_adaptive" => match arg.map(str::parse::<u32>) {
                None => Root::Adaptive(100),
                Some(Ok(n)) if n > 0 => Root::Adaptive(n),
                Some(_) => {
                    return Err(bad("a positive number of traces per second, such as `100`"))
                }
            },
            _ => return Err(SamplerError::Name(name.to_owned())),
        };
        Ok(Sampler { root, parent_based })
    }
}

const ON: u8 = 0;
const OFF: u8 = 1;
const RATIO: u8 = 2;
const PER_SECOND: u8 = 3;
const ADAPTIVE: u8 = 4;

static ROOT: AtomicU8 = AtomicU8::new(ON);
static PARENT_BASED: AtomicBool = AtomicBool::new(true);
/// Ratio: sampled when the trace id's low 63 bits are below this. Rate limit: traces per second.
static ARG: AtomicU64 = AtomicU64::new(0);
/// Rate limit: the current one-second window and the roots counted in it.
static WINDOW: AtomicU64 = AtomicU64::new(0);
static IN_WINDOW: AtomicU64 = AtomicU64::new(0);

/// Installs `sampler` for every call from now on (what `init()` does with the configured one).
///
/// ```
/// use cqrs_obs::trace::{self, Root, Sampler};
/// trace::set_sampler(Sampler::parent_based(Root::AlwaysOff));
/// assert!(!cqrs_obs::context::Context::new_root().is_sampled());
/// trace::set_sampler(Sampler::default());
/// assert!(cqrs_obs::context::Context::new_root().is_sampled());
/// ```
pub fn set_sampler(sampler: Sampler) {
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = sampler;
    let (root, arg) = match sampler.root {
        Root::AlwaysOn => (ON, 0),
        Root::AlwaysOff => (OFF, 0),
        Root::Ratio(p) => (RATIO, ratio_threshold(p)),
        Root::PerSecond(n) => (PER_SECOND, u64::from(n)),
        Root::Adaptive(target) => {
            TARGET.store(u64::from(target), Relaxed);
            SEEN.store(0, Relaxed);
            SMOOTHED_RATE.store(0, Relaxed);
            (ADAPTIVE, u64::MAX)
        }
    };
    ARG.store(arg, Relaxed);
    PARENT_BASED.store(sampler.parent_based, Relaxed);
    ROOT.store(root, Relaxed);
}

/// The sampler last installed (see [`set_sampler`]).
static CURRENT: std::sync::Mutex<Sampler> =
    std::sync::Mutex::new(Sampler::parent_based(Root::AlwaysOn));

/// The sampler calls are sampled with now.
///
/// ```
/// use cqrs_obs::trace::{self, Root, Sampler};
/// trace::set_sampler(Sampler::independent(Root::Ratio(0.5)));
/// assert_eq!(trace::sampler().describe(), ("traceidratio".to_owned(), Some("0.5".to_owned())));
/// trace::set_sampler(Sampler::default());
/// ```
pub fn sampler() -> Sampler {
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sampler {
    /// The `OTEL_TRACES_SAMPLER` name and `OTEL_TRACES_SAMPLER_ARG` value that select this
    /// sampler ([`Sampler::parse`] reads them back).
    pub fn describe(&self) -> (String, Option<String>) {
        let (name, arg) = match self.root {
            Root::AlwaysOn => ("always_on", None),
            Root::AlwaysOff => ("always_off", None),
            Root::Ratio(p) => ("traceidratio", Some(p.to_string())),
            Root::PerSecond(n) => ("cqrs_obs_ratelimited", Some(n.to_string())),
            Root::Adaptive(n) => ("cqrs_obs_adaptive", Some(n.to_string())),
        };
        let name = if self.parent_based {
            format!("parentbased_{name}")
        } else {
            name.to_owned()
        };
        (name, arg)
    }
}

/// Adaptive: the target (traces per second), the roots seen since the last tick, and the
/// smoothed rate of roots (`f64` bits).
static TARGET: AtomicU64 = AtomicU64::new(0);
static SEEN: AtomicU64 = AtomicU64::new(0);
static SMOOTHED_RATE: AtomicU64 = AtomicU64::new(0);

/// Re-aims the adaptive sampler after `elapsed` (the background tick, once a second): the
/// probability becomes the target over the smoothed rate of new roots. A no-op for the
/// other samplers. Returns the probability now in force.
pub(crate) fn adapt(elapsed: std::time::Duration) -> Option<f64> {
    if ROOT.load(Relaxed) != ADAPTIVE || elapsed.is_zero() {
        return None;
    }
    let rate = SEEN.swap(0, Relaxed) as f64 / elapsed.as_secs_f64();
    let previous = f64::from_bits(SMOOTHED_RATE.load(Relaxed));
    // A change of load by more than 2x is followed at once; smaller ones are smoothed (half
    // the weight on the last second), so noise moves the probability by half as much.
    let jump = previous <= 0.0 || rate > 2.0 * previous || rate < 0.5 * previous;
    let smoothed = if jump {
        rate
    } else {
        0.5 * previous + 0.5 * rate
    };
    SMOOTHED_RATE.store(smoothed.to_bits(), Relaxed);
    let target = TARGET.load(Relaxed) as f64;
    let p = if smoothed <= target {
        1.0
    } else {
        target / smoothed
    };
    ARG.store(ratio_threshold(p), Relaxed);
    Some(p)
}

/// Error bias: a call whose trace was not sampled but whose handler failed (`error` or
/// `panic`) is exported anyway, as a span of its own.
static KEEP_ERRORS: AtomicBool = AtomicBool::new(false);

/// Turns the error bias on or off (`CQRS_OBS_TRACES_KEEP_ERRORS`, builder
/// `keep_error_traces`).
///
/// Head sampling decides before the handler runs, so the bias cannot bring back the spans of
/// a trace that were dropped: what it keeps is the failing handler's own span, built when the
/// call ends with the trace id, span id, start time and attributes the unsampled call carried
/// all along (costing nothing until a call fails). Spans the failing handler's callers and
/// callees made stay unsampled.
///
/// ```
/// cqrs_obs::trace::set_keep_errors(true);
/// assert!(cqrs_obs::trace::keeps_errors());
/// cqrs_obs::trace::set_keep_errors(false);
/// ```
pub fn set_keep_errors(keep: bool) {
    KEEP_ERRORS.store(keep, Relaxed);
}

/// Whether the error bias is on.
#[inline(always)]
pub fn keeps_errors() -> bool {
    KEEP_ERRORS.load(Relaxed)
}

fn ratio_threshold(p: f64) -> u64 {
    if p >= 1.0 {
        u64::MAX
    } else if p > 0.0 {
        (p * (1u64 << 63) as f64) as u64
    } else {
        0
    }
}

/// The 63 random bits of a trace id that ratio sampling compares (as OpenTelemetry does).
#[inline(always)]
fn trace_id_bits(trace_id: TraceId) -> u64 {
    let bytes = trace_id.to_bytes();
    let mut low = [0u8; 8];
    low.copy_from_slice(&bytes[8..]);
    u64::from_be_bytes(low) >> 1
}

/// The decision for a new trace.
#[inline(always)]
pub(crate) fn sample_root(trace_id: TraceId) -> bool {
    match ROOT.load(Relaxed) {
        ON => true,
        OFF => false,
        RATIO => trace_id_bits(trace_id) < ARG.load(Relaxed),
        ADAPTIVE => adaptive(trace_id),
        _ => rate_limited(),
    }
}

#[inline(always)]
fn adaptive(trace_id: TraceId) -> bool {
    SEEN.fetch_add(1, Relaxed);
    trace_id_bits(trace_id) < ARG.load(Relaxed)
}

/// The decision for a call inside a trace whose parent decided `parent_sampled`.
#[inline(always)]
pub(crate) fn sample_child(trace_id: TraceId, parent_sampled: bool) -> bool {
    if PARENT_BASED.load(Relaxed) {
        return parent_sampled;
    }
    match ROOT.load(Relaxed) {
        ON => true,
        OFF => false,
        RATIO | ADAPTIVE => trace_id_bits(trace_id) < ARG.load(Relaxed),
        // A rate limit counts new traces; a call inside a trace keeps its trace's decision.
        _ => parent_sampled,
    }
}

#[cold]
fn rate_limited() -> bool {
    static START: OnceLock<Instant> = OnceLock::new();
    let second = START.get_or_init(Instant::now).elapsed().as_secs() + 1;
    let window = WINDOW.load(Relaxed);
    if window != second
        && WINDOW
            .compare_exchange(window, second, Relaxed, Relaxed)
            .is_ok()
    {
        IN_WINDOW.store(0, Relaxed);
    }
    IN_WINDOW.fetch_add(1, Relaxed) < ARG.load(Relaxed)
}

#[cfg(test)]
pub(crate) fn test_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::LOCAL;

    fn roots(n: usize) -> usize {
        (0..n)
            .filter(|_| LOCAL.with(crate::trace::new_root_trace).is_sampled())
            .count()
    }

    #[test]
    fn parses_the_standard_names_and_rejects_others() {
        assert_eq!(
            Sampler::parse("always_on", None),
            Ok(Sampler::independent(Root::AlwaysOn))
        );
        assert_eq!(
            Sampler::parse("ALWAYS_OFF", None),
            Ok(Sampler::independent(Root::AlwaysOff))
        );
        assert_eq!(
            Sampler::parse("traceidratio", Some("0.5")),
            Ok(Sampler::independent(Root::Ratio(0.5)))
        );
        assert_eq!(
            Sampler::parse("traceidratio", None),
            Ok(Sampler::independent(Root::Ratio(1.0)))
        );
        assert_eq!(
            Sampler::parse("parentbased_always_on", None),
            Ok(Sampler::default())
        );
        assert_eq!(
            Sampler::parse("parentbased_always_off", None),
            Ok(Sampler::parent_based(Root::AlwaysOff))
        );
        assert_eq!(
            Sampler::parse("parentbased_traceidratio", Some(" 0.1 ")),
            Ok(Sampler::parent_based(Root::Ratio(0.1)))
        );
        assert_eq!(
            Sampler::parse("cqrs_obs_ratelimited", Some("5")),
            Ok(Sampler::independent(Root::PerSecond(5)))
        );
        assert!(matches!(
            Sampler::parse("jaeger_remote", None),
            Err(SamplerError::Name(_))
        ));
        assert!(matches!(
            Sampler::parse("traceidratio", Some("1.5")),
            Err(SamplerError::Arg { .. })
        ));
        assert!(matches!(
            Sampler::parse("traceidratio", Some("half")),
            Err(SamplerError::Arg { .. })
        ));
        assert!(matches!(
            Sampler::parse("cqrs_obs_ratelimited", Some("-1")),
            Err(SamplerError::Arg { .. })
        ));
    }

    #[test]
    fn ratio_samples_its_fraction_of_100k_roots() {
        let _lock = test_lock();
        for p in [0.1, 0.5, 0.01] {
            set_sampler(Sampler::parent_based(Root::Ratio(p)));
            let n = 100_000;
            let sampled = roots(n) as f64;
            let expected = p * n as f64;
            // Five standard deviations of a binomial count: a false failure is ~1 in 3.5 M.
            let tolerance = 5.0 * (n as f64 * p * (1.0 - p)).sqrt();
            assert!(
                (sampled - expected).abs() < tolerance,
                "p={p}: {sampled} sampled, expected {expected} ± {tolerance}"
            );
        }
        set_sampler(Sampler::default());
    }

    #[test]
    fn children_follow_parents_only_when_parent_based() {
        let _lock = test_lock();
        let id = TraceId::new([7; 16]).unwrap();
        set_sampler(Sampler::parent_based(Root::AlwaysOff));
        assert!(sample_child(id, true));
        assert!(!sample_root(id));
        set_sampler(Sampler::independent(Root::AlwaysOff));
        assert!(!sample_child(id, true));
        set_sampler(Sampler::independent(Root::Ratio(1.0)));
        assert!(sample_child(id, false));
        set_sampler(Sampler::default());
    }

    #[test]
    fn adaptive_holds_its_target_as_load_changes() {
        let _lock = test_lock();
        set_sampler(Sampler::parent_based(Root::Adaptive(200)));
        // Simulated seconds: 20 000 roots a second, then 2 000, then 50 (below the target).
        let mut sampled_per_second = Vec::new();
        for (second, load) in [20_000usize; 5]
            .into_iter()
            .chain([2_000; 5])
            .chain([50; 3])
            .enumerate()
        {
            sampled_per_second.push((second, load, roots(load)));
            adapt(std::time::Duration::from_secs(1));
        }
        set_sampler(Sampler::default());
        // Converged one tick after each change: within 25 % of the target (the binomial
        // noise at 200 is ~7 %, five standard deviations ~35).
        for &(second, load, sampled) in &sampled_per_second {
            let settled = matches!(second, 1..=4 | 6..=9);
            if settled {
                assert!(
                    (150..=250).contains(&sampled),
                    "second {second} at {load}/s: {sampled} sampled ({sampled_per_second:?})"
                );
            }
            if second >= 11 {
                assert_eq!(sampled, load, "below the target every root is sampled");
            }
        }
    }

    #[test]
    fn adaptive_parses_and_describes_itself() {
        let sampler = Sampler::parse("parentbased_cqrs_obs_adaptive", Some("50")).unwrap();
        assert_eq!(sampler, Sampler::parent_based(Root::Adaptive(50)));
        assert_eq!(
            sampler.describe(),
            (
                "parentbased_cqrs_obs_adaptive".to_owned(),
                Some("50".to_owned())
            )
        );
        assert!(Sampler::parse("cqrs_obs_adaptive", Some("0")).is_err());
    }

    #[test]
    fn rate_limit_is_never_exceeded_in_any_second() {
        let _lock = test_lock();
        set_sampler(Sampler::parent_based(Root::PerSecond(50)));
        let start = Instant::now();
        let mut per_second = std::collections::BTreeMap::<u64, usize>::new();
        while start.elapsed().as_millis() < 2_500 {
            let sampled = LOCAL.with(crate::trace::new_root_trace).is_sampled();
            // Windows are counted from the limiter's own start; attribute each decision to
            // the window the limiter used.
            if sampled {
                *per_second.entry(WINDOW.load(Relaxed)).or_default() += 1;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        set_sampler(Sampler::default());
        assert!(per_second.len() >= 2, "{per_second:?}");
        for (window, count) in &per_second {
            assert!(*count <= 50, "window {window}: {count} roots sampled");
        }
        assert!(
            per_second.values().any(|&c| c >= 25),
            "the limit is reached under load: {per_second:?}"
        );
    }
}
