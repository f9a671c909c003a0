//! Code generation: pure `quote!`, never fails. Generated code names `::cqrs_obs::__private`,
//! `::core` and (for boxed futures) `::std::boxed::Box` only; its locals are `__cqrs_obs_*`
//! with mixed-site hygiene, so they can neither see nor shadow the user's names.

mod future;
mod sync;

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Ident, LitStr, ReturnType};

use crate::model::{Kind, Spec};
use crate::shape::Shape;

/// The generated locals.
struct Locals {
    site: Ident,
    parent: Ident,
    guard: Ident,
    out: Ident,
    fut: Ident,
    ret: Ident,
}

impl Locals {
    fn new() -> Locals {
        let ident = |name: &str| Ident::new(name, Span::mixed_site());
        Locals {
            site: ident("__cqrs_obs_site"),
            parent: ident("__cqrs_obs_parent"),
            guard: ident("__cqrs_obs_guard"),
            out: ident("__cqrs_obs_out"),
            fut: ident("__cqrs_obs_fut"),
            ret: ident("__cqrs_obs_ret"),
        }
    }
}

/// The instrumented function.
pub(crate) fn handler(spec: &Spec) -> TokenStream {
    let locals = Locals::new();
    let site = site(spec, &locals);
    let parent = parent(spec, &locals);
    let body = match spec.shape {
        Shape::Sync => sync::body(spec, &locals),
        Shape::Async => future::async_fn(spec, &locals),
        Shape::ImplFuture => future::returned(spec, &locals, quote!()),
        Shape::BoxedFuture => future::returned(spec, &locals, quote!(::std::boxed::Box::pin)),
    };
    let Spec {
        attrs,
        vis,
        sig,
        brace,
        inner_attrs,
        ..
    } = spec;
    let mut block = TokenStream::new();
    brace.surround(&mut block, |tokens| {
        quote!(#(#inner_attrs)* #site #parent #body).to_tokens(tokens);
    });
    let marker = marker(spec);
    quote!(#(#attrs)* #marker #vis #sig #block)
}

/// `let __cqrs_obs_site: &'static HandlerSite = ..;`: the `static` call site and its
/// registration, in a block of their own so that the user's body cannot see them.
fn site(spec: &Spec, locals: &Locals) -> TokenStream {
    let Locals { site, .. } = locals;
    let kind = match spec.kind {
        Kind::Command => quote!(Command),
        Kind::Event => quote!(Event),
        Kind::Query => quote!(Query),
    };
    let (name, message) = (&spec.name, &spec.message);
    let aggregate = option(spec.aggregate.as_ref());
    let projection = option(spec.projection.as_ref());
    let saga = option(spec.saga.as_ref());
    let line = quote_spanned!(spec.sig.ident.span()=> ::core::line!());
    let is_async = spec.shape != Shape::Sync;
    let site_static = Ident::new("__CQRS_OBS_SITE", Span::mixed_site());
    quote! {
        let #site: &'static ::cqrs_obs::__private::HandlerSite = {
            static #site_static: ::cqrs_obs::__private::HandlerSite =
                ::cqrs_obs::__private::HandlerSite::new(::cqrs_obs::__private::HandlerMeta {
                kind: ::cqrs_obs::__private::HandlerKind::#kind,
                name: #name,
                message: #message,
                aggregate: #aggregate,
                projection: #projection,
                saga: #saga,
                module: ::core::module_path!(),
                file: ::core::file!(),
                line: #line,
                is_async: #is_async,
            });
            ::cqrs_obs::__private::inventory::submit! {
                ::cqrs_obs::__private::Registration(&#site_static)
            }
            &#site_static
        };
    }
}

fn option(value: Option<&LitStr>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

/// `let __cqrs_obs_parent = ..;`: from the event's metadata, or the current context.
fn parent(spec: &Spec, locals: &Locals) -> TokenStream {
    let Locals { parent, .. } = locals;
    match &spec.metadata {
        Some(expr) => {
            // The call is spanned from the expression's first to its last token, so that a
            // type error (not a `Carrier`) underlines exactly the user's expression.
            let tokens = expr.to_token_stream();
            let (first, last) = first_and_last_spans(tokens.clone());
            let mut borrowed = Group::new(Delimiter::Parenthesis, tokens);
            borrowed.set_span(last);
            let mut args = Group::new(Delimiter::Parenthesis, quote_spanned!(first=> &#borrowed));
            args.set_span(last);
            match &spec.parent {
                Some(mode) => {
                    let mode = match mode.value().as_str() {
                        "child" => quote!(::cqrs_obs::__private::ParentMode::Child),
                        _ => quote!(::cqrs_obs::__private::ParentMode::Link),
                    };
                    let call =
                        quote_spanned!(first=> ::cqrs_obs::__private::parent_from_metadata_as);
                    let mut args = Group::new(
                        Delimiter::Parenthesis,
                        quote_spanned!(first=> &#borrowed, #mode),
                    );
                    args.set_span(last);
                    quote!(let #parent = #call #args;)
                }
                None => {
                    let call = quote_spanned!(first=> ::cqrs_obs::__private::parent_from_metadata);
                    quote!(let #parent = #call #args;)
                }
            }
        }
        None => quote!(let #parent = ::cqrs_obs::__private::Parent::Current;),
    }
}

fn first_and_last_spans(tokens: TokenStream) -> (Span, Span) {
    let mut tokens = tokens.into_iter();
    let first = match tokens.next() {
        Some(TokenTree::Group(group)) => group.span_open(),
        Some(tt) => tt.span(),
        None => Span::call_site(),
    };
    let last = match tokens.last() {
        Some(TokenTree::Group(group)) => group.span_close(),
        Some(tt) => tt.span(),
        None => first,
    };
    (first, last)
}

/// Records the outcome classified from `__cqrs_obs_out`.
fn finish(locals: &Locals) -> TokenStream {
    let Locals { guard, out, .. } = locals;
    quote! {
        {
            use ::cqrs_obs::__private::{ProbeAny as _, ProbeClassified as _, ProbeResult as _};
            #guard.finish((&&&::cqrs_obs::__private::Probe(&#out)).__cqrs_obs_outcome());
        }
    }
}

/// The user's body in a block, behind a never-taken `return` of the declared return type (as `tracing-attributes` does): it fixes the type of the closure or
/// async block, so `?` and inference work as in the original function, and a type error
/// points at the user's signature. Left out when the return type contains `impl`, which a
/// `let` cannot name.
fn user_block(spec: &Spec, locals: &Locals) -> TokenStream {
    let Spec {
        brace, body, sig, ..
    } = spec;
    let (ty, span) = match &sig.output {
        ReturnType::Type(_, ty) => (ty.to_token_stream(), ty.span()),
        ReturnType::Default => (quote!(()), sig.paren_token.span.close()),
    };
    // Located at the return type (notes about the inferred type point there), resolved with
    // the hygiene of the other generated locals.
    let ret = Ident::new(&locals.ret.to_string(), span.resolved_at(locals.ret.span()));
    let edge = if contains_impl(ty.clone()) {
        quote!()
    } else {
        quote_spanned! {span=>
            #[allow(
                unknown_lints,
                unreachable_code,
                clippy::diverging_sub_expression,
                clippy::empty_loop,
                clippy::let_unit_value,
                clippy::let_with_type_underscore,
                clippy::needless_return,
                clippy::unreachable
            )]
            if false {
                let #ret: #ty = loop {};
                return #ret;
            }
        }
    };
    // Both braces carry the span of the user's closing brace: a syntax error at the end of
    // the body is then reported at the very span rustc already reported it at when it parsed
    // the original item, and the two reports merge into one.
    let mut block = Group::new(Delimiter::Brace, quote!(#edge #body));
    block.set_span(brace.span.close());
    block.into_token_stream()
}

fn contains_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tt| match tt {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => contains_impl(group.stream()),
        _ => false,
    })
}

/// For a function that also carries `#[slo]` (below this attribute), a marker naming the
/// handler, placed after the other attributes so that `#[slo]` sees it.
fn marker(spec: &Spec) -> TokenStream {
    let has_slo = spec.attrs.iter().any(|attr| {
        attr.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "slo")
    });
    if !has_slo {
        return TokenStream::new();
    }
    let name = &spec.name;
    let kind = spec.kind.attribute();
    let projection = spec
        .projection
        .as_ref()
        .map(|projection| quote!(, projection = #projection));
    quote!(#[::cqrs_obs::__private::handler_marker(kind = #kind, name = #name #projection)])
}
