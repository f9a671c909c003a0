//! The pipeline and the local store under load and over time: a flood far beyond the queue
//! (drops counted exactly, the logging thread never blocked), files it cannot read, restart (the same search finds
//! the same entries), retention by age and size (whole segments, nothing else), archiving,
//! cursor pagination and filters.

use std::time::Duration;

use cqrs_obs::context::{self, Context, Id};
use cqrs_obs::logs::{
    Cursor, Level, LogEntry, Pipeline, PipelineConfig, Query, Store, StoreConfig, Timestamp,
};
use cqrs_obs_tests::peer::TempDir;
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn a_flood_beyond_the_queue_drops_and_counts_exactly_without_blocking_the_logger() {
    const N: usize = 100_000;
    let dir = TempDir::new("cqrs-obs-flood");
    let pipeline = Pipeline::start(
        PipelineConfig::new("bank")
            .queue_capacity(1024)
            .store(StoreConfig::new(dir.path())),
    )
    .unwrap();
    let subscriber = tracing_subscriber::registry().with(pipeline.layer());
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..N {
            tracing::info!(i, "flood {i}");
        }
    });
    assert!(pipeline.flush(Duration::from_secs(30)));
    let stats = pipeline.stats();
    // A push that waited for room would never drop: drops show the logger went on.
    assert!(
        stats.dropped > 0,
        "the burst overflowed the queue: {stats:?}"
    );
    assert_eq!(
        stats.received + stats.dropped,
        N as u64,
        "seen = received + dropped: {stats:?}"
    );
    assert_eq!(
        stats.stored, stats.received,
        "everything received is stored: {stats:?}"
    );
}

#[test]
fn a_file_the_store_cannot_read_is_left_alone_and_the_store_still_opens() {
    let dir = TempDir::new("cqrs-obs-foreign");
    // A segment of an older format, named like the first segment a store creates.
    let foreign = dir.path().join("00000000000000000001.seg");
    std::fs::write(&foreign, b"CQOBSLG1").unwrap();
    let mut store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let mut entries: Vec<LogEntry> = (0..10).map(|i| entry(Timestamp::now(), i)).collect();
    store.append(&mut entries).unwrap();
    store.flush().unwrap();
    assert_eq!(count(&store, &Query::default()), 10);
    assert!(entries.iter().all(|e| e.seq > 1), "no name taken twice");
    drop(store);
    assert_eq!(
        std::fs::read(&foreign).unwrap(),
        b"CQOBSLG1",
        "left as it was"
    );
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    assert_eq!(count(&store, &Query::default()), 10, "and found again");
}

#[test]
fn entries_survive_a_restart_and_the_same_search_finds_them() {
    let dir = TempDir::new("cqrs-obs-restart");
    let ctx = Context::new_root();
    let query = Query {
        trace_id: Some(ctx.trace.trace_id()),
        ..Query::default()
    };
    let first_seqs: Vec<u64> = {
        let pipeline =
            Pipeline::start(PipelineConfig::new("bank").store(StoreConfig::new(dir.path())))
                .unwrap();
        let subscriber = tracing_subscriber::registry().with(pipeline.layer());
        tracing::subscriber::with_default(subscriber, || {
            context::scope(ctx.clone(), || {
                for i in 0..50 {
                    tracing::info!(i, aggregate_id = "acc-7", "step {i}");
                }
            });
            tracing::info!("unrelated");
        });
        assert!(pipeline.flush(Duration::from_secs(10)));
        let page = pipeline.search(&query).unwrap();
        assert_eq!(page.entries.len(), 50);
        page.entries.iter().map(|e| e.seq).collect()
        // Dropping the pipeline closes the store.
    };
    let pipeline =
        Pipeline::start(PipelineConfig::new("bank").store(StoreConfig::new(dir.path()))).unwrap();
    let page = pipeline.search(&query).unwrap();
    assert_eq!(
        page.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        first_seqs
    );
    assert_eq!(page.entries[0].message, "step 49", "newest first");
    assert_eq!(
        page.entries[0].correlation_id,
        Some(ctx.correlation_id.clone())
    );
    assert_eq!(page.entries[0].aggregate_id.as_deref(), Some("acc-7"));
    assert_eq!(pipeline.stats().stored, 51);
    let subscriber = tracing_subscriber::registry().with(pipeline.layer());
    tracing::subscriber::with_default(subscriber, || tracing::info!("after restart"));
    assert!(pipeline.flush(Duration::from_secs(10)));
    let newest = pipeline
        .search(&Query {
            limit: 1,
            ..Query::default()
        })
        .unwrap();
    assert_eq!(newest.entries[0].message, "after restart");
    assert!(
        newest.entries[0].seq > first_seqs[0],
        "sequence numbers continue"
    );
}

fn entry(ts: Timestamp, i: usize) -> LogEntry {
    let mut e = LogEntry::new(
        Level::Info,
        "bank::account",
        format!("entry {i} with some padding text"),
    );
    e.timestamp = ts;
    e.service = "bank".into();
    e
}

fn count(store: &Store, q: &Query) -> u64 {
    store.stats(q).unwrap().total
}

