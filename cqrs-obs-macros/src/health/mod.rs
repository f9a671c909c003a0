//! `#[health_check]`: [`args`] (parse) → [`model`] (typed spec, validated) → [`expand`].

mod args;
mod expand;
mod model;

use proc_macro2::TokenStream;
use quote::quote;

use self::args::HealthArgs;
use self::model::HealthSpec;

/// On an error, the function is emitted unchanged next to the `compile_error!`s.
pub(crate) fn run(args: TokenStream, item: TokenStream) -> TokenStream {
    let spec = syn::parse2::<HealthArgs>(args).and_then(|args| {
        let func = crate::item::parse(item.clone(), "health_check")?;
        HealthSpec::new(args, &func)
    });
    match spec {
        Ok(spec) => expand::health(&spec, item),
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#item #error)
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::run;

    #[test]
    fn expands_next_to_the_unchanged_function() {
        let item = quote!(
            async fn db() -> bool {
                true
            }
        );
        let out = run(
            quote!(group = ["readiness"], interval = "10s"),
            item.clone(),
        )
        .to_string();
        assert!(out.starts_with(&item.to_string()), "{out}");
        assert!(out.contains("HealthFn :: Async"), "{out}");
        assert!(out.contains("10000u64"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn argument_and_function_errors_are_reported_together() {
        let out = run(
            quote!(timeout = "2x", group = "Ready"),
            quote!(
                fn f(x: u8) -> bool {
                    true
                }
            ),
        )
        .to_string();
        assert_eq!(out.matches("compile_error").count(), 3, "{out}");
    }
}
