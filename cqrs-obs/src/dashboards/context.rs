//! Generation state, and what every generated dashboard shares: settings per template,
//! variables, links, and which SLOs concern which handlers.

use std::collections::BTreeSet;

use super::builder::{DashboardBuilder, DashboardConfig};
use super::query::{self, Family};
use super::{
    DashboardKind, DashboardLink, DataSourceRef, Sources, Template, Variable, VariableOption,
    VariableType,
};
use crate::handler::{HandlerKind, HandlerMeta};
use crate::metrics::names;
use crate::slo::{Handlers, Sli, Slo};

/// Generation state: sources and template.
pub(crate) struct Context<'a> {
    pub(crate) sources: &'a Sources,
    pub(crate) template: Template,
}

impl Context<'_> {
    pub(crate) fn production(&self) -> bool {
        self.template == Template::Production
    }

    pub(crate) fn full(&self) -> bool {
        self.template != Template::Minimal
    }

    /// The families that have at least one registered handler.
    pub(crate) fn families(&self) -> Vec<Family> {
        query::FAMILIES
            .into_iter()
            .filter(|f| self.sources.handlers.iter().any(|h| h.kind == f.kind))
            .collect()
    }

    /// Distinct values of a handler field, sorted.
    pub(crate) fn distinct(&self, f: impl Fn(&HandlerMeta) -> Option<&'static str>) -> Vec<&str> {
        let set: BTreeSet<&str> = self.sources.handlers.iter().filter_map(f).collect();
        set.into_iter().collect()
    }

    /// The kind of the handlers an SLI counts, if they are of one kind.
    pub(crate) fn slo_kind(&self, handlers: &Handlers) -> Option<HandlerKind> {
        match handlers {
            Handlers::Kind(kind) => Some(*kind),
            Handlers::Named(name) => self.handler(|h| h.name == *name),
            Handlers::Message(message) => self.handler(|h| h.message == *message),
        }
    }

    fn handler(&self, f: impl Fn(&HandlerMeta) -> bool) -> Option<HandlerKind> {
        self.sources.handlers.iter().find(|h| f(h)).map(|h| h.kind)
    }

    /// The SLOs whose SLI counts handlers of `kind`, with the SLI.
    pub(crate) fn slos_of(&self, kind: HandlerKind) -> impl Iterator<Item = &Slo> {
        self.sources.slos.iter().filter(move |slo| match &slo.sli {
            Sli::Availability { handlers, .. }
            | Sli::Latency { handlers, .. }
            | Sli::Throughput { handlers, .. } => self.slo_kind(handlers) == Some(kind),
            _ => false,
        })
    }

    /// A builder with the template's settings, the variables and the links.
    pub(crate) fn builder(&self, kind: DashboardKind) -> DashboardBuilder {
        let service = &self.sources.service;
        let uid = format!(
            "{}-{}{}",
            uid_prefix(service),
            kind.slug(),
            self.template.uid_suffix()
        );
        let title = match self.template {
            Template::Production => format!("{service} / {}", kind.title()),
            t => format!("{service} / {} ({})", kind.title(), t.as_str()),
        };
        let config = DashboardConfig {
            refresh: match self.template {
                Template::Minimal => "1m",
                Template::Development => "10s",
                Template::Production => "30s",
            }
            .into(),
            time_from: match self.template {
                Template::Development => "now-30m",
                Template::Minimal => "now-1h",
                Template::Production => "now-6h",
            }
            .into(),
            tags: vec![
                "cqrs-obs".into(),
                service.clone(),
                self.template.as_str().into(),
            ],
            datasource: DataSourceRef::prometheus_variable(),
            min_interval: (self.template == Template::Development).then(|| "5s".into()),
        };
        let mut builder = DashboardBuilder::new(&uid, &title)
            .config(config)
            .link(DashboardLink::tagged("Dashboards", service));
        for variable in self.variables() {
            builder = builder.variable(variable);
        }
        if self.full() {
            let admin = "${admin}";
            builder = builder
                .link(DashboardLink::url(
                    "Handlers",
                    &format!("{admin}/handlers"),
                    "Registered handlers and their calls (admin endpoint)",
                ))
                .link(DashboardLink::url(
                    "Logs",
                    &format!("{admin}/logs"),
                    "The service's recent logs (admin endpoint)",
                ))
                .link(DashboardLink::url(
                    "Warnings and errors",
                    &format!("{admin}/logs?level=warn"),
                    "Log entries at warn level and above (admin endpoint)",
                ));
        }
        if self.production() {
            builder = builder.link(DashboardLink::url(
                "SLO rules",
                "${admin}/slo/rules",
                "The Prometheus recording and alerting rules these panels read",
            ));
        }
        builder
    }

    fn variables(&self) -> Vec<Variable> {
        let prometheus = Some(DataSourceRef::prometheus_variable());
        let query_variable = |name: &str, label: &str, query: String| Variable {
            name: name.into(),
            label: Some(label.into()),
            kind: VariableType::Query,
            query,
            datasource: prometheus.clone(),
            current: None,
            options: Vec::new(),
            multi: true,
            include_all: true,
            all_value: Some(".*".into()),
            refresh: Some(2),
            hide: 0,
            sort: Some(1),
        };
        let mut list = vec![
            Variable {
                name: "datasource".into(),
                label: Some("Data source".into()),
                kind: VariableType::Datasource,
                query: "prometheus".into(),
                datasource: None,
                current: None,
                options: Vec::new(),
                multi: false,
                include_all: false,
                all_value: None,
                refresh: Some(1),
                hide: 0,
                sort: None,
            },
            query_variable(
                "service",
                "Service (job)",
                format!("label_values({}, job)", names::HANDLERS_IN_FLIGHT),
            ),
            query_variable(
                "instance",
                "Instance",
                format!(
                    "label_values({}{{job=~\"$service\"}}, instance)",
                    names::HANDLERS_IN_FLIGHT
                ),
            ),
            self.handler_variable(),
        ];
        if self.full() {
            let url = self.sources.admin_url.clone();
            list.push(Variable {
                name: "admin".into(),
                label: Some("Admin endpoint".into()),
                kind: VariableType::Textbox,
                query: url.clone(),
                datasource: None,
                current: Some(VariableOption {
                    text: url.clone(),
                    value: url,
                    selected: true,
                }),
                options: Vec::new(),
                multi: false,
                include_all: false,
                all_value: None,
                refresh: None,
                hide: 0,
                sort: None,
            });
        }
        list
    }

    /// `$handler`: one option per registered handler, valued by the label that identifies
    /// its series (command type, event handler name, query type).
    fn handler_variable(&self) -> Variable {
        let mut options = vec![VariableOption {
            text: "All".into(),
            value: "$__all".into(),
            selected: true,
        }];
        // Sorted by kind then name; the text says which handler and kind a value stands for.
        let mut handlers: Vec<&HandlerMeta> = self.sources.handlers.iter().collect();
        handlers.sort_by_key(|h| (h.kind.as_str(), h.name));
        let mut seen = BTreeSet::new();
        let mut pairs = Vec::new();
        for h in handlers {
            let value = match h.kind {
                HandlerKind::Event => h.name,
                _ => h.message,
            };
            if seen.insert(value) {
                let text = format!("{} ({} {})", h.name, h.kind.as_str(), h.message);
                pairs.push(format!("{} : {value}", text.replace(',', "\\,")));
                options.push(VariableOption {
                    text,
                    value: value.into(),
                    selected: false,
                });
            }
        }
        // Grafana's custom-variable syntax: `text : value` pairs, comma-separated.
        let query = pairs.join(",");
        Variable {
            name: "handler".into(),
            label: Some("Handler".into()),
            kind: VariableType::Custom,
            query,
            datasource: None,
            current: Some(options[0].clone()),
            options,
            multi: true,
            include_all: true,
            all_value: Some(".*".into()),
            refresh: None,
            hide: 0,
            sort: None,
        }
    }
}

/// A uid prefix from the service name: lowercase letters, digits and `-`, at most 24 bytes,
/// so that `<prefix>-projections-min` stays within Grafana's 40.
fn uid_prefix(service: &str) -> String {
    let mut slug: String = service
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    slug.truncate(24);
    let slug = slug.trim_matches('-');
    if slug.is_empty() {
        "cqrs".to_owned()
    } else {
        slug.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_prefixes_are_short_slugs() {
        assert_eq!(uid_prefix("Bank Service"), "bank-service");
        assert_eq!(uid_prefix("%%"), "cqrs");
        assert!(uid_prefix(&"x".repeat(100)).len() <= 24);
        assert_eq!("production".parse::<Template>(), Ok(Template::Production));
        assert!("prod".parse::<Template>().is_err());
    }
}
