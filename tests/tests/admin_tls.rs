//! The admin endpoint over TLS: a certificate generated for the test, a client that trusts
//! only it, a round trip with a token; a plain-HTTP client gets no answer, and a client that
//! does not trust the certificate fails the handshake.

use cqrs_obs::{AdminAddr, Console};
use cqrs_obs_tests::peer::TempDir;
use cqrs_obs_tests::tls;

#[test]
fn round_trip_over_tls() {
    let dir = TempDir::new("admin-tls");
    let cert = tls::generate(dir.path());
    let guard = cqrs_obs::builder()
        .ignore_env()
        .admin_addr(AdminAddr::Listen("127.0.0.1:0".parse().unwrap()))
        .admin_token("operator-token-0123456789")
        .admin_tls(&cert.cert, &cert.key)
        .console(Console::Off)
        .try_init()
        .expect("init");
    let addr = guard.admin_addr().unwrap();
    let client = cert.client();

    let live = tls::request(client.clone(), addr, "GET", "/livez", &[], b"").unwrap();
    assert_eq!(live.status, 200);
    let auth = [("Authorization", "Bearer operator-token-0123456789")];
    let metrics = tls::request(client.clone(), addr, "GET", "/metrics", &auth, b"").unwrap();
    assert_eq!(metrics.status, 200);
    assert!(metrics.body.contains("# HELP"), "{}", metrics.body);
    let refused = tls::request(client, addr, "GET", "/metrics", &[], b"").unwrap();
    assert_eq!(refused.status, 401);

    let plain = cqrs_obs_tests::http::get(addr, "/livez");
    assert!(plain.is_err(), "plain HTTP gets no HTTP answer: {plain:?}");

    let other_dir = TempDir::new("admin-tls-other");
    let other = tls::generate(other_dir.path());
    let distrusted = tls::request(other.client(), addr, "GET", "/livez", &[], b"");
    assert!(distrusted.is_err(), "{distrusted:?}");
    drop(guard);
}
