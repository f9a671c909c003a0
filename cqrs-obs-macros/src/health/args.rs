//! `#[health_check(..)]` arguments: `key = value` entries through the shared helpers of
//! [`crate::args`], so every key is set once and errors are collected.

use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, LitStr};

use crate::args::{expr_entry, parse_entries, set_once, string_entry, Entry, Errors};

mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(group);
    syn::custom_keyword!(timeout);
    syn::custom_keyword!(interval);
    syn::custom_keyword!(critical);
}

/// The keys, in documentation order.
pub(crate) const KEYS: [&str; 5] = ["name", "group", "timeout", "interval", "critical"];

/// `#[health_check(..)]`, parsed but not validated: `group` and `critical` are kept as
/// expressions and checked by [`super::model`].
#[derive(Default)]
pub(crate) struct HealthArgs {
    pub(crate) name: Option<Entry<LitStr>>,
    pub(crate) group: Option<Entry<Expr>>,
    pub(crate) timeout: Option<Entry<LitStr>>,
    pub(crate) interval: Option<Entry<LitStr>>,
    pub(crate) critical: Option<Entry<Expr>>,
}

impl Parse for HealthArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = HealthArgs::default();
        parse_entries(input, |input, errors| {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::name) {
                set_once(&mut args.name, string_entry(input, errors)?, errors);
            } else if lookahead.peek(kw::group) {
                set_once(&mut args.group, expr_entry(input)?, errors);
            } else if lookahead.peek(kw::timeout) {
                set_once(&mut args.timeout, string_entry(input, errors)?, errors);
            } else if lookahead.peek(kw::interval) {
                set_once(&mut args.interval, string_entry(input, errors)?, errors);
            } else if lookahead.peek(kw::critical) {
                set_once(&mut args.critical, expr_entry(input)?, errors);
            } else if input.peek(Ident::peek_any) {
                unknown_key(input, errors)?;
            } else {
                return Err(lookahead.error());
            }
            Ok(())
        })?;
        Ok(args)
    }
}

/// Reports a key `#[health_check]` does not accept and skips its `= value`.
fn unknown_key(input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<()> {
    let key = input.call(Ident::parse_any)?;
    let accepted = KEYS.map(|k| format!("`{k}`")).join(", ");
    errors.push(syn::Error::new(
        key.span(),
        format!("unknown key `{key}`; expected one of {accepted}"),
    ));
    crate::args::skip_value(input)
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn messages(tokens: proc_macro2::TokenStream) -> Vec<String> {
        match syn::parse2::<HealthArgs>(tokens) {
            Ok(_) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn every_key_parses() {
        let args: HealthArgs = syn::parse2(quote!(
            name = "db",
            group = ["liveness", "readiness"],
            timeout = "2s",
            interval = "10s",
            critical = false,
        ))
        .unwrap();
        assert_eq!(args.name.unwrap().value.value(), "db");
        assert!(args.group.is_some() && args.critical.is_some());
        assert_eq!(args.timeout.unwrap().value.value(), "2s");
        assert_eq!(args.interval.unwrap().value.value(), "10s");
    }

    #[test]
    fn duplicates_and_unknown_keys_are_reported_together() {
        assert_eq!(
            messages(quote!(
                timeout = "1s",
                timeout = "2s",
                aggregate = "A",
                critical = true
            )),
            [
                "duplicate key `timeout`; each key can be set once",
                "unknown key `aggregate`; expected one of `name`, `group`, `timeout`, \
                 `interval`, `critical`",
            ]
        );
        assert_eq!(messages(quote!("x")).len(), 1);
    }
}
