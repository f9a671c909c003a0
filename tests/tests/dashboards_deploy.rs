//! The Grafana deploy client against a local server that answers like Grafana's folder and
//! dashboard API: success (folder created once, dashboard saved by uid with overwrite,
//! folder and message), 412 version conflict, 401, 403, 400, 500 then success, a
//! persistent 503, nothing listening, a server that never answers, and https with a
//! self-signed certificate (trusted when given, refused otherwise). Request bodies and
//! headers are checked.

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use cqrs_obs::dashboards::{
    Auth, DashboardBuilder, DeployError, GrafanaClient, PanelSpec, RetryPolicy,
};
use serde_json::{json, Value};

/// One request the fake Grafana received.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Value,
}

#[derive(Default)]
struct Fake {
    seen: Vec<Seen>,
    folders: BTreeSet<String>,
    /// Answers to the next `POST /api/dashboards/db` calls; then success.
    script: VecDeque<(StatusCode, Value)>,
    versions: u64,
}

type Shared = Arc<Mutex<Fake>>;

async fn grafana(
    State(fake): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut fake = fake.lock().unwrap();
    let path = uri.path().to_owned();
    fake.seen.push(Seen {
        method: method.clone(),
        path: path.clone(),
        headers,
        body: body.clone(),
    });
    match (method.as_str(), path.as_str()) {
        ("GET", p) if p.starts_with("/api/folders/") => {
            let uid = &p["/api/folders/".len()..];
            if fake.folders.contains(uid) {
                Json(json!({"uid": uid, "title": uid})).into_response()
            } else {
                (
                    StatusCode::NOT_FOUND,
                    Json(json!({"message": "folder not found", "status": "not-found"})),
                )
                    .into_response()
            }
        }
        ("POST", "/api/folders") => {
            let uid = body["uid"].as_str().unwrap_or_default().to_owned();
            fake.folders.insert(uid.clone());
            Json(json!({"id": 7, "uid": uid, "title": body["title"]})).into_response()
        }
        ("POST", "/api/dashboards/db") => {
            if let Some((status, answer)) = fake.script.pop_front() {
                return (status, Json(answer)).into_response();
            }
            fake.versions += 1;
            let uid = body["dashboard"]["uid"].as_str().unwrap_or_default();
            Json(json!({
                "id": 1, "uid": uid, "url": format!("/d/{uid}/bank"),
                "status": "success", "version": fake.versions, "slug": "bank"
            }))
            .into_response()
        }
        _ => (StatusCode::NOT_FOUND, Json(json!({"message": "Not found"}))).into_response(),
    }
}

/// Starts the fake Grafana on a loopback port, on a thread of its own.
fn start(fake: Shared) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = Router::new().fallback(grafana).with_state(fake);
            axum::serve(listener, app).await.unwrap();
        });
    });
    addr
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        timeout: Duration::from_secs(5),
    }
}

fn setup(auth: Auth) -> (Shared, GrafanaClient) {
    let fake = Shared::default();
    let addr = start(fake.clone());
    let client = GrafanaClient::new(&format!("http://{addr}/"), auth)
        .unwrap()
        .with_retry(fast_retries());
    (fake, client)
}

fn dashboard() -> cqrs_obs::dashboards::Dashboard {
    DashboardBuilder::new("bank-overview", "bank / System overview")
        .panel(PanelSpec::stat("Commands/s").query("sum(rate(cqrs_commands_total[1m]))", ""))
        .build()
}

fn dashboard_posts(fake: &Shared) -> Vec<Seen> {
    fake.lock()
        .unwrap()
        .seen
        .iter()
        .filter(|s| s.path == "/api/dashboards/db")
        .cloned()
        .collect()
}

fn header<'a>(seen: &'a Seen, name: &str) -> &'a str {
    seen.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[test]
fn deploys_into_a_folder_created_once_and_overwrites_by_uid() {
    let (fake, client) = setup(Auth::Bearer("glsa_test".into()));
    let first = block_on(client.deploy(&dashboard(), Some("Bank"), "cqrs-obs: first")).unwrap();
    assert_eq!(first.uid, "bank-overview");
    assert_eq!(first.url, "/d/bank-overview/bank");
    assert_eq!((first.status.as_str(), first.version), ("success", 1));
    let second = block_on(client.deploy(&dashboard(), Some("Bank"), "cqrs-obs: again")).unwrap();
    assert_eq!((second.uid.as_str(), second.version), ("bank-overview", 2));

    let seen = fake.lock().unwrap().seen.clone();
    let calls: Vec<(String, String)> = seen
        .iter()
        .map(|s| (s.method.to_string(), s.path.clone()))
        .collect();
    let call = |m: &str, p: &str| (m.to_owned(), p.to_owned());
    assert_eq!(
        calls,
        [
            call("GET", "/api/folders/bank"),
            call("POST", "/api/folders"),
            call("POST", "/api/dashboards/db"),
            call("GET", "/api/folders/bank"),
            call("POST", "/api/dashboards/db"),
        ],
        "the folder is created only when missing"
    );
    assert_eq!(seen[1].body, json!({"uid": "bank", "title": "Bank"}));
    for s in &seen {
        assert_eq!(header(s, "authorization"), "Bearer glsa_test");
        assert_eq!(header(s, "accept"), "application/json");
        assert!(header(s, "user-agent").starts_with("cqrs-obs/"));
        if s.method == Method::POST {
            assert_eq!(header(s, "content-type"), "application/json");
        }
    }
    let post = &seen[2].body;
    assert_eq!(post["overwrite"], true);
    assert_eq!(post["folderUid"], "bank");
    assert_eq!(post["message"], "cqrs-obs: first");
    assert_eq!(post["dashboard"]["uid"], "bank-overview");
    assert_eq!(post["dashboard"]["id"], Value::Null);
    assert_eq!(
        post["dashboard"]["panels"][0]["targets"][0]["expr"],
        "sum(rate(cqrs_commands_total[1m]))"
    );
    assert_eq!(seen[4].body["message"], "cqrs-obs: again");
}

