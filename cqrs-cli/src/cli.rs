//! The command line as clap sees it: raw flags, whose doc comments are the `--help`.
//!
//! Values that can be checked without the network (durations, times, URLs, choices) are
//! checked here by value parsers, so a bad value is a usage error (exit 2) naming the flag
//! and what it accepts.

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{parse_endpoint, parse_period, parse_positive_secs, parse_time};

/// Ask a running cqrs-obs service about its health, SLOs, logs, anomalies and traces.
///
/// Talks HTTP/JSON to the service's admin endpoint (and, for `slo --prometheus`, to a
/// Prometheus server).
///
/// Exit codes: 0 healthy / within objective; 1 unhealthy, SLO breached, or anomalies at or
/// above `--fail-on`; 2 usage error; 3 endpoint unreachable; 4 the endpoint answered with
/// an error.
#[derive(Debug, Parser)]
#[command(name = "cqrs-cli", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct Global {
    /// The service's admin endpoint (http:// or https://).
    #[arg(
        long,
        global = true,
        env = "CQRS_OBS_ENDPOINT",
        hide_env_values = true,
        default_value = "http://127.0.0.1:9464",
        value_parser = parse_endpoint,
        value_name = "URL"
    )]
    pub(crate) endpoint: String,
    /// Bearer token for the admin endpoint.
    #[arg(
        long,
        global = true,
        env = "CQRS_OBS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) token: Option<String>,
    /// PEM file of the certificate authority that signed an https:// endpoint's certificate
    /// (instead of the public web roots), for an admin endpoint with its own certificate.
    #[arg(
        long,
        global = true,
        env = "CQRS_OBS_CA_CERT",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub(crate) ca_cert: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(
        short = 'o',
        long = "output",
        global = true,
        value_enum,
        default_value_t = Format::Table,
        value_name = "FORMAT"
    )]
    pub(crate) output: Format,
    /// When to colour the output (`auto`: when stdout is a terminal and NO_COLOR is unset).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = ColorChoice::Auto,
        value_name = "WHEN"
    )]
    pub(crate) color: ColorChoice,
    /// Run the command again every SECONDS seconds until Ctrl-C: redrawn on a terminal,
    /// one output after another into a pipe or file (not with `logs --follow`, `ack`, a
    /// change of `sampling` or `dashboards`).
    #[arg(long, global = true, value_parser = parse_positive_secs, value_name = "SECONDS")]
    pub(crate) watch: Option<f64>,
    /// How long to wait for an answer, in seconds.
    #[arg(long, global = true, default_value = "10", value_parser = parse_positive_secs, value_name = "SECONDS")]
    pub(crate) timeout: f64,
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON document.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
}

/// When to colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    /// When stdout is a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Health of the service and of each indicator (exit 1 when DOWN or OUT_OF_SERVICE).
    Health(HealthArgs),
    /// SLO attainment, error budget and burn-rate alerts (exit 1 when an SLO is breached).
    Slo(SloArgs),
    /// Acknowledge a firing or pending SLO burn-rate alert (an operator action).
    ///
    /// The alert then says who is on it, when, and their note, until it resolves. Needs an
    /// operator token when the admin endpoint has tokens.
    Ack(AckArgs),
    /// Show the trace sampler, or change it for every call from now on (an operator action).
    Sampling(SamplingArgs),
    /// Search the service's logs, or follow new entries.
    Logs(LogsArgs),
    /// Log statistics: counts by level, service and target, and the top error patterns.
    LogStats(LogStatsArgs),
    /// Anomalies the service detected on its key series.
    Anomalies(AnomaliesArgs),
    /// The causation tree of one conversation: every command, event and query it caused.
    Trace(TraceArgs),
    /// The instrumented handlers and their calls per outcome.
    Handlers,
    /// The generated Prometheus recording and alerting rules (YAML), to stdout.
    Rules,
    /// Export the generated Grafana dashboards, or deploy them to Grafana.
    #[command(subcommand)]
    Dashboards(DashboardsCommand),
}

/// `health`.
#[derive(Debug, Args)]
pub(crate) struct HealthArgs {
    /// Only this indicator (e.g. `event-store`); the exit code follows its status.
    #[arg(long, value_name = "NAME")]
    pub(crate) indicator: Option<String>,
    /// Only this group (e.g. `readiness`, `liveness`).
    #[arg(long, value_name = "GROUP", conflicts_with = "indicator")]
    pub(crate) group: Option<String>,
}

