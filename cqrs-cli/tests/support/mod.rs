//! Helpers of the CLI's integration tests: the bank example as a child process, a fake
//! HTTP peer (to play a service, Prometheus or Grafana), running the CLI, and redacting the
//! values that change from run to run before comparing with a snapshot.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The CLI under test.
pub const CLI: &str = env!("CARGO_BIN_EXE_cqrs-cli");

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A directory removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh directory under the system temp dir.
    pub fn new(prefix: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path =
            std::env::temp_dir().join(format!("cqrs-cli-{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The target directory's profile directory of this test binary (`target/debug`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// Builds the bank example in this test binary's profile (a no-op when it is fresh) and
/// returns its path.
pub fn bank_binary() -> PathBuf {
    let dir = profile_dir();
    let profile = match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_owned(),
        Some(other) => other.to_owned(),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "cqrs-obs-examples",
            "--example",
            "bank",
        ])
        .args(["--profile", &profile, "--manifest-path"])
        .arg(&manifest)
        .status()
        .expect("running cargo to build the bank example");
    let bank = dir.join("examples").join("bank");
    // The workspace builds the example too; while one file of it is being edited, the last
    // build serves.
    assert!(
        status.success() || bank.exists(),
        "building the bank example failed"
    );
    if !status.success() {
        eprintln!("building the bank example failed; using {}", bank.display());
    }
    assert!(
        bank.exists(),
        "{} is missing after the build",
        bank.display()
    );
    bank
}

/// The bank example, running; killed when dropped.
#[derive(Debug)]
pub struct Bank {
    child: Child,
    /// Its admin endpoint, `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// Where its stdout and stderr go.
    pub dir: TempDir,
}

impl Bank {
    /// Starts the bank example with `args` (plus an admin address and a log store of its
    /// own) and waits until its workload is done and it serves its admin endpoint.
    pub fn start(args: &[&str]) -> Bank {
        Bank::start_on(free_port(), args)
    }

    /// [`Bank::start`] with the admin endpoint on `port`.
    pub fn start_on(port: u16, args: &[&str]) -> Bank {
        let bank = bank_binary();
        let dir = TempDir::new("bank");
        let stdout = std::fs::File::create(dir.path().join("stdout")).unwrap();
        let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
        let mut command = Command::new(bank);
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if key.starts_with("CQRS_OBS_") || key.starts_with("OTEL_") {
                command.env_remove(key);
            }
        }
        let child = command
            .args(args)
            .env("CQRS_OBS_ADMIN_ADDR", format!("127.0.0.1:{port}"))
            .env("CQRS_OBS_LOG_STORE", dir.path().join("logs"))
            .env("OTEL_SERVICE_NAME", "bank")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("starting the bank example");
        let mut bank = Bank {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            dir,
        };
        bank.wait_serving(Duration::from_secs(180));
        bank
    }

    fn wait_serving(&mut self, timeout: Duration) {
        let start = Instant::now();
        loop {
            let out = std::fs::read_to_string(self.dir.path().join("stdout")).unwrap_or_default();
            if out.contains("serving until Ctrl-C") {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the bank exited early ({status}): {out}{}", self.stderr());
            }
            assert!(
                start.elapsed() < timeout,
                "the bank did not finish its workload in {timeout:?}: {out}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What it wrote to stderr.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }
}

impl Drop for Bank {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Prometheus server scraping one target every second; killed when dropped.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    /// Its URL.
    pub url: String,
    _dir: TempDir,
}

impl Prometheus {
    /// Starts `prometheus` (from `PATH`; `scripts/install-test-deps.sh` installs it) scraping
    /// `127.0.0.1:<target_port>/metrics` every second, and waits until it answers.
    pub fn start(target_port: u16) -> Prometheus {
        let dir = TempDir::new("prometheus");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: bank\n    static_configs:\n      - targets: [\"127.0.0.1:{target_port}\"]\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `prometheus` ({e}); this test runs the real server: install the \
                     test dependencies with scripts/install-test-deps.sh"
                )
            });
        let prometheus = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "prometheus did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        prometheus
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One CLI run.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs the CLI against `endpoint` with `args`, without the caller's `CQRS_OBS_*` and
/// `NO_COLOR`, stdout and stderr piped (so: no colour, no progress indicator).
pub fn cli(endpoint: &str, args: &[&str]) -> Run {
    cli_env(endpoint, args, &[])
}

/// [`cli`] with extra environment variables.
pub fn cli_env(endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(CLI);
    for key in [
        "CQRS_OBS_ENDPOINT",
        "CQRS_OBS_TOKEN",
        "NO_COLOR",
        "GRAFANA_URL",
        "GRAFANA_TOKEN",
        "GRAFANA_USER",
        "GRAFANA_PASSWORD",
        "CQRS_OBS_CA_CERT",
    ] {
        command.env_remove(key);
    }
    let output: Output = command
        .arg("--endpoint")
        .arg(endpoint)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("running cqrs-cli");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// One request a [`Peer`] received.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Request {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Answers the `n`th request: status, content type, body.
pub type Responder = Arc<dyn Fn(&Request, usize) -> (u16, &'static str, String) + Send + Sync>;

/// An HTTP/1.1 server on loopback that records requests and answers through a function; it
/// lives as long as the test process.
pub struct Peer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Peer {
    /// Starts a peer.
    pub fn start(respond: Responder) -> Peer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (seen, respond) = (seen.clone(), respond.clone());
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                std::thread::spawn(move || serve(stream, &seen, &respond));
            }
        });
        Peer { url, requests }
    }

    /// The requests so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

/// An HTTPS [`Peer`] with a certificate generated for `localhost` and 127.0.0.1; returns the
/// peer and the certificate's PEM (to trust it).
pub fn start_https(respond: Responder) -> (Peer, String) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names).expect("a certificate");
    let cert_pem = certified.cert.pem();
    let key_pem = certified.signing_key.serialize_pem();
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind loopback");
    let url = format!("https://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let connection = rustls::ServerConnection::new(config.clone()).unwrap();
            let tls = rustls::StreamOwned::new(connection, stream);
            let (seen, respond) = (seen.clone(), respond.clone());
            std::thread::spawn(move || serve(tls, &seen, &respond));
        }
    });
    (Peer { url, requests }, cert_pem)
}

