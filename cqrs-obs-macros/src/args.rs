//! The attribute arguments: one [`Parse`] per attribute, `key = value` entries separated by
//! commas (a trailing comma is fine). Every key goes through [`set_once`], so a duplicate of
//! any key is an error; errors that leave the input parseable are collected and reported
//! together.

use syn::ext::IdentExt;
use syn::parse::{Lookahead1, Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Token};

use crate::model::Kind;

mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(command);
    syn::custom_keyword!(aggregate);
    syn::custom_keyword!(event);
    syn::custom_keyword!(projection);
    syn::custom_keyword!(saga);
    syn::custom_keyword!(metadata);
    syn::custom_keyword!(parent);
    syn::custom_keyword!(query);
}

/// One `key = value` argument that was given, with the key's span for diagnostics.
pub(crate) struct Entry<T> {
    pub(crate) key: Ident,
    pub(crate) value: T,
}

/// `#[command_handler(..)]`
#[derive(Default)]
pub(crate) struct CommandArgs {
    pub(crate) name: Option<Entry<LitStr>>,
    pub(crate) command: Option<Entry<LitStr>>,
    pub(crate) aggregate: Option<Entry<LitStr>>,
}

/// `#[event_handler(..)]`
#[derive(Default)]
pub(crate) struct EventArgs {
    pub(crate) name: Option<Entry<LitStr>>,
    pub(crate) event: Option<Entry<LitStr>>,
    pub(crate) projection: Option<Entry<LitStr>>,
    pub(crate) saga: Option<Entry<LitStr>>,
    pub(crate) metadata: Option<Entry<Expr>>,
    pub(crate) parent: Option<Entry<LitStr>>,
}

/// `#[query_handler(..)]`
#[derive(Default)]
pub(crate) struct QueryArgs {
    pub(crate) name: Option<Entry<LitStr>>,
    pub(crate) query: Option<Entry<LitStr>>,
}

/// The arguments of any of the three attributes.
pub(crate) enum Args {
    Command(CommandArgs),
    Event(Box<EventArgs>),
    Query(QueryArgs),
}

impl Args {
    pub(crate) fn parse(kind: Kind, tokens: proc_macro2::TokenStream) -> syn::Result<Args> {
        Ok(match kind {
            Kind::Command => Args::Command(syn::parse2(tokens)?),
            Kind::Event => Args::Event(Box::new(syn::parse2(tokens)?)),
            Kind::Query => Args::Query(syn::parse2(tokens)?),
        })
    }
}

impl Parse for CommandArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = CommandArgs::default();
        parse_entries(input, |input, errors| {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::name) {
                set_once(&mut args.name, string_entry(input, errors)?, errors);
            } else if lookahead.peek(kw::command) {
                set_once(&mut args.command, string_entry(input, errors)?, errors);
            } else if lookahead.peek(kw::aggregate) {
                set_once(&mut args.aggregate, string_entry(input, errors)?, errors);
            } else {
                unknown_key(input, lookahead, Kind::Command, errors)?;
            }
            Ok(())
        })?;
        Ok(args)
    }
}

impl Parse for EventArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = EventArgs::default();
        parse_entries(input, |input, errors| {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::name) {
                set_once(&mut args.name, string_entry(input, errors)?, errors);
            } else if lookahead.peek(kw::event) {
                set_once(&mut args.event, string_entry(input, errors)?, errors);
            } else if lookahead.peek(kw::projection) {
                let entry = string_entry(input, errors)?;
                set_once(&mut args.projection, entry, errors);
            } else if lookahead.peek(kw::saga) {
                set_once(&mut args.saga, string_entry(input, errors)?, errors);
            } else if lookahead.peek(kw::metadata) {
                set_once(&mut args.metadata, expr_entry(input)?, errors);
            } else if lookahead.peek(kw::parent) {
                set_once(&mut args.parent, string_entry(input, errors)?, errors);
            } else {
                unknown_key(input, lookahead, Kind::Event, errors)?;
            }
            Ok(())
        })?;
        Ok(args)
    }
}

impl Parse for QueryArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = QueryArgs::default();
        parse_entries(input, |input, errors| {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::name) {
                set_once(&mut args.name, string_entry(input, errors)?, errors);
            } else if lookahead.peek(kw::query) {
                set_once(&mut args.query, string_entry(input, errors)?, errors);
            } else {
                unknown_key(input, lookahead, Kind::Query, errors)?;
            }
            Ok(())
        })?;
        Ok(args)
    }
}

/// Errors collected while parsing goes on.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// `entry (, entry)* ,?`; `entry` parses one `key = value` and pushes recoverable errors.
pub(crate) fn parse_entries(
    input: ParseStream<'_>,
    mut entry: impl FnMut(ParseStream<'_>, &mut Errors) -> syn::Result<()>,
) -> syn::Result<()> {
    let mut errors = Errors::default();
    while !input.is_empty() {
        if let Err(error) = entry(input, &mut errors) {
            errors.push(error);
            return errors.finish();
        }
        if input.is_empty() {
            break;
        }
        if let Err(error) = input.parse::<Token![,]>() {
            errors.push(error);
            return errors.finish();
        }
    }
    errors.finish()
}

/// The one place that stores an argument: a key given twice is an error at the second one.
pub(crate) fn set_once<T>(slot: &mut Option<Entry<T>>, entry: Entry<T>, errors: &mut Errors) {
    if slot.is_some() {
        let message = format!("duplicate key `{}`; each key can be set once", entry.key);
        errors.push(syn::Error::new(entry.key.span(), message));
    } else {
        *slot = Some(entry);
    }
}

/// `key = "string"`; a value that is not a string literal is a recoverable error.
pub(crate) fn string_entry(
    input: ParseStream<'_>,
    errors: &mut Errors,
) -> syn::Result<Entry<LitStr>> {
    let key = key(input)?;
    let value: Expr = input.parse()?;
    let value = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(lit),
            attrs,
        }) if attrs.is_empty() => lit,
        other => {
            let message = format!("expected a string literal, like `{key} = \"...\"`");
            errors.push(syn::Error::new_spanned(&other, message));
            LitStr::new("", other.span())
        }
    };
    Ok(Entry { key, value })
}

