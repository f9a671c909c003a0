//! Dashboard-level parts: template variables, annotations and links.

use serde::{Deserialize, Serialize};

use super::model::DataSourceRef;

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
