//! `cqrs-cli`: asks a running cqrs-obs service (its admin endpoint, or for the fleet view a
//! Prometheus server) about its health, SLOs, logs, anomalies, traces, handlers, rules and
//! dashboards.
//!
//! The flow is the same for every command: clap parses raw flags ([`cli`]), they become
//! validated [`config::Settings`], and a [`command`] asks the endpoint, judges the answer
//! (the exit code) and renders a report ([`output`]). The CLI does not link the cqrs-obs
//! library: it reads the admin endpoint's JSON with its own tolerant types ([`model`]).

mod cli;
mod client;
mod clock;
mod command;
mod config;
mod error;
mod model;
mod output;
mod progress;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use crate::command::Ctx;
use crate::config::Settings;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let settings = match Settings::new(
        &cli.global,
        std::env::var_os("NO_COLOR"),
        (
            std::io::stdout().is_terminal(),
            std::io::stderr().is_terminal(),
        ),
    ) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("cqrs-cli: {e}");
            return ExitCode::from(e.exit() as u8);
        }
    };
    let ctx = match Ctx::new(settings) {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("cqrs-cli: {e}");
            return ExitCode::from(e.exit() as u8);
        }
    };
    if let Some(every) = ctx.settings.watch {
        if let Err(e) = command::check_watch(&cli.command) {
            eprintln!("cqrs-cli: {e}");
            return ExitCode::from(e.exit() as u8);
        }
        command::watch(&ctx, &cli.command, every);
    }
    match command::run_once(&ctx, &cli.command) {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(e) => {
            eprintln!("cqrs-cli: {e}");
            ExitCode::from(e.exit() as u8)
        }
    }
}
