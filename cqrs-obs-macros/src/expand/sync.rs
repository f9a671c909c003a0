//! A plain `fn`: the body runs in a closure between entering and finishing the call.

use proc_macro2::TokenStream;
use quote::quote;

use super::{finish, user_block, Locals};
use crate::model::Spec;

/// ```text
/// let mut guard = CallGuard::enter_sync(site, parent);
/// let out = call_once(move || { <fake return> <body> });
/// { guard.finish(<outcome of &out>); }
/// out
/// ```
///
/// `call_once` takes an `FnOnce`, so the closure may move out of its captures and return
/// borrows of them: `fn get(&mut self) -> &mut T { &mut self.field }` compiles unchanged.
pub(super) fn body(spec: &Spec, locals: &Locals) -> TokenStream {
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
        let mut #guard = ::cqrs_obs::__private::CallGuard::enter_sync(#site, #parent);
        let #out = ::cqrs_obs::__private::call_once(move || #block);
        #finish
        #out
    }
}
