//! A panel before layout: its type, queries, field configuration and size.

use serde_json::{json, Map, Value};

use super::builder::DashboardConfig;
use super::{
    DashboardLink, DataLink, FieldColor, FieldConfig, FieldConfigSource, GridPos, Panel, PanelType,
    Target, TargetFormat, Thresholds, Transformation, ValueMapping, GRID_COLUMNS,
};

/// A panel before layout: what it shows and how big it is.
///
/// ```
/// use cqrs_obs::dashboards::PanelSpec;
/// let spec = PanelSpec::timeseries("Commands/s")
///     .query("sum(rate(cqrs_commands_total[$__rate_interval]))", "commands")
///     .unit("reqps")
///     .size(12, 8);
/// assert_eq!(spec.width(), 12);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PanelSpec {
    kind: PanelType,
    title: String,
    queries: Vec<(String, Option<String>, TargetFormat, bool)>,
    field: FieldConfig,
    options: Map<String, Value>,
    links: Vec<DashboardLink>,
    transformations: Vec<Transformation>,
    pub(super) w: u32,
    pub(super) h: u32,
}

impl PanelSpec {
    /// A panel of any type, 8 × 8 by default.
    pub fn new(kind: PanelType, title: &str) -> PanelSpec {
        PanelSpec {
            kind,
            title: title.to_owned(),
            queries: Vec::new(),
            field: FieldConfig::default(),
            options: Map::new(),
            links: Vec::new(),
            transformations: Vec::new(),
            w: 8,
            h: 8,
        }
    }

    /// A time series graph with a legend table.
    pub fn timeseries(title: &str) -> PanelSpec {
        let mut spec = PanelSpec::new(PanelType::Timeseries, title).size(12, 8);
        spec.options = object(json!({
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": true, "calcs": []},
            "tooltip": {"mode": "multi", "sort": "desc"}
        }));
        spec.field.custom =
            object(json!({"fillOpacity": 10, "lineWidth": 1, "showPoints": "never"}));
        spec
    }

    /// A single number (last value of the query).
    pub fn stat(title: &str) -> PanelSpec {
        let mut spec = PanelSpec::new(PanelType::Stat, title).size(4, 4);
        spec.options = object(json!({
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
            "colorMode": "value", "graphMode": "area", "justifyMode": "auto",
            "orientation": "auto", "textMode": "auto", "wideLayout": true,
            "showPercentChange": false, "percentChangeColorMode": "standard"
        }));
        spec
    }

    /// A gauge (last value between min and max).
    pub fn gauge(title: &str) -> PanelSpec {
        let mut spec = PanelSpec::new(PanelType::Gauge, title).size(6, 6);
        spec.options = object(json!({
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
            "showThresholdLabels": false, "showThresholdMarkers": true,
            "orientation": "auto", "shape": "gauge", "sizing": "auto", "barShape": "flat",
            "barWidthFactor": 0.5, "segmentCount": 1, "segmentSpacing": 0.3,
            "minVizHeight": 75, "minVizWidth": 75, "effects": {}
        }));
        spec
    }

    /// A heatmap of histogram buckets (queries are read as `format: heatmap`).
    pub fn heatmap(title: &str) -> PanelSpec {
        let mut spec = PanelSpec::new(PanelType::Heatmap, title).size(12, 8);
        spec.options = object(json!({
            "calculate": false,
            "cellGap": 1,
            "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64, "exponent": 0.5, "fill": "dark-orange", "reverse": false, "scale": "exponential"},
            "yAxis": {"axisPlacement": "left", "unit": "s", "reverse": false},
            "rowsFrame": {"layout": "auto"},
            "tooltip": {"mode": "single", "yHistogram": false, "showColorScale": false},
            "legend": {"show": true},
            "exemplars": {"color": "rgba(255,0,255,0.7)"},
            "cellValues": {},
            "filterValues": {"le": 1e-9},
            "showValue": "auto"
        }));
        spec
    }

    /// A table of instant query results.
    pub fn table(title: &str) -> PanelSpec {
        let mut spec = PanelSpec::new(PanelType::Table, title).size(24, 8);
        spec.options = object(json!({"showHeader": true, "cellHeight": "sm", "frameIndex": 0}));
        spec
    }

    /// A Markdown text panel.
    pub fn text(title: &str, markdown: &str) -> PanelSpec {
        let mut spec = PanelSpec::new(PanelType::Text, title).size(24, 3);
        spec.options = object(json!({"mode": "markdown", "content": markdown}));
        spec
    }

