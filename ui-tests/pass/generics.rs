//! Generic fns: type and lifetime parameters, `impl Trait` arguments, where clauses. A
//! message argument whose type is a generic parameter gives the fn name as message type.

#![deny(warnings)]

use std::fmt::Display;

use cqrs_obs::{command_handler, query_handler, Outcome};

pub struct Rename<T> {
    pub to: T,
}

#[command_handler(aggregate = "Profile")]
fn rename<'a, T>(cmd: Rename<T>, names: &'a mut Vec<String>) -> &'a str
where
    T: Display,
{
    names.push(cmd.to.to_string());
    names.last().map(String::as_str).unwrap_or_default()
}

#[command_handler]
fn generic_message<C: Into<u64>, const N: usize>(cmd: C, extra: [u8; N]) -> u64 {
    cmd.into() + extra.len() as u64
}

#[query_handler]
fn longest<'a, 'b: 'a>(query: &'a str, other: &'b str, _any: impl Display) -> &'a str {
    if query.len() >= other.len() {
        query
    } else {
        other
    }
}

#[query_handler]
async fn first_of<'a, I>(items: I) -> Option<I::Item>
where
    I: IntoIterator + 'a,
{
    items.into_iter().next()
}

fn site(name: &str) -> &'static cqrs_obs::handler::HandlerSite {
    cqrs_obs::handler::registered()
        .find(|s| s.meta().name == name)
        .unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    cqrs_obs::handler::enable();
    let mut names = Vec::new();
    assert_eq!(rename(Rename { to: 42 }, &mut names), "42");
    assert_eq!(rename(Rename { to: "ada" }, &mut names), "ada");
    assert_eq!(generic_message(3u8, [0; 2]), 5);
    assert_eq!(generic_message(3u32, []), 3);
    assert_eq!(longest("ab", "abc", 1), "abc");
    assert_eq!(first_of(vec![7, 8]).await, Some(7));
    assert_eq!(first_of(Vec::<u8>::new()).await, None);

    assert_eq!(site("rename").meta().message, "Rename");
    assert_eq!(site("rename").snapshot().count(Outcome::Ok), 2);
    // One static site for every instantiation of a generic fn.
    assert_eq!(site("generic_message").meta().message, "generic_message");
    assert_eq!(site("generic_message").snapshot().count(Outcome::Ok), 2);
    assert_eq!(site("longest").meta().message, "str");
    assert_eq!(site("first_of").meta().message, "first_of");
    assert_eq!(site("first_of").snapshot().count(Outcome::Ok), 2);
}
