//! `cqrs-cli`: asks a running cqrs-obs service (its admin endpoint) about its handlers.

use clap::Parser;

/// Ask a running cqrs-obs service about itself.
#[derive(Debug, Parser)]
#[command(name = "cqrs-cli", version, about)]
struct Cli {
    /// The service's admin endpoint.
    #[arg(
        long,
        env = "CQRS_OBS_ENDPOINT",
        default_value = "http://127.0.0.1:9464"
    )]
    endpoint: String,
}

fn main() {
    let cli = Cli::parse();
    eprintln!(
        "cqrs-cli: no commands yet; endpoint would be {}",
        cli.endpoint
    );
    std::process::exit(2);
}
