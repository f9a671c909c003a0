//! `#[slo(...)]`: declares SLOs of the handler it is stacked on.
//!
//! Parse (`args`) → validate and resolve (`spec`, here) → expand (pure `quote!`). The handler
//! is found among the function's attributes: a handler attribute below `#[slo]`, or the
//! marker a handler attribute above it leaves behind (`__private::handler_marker`).

mod args;

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::quote;
use syn::{Attribute, LitStr};

use crate::item::{self, Body, MaybeItemFn};
use args::{Number, SloArgs};

/// The longest alert window (3 days): a period must be at least this long.
const MIN_PERIOD_SECS: u64 = 3 * 86_400;

struct Objective {
    id: String,
    category: &'static str,
    target: f64,
    sli: Indicator,
}

/// What an objective measures.
enum Indicator {
    Availability,
    /// The threshold in nanoseconds.
    Latency(u64),
    /// Calls per second.
    Throughput(f64),
    /// The projection and its largest acceptable lag in nanoseconds.
    Freshness(String, u64),
}

struct Spec {
    handler: String,
    objectives: Vec<Objective>,
    period_secs: u64,
    name: Option<String>,
    description: String,
    owner: String,
    priority: u8,
    rejected: bool,
    conflict: bool,
    count_cancelled: bool,
}

/// Expands `#[slo(args)] item`.
pub(crate) fn run(args: TokenStream, item: TokenStream) -> TokenStream {
    let result = item::parse(item.clone(), "slo").and_then(|func| {
        let args: SloArgs = syn::parse2(args)?;
        let spec = resolve(&args, &func)?;
        expand(&spec, func)
    });
    match result {
        Ok(tokens) => tokens,
        Err(err) => {
            let error = err.to_compile_error();
            quote!(#item #error)
        }
    }
}

fn last_segment(attr: &Attribute) -> Option<String> {
    attr.path().segments.last().map(|s| s.ident.to_string())
}

/// `key = "..."` among an attribute's arguments, if any.
fn string_argument(attr: &Attribute, wanted: &str) -> Option<String> {
    let syn::Meta::List(list) = &attr.meta else {
        return None;
    };
    let tokens: Vec<TokenTree> = list.tokens.clone().into_iter().collect();
    tokens.windows(3).find_map(|w| match w {
        [TokenTree::Ident(key), TokenTree::Punct(eq), TokenTree::Literal(value)]
            if key == wanted && eq.as_char() == '=' =>
        {
            syn::parse2::<LitStr>(TokenTree::Literal(value.clone()).into())
                .ok()
                .map(|s| s.value())
        }
        _ => None,
    })
}

/// The handler attribute, or the marker one left.
fn handler_attribute(func: &MaybeItemFn) -> Option<&Attribute> {
    func.attrs.iter().find(|attr| {
        matches!(
            last_segment(attr).as_deref(),
            Some("command_handler" | "event_handler" | "query_handler" | "handler_marker")
        )
    })
}

/// The handler's name, from the handler attribute or the marker one left.
fn handler_name(func: &MaybeItemFn) -> Option<String> {
    let default = || {
        func.sig
            .ident
            .to_string()
            .trim_start_matches("r#")
            .to_owned()
    };
    handler_attribute(func).map(|attr| string_argument(attr, "name").unwrap_or_else(default))
}

fn target(number: &Number) -> syn::Result<f64> {
    if number.value > 0.0 && number.value < 100.0 {
        Ok(number.value)
    } else {
        Err(syn::Error::new(
            number.span,
            format!(
                "target {} is not in (0, 100); write a percentage like `99.9`",
                number.value
            ),
        ))
    }
}

/// Parses `30d`, `6h`, `5m`, `90s`, `100ms`, `250us`, `500ns` into nanoseconds.
fn duration_nanos(lit: &LitStr) -> syn::Result<u64> {
    let text = lit.value();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        "d" => 86_400e9,
        _ => f64::NAN,
    };
    let nanos = number.parse::<f64>().map(|n| n * scale).unwrap_or(f64::NAN);
    if (1.0..1e20).contains(&nanos) {
        Ok(nanos.round() as u64)
    } else {
        Err(syn::Error::new_spanned(
            lit,
            format!("`{text}` is not a duration; write a number and a unit (`ns`, `us`, `ms`, `s`, `m`, `h`, `d`), like \"100ms\""),
        ))
    }
}