#[test]
fn basic_auth_and_the_general_folder() {
    let (fake, client) = setup(Auth::Basic {
        user: "admin".into(),
        password: "s3cret".into(),
    });
    block_on(client.deploy(&dashboard(), None, "m")).unwrap();
    let posts = dashboard_posts(&fake);
    assert_eq!(posts.len(), 1);
    assert_eq!(header(&posts[0], "authorization"), "Basic YWRtaW46czNjcmV0");
    assert!(posts[0].body.get("folderUid").is_none());
    assert_eq!(fake.lock().unwrap().seen.len(), 1, "no folder calls");
}

#[test]
fn a_server_error_is_retried_then_succeeds() {
    let (fake, client) = setup(Auth::None);
    fake.lock().unwrap().script.push_back((
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"message": "database is locked"}),
    ));
    let saved = block_on(client.deploy(&dashboard(), None, "m")).unwrap();
    assert_eq!(saved.version, 1);
    let posts = dashboard_posts(&fake);
    assert_eq!(posts.len(), 2, "one retry");
    assert_eq!(posts[0].body, posts[1].body, "the same request again");
    assert!(posts[0].headers.get("authorization").is_none());
}

fn fails_with(status: StatusCode, answer: Value) -> (DeployError, usize) {
    let (fake, client) = setup(Auth::Bearer("t".into()));
    fake.lock().unwrap().script.push_back((status, answer));
    let error = block_on(client.deploy(&dashboard(), None, "m")).unwrap_err();
    (error, dashboard_posts(&fake).len())
}

