//! Who may do what on the admin endpoint: bearer tokens with roles, compared in constant time.
//!
//! - The probes (`/livez`, `/readyz`) are always open, so that Kubernetes needs no secret.
//! - With no token configured (the endpoint is then on loopback only, see
//!   [`InitError::AdminNeedsToken`](crate::InitError::AdminNeedsToken)), every request is
//!   accepted as an operator's.
//! - Otherwise a request must present `Authorization: Bearer <token>`: the viewer token may
//!   read (`GET`, `HEAD`), the operator token may also act (any other method).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

use super::audit::AuditRecord;
use super::{error, AppState};

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read every route.
    Viewer,
    /// Read every route and take actions (change sampling at run time, and the like).
    Operator,
}

impl Role {
    /// The role's name as it appears in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }
}

/// The configured tokens.
#[derive(Clone, Default)]
pub(crate) struct Tokens {
    operator: Option<Arc<str>>,
    viewer: Option<Arc<str>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("operator", &self.operator.as_ref().map(|_| "<redacted>"))
            .field("viewer", &self.viewer.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Tokens {
    pub(crate) fn new(operator: Option<&str>, viewer: Option<&str>) -> Tokens {
        Tokens {
            operator: operator.map(Arc::from),
            viewer: viewer.map(Arc::from),
        }
    }

    /// Whether requests must present a token.
    pub(crate) fn required(&self) -> bool {
        self.operator.is_some() || self.viewer.is_some()
    }

    /// The role a presented token grants. Both tokens are always compared, so the time taken
    /// says nothing about which (if any) matched.
    pub(crate) fn role_of(&self, presented: &str) -> Option<Role> {
        let matches = |token: &Option<Arc<str>>| {
            token
                .as_deref()
                .is_some_and(|t| constant_time_eq(presented.as_bytes(), t.as_bytes()))
        };
        let operator = matches(&self.operator);
        let viewer = matches(&self.viewer);
        if operator {
            Some(Role::Operator)
        } else if viewer {
            Some(Role::Viewer)
        } else {
            None
        }
    }
}

/// Compares the presented value `a` with the secret `b` without an early exit: the time
/// taken depends on the secret's length only, so it reveals neither how much of the value
/// matched nor whether its length did.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let differs = b.iter().enumerate().fold(a.len() ^ b.len(), |acc, (i, y)| {
        acc | usize::from(a.get(i).copied().unwrap_or(0) ^ y)
    });
    differs == 0
}

/// Routes that need no token.
fn is_probe(path: &str) -> bool {
    matches!(path, "/livez" | "/readyz")
}

/// Requests that change something: only an operator may send them.
fn is_action(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The authorisation layer: decides, marks the request with its role, and writes the audit
/// record of every refused request and every operator action.
pub(crate) async fn authorize(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let action = is_action(&method);
    if is_probe(&path) && !action {
        return next.run(request).await;
    }
    let role = if state.tokens.required() {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match presented.map(|p| state.tokens.role_of(p.trim())) {
            Some(Some(role)) => role,
            Some(None) | None => {
                let reason = if presented.is_some() {
                    "the bearer token is not valid"
                } else {
                    "a bearer token is required"
                };
                let response = error(StatusCode::UNAUTHORIZED, "unauthorized", reason);
                state.audit.record(AuditRecord::refused(
                    peer, None, &method, &path, 401, reason,
                ));
                return response;
            }
        }
    } else {
        Role::Operator
    };
    if action && role < Role::Operator {
        let reason = "this action needs the operator token";
        state.audit.record(AuditRecord::refused(
            peer,
            Some(role),
            &method,
            &path,
            403,
            reason,
        ));
        return error(StatusCode::FORBIDDEN, "forbidden", reason);
    }
    request.extensions_mut().insert(role);
    if state.tokens.required() {
        request.extensions_mut().insert(crate::health::Authorized);
    }
    let response = next.run(request).await;
    if action {
        let status = response.status().as_u16();
        state
            .audit
            .record(AuditRecord::action(peer, role, &method, &path, status));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"abcd", b"abc"));
        assert!(!constant_time_eq(b"", b"abc"));
        assert!(!constant_time_eq(b"abc\0", b"abc"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn tokens_grant_their_roles() {
        let tokens = Tokens::new(Some("operator-token-0001"), Some("viewer-token-00001"));
        assert!(tokens.required());
        assert_eq!(tokens.role_of("operator-token-0001"), Some(Role::Operator));
        assert_eq!(tokens.role_of("viewer-token-00001"), Some(Role::Viewer));
        assert_eq!(tokens.role_of("viewer-token-00002"), None);
        assert_eq!(tokens.role_of(""), None);
        assert!(!Tokens::default().required());
        assert!(!format!("{tokens:?}").contains("token-0001"));
    }

    #[test]
    fn probes_are_reads_and_actions_are_the_other_methods() {
        assert!(is_probe("/livez") && is_probe("/readyz") && !is_probe("/health"));
        assert!(!is_action(&Method::GET) && is_action(&Method::PUT) && is_action(&Method::POST));
    }
}
