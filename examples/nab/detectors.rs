//! The detectors the runner scores, each with its one configuration for every file.

use cqrs_obs::anomaly::{
    Composite, CompositeConfig, Detector, Iqr, Mad, Pattern, Seasonal, Threshold, ZScore, PARTS,
};

use crate::reference::WindowedGaussian;

/// Window of the windowed detectors.
const WINDOW: usize = 100;
const DAY_MS: i64 = 86_400_000;

/// Every detector name, in table order.
pub(crate) const NAMES: [&str; 14] = [
    "composite",
    "ranked-zscore",
    "ranked-iqr",
    "ranked-mad",
    "ranked-threshold",
    "ranked-seasonal",
    "ranked-pattern",
    "zscore",
    "iqr",
    "mad",
    "threshold",
    "seasonal",
    "pattern",
    "windowedgaussian",
];

fn build(name: &str) -> Option<Box<dyn Detector>> {
    Some(match name {
        "zscore" => Box::new(ZScore::new(WINDOW)),
        "iqr" => Box::new(Iqr::new(WINDOW)),
        "mad" => Box::new(Mad::new(WINDOW)),
        "threshold" => Box::new(Threshold::new()),
        "seasonal" => Box::new(Seasonal::new(DAY_MS, 288)),
        "pattern" => Box::new(Pattern::new()),
        _ => return None,
    })
}

/// The composite, or the composite with only one detector weighted (`ranked-<detector>`:
/// that detector's deviations through the composite's ranking and quiet period).
fn composite(name: &str) -> Option<CompositeConfig> {
    if name == "composite" {
        return Some(CompositeConfig::default());
    }
    let part = name.strip_prefix("ranked-")?;
    let i = PARTS.iter().position(|p| *p == part)?;
    let mut weights = [0.0; 6];
    weights[i] = 1.0;
    Some(CompositeConfig {
        weights,
        ..CompositeConfig::default()
    })
}

/// One score per row of a file, from a fresh detector.
pub(crate) fn run(name: &str, timestamps: &[i64], values: &[f64]) -> Vec<f64> {
    if let Some(config) = composite(name) {
        let mut c = Composite::new(config);
        return timestamps
            .iter()
            .zip(values)
            .map(|(t, v)| c.update(*t, *v).score)
            .collect();
    }
    if name == "windowedgaussian" {
        let mut d = WindowedGaussian::new();
        return values.iter().map(|v| d.update(*v)).collect();
    }
    let mut d = build(name).expect("a known detector");
    timestamps
        .iter()
        .zip(values)
        .map(|(t, v)| d.update(*t, *v).score())
        .collect()
}
