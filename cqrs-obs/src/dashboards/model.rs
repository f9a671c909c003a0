//! Serde types for the part of Grafana's dashboard JSON model that cqrs-obs emits.
//!
//! Field names follow Grafana's (camelCase); optional parts are left out of the JSON when
//! empty, so a generated dashboard validates against the strict dashboard schema of
//! `@grafana/schema` (no property Grafana does not define).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The dashboard `schemaVersion` the generated JSON is written for (Grafana 12).
pub const SCHEMA_VERSION: u32 = 41;

/// Width of Grafana's dashboard grid, in columns.
pub const GRID_COLUMNS: u32 = 24;

fn is_false(b: &bool) -> bool {
    !*b
}

/// A whole dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    /// Database id; always `null` in generated JSON (Grafana assigns it).
    pub id: Option<u64>,
    /// Stable identifier: deploying again replaces the dashboard with this uid.
    pub uid: String,
    /// Title.
    pub title: String,
    /// Tags (searchable in Grafana).
    pub tags: Vec<String>,
    /// `browser`, `utc` or an IANA zone; empty means the user's default.
    pub timezone: String,
    /// Whether users may edit it in Grafana.
    pub editable: bool,
    /// Cursor sync: 0 off, 1 shared crosshair, 2 shared crosshair and tooltip.
    pub graph_tooltip: u8,
    /// The JSON schema version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The dashboard's version; Grafana increments it on every save.
    pub version: u32,
    /// Auto-refresh interval (`30s`), empty for none.
    pub refresh: String,
    /// Default time range.
    pub time: TimeRange,
    /// Template variables.
    pub templating: Templating,
    /// Annotation queries.
    pub annotations: Annotations,
    /// Links shown at the top of the dashboard.
    pub links: Vec<DashboardLink>,
    /// Rows and panels, in grid order.
    pub panels: Vec<Item>,
}

impl Dashboard {
    /// Every panel, including those nested in collapsed rows (rows themselves excluded).
    pub fn all_panels(&self) -> impl Iterator<Item = &Panel> {
        self.panels.iter().flat_map(|item| match item {
            Item::Panel(p) => std::slice::from_ref(&**p).iter(),
            Item::Row(r) => r.panels.iter(),
        })
    }

    /// Every PromQL expression of every panel.
    pub fn expressions(&self) -> impl Iterator<Item = &str> {
        self.all_panels()
            .flat_map(|p| p.targets.iter())
            .map(|t| t.expr.as_str())
    }
}

/// A time range such as `now-6h` .. `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    /// Start.
    pub from: String,
    /// End.
    pub to: String,
}

/// A top-level dashboard entry: a panel or a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Item {
    /// A row header (with its panels inside when collapsed).
    Row(RowPanel),
    /// A panel (boxed: a panel is much larger than a row header).
    Panel(Box<Panel>),
}

/// The `type` of a row: always `row`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowType {
    /// `"row"`.
    Row,
}

/// A row header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RowPanel {
    /// Always [`RowType::Row`].
    #[serde(rename = "type")]
    pub kind: RowType,
    /// Panel id, unique in the dashboard.
    pub id: u32,
    /// Title.
    pub title: String,
    /// Whether the row is collapsed (its panels are then in `panels`).
    pub collapsed: bool,
    /// Position (full width, height 1).
    pub grid_pos: GridPos,
    /// Panels of a collapsed row; empty for an expanded one.
    pub panels: Vec<Panel>,
}

/// A panel's place on the 24-column grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridPos {
    /// Column, 0..24.
    pub x: u32,
    /// Row (in grid units of 30 px).
    pub y: u32,
    /// Width in columns.
    pub w: u32,
    /// Height in grid units.
    pub h: u32,
}

/// The visualisations cqrs-obs uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PanelType {
    /// Time series graph.
    Timeseries,
    /// Single big number.
    Stat,
    /// Gauge.
    Gauge,
    /// Heatmap (histogram buckets over time).
    Heatmap,
    /// Table.
    Table,
    /// Markdown text.
    Text,
    /// Grafana's alert list.
    #[serde(rename = "alertlist")]
    AlertList,
}

impl PanelType {
    /// The plugin id (`"timeseries"`).
    pub fn as_str(self) -> &'static str {
        match self {
            PanelType::Timeseries => "timeseries",
            PanelType::Stat => "stat",
            PanelType::Gauge => "gauge",
            PanelType::Heatmap => "heatmap",
            PanelType::Table => "table",
            PanelType::Text => "text",
            PanelType::AlertList => "alertlist",
        }
    }
}

/// A panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Panel {
    /// Panel id, unique in the dashboard.
    pub id: u32,
    /// Visualisation.
    #[serde(rename = "type")]
    pub kind: PanelType,
    /// Title.
    pub title: String,
    /// Position.
    pub grid_pos: GridPos,
    /// Data source of the queries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasource: Option<DataSourceRef>,
    /// Queries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
    /// Units, thresholds, value mappings.
    pub field_config: FieldConfigSource,
    /// Visualisation options (plugin specific).
    pub options: Map<String, Value>,
    /// Links in the panel header.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<DashboardLink>,
    /// Minimum query interval (`5s`), which also bounds `$__rate_interval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
}

/// A reference to a data source; `${datasource}` in generated dashboards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSourceRef {
    /// Plugin type (`prometheus`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Data source uid, or a variable such as `${datasource}`.
    pub uid: String,
}