#[test]
fn retention_removes_whole_expired_or_oldest_segments_and_nothing_else() {
    let dir = TempDir::new("cqrs-obs-retention");
    let archive = dir.path().join("archive");
    let now = Timestamp::now();
    let old = now.minus(Duration::from_secs(10 * 86_400));
    let config = StoreConfig::new(dir.path().join("store")).segment_bytes(64 * 1024);
    {
        let mut store = Store::open(config.clone()).unwrap();
        let mut olds: Vec<LogEntry> = (0..2000)
            .map(|i| entry(Timestamp(old.nanos() + i as u64), i))
            .collect();
        store.append(&mut olds).unwrap();
        store.flush().unwrap();
        let mut news: Vec<LogEntry> = (0..2000)
            .map(|i| entry(Timestamp(now.nanos() + i as u64), i))
            .collect();
        store.append(&mut news).unwrap();
        store.flush().unwrap();
        let segments = store.segment_count();
        let removed = store.enforce_retention(now).unwrap();
        assert!(removed >= 1, "expired segments removed");
        assert_eq!(store.segment_count(), segments - removed);
        assert_eq!(
            count(&store, &Query::default()),
            2000,
            "exactly the expired entries went"
        );
        assert_eq!(
            count(
                &store,
                &Query {
                    until: Some(now),
                    ..Query::default()
                }
            ),
            0
        );
        assert_eq!(
            store.enforce_retention(now).unwrap(),
            0,
            "nothing more to remove"
        );
    }
    // Reopened with a size bound: the oldest segments go (archived), the newest stay.
    let mut store = Store::open(config.max_bytes(150 * 1024).archive(&archive)).unwrap();
    assert_eq!(
        count(&store, &Query::default()),
        2000,
        "retention survived the restart"
    );
    let before = store.bytes();
    let removed = store.enforce_retention(now).unwrap();
    assert!(
        removed >= 1 && store.bytes() <= 150 * 1024,
        "{before} -> {} bytes",
        store.bytes()
    );
    let left = count(&store, &Query::default());
    assert!(left > 0 && left < 2000, "{left}");
    let newest = store
        .search(&Query {
            limit: 1,
            ..Query::default()
        })
        .unwrap();
    assert_eq!(
        newest.entries[0].message, "entry 1999 with some padding text",
        "the newest stay"
    );
    let archived: Vec<_> = std::fs::read_dir(&archive)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(archived.len(), removed);
    let mut decoder = snap::read::FrameDecoder::new(std::fs::File::open(&archived[0]).unwrap());
    let mut segment = Vec::new();
    std::io::Read::read_to_end(&mut decoder, &mut segment).unwrap();
    assert!(
        segment.starts_with(b"CQOBSLG2"),
        "archives are whole compressed segments"
    );
}

#[test]
fn pages_follow_the_cursor_newest_first_and_filters_combine() {
    let dir = TempDir::new("cqrs-obs-pages");
    let mut store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let ctx = Context::new_root();
    let base = Timestamp::now().nanos();
    let mut entries: Vec<LogEntry> = (0..250)
        .map(|i| {
            let mut e = entry(Timestamp(base + i as u64 * 1000), i);
            if i % 10 == 0 {
                e.level = Level::Warn;
                e.target = "bank::saga".into();
                e.correlation_id = Some(ctx.correlation_id.clone());
                e.aggregate_id = Some(format!("acc-{}", i % 3));
                e.event_type = Some("Withdrawn".into());
                e.message = format!("transfer {i} refused");
            }
            e
        })
        .collect();
    // Half in written blocks, half in the block being filled: searches see both.
    store.append(&mut entries[..125]).unwrap();
    store.flush().unwrap();
    store.append(&mut entries[125..]).unwrap();
    let mut cursor: Option<Cursor> = None;
    let mut seen = Vec::new();
    loop {
        let page = store
            .search(&Query {
                limit: 100,
                cursor,
                ..Query::default()
            })
            .unwrap();
        seen.extend(page.entries.iter().map(|e| e.seq));
        match page.next_cursor {
            Some(c) => cursor = Some(c.parse().unwrap()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 250);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "strictly newest first, no duplicates"
    );
    let q = |q: Query| store.search(&Query { limit: 1000, ..q }).unwrap().entries;
    assert_eq!(
        q(Query {
            levels: vec![Level::Warn],
            ..Query::default()
        })
        .len(),
        25
    );
    assert_eq!(
        q(Query {
            target: Some("bank::saga".into()),
            ..Query::default()
        })
        .len(),
        25
    );
    assert_eq!(
        q(Query {
            target: Some("bank".into()),
            ..Query::default()
        })
        .len(),
        250
    );
    assert_eq!(
        q(Query {
            text: Some("REFUSED".into()),
            ..Query::default()
        })
        .len(),
        25
    );
    assert_eq!(
        q(Query {
            correlation_id: Some(ctx.correlation_id.to_string()),
            ..Query::default()
        })
        .len(),
        25
    );
    let acc = q(Query {
        aggregate_id: Some("acc-1".into()),
        event_type: Some("Withdrawn".into()),
        ..Query::default()
    });
    assert!(
        acc.iter()
            .all(|e| e.aggregate_id.as_deref() == Some("acc-1"))
            && !acc.is_empty()
    );
    let window = Query {
        since: Some(Timestamp(base + 100_000)),
        until: Some(Timestamp(base + 110_000)),
        ..Query::default()
    };
    assert_eq!(q(window).len(), 10);
    assert!(q(Query {
        correlation_id: Some(Id::random().to_string()),
        ..Query::default()
    })
    .is_empty());
    let stats = store.stats(&Query::default()).unwrap();
    assert_eq!(stats.by_level[&Level::Warn], 25);
    assert_eq!(stats.top_errors[0].pattern, "transfer <n> refused");
    assert_eq!(stats.top_errors[0].count, 25);
}
