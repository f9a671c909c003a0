//! The HTTP routes: `/health`, `/health/{group}`, `/livez`, `/readyz`.

use axum::extract::{Path, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::registry::{Selector, Snapshot};
use super::{format, registry, Authorized, LIVENESS, READINESS};

/// The media type of the IETF health-check draft.
pub const HEALTH_JSON: &str = "application/health+json";

/// The routes, merged into the admin router.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/health", get(|req: Request| health(None, req)))
        .route(
            "/health/{group}",
            get(|Path(group): Path<String>, req: Request| health(Some(group), req)),
        )
        .route("/livez", get(|req: Request| probe(LIVENESS, "livez", req)))
        .route(
            "/readyz",
            get(|req: Request| probe(READINESS, "readyz", req)),
        )
}

fn error(status: StatusCode, code: &'static str, message: String) -> Response {
    let body = json!({ "error": { "code": code, "message": message } });
    (status, Json(body)).into_response()
}

fn code(snapshot: &Snapshot) -> StatusCode {
    if snapshot.status.is_unavailable() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

fn wants_ietf(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().starts_with(HEALTH_JSON)))
}

async fn health(group: Option<String>, req: Request) -> Response {
    if let Some(query) = req.uri().query().filter(|q| !q.is_empty()) {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("`/health` takes no query parameters, got `{query}`"),
        );
    }
    let registry = registry();
    let selector = match &group {
        Some(group) if !registry.groups().contains(group) => {
            let known = registry.groups().join(", ");
            return error(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no health group `{group}`; groups: {known}"),
            );
        }
        Some(group) => Selector::Group(group),
        None => Selector::All,
    };
    let snapshot = registry.check(selector).await;
    let authorized = req.extensions().get::<Authorized>().is_some();
    let details = registry.settings().details.shows(authorized);
    let status = code(&snapshot);
    if wants_ietf(req.headers()) {
        let body = format::ietf(&snapshot, details, super::service_name());
        let mut response = (status, Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(HEALTH_JSON));
        return response;
    }
    let groups = group.is_none().then(|| registry.groups());
    (
        status,
        Json(format::spring(&snapshot, details, groups.as_deref())),
    )
        .into_response()
}

/// `?verbose` and any number of `?exclude=name`.
fn probe_query(query: &str) -> Result<(bool, Vec<String>), String> {
    let mut verbose = false;
    let mut exclude = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=').unwrap_or((pair, "")) {
            ("verbose", "" | "true" | "1") => verbose = true,
            ("verbose", "false" | "0") => verbose = false,
            ("exclude", name) if !name.is_empty() => exclude.push(decode(name)?),
            _ => {
                return Err(format!(
                    "unexpected query parameter `{pair}`; expected `verbose` or `exclude=NAME`"
                ))
            }
        }
    }
    Ok((verbose, exclude))
}

/// Percent-decoding of a query value (`+` is a space).
fn decode(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = value.get(i + 1..i + 3).unwrap_or("");
                let byte = u8::from_str_radix(hex, 16)
                    .map_err(|_| format!("bad percent-encoding in `{value}`"))?;
                out.push(byte);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{value}` is not UTF-8"))
}

async fn probe(group: &'static str, name: &'static str, req: Request) -> Response {
    let (verbose, exclude) = match probe_query(req.uri().query().unwrap_or("")) {
        Ok(parsed) => parsed,
        Err(message) => return error(StatusCode::BAD_REQUEST, "bad_request", message),
    };
    let registry = registry();
    let mut snapshot = registry.check(Selector::Group(group)).await;
    if !exclude.is_empty() {
        snapshot.components.retain(|c| !exclude.contains(&c.name));
        let how = registry.settings().aggregation_of(group);
        snapshot.status = how.aggregate(
            snapshot
                .components
                .iter()
                .filter(|c| c.critical)
                .map(|c| c.report.health.status()),
        );
    }
    let authorized = req.extensions().get::<Authorized>().is_some();
    let details = registry.settings().details.shows(authorized);
    let body = format::probe(&snapshot, name, verbose, details);
    let mut response = (code(&snapshot), body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_queries_parse() {
        assert_eq!(probe_query(""), Ok((false, vec![])));
        assert_eq!(probe_query("verbose"), Ok((true, vec![])));
        assert_eq!(
            probe_query("verbose=true&exclude=a&exclude=event%2Dstore+x"),
            Ok((true, vec!["a".into(), "event-store x".into()]))
        );
        assert!(probe_query("verbosity=1").is_err());
        assert!(probe_query("exclude=").is_err());
        assert!(probe_query("exclude=%zz").is_err());
    }

    #[test]
    fn accept_selects_ietf() {
        let mut headers = HeaderMap::new();
        assert!(!wants_ietf(&headers));
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html, application/health+json;q=0.9"),
        );
        assert!(wants_ietf(&headers));
    }
}
