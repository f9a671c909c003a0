//! Attribute macros of [cqrs-obs](https://docs.rs/cqrs-obs): `#[command_handler]`,
//! `#[event_handler]` and `#[query_handler]`, and `#[health_check]` (see [`health_check`]).
//!
//! Do not depend on this crate directly: `cqrs-obs` re-exports the macros, and the code they
//! generate names `::cqrs_obs::__private` only.
//!
//! ```ignore
//! use cqrs_obs::{command_handler, event_handler, query_handler};
//!
//! #[command_handler(aggregate = "Account")]
//! async fn deposit(cmd: Deposit, store: &EventStore) -> Result<Vec<AccountEvent>, AccountError> {
//!     // ...
//! }
//!
//! #[event_handler(projection = "balances", metadata = envelope.metadata)]
//! async fn on_deposited(envelope: &Envelope<AccountEvent>) -> Result<(), ProjectionError> {
//!     // ...
//! }
//!
//! #[query_handler]
//! fn balance(q: GetBalance, view: &Balances) -> Option<Balance> {
//!     // ...
//! }
//! ```
//!
//! # What an annotated function becomes
//!
//! The signature, attributes (docs, `#[must_use]`, `#[inline]`, `cfg`s, ...), visibility,
//! generics and receiver are kept as written; only the body is wrapped. Each handler gets a
//! `static` call site, registered with `inventory` so that the runtime knows every handler at
//! start-up, and every call is timed and recorded with its outcome by a drop guard, so a
//! panicking call records `panic` and a dropped future records `cancelled`.
//!
//! | the function | how it is instrumented |
//! |---|---|
//! | `fn` | the body runs in a closure (`return` and `?` keep their meaning), between entering and finishing the call |
//! | `async fn` | stays an `async fn`; the body runs as an inner future with the message context installed around each poll |
//! | `fn .. -> impl Future<Output = T>` (for example a trait's `fn handle(..) -> impl Future<..> + Send`) | the body builds the future when the fn is called; the returned future times the call when polled |
//! | `fn .. -> Pin<Box<dyn Future<Output = T> + ..>>` or `BoxFuture<'_, T>` (what `#[async_trait]` produces) | the same, boxed again with `Box::pin` |
//!
//! The outcome comes from the return value: `Ok(_)` and any non-`Result` value are `ok`, an
//! `Err(e)` is `error` unless the error type implements `cqrs_obs::ClassifyError`.
//!
//! # Attribute grammar
//!
//! ```text
//! #[command_handler]                    #[command_handler( Arg,* ,? )]
//! Arg  := name = STRING | command = STRING | aggregate = STRING
//!
//! #[event_handler]                      #[event_handler( Arg,* ,? )]
//! Arg  := name = STRING | event = STRING
//!       | projection = STRING | saga = STRING      (at most one of the two)
//!       | metadata = EXPR                          (borrowed: `&(EXPR)` must be a `&impl Carrier`)
//!       | parent = "link" | "child"               (needs `metadata`)
//!
//! #[query_handler]                      #[query_handler( Arg,* ,? )]
//! Arg  := name = STRING | query = STRING
//! ```
//!
//! Each key may appear once. Strings are non-empty string literals.
//!
//! * `name`: the handler name (the `handler` label); defaults to the function's name.
//! * `command` / `event` / `query`: the message type label. Defaults to the type of the first
//!   argument that is not `self` (references and generic arguments stripped, so
//!   `cmd: &Deposit` gives `Deposit` and `envelope: &Envelope<Deposited>` gives `Envelope`);
//!   when that type is a generic parameter of the function, is not a path, or there is no
//!   such argument, the function's name is used.
//!
//! # Limitations
//!
//! * A handler attribute cannot be combined with another handler attribute on one function,
//!   and cannot be used on a `const fn`, an `extern` ABI function, a function returning `!`
//!   or a trait method declaration without a body (put it on the method of the `impl`).
//! * The future-returning shapes are recognised by the spelling of the return type:
//!   `impl Future<..>`, `Pin<Box<dyn Future<..> ..>>`, `BoxFuture<..>` and `LocalBoxFuture<..>`.
//!   A future hidden behind another type alias or a generic parameter is instrumented as a
//!   sync function, which times the creation of the future rather than its execution.
//! * `#[async_trait]` goes on the `impl` block as usual: it expands before the handler
//!   attribute on the method, which then sees (and instruments) the boxed future it produces.
//! * The message type default only knows the function's own generic parameters: in
//!   `impl<C> Handler<C> { fn handle(&self, cmd: C) }` it is `"C"`; set `command = ".."`.
//! * A sync body runs in a closure, so `std::panic::Location::caller()` in the body of a
//!   `#[track_caller]` handler reports the handler itself, not its caller.
//! * Generated code names the runtime as `::cqrs_obs`, so the dependency cannot be renamed.

mod args;
mod expand;
mod health;
mod item;
mod model;
mod shape;
mod slo;
mod validate;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;

use crate::args::Args;
use crate::model::{Kind, Spec};

