//! Parsing `#[slo(...)]`.
//!
//! ```text
//! #[slo( Arg,* ,? )]
//! Arg := availability = NUMBER                     (target in percent)
//!      | latency( pNN = "DURATION" )               (NN% of calls within DURATION; p99.9 works)
//!      | latency( threshold = "DURATION", target = NUMBER )
//!      | period = "DURATION" | id = STRING | name = STRING | description = STRING
//!      | owner = STRING | priority = INTEGER | handler = STRING
//!      | rejected = "good" | "bad" | conflict = "good" | "bad" | cancelled = "ignore" | "bad"
//! ```

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, Lit, LitInt, LitStr, Token};

/// The keys `#[slo]` accepts.
pub(crate) const KEYS: &[&str] = &[
    "availability",
    "latency",
    "period",
    "id",
    "name",
    "description",
    "owner",
    "priority",
    "handler",
    "rejected",
    "conflict",
    "cancelled",
];

/// A number written as an integer or float literal, with its span.
#[derive(Clone)]
pub(crate) struct Number {
    pub(crate) value: f64,
    pub(crate) span: Span,
}

impl Parse for Number {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let lit: Lit = input.parse()?;
        let value = match &lit {
            Lit::Int(i) => i.base10_parse::<f64>(),
            Lit::Float(f) => f.base10_parse::<f64>(),
            other => Err(syn::Error::new_spanned(
                other,
                "expected a number, like `99.9`",
            )),
        }?;
        Ok(Number {
            value,
            span: lit.span(),
        })
    }
}

/// `latency(...)`.
#[derive(Clone)]
pub(crate) struct Latency {
    pub(crate) target: Number,
    pub(crate) threshold: LitStr,
}

impl Parse for Latency {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let content;
        syn::parenthesized!(content in input);
        let mut target = None;
        let mut threshold = None;
        while !content.is_empty() {
            let key: Ident = content.parse()?;
            content.parse::<Token![=]>()?;
            let name = key.to_string();
            if let Some(percentile) = name.strip_prefix('p').filter(|p| !p.is_empty()) {
                // `p95`, `p99`, and `p99_9` for 99.9 (an identifier cannot hold a dot).
                let value: f64 = percentile.replace('_', ".").parse().map_err(|_| {
                    syn::Error::new_spanned(&key, "expected a percentile like `p95` or `p99_9`")
                })?;
                set_once(
                    &mut target,
                    Number {
                        value,
                        span: key.span(),
                    },
                    &key,
                )?;
                set_once(&mut threshold, content.parse()?, &key)?;
            } else if name == "threshold" {
                set_once(&mut threshold, content.parse()?, &key)?;
            } else if name == "target" {
                set_once(&mut target, content.parse()?, &key)?;
            } else {
                return Err(syn::Error::new_spanned(
                    &key,
                    format!("unknown key `{name}` in `latency(..)`; expected `pNN = \"DURATION\"`, or `threshold` and `target`"),
                ));
            }
            if !content.is_empty() {
                content.parse::<Token![,]>()?;
            }
        }
        match (target, threshold) {
            (Some(target), Some(threshold)) => Ok(Latency { target, threshold }),
            _ => Err(input.error(
                "`latency(..)` needs a percentile and a threshold, like `latency(p95 = \"100ms\")`",
            )),
        }
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, key: &Ident) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new_spanned(
            key,
            format!("duplicate key `{key}`; each key can be set once"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

/// The parsed attribute.
#[derive(Default)]
pub(crate) struct SloArgs {
    pub(crate) availability: Option<Number>,
    pub(crate) latency: Option<Latency>,
    pub(crate) period: Option<LitStr>,
    pub(crate) id: Option<LitStr>,
    pub(crate) name: Option<LitStr>,
    pub(crate) description: Option<LitStr>,
    pub(crate) owner: Option<LitStr>,
    pub(crate) priority: Option<LitInt>,
    pub(crate) handler: Option<LitStr>,
    pub(crate) rejected: Option<LitStr>,
    pub(crate) conflict: Option<LitStr>,
    pub(crate) cancelled: Option<LitStr>,
}

impl Parse for SloArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = SloArgs::default();
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            let name = key.to_string();
            if name == "latency" {
                set_once(&mut args.latency, input.parse()?, &key)?;
            } else {
                input.parse::<Token![=]>().map_err(|_| {
                    syn::Error::new_spanned(&key, format!("expected `{name} = ...`"))
                })?;
                match name.as_str() {
                    "availability" => set_once(&mut args.availability, input.parse()?, &key)?,
                    "period" => set_once(&mut args.period, string(input)?, &key)?,
                    "id" => set_once(&mut args.id, string(input)?, &key)?,
                    "name" => set_once(&mut args.name, string(input)?, &key)?,
                    "description" => set_once(&mut args.description, string(input)?, &key)?,
                    "owner" => set_once(&mut args.owner, string(input)?, &key)?,
                    "priority" => set_once(&mut args.priority, input.parse()?, &key)?,
                    "handler" => set_once(&mut args.handler, string(input)?, &key)?,
                    "rejected" => set_once(&mut args.rejected, string(input)?, &key)?,
                    "conflict" => set_once(&mut args.conflict, string(input)?, &key)?,
                    "cancelled" => set_once(&mut args.cancelled, string(input)?, &key)?,
                    _ => {
                        let expected = KEYS.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>();
                        return Err(syn::Error::new_spanned(
                            &key,
                            format!(
                                "unknown key `{name}`; expected one of {}",
                                expected.join(", ")
                            ),
                        ));
                    }
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(args)
    }
}

fn string(input: ParseStream<'_>) -> syn::Result<LitStr> {
    let lookahead = input.fork();
    match input.parse::<LitStr>() {
        Ok(s) => Ok(s),
        Err(_) => {
            let tt: proc_macro2::TokenTree = lookahead.parse()?;
            Err(syn::Error::new_spanned(
                tt,
                "expected a string literal, like `period = \"30d\"`",
            ))
        }
    }
}
