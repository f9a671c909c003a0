//! Serde types for the part of Grafana's dashboard JSON model that cqrs-obs emits.
//!
//! Field names follow Grafana's (camelCase); optional parts are left out of the JSON when
//! empty, so a generated dashboard validates against the strict dashboard schema of
//! `@grafana/schema` (no property Grafana does not define).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::field::FieldConfigSource;
use super::templating::{Annotations, DashboardLink, Templating};

/// The dashboard `schemaVersion` the generated JSON is written for (Grafana 12).
pub const SCHEMA_VERSION: u32 = 41;

/// Width of Grafana's dashboard grid, in columns.
pub const GRID_COLUMNS: u32 = 24;

fn is_false(b: &bool) -> bool {
    !*b
}

/// A whole dashboard.
///
/// ```
/// use cqrs_obs::dashboards::{DashboardBuilder, Item};
/// let d = DashboardBuilder::new("u", "T")
///     .row("Traffic")
///     .stat_panel("Calls/s", "sum(rate(cqrs_commands_total[1m]))")
///     .build();
/// assert!(matches!(d.panels[0], Item::Row(_)));
/// assert_eq!(d.expressions().collect::<Vec<_>>(), ["sum(rate(cqrs_commands_total[1m]))"]);
/// ```
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
    /// Transformations of the query results (`merge`, `organize`), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transformations: Vec<Transformation>,
    /// Minimum query interval (`5s`), which also bounds `$__rate_interval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
}

/// A transformation of a panel's query results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transformation {
    /// Transformation id (`merge`, `organize`).
    pub id: String,
    /// Its options.
    pub options: Value,
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
