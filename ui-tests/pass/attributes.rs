//! Attributes, docs, visibility and qualifiers of the fn survive: `#[must_use]` still fires
//! (see fail/must_use_kept.rs), `cfg`s still remove the fn, lint attributes still apply,
//! inner attributes of the body still apply, `unsafe fn` stays unsafe, raw identifiers work.

#![deny(warnings)]

pub mod accounts {
    use cqrs_obs::{command_handler, query_handler};

    /// Opens an account.
    ///
    /// # Examples
    /// It returns the new id.
    #[must_use = "the new account id"]
    #[inline]
    #[doc(alias = "create")]
    #[command_handler(name = "open")]
    pub(crate) fn open(owner: &str) -> u64 {
        owner.len() as u64
    }

    #[cfg(any())]
    #[command_handler]
    pub fn compiled_out(cmd: DoesNotExist) -> Nope {
        cmd
    }

    #[command_handler]
    #[allow(non_snake_case)]
    pub fn CloseAccount(Id: u64) -> u64 {
        Id
    }

    #[query_handler]
    pub fn with_inner_attributes(id: u64) -> u64 {
        #![allow(unused_variables)]
        let unused = 1;
        id
    }

    /// # Safety
    /// `ptr` must be valid for reads.
    #[query_handler]
    pub unsafe fn read(ptr: *const u64) -> u64 {
        // SAFETY: the caller promises `ptr` is valid.
        unsafe { *ptr }
    }

    #[query_handler]
    pub fn r#match(r#in: u64) -> u64 {
        r#in
    }
}

fn main() {
    cqrs_obs::handler::enable();
    let id = accounts::open("ada");
    assert_eq!(id, 3);
    assert_eq!(accounts::CloseAccount(4), 4);
    assert_eq!(accounts::with_inner_attributes(5), 5);
    let value = 6;
    // SAFETY: `value` lives for the call.
    assert_eq!(unsafe { accounts::read(&value) }, 6);
    assert_eq!(accounts::r#match(7), 7);

    let names: Vec<_> = cqrs_obs::handler::registered()
        .map(|s| s.meta().name)
        .collect();
    for name in [
        "open",
        "CloseAccount",
        "with_inner_attributes",
        "read",
        "match",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert!(!names.contains(&"compiled_out"));
    let site = cqrs_obs::handler::registered()
        .find(|s| s.meta().name == "match")
        .unwrap();
    assert_eq!(site.meta().message, "u64");
}
