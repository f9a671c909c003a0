//! Validation of flag values (clap value parsers) and the settings every command runs with.

use std::time::Duration;

use crate::cli::{ColorChoice, Format, Global};
use crate::error::CliError;

/// What a duration flag accepts.
const DURATION: &str = "a number and a unit: `30s`, `15m`, `1h`, `7d` or `2w`";
/// What a time flag accepts.
const TIME: &str = "a duration ago (`30s`, `15m`, `1h`, `7d`, `2w`) or an RFC 3339 time such as `2026-11-27T06:00:00Z`";

/// Seconds in a duration such as `30s`, `15m`, `1h`, `7d`, `2w`.
pub(crate) fn duration_secs(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let n: u64 = s[..split].parse().ok()?;
    let unit = match &s[split..] {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(unit).filter(|&secs| secs > 0)
}

/// `--period`: a duration, in seconds.
pub(crate) fn parse_period(s: &str) -> Result<u64, String> {
    duration_secs(s).ok_or_else(|| format!("expected {DURATION}"))
}

/// `--since` / `--until`: a duration ago (sent as seconds) or an RFC 3339 time (sent as is).
pub(crate) fn parse_time(s: &str) -> Result<String, String> {
    if let Some(secs) = duration_secs(s) {
        return Ok(format!("{secs}s"));
    }
    if is_rfc3339(s) {
        return Ok(s.to_owned());
    }
    Err(format!("expected {TIME}"))
}

/// The shape of an RFC 3339 time: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`. The service
/// checks the values.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() < 20 || !digits(0..4) || !digits(5..7) || !digits(8..10) || !digits(11..13) {
        return false;
    }
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return false;
    }
    if !digits(14..16) || b[16] != b':' || !digits(17..19) {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()),
        _ => false,
    }
}

/// `--watch`, `--timeout`: a positive number of seconds.
pub(crate) fn parse_positive_secs(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err("expected a number of seconds greater than 0, such as `2` or `0.5`".to_owned()),
    }
}

/// `--endpoint`, `--prometheus`, `--grafana-url`: an `http://` or `https://` URL with a host;
/// returned without a trailing `/`.
pub(crate) fn parse_endpoint(s: &str) -> Result<String, String> {
    let s = s.trim();
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .ok_or_else(|| {
            "expected an http:// or https:// URL such as `http://127.0.0.1:9464`".to_owned()
        })?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.contains(['?', '#', ' ', '@']) {
        return Err(
            "expected an http:// or https:// URL with a host, such as `http://127.0.0.1:9464`"
                .to_owned(),
        );
    }
    if s.starts_with("https://") && !cfg!(feature = "tls") {
        return Err("https:// needs cqrs-cli built with its `tls` feature".to_owned());
    }
    Ok(s.trim_end_matches('/').to_owned())
}

/// The settings every command runs with, from the global flags and the environment.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The admin endpoint, without a trailing `/`.
    pub(crate) endpoint: String,
    /// Its bearer token.
    pub(crate) token: Option<String>,
    /// The output format.
    pub(crate) format: Format,
    /// Whether to colour stdout.
    pub(crate) color: bool,
    /// Refresh interval.
    pub(crate) watch: Option<Duration>,
    /// Per-request timeout.
    pub(crate) timeout: Duration,
    /// Whether stderr is a terminal (progress indicator).
    pub(crate) progress: bool,
    /// Whether stdout is a terminal (`--watch` redraws the screen).
    pub(crate) screen: bool,
    /// PEM of the CA that signed the endpoint's certificate.
    pub(crate) ca_pem: Option<Vec<u8>>,
}

impl Settings {
    /// Settings from the global flags; `no_color` is the `NO_COLOR` variable and `tty`
    /// whether stdout and stderr are terminals.
    pub(crate) fn new(
        global: &Global,
        no_color: Option<std::ffi::OsString>,
        tty: (bool, bool),
    ) -> Result<Settings, CliError> {
        let no_color = no_color.is_some_and(|v| !v.is_empty());
        let color = match global.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty.0 && !no_color,
        };
        let ca_pem = match &global.ca_cert {
            None => None,
            Some(_) if !cfg!(feature = "tls") => {
                return Err(CliError::Usage(
                    "--ca-cert needs cqrs-cli built with its `tls` feature".to_owned(),
                ))
            }
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                CliError::Usage(format!("--ca-cert: cannot read {}: {e}", path.display()))
            })?),
        };
        Ok(Settings {
            endpoint: global.endpoint.clone(),
            token: global.token.clone().filter(|t| !t.is_empty()),
            format: global.output,
            color,
            watch: global.watch.map(Duration::from_secs_f64),
            timeout: Duration::from_secs_f64(global.timeout),
            progress: tty.1,
            screen: tty.0,
            ca_pem,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_secs("7d"), Some(7 * 86_400));
        assert_eq!(duration_secs("15m"), Some(900));
        assert_eq!(duration_secs("2w"), Some(14 * 86_400));
        for bad in [
            "",
            "d",
            "7",
            "0h",
            "1y",
            "-1h",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert_eq!(duration_secs(bad), None, "{bad}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("1h").unwrap(), "3600s");
        assert!(parse_time("2026-11-27T06:00:00Z").is_ok());
        assert!(parse_time("2026-11-27T06:00:00.123+01:00").is_ok());
        for bad in [
            "yesterday",
            "2026-11-27",
            "2026-11-27T06:00:00",
            "2026-11-27T06:00:00.Z",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            parse_endpoint("http://127.0.0.1:9464/").unwrap(),
            "http://127.0.0.1:9464"
        );
        assert!(parse_endpoint("127.0.0.1:9464").is_err());
        assert!(parse_endpoint("http://").is_err());
        assert!(parse_endpoint("ftp://x").is_err());
    }

    #[test]
    fn no_color_is_honoured_in_auto_only() {
        use clap::Parser;
        let cli = crate::cli::Cli::parse_from(["cqrs-cli", "handlers"]);
        let on = Settings::new(&cli.global, Some("1".into()), (true, true)).unwrap();
        assert!(!on.color);
        let off = Settings::new(&cli.global, None, (true, false)).unwrap();
        assert!(off.color && !off.progress);
        let empty = Settings::new(&cli.global, Some("".into()), (true, true)).unwrap();
        assert!(empty.color);
        let always = crate::cli::Cli::parse_from(["cqrs-cli", "--color", "always", "handlers"]);
        assert!(
            Settings::new(&always.global, Some("1".into()), (false, false))
                .unwrap()
                .color
        );
    }
}