#[test]
fn a_version_conflict_is_a_clear_error_without_retry() {
    let (error, posts) = fails_with(
        StatusCode::PRECONDITION_FAILED,
        json!({"message": "The dashboard has been changed by someone else", "status": "version-mismatch"}),
    );
    assert_eq!(posts, 1);
    match &error {
        DeployError::Conflict {
            status, message, ..
        } => {
            assert_eq!(status, "version-mismatch");
            assert!(message.contains("changed by someone else"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        error.to_string(),
        "/api/dashboards/db: precondition failed (412, `version-mismatch`): The dashboard has been changed by someone else"
    );
}

#[test]
fn unauthorized_forbidden_and_bad_requests_are_not_retried() {
    let (error, posts) = fails_with(
        StatusCode::UNAUTHORIZED,
        json!({"message": "invalid API key"}),
    );
    assert_eq!(posts, 1);
    assert!(
        matches!(error, DeployError::Unauthorized { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("401 Unauthorized"), "{error}");
    assert!(error.to_string().contains("invalid API key"), "{error}");

    let (error, posts) = fails_with(StatusCode::FORBIDDEN, json!({"message": "Access denied"}));
    assert_eq!(posts, 1);
    assert!(matches!(error, DeployError::Forbidden { .. }), "{error:?}");

    let (error, posts) = fails_with(
        StatusCode::BAD_REQUEST,
        json!({"message": "bad request data"}),
    );
    assert_eq!(posts, 1);
    assert!(matches!(error, DeployError::BadRequest { .. }), "{error:?}");
}

#[test]
fn a_persistent_server_error_gives_up_after_the_last_attempt() {
    let (fake, client) = setup(Auth::None);
    for _ in 0..5 {
        fake.lock()
            .unwrap()
            .script
            .push_back((StatusCode::SERVICE_UNAVAILABLE, json!({"message": "down"})));
    }
    let client = client.with_retry(RetryPolicy {
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(80),
        ..fast_retries()
    });
    let started = std::time::Instant::now();
    let error = block_on(client.deploy(&dashboard(), None, "m")).unwrap_err();
    match error {
        DeployError::Status {
            status, attempts, ..
        } => assert_eq!((status, attempts), (503, 3)),
        other => panic!("{other:?}"),
    }
    assert_eq!(dashboard_posts(&fake).len(), 3);
    // Backoff 50 ms, then doubled and capped at 80 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(130),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn nothing_listening_is_unreachable_after_retries() {
    let port = cqrs_obs_tests::peer::free_port();
    let client = GrafanaClient::new(&format!("http://127.0.0.1:{port}"), Auth::None)
        .unwrap()
        .with_retry(fast_retries());
    let error = block_on(client.deploy(&dashboard(), Some("Bank"), "m")).unwrap_err();
    match &error {
        DeployError::Unreachable { path, attempts, .. } => {
            assert_eq!((path.as_str(), *attempts), ("/api/folders/bank", 3));
        }
        other => panic!("{other:?}"),
    }
    assert!(std::error::Error::source(&error).is_some());
}

#[test]
fn deploys_every_generated_dashboard() {
    let (fake, client) = setup(Auth::Bearer("t".into()));
    let all = cqrs_obs::dashboards::generate_all(cqrs_obs::dashboards::Template::Production);
    let saved = block_on(client.deploy_all(&all, Some("Bank"), "cqrs-obs")).unwrap();
    let uids: Vec<&str> = saved.iter().map(|d| d.uid.as_str()).collect();
    let want: Vec<&str> = all.iter().map(|d| d.uid.as_str()).collect();
    assert_eq!(uids, want);
    let posts = dashboard_posts(&fake);
    assert_eq!(posts.len(), 6);
    for (post, dashboard) in posts.iter().zip(&all) {
        assert_eq!(post.body["dashboard"]["title"], dashboard.title.as_str());
        assert_eq!(post.body["folderUid"], "bank");
    }
    let folder_posts = fake
        .lock()
        .unwrap()
        .seen
        .iter()
        .filter(|s| s.path == "/api/folders")
        .count();
    assert_eq!(folder_posts, 1, "the folder is created once");
}

#[test]
fn a_silent_server_times_out_and_is_retried() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let keep = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            keep.lock().unwrap().push(stream);
        }
    });
    let client = GrafanaClient::new(&format!("http://{addr}"), Auth::None)
        .unwrap()
        .with_retry(RetryPolicy {
            attempts: 2,
            timeout: Duration::from_millis(200),
            ..fast_retries()
        });
    let error = block_on(client.deploy(&dashboard(), None, "m")).unwrap_err();
    match &error {
        DeployError::Unreachable {
            attempts, source, ..
        } => {
            assert_eq!(*attempts, 2);
            assert_eq!(source.to_string(), "timed out");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        accepted.lock().unwrap().len(),
        2,
        "one connection per attempt"
    );
}

/// A one-shot-per-connection HTTPS server answering every request with `answer`; returns
/// its address and the request heads it read.
fn https_server(
    cert_pem: &[u8],
    key_pem: &[u8],
    answer: &'static str,
) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::io::{Read, Write};

    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let connection = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(connection, stream);
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Read the head and a body of Content-Length bytes (a failed handshake ends here).
            let complete = loop {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break false,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
                let text = String::from_utf8_lossy(&request).into_owned();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        seen.lock().unwrap().push(text[..end].to_owned());
                        break true;
                    }
                }
            };
            if complete {
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = tls.write_all(response.as_bytes());
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        }
    });
    (addr, heads)
}

#[test]
fn deploys_over_https_trusting_the_given_root_only() {
    let dir = cqrs_obs_tests::peer::TempDir::new("grafana-tls");
    let cert = cqrs_obs_tests::tls::generate(dir.path());
    let cert_pem = std::fs::read(&cert.cert).unwrap();
    let key_pem = std::fs::read(&cert.key).unwrap();
    let answer = r#"{"id":1,"uid":"bank-overview","url":"/d/bank-overview/bank","status":"success","version":3}"#;
    let (addr, heads) = https_server(&cert_pem, &key_pem, answer);
    let url = format!("https://{addr}/grafana/");

    // The self-signed certificate is not among the webpki roots: refused, retried, reported.
    let untrusting = GrafanaClient::new(&url, Auth::Bearer("t".into()))
        .unwrap()
        .with_retry(fast_retries());
    let error = block_on(untrusting.deploy(&dashboard(), None, "m")).unwrap_err();
    assert!(
        matches!(error, DeployError::Unreachable { attempts: 3, .. }),
        "{error:?}"
    );
    let cause = std::error::Error::source(&error).unwrap().to_string();
    assert!(cause.to_lowercase().contains("certificate"), "{cause}");
    assert!(
        heads.lock().unwrap().is_empty(),
        "no request over an untrusted connection"
    );

    let mut client = GrafanaClient::new(&url, Auth::Bearer("t".into()))
        .unwrap()
        .with_retry(fast_retries());
    assert_eq!(client.add_root_certificates_pem(&cert_pem).unwrap(), 1);
    assert!(client
        .add_root_certificates_pem(b"not a certificate")
        .is_err());
    let saved = block_on(client.deploy(&dashboard(), None, "m")).unwrap();
    assert_eq!((saved.uid.as_str(), saved.version), ("bank-overview", 3));
    let heads = heads.lock().unwrap();
    assert_eq!(heads.len(), 1, "{heads:?}");
    let head = heads[0].to_ascii_lowercase();
    assert!(
        head.starts_with("post /grafana/api/dashboards/db http/1.1"),
        "{head}"
    );
    assert!(head.contains(&format!("host: {addr}")), "{head}");
    assert!(head.contains("authorization: bearer t"), "{head}");
}
