//! The admin endpoint serves the generated dashboards: `GET /dashboards/{template}` is the
//! JSON array `generate_all` returns, `GET /dashboards/{template}/{dashboard}` one of them,
//! and unknown templates or dashboards are a 404 with the usual error body.

use cqrs_obs::dashboards::{self, Dashboard, Sources, Template};
use cqrs_obs_tests::bank::init_obs;
use cqrs_obs_tests::http;
use serde_json::Value;

#[test]
fn the_admin_endpoint_serves_every_template() {
    let guard = init_obs();
    let addr = guard.admin_addr().expect("the admin endpoint runs");
    cqrs_obs_examples::objectives::register_objectives();
    for template in Template::ALL {
        let response = http::get(addr, &format!("/dashboards/{}", template.as_str())).unwrap();
        assert_eq!(response.status, 200, "{}", response.body);
        assert!(response
            .header("content-type")
            .is_some_and(|v| v.starts_with("application/json")));
        let served: Vec<Dashboard> = serde_json::from_str(&response.body).unwrap();
        let mut sources = Sources::from_registry();
        sources.admin_url = format!("http://{addr}");
        let expected = dashboards::generate_all_for(&sources, template);
        assert_eq!(served.len(), expected.len());
        let count = if template == Template::Production {
            6
        } else {
            5
        };
        assert_eq!(served.len(), count);
        for (got, want) in served.iter().zip(&expected) {
            assert_eq!(got.uid, want.uid);
            assert_eq!(got.templating, want.templating, "{}", got.uid);
            assert!(got.expressions().eq(want.expressions()), "{}", got.uid);
            assert_eq!(got.all_panels().count(), want.all_panels().count());
        }
        if template != Template::Minimal {
            // Links point at the endpoint that served the dashboards.
            let admin = served[0]
                .templating
                .list
                .iter()
                .find(|v| v.name == "admin")
                .unwrap();
            assert_eq!(admin.query, format!("http://{addr}"));
        }
    }
    // Every link to the admin endpoint (dashboard links and data links) reaches a route that
    // accepts its parameters.
    let mut links = std::collections::BTreeSet::new();
    for template in Template::ALL {
        for d in dashboards::generate_all(template) {
            links.extend(d.links.iter().map(|l| l.url.clone()));
            for panel in d.all_panels() {
                links.extend(
                    panel
                        .field_config
                        .defaults
                        .links
                        .iter()
                        .map(|l| l.url.clone()),
                );
            }
        }
    }
    let admin_links: Vec<&String> = links.iter().filter(|u| u.starts_with("${admin}")).collect();
    assert!(admin_links.len() >= 5, "{links:?}");
    for url in admin_links {
        let mut path = url.trim_start_matches("${admin}").to_owned();
        for label in ["command", "handler", "query"] {
            path = path.replace(&format!("${{__field.labels.{label}}}"), "Deposit");
        }
        let response = http::get(addr, &path).unwrap();
        // 503 is the logs route without log capture (the tests turn the console off): the
        // link's parameters are then checked by the parser the route uses.
        assert!(
            matches!(response.status, 200 | 503),
            "{url} -> {path}: HTTP {} {}",
            response.status,
            response.body
        );
        if response.status == 503 {
            let (route, query) = path.split_once('?').unwrap_or((&path, ""));
            assert!(
                route == "/logs" || route == "/logs/stats",
                "{url}: {}",
                response.body
            );
            let params = query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| p.split_once('=').unwrap_or((p, "")));
            if let Err(e) = cqrs_obs::logs::Query::from_params(params, None) {
                panic!("{url}: the logs route refuses its parameters: {e}");
            }
        }
    }

    let one = http::get(addr, "/dashboards/production/slos").unwrap();
    assert_eq!(one.status, 200);
    let one = one.json().unwrap();
    assert!(one["uid"].as_str().unwrap().ends_with("-slos"), "{one}");
    assert!(one["panels"].as_array().unwrap().len() > 10);

    for (path, needle) in [
        (
            "/dashboards/staging",
            "unknown dashboard template `staging`",
        ),
        (
            "/dashboards/minimal/slos",
            "no dashboard `slos` in the `minimal` template",
        ),
        ("/dashboards/production/nope", "no dashboard `nope`"),
    ] {
        let response = http::get(addr, path).unwrap();
        assert_eq!(response.status, 404, "{path}");
        let body: Value = response.json().unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{path}: {message}");
    }
}