fn flag(lit: &Option<LitStr>, good: &str, other: &str, default: bool) -> syn::Result<bool> {
    match lit {
        None => Ok(default),
        Some(l) if l.value() == good => Ok(true),
        Some(l) if l.value() == other => Ok(false),
        Some(l) => Err(syn::Error::new_spanned(
            l,
            format!("expected \"{good}\" or \"{other}\""),
        )),
    }
}

fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

fn resolve(args: &SloArgs, func: &MaybeItemFn) -> syn::Result<Spec> {
    let handler = match (&args.handler, handler_name(func)) {
        (_, None) => {
            return Err(syn::Error::new(
                func.sig.ident.span(),
                "`#[slo]` goes on a handler: add `#[command_handler]`, `#[event_handler]` or `#[query_handler]` to this function",
            ))
        }
        (Some(explicit), Some(_)) => explicit.value(),
        (None, Some(name)) => name,
    };
    let base = args
        .id
        .as_ref()
        .map_or_else(|| slug(&handler), LitStr::value);
    if base.is_empty()
        || !base
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        let span = args.id.as_ref().map_or(Span::call_site(), LitStr::span);
        return Err(syn::Error::new(
            span,
            "an SLO id is lowercase letters, digits, `-` and `_`",
        ));
    }
    let several = [
        args.availability.is_some(),
        args.latency.is_some(),
        args.throughput.is_some(),
        args.freshness.is_some(),
    ]
    .into_iter()
    .filter(|&set| set)
    .count()
        > 1;
    let id = |kind: &str| {
        if several || args.id.is_none() {
            format!("{base}-{kind}")
        } else {
            base.clone()
        }
    };
    let mut objectives = Vec::new();
    if let Some(availability) = &args.availability {
        objectives.push(Objective {
            id: id("availability"),
            category: "availability",
            target: target(availability)?,
            sli: Indicator::Availability,
        });
    }
    if let Some(latency) = &args.latency {
        // Any threshold: one that is not a histogram bound is counted by the handler exactly.
        let nanos = duration_nanos(&latency.threshold)?;
        objectives.push(Objective {
            id: id("latency"),
            category: "latency",
            target: target(&latency.target)?,
            sli: Indicator::Latency(nanos),
        });
    }
    if let Some((_, throughput)) = &args.throughput {
        let per_second = &throughput.per_second;
        if !(per_second.value.is_finite() && per_second.value > 0.0) {
            return Err(syn::Error::new(
                per_second.span,
                "`per_second` must be a positive number of calls per second",
            ));
        }
        objectives.push(Objective {
            id: id("throughput"),
            category: "throughput",
            target: target(&throughput.target)?,
            sli: Indicator::Throughput(per_second.value),
        });
    }
    if let Some((key, freshness)) = &args.freshness {
        let projection = match (&freshness.projection, handler_attribute(func)) {
            (Some(explicit), _) => explicit.value(),
            (None, Some(attr)) => string_argument(attr, "projection").ok_or_else(|| {
                syn::Error::new_spanned(
                    key,
                    "`freshness(..)` needs a projection: put `#[slo]` on an `#[event_handler(projection = \"..\")]`, or write `freshness(projection = \"..\", ..)`",
                )
            })?,
            (None, None) => unreachable!("the handler was found above"),
        };
        objectives.push(Objective {
            id: id("freshness"),
            category: "freshness",
            target: target(&freshness.target)?,
            sli: Indicator::Freshness(projection, duration_nanos(&freshness.max_lag)?),
        });
    }
    if objectives.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            "`#[slo]` needs an objective: `availability = 99.9`, `latency(p95 = \"100ms\")`, `throughput(per_second = 100, target = 99)` or `freshness(max_lag = \"5s\", target = 99)`",
        ));
    }
    let period_secs = match &args.period {
        None => 30 * 86_400,
        Some(lit) => {
            let secs = duration_nanos(lit)? / 1_000_000_000;
            if secs < MIN_PERIOD_SECS {
                return Err(syn::Error::new_spanned(
                    lit,
                    "the period must be at least 3d, the longest alert window",
                ));
            }
            secs
        }
    };
    let priority = match &args.priority {
        None => 2,
        Some(lit) => lit.base10_parse::<u8>()?,
    };
    Ok(Spec {
        handler,
        objectives,
        period_secs,
        name: args.name.as_ref().map(LitStr::value),
        description: args
            .description
            .as_ref()
            .map_or_else(String::new, LitStr::value),
        owner: args.owner.as_ref().map_or_else(String::new, LitStr::value),
        priority,
        rejected: flag(&args.rejected, "good", "bad", true)?,
        conflict: flag(&args.conflict, "good", "bad", true)?,
        count_cancelled: !flag(&args.cancelled, "ignore", "bad", true)?,
    })
}

