//! Semantic checks of the arguments and of the function, once both parsed.

use quote::quote;
use syn::{Attribute, LitStr, ReturnType, Type};

use crate::args::{Args, Entry, Errors};
use crate::item::{Body, MaybeItemFn};
use crate::model::Kind;

/// Checks of the arguments alone.
pub(crate) fn args(args: &Args) -> syn::Result<()> {
    let mut errors = Errors::default();
    for entry in strings(args) {
        if entry.value.value().is_empty() {
            let message = format!(
                "`{}` cannot be empty; expected a non-empty string",
                entry.key
            );
            errors.push(syn::Error::new_spanned(&entry.value, message));
        }
    }
    if let Args::Event(event) = args {
        if let (Some(_), Some(saga)) = (&event.projection, &event.saga) {
            let (key, value) = (&saga.key, &saga.value);
            errors.push(syn::Error::new_spanned(
                quote!(#key = #value),
                "`projection` and `saga` cannot be used together; an event handler feeds one \
                 projection or one saga",
            ));
        }
        if let Some(parent) = &event.parent {
            let value = parent.value.value();
            if value != "link" && value != "child" {
                errors.push(syn::Error::new_spanned(
                    &parent.value,
                    "expected `parent = \"link\"` (a new trace linked to the producer) or \
                     `parent = \"child\"` (continue the producer's trace for young events)",
                ));
            } else if event.metadata.is_none() {
                let (key, value) = (&parent.key, &parent.value);
                errors.push(syn::Error::new_spanned(
                    quote!(#key = #value),
                    "`parent` needs `metadata = ..`: the producer's trace context is read from \
                     the event's metadata",
                ));
            }
        }
    }
    errors.finish()
}

/// The string arguments that were given.
fn strings(args: &Args) -> Vec<&Entry<LitStr>> {
    let all = match args {
        Args::Command(a) => vec![&a.name, &a.command, &a.aggregate],
        Args::Event(a) => vec![&a.name, &a.event, &a.projection, &a.saga],
        Args::Query(a) => vec![&a.name, &a.query],
    };
    all.into_iter().flatten().collect()
}

/// Checks of the function alone.
pub(crate) fn function(kind: Kind, func: &MaybeItemFn) -> syn::Result<()> {
    let mut errors = Errors::default();
    let attribute = kind.attribute();
    for attr in func.attrs.iter().filter(|attr| is_handler_attribute(attr)) {
        errors.push(syn::Error::new_spanned(
            attr,
            "a function can have only one handler attribute",
        ));
    }
    let sig = &func.sig;
    if let Some(constness) = &sig.constness {
        errors.push(syn::Error::new_spanned(
            constness,
            format!("`#[{attribute}]` cannot be used on a `const fn`"),
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            format!("`#[{attribute}]` cannot be used on an `extern` function; use the Rust ABI"),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic,
            format!("`#[{attribute}]` cannot be used on a variadic function"),
        ));
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        if let Type::Never(never) = &**ty {
            errors.push(syn::Error::new_spanned(
                never,
                format!(
                    "`#[{attribute}]` cannot be used on a function that never returns; \
                     a handler returns a value (or `()`)"
                ),
            ));
        }
    }
    if let Body::Missing(semi) = &func.body {
        errors.push(syn::Error::new_spanned(
            quote!(#sig #semi),
            format!(
                "`#[{attribute}]` needs a function body; put it on the method in the `impl`, \
                 not on the trait's declaration"
            ),
        ));
    }
    errors.finish()
}

/// `#[command_handler]`, `#[cqrs_obs::event_handler(..)]`, ...
fn is_handler_attribute(attr: &Attribute) -> bool {
    let last = attr.path().segments.last();
    last.is_some_and(|seg| Kind::ALL.iter().any(|kind| seg.ident == kind.attribute()))
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn check(kind: Kind, item: proc_macro2::TokenStream) -> Vec<String> {
        let func = crate::item::parse(item, kind.attribute()).expect("a function");
        match function(kind, &func) {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn ordinary_functions_pass() {
        assert!(check(
            Kind::Command,
            quote!(
                pub async unsafe fn f(&mut self) -> u8 {
                    1
                }
            )
        )
        .is_empty());
        assert!(check(
            Kind::Query,
            quote!(
                #[inline]
                #[other::attr]
                fn f() {}
            )
        )
        .is_empty());
    }

    #[test]
    fn unsupported_functions_are_reported_together() {
        let got = check(
            Kind::Query,
            quote!(
                #[cqrs_obs::command_handler(name = "x")]
                const extern "C" fn f() -> !;
            ),
        );
        assert_eq!(
            got,
            [
                "a function can have only one handler attribute",
                "`#[query_handler]` cannot be used on a `const fn`",
                "`#[query_handler]` cannot be used on an `extern` function; use the Rust ABI",
                "`#[query_handler]` cannot be used on a function that never returns; a handler \
                 returns a value (or `()`)",
                "`#[query_handler]` needs a function body; put it on the method in the `impl`, \
                 not on the trait's declaration",
            ]
        );
    }

    #[test]
    fn argument_checks() {
        let args = Args::parse(Kind::Event, quote!(name = "", projection = "p", saga = "s"));
        let got: Vec<_> = match self::args(&args.unwrap()) {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        };
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0],
            "`name` cannot be empty; expected a non-empty string"
        );
        assert!(got[1].starts_with("`projection` and `saga` cannot be used together"));
    }
}