    /// Grafana's alert list, showing the alerts named `alert_name` with `label_filter`
    /// (`{slo_id="x"}`).
    pub fn alert_list(title: &str, alert_name: &str, label_filter: &str) -> PanelSpec {
        let mut spec = PanelSpec::new(PanelType::AlertList, title).size(24, 6);
        spec.options = object(json!({
            "viewMode": "list", "groupMode": "default", "groupBy": [], "maxItems": 20,
            "sortOrder": 1, "dashboardAlerts": false, "alertName": alert_name,
            "alertInstanceLabelFilter": label_filter, "datasource": "${datasource}",
            "stateFilter": {"firing": true, "pending": true, "noData": false, "normal": false, "error": true}
        }));
        spec
    }

    /// Adds a PromQL query shown with `legend` (`{{command}}`).
    pub fn query(mut self, expr: &str, legend: &str) -> PanelSpec {
        let format = match self.kind {
            PanelType::Heatmap => TargetFormat::Heatmap,
            PanelType::Table => TargetFormat::Table,
            _ => TargetFormat::TimeSeries,
        };
        let instant = self.kind == PanelType::Table;
        let legend = (!legend.is_empty()).then(|| legend.to_owned());
        self.queries
            .push((expr.to_owned(), legend, format, instant));
        self
    }

    /// Sets the width (columns, clamped to 1..=24) and height.
    pub fn size(mut self, w: u32, h: u32) -> PanelSpec {
        self.w = w.clamp(1, GRID_COLUMNS);
        self.h = h.max(1);
        self
    }

    /// The width in columns.
    pub fn width(&self) -> u32 {
        self.w
    }

    /// Sets the unit (`s`, `reqps`, `percentunit`, `short`).
    pub fn unit(mut self, unit: &str) -> PanelSpec {
        self.field.unit = Some(unit.to_owned());
        self
    }

    /// Sets the value range.
    pub fn range(mut self, min: Option<f64>, max: Option<f64>) -> PanelSpec {
        self.field.min = min;
        self.field.max = max;
        self
    }

    /// Sets colour thresholds; on a time series they are also drawn as dashed lines.
    pub fn thresholds(mut self, thresholds: Thresholds) -> PanelSpec {
        if self.kind == PanelType::Timeseries {
            self.field
                .custom
                .insert("thresholdsStyle".into(), json!({"mode": "dashed"}));
        }
        if matches!(self.kind, PanelType::Stat | PanelType::Gauge) {
            self.field.color = Some(FieldColor {
                mode: "thresholds".into(),
            });
        }
        self.field.thresholds = Some(thresholds);
        self
    }

    /// Adds value mappings (`1` → `UP`).
    pub fn mappings(mut self, mappings: Vec<ValueMapping>) -> PanelSpec {
        self.field.mappings.extend(mappings);
        self
    }

    /// Stacks the series of a time series panel.
    pub fn stacked(mut self) -> PanelSpec {
        self.field
            .custom
            .insert("stacking".into(), json!({"mode": "normal", "group": "A"}));
        self
    }

    /// Adds a link on every data point (Grafana's data links).
    pub fn data_link(mut self, link: DataLink) -> PanelSpec {
        self.field.links.push(link);
        self
    }

    /// Adds a transformation of the query results.
    pub fn transform(mut self, id: &str, options: Value) -> PanelSpec {
        self.transformations.push(Transformation {
            id: id.to_owned(),
            options,
        });
        self
    }

    /// Adds a link to the panel header.
    pub fn link(mut self, link: DashboardLink) -> PanelSpec {
        self.links.push(link);
        self
    }

    /// Sets one visualisation option.
    pub fn option(mut self, key: &str, value: Value) -> PanelSpec {
        self.options.insert(key.to_owned(), value);
        self
    }

    pub(super) fn into_panel(self, id: u32, grid_pos: GridPos, config: &DashboardConfig) -> Panel {
        let has_queries = !self.queries.is_empty();
        let targets = self
            .queries
            .into_iter()
            .enumerate()
            .map(|(i, (expr, legend_format, format, instant))| Target {
                ref_id: ref_id(i),
                expr,
                legend_format,
                format,
                instant,
                range: !instant,
                datasource: Some(config.datasource.clone()),
            })
            .collect();
        Panel {
            id,
            kind: self.kind,
            title: self.title,
            grid_pos,
            datasource: has_queries.then(|| config.datasource.clone()),
            targets,
            field_config: FieldConfigSource {
                defaults: self.field,
                overrides: Vec::new(),
            },
            options: self.options,
            links: self.links,
            transformations: self.transformations,
            interval: config.min_interval.clone().filter(|_| has_queries),
        }
    }
}

/// `A`..`Z`, then `AA`, `AB`, ...
fn ref_id(i: usize) -> String {
    let letter = |n: usize| char::from(b'A' + (n % 26) as u8);
    if i < 26 {
        letter(i).to_string()
    } else {
        format!("{}{}", letter(i / 26 - 1), letter(i))
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_ids_are_letters() {
        assert_eq!(ref_id(0), "A");
        assert_eq!(ref_id(25), "Z");
        assert_eq!(ref_id(26), "AA");
        assert_eq!(ref_id(27), "AB");
    }
}
