//! The typed spec of a health check, validated: durations parsed, groups checked, the
//! function's shape checked.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Expr, ExprArray, ExprLit, Ident, Lit, LitStr, ReturnType};

use super::args::HealthArgs;
use crate::args::Errors;
use crate::item::{Body, MaybeItemFn};

/// Everything expansion needs.
pub(crate) struct HealthSpec {
    pub(crate) name: LitStr,
    pub(crate) groups: Vec<LitStr>,
    pub(crate) timeout_ms: u64,
    pub(crate) interval_ms: Option<u64>,
    pub(crate) critical: bool,
    pub(crate) is_async: bool,
    pub(crate) ident: Ident,
    /// Where a conversion error of the return value points: the return type.
    pub(crate) output_span: Span,
}

/// The default timeout, as the runtime's `DEFAULT_TIMEOUT`.
const DEFAULT_TIMEOUT_MS: u64 = 2_000;

impl HealthSpec {
    /// Validates `args` and `func` together, collecting every error.
    pub(crate) fn new(args: HealthArgs, func: &MaybeItemFn) -> syn::Result<HealthSpec> {
        let mut errors = Errors::default();
        let name = match args.name {
            Some(entry) => non_empty(&entry.value, "name", &mut errors),
            None => LitStr::new(&func.sig.ident.unraw().to_string(), Span::call_site()),
        };
        let groups = match &args.group {
            Some(entry) => groups(&entry.value, &mut errors),
            None => Vec::new(),
        };
        let timeout = args
            .timeout
            .as_ref()
            .and_then(|e| duration(&e.value, &mut errors));
        let interval = args
            .interval
            .as_ref()
            .and_then(|e| duration(&e.value, &mut errors));
        if let (Some(t), Some(i), Some(entry)) = (timeout, interval, &args.timeout) {
            if t > i {
                errors.push(syn::Error::new_spanned(
                    &entry.value,
                    "`timeout` cannot be longer than `interval`",
                ));
            }
        }
        let critical = match &args.critical {
            Some(entry) => match &entry.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Bool(b), ..
                }) => b.value,
                other => {
                    errors.push(syn::Error::new_spanned(
                        other,
                        "expected `true` or `false`, like `critical = false`",
                    ));
                    true
                }
            },
            None => true,
        };
        function(func, &mut errors);
        errors.finish()?;
        let output_span = match &func.sig.output {
            ReturnType::Type(_, ty) => ty.span(),
            ReturnType::Default => func.sig.ident.span(),
        };
        Ok(HealthSpec {
            name,
            groups,
            timeout_ms: timeout.unwrap_or(DEFAULT_TIMEOUT_MS),
            interval_ms: interval,
            critical,
            is_async: func.sig.asyncness.is_some(),
            ident: func.sig.ident.clone(),
            output_span,
        })
    }
}

/// The value, re-created without a suffix; an empty one is an error.
fn non_empty(value: &LitStr, key: &str, errors: &mut Errors) -> LitStr {
    if value.value().is_empty() {
        errors.push(syn::Error::new_spanned(
            value,
            format!("`{key}` cannot be empty; expected a non-empty string"),
        ));
    }
    LitStr::new(&value.value(), value.span())
}

/// `"readiness"` or `["liveness", "readiness"]`; names are lowercase letters, digits, `-`
/// and `_`.
fn groups(value: &Expr, errors: &mut Errors) -> Vec<LitStr> {
    let literals: Vec<&Expr> = match value {
        Expr::Array(ExprArray { elems, .. }) if !elems.is_empty() => elems.iter().collect(),
        Expr::Array(array) => {
            errors.push(syn::Error::new_spanned(
                array,
                "`group` needs at least one group",
            ));
            return Vec::new();
        }
        single => vec![single],
    };
    let mut out: Vec<LitStr> = Vec::new();
    for expr in literals {
        let Expr::Lit(ExprLit {
            lit: Lit::Str(lit), ..
        }) = expr
        else {
            errors.push(syn::Error::new_spanned(
                expr,
                "expected a group name or a list of them, like `group = \"readiness\"` or \
                 `group = [\"liveness\", \"readiness\"]`",
            ));
            continue;
        };
        let name = lit.value();
        let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !valid {
            errors.push(syn::Error::new_spanned(
                lit,
                "a group name starts with a lowercase letter and has lowercase letters, \
                 digits, `-` and `_` only",
            ));
        } else if out.iter().any(|g| g.value() == name) {
            errors.push(syn::Error::new_spanned(
                lit,
                format!("duplicate group `{name}`"),
            ));
        } else {
            out.push(LitStr::new(&name, lit.span()));
        }
    }
    out
}

/// `500ms`, `2s`, `1m`, `1h` in milliseconds; zero is an error.
pub(crate) fn parse_duration(text: &str) -> Result<u64, &'static str> {
    const BAD: &str = "expected a duration like `500ms`, `2s`, `1m` or `1h`";
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or(BAD)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| BAD)?;
    let scale = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(BAD),
    };
    match number.checked_mul(scale) {
        Some(0) => Err("a duration must be greater than zero"),
        Some(ms) => Ok(ms),
        None => Err("the duration is too long"),
    }
}

fn duration(value: &LitStr, errors: &mut Errors) -> Option<u64> {
    parse_duration(&value.value())
        .map_err(|message| errors.push(syn::Error::new_spanned(value, message)))
        .ok()
}

/// A health check is a free function with a body and no arguments, not generic, `const`,
/// `unsafe` or `extern`, with a return type.
fn function(func: &MaybeItemFn, errors: &mut Errors) {
    let sig = &func.sig;
    let mut refuse = |tokens: TokenStream, message: &str| {
        errors.push(syn::Error::new_spanned(tokens, message));
    };
    if let Some(constness) = &sig.constness {
        refuse(
            quote!(#constness),
            "`#[health_check]` cannot be used on a `const fn`",
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        refuse(
            quote!(#unsafety),
            "`#[health_check]` cannot be used on an `unsafe fn`",
        );
    }
    if let Some(abi) = &sig.abi {
        refuse(
            quote!(#abi),
            "`#[health_check]` cannot be used on an `extern` function",
        );
    }
    if !sig.generics.params.is_empty() {
        let params = &sig.generics;
        refuse(quote!(#params), "a health check cannot be generic");
    }
    if !sig.inputs.is_empty() || sig.variadic.is_some() {
        let inputs = &sig.inputs;
        refuse(
            quote!(#inputs),
            "a health check takes no arguments; read what it needs from statics or register \
             a `cqrs_obs::health::Check` closure instead",
        );
    }
    if let ReturnType::Default = sig.output {
        let ident = &sig.ident;
        refuse(
            quote!(#ident),
            "a health check returns `HealthStatus`, `bool` or `Result<_, E>`; add a return type",
        );
    }
    if let Body::Missing(semi) = &func.body {
        refuse(
            quote!(#sig #semi),
            "`#[health_check]` needs a function body",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert_eq!(parse_duration("2s"), Ok(2_000));
        assert_eq!(parse_duration("1m"), Ok(60_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("2").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("1.5s").is_err());
        assert!(parse_duration("2 s").is_err());
        assert!(parse_duration("99999999999999999h").is_err());
    }
}
