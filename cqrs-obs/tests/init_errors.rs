//! Bad configuration and a taken port: `try_init()` says what is wrong and installs nothing;
//! `init()` reports and keeps the service running.

use std::net::TcpListener;

use cqrs_obs::{AdminAddr, Console, InitError};

#[test]
fn try_init_reports_bad_input_and_init_carries_on() {
    // A malformed variable names itself and the accepted values.
    std::env::set_var("CQRS_OBS_ADMIN_ADDR", "localhost:nine");
    let err = cqrs_obs::try_init().unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, InitError::Config(ref e) if e.var == "CQRS_OBS_ADMIN_ADDR"),
        "{err:?}"
    );
    assert!(message.contains("`localhost:nine`"), "{message}");
    assert!(
        message.contains("`off` or an IP socket address"),
        "{message}"
    );
    std::env::remove_var("CQRS_OBS_ADMIN_ADDR");

    std::env::set_var("OTEL_SDK_DISABLED", "maybe");
    let err = cqrs_obs::try_init().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid value `maybe` for OTEL_SDK_DISABLED: expected `true` or `false`"
    );
    std::env::remove_var("OTEL_SDK_DISABLED");

    // A port already in use is a clear error from try_init().
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = cqrs_obs::builder()
        .admin_addr(AdminAddr::Listen(addr))
        .console(Console::Off)
        .try_init()
        .unwrap_err();
    assert!(
        matches!(err, InitError::AdminBind { addr: a, .. } if a == addr),
        "{err:?}"
    );
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    assert!(
        !cqrs_obs::handler::is_enabled(),
        "a failed try_init installs nothing"
    );

    // A non-loopback address without a token is refused.
    let err = cqrs_obs::builder()
        .admin_addr(AdminAddr::Listen("0.0.0.0:0".parse().unwrap()))
        .console(Console::Off)
        .try_init()
        .unwrap_err();
    assert!(matches!(err, InitError::AdminNeedsToken { .. }), "{err:?}");

    // init() with the same taken port keeps the service running without the admin endpoint.
    let guard = cqrs_obs::builder()
        .admin_addr(AdminAddr::Listen(addr))
        .console(Console::Off)
        .init();
    assert_eq!(guard.admin_addr(), None);
    assert!(
        cqrs_obs::handler::is_enabled(),
        "recording runs without the admin endpoint"
    );

    // And a second initialisation is refused.
    assert!(matches!(
        cqrs_obs::try_init(),
        Err(InitError::AlreadyInitialized)
    ));
    drop(taken);
}
