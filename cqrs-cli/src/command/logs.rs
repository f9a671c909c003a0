//! `logs` (search, pages followed up to `--limit`, or `--follow` for new entries) and
//! `log-stats`.

use std::io::{BufRead, BufReader, Read};

use serde_json::Value;

use super::{write_stdout, Ctx, Outcome};
use crate::cli::{Format, Level, LogStatsArgs, LogsArgs};
use crate::client::with_query;
use crate::error::{refused, CliError, Exit};
use crate::model::LogPage;
use crate::output::{cell, paint, Record, Report, Tone};

/// The largest page the service returns.
const MAX_PAGE: u64 = 1000;

fn level(l: Level) -> &'static str {
    match l {
        Level::Trace => "trace",
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

fn level_tone(level: &str) -> Tone {
    match level {
        "error" => Tone::Bad,
        "warn" => Tone::Warn,
        "debug" | "trace" => Tone::Dim,
        _ => Tone::Plain,
    }
}

fn filters(args: &LogsArgs) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("level", args.level.map(|l| level(l).to_owned())),
        ("service", args.service.clone()),
        ("target", args.target.clone()),
        ("since", args.since.clone()),
        ("until", args.until.clone()),
        ("trace_id", args.trace_id.clone()),
        ("correlation_id", args.correlation_id.clone()),
        ("aggregate_id", args.aggregate_id.clone()),
        ("event_type", args.event_type.clone()),
        ("q", args.grep.clone()),
    ]
}

/// The service's parameters and the flags that set them.
const PARAMS: &[(&str, &str)] = &[
    ("level", "--level"),
    ("service", "--service"),
    ("target", "--target"),
    ("since", "--since"),
    ("until", "--until"),
    ("trace_id", "--trace"),
    ("correlation_id", "--correlation"),
    ("aggregate_id", "--aggregate"),
    ("event_type", "--event-type"),
    ("q", "--grep"),
    ("limit", "--limit"),
];

/// The columns of an entry.
const COLUMNS: [&str; 9] = [
    "timestamp",
    "level",
    "service",
    "target",
    "message",
    "error",
    "correlation_id",
    "trace_id",
    "aggregate_id",
];

/// The row of one entry.
fn record(e: &Value) -> Record {
    let text = |k: &str| {
        e.get(k).map_or(Value::Null, |v| {
            if v.is_null() {
                Value::Null
            } else {
                Value::from(cell(v))
            }
        })
    };
    let error = e
        .get("error")
        .and_then(|er| er.get("message"))
        .map_or(Value::Null, Value::clone);
    let lvl = e.get("level").and_then(Value::as_str).unwrap_or("");
    let mut message = cell(e.get("message").unwrap_or(&Value::Null));
    if let Some(fields) = e.get("fields").and_then(Value::as_object) {
        for (k, v) in fields {
            message.push_str(&format!(" {k}={}", cell(v)));
        }
    }
    let mut r = Record::new();
    for key in COLUMNS {
        r = match key {
            "message" => r.with(key, message.clone()),
            "error" => r.with(key, error.clone()),
            _ => r.with(key, text(key)),
        };
    }
    r.tone("level", level_tone(lvl))
}

/// Runs `logs` without `--follow`: pages until `--limit` entries or the end.
pub(crate) fn search(ctx: &Ctx, args: &LogsArgs) -> Outcome {
    let mut entries: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    while (entries.len() as u64) < args.limit {
        let want = (args.limit - entries.len() as u64).min(MAX_PAGE);
        let mut pairs = filters(args);
        pairs.push(("limit", Some(want.to_string())));
        pairs.push(("cursor", cursor.clone()));
        let page: LogPage = match ctx.admin.get(&with_query("/logs", &pairs))?.expect(&[200]) {
            Err(CliError::Status {
                status: 400,
                message,
                ..
            }) => return Err(refused(&message, PARAMS)),
            other => other?.json()?,
        };
        let n = page.entries.len();
        entries.extend(page.entries);
        cursor = page
            .next_cursor
            .as_ref()
            .map(cell)
            .filter(|c| !c.is_empty());
        if cursor.is_none() || n == 0 {
            break;
        }
    }
    let records: Vec<Record> = entries.iter().map(record).collect();
    let mut report = Report::new(
        vec!["timestamp", "level", "target", "message", "correlation_id"],
        records,
    );
    if ctx.settings.format != Format::Table {
        report.columns = COLUMNS.to_vec();
    }
    // JSON keeps the entries whole.
    report.json = Some(Value::Array(entries.clone()));
    Ok((LinesReport { report, entries }.into(), Exit::Ok))
}

