//! The collector is down: the application is unaffected, and the spans the exporter could not
//! deliver are counted in `cqrs_obs_dropped_total{signal="traces"}`.

use cqrs_obs::trace::{Protocol, Root, Sampler};
use cqrs_obs::{command_handler, AdminAddr, Console};

struct Ping;

#[command_handler(aggregate = "Probe")]
fn ping(_cmd: Ping) -> Result<u8, std::io::Error> {
    Ok(1)
}

fn dropped_traces() -> f64 {
    let page = cqrs_obs::metrics::render();
    page.lines()
        .filter(|l| l.starts_with("cqrs_obs_dropped_total{") && l.contains("signal=\"traces\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn spans_that_cannot_be_delivered_are_counted_as_dropped() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let guard = cqrs_obs::builder()
        .service_name("down")
        .admin_addr(AdminAddr::Off)
        .console(Console::Off)
        .ignore_env()
        .otlp_endpoint(format!("http://127.0.0.1:{port}"))
        .otlp_protocol(Protocol::HttpProtobuf)
        .sampler(Sampler::parent_based(Root::AlwaysOn))
        .try_init()
        .expect("init does not need the collector to be up");
    assert_eq!(dropped_traces(), 0.0);
    for _ in 0..5 {
        assert_eq!(ping(Ping).unwrap(), 1, "the handler is unaffected");
    }
    guard.flush();
    assert_eq!(dropped_traces(), 5.0, "{}", cqrs_obs::metrics::render());
}
