//! Which of the four expansions a function needs, from its asyncness and the spelling of its
//! return type.

use syn::{GenericArgument, PathArguments, ReturnType, Signature, Type, TypeParamBound};

/// How the function runs, which decides the expansion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A plain `fn`.
    Sync,
    /// An `async fn`.
    Async,
    /// A sync `fn` returning `impl Future<..>`.
    ImplFuture,
    /// A sync `fn` returning `Pin<Box<dyn Future<..>>>` (or `BoxFuture`, `LocalBoxFuture`).
    BoxedFuture,
}

/// The shape of a signature.
pub(crate) fn shape(sig: &Signature) -> Shape {
    if sig.asyncness.is_some() {
        return Shape::Async;
    }
    let ReturnType::Type(_, ty) = &sig.output else {
        return Shape::Sync;
    };
    match strip_groups(ty) {
        Type::ImplTrait(imp) if has_future_bound(imp.bounds.iter()) => Shape::ImplFuture,
        Type::Path(path) if path.qself.is_none() => {
            let Some(last) = path.path.segments.last() else {
                return Shape::Sync;
            };
            if last.ident == "BoxFuture" || last.ident == "LocalBoxFuture" {
                return Shape::BoxedFuture;
            }
            let boxed_dyn_future = last.ident == "Pin"
                && single_type_arg(&last.arguments)
                    .and_then(as_last_segment)
                    .filter(|seg| seg.ident == "Box")
                    .and_then(|seg| single_type_arg(&seg.arguments))
                    .is_some_and(|inner| match strip_groups(inner) {
                        Type::TraitObject(obj) => has_future_bound(obj.bounds.iter()),
                        _ => false,
                    });
            if boxed_dyn_future {
                Shape::BoxedFuture
            } else {
                Shape::Sync
            }
        }
        _ => Shape::Sync,
    }
}

fn strip_groups(mut ty: &Type) -> &Type {
    loop {
        ty = match ty {
            Type::Group(g) => &g.elem,
            Type::Paren(p) => &p.elem,
            _ => return ty,
        }
    }
}

/// Whether one of the bounds is `Future<..>` (by any path: `Future`, `std::future::Future`).
fn has_future_bound<'a>(mut bounds: impl Iterator<Item = &'a TypeParamBound>) -> bool {
    bounds.any(|bound| match bound {
        TypeParamBound::Trait(t) => t
            .path
            .segments
            .last()
            .is_some_and(|seg| seg.ident == "Future"),
        _ => false,
    })
}

/// The first type argument of `Path<..>`.
fn single_type_arg(arguments: &PathArguments) -> Option<&Type> {
    let PathArguments::AngleBracketed(args) = arguments else {
        return None;
    };
    args.args.iter().find_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    })
}

fn as_last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match strip_groups(ty) {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_asyncness_and_return_type() {
        let cases = [
            ("fn f() -> u8", Shape::Sync),
            ("fn f()", Shape::Sync),
            ("async fn f() -> impl Future<Output = u8>", Shape::Async),
            (
                "fn f() -> impl Future<Output = u8> + Send",
                Shape::ImplFuture,
            ),
            (
                "fn f() -> impl Send + ::core::future::Future<Output = u8>",
                Shape::ImplFuture,
            ),
            ("fn f() -> impl Iterator<Item = u8>", Shape::Sync),
            (
                "fn f<'a>() -> Pin<Box<dyn Future<Output = u8> + Send + 'a>>",
                Shape::BoxedFuture,
            ),
            (
                "fn f() -> ::std::pin::Pin<std::boxed::Box<dyn core::future::Future<Output = ()>>>",
                Shape::BoxedFuture,
            ),
            ("fn f() -> BoxFuture<'static, u8>", Shape::BoxedFuture),
            (
                "fn f() -> futures::future::LocalBoxFuture<'_, u8>",
                Shape::BoxedFuture,
            ),
            ("fn f() -> Pin<Box<dyn Iterator<Item = u8>>>", Shape::Sync),
            ("fn f() -> Pin<&mut u8>", Shape::Sync),
        ];
        for (sig, expected) in cases {
            let sig: Signature = syn::parse_str(sig).unwrap();
            assert_eq!(shape(&sig), expected, "{}", quote::quote!(#sig));
        }
    }
}