fn serve<S: Read + Write>(stream: S, seen: &Mutex<Vec<Request>>, respond: &Responder) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let request = Request {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let n = {
        let mut all = seen.lock().unwrap();
        all.push(request.clone());
        all.len() - 1
    };
    let (status, content_type, body) = respond(&request, n);
    let stream = reader.get_mut();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

/// Replaces what changes from run to run: RFC 3339 times by `[TIME]`, hex ids (16 digits or
/// more) by `[ID]`, numbers by `#`; and runs of spaces after the first non-space of a line by
/// two spaces, so column widths that follow the numbers do not matter.
pub fn redact(text: &str) -> String {
    text.lines()
        .map(|line| {
            let indent = line.len() - line.trim_start().len();
            let body = redact_tokens(&line[indent..]);
            let mut collapsed = String::with_capacity(body.len());
            let mut spaces = 0;
            for c in body.chars() {
                if c == ' ' {
                    spaces += 1;
                    continue;
                }
                if spaces > 0 {
                    collapsed.push_str(if spaces > 1 { "  " } else { " " });
                    spaces = 0;
                }
                collapsed.push(c);
            }
            format!("{}{collapsed}\n", &line[..indent])
        })
        .collect()
}

fn is_time_at(chars: &[char], i: usize) -> Option<usize> {
    // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM)
    let pattern = "dddd-dd-ddTdd:dd:dd";
    if chars.len() < i + pattern.len() {
        return None;
    }
    for (k, p) in pattern.chars().enumerate() {
        let c = chars[i + k];
        let ok = if p == 'd' { c.is_ascii_digit() } else { c == p };
        if !ok {
            return None;
        }
    }
    let mut j = i + pattern.len();
    if chars.get(j) == Some(&'.') {
        j += 1;
        while chars.get(j).is_some_and(char::is_ascii_digit) {
            j += 1;
        }
    }
    if chars.get(j) == Some(&'Z') {
        j += 1;
    }
    Some(j)
}

fn redact_tokens(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if let Some(end) = is_time_at(&chars, i) {
            out.push_str("[TIME]");
            i = end;
            continue;
        }
        let word_start = i == 0 || !(chars[i - 1].is_ascii_alphanumeric() || chars[i - 1] == '_');
        if word_start && chars[i].is_ascii_hexdigit() {
            let end = (i..chars.len())
                .find(|&j| !chars[j].is_ascii_hexdigit())
                .unwrap_or(chars.len());
            let after_ok = end == chars.len() || !chars[end].is_ascii_alphanumeric();
            let has_digit = chars[i..end].iter().any(char::is_ascii_digit);
            if end - i >= 16 && after_ok && has_digit {
                out.push_str("[ID]");
                i = end;
                continue;
            }
        }
        let sign = chars[i] == '-'
            && chars.get(i + 1).is_some_and(char::is_ascii_digit)
            && (i == 0 || !chars[i - 1].is_ascii_alphanumeric());
        if (chars[i].is_ascii_digit() || sign) && word_start {
            let mut j = i + 1;
            while j < chars.len()
                && (chars[j].is_ascii_digit()
                    || (chars[j] == '.' && chars.get(j + 1).is_some_and(char::is_ascii_digit))
                    || ((chars[j] == 'e' || chars[j] == 'E')
                        && chars
                            .get(j + 1)
                            .is_some_and(|c| c.is_ascii_digit() || *c == '-')))
            {
                j += if chars[j] == 'e' || chars[j] == 'E' {
                    2
                } else {
                    1
                };
            }
            out.push('#');
            i = j;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Compares `actual` (redacted) with the snapshot `tests/snapshots/<name>`;
/// `SNAPSHOTS=overwrite` rewrites it.
pub fn snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if !path.exists() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "").unwrap();
    }
    snapbox::Assert::new()
        .action_env("SNAPSHOTS")
        .eq(redact(actual), snapbox::Data::read_from(&path, None));
}

#[test]
fn redaction() {
    assert_eq!(
        redact("deposit  2026-11-27T09:24:26.992323649Z  f72df2246498a1890000000000001a70  -12.5e-3 x1  30d\n"),
        "deposit  [TIME]  [ID]  # x1  #d\n"
    );
    assert_eq!(redact("  \"a\": 1.5,"), "  \"a\": #,\n");
}
