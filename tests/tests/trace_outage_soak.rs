//! A collector that answers `503 Service Unavailable` for a whole minute while two threads
//! call a sampled handler as fast as they can: the handlers keep their pace, the process's
//! memory stays bounded (the span queue is bounded and what does not fit is dropped, not
//! buffered), and every span is accounted for — once the pipeline has flushed, the spans
//! counted in `cqrs_obs_dropped_total{signal="traces"}` are exactly the calls made.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cqrs_obs::trace::{Protocol, Root, Sampler};
use cqrs_obs::{command_handler, AdminAddr, Console};

struct Ping;

#[command_handler(aggregate = "Probe")]
fn ping(_cmd: Ping) -> Result<u8, std::io::Error> {
    Ok(1)
}

const OUTAGE: Duration = Duration::from_secs(60);
const WARM_UP: Duration = Duration::from_secs(10);
/// What the process may grow by after the warm-up: the span queue (2048 spans) and the
/// exporter's in-flight batch are a few MiB.
const GROWTH_LIMIT: u64 = 32 << 20;

/// A collector on 127.0.0.1 that reads each request whole and answers 503, keeping nothing
/// but a count (a recording peer would itself grow with every retried batch).
fn unavailable_collector() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counted = Arc::clone(&counted);
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().expect("clone stream");
                let mut reader = BufReader::new(stream);
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let header = line.to_ascii_lowercase();
                        if let Some(v) = header.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    counted.fetch_add(1, Ordering::Relaxed);
                    let answer = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n";
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, requests)
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

fn dropped_traces() -> f64 {
    cqrs_obs::metrics::render()
        .lines()
        .filter(|l| l.starts_with("cqrs_obs_dropped_total{") && l.contains("signal=\"traces\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn a_minute_long_outage_under_load_keeps_memory_bounded_and_counts_every_span() {
    let (collector, requests) = unavailable_collector();
    let guard = cqrs_obs::builder()
        .service_name("outage")
        .admin_addr(AdminAddr::Off)
        .console(Console::Off)
        .ignore_env()
        .otlp_endpoint(collector)
        .otlp_protocol(Protocol::HttpProtobuf)
        .sampler(Sampler::parent_based(Root::AlwaysOn))
        .try_init()
        .expect("init");

    let stop = AtomicBool::new(false);
    let calls = AtomicU64::new(0);
    let (mut warm, mut peak, mut first_half_peak) = (0u64, 0u64, 0u64);
    let (mut first_window, mut last_window) = (0u64, 0u64);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    assert_eq!(ping(Ping).unwrap(), 1);
                    calls.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let start = Instant::now();
        while start.elapsed() < OUTAGE {
            std::thread::sleep(Duration::from_millis(500));
            let elapsed = start.elapsed();
            if warm == 0 && elapsed >= WARM_UP {
                warm = rss_bytes();
                first_window = calls.load(Ordering::Relaxed);
            }
            if warm != 0 {
                let rss = rss_bytes();
                peak = peak.max(rss);
                if elapsed < OUTAGE / 2 {
                    first_half_peak = first_half_peak.max(rss);
                }
            }
            if elapsed >= OUTAGE - WARM_UP && last_window == 0 {
                last_window = calls.load(Ordering::Relaxed);
            }
        }
        stop.store(true, Ordering::Relaxed);
        last_window = calls.load(Ordering::Relaxed) - last_window;
    });
    let total = calls.load(Ordering::Relaxed);
    let growth = peak.saturating_sub(warm);
    eprintln!(
        "{total} calls in {OUTAGE:?}; RSS {} MiB after warm-up, peak {} MiB in the first \
         half, {} MiB overall",
        warm >> 20,
        first_half_peak >> 20,
        peak >> 20
    );
    assert!(
        growth < GROWTH_LIMIT,
        "memory grew by {} MiB during the outage",
        growth >> 20
    );
    assert!(
        peak.saturating_sub(first_half_peak) < GROWTH_LIMIT / 4,
        "memory kept growing: {} MiB peak in the first half, {} MiB in the second",
        first_half_peak >> 20,
        peak >> 20
    );
    assert!(
        last_window * 4 > first_window,
        "handlers slowed down during the outage: {first_window} calls in the first \
         {WARM_UP:?}, {last_window} in the last"
    );
    assert!(
        requests.load(Ordering::Relaxed) >= 2,
        "the exporter kept trying the collector"
    );

    // Flushing gives up on what is still queued: then every span is counted as dropped.
    guard.flush();
    let deadline = Instant::now() + Duration::from_secs(30);
    while dropped_traces() < total as f64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        dropped_traces(),
        total as f64,
        "spans dropped vs calls made"
    );
    drop(guard);
}
