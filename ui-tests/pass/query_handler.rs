//! A query handler with every option, sync and async, and one path to the attribute other
//! than the `use`d name.

#![deny(warnings)]

use std::collections::BTreeMap;

use cqrs_obs::handler::HandlerKind;
use cqrs_obs::{query_handler, Outcome};

pub struct GetBalance {
    pub account: String,
}

pub struct Balances(BTreeMap<String, u64>);

#[query_handler(name = "balance", query = "GetBalance")]
fn balance_of(q: &GetBalance, view: &Balances) -> Option<u64> {
    view.0.get(&q.account).copied()
}

#[cqrs_obs::query_handler]
async fn all_accounts(view: &Balances) -> Vec<String> {
    view.0.keys().cloned().collect()
}

fn main() {
    cqrs_obs::handler::enable();
    let view = Balances(BTreeMap::from([("ada".to_owned(), 3)]));
    assert_eq!(
        balance_of(
            &GetBalance {
                account: "ada".into()
            },
            &view
        ),
        Some(3)
    );
    assert_eq!(
        balance_of(
            &GetBalance {
                account: "bob".into()
            },
            &view
        ),
        None
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(all_accounts(&view)), ["ada"]);

    let site = cqrs_obs::handler::registered()
        .find(|s| s.meta().name == "balance")
        .unwrap();
    assert_eq!(site.meta().kind, HandlerKind::Query);
    assert_eq!(site.meta().message, "GetBalance");
    assert_eq!(site.meta().aggregate, None);
    assert_eq!(site.snapshot().count(Outcome::Ok), 2);
    let site = cqrs_obs::handler::registered()
        .find(|s| s.meta().name == "all_accounts")
        .unwrap();
    assert_eq!(site.meta().message, "Balances");
    assert!(site.meta().is_async);
}
