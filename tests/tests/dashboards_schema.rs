//! Every generated dashboard, in every template, for the bank's registry: validates against
//! Grafana's strict dashboard JSON schema (and each panel's options and custom field config
//! against the panel plugin's schema), has unique panel ids and query refIds, stays inside
//! the 24-column grid without overlaps, uses only variables it defines, and every PromQL
//! expression parses (promtool). The SLO panels use the same record names and thresholds as
//! the generated Prometheus rules.
//!
//! `CQRS_OBS_DASHBOARDS_OUT=<dir>` also writes the bank's dashboards there, to look at them.

mod dashboards_common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use cqrs_obs::dashboards::{
    self, Dashboard, DashboardKind, GridPos, Item, PanelType, Template, GRID_COLUMNS,
};
use cqrs_obs::handler::HandlerKind;
use cqrs_obs_tests::peer::{require_program, workspace_root, TempDir};
use dashboards_common::{
    all_dashboards, bank_sources, promtool_parses, referenced_variables, strings, substitute,
    BUILT_INS,
};
use serde_json::Value;

/// Validates dashboards against the schemas with Python's `jsonschema` (draft-07).
const VALIDATOR: &str = r#"
import json, os, sys
import jsonschema
schemas, files = sys.argv[1], sys.argv[2:]
def load(name):
    path = os.path.join(schemas, name)
    return json.load(open(path)) if os.path.exists(path) else None
dashboard = load("dashboard.strict.schema.json")
errors = []
def check(schema, instance, where):
    if schema is None:
        return
    v = jsonschema.Draft7Validator(schema)
    for e in v.iter_errors(instance):
        errors.append("%s: %s at %s" % (where, e.message, "/".join(map(str, e.absolute_path))))
checked = 0
for f in files:
    d = json.load(open(f))
    check(dashboard, d, f)
    panels = []
    for p in d.get("panels", []):
        panels.append(p)
        panels.extend(p.get("panels", []))
    for p in panels:
        t = p["type"]
        where = "%s panel %s (%s)" % (os.path.basename(f), p.get("id"), t)
        check(load("panels/%s.options.schema.json" % t), p.get("options", {}), where + " options")
        custom = p.get("fieldConfig", {}).get("defaults", {}).get("custom")
        if custom is not None:
            check(load("panels/%s.fieldconfig.schema.json" % t), custom, where + " fieldConfig.custom")
    checked += 1
if errors:
    print("\n".join(errors))
    sys.exit(1)
print("validated %d dashboards" % checked)
"#;

fn schema_dir() -> PathBuf {
    let dir = std::env::var_os("CQRS_OBS_GRAFANA_SCHEMAS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/grafana-schemas"));
    assert!(
        dir.join("dashboard.strict.schema.json").is_file(),
        "Grafana's dashboard schemas are not at {} (set CQRS_OBS_GRAFANA_SCHEMAS)",
        dir.display()
    );
    dir
}

