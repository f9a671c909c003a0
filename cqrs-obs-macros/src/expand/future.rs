//! `async fn`, and sync fns that return a future (`impl Future`, `Pin<Box<dyn Future>>`).

use proc_macro2::TokenStream;
use quote::quote;

use super::{finish, user_block, Locals};
use crate::model::Spec;

/// An `async fn` stays one; its body becomes an inner future run with the call's context.
///
/// ```text
/// let mut guard = CallGuard::enter_async(site, parent);
/// let out = WithContext::new(guard.take_context(), async move { <fake return> <body> }).await;
/// { guard.finish(<outcome of &out>); }
/// out
/// ```
pub(super) fn async_fn(spec: &Spec, locals: &Locals) -> TokenStream {
    let Locals {
        site,
        parent,
        guard,
        out,
        ..
    } = locals;
    let block = user_block(spec, locals);
    let finish = finish(locals);
    quote! {
        let mut #guard = ::cqrs_obs::__private::CallGuard::enter_async(#site, #parent);
        let #out = ::cqrs_obs::__private::WithContext::new(
            #guard.take_context(),
            async move #block,
        ).await;
        #finish
        #out
    }
}

/// A sync fn returning a future: the body builds the user's future when the fn is called; the
/// returned future times the call from its first poll (`wrap` is `Box::pin` for a boxed
/// `dyn Future`, else nothing).
///
/// ```text
/// let fut = call_once(move || { <fake return> <body> });
/// wrap(async move {
///     let mut guard = CallGuard::enter_async(site, parent);
///     let out = WithContext::new(guard.take_context(), fut).await;
///     { guard.finish(<outcome of &out>); }
///     out
/// })
/// ```
pub(super) fn returned(spec: &Spec, locals: &Locals, wrap: TokenStream) -> TokenStream {
    let Locals {
        site,
        parent,
        guard,
        out,
        fut,
        ..
    } = locals;
    let block = user_block(spec, locals);
    let finish = finish(locals);
    quote! {
        let #fut = ::cqrs_obs::__private::call_once(move || #block);
        #wrap(async move {
            let mut #guard = ::cqrs_obs::__private::CallGuard::enter_async(#site, #parent);
            let #out = ::cqrs_obs::__private::WithContext::new(#guard.take_context(), #fut).await;
            #finish
            #out
        })
    }
}
