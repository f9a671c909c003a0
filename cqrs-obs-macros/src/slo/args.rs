//! Parsing `#[slo(...)]`.
//!
//! ```text
//! #[slo( Arg,* ,? )]
//! Arg := availability = NUMBER                     (target in percent)
//!      | latency( pNN = "DURATION" )               (NN% of calls within DURATION; p99.9 works)
//!      | latency( threshold = "DURATION", target = NUMBER )
//!      | throughput( per_second = NUMBER, target = NUMBER )   (share of seconds with at least
//!                                                              NUMBER calls)
//!      | freshness( max_lag = "DURATION", target = NUMBER [, projection = STRING] )
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
    "throughput",
    "freshness",
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

impl Number {
    /// The number an integer or float literal holds; `expected` says what else is wrong.
    fn of(lit: &Lit, expected: &str) -> syn::Result<Number> {
        let value = match lit {
            Lit::Int(i) => i.base10_parse::<f64>(),
            Lit::Float(f) => f.base10_parse::<f64>(),
            other => Err(syn::Error::new_spanned(other, expected)),
        }?;
        Ok(Number {
            value,
            span: lit.span(),
        })
    }
}

impl Parse for Number {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        Number::of(&input.parse()?, "expected a number, like `99.9`")
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

/// The `key = literal` pairs of a parenthesised group, each key once and one of `keys`.
fn pairs(input: ParseStream<'_>, what: &str, keys: &[&str]) -> syn::Result<Vec<(Ident, Lit)>> {
    let content;
    syn::parenthesized!(content in input);
    let mut out: Vec<(Ident, Lit)> = Vec::new();
    while !content.is_empty() {
        let key: Ident = content.parse()?;
        let name = key.to_string();
        if !keys.contains(&name.as_str()) {
            let expected = keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>();
            return Err(syn::Error::new_spanned(
                &key,
                format!(
                    "unknown key `{name}` in `{what}(..)`; expected {}",
                    expected.join(", ")
                ),
            ));
        }
        if out.iter().any(|(k, _)| *k == key) {
            return Err(syn::Error::new_spanned(
                &key,
                format!("duplicate key `{key}`; each key can be set once"),
            ));
        }
        content.parse::<Token![=]>()?;
        out.push((key, content.parse()?));
        if !content.is_empty() {
            content.parse::<Token![,]>()?;
        }
    }
    Ok(out)
}

/// The value of `key` among `pairs` as a number.
fn number(pairs: &[(Ident, Lit)], key: &str) -> syn::Result<Option<Number>> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, lit)| Number::of(lit, &format!("expected a number for `{key}`")))
        .transpose()
}

/// The value of `key` among `pairs` as a string.
fn text(pairs: &[(Ident, Lit)], key: &str) -> syn::Result<Option<LitStr>> {
    match pairs.iter().find(|(k, _)| k == key) {
        None => Ok(None),
        Some((_, Lit::Str(s))) => Ok(Some(s.clone())),
        Some((_, other)) => Err(syn::Error::new_spanned(
            other,
            format!("expected a string for `{key}`, like `{key} = \"5s\"`"),
        )),
    }
}

/// `throughput(...)`.
#[derive(Clone)]
pub(crate) struct Throughput {
    pub(crate) per_second: Number,
    pub(crate) target: Number,
}

impl Parse for Throughput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let span = input.span();
        let pairs = pairs(input, "throughput", &["per_second", "target"])?;
        match (number(&pairs, "per_second")?, number(&pairs, "target")?) {
            (Some(per_second), Some(target)) => Ok(Throughput { per_second, target }),
            _ => Err(syn::Error::new(
                span,
                "`throughput(..)` needs `per_second` and `target`, like `throughput(per_second = 100, target = 99)`",
            )),
        }
    }
}

/// `freshness(...)`.
#[derive(Clone)]
pub(crate) struct Freshness {
    pub(crate) max_lag: LitStr,
    pub(crate) target: Number,
    pub(crate) projection: Option<LitStr>,
}

impl Parse for Freshness {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let span = input.span();
        let pairs = pairs(input, "freshness", &["max_lag", "target", "projection"])?;
        let projection = text(&pairs, "projection")?;
        match (text(&pairs, "max_lag")?, number(&pairs, "target")?) {
            (Some(max_lag), Some(target)) => Ok(Freshness {
                max_lag,
                target,
                projection,
            }),
            _ => Err(syn::Error::new(
                span,
                "`freshness(..)` needs `max_lag` and `target`, like `freshness(max_lag = \"5s\", target = 99)`",
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
    pub(crate) throughput: Option<(Ident, Throughput)>,
    pub(crate) freshness: Option<(Ident, Freshness)>,
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
            } else if name == "throughput" {
                set_once(&mut args.throughput, (key.clone(), input.parse()?), &key)?;
            } else if name == "freshness" {
                set_once(&mut args.freshness, (key.clone(), input.parse()?), &key)?;
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