/// args → model → validate → expand. On an error, the function is emitted unchanged next to
/// the `compile_error!`s, so that its callers see no second, unrelated error.
fn run(kind: Kind, args: TokenStream2, item: TokenStream2) -> TokenStream2 {
    match spec(kind, args, item.clone()) {
        Ok(spec) => expand::handler(&spec),
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#item #error)
        }
    }
}

fn spec(kind: Kind, args: TokenStream2, item: TokenStream2) -> syn::Result<Spec> {
    let args = Args::parse(kind, args).and_then(|args| validate::args(&args).map(|()| args));
    let func = item::parse(item, kind.attribute())
        .and_then(|func| validate::function(kind, &func).map(|()| func));
    let (args, func) = match (args, func) {
        (Ok(args), Ok(func)) => (args, func),
        (Ok(_), Err(error)) | (Err(error), Ok(_)) => return Err(error),
        (Err(mut error), Err(more)) => {
            error.combine(more);
            return Err(error);
        }
    };
    Spec::new(args, func).ok_or_else(|| {
        syn::Error::new(
            proc_macro2::Span::call_site(),
            "expected a function with a body",
        )
    })
}

/// Instruments a command handler: one `handle {Command}` span, the `cqrs_commands_total` and
/// `cqrs_command_duration_seconds` series, and a new message context that is a child of the
/// caller's.
///
/// ```text
/// #[command_handler]
/// #[command_handler(name = "STRING", command = "STRING", aggregate = "STRING")]
/// ```
///
/// All keys are optional, in any order, each at most once:
///
/// * `name`: the handler name; defaults to the function's name.
/// * `command`: the command type label; defaults to the type of the first non-`self`
///   argument (see the [crate documentation](crate)).
/// * `aggregate`: the aggregate type label.
///
/// ```ignore
/// use cqrs_obs::command_handler;
///
/// #[command_handler(aggregate = "Account")]
/// async fn deposit(cmd: Deposit, store: &EventStore) -> Result<Vec<AccountEvent>, AccountError> {
///     store.append(&cmd.account, vec![AccountEvent::Deposited { amount: cmd.amount }]).await
/// }
/// ```
#[proc_macro_attribute]
pub fn command_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Command, args.into(), item.into()).into()
}

/// Instruments an event handler (a projection, a saga or a plain subscriber): one
/// `process {Event}` span, the `cqrs_events_processed_total` and
/// `cqrs_event_handler_duration_seconds` series.
///
/// ```text
/// #[event_handler]
/// #[event_handler(name = "STRING", event = "STRING", projection = "STRING", metadata = EXPR)]
/// #[event_handler(name = "STRING", event = "STRING", saga = "STRING", metadata = EXPR)]
/// ```
///
/// All keys are optional, in any order, each at most once:
///
/// * `name`: the handler name; defaults to the function's name.
/// * `event`: the event type label; defaults to the type of the first non-`self` argument
///   (see the [crate documentation](crate)).
/// * `projection` or `saga` (not both): what the handler feeds.
/// * `metadata`: an expression for the event's metadata, evaluated when the handler is called
///   and borrowed (`&(EXPR)`); its type implements `cqrs_obs::propagation::Carrier` (for
///   example `HashMap<String, String>`). The call's correlation and causation ids and trace
///   context are read from it. Without it, the context current on the calling thread or task
///   is used.
/// * `parent`: `"link"` (a new trace with a link to the producer's span, the default unless
///   `CQRS_OBS_EVENT_PARENT` says otherwise) or `"child"` (continue the producer's trace when
///   the event is younger than the configured age, 10 s by default). Needs `metadata`.
///
/// ```ignore
/// use cqrs_obs::event_handler;
///
/// #[event_handler(projection = "balances", metadata = envelope.metadata)]
/// async fn on_deposited(envelope: &Envelope<AccountEvent>) -> Result<(), ProjectionError> {
///     BALANCES.apply(&envelope.payload).await
/// }
/// ```
#[proc_macro_attribute]
pub fn event_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Event, args.into(), item.into()).into()
}

/// Instruments a query handler: one `query {Query}` span, the `cqrs_queries_total` and
/// `cqrs_query_duration_seconds` series.
///
/// ```text
/// #[query_handler]
/// #[query_handler(name = "STRING", query = "STRING")]
/// ```
///
/// All keys are optional, in any order, each at most once:
///
/// * `name`: the handler name; defaults to the function's name.
/// * `query`: the query type label; defaults to the type of the first non-`self` argument
///   (see the [crate documentation](crate)).
///
/// ```ignore
/// use cqrs_obs::query_handler;
///
/// #[query_handler]
/// fn balance(q: GetBalance, view: &Balances) -> Option<Balance> {
///     view.get(&q.account).copied()
/// }
/// ```
#[proc_macro_attribute]
pub fn query_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    run(Kind::Query, args.into(), item.into()).into()
}