fn python_with_jsonschema() -> PathBuf {
    let python = require_program("python3");
    let ok = Command::new(&python)
        .args(["-c", "import jsonschema"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 cannot import `jsonschema`; install the test dependencies with \
         scripts/install-test-deps.sh (it installs it with pip or apt)"
    );
    python
}

#[test]
fn every_dashboard_validates_against_grafanas_schemas() {
    let python = python_with_jsonschema();
    let all = all_dashboards(&bank_sources());
    let dir = TempDir::new("dashboards-schema");
    let dashboards: Vec<_> = all.iter().map(|(_, d)| d.clone()).collect();
    // The files `export` writes are what is validated.
    let files = dashboards::export(dir.path(), &dashboards).expect("exporting");
    assert_eq!(
        files.len(),
        all.len(),
        "one file per dashboard (unique uids)"
    );
    // To look at them (or import them into a Grafana): CQRS_OBS_DASHBOARDS_OUT=<dir>.
    if let Some(out) = std::env::var_os("CQRS_OBS_DASHBOARDS_OUT") {
        dashboards::export(std::path::Path::new(&out), &dashboards).expect("exporting");
    }
    let output = Command::new(python)
        .arg("-c")
        .arg(VALIDATOR)
        .arg(schema_dir())
        .args(&files)
        .output()
        .expect("python3 runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "schema validation failed:\n{text}");
    assert!(
        text.contains(&format!("validated {} dashboards", all.len())),
        "{text}"
    );
    // 5 + 5 + 6.
    assert_eq!(all.len(), 16);
}

fn grid_pos(item: &Item) -> (u32, GridPos) {
    match item {
        Item::Panel(p) => (p.id, p.grid_pos),
        Item::Row(r) => (r.id, r.grid_pos),
    }
}

fn overlap(a: GridPos, b: GridPos) -> bool {
    a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
}

#[test]
fn ids_are_unique_and_panels_stay_on_the_grid() {
    let mut uids = BTreeSet::new();
    for (template, d) in all_dashboards(&bank_sources()) {
        let name = format!("{} ({})", d.uid, template.as_str());
        assert!(uids.insert(d.uid.clone()), "uid {} twice", d.uid);
        assert!(d.uid.len() <= 40, "{name}: uid longer than 40");
        let placed: Vec<(u32, GridPos)> = d.panels.iter().map(grid_pos).collect();
        let ids: BTreeSet<u32> = placed.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids.len(), placed.len(), "{name}: duplicate panel ids");
        for (i, (id, pos)) in placed.iter().enumerate() {
            assert!(
                pos.w >= 1 && pos.h >= 1 && pos.x + pos.w <= GRID_COLUMNS,
                "{name}: panel {id} at {pos:?} is outside the grid"
            );
            for (other, other_pos) in &placed[i + 1..] {
                assert!(
                    !overlap(*pos, *other_pos),
                    "{name}: panels {id} {pos:?} and {other} {other_pos:?} overlap"
                );
            }
        }
        for panel in d.all_panels() {
            let refs: BTreeSet<&str> = panel.targets.iter().map(|t| t.ref_id.as_str()).collect();
            assert_eq!(
                refs.len(),
                panel.targets.len(),
                "{name}: panel {} refIds",
                panel.id
            );
            let needs_query = !matches!(panel.kind, PanelType::Text | PanelType::AlertList);
            assert_eq!(
                needs_query,
                !panel.targets.is_empty(),
                "{name}: panel {}",
                panel.id
            );
        }
    }
}

#[test]
fn dashboards_use_only_variables_they_define() {
    for (template, d) in all_dashboards(&bank_sources()) {
        let defined: BTreeSet<String> = d
            .templating
            .list
            .iter()
            .map(|v| v.name.clone())
            .chain(BUILT_INS.iter().map(|s| (*s).to_owned()))
            .collect();
        let json = serde_json::to_value(&d).unwrap();
        let mut all = Vec::new();
        strings(&json, String::new(), &mut all);
        let mut used = BTreeSet::new();
        for (path, text) in all {
            for name in referenced_variables(text) {
                assert!(
                    defined.contains(&name),
                    "{} ({}): `${name}` at {path} is not defined: {text}",
                    d.uid,
                    template.as_str()
                );
                used.insert(name);
            }
        }
        // The SLO dashboard reads recorded series, which carry no job or instance.
        let required: &[&str] = if d.uid.ends_with("-slos") {
            &["datasource"]
        } else {
            &["datasource", "service", "instance", "handler"]
        };
        for required in required {
            assert!(used.contains(*required), "{}: `${required}` unused", d.uid);
        }
    }
}

#[test]
fn variable_scanner_finds_what_grafana_interpolates() {
    let found = referenced_variables(
        "rate(x{a=~\"$handler\"}[$__rate_interval]) ${datasource} [[old]] ${admin:raw}/x ${__field.labels.a}",
    );
    let want: BTreeSet<String> = ["handler", "__rate_interval", "datasource", "old", "admin"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(found, want);
}

#[test]
fn every_promql_expression_parses() {
    let mut exprs = BTreeSet::new();
    for (_, d) in all_dashboards(&bank_sources()) {
        for expr in d.expressions() {
            exprs.insert(substitute(expr, ".*", "1m"));
        }
        for v in &d.templating.list {
            if v.query.starts_with("label_values(") {
                // label_values(<selector>, label): the selector must parse.
                let inner = &v.query["label_values(".len()..v.query.rfind(',').unwrap()];
                exprs.insert(substitute(inner, ".*", "1m"));
            }
        }
    }
    let exprs: Vec<String> = exprs.into_iter().collect();
    assert!(exprs.len() > 50, "only {} expressions", exprs.len());
    promtool_parses(&exprs).unwrap_or_else(|e| panic!("{e}"));
}

/// The thresholds in the rules' burn-rate alerts, by SLO id: `(long, short) -> threshold`.
fn rule_thresholds(yaml: &str) -> BTreeMap<String, BTreeSet<(String, String, String)>> {
    let mut out: BTreeMap<String, BTreeSet<_>> = BTreeMap::new();
    for line in yaml
        .lines()
        .filter(|l| l.contains("expr: \"(slo:sli_error:ratio_rate"))
    {
        // expr: "(slo:sli_error:ratio_rate1h{slo_id=\"x\"} >= T) and (slo:sli_error:ratio_rate5m{..} >= T) and ..."
        let parts: Vec<&str> = line.split("slo:sli_error:ratio_rate").skip(1).collect();
        let window = |p: &str| p[..p.find('{').unwrap()].to_owned();
        let id = parts[0].split("slo_id=\\\"").nth(1).unwrap();
        let id = id[..id.find('\\').unwrap()].to_owned();
        let threshold = parts[0].split(">= ").nth(1).unwrap();
        let threshold = threshold[..threshold.find(')').unwrap()].to_owned();
        out.entry(id)
            .or_default()
            .insert((window(parts[0]), window(parts[1]), threshold));
    }
    out
}

#[test]
fn slo_panels_match_the_generated_rules() {
    let sources = bank_sources();
    let rules = cqrs_obs::slo::prometheus_rules();
    let expected = rule_thresholds(&rules);
    assert_eq!(expected.len(), sources.slos.len(), "{rules}");
    let slos = dashboards::generate_all_for(&sources, Template::Production)
        .into_iter()
        .find(|d| d.uid.ends_with("-slos"))
        .expect("production has an SLO dashboard");
    let exprs: Vec<&str> = slos.expressions().collect();
    for (id, alerts) in &expected {
        let sel = format!("{{sloth_service=\"{}\",slo_id=\"{id}\"}}", sources.service);
        assert!(
            rules.contains(&format!("sloth_service: \"{}\"", sources.service)),
            "the rules label their series with the service the dashboards select"
        );
        for (long, short, threshold) in alerts {
            let want = format!(
                "max((slo:sli_error:ratio_rate{long}{sel} >= bool {threshold}) * (slo:sli_error:ratio_rate{short}{sel} >= bool {threshold})"
            );
            assert!(
                exprs.iter().any(|e| e.starts_with(&want)),
                "no alert-condition panel `{want}` in {exprs:#?}"
            );
            // Every window the panels read is recorded by the rules.
            for w in [long, short] {
                assert!(rules.contains(&format!("record: slo:sli_error:ratio_rate{w}\n")));
            }
        }
        assert!(exprs
            .iter()
            .any(|e| *e == format!("slo:period_error_budget_remaining:ratio{sel}")));
    }
    // Thresholds drawn on the error-ratio panels are the alert thresholds of an SLO.
    let all_thresholds: BTreeSet<String> = expected
        .values()
        .flatten()
        .map(|(_, _, t)| t.clone())
        .collect();
    let errors = dashboards::generate_all_for(&sources, Template::Production)
        .into_iter()
        .find(|d| d.uid.ends_with("-errors"))
        .unwrap();
    let mut drawn = 0;
    for panel in errors.all_panels() {
        if let Some(t) = &panel.field_config.defaults.thresholds {
            for step in t.steps.iter().filter_map(|s| s.value) {
                assert!(
                    all_thresholds.contains(&step.to_string()),
                    "{step} not a rule threshold"
                );
                drawn += 1;
            }
        }
    }
    assert!(
        drawn >= 4,
        "the errors dashboard draws the alert thresholds"
    );
}

#[test]
fn dashboards_follow_the_registry_and_the_templates() {
    let sources = bank_sources();
    let production = dashboards::generate_all_for(&sources, Template::Production);
    let kinds: Vec<&str> = production
        .iter()
        .map(|d| d.uid.rsplit('-').next().unwrap())
        .collect();
    assert_eq!(
        kinds,
        DashboardKind::ALL.map(DashboardKind::slug),
        "six dashboards in production"
    );
    let by_kind = |ds: &[Dashboard], kind: DashboardKind| {
        ds.iter()
            .find(|d| d.uid.contains(kind.slug()))
            .cloned()
            .unwrap()
    };
    // Every registered handler can be picked in `$handler`.
    let handler_var = production[0]
        .templating
        .list
        .iter()
        .find(|v| v.name == "handler")
        .unwrap();
    for h in &sources.handlers {
        let value = if h.kind == HandlerKind::Event {
            h.name
        } else {
            h.message
        };
        assert!(
            handler_var.options.iter().any(|o| o.value == value),
            "{} missing from $handler",
            h.name
        );
    }
    // One stat per aggregate and per projection or saga.
    let business = serde_json::to_string(&by_kind(&production, DashboardKind::Business)).unwrap();
    assert!(business.contains("Account: commands/s"));
    let projections =
        serde_json::to_string(&by_kind(&production, DashboardKind::Projections)).unwrap();
    for consumer in ["balances: events/s", "transfer: events/s"] {
        assert!(projections.contains(consumer), "{consumer}");
    }
    // Templates differ as documented.
    let minimal = dashboards::generate_all_for(&sources, Template::Minimal);
    let development = dashboards::generate_all_for(&sources, Template::Development);
    assert_eq!((minimal.len(), development.len()), (5, 5));
    let types = |ds: &[Dashboard]| -> BTreeSet<PanelType> {
        ds.iter()
            .flat_map(|d| d.all_panels().map(|p| p.kind))
            .collect()
    };
    assert!(!types(&minimal).contains(&PanelType::Heatmap));
    assert!(types(&development).contains(&PanelType::Heatmap));
    for wanted in [
        PanelType::Timeseries,
        PanelType::Gauge,
        PanelType::Text,
        PanelType::Stat,
        PanelType::Heatmap,
        PanelType::Table,
        PanelType::AlertList,
    ] {
        assert!(types(&production).contains(&wanted), "{wanted:?}");
    }
    let has_thresholds = |ds: &[Dashboard]| {
        ds.iter()
            .flat_map(|d| d.all_panels())
            .filter(|p| p.kind == PanelType::Timeseries)
            .any(|p| p.field_config.defaults.thresholds.is_some())
    };
    assert!(has_thresholds(&production) && !has_thresholds(&development));
    assert!(development
        .iter()
        .flat_map(|d| d.all_panels())
        .filter(|p| !p.targets.is_empty())
        .all(|p| p.interval.as_deref() == Some("5s")));
    assert!(development[0]
        .links
        .iter()
        .any(|l| l.url == "${admin}/logs"));
    assert!(minimal[0].links.iter().all(|l| !l.url.contains("logs")));
    // JSON round-trips through the typed model.
    for d in production {
        let v: Value = serde_json::from_str(&dashboards::to_json(&d)).unwrap();
        let back: Dashboard = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), v, "{}", d.uid);
        assert_eq!(v["schemaVersion"], dashboards::SCHEMA_VERSION);
    }
}
