//! Logs: store ingest rate, search by trace id over a million stored entries, and the
//! application-side cost of one `tracing::info!` with the capture layer.
//!
//! * `logs/ingest/store_append`: appending prebuilt entries (two fields, trace and message
//!   context) to the segment store, blocks written to disk, retention enforced; elements/s
//!   is the ingest rate on one core (budget ≥ 1 M/s).
//! * `logs/search_1m/*`: one trace (10 entries spread among other requests' entries) found
//!   in a store of 1 000 000 entries by trace id, by correlation id, and the newest page of
//!   a level filter (budget ≤ 10 ms for the trace id).
//! * `logs/info/*`: one `tracing::info!(amount = 30, "deposited")` inside a message context:
//!   with the cqrs-obs capture layer and room in the ring (budget ≤ 300 ns), during a flood
//!   that keeps the ring full (`capture_layer_flood`), with no subscriber, and with
//!   `tracing-subscriber`'s fmt layer writing to `io::sink` (what a user would otherwise
//!   run).
//!
//! Run: `cargo bench -p cqrs-obs --bench logs -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::{Duration, Instant};

use cqrs_obs::context::{self, Context, Id};
use cqrs_obs::logs::{
    FieldValue, Level, LogEntry, Pipeline, PipelineConfig, Query, Store, StoreConfig, Timestamp,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tracing_subscriber::layer::SubscriberExt;

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cqrs-obs-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// `n` entries of concurrent requests: entry `i` belongs to request `(i / 80) * 8 + i % 8`,
/// so each request's 10 entries are spread over 80 neighbours.
fn entries(n: usize) -> (Vec<LogEntry>, Vec<Context>) {
    let contexts: Vec<Context> = (0..n.div_ceil(10) + 8)
        .map(|_| Context::new_root())
        .collect();
    let start = Timestamp::now().nanos();
    let out = (0..n)
        .map(|i| {
            let ctx = &contexts[(i / 80) * 8 + i % 8];
            let mut e = LogEntry::new(Level::Info, "bank::account", "deposited into account");
            e.timestamp = Timestamp(start + i as u64 * 1000);
            e.service = "bank".into();
            e.trace_id = Some(ctx.trace.trace_id());
            e.span_id = Some(ctx.trace.span_id());
            e.correlation_id = Some(ctx.correlation_id.clone());
            e.causation_id = ctx.message_id.clone();
            e.aggregate_id = Some(format!("acc-{}", i % 1000));
            e.fields.push(("amount".into(), FieldValue::U64(30)));
            e.fields
                .push(("currency".into(), FieldValue::Str("EUR".into())));
            if i % 50 == 0 {
                e.level = Level::Warn;
            }
            e
        })
        .collect();
    (out, contexts)
}

fn ingest(c: &mut Criterion) {
    const BATCH: usize = 10_000;
    let dir = temp_dir("ingest");
    let mut setup = None;
    let mut group = c.benchmark_group("logs/ingest");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut n = 0u64;
    group.bench_function("store_append", |b| {
        let (store, batch) = setup.get_or_insert_with(|| {
            let config = StoreConfig::new(&dir).max_bytes(128 << 20);
            (Store::open(config).unwrap(), entries(BATCH).0)
        });
        b.iter(|| {
            store.append(black_box(batch)).unwrap();
            n += 1;
            if n.is_multiple_of(50) {
                store.enforce_retention(Timestamp::now()).unwrap();
            }
        })
    });
    group.finish();
    drop(setup);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A store of `N` entries and the contexts of its requests (built when first asked for).
struct Million {
    store: Store,
    contexts: Vec<Context>,
    dir: std::path::PathBuf,
}

impl Million {
    const N: usize = 1_000_000;

    fn build() -> Million {
        let dir = temp_dir("search");
        let mut store = Store::open(StoreConfig::new(&dir).max_bytes(1 << 30)).unwrap();
        let (mut all, contexts) = entries(Self::N);
        for chunk in all.chunks_mut(10_000) {
            store.append(chunk).unwrap();
        }
        store.flush().unwrap();
        Million {
            store,
            contexts,
            dir,
        }
    }

    fn target(&self) -> &Context {
        &self.contexts[Self::N / 10 / 2]
    }
}

impl Drop for Million {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A named query built from the target request's context.
type NamedQuery = (&'static str, fn(&Context) -> Query);

fn search(c: &mut Criterion) {
    let mut million: Option<Million> = None;
    let mut group = c.benchmark_group("logs/search_1m");
    let queries: [NamedQuery; 4] = [
        ("trace_id", |t| Query {
            trace_id: Some(t.trace.trace_id()),
            ..Query::default()
        }),
        ("correlation_id", |t| Query {
            correlation_id: Some(t.correlation_id.to_string()),
            ..Query::default()
        }),
        ("absent_correlation_id", |_| Query {
            correlation_id: Some(Id::random().to_string()),
            ..Query::default()
        }),
        ("newest_100_warnings", |_| Query {
            levels: vec![Level::Warn],
            limit: 100,
            ..Query::default()
        }),
    ];
    for (name, query) in queries {
        group.bench_function(name, |b| {
            let m = million.get_or_insert_with(Million::build);
            let q = query(m.target());
            if name == "trace_id" {
                assert_eq!(
                    m.store.search(&q).unwrap().entries.len(),
                    10,
                    "the trace's 10 entries"
                );
            }
            b.iter(|| black_box(m.store.search(&q).unwrap()))
        });
    }
    group.finish();
}

fn info(c: &mut Criterion) {
    let ctx = Context::new_root();
    let mut group = c.benchmark_group("logs/info");
    // The ring never fills during a timed run: each run of at most half the ring is timed
    // after a flush has emptied it, so this is the cost of an entry actually captured.
    let pipeline = Pipeline::start(PipelineConfig::new("bank").queue_capacity(1 << 16)).unwrap();
    let subscriber = tracing_subscriber::registry().with(pipeline.layer());
    tracing::subscriber::with_default(subscriber, || {
        context::scope(ctx.clone(), || {
            group.bench_function("capture_layer", |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let n = left.min(1 << 15);
                        pipeline.flush(Duration::from_secs(10));
                        let start = Instant::now();
                        for _ in 0..n {
                            tracing::info!(amount = black_box(30u64), "deposited");
                        }
                        total += start.elapsed();
                        left -= n;
                    }
                    total
                })
            });
        })
    });
    let stats = pipeline.stats();
    eprintln!(
        "capture_layer: {} entries captured, {} dropped",
        stats.received, stats.dropped
    );
    drop(pipeline);
    // A sustained flood: the pipeline cannot keep up, most events find the ring full.
    let pipeline = Pipeline::start(PipelineConfig::new("bank")).unwrap();
    let subscriber = tracing_subscriber::registry().with(pipeline.layer());
    tracing::subscriber::with_default(subscriber, || {
        context::scope(ctx.clone(), || {
            group.bench_function("capture_layer_flood", |b| {
                b.iter(|| tracing::info!(amount = black_box(30u64), "deposited"))
            });
        })
    });
    let stats = pipeline.stats();
    eprintln!(
        "capture_layer_flood: {} entries captured, {} dropped at the full ring",
        stats.received, stats.dropped
    );
    drop(pipeline);
    context::scope(ctx.clone(), || {
        group.bench_function("no_subscriber", |b| {
            b.iter(|| tracing::info!(amount = black_box(30u64), "deposited"))
        });
    });
    let fmt = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::sink)
            .with_ansi(false),
    );
    tracing::subscriber::with_default(fmt, || {
        context::scope(ctx.clone(), || {
            group.bench_function("fmt_layer_to_sink", |b| {
                b.iter(|| tracing::info!(amount = black_box(30u64), "deposited"))
            });
        })
    });
    // Allocating an entry alone: work the pipeline thread does per event (the layer itself
    // only fills a record in its queue slot).
    group.bench_function("entry_build_only", |b| {
        b.iter_batched(
            || (),
            |()| {
                black_box(LogEntry::new(
                    Level::Info,
                    "bank::account",
                    String::from("deposited"),
                ))
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = ingest, search, info
}
criterion_main!(benches);
