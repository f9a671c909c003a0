//! The show-details policy over HTTP with an admin token: `when-authorized` shows details to
//! requests that presented the token, the other policies apply to them too, and a request
//! without the token is refused before it reaches health.

use std::net::SocketAddr;

use cqrs_obs::health::{self, Check, HealthStatus, ShowDetails};
use cqrs_obs::{AdminAddr, Console};
use cqrs_obs_tests::http::get_with;

fn health(addr: SocketAddr, token: Option<&str>) -> (u16, serde_json::Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("Authorization", b.as_str()))
        .collect();
    let response = get_with(addr, "/health", &headers).unwrap();
    (response.status, response.json().unwrap())
}

#[test]
fn details_follow_the_policy_and_the_token() {
    // Safety of `set_var`: this binary has one test and sets the variables before any thread.
    std::env::set_var("CQRS_OBS_ADMIN_TOKEN", "s3cret-s3cret-s3cret");
    std::env::set_var("CQRS_OBS_HEALTH_DETAILS", "when-authorized");
    health::register(Check::from_fn("db", || {
        HealthStatus::up().with_detail("pool", 4)
    }))
    .unwrap();
    let guard = cqrs_obs::builder()
        .admin_addr(AdminAddr::Listen("127.0.0.1:0".parse().unwrap()))
        .console(Console::Off)
        .try_init()
        .expect("init");
    let addr = guard.admin_addr().unwrap();

    let (status, body) = health(addr, None);
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(body.get("status").is_none());

    let (status, body) = health(addr, Some("s3cret-s3cret-s3cret"));
    assert_eq!(status, 200);
    assert_eq!(body["components"]["db"]["details"]["pool"], 4);

    health::registry().set_show_details(ShowDetails::Never);
    let (_, body) = health(addr, Some("s3cret-s3cret-s3cret"));
    assert_eq!(body, serde_json::json!({ "status": "UP", "groups": [] }));

    health::registry().set_show_details(ShowDetails::Always);
    let (_, body) = health(addr, Some("s3cret-s3cret-s3cret"));
    assert_eq!(body["components"]["db"]["status"], "UP");
    drop(guard);
}
