//! The typed handler spec: what to generate, with every default resolved.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::token::Brace;
use syn::{Attribute, Expr, FnArg, GenericParam, LitStr, Signature, Type, Visibility};

use crate::args::{Args, Entry};
use crate::item::{Body, MaybeItemFn};
use crate::shape::shape;
pub(crate) use crate::shape::Shape;

/// Which attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Command,
    Event,
    Query,
}

impl Kind {
    pub(crate) const ALL: [Kind; 3] = [Kind::Command, Kind::Event, Kind::Query];

    /// The attribute's name.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Kind::Command => "command_handler",
            Kind::Event => "event_handler",
            Kind::Query => "query_handler",
        }
    }

    /// The keys the attribute accepts, in documentation order.
    pub(crate) fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Command => &["name", "command", "aggregate"],
            Kind::Event => &["name", "event", "projection", "saga", "metadata", "parent"],
            Kind::Query => &["name", "query"],
        }
    }

    /// The attribute a key belongs to, for keys of exactly one attribute.
    pub(crate) fn owning(key: &str) -> Option<Kind> {
        let mut owners = Kind::ALL
            .into_iter()
            .filter(|kind| kind.keys().contains(&key));
        match (owners.next(), owners.next()) {
            (Some(kind), None) => Some(kind),
            _ => None,
        }
    }
}

/// Everything expansion needs.
pub(crate) struct Spec {
    pub(crate) kind: Kind,
    pub(crate) name: LitStr,
    pub(crate) message: LitStr,
    pub(crate) aggregate: Option<LitStr>,
    pub(crate) projection: Option<LitStr>,
    pub(crate) saga: Option<LitStr>,
    pub(crate) metadata: Option<Expr>,
    /// `parent = "link" | "child"` (validated).
    pub(crate) parent: Option<LitStr>,
    pub(crate) shape: Shape,
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    pub(crate) brace: Brace,
    pub(crate) inner_attrs: Vec<Attribute>,
    pub(crate) body: TokenStream,
}

impl Spec {
    /// The spec of a function with a body (`None` without one: validation reports that).
    pub(crate) fn new(args: Args, func: MaybeItemFn) -> Option<Spec> {
        // Re-created from the value so that a literal suffix (`"x"y`) cannot reach the output.
        let value = |entry: Option<Entry<LitStr>>| {
            entry.map(|entry| LitStr::new(&entry.value.value(), entry.value.span()))
        };
        let (kind, name, message, aggregate, projection, saga, metadata, parent) = match args {
            Args::Command(a) => (
                Kind::Command,
                a.name,
                a.command,
                value(a.aggregate),
                None,
                None,
                None,
                None,
            ),
            Args::Event(a) => (
                Kind::Event,
                a.name,
                a.event,
                None,
                value(a.projection),
                value(a.saga),
                a.metadata.map(|entry| entry.value),
                value(a.parent),
            ),
            Args::Query(a) => (Kind::Query, a.name, a.query, None, None, None, None, None),
        };
        let fn_name = func.sig.ident.unraw().to_string();
        let span = Span::call_site();
        let name = value(name).unwrap_or_else(|| LitStr::new(&fn_name, span));
        let message = value(message)
            .unwrap_or_else(|| LitStr::new(&default_message(&func).unwrap_or(fn_name), span));
        let shape = shape(&func.sig);
        let MaybeItemFn {
            attrs,
            vis,
            sig,
            body,
        } = func;
        let Body::Block {
            brace,
            inner_attrs,
            tokens: body,
        } = body
        else {
            return None;
        };
        Some(Spec {
            kind,
            name,
            message,
            aggregate,
            projection,
            saga,
            metadata,
            parent,
            shape,
            attrs,
            vis,
            sig,
            brace,
            inner_attrs,
            body,
        })
    }
}

/// The last path segment of the first non-`self` argument's type, unless that is a generic
/// parameter of the function (or `Self`). A wrapper with exactly one type argument
/// (`Envelope<AccountEvent>`, `Arc<Deposit>`) names its argument instead.
fn default_message(func: &MaybeItemFn) -> Option<String> {
    let ty = func.sig.inputs.iter().find_map(|arg| match arg {
        FnArg::Typed(pat) => Some(&*pat.ty),
        FnArg::Receiver(_) => None,
    })?;
    let is_generic = |ident: &syn::Ident| {
        ident == "Self"
            || func.sig.generics.params.iter().any(|param| match param {
                GenericParam::Type(param) => param.ident == *ident,
                _ => false,
            })
    };
    let ident = &unwrap_single_argument(strip(ty), &is_generic)?.ident;
    (!is_generic(ident)).then(|| ident.unraw().to_string())
}

/// The last segment of a path type, looking through wrappers with exactly one type argument
/// unless that argument is a generic parameter.
fn unwrap_single_argument<'a>(
    ty: &'a Type,
    is_generic: &dyn Fn(&syn::Ident) -> bool,
) -> Option<&'a syn::PathSegment> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
        let mut types = args.args.iter().filter_map(|arg| match arg {
            syn::GenericArgument::Type(ty) => Some(ty),
            _ => None,
        });
        if let (Some(inner), None) = (types.next(), types.next()) {
            if let Some(segment) = unwrap_single_argument(strip(inner), is_generic) {
                if !is_generic(&segment.ident) {
                    return Some(segment);
                }
            }
        }
    }
    Some(last)
}

/// Removes references, parentheses and invisible groups around a type.
fn strip(mut ty: &Type) -> &Type {
    loop {
        ty = match ty {
            Type::Reference(r) => &r.elem,
            Type::Paren(p) => &p.elem,
            Type::Group(g) => &g.elem,
            _ => return ty,
        }
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use super::*;

    fn spec(kind: Kind, item: TokenStream) -> Spec {
        let args = Args::parse(kind, TokenStream::new()).unwrap();
        Spec::new(args, crate::item::parse(item, kind.attribute()).unwrap()).unwrap()
    }

    fn message(item: TokenStream) -> String {
        spec(Kind::Command, item).message.value()
    }

    #[test]
    fn message_defaults_to_the_first_argument_type() {
        assert_eq!(
            message(quote!(
                fn f(cmd: Deposit) {}
            )),
            "Deposit"
        );
        assert_eq!(
            message(quote!(
                fn f(&self, cmd: &'a mut (Deposit)) {}
            )),
            "Deposit"
        );
        assert_eq!(
            message(quote!(
                fn f(e: &crate::m::Envelope<Deposited>) {}
            )),
            "Deposited"
        );
        assert_eq!(
            message(quote!(
                fn f(e: HashMap<String, Deposited>) {}
            )),
            "HashMap"
        );
        assert_eq!(
            message(quote!(
                fn f(cmd: r#Type) {}
            )),
            "Type"
        );
        assert_eq!(
            message(quote!(
                fn f<C: Into<u8>>(cmd: C) {}
            )),
            "f"
        );
        assert_eq!(
            message(quote!(
                fn f(cmd: Self) {}
            )),
            "f"
        );
        assert_eq!(
            message(quote!(
                fn f(cmd: impl Into<u8>) {}
            )),
            "f"
        );
        assert_eq!(
            message(quote!(
                fn f(cmd: (u8, u8)) {}
            )),
            "f"
        );
        assert_eq!(
            message(quote!(
                fn f(self: Box<Self>) {}
            )),
            "f"
        );
        assert_eq!(
            message(quote!(
                fn r#match() {}
            )),
            "match"
        );
        assert_eq!(
            spec(
                Kind::Query,
                quote!(
                    fn r#match() {}
                )
            )
            .name
            .value(),
            "match"
        );
    }
}
