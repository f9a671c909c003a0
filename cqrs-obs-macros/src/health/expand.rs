//! Code generation for `#[health_check]`: the function stays as written; next to it, a
//! `const _` block holds a runner and its `inventory` registration. Pure `quote!`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::Ident;

use super::model::HealthSpec;

/// ```text
/// <the function, unchanged>
/// const _: () = {
///     fn __cqrs_obs_run() -> HealthStatus { into_health_status(check()) }
///     // async: fn __cqrs_obs_run() -> HealthFuture<'static> {
///     //     Box::pin(async { into_health_status(check().await) }) }
///     inventory::submit! { HealthRegistration { name, groups, .., run: HealthFn::Sync(__cqrs_obs_run) } }
/// };
/// ```
pub(crate) fn health(spec: &HealthSpec, item: TokenStream) -> TokenStream {
    let HealthSpec {
        name,
        groups,
        timeout_ms,
        interval_ms,
        critical,
        ident,
        ..
    } = spec;
    let run = Ident::new("__cqrs_obs_run", Span::mixed_site());
    let span = spec.output_span;
    let runner = if spec.is_async {
        let convert = quote_spanned! {span=>
            ::cqrs_obs::__private::IntoHealthStatus::into_health_status(#ident().await)
        };
        quote! {
            fn #run() -> ::cqrs_obs::__private::HealthFuture<'static> {
                ::std::boxed::Box::pin(async { #convert })
            }
        }
    } else {
        let convert = quote_spanned! {span=>
            ::cqrs_obs::__private::IntoHealthStatus::into_health_status(#ident())
        };
        quote! {
            fn #run() -> ::cqrs_obs::__private::HealthStatus {
                #convert
            }
        }
    };
    let kind = if spec.is_async {
        quote!(Async)
    } else {
        quote!(Sync)
    };
    let interval = match interval_ms {
        Some(ms) => quote!(::core::option::Option::Some(#ms)),
        None => quote!(::core::option::Option::None),
    };
    quote! {
        #item
        const _: () = {
            #runner
            ::cqrs_obs::__private::inventory::submit! {
                ::cqrs_obs::__private::HealthRegistration {
                    name: #name,
                    groups: &[#(#groups),*],
                    timeout_ms: #timeout_ms,
                    interval_ms: #interval,
                    critical: #critical,
                    run: ::cqrs_obs::__private::HealthFn::#kind(#run),
                }
            }
        };
    }
}
