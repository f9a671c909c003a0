//! The commands: each asks the endpoint, judges the answer (the exit code) and builds a
//! [`Report`].

mod ack;
mod anomalies;
mod dashboards;
mod fleet;
mod handlers;
mod health;
mod logs;
mod sampling;
mod slo;
mod trace;

use std::io::Write;

use crate::cli::{Command, DashboardsCommand};
use crate::client::Client;
use crate::config::Settings;
use crate::error::{CliError, Exit};
use crate::output::Report;

/// What a command runs with.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// The settings.
    pub(crate) settings: Settings,
    /// The admin endpoint's client.
    pub(crate) admin: Client,
}

impl Ctx {
    /// A context for `settings`.
    pub(crate) fn new(settings: Settings) -> Result<Ctx, CliError> {
        let admin = Client::new(
            &settings.endpoint,
            settings.token.as_deref(),
            settings.timeout,
            settings.progress,
            settings.ca_pem.as_deref(),
        )?;
        Ok(Ctx { settings, admin })
    }
}

/// A command's result: what to print and how it judged the service.
pub(crate) type Outcome = Result<(Report, Exit), CliError>;

/// `--watch` repeats commands that report; it refuses those that stream, write files or
/// change something elsewhere.
pub(crate) fn check_watch(command: &Command) -> Result<(), CliError> {
    let refused = match command {
        Command::Logs(args) if args.follow => "`logs --follow` already streams new entries",
        Command::Dashboards(DashboardsCommand::Export(_)) => "`dashboards export` runs once",
        Command::Dashboards(DashboardsCommand::Deploy(_)) => "`dashboards deploy` runs once",
        Command::Ack(_) => "`ack` changes the alert once",
        Command::Sampling(args) if args.sampler.is_some() => {
            "`sampling SAMPLER` changes the sampler once (`sampling` alone can be watched)"
        }
        _ => return Ok(()),
    };
    Err(CliError::Usage(format!(
        "--watch: {refused}; leave out --watch"
    )))
}

/// The generated rules, as the service serves them (YAML).
fn rules(ctx: &Ctx) -> Result<String, CliError> {
    Ok(ctx.admin.get("/slo/rules")?.expect(&[200])?.body)
}

/// Runs `command` once and prints its report to stdout.
pub(crate) fn run_once(ctx: &Ctx, command: &Command) -> Result<Exit, CliError> {
    match command {
        // Commands that stream or write raw text print themselves.
        Command::Logs(args) if args.follow => return logs::follow(ctx, args).map(|()| Exit::Ok),
        Command::Rules => {
            write_stdout(&rules(ctx)?)?;
            return Ok(Exit::Ok);
        }
        Command::Dashboards(DashboardsCommand::Export(args)) if args.out.is_none() => {
            let text = dashboards::export_stdout(ctx, args)?;
            write_stdout(&text)?;
            return Ok(Exit::Ok);
        }
        _ => {}
    }
    let (report, exit) = report(ctx, command)?;
    let text = report.render(ctx.settings.format, ctx.settings.color)?;
    write_stdout(&text)?;
    Ok(exit)
}

fn report(ctx: &Ctx, command: &Command) -> Outcome {
    match command {
        Command::Health(args) => health::run(ctx, args),
        Command::Slo(args) if args.prometheus.is_some() => fleet::run(ctx, args),
        Command::Slo(args) => slo::run(ctx, args),
        Command::Ack(args) => ack::run(ctx, args),
        Command::Sampling(args) => sampling::run(ctx, args),
        Command::Logs(args) => logs::search(ctx, args),
        Command::LogStats(args) => logs::stats(ctx, args),
        Command::Anomalies(args) => anomalies::run(ctx, args),
        Command::Trace(args) => trace::run(ctx, args),
        Command::Handlers => handlers::run(ctx),
        Command::Rules => unreachable!("printed as text"),
        Command::Dashboards(DashboardsCommand::Export(args)) => dashboards::export(ctx, args),
        Command::Dashboards(DashboardsCommand::Deploy(args)) => dashboards::deploy(ctx, args),
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
pub(crate) fn write_stdout(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(CliError::from),
    }
}

/// `--watch`: runs the command again every interval, until Ctrl-C. On a terminal each run
/// redraws the screen under a header; into a pipe or file the outputs follow each other
/// (`--watch 60 -o jsonl slo >> slo.jsonl`). Errors are shown and do not stop the loop.
pub(crate) fn watch(ctx: &Ctx, command: &Command, every: std::time::Duration) -> ! {
    loop {
        let started = std::time::Instant::now();
        let rendered = match command {
            Command::Rules => rules(ctx),
            _ => report(ctx, command)
                .and_then(|(report, _)| report.render(ctx.settings.format, ctx.settings.color)),
        };
        let shown = rendered.unwrap_or_else(|e| format!("cqrs-cli: {e}\n"));
        if ctx.settings.screen {
            let now = crate::clock::now_rfc3339();
            let _ = write_stdout(&format!(
                "\x1b[H\x1b[2J{now}  every {every:.1?}  (Ctrl-C to stop)\n\n{shown}"
            ));
        } else {
            let _ = write_stdout(&shown);
        }
        std::thread::sleep(every.saturating_sub(started.elapsed()));
    }
}
