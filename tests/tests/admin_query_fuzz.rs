//! Fuzzing the admin routes over real HTTP, with every module running (log capture and
//! store, SLOs, anomalies, dashboards): random query strings — known and unknown keys,
//! duplicates, empty and huge values, numbers out of range, malformed times and ids, invalid
//! UTF-8 and broken percent-escapes — and random path segments. No input makes a route panic
//! (the connection would close without an answer) or fail with 500; every refusal has the
//! error shape `{"error": {"code": .., "message": ..}}`; the endpoint still answers afterwards.
//!
//! The cases come from a seeded generator: `CQRS_OBS_FUZZ_SEED` and `CQRS_OBS_FUZZ_CASES`
//! (default 3000) reproduce or extend a run; a failure names its seed and request.

use std::net::SocketAddr;

use axum::http::Uri;
use cqrs_obs::{AdminAddr, Console};
use cqrs_obs_tests::bank::run_test_workload;
use cqrs_obs_tests::http::get;
use cqrs_obs_tests::peer::TempDir;
use tracing_subscriber::layer::SubscriberExt;

/// xorshift64*: small, seeded, good enough to pick cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// The query keys the routes know, and some they do not.
const KEYS: &[&str] = &[
    "level",
    "service",
    "target",
    "since",
    "until",
    "trace_id",
    "correlation_id",
    "aggregate_id",
    "event_type",
    "q",
    "limit",
    "cursor",
    "severity",
    "metric",
    "window",
    "format",
    "x",
    "",
    "LEVEL",
    "limit[]",
];

/// Values that sit on the edges of what the parsers accept.
const VALUES: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "1000",
    "1001",
    "100000",
    "18446744073709551616",
    "1e309",
    "NaN",
    "0x10",
    "1h",
    "0s",
    "15m",
    "9999999999d",
    "99999999999999999999s",
    "2026-11-27T06:00:00Z",
    "2026-11-27T06:00:00.123456789+01:00",
    "2026-13-45T99:99:99Z",
    "1970-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "error",
    "WARN",
    "trace",
    "critical",
    "low",
    "4bf92f3577b34da6a3ce929d0e0e4736",
    "00000000000000000000000000000000",
    "4BF92F3577B34DA6A3CE929D0E0E4736",
    "command.latency/deposit",
    "AAAAAAAAAAAAAAAAAAAAAAAA",
    "true",
    "false",
];

/// Raw pieces spliced into a query string as they are (escapes left broken on purpose).
const RAW: &[&str] = &[
    "%", "%z", "%zz", "%ff%fe", "%00", "%C3%28", "+", "&&", "=", "==", ";", "%2F",
];

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn random_bytes(rng: &mut Rng, max: usize) -> Vec<u8> {
    let n = rng.below(max + 1);
    (0..n).map(|_| rng.next() as u8).collect()
}

fn value(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => encode(&random_bytes(rng, 40)),
        1 => rng.pick(RAW).to_owned(),
        2 => encode(rng.pick(VALUES).repeat(200).as_bytes()),
        3 => format!("{}{}", encode(rng.pick(VALUES).as_bytes()), rng.pick(RAW)),
        _ => encode(rng.pick(VALUES).as_bytes()),
    }
}

fn query(rng: &mut Rng) -> String {
    let pairs = rng.below(6);
    let mut parts = Vec::with_capacity(pairs);
    for _ in 0..pairs {
        let key = if rng.below(10) == 0 {
            encode(&random_bytes(rng, 12))
        } else {
            encode(rng.pick(KEYS).as_bytes())
        };
        parts.push(match rng.below(10) {
            0 => key,
            1 => rng.pick(RAW).to_owned(),
            _ => format!("{key}={}", value(rng)),
        });
    }
    parts.join("&")
}

fn segment(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => encode(&random_bytes(rng, 48)),
        1 => encode(rng.pick(VALUES).as_bytes()),
        2 => rng
            .pick(&[
                "production",
                "minimal",
                "development",
                "liveness",
                "readiness",
                "deposit-latency",
                "overview",
                "slos",
            ])
            .to_owned(),
        _ => rng.pick(RAW).replace(['&', '=', ';', '+'], "%20"),
    }
}