/// A report whose JSON lines are the raw entries.
struct LinesReport {
    report: Report,
    entries: Vec<Value>,
}

impl From<LinesReport> for Report {
    fn from(l: LinesReport) -> Report {
        let mut report = l.report;
        report.raw_lines = Some(l.entries.iter().map(Value::to_string).collect());
        report
    }
}

/// Runs `logs --follow`: prints each new entry as it arrives, until Ctrl-C or the service
/// closes the stream.
pub(crate) fn follow(ctx: &Ctx, args: &LogsArgs) -> Result<(), CliError> {
    let mut pairs = filters(args);
    pairs.push(("follow", Some("true".to_owned())));
    let path = with_query("/logs", &pairs);
    let (format, color) = (ctx.settings.format, ctx.settings.color);
    if format == Format::Csv {
        write_stdout(&(COLUMNS.join(",") + "\n"))?;
    }
    ctx.admin.stream(&path, &mut |body: &mut dyn Read| {
        let mut event = String::new();
        for line in BufReader::new(body).lines() {
            let line = line.map_err(CliError::from)?;
            if let Some(name) = line.strip_prefix("event:") {
                event = name.trim().to_owned();
            } else if let Some(data) = line.strip_prefix("data:") {
                let data = data.trim_start();
                if event == "lagged" {
                    eprintln!("cqrs-cli: the stream skipped {data} entries (the terminal read too slowly)");
                    continue;
                }
                let Ok(entry) = serde_json::from_str::<Value>(data) else { continue };
                write_stdout(&follow_line(&entry, format, color)?)?;
            } else if line.is_empty() {
                event.clear();
            }
        }
        Ok(())
    })
}

fn follow_line(entry: &Value, format: Format, color: bool) -> Result<String, CliError> {
    let r = record(entry);
    Ok(match format {
        Format::Json | Format::Jsonl => format!("{entry}\n"),
        Format::Csv => {
            let mut one = Report::new(COLUMNS.to_vec(), vec![r]).render(Format::Csv, false)?;
            one.drain(..one.find('\n').map_or(0, |i| i + 1));
            one
        }
        Format::Table => {
            let get = |k: &str| r.get(k).map(cell).unwrap_or_default();
            let lvl = get("level");
            format!(
                "{} {} {} {}\n",
                get("timestamp"),
                paint(&format!("{lvl:<5}"), level_tone(&lvl), color),
                get("target"),
                get("message")
            )
        }
    })
}

/// Runs `log-stats`.
pub(crate) fn stats(ctx: &Ctx, args: &LogStatsArgs) -> Outcome {
    let pairs = [
        ("since", Some(args.since.clone())),
        ("until", args.until.clone()),
        ("service", args.service.clone()),
    ];
    let body: Value = match ctx
        .admin
        .get(&with_query("/logs/stats", &pairs))?
        .expect(&[200])
    {
        Err(CliError::Status {
            status: 400,
            message,
            ..
        }) => return Err(refused(&message, PARAMS)),
        other => other?.json()?,
    };
    let store = &body["store"];
    let records: Vec<Record> = store["top_errors"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let lvl = p["level"].as_str().unwrap_or("");
            Record::new()
                .with("count", p["count"].clone())
                .with("level", lvl)
                .with("pattern", p["pattern"].clone())
                .with("last_seen", p["last_seen"].clone())
                .tone("level", level_tone(lvl))
        })
        .collect();
    let mut report = Report::new(vec!["count", "level", "pattern", "last_seen"], records);
    let counts = |key: &str| {
        store[key]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", cell(v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    };
    let pipeline = &body["pipeline"];
    report.preamble = vec![
        (
            format!(
                "entries: {} (since {})",
                cell(&store["total"]),
                cell(&store["since"])
            ),
            Tone::Plain,
        ),
        (format!("by level: {}", counts("by_level")), Tone::Plain),
        (format!("by service: {}", counts("by_service")), Tone::Plain),
        (
            format!(
                "pipeline: received={} dropped={} stored={}",
                cell(&pipeline["received"]),
                cell(&pipeline["dropped"]),
                cell(&pipeline["stored"])
            ),
            Tone::Plain,
        ),
        ("top warning and error patterns:".to_owned(), Tone::Plain),
    ];
    report.json = Some(body.clone());
    Ok((report, Exit::Ok))
}