fn expand(spec: &Spec, func: MaybeItemFn) -> syn::Result<TokenStream> {
    let MaybeItemFn {
        attrs,
        vis,
        sig,
        body,
    } = func;
    let Body::Block {
        brace,
        inner_attrs,
        tokens,
    } = body
    else {
        return Err(syn::Error::new(
            sig.ident.span(),
            "`#[slo]` needs a function body",
        ));
    };
    let registrations = spec.objectives.iter().map(|o| registration(spec, o));
    let mut block = TokenStream::new();
    brace.surround(&mut block, |out| {
        out.extend(quote!(#(#inner_attrs)* #(#registrations)* #tokens));
    });
    Ok(quote!(#(#attrs)* #vis #sig #block))
}

fn registration(spec: &Spec, objective: &Objective) -> TokenStream {
    let p = quote!(::cqrs_obs::__private::slo);
    let handler = &spec.handler;
    let handlers = quote!(#p::Handlers::Named(#handler));
    let sli = match &objective.sli {
        Indicator::Availability => {
            let (rejected, conflict, count_cancelled) =
                (spec.rejected, spec.conflict, spec.count_cancelled);
            quote!(#p::Sli::Availability {
                handlers: #handlers,
                good: #p::GoodOutcomes { rejected: #rejected, conflict: #conflict, count_cancelled: #count_cancelled },
            })
        }
        Indicator::Latency(nanos) => quote!(#p::Sli::Latency {
            handlers: #handlers,
            threshold: ::core::time::Duration::from_nanos(#nanos),
        }),
        Indicator::Throughput(per_second) => quote!(#p::Sli::Throughput {
            handlers: #handlers,
            per_second: #per_second,
        }),
        Indicator::Freshness(projection, nanos) => quote!(#p::Sli::Freshness {
            projection: #projection,
            max_lag: ::core::time::Duration::from_nanos(#nanos),
        }),
    };
    let id = &objective.id;
    let target = objective.target;
    let category = objective.category;
    let name = spec
        .name
        .clone()
        .unwrap_or_else(|| format!("{handler} {category}"));
    let (description, owner, priority, period) = (
        &spec.description,
        &spec.owner,
        spec.priority,
        spec.period_secs,
    );
    quote! {
        ::cqrs_obs::__private::inventory::submit! {
            ::cqrs_obs::__private::SloRegistration(|| {
                let mut slo = #p::Slo::new(#id, #sli, #target);
                slo.name = #name;
                slo.description = #description;
                slo.category = #category;
                slo.owner = #owner;
                slo.priority = #priority;
                slo.period = ::core::time::Duration::from_secs(#period);
                slo
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> LitStr {
        LitStr::new(s, Span::call_site())
    }

    #[test]
    fn durations() {
        assert_eq!(duration_nanos(&lit("100ms")).unwrap(), 100_000_000);
        assert_eq!(duration_nanos(&lit("2.5us")).unwrap(), 2_500);
        assert_eq!(
            duration_nanos(&lit("30d")).unwrap(),
            30 * 86_400 * 1_000_000_000
        );
        assert!(duration_nanos(&lit("soon")).is_err());
        assert!(duration_nanos(&lit("10")).is_err());
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("on_Deposited"), "on-deposited");
    }
}
