//! What the cqrs-obs decorators add to a cqrs-es `execute`: the same deposit command through
//! plain cqrs-es and through `ObservedStore` + observed queries + `execute_observed`, over the
//! same quiet in-memory store (cqrs-es's `MemStore` prints every load and commit, which would
//! drown the difference). Traces are not sampled (AlwaysOff): the cost every command pays;
//! the sampled path's span building is measured in cqrs-obs's own `sampled` bench.
//!
//! ```text
//! cargo bench -p cqrs-obs-examples --bench cqrs_es
//! ```

#![allow(missing_docs)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Mutex, PoisonError};

use cqrs_es::mem_store::MemStoreAggregateContext;
use cqrs_es::{AggregateError, CqrsFramework, EventEnvelope, EventStore, Query};
use cqrs_obs::cqrs_es::{observe, ObservedExecute, ObservedStore};
use cqrs_obs::trace::{Root, Sampler};
use cqrs_obs::{AdminAddr, Console};
#[path = "../cqrs_es_bank/domain.rs"]
mod domain;

use criterion::{criterion_group, criterion_main, Criterion};
use domain::{Balances, BankAccount, BankAccountCommand, BankAccountError, BankAccountEvent};

/// Keeps each account folded (its state and sequence), so a load costs the same at every
/// iteration; events are not kept.
#[derive(Default)]
struct QuietStore(Mutex<HashMap<String, (BankAccount, usize)>>);

type Loaded = MemStoreAggregateContext<BankAccount>;

impl EventStore<BankAccount> for QuietStore {
    type AC = Loaded;

    async fn load_events(
        &self,
        _aggregate_id: &str,
    ) -> Result<Vec<EventEnvelope<BankAccount>>, AggregateError<BankAccountError>> {
        Ok(Vec::new())
    }

    async fn load_aggregate(
        &self,
        aggregate_id: &str,
    ) -> Result<Loaded, AggregateError<BankAccountError>> {
        let streams = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let (aggregate, current_sequence) = streams.get(aggregate_id).cloned().unwrap_or_default();
        Ok(MemStoreAggregateContext {
            aggregate_id: aggregate_id.to_owned(),
            aggregate,
            current_sequence,
        })
    }

    async fn commit(
        &self,
        events: Vec<BankAccountEvent>,
        context: Loaded,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<BankAccount>>, AggregateError<BankAccountError>> {
        let mut state = context.aggregate;
        let mut sequence = context.current_sequence;
        let mut envelopes = Vec::with_capacity(events.len());
        for payload in events {
            sequence += 1;
            cqrs_es::Aggregate::apply(&mut state, payload.clone());
            envelopes.push(EventEnvelope {
                aggregate_id: context.aggregate_id.clone(),
                sequence,
                payload,
                metadata: metadata.clone(),
            });
        }
        let mut streams = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        streams.insert(context.aggregate_id, (state, sequence));
        Ok(envelopes)
    }
}

const ACCOUNTS: usize = 64;

fn accounts() -> Vec<String> {
    (0..ACCOUNTS).map(|i| format!("account-{i}")).collect()
}

fn execute(c: &mut Criterion) {
    let _guard = cqrs_obs::builder()
        .service_name("cqrs-es-bench")
        .admin_addr(AdminAddr::Off)
        .console(Console::Off)
        .ignore_env()
        .sampler(Sampler::parent_based(Root::AlwaysOff))
        .try_init()
        .expect("cqrs-obs initialises");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let ids = accounts();

    let plain_queries: Vec<Box<dyn Query<BankAccount>>> = vec![Box::new(Balances::default())];
    let plain = CqrsFramework::new(QuietStore::default(), plain_queries, ());
    let observed = CqrsFramework::new(
        ObservedStore::new(QuietStore::default()),
        vec![observe("balances", Balances::default())],
        (),
    );
    rt.block_on(async {
        for id in &ids {
            plain.execute(id, BankAccountCommand::Open).await.unwrap();
            observed
                .execute_observed(id, BankAccountCommand::Open)
                .await
                .unwrap();
        }
    });

    let mut group = c.benchmark_group("cqrs_es_execute");
    let deposit = || BankAccountCommand::Deposit { amount: 1 };
    let mut i = 0usize;
    group.bench_function("plain", |b| {
        b.iter(|| {
            i = (i + 1) % ACCOUNTS;
            rt.block_on(plain.execute(black_box(&ids[i]), deposit()))
                .unwrap()
        })
    });
    group.bench_function("observed", |b| {
        b.iter(|| {
            i = (i + 1) % ACCOUNTS;
            rt.block_on(observed.execute_observed(black_box(&ids[i]), deposit()))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, execute);
criterion_main!(benches);
