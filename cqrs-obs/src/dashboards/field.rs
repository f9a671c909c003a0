//! Field configuration of a panel: units, thresholds, value mappings, colours, data links.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Field configuration: defaults and per-field overrides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldConfigSource {
    /// Applies to every field.
    pub defaults: FieldConfig,
    /// Per-field overrides (cqrs-obs emits none).
    pub overrides: Vec<Value>,
}

/// Display configuration of a field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldConfig {
    /// Unit id (`s`, `reqps`, `percentunit`, `short`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Axis / gauge minimum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Axis / gauge maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Decimals shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u8>,
    /// Colour steps; with [`FieldConfig::custom`] `thresholdsStyle` they are drawn as lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Thresholds>,
    /// Value to text mappings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mappings: Vec<ValueMapping>,
    /// Colour scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<FieldColor>,
    /// Text shown when there is no data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_value: Option<String>,
    /// Data links on each value (may use `${__field.labels.<name>}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<DataLink>,
    /// Visualisation-specific field options (`fieldConfig.defaults.custom`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub custom: Map<String, Value>,
}

/// A link on a data point.
///
/// ```
/// let link = cqrs_obs::dashboards::DataLink::new("Logs", "${admin}/logs?q=${__field.labels.command}");
/// assert!(link.target_blank);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataLink {
    /// Text.
    pub title: String,
    /// URL (may use variables and `${__field.labels.<name>}`).
    pub url: String,
    /// Open in a new tab.
    pub target_blank: bool,
}

impl DataLink {
    /// A link opening in a new tab.
    pub fn new(title: &str, url: &str) -> DataLink {
        DataLink {
            title: title.into(),
            url: url.into(),
            target_blank: true,
        }
    }
}

/// Colour steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Absolute values or percentages of min..max.
    pub mode: ThresholdsMode,
    /// Steps in increasing order; the first has no value (the base colour).
    pub steps: Vec<Threshold>,
}

impl Thresholds {
    /// Absolute steps from a base colour.
    ///
    /// ```
    /// use cqrs_obs::dashboards::Thresholds;
    /// let t = Thresholds::absolute("green", &[(0.01, "red")]);
    /// assert_eq!(t.steps[0].value, None);
    /// assert_eq!(t.steps[1].value, Some(0.01));
    /// ```
    pub fn absolute(base: &str, steps: &[(f64, &str)]) -> Thresholds {
        let mut all = vec![Threshold {
            color: base.to_owned(),
            value: None,
        }];
        all.extend(steps.iter().map(|(v, c)| Threshold {
            color: (*c).to_owned(),
            value: Some(*v),
        }));
        Thresholds {
            mode: ThresholdsMode::Absolute,
            steps: all,
        }
    }
}

/// How threshold values are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdsMode {
    /// Plain values.
    Absolute,
    /// Percent of the min..max range.
    Percentage,
}

/// One colour step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// Colour name or hex.
    pub color: String,
    /// Lower bound; `null` for the base step.
    pub value: Option<f64>,
}

/// Maps values to text and colour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ValueMapping {
    /// Exact values.
    Value {
        /// Value (as text) to its display.
        options: BTreeMap<String, MappingResult>,
    },
}

/// What a mapped value shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MappingResult {
    /// Text shown.
    pub text: String,
    /// Colour.
    pub color: String,
}

/// Colour scheme of a field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldColor {
    /// `palette-classic`, `thresholds`, `fixed`, ...
    pub mode: String,
}
