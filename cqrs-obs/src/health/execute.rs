//! Runs one check: in its own task (or on a thread of its own for a sync check), bounded by
//! its timeout. A panic, a cancellation or a timeout is DOWN with the reason; nothing a check
//! does can fail the caller.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::check::{Check, Runner};
use super::status::HealthStatus;

/// Runs `check` once; must be called within a tokio runtime with the time driver enabled.
pub(crate) async fn execute(check: &Check) -> (HealthStatus, Duration) {
    let started = Instant::now();
    let health = match &check.runner {
        Runner::Blocking(f) => blocking(f.clone(), check.timeout).await,
        Runner::Async(indicator) => {
            let indicator = indicator.clone();
            let handle = tokio::spawn(async move { indicator.check().await });
            let abort = handle.abort_handle();
            match tokio::time::timeout(check.timeout, handle).await {
                Ok(Ok(health)) => health,
                Ok(Err(error)) if error.is_panic() => panicked(error.into_panic()),
                Ok(Err(_)) => HealthStatus::down_because("cancelled"),
                Err(_) => {
                    abort.abort();
                    timed_out(check.timeout)
                }
            }
        }
    };
    (health, started.elapsed())
}

/// A sync check runs on a thread of its own rather than tokio's blocking pool: a hung check
/// then never holds up the shutdown of the runtime that asked (the thread is left behind).
async fn blocking(
    f: Arc<dyn Fn() -> HealthStatus + Send + Sync>,
    timeout: Duration,
) -> HealthStatus {
    let (done, result) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("cqrs-obs-health-check".into())
        .spawn(move || {
            let _ = done.send(std::panic::catch_unwind(AssertUnwindSafe(|| f())));
        });
    if let Err(e) = spawned {
        return HealthStatus::down_because(format!("cannot start the check's thread: {e}"));
    }
    match tokio::time::timeout(timeout, result).await {
        Ok(Ok(Ok(health))) => health,
        Ok(Ok(Err(payload))) => panicked(payload),
        Ok(Err(_)) => HealthStatus::down_because("the check's thread ended without a result"),
        Err(_) => timed_out(timeout),
    }
}

fn panicked(payload: Box<dyn Any + Send>) -> HealthStatus {
    HealthStatus::down_because(format!("panicked: {}", panic_message(payload)))
}

fn timed_out(timeout: Duration) -> HealthStatus {
    HealthStatus::down_because(format!("timed out after {timeout:?}"))
}

/// The message of a panic payload (`panic!("..")` gives a `&str` or a `String`).
pub(crate) fn panic_message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(message) => (*message).to_owned(),
            Err(_) => "a non-string panic payload".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::Status;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn panics_and_timeouts_are_down_with_the_reason() {
        runtime().block_on(async {
            let check = Check::from_async("p", || async {
                if true {
                    panic!("boom {}", 7);
                }
                true
            });
            let (health, _) = execute(&check).await;
            assert_eq!(health.status(), Status::Down);
            assert_eq!(health.reason(), Some("panicked: boom 7"));

            let check = Check::from_fn("s", || -> bool { panic!("static") });
            assert_eq!(execute(&check).await.0.reason(), Some("panicked: static"));

            let check = Check::from_async("t", || async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                true
            })
            .timeout(Duration::from_millis(20));
            let (health, took) = execute(&check).await;
            assert_eq!(health.reason(), Some("timed out after 20ms"));
            assert!(took < Duration::from_millis(70), "{took:?}");
        });
    }
}
