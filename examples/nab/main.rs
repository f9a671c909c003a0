//! Runs cqrs-obs's streaming anomaly detectors over the Numenta Anomaly Benchmark and scores
//! them with NAB's rules.
//!
//! Every detector (and the composite) runs with one fixed configuration over every file,
//! writes NAB results files (`<out>/<detector>/<category>/<detector>_<file>.csv` with
//! `timestamp,value,anomaly_score,label`), and the normalised score of each detector is
//! printed for NAB's three profiles. NAB's own windowed Gaussian detector runs alongside as
//! the reference that checks the scorer.
//!
//! ```text
//! cargo run --release -p cqrs-obs-examples --example nab
//! cargo run --release -p cqrs-obs-examples --example nab -- --data ../shared/data/nab/data \
//!     --labels ../shared/data/nab/labels/combined_windows.json --out target/nab --detector composite
//! ```

mod corpus;
mod detectors;
mod reference;
mod score;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

const DEFAULT_NAB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/nab");

/// Scores cqrs-obs's anomaly detectors on the Numenta Anomaly Benchmark.
#[derive(Debug, Parser)]
#[command(name = "nab")]
struct Args {
    /// Directory with one folder per category of CSV files [default: ../shared/data/nab/data].
    #[arg(long)]
    data: Option<PathBuf>,
    /// NAB's combined_windows.json [default: ../shared/data/nab/labels/combined_windows.json].
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Where to write the results files.
    #[arg(long, default_value = "target/nab-results")]
    out: PathBuf,
    /// Run only this detector (see the table for the names).
    #[arg(long)]
    detector: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(table) => {
            print!("{table}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("nab: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<String, String> {
    let data = args
        .data
        .clone()
        .unwrap_or_else(|| Path::new(DEFAULT_NAB).join("data"));
    let labels = args
        .labels
        .clone()
        .unwrap_or_else(|| Path::new(DEFAULT_NAB).join("labels/combined_windows.json"));
    let corpus = corpus::load(&data)?;
    let windows = corpus::load_windows(&labels)?;
    let names: Vec<&str> = match &args.detector {
        Some(name) if detectors::NAMES.contains(&name.as_str()) => vec![name.as_str()],
        Some(name) => {
            return Err(format!(
                "unknown detector `{name}` (one of {})",
                detectors::NAMES.join(", ")
            ))
        }
        None => detectors::NAMES.to_vec(),
    };
    let mut table = String::new();
    let _ = writeln!(
        table,
        "{} files, {} windows; normalised NAB scores (null 0, perfect 100)\n",
        corpus.len(),
        windows.values().map(Vec::len).sum::<usize>()
    );
    let header: Vec<&str> = score::PROFILES.iter().map(|p| p.name).collect();
    let _ = writeln!(table, "| detector | {} |", header.join(" | "));
    let _ = writeln!(table, "|---|{}", "---|".repeat(header.len()));
    let mut details = String::new();
    for name in names {
        let mut scorer = score::Scorer::new();
        for series in &corpus {
            let scores = detectors::run(name, &series.timestamps, &series.values);
            let file_windows = windows.get(&series.key).map(Vec::as_slice).unwrap_or(&[]);
            write_results(&args.out, name, series, &scores, file_windows)?;
            scorer.add_file(&series.timestamps, &scores, file_windows);
        }
        let outcomes: Vec<score::Outcome> =
            score::PROFILES.iter().map(|p| scorer.best(p)).collect();
        let cells: Vec<String> = outcomes
            .iter()
            .map(|o| format!("{:.2}", o.normalised))
            .collect();
        let _ = writeln!(table, "| {name} | {} |", cells.join(" | "));
        let parts: Vec<String> = outcomes
            .iter()
            .map(|o| format!("threshold {:.4}, raw {:.2}", o.threshold, o.raw))
            .collect();
        let _ = writeln!(
            details,
            "{name} ({} windows): {}",
            scorer.windows(),
            parts.join("; ")
        );
    }
    let _ = write!(table, "\n{details}");
    Ok(table)
}

fn write_results(
    out: &Path,
    detector: &str,
    series: &corpus::Series,
    scores: &[f64],
    windows: &[(i64, i64)],
) -> Result<(), String> {
    let dir = out.join(detector).join(&series.category);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("{detector}_{}", series.file));
    let mut text = String::from("timestamp,value,anomaly_score,label\n");
    for (i, score) in scores.iter().enumerate() {
        let t = series.timestamps[i];
        let label = u8::from(windows.iter().any(|(s, e)| (*s..=*e).contains(&t)));
        let _ = writeln!(
            text,
            "{},{},{score},{label}",
            series.raw_timestamps[i], series.raw_values[i]
        );
    }
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scorer reproduces the README's figure for NAB's windowed Gaussian detector on this
    /// subset: 33.34 / 15.59 / 41.76.
    #[test]
    fn scorer_matches_the_reference_figures() {
        let root = Path::new(DEFAULT_NAB);
        let corpus = corpus::load(&root.join("data")).expect("the NAB data next to the repository");
        let windows = corpus::load_windows(&root.join("labels/combined_windows.json")).unwrap();
        let mut scorer = score::Scorer::new();
        for s in &corpus {
            let scores = detectors::run("windowedgaussian", &s.timestamps, &s.values);
            scorer.add_file(&s.timestamps, &scores, &windows[&s.key]);
        }
        assert_eq!(scorer.windows(), 78);
        let got: Vec<f64> = score::PROFILES
            .iter()
            .map(|p| scorer.best(p).normalised)
            .collect();
        for (g, want) in got.iter().zip([33.34, 15.59, 41.76]) {
            assert!((g - want).abs() < 0.005, "{got:?}");
        }
    }
}