/// `slo`.
#[derive(Debug, Args)]
pub(crate) struct SloArgs {
    /// Only this SLO (its id, e.g. `deposit-latency`).
    #[arg(value_name = "ID")]
    pub(crate) id: Option<String>,
    /// The window to judge attainment over: 5m, 30m, 1h, 2h, 6h, 1d, 3d or the SLO's period
    /// (e.g. 30d) [default: each SLO's period].
    #[arg(long, value_parser = parse_period, value_name = "DURATION")]
    pub(crate) period: Option<u64>,
    /// `summary`: one row per SLO; `windows`: one row per SLO and window; `alerts`: one row
    /// per SLO and burn-rate alert.
    #[arg(long, value_enum, default_value_t = SloFormat::Summary, value_name = "VIEW")]
    pub(crate) format: SloFormat,
    /// Fleet mode: evaluate the SLOs through this Prometheus server's HTTP API with the
    /// queries of the generated recording rules (read from the admin endpoint's
    /// `/slo/rules`), instead of asking the one instance.
    #[arg(long, value_parser = parse_endpoint, value_name = "URL")]
    pub(crate) prometheus: Option<String>,
}

/// `ack`.
#[derive(Debug, Args)]
pub(crate) struct AckArgs {
    /// The SLO (its id, e.g. `deposit-latency`).
    #[arg(value_name = "SLO")]
    pub(crate) slo: String,
    /// Which of its burn-rate alerts.
    #[arg(value_enum, value_name = "SEVERITY")]
    pub(crate) severity: AlertSeverity,
    /// Who is on it (recorded with the acknowledgement) [default: the service records
    /// `operator`].
    #[arg(long, value_name = "NAME")]
    pub(crate) by: Option<String>,
    /// A note for whoever looks next (e.g. a ticket or what is being done).
    #[arg(long, value_name = "TEXT")]
    pub(crate) note: Option<String>,
}

/// `sampling`.
#[derive(Debug, Args)]
pub(crate) struct SamplingArgs {
    /// The new sampler, by its `OTEL_TRACES_SAMPLER` name: `always_on`, `always_off`,
    /// `traceidratio`, `cqrs_obs_ratelimited`, `cqrs_obs_adaptive`, each also with a
    /// `parentbased_` prefix [default: show the current one].
    #[arg(value_name = "SAMPLER")]
    pub(crate) sampler: Option<String>,
    /// Its argument, as `OTEL_TRACES_SAMPLER_ARG` (a ratio for `traceidratio`, traces per
    /// second for the others that take one).
    #[arg(value_name = "ARG", requires = "sampler")]
    pub(crate) arg: Option<String>,
}

/// The burn-rate alerts of an SLO, from the fastest burn to the slowest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AlertSeverity {
    /// The page on the 1h and 5m windows (14.4x for a 30-day period).
    Critical,
    /// The page on the 6h and 30m windows (6x).
    High,
    /// The ticket on the 1d and 2h windows (3x).
    Medium,
    /// The ticket on the 3d and 6h windows (1x).
    Low,
}

impl AlertSeverity {
    /// The name the service uses.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AlertSeverity::Critical => "critical",
            AlertSeverity::High => "high",
            AlertSeverity::Medium => "medium",
            AlertSeverity::Low => "low",
        }
    }
}

/// The SLO views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SloFormat {
    /// One row per SLO.
    Summary,
    /// One row per SLO and window.
    Windows,
    /// One row per SLO and burn-rate alert.
    Alerts,
}

/// `logs`.
#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// This level and above (`trace`, `debug`, `info`, `warn`, `error`).
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub(crate) level: Option<Level>,
    /// Entries at or after this time: a duration ago (`15m`, `1h`, `7d`) or RFC 3339.
    #[arg(long, value_parser = parse_time, value_name = "WHEN")]
    pub(crate) since: Option<String>,
    /// Entries before this time: a duration ago (`15m`, `1h`, `7d`) or RFC 3339.
    #[arg(long, value_parser = parse_time, value_name = "WHEN")]
    pub(crate) until: Option<String>,
    /// Service name, exactly.
    #[arg(long, value_name = "NAME")]
    pub(crate) service: Option<String>,
    /// Target, or a module path prefix of it (`bank` matches `bank::account`).
    #[arg(long, value_name = "TARGET")]
    pub(crate) target: Option<String>,
    /// Trace id (32 hex digits).
    #[arg(long = "trace", value_name = "TRACE_ID")]
    pub(crate) trace_id: Option<String>,
    /// Correlation id.
    #[arg(long = "correlation", value_name = "ID")]
    pub(crate) correlation_id: Option<String>,
    /// Aggregate id.
    #[arg(long = "aggregate", value_name = "ID")]
    pub(crate) aggregate_id: Option<String>,
    /// Event type.
    #[arg(long = "event-type", value_name = "TYPE")]
    pub(crate) event_type: Option<String>,
    /// Text in the message or error (case-insensitive).
    #[arg(long, value_name = "TEXT")]
    pub(crate) grep: Option<String>,
    /// At most this many entries, newest first (pages are followed).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000), value_name = "N")]
    pub(crate) limit: u64,
    /// Keep the connection open and print new entries as they are logged, until Ctrl-C.
    #[arg(long, short = 'f', conflicts_with = "until")]
    pub(crate) follow: bool,
}