/// A route of the admin router with its path parameters filled in.
fn path(rng: &mut Rng) -> String {
    match rng.below(19) {
        0 => "/logs".to_owned(),
        1 => "/logs/stats".to_owned(),
        2 => "/anomalies".to_owned(),
        3 => "/anomalies/series".to_owned(),
        4 => "/health".to_owned(),
        5 => format!("/health/{}", segment(rng)),
        6 => "/slo".to_owned(),
        7 => format!("/slo/{}", segment(rng)),
        8 => "/slo/rules".to_owned(),
        9 => "/slo/deploy-gate".to_owned(),
        10 => format!("/traces/{}", segment(rng)),
        11 => format!("/dashboards/{}", segment(rng)),
        12 => format!("/dashboards/{}/{}", segment(rng), segment(rng)),
        13 => "/handlers".to_owned(),
        14 => "/metrics".to_owned(),
        15 => "/sampling".to_owned(),
        16 => "/livez".to_owned(),
        17 => "/readyz".to_owned(),
        _ => format!("/{}", segment(rng)),
    }
}

fn is_health(path: &str) -> bool {
    path.starts_with("/health") || path == "/livez" || path == "/readyz"
}

/// Sends one case and checks the answer; `Err` says what is wrong.
fn check(addr: SocketAddr, target: &str) -> Result<(), String> {
    let response = get(addr, target).map_err(|e| format!("no answer (a panic?): {e}"))?;
    let path = target.split('?').next().unwrap_or(target);
    let status = response.status;
    if status >= 500 && !(status == 503 && is_health(path)) {
        return Err(format!("{status}: {}", response.body));
    }
    let probe = path == "/livez" || path == "/readyz";
    // The deploy gate answers 423 Locked with its decision, not an error.
    let decision = path == "/slo/deploy-gate" && status == 423;
    if status >= 400 && status != 503 && !probe && !decision {
        let body = response.json()?;
        let shaped = body["error"]["code"].is_string() && body["error"]["message"].is_string();
        if !shaped {
            return Err(format!(
                "{status} outside the error shape: {}",
                response.body
            ));
        }
    }
    Ok(())
}

#[test]
fn no_query_string_or_path_segment_makes_a_route_panic() {
    let dir = TempDir::new("cqrs-obs-admin-fuzz");
    let guard = cqrs_obs::builder()
        .service_name("bank-fuzz")
        .admin_addr(AdminAddr::Listen("127.0.0.1:0".parse().unwrap()))
        .admin_rate_limit(None)
        .console(Console::Off)
        .log_store(dir.path())
        .ignore_env()
        .try_init()
        .expect("cqrs-obs initialises");
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(cqrs_obs::logs::layer()),
    )
    .unwrap();
    cqrs_obs_examples::objectives::register_objectives();
    let addr = guard.admin_addr().unwrap();
    run_test_workload(400);
    guard.flush();
    // The routes answer for real: the log store, SLOs and dashboards are there.
    for (target, status) in [
        ("/logs?limit=1", 200),
        ("/logs/stats", 200),
        ("/slo/deposit-latency", 200),
        ("/dashboards/production/overview", 200),
        ("/logs?limit=0", 400),
    ] {
        let response = get(addr, target).unwrap();
        assert_eq!(response.status, status, "{target}: {}", response.body);
    }

    let seed = std::env::var("CQRS_OBS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x00c0_ffee_5eed_u64);
    let cases: usize = std::env::var("CQRS_OBS_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let mut rng = Rng(seed | 1);
    let (mut sent, mut with_query) = (0, 0);
    let mut failures = Vec::new();
    for _ in 0..cases {
        let path = path(&mut rng);
        let query = query(&mut rng);
        let target = if query.is_empty() && rng.below(2) == 0 {
            path
        } else {
            format!("{path}?{query}")
        };
        // Only what an HTTP client can send: a valid request target.
        if target.parse::<Uri>().is_err() {
            continue;
        }
        sent += 1;
        match check(addr, &target) {
            Ok(()) => {}
            Err(e) => {
                let shown: String = target.chars().take(300).collect();
                let e: String = e.chars().take(300).collect();
                failures.push(format!("GET {shown}: {e}"));
            }
        }
        if failures.len() >= 10 {
            break;
        }
        with_query += usize::from(target.contains('?'));
    }
    assert!(
        failures.is_empty(),
        "seed {seed:#x}, {} failing requests:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(sent >= cases * 9 / 10, "only {sent} of {cases} cases sent");
    assert!(
        with_query > cases / 2,
        "{with_query} cases with a query string"
    );
    // Still serving.
    assert_eq!(get(addr, "/livez").unwrap().status, 200);
    assert_eq!(get(addr, "/logs?limit=1").unwrap().status, 200);
    drop(guard);
}
