//! Policies on a burning SLO, with simulated time: the callback and a real webhook receiver on
//! loopback see the transitions (the receiver fails the first delivery; it is retried), the
//! admission gate throttles to the configured share, and deployments are blocked until the
//! alert resolves.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cqrs_obs::slo::{
    self, Action, Counts, Engine, GoodOutcomes, Handlers, Policy, Severity, Sli, Slo,
};

struct TestClock(Arc<AtomicU64>);

impl slo::Clock for TestClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A loopback HTTP server that answers 503 to the first request and 200 after, keeping the
/// bodies it accepted.
fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/slo", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Read the head, then the body by Content-Length.
            while let Ok(read) = stream.read(&mut buf) {
                if read == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..read]);
                let text = String::from_utf8_lossy(&request);
                if let Some(end) = text.find("\r\n\r\n") {
                    let length: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            let text = String::from_utf8_lossy(&request).into_owned();
            if n == 0 {
                let _ = stream
                    .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
                continue;
            }
            let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
            assert!(text.starts_with("POST /hooks/slo HTTP/1.1"), "{text}");
            seen.lock().unwrap().push(body);
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
        }
    });
    (url, bodies)
}

#[test]
fn a_burning_slo_notifies_throttles_and_blocks_deployments() {
    let (url, bodies) = receiver();
    let notified = Arc::new(Mutex::new(Vec::new()));
    let log = notified.clone();
    slo::set_policies(vec![
        Policy {
            severity: Severity::Critical,
            actions: vec![
                Action::Notify(Arc::new(move |slo: &Slo, event: &slo::AlertEvent| {
                    log.lock()
                        .unwrap()
                        .push((slo.id, event.severity, event.transition));
                })),
                Action::Webhook(url.parse().unwrap()),
                Action::Throttle(0.1),
            ],
        },
        Policy {
            severity: Severity::High,
            actions: vec![Action::BlockDeployments],
        },
    ]);

    let now = Arc::new(AtomicU64::new(0));
    let mut engine = Engine::new(Box::new(TestClock(now.clone())));
    let id = "payments-availability";
    engine
        .add(Slo::new(
            id,
            Sli::Availability {
                handlers: Handlers::Named("pay"),
                good: GoodOutcomes::default(),
            },
            99.9,
        ))
        .unwrap();
    let step = |engine: &mut Engine, seconds: u64, good: u64| {
        for _ in 0..seconds {
            now.fetch_add(1000, Ordering::Relaxed);
            engine.observe(id, Counts { good, total: 100 });
        }
    };

    step(&mut engine, 3600, 100); // an hour of good traffic
    assert!(engine.deploy_decision().allowed);
    assert!(slo::gate(id).admit());

    step(&mut engine, 120, 0); // a full outage: the 14.4x page fires after about 52 s
    let decision = engine.deploy_decision();
    assert!(!decision.allowed);
    assert!(
        decision.reasons.iter().any(|r| r.contains("critical")),
        "{decision:?}"
    );
    let gate = slo::gate(id);
    assert_eq!(gate.admitted_share(), 0.1);
    let admitted = (0..1000).filter(|_| gate.admit()).count();
    assert_eq!(admitted, 100);

    step(&mut engine, 3 * 3600, 100); // recovery: every alert resolves
    assert!(
        engine.deploy_decision().allowed,
        "{:?}",
        engine.deploy_decision()
    );
    assert!(slo::gate(id).admit() && slo::gate(id).admitted_share() == 1.0);

    // The compliance report shows the breach with its start and end.
    let report = engine.report(id).unwrap();
    let critical: Vec<_> = report
        .breaches()
        .into_iter()
        .filter(|b| b.severity == Severity::Critical)
        .collect();
    assert_eq!(critical.len(), 1, "{critical:?}");
    let (start, end) = (critical[0].start_ms, critical[0].end_ms.expect("resolved"));
    assert!(
        (3_600_000 + 50_000..=3_600_000 + 54_000).contains(&start),
        "{start}"
    );
    assert!(end > 3_720_000, "{end}");
    assert!(
        report.summary().contains("breach: critical"),
        "{}",
        report.summary()
    );

    let notified = notified.lock().unwrap().clone();
    assert_eq!(
        notified,
        [
            (id, Severity::Critical, "firing"),
            (id, Severity::Critical, "resolved")
        ]
    );
    // Both transitions reach the webhook; the first attempt got a 503 and was retried.
    let deadline = Instant::now() + Duration::from_secs(10);
    while bodies.lock().unwrap().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let bodies = bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    let first: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(first["slo_id"], id);
    assert_eq!(first["severity"], "critical");
    assert_eq!(first["transition"], "firing");
    assert!(first["burn_rate"].as_f64().unwrap() >= 14.4);
    let second: serde_json::Value = serde_json::from_str(&bodies[1]).unwrap();
    assert_eq!(second["transition"], "resolved");
}
