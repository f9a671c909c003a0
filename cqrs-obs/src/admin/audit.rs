//! The audit log of the admin endpoint: one JSON line per operator action and per refused
//! request — who (peer address and role), what (method and path), when, and the result.
//!
//! Lines go to the file named by `CQRS_OBS_ADMIN_AUDIT_LOG` (appended, flushed per line), or,
//! without one, to `tracing` events of target `cqrs_obs::audit` (and so to the log pipeline).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::http::Method;
use serde::Serialize;

use super::auth::Role;

/// One line of the audit log.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AuditRecord {
    /// RFC 3339, UTC.
    time: String,
    /// `accepted` (an operator action that ran) or `refused`.
    result: &'static str,
    /// The client's address, when known.
    peer: Option<String>,
    /// The role its token granted, if any.
    role: Option<&'static str>,
    method: String,
    path: String,
    /// The HTTP status answered.
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

impl AuditRecord {
    pub(crate) fn refused(
        peer: Option<SocketAddr>,
        role: Option<Role>,
        method: &Method,
        path: &str,
        status: u16,
        reason: &'static str,
    ) -> AuditRecord {
        AuditRecord {
            time: crate::health::rfc3339(SystemTime::now()),
            result: "refused",
            peer: peer.map(|p| p.to_string()),
            role: role.map(Role::as_str),
            method: method.to_string(),
            path: path.to_owned(),
            status,
            reason: Some(reason),
        }
    }

    pub(crate) fn action(
        peer: Option<SocketAddr>,
        role: Role,
        method: &Method,
        path: &str,
        status: u16,
    ) -> AuditRecord {
        AuditRecord {
            time: crate::health::rfc3339(SystemTime::now()),
            result: "accepted",
            peer: peer.map(|p| p.to_string()),
            role: Some(role.as_str()),
            method: method.to_string(),
            path: path.to_owned(),
            status,
            reason: None,
        }
    }
}

/// Where audit records go.
#[derive(Debug, Clone)]
pub(crate) struct AuditLog {
    file: Option<Arc<Mutex<File>>>,
}

impl AuditLog {
    /// Records as `tracing` events.
    pub(crate) fn events() -> AuditLog {
        AuditLog { file: None }
    }

    /// Appends records to `path` (created if missing).
    pub(crate) fn file(path: &Path) -> std::io::Result<AuditLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(AuditLog {
            file: Some(Arc::new(Mutex::new(file))),
        })
    }

    pub(crate) fn record(&self, record: AuditRecord) {
        let Ok(mut line) = serde_json::to_string(&record) else {
            return;
        };
        match &self.file {
            Some(file) => {
                line.push('\n');
                let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
                if let Err(e) = file.write_all(line.as_bytes()).and_then(|()| file.flush()) {
                    eprintln!("cqrs-obs: cannot write the admin audit log: {e}");
                }
            }
            None => {
                tracing::info!(target: "cqrs_obs::audit", audit = %line, "admin {}", record.result)
            }
        }
    }
}