/// Log levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Level {
    /// trace and above
    Trace,
    /// debug and above
    Debug,
    /// info and above
    Info,
    /// warn and error
    Warn,
    /// error only
    Error,
}

/// `log-stats`.
#[derive(Debug, Args)]
pub(crate) struct LogStatsArgs {
    /// Entries at or after this time: a duration ago (`15m`, `1h`, `7d`) or RFC 3339.
    #[arg(long, default_value = "24h", value_parser = parse_time, value_name = "WHEN")]
    pub(crate) since: String,
    /// Entries before this time: a duration ago or RFC 3339.
    #[arg(long, value_parser = parse_time, value_name = "WHEN")]
    pub(crate) until: Option<String>,
    /// Only this service.
    #[arg(long, value_name = "NAME")]
    pub(crate) service: Option<String>,
}

/// Anomaly severities, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub(crate) enum Severity {
    /// About 3 standard deviations.
    Low,
    /// About 3.5.
    Medium,
    /// About 4.5.
    High,
    /// 6 or more, or a hard limit crossed.
    Critical,
}

/// `anomalies`.
#[derive(Debug, Args)]
pub(crate) struct AnomaliesArgs {
    /// Only anomalies of this severity and above.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub(crate) severity: Option<Severity>,
    /// Only this metric (series).
    #[arg(long, value_name = "NAME")]
    pub(crate) metric: Option<String>,
    /// Anomalies at or after this time: a duration ago (`15m`, `1h`, `24h`) or RFC 3339.
    #[arg(long, default_value = "24h", value_parser = parse_time, value_name = "WHEN")]
    pub(crate) since: String,
    /// Exit 1 when an anomaly of this severity or above is listed.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub(crate) fail_on: Option<Severity>,
}

/// `trace`.
#[derive(Debug, Args)]
pub(crate) struct TraceArgs {
    /// The correlation id (see the `correlation_id` of `cqrs-cli logs`).
    #[arg(value_name = "CORRELATION_ID")]
    pub(crate) correlation_id: String,
}

/// `dashboards`.
#[derive(Debug, Subcommand)]
pub(crate) enum DashboardsCommand {
    /// Fetch the dashboards from the admin endpoint and write one JSON file per dashboard
    /// (or, without `--out`, print them as one JSON array).
    Export(ExportArgs),
    /// Fetch the dashboards from the admin endpoint and create or overwrite them in Grafana
    /// (`POST /api/dashboards/db`), retrying transient failures.
    Deploy(DeployArgs),
}

/// The dashboard templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Template {
    /// The essentials.
    Minimal,
    /// Adds admin-endpoint links and finer intervals.
    Development,
    /// Adds the SLO dashboard, SLO panels and alert thresholds.
    Production,
}

/// `dashboards export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The template.
    #[arg(long, value_enum, default_value_t = Template::Production, value_name = "TEMPLATE")]
    pub(crate) template: Template,
    /// Directory to write `<uid>.json` files into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<std::path::PathBuf>,
}

/// `dashboards deploy`.
#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// The template.
    #[arg(long, value_enum, default_value_t = Template::Production, value_name = "TEMPLATE")]
    pub(crate) template: Template,
    /// Grafana's base URL.
    #[arg(long, env = "GRAFANA_URL", hide_env_values = true, value_parser = parse_endpoint, value_name = "URL")]
    pub(crate) grafana_url: String,
    /// Grafana service-account token (sent as a bearer token).
    #[arg(
        long,
        env = "GRAFANA_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) grafana_token: Option<String>,
    /// Grafana user for basic authentication, instead of a token (with `--grafana-password`).
    #[arg(
        long,
        env = "GRAFANA_USER",
        hide_env_values = true,
        value_name = "USER",
        conflicts_with = "grafana_token",
        requires = "grafana_password"
    )]
    pub(crate) grafana_user: Option<String>,
    /// The password of `--grafana-user`.
    #[arg(
        long,
        env = "GRAFANA_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD",
        requires = "grafana_user"
    )]
    pub(crate) grafana_password: Option<String>,
    /// The uid of the Grafana folder to put the dashboards in, created (titled with its uid)
    /// when missing [default: General].
    #[arg(long, value_name = "UID")]
    pub(crate) folder_uid: Option<String>,
    /// Attempts per dashboard on connection errors, 429 and 5xx answers.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10), value_name = "N")]
    pub(crate) attempts: u32,
}
