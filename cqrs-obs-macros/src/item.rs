//! The annotated item, parsed leniently: attributes, visibility and signature are parsed, the
//! body is kept as raw tokens and never parsed, so that an error in it is reported by rustc at
//! the user's own tokens (as `tracing-attributes`' `MaybeItemFn` does).

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::token::Brace;
use syn::{braced, Attribute, Signature, Token, Visibility};

/// A function whose body is not parsed.
pub(crate) struct MaybeItemFn {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    pub(crate) body: Body,
}

/// What follows the signature.
pub(crate) enum Body {
    /// `{ #![inner] tokens }`
    Block {
        brace: Brace,
        inner_attrs: Vec<Attribute>,
        tokens: TokenStream,
    },
    /// `;` (a trait method declaration, or a foreign fn)
    Missing(Token![;]),
}

impl Parse for MaybeItemFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let sig: Signature = input.parse()?;
        let body = if input.peek(Token![;]) {
            Body::Missing(input.parse()?)
        } else {
            let content;
            let brace = braced!(content in input);
            let inner_attrs = content.call(Attribute::parse_inner)?;
            let tokens: TokenStream = content.parse()?;
            Body::Block {
                brace,
                inner_attrs,
                tokens,
            }
        };
        Ok(MaybeItemFn {
            attrs,
            vis,
            sig,
            body,
        })
    }
}

/// Parses the item; on failure, the error to report: "can only be applied to functions" for
/// an item that is not a function, else syn's own error (a fn syntax syn does not know).
pub(crate) fn parse(item: TokenStream, attribute: &str) -> syn::Result<MaybeItemFn> {
    syn::parse2::<MaybeItemFn>(item.clone()).map_err(|err| match item_head(item) {
        Some(head) if !is_fn_head(&head) => syn::Error::new_spanned(
            head,
            format!("`#[{attribute}]` can only be applied to functions"),
        ),
        _ => err,
    })
}

/// The tokens after outer attributes and visibility, up to the item's name or its first group:
/// `struct Foo`, `impl Trait`, `const fn bar`, `extern "C"`.
fn item_head(item: TokenStream) -> Option<TokenStream> {
    struct Head(TokenStream);
    impl Parse for Head {
        fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
            input.call(Attribute::parse_outer)?;
            input.parse::<Visibility>()?;
            let mut head = TokenStream::new();
            while let Some(tt) = input.parse::<Option<TokenTree>>()? {
                if matches!(&tt, TokenTree::Group(g) if g.delimiter() != Delimiter::None) {
                    break;
                }
                let name =
                    matches!(&tt, TokenTree::Ident(ident) if !is_qualifier(&ident.to_string()));
                tt.to_tokens(&mut head);
                if name {
                    break;
                }
            }
            input.parse::<TokenStream>()?;
            Ok(Head(head))
        }
    }
    syn::parse2::<Head>(item)
        .ok()
        .map(|head| head.0)
        .filter(|head| !head.is_empty())
}

/// Keywords that can stand before the keyword naming an item.
fn is_qualifier(word: &str) -> bool {
    matches!(
        word,
        "const"
            | "async"
            | "unsafe"
            | "extern"
            | "default"
            | "safe"
            | "auto"
            | "fn"
            | "struct"
            | "enum"
            | "union"
            | "trait"
            | "impl"
            | "mod"
            | "static"
            | "type"
            | "use"
            | "mut"
    )
}

fn is_fn_head(head: &TokenStream) -> bool {
    head.clone()
        .into_iter()
        .any(|tt| matches!(tt, TokenTree::Ident(i) if i == "fn"))
}
