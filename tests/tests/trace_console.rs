//! `OTEL_TRACES_EXPORTER=console`: with no collector at all, each span is one line on
//! standard output. The test runs itself again as a child process with that environment and
//! reads the child's output.

use std::process::Command;

use cqrs_obs::{command_handler, AdminAddr, Console};

const ROLE: &str = "CQRS_OBS_TEST_CONSOLE_CHILD";

struct Ping;

#[command_handler(aggregate = "Probe")]
fn ping(_cmd: Ping) -> Result<u8, std::io::Error> {
    Ok(1)
}

/// The child: configured by the environment only, like a user's service.
#[test]
fn console_child() {
    if std::env::var(ROLE).is_err() {
        return;
    }
    let guard = cqrs_obs::builder()
        .admin_addr(AdminAddr::Off)
        .console(Console::Off)
        .try_init()
        .expect("init from the environment");
    let ctx = cqrs_obs::context::Context::new_root();
    println!("root trace {}", ctx.trace.trace_id());
    cqrs_obs::context::scope(ctx, || ping(Ping).unwrap());
    drop(guard);
}

#[test]
fn spans_are_printed_one_per_line_without_a_collector() {
    if std::env::var(ROLE).is_ok() {
        return;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "console_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, "1")
        .env("OTEL_TRACES_EXPORTER", "console")
        .env("OTEL_TRACES_SAMPLER", "always_on")
        .env("OTEL_SERVICE_NAME", "console-demo")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let root = stdout
        .lines()
        .find_map(|l| Some(l.split_once("root trace ")?.1.trim()))
        .unwrap_or_else(|| panic!("{stdout}"));
    let spans: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("span \"handle Ping\""))
        .collect();
    assert_eq!(spans.len(), 1, "{stdout}");
    let span = spans[0];
    for part in [
        format!("trace={root}"),
        "kind=internal".to_owned(),
        " ok ".to_owned(),
        "service=console-demo".to_owned(),
        "cqrs.command.type=Ping".to_owned(),
        "cqrs.aggregate.type=Probe".to_owned(),
        "cqrs.command.outcome=ok".to_owned(),
    ] {
        assert!(span.contains(&part), "`{part}` missing from: {span}");
    }
    assert!(
        !span.contains("parent=-"),
        "a child of the root context: {span}"
    );
}