/// `key = expression`
pub(crate) fn expr_entry(input: ParseStream<'_>) -> syn::Result<Entry<Expr>> {
    let key = key(input)?;
    let value: Expr = input.parse()?;
    Ok(Entry { key, value })
}

/// `key =` (a known key is next), returning the key.
fn key(input: ParseStream<'_>) -> syn::Result<Ident> {
    let key: Ident = input.parse()?;
    if !input.peek(Token![=]) {
        return Err(syn::Error::new(
            key.span(),
            format!("expected `{key} = ...`"),
        ));
    }
    let eq: Token![=] = input.parse()?;
    if input.is_empty() || input.peek(Token![,]) {
        return Err(syn::Error::new(
            eq.span,
            format!("expected a value after `{key} =`"),
        ));
    }
    Ok(key)
}

/// Reports a key this attribute does not accept (naming the attribute it belongs to, if any)
/// and skips its `= value`; anything else that is not a key is a hard error.
fn unknown_key(
    input: ParseStream<'_>,
    lookahead: Lookahead1<'_>,
    kind: Kind,
    errors: &mut Errors,
) -> syn::Result<()> {
    if !input.peek(Ident::peek_any) {
        return Err(lookahead.error());
    }
    let key = input.call(Ident::parse_any)?;
    let accepted = kind
        .keys()
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let message = match Kind::owning(&key.to_string()) {
        Some(owner) => format!(
            "`{key}` is a `#[{}]` key; `#[{}]` accepts {accepted}",
            owner.attribute(),
            kind.attribute(),
        ),
        None => format!("unknown key `{key}`; expected one of {accepted}"),
    };
    errors.push(syn::Error::new(key.span(), message));
    skip_value(input)
}

/// Skips the `= value` of a key that was reported, so that parsing can go on to the next key
/// and report every problem at once.
pub(crate) fn skip_value(input: ParseStream<'_>) -> syn::Result<()> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        if !input.is_empty() && !input.peek(Token![,]) {
            input.parse::<Expr>()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn messages(kind: Kind, tokens: proc_macro2::TokenStream) -> Vec<String> {
        match Args::parse(kind, tokens) {
            Ok(_) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn every_key_of_each_attribute_parses() {
        let Ok(Args::Command(args)) = Args::parse(
            Kind::Command,
            quote!(name = "open", command = "Open", aggregate = "Account",),
        ) else {
            panic!("command args")
        };
        assert_eq!(args.name.unwrap().value.value(), "open");
        assert_eq!(args.command.unwrap().value.value(), "Open");
        assert_eq!(args.aggregate.unwrap().value.value(), "Account");

        let tokens = quote!(
            event = "E",
            projection = "p",
            saga = "s",
            metadata = env.metadata
        );
        let Ok(Args::Event(args)) = Args::parse(Kind::Event, tokens) else {
            panic!("event args")
        };
        assert_eq!(args.event.unwrap().value.value(), "E");
        assert!(args.projection.is_some() && args.saga.is_some() && args.name.is_none());
        let metadata = args.metadata.unwrap().value;
        assert_eq!(
            quote!(#metadata).to_string(),
            quote!(env.metadata).to_string()
        );

        let Ok(Args::Query(args)) = Args::parse(Kind::Query, quote!()) else {
            panic!("query")
        };
        assert!(args.name.is_none() && args.query.is_none());
    }

    #[test]
    fn recoverable_errors_are_all_reported() {
        let got = messages(
            Kind::Command,
            quote!(
                name = 1,
                name = "x",
                name = "y",
                aggregate = Account,
                timeout = "2s"
            ),
        );
        assert_eq!(
            got,
            [
                "expected a string literal, like `name = \"...\"`",
                "duplicate key `name`; each key can be set once",
                "duplicate key `name`; each key can be set once",
                "expected a string literal, like `aggregate = \"...\"`",
                "unknown key `timeout`; expected one of `name`, `command`, `aggregate`",
            ]
        );
    }

    #[test]
    fn keys_of_other_attributes_name_their_attribute() {
        assert_eq!(
            messages(
                Kind::Query,
                quote!(aggregate = "A", metadata = m, query = "Q")
            ),
            [
                "`aggregate` is a `#[command_handler]` key; `#[query_handler]` accepts `name`, \
                 `query`",
                "`metadata` is a `#[event_handler]` key; `#[query_handler]` accepts `name`, \
                 `query`",
            ]
        );
    }

    #[test]
    fn malformed_entries_stop_parsing() {
        assert_eq!(
            messages(Kind::Command, quote!(name)),
            ["expected `name = ...`"]
        );
        assert_eq!(
            messages(Kind::Command, quote!(name =)),
            ["expected a value after `name =`"]
        );
        assert_eq!(
            messages(Kind::Command, quote!(name = , aggregate = "A")),
            ["expected a value after `name =`"]
        );
        assert_eq!(
            messages(Kind::Query, quote!(name = "a" query = "b")),
            ["expected `,`"]
        );
        assert_eq!(
            messages(Kind::Query, quote!("a")),
            ["expected `name` or `query`"]
        );
        assert_eq!(messages(Kind::Event, quote!(,)).len(), 1);
    }
}