/// Registers a health check: a sync or async function without arguments returning
/// `HealthStatus`, `Status`, `bool` or `Result<T, E: Display>`. The function is unchanged; a
/// registration next to it puts it on `/health` and in its groups.
///
/// ```text
/// #[health_check]
/// #[health_check(name = "STRING", group = "GROUP" | ["GROUP", ..], timeout = "DURATION",
///                interval = "DURATION", critical = true | false)]
/// ```
///
/// * `name`: the component name; defaults to the function's name.
/// * `group`: `liveness`, `readiness` or any lowercase name, or a list of them.
/// * `timeout`: bounds one run (default `2s`); a run that takes longer is DOWN.
/// * `interval`: refresh in the background and answer from the cache; without it the check
///   runs when an endpoint asks. Not shorter than `timeout`.
/// * `critical`: counts in the aggregate (default `true`); `false` is informational.
///
/// Durations are a whole number and a unit: `500ms`, `2s`, `1m`, `1h`. Put it on free
/// functions (a `const _` item goes next to the function, which an `impl` block cannot hold).
///
/// ```ignore
/// use cqrs_obs::{health_check, HealthStatus};
///
/// #[health_check(name = "event-store", group = "readiness", timeout = "2s")]
/// async fn event_store_reachable() -> HealthStatus {
///     HealthStatus::up()
/// }
/// ```
#[proc_macro_attribute]
pub fn health_check(args: TokenStream, item: TokenStream) -> TokenStream {
    health::run(args.into(), item.into()).into()
}

/// Declares service level objectives of the handler it is stacked on (above or below the
/// handler attribute). Each objective is registered through `inventory`, so the SLO engine,
/// `/slo` and the generated Prometheus rules know it at start-up.
///
/// ```text
/// #[slo( Arg,* ,? )]
/// Arg := availability = NUMBER                       target in percent, in (0, 100)
///      | latency( pNN = "DURATION" )                 NN % of calls within DURATION (p99_9 = 99.9 %)
///      | latency( threshold = "DURATION", target = NUMBER )
///      | period = "DURATION"                          rolling period, at least 3d (default 30d)
///      | id = STRING | name = STRING | description = STRING | owner = STRING
///      | priority = INTEGER | handler = STRING         (the handler's name, if it is not the attribute's)
///      | rejected = "good" | "bad" | conflict = "good" | "bad" | cancelled = "ignore" | "bad"
/// ```
///
/// A latency threshold is one of the handler histogram's bounds (100ns … 60s on a 1–2.5–5
/// ladder), so it is counted exactly. Ids default to `<handler>-availability` and
/// `<handler>-latency`.
///
/// ```ignore
/// #[command_handler(aggregate = "Account")]
/// #[slo(availability = 99.9, latency(p95 = "100ms"), period = "30d", owner = "payments")]
/// async fn deposit(cmd: Deposit) -> Result<Vec<AccountEvent>, AccountError> { .. }
/// ```
#[proc_macro_attribute]
pub fn slo(args: TokenStream, item: TokenStream) -> TokenStream {
    slo::run(args.into(), item.into()).into()
}

/// Left by a handler attribute on a function that also carries `#[slo]`, so that `#[slo]`
/// knows the handler whichever order the two are written in. Expands to the item unchanged.
#[doc(hidden)]
#[proc_macro_attribute]
pub fn handler_marker(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    #[test]
    fn expansion_is_a_function() {
        let items = [
            quote!(
                fn f(cmd: Deposit) -> Result<u8, E> {
                    let x = cmd?;
                    Ok(x)
                }
            ),
            quote!(
                pub async fn f(&self) {}
            ),
            quote!(
                fn f(&self) -> impl Future<Output = u8> + Send {
                    async { 1 }
                }
            ),
            quote!(
                fn f<'a>(&'a self) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
                    x
                }
            ),
            quote!(
                #[doc = "d"]
                fn f() {
                    #![allow(unused)]
                    Ok::<(), ()>(())
                }
            ),
        ];
        for item in items {
            let out = run(Kind::Event, quote!(metadata = m.metadata), item.clone());
            let func: syn::ItemFn = syn::parse2(out).unwrap_or_else(|e| panic!("{item}: {e}"));
            assert_eq!(func.sig, syn::parse2::<syn::ItemFn>(item).unwrap().sig);
        }
    }

    #[test]
    fn the_body_is_not_parsed() {
        let out = run(Kind::Command, quote!(), quote!(fn f() { not rust at all; })).to_string();
        assert!(out.contains("not rust at all"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn errors_keep_the_item_unchanged() {
        let item = quote!(
            fn f(cmd: Deposit) -> u8 {
                1
            }
        );
        let out = run(Kind::Query, quote!(aggregate = "A"), item.clone()).to_string();
        assert!(out.starts_with(&item.to_string()), "{out}");
        assert!(out.contains("compile_error"), "{out}");

        let out = run(
            Kind::Query,
            quote!(name = ""),
            quote!(
                struct S;
            ),
        )
        .to_string();
        assert_eq!(out.matches("compile_error").count(), 2, "{out}");
    }
}
