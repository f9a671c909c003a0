//! What can go wrong, and the exit code scripts see for it.

use std::fmt;

/// The exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Healthy, within objective, nothing at or above `--fail-on`.
    Ok = 0,
    /// Unhealthy, an SLO breached, or anomalies at or above `--fail-on`.
    Failing = 1,
    /// Usage error (clap's own, or a flag value the service showed to be wrong).
    Usage = 2,
    /// The endpoint could not be reached (connection refused, timeout, unknown host).
    Unreachable = 3,
    /// The endpoint answered with an error, or with something unexpected.
    Error = 4,
}

/// A failed command: one line for stderr and an exit code.
#[derive(Debug)]
pub(crate) enum CliError {
    /// Nothing answered at `url`.
    Unreachable {
        /// The URL asked.
        url: String,
        /// Why (refused, timed out, ...).
        reason: String,
    },
    /// `url` answered `status` with an error body.
    Status {
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The `error.code` of the body, if any.
        code: Option<String>,
        /// The `error.message` of the body, or the body.
        message: String,
    },
    /// The answer could not be read or understood.
    Invalid {
        /// The URL asked.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// A flag value that only the service could judge.
    Usage(String),
    /// Anything else (writing files, stdout).
    Other(String),
}

impl CliError {
    /// The exit code for this error.
    pub(crate) fn exit(&self) -> Exit {
        match self {
            CliError::Unreachable { .. } => Exit::Unreachable,
            CliError::Usage(_) => Exit::Usage,
            CliError::Status { status: 400, .. } => Exit::Usage,
            _ => Exit::Error,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Unreachable { url, reason } => {
                write!(f, "cannot reach {url}: {reason}")
            }
            CliError::Status {
                url,
                status,
                code,
                message,
            } => match code {
                Some(code) => write!(f, "{url} answered {status} ({code}): {message}"),
                None => write!(f, "{url} answered {status}: {message}"),
            },
            CliError::Invalid { url, reason } => {
                write!(f, "unexpected answer from {url}: {reason}")
            }
            CliError::Usage(message) | CliError::Other(message) => f.write_str(message),
        }
    }
}

/// A 400 answer as a usage error, with the service's parameter names replaced by the flags
/// that set them (`params`: parameter, flag).
pub(crate) fn refused(message: &str, params: &[(&str, &str)]) -> CliError {
    let mut message = message.to_owned();
    for (param, flag) in params {
        message = message.replace(&format!("`{param}`"), &format!("`{flag}`"));
    }
    CliError::Usage(format!("the service refused a flag value: {message}"))
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Other(e.to_string())
    }
}
