//! Generated code does not depend on the names in scope where the handler is written: the
//! prelude's `Option`, `Some`, `None`, `Result`, `Ok`, `Err`, `Box`, crates `core` and `std`,
//! an item named `inventory` or `cqrs_obs`... are shadowed here, and parameters and locals are
//! named like the generated ones.

#![deny(warnings)]
#![allow(dead_code, non_camel_case_types)]

mod shadowing {
    pub struct Option;
    pub struct Some;
    pub struct None;
    pub struct Result;
    pub struct Ok;
    pub struct Err;
    pub struct Box;
    pub struct Pin;
    pub struct Future;
    pub mod core {}
    pub mod std {}
    pub mod inventory {}
    pub mod __private {}
    pub struct CallGuard;
    pub struct Probe;
    pub struct HandlerSite;
}

use shadowing::*;

#[allow(unused_macros)]
macro_rules! line {
    () => {
        0
    };
}
#[allow(unused_macros)]
macro_rules! file {
    () => {
        "shadowed"
    };
}

#[cqrs_obs::command_handler]
fn deposit(__cqrs_obs_out: u64, __cqrs_obs_guard: u64) -> u64 {
    let __cqrs_obs_parent = __cqrs_obs_out + __cqrs_obs_guard;
    let __cqrs_obs_site = 1;
    __cqrs_obs_parent * __cqrs_obs_site
}

#[allow(non_upper_case_globals)]
static __CQRS_OBS_SITE: u64 = 7;

#[cqrs_obs::command_handler]
async fn deposit_async(__cqrs_obs_out: u64, __cqrs_obs_fut: u64) -> u64 {
    __cqrs_obs_out + __cqrs_obs_fut + __CQRS_OBS_SITE
}

#[cqrs_obs::command_handler]
fn deposit_later(
    __cqrs_obs_ret: u64,
) -> ::std::pin::Pin<::std::boxed::Box<dyn ::std::future::Future<Output = u64>>> {
    ::std::boxed::Box::pin(async move { __cqrs_obs_ret })
}

#[cqrs_obs::query_handler]
fn maybe(flag: bool) -> ::core::result::Result<u8, ()> {
    if flag {
        ::core::result::Result::Ok(1)
    } else {
        ::core::result::Result::Err(())
    }
}

fn main() {
    let _ = (
        Option,
        Some,
        None,
        Result,
        Ok,
        Err,
        Box,
        Pin,
        Future,
        CallGuard,
        Probe,
        HandlerSite,
    );
    cqrs_obs::handler::enable();
    assert_eq!(deposit(1, 2), 3);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(deposit_async(1, 2)), 10);
    assert_eq!(runtime.block_on(deposit_later(4)), 4);
    assert_eq!(maybe(true), ::core::result::Result::Ok(1));

    let site = cqrs_obs::handler::registered()
        .find(|s| s.meta().name == "deposit")
        .unwrap();
    assert_ne!(site.meta().line, 0);
    assert_ne!(site.meta().file, "shadowed");
    assert_eq!(site.meta().message, "u64");
    assert_eq!(site.snapshot().count(cqrs_obs::Outcome::Ok), 1);
}