impl DataSourceRef {
    /// The Prometheus data source chosen with the `datasource` variable.
    pub fn prometheus_variable() -> DataSourceRef {
        DataSourceRef {
            kind: "prometheus".into(),
            uid: "${datasource}".into(),
        }
    }
}

/// How Grafana should shape a query's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetFormat {
    /// One series per label set.
    TimeSeries,
    /// Histogram buckets for a heatmap.
    Heatmap,
    /// Rows of a table.
    Table,
}

/// A Prometheus query of a panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    /// `A`, `B`, ... unique in the panel.
    pub ref_id: String,
    /// The PromQL expression (may use dashboard variables).
    pub expr: String,
    /// Series name template (`{{command}} p95`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legend_format: Option<String>,
    /// Result shape.
    pub format: TargetFormat,
    /// Evaluate at the end of the range only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub instant: bool,
    /// Evaluate over the whole range.
    pub range: bool,
    /// Data source (same as the panel's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasource: Option<DataSourceRef>,
}

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
    /// Absolute steps from a base colour: `absolute("green", &[(0.01, "red")])`.
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

/// Template variables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Templating {
    /// The variables, in display order.
    pub list: Vec<Variable>,
}

/// Kinds of template variable cqrs-obs uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VariableType {
    /// Picks a data source of a plugin type.
    Datasource,
    /// Values from a data source query (`label_values(..)`).
    Query,
    /// A fixed list.
    Custom,
    /// Free text.
    Textbox,
    /// A hidden constant.
    Constant,
}

/// A template variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Variable {
    /// Name, used as `$name` in queries.
    pub name: String,
    /// Label shown in the variable bar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Kind.
    #[serde(rename = "type")]
    pub kind: VariableType,
    /// The query (PromQL `label_values(..)`, a plugin type, or a comma-separated list).
    pub query: String,
    /// Data source of a query variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasource: Option<DataSourceRef>,
    /// Selected value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<VariableOption>,
    /// Static options (custom variables).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<VariableOption>,
    /// Several values may be selected.
    #[serde(default)]
    pub multi: bool,
    /// Offers an "All" option.
    #[serde(default)]
    pub include_all: bool,
    /// Value of "All" (a regex matching everything).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_value: Option<String>,
    /// When query variables refresh: 1 on load, 2 on time range change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<u8>,
    /// 0 shown, 2 hidden.
    #[serde(default)]
    pub hide: u8,
    /// Sort of query results (1 alphabetical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<u8>,
}

/// One value of a variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariableOption {
    /// Shown text.
    pub text: String,
    /// Interpolated value.
    pub value: String,
    /// Whether it is selected.
    #[serde(default)]
    pub selected: bool,
}

/// Annotation queries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Annotations {
    /// The queries.
    pub list: Vec<AnnotationQuery>,
}

/// An annotation query (cqrs-obs emits Grafana's built-in one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnnotationQuery {
    /// 1 for the built-in "Annotations & Alerts".
    pub built_in: u8,
    /// Where the annotations come from.
    pub datasource: DataSourceRef,
    /// Shown by default.
    pub enable: bool,
    /// Toggle hidden.
    pub hide: bool,
    /// Marker colour.
    pub icon_color: String,
    /// Name.
    pub name: String,
    /// `dashboard` for the built-in query.
    #[serde(rename = "type")]
    pub kind: String,
}

impl AnnotationQuery {
    /// Grafana's built-in "Annotations & Alerts" query.
    pub fn built_in() -> AnnotationQuery {
        AnnotationQuery {
            built_in: 1,
            datasource: DataSourceRef {
                kind: "grafana".into(),
                uid: "-- Grafana --".into(),
            },
            enable: true,
            hide: true,
            icon_color: "rgba(0, 211, 255, 1)".into(),
            name: "Annotations & Alerts".into(),
            kind: "dashboard".into(),
        }
    }
}

/// A link at the top of a dashboard or in a panel header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DashboardLink {
    /// Text.
    pub title: String,
    /// `link` (a URL) or `dashboards` (by tag).
    #[serde(rename = "type")]
    pub kind: String,
    /// The URL (may use variables).
    pub url: String,
    /// Dashboards with these tags (for `dashboards` links).
    pub tags: Vec<String>,
    /// Show tagged dashboards as a dropdown.
    pub as_dropdown: bool,
    /// Icon (`external link`, `dashboard`, `doc`).
    pub icon: String,
    /// Append the current variable values.
    pub include_vars: bool,
    /// Append the current time range.
    pub keep_time: bool,
    /// Open in a new tab.
    pub target_blank: bool,
    /// Tooltip.
    pub tooltip: String,
}

impl DashboardLink {
    /// A plain URL link opening in a new tab.
    pub fn url(title: &str, url: &str, tooltip: &str) -> DashboardLink {
        DashboardLink {
            title: title.into(),
            kind: "link".into(),
            url: url.into(),
            tags: Vec::new(),
            as_dropdown: false,
            icon: "external link".into(),
            include_vars: false,
            keep_time: false,
            target_blank: true,
            tooltip: tooltip.into(),
        }
    }

    /// A dropdown of the dashboards carrying `tag`, keeping time and variables.
    pub fn tagged(title: &str, tag: &str) -> DashboardLink {
        DashboardLink {
            title: title.into(),
            kind: "dashboards".into(),
            url: String::new(),
            tags: vec![tag.into()],
            as_dropdown: true,
            icon: "dashboard".into(),
            include_vars: true,
            keep_time: true,
            target_blank: false,
            tooltip: String::new(),
        }
    }
}
