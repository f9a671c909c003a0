//! The causation journal: the sampled handler calls of the recent past, so that
//! `GET /traces/{id}` (and `cqrs-cli trace`) can show a conversation — a command, the events
//! it produced, every projection and saga they reached — as a causation tree, with no trace
//! backend at all.
//!
//! Each sampled call adds one [`CallRecord`] when it ends (a call whose trace is not sampled
//! adds nothing). The journal keeps the latest [`CAPACITY`] records in a ring, about
//! 200 bytes each (plus the text of ids received from outside), so it stays under 2 MiB.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::context::{Context, Id};
use crate::handler::{HandlerKind, HandlerMeta, Outcome};
use crate::propagation::TraceParent;

/// Records kept.
pub const CAPACITY: usize = 8192;

static ENABLED: AtomicBool = AtomicBool::new(false);
static JOURNAL: Mutex<VecDeque<CallRecord>> = Mutex::new(VecDeque::new());

/// One handler call of a conversation.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// The handler.
    pub meta: HandlerMeta,
    /// The conversation.
    pub correlation_id: Id,
    /// The message the handler handled.
    pub message_id: Option<Id>,
    /// The message that caused it.
    pub causation_id: Option<Id>,
    /// The call's trace context (its span id is the handler span's).
    pub trace: TraceParent,
    /// How it ended.
    pub outcome: Outcome,
    /// When it started.
    pub started_at: SystemTime,
    /// How long it took.
    pub duration: Duration,
}

/// Turns recording on or off (`init()` turns it on).
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Relaxed);
}

/// Whether sampled calls are recorded.
#[inline(always)]
pub fn is_enabled() -> bool {
    ENABLED.load(Relaxed)
}

/// What a call's record needs of its context, taken when the call starts (async calls hand
/// their context to the body).
#[derive(Debug)]
pub(crate) struct Pending {
    correlation_id: Id,
    message_id: Option<Id>,
    causation_id: Option<Id>,
    trace: TraceParent,
}

impl Pending {
    /// `None` unless the journal records this call (sampled, journal on).
    #[inline(always)]
    pub(crate) fn of(ctx: &Context) -> Option<Box<Pending>> {
        if ctx.is_sampled() && is_enabled() {
            Some(pending(ctx))
        } else {
            None
        }
    }
}

#[cold]
#[inline(never)]
fn pending(ctx: &Context) -> Box<Pending> {
    Box::new(Pending {
        correlation_id: ctx.correlation_id.clone(),
        message_id: ctx.message_id.clone(),
        causation_id: ctx.causation_id.clone(),
        trace: ctx.trace,
    })
}

/// Adds the call that just ended with `ctx`, if it is sampled.
#[inline(always)]
pub(crate) fn record(meta: &HandlerMeta, ctx: &Context, outcome: Outcome, nanos: u64) {
    if ctx.is_sampled() && is_enabled() {
        record_pending(meta, *pending(ctx), outcome, nanos);
    }
}

/// Adds a call that just ended (cold: sampled calls only).
#[cold]
#[inline(never)]
pub(crate) fn record_pending(meta: &HandlerMeta, pending: Pending, outcome: Outcome, nanos: u64) {
    let duration = Duration::from_nanos(nanos);
    let record = CallRecord {
        meta: *meta,
        correlation_id: pending.correlation_id,
        message_id: pending.message_id,
        causation_id: pending.causation_id,
        trace: pending.trace,
        outcome,
        started_at: SystemTime::now()
            .checked_sub(duration)
            .unwrap_or(SystemTime::UNIX_EPOCH),
        duration,
    };
    let mut journal = JOURNAL.lock().unwrap_or_else(|e| e.into_inner());
    if journal.len() == CAPACITY {
        journal.pop_front();
    } else if journal.capacity() == 0 {
        journal.reserve_exact(CAPACITY);
    }
    journal.push_back(record);
}

/// Messages sent (`cause` → `effect`): events appended by a command, commands sent by a saga.
static EDGES: Mutex<VecDeque<(Id, Id)>> = Mutex::new(VecDeque::new());

/// Records that the message `command_id` produced the messages `event_ids` (an append of
/// events, a saga's commands). [`inject`](crate::propagation::inject) records this by itself
/// for every message sent in a sampled call; call it for messages that leave by other means.
///
/// ```
/// use cqrs_obs::context::Id;
/// use cqrs_obs::trace;
/// trace::set_journal_enabled(true);
/// let (command, event) = (Id::random(), Id::random());
/// trace::correlate_command_to_events(&command, &[event.clone()]);
/// assert_eq!(trace::causation_chain(&event.to_string()), [command.to_string(), event.to_string()]);
/// ```
pub fn correlate_command_to_events(command_id: &Id, event_ids: &[Id]) {
    if !is_enabled() {
        return;
    }
    let mut edges = EDGES.lock().unwrap_or_else(|e| e.into_inner());
    for event in event_ids {
        if edges.len() == CAPACITY {
            edges.pop_front();
        }
        edges.push_back((command_id.clone(), event.clone()));
    }
}

/// Records a message sent with `ctx` (its cause is the message being handled).
#[inline(always)]
pub(crate) fn record_sent(ctx: &Context) {
    if ctx.is_sampled() && is_enabled() {
        if let (Some(cause), Some(message)) = (&ctx.causation_id, &ctx.message_id) {
            correlate_command_to_events(cause, std::slice::from_ref(message));
        }
    }
}

/// The chain of causes of a message or call, root first and ending with `operation_id`
/// itself: each step is the message that caused the next, as far as the journal remembers.
pub fn causation_chain(operation_id: &str) -> Vec<String> {
    let Some(start) = Id::from_text(operation_id) else {
        return vec![operation_id.to_owned()];
    };
    let calls = JOURNAL.lock().unwrap_or_else(|e| e.into_inner());
    let edges = EDGES.lock().unwrap_or_else(|e| e.into_inner());
    let cause_of = |id: &Id| -> Option<Id> {
        let from_call = calls
            .iter()
            .rev()
            .find(|r| r.message_id.as_ref() == Some(id))
            .and_then(|r| r.causation_id.clone());
        from_call.or_else(|| {
            edges
                .iter()
                .rev()
                .find(|(_, effect)| effect == id)
                .map(|(cause, _)| cause.clone())
        })
    };
    let mut chain = vec![start];
    while chain.len() < 256 {
        match chain.last().and_then(cause_of) {
            Some(cause) if !chain.contains(&cause) => chain.push(cause),
            _ => break,
        }
    }
    chain.iter().rev().map(Id::to_string).collect()
}

/// The messages sent within `calls` (their causes are messages the calls handled).
fn sent_within(calls: &[CallRecord]) -> Vec<SentView> {
    let handled: std::collections::HashSet<&Id> =
        calls.iter().filter_map(|r| r.message_id.as_ref()).collect();
    let edges = EDGES.lock().unwrap_or_else(|e| e.into_inner());
    edges
        .iter()
        .filter(|(cause, _)| handled.contains(cause))
        .map(|(cause, effect)| SentView {
            message_id: effect.to_string(),
            causation_id: cause.to_string(),
        })
        .collect()
}

/// A message sent by a call of a conversation.
#[derive(Debug, Serialize)]
pub struct SentView {
    /// The message's id.
    pub message_id: String,
    /// The id of the message whose handling sent it.
    pub causation_id: String,
}

/// The calls of one conversation, found by its correlation id or by the trace id of any of
/// its calls, in the order they started.
///
/// ```
/// assert!(cqrs_obs::trace::conversation("no-such-conversation").is_empty());
/// ```
pub fn conversation(id: &str) -> Vec<CallRecord> {
    let Some(wanted) = Id::from_text(id) else {
        return Vec::new();
    };
    let trace_id = id.parse::<crate::propagation::TraceId>().ok();
    let journal = JOURNAL.lock().unwrap_or_else(|e| e.into_inner());
    let correlation = trace_id
        .and_then(|t| journal.iter().find(|r| r.trace.trace_id() == t))
        .map_or(wanted, |r| r.correlation_id.clone());
    let mut calls: Vec<CallRecord> = journal
        .iter()
        .filter(|r| r.correlation_id == correlation)
        .cloned()
        .collect();
    drop(journal);
    calls.sort_by_key(|r| r.started_at);
    calls
}

/// A conversation as `GET /traces/{id}` answers it.
#[derive(Debug, Serialize)]
pub struct ConversationView {
    /// The conversation's correlation id.
    pub correlation_id: String,
    /// Its calls, in the order they started.
    pub messages: Vec<MessageView>,
    /// The messages its calls sent (events appended, commands sent), handled or not.
    pub sent: Vec<SentView>,
}

/// One call of a [`ConversationView`].
#[derive(Debug, Serialize)]
pub struct MessageView {
    /// The handled message's id.
    pub message_id: Option<String>,
    /// The id of the message that caused it.
    pub causation_id: Option<String>,
    /// `command`, `event` or `query`.
    pub kind: HandlerKind,
    /// The handler's name.
    pub handler: &'static str,
    /// The message type.
    pub message: &'static str,
    /// The aggregate, projection or saga, when declared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<&'static str>,
    /// How the call ended.
    pub outcome: Outcome,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// Milliseconds.
    pub duration_ms: f64,
    /// The trace id.
    pub trace_id: String,
    /// The handler span's id.
    pub span_id: String,
}

impl ConversationView {
    /// The view of `calls` (one conversation); `None` when there is none.
    pub fn of(calls: &[CallRecord]) -> Option<ConversationView> {
        let first = calls.first()?;
        Some(ConversationView {
            correlation_id: first.correlation_id.to_string(),
            messages: calls
                .iter()
                .map(|r| MessageView {
                    message_id: r.message_id.as_ref().map(Id::to_string),
                    causation_id: r.causation_id.as_ref().map(Id::to_string),
                    kind: r.meta.kind,
                    handler: r.meta.name,
                    message: r.meta.message,
                    component: r.meta.aggregate.or(r.meta.projection).or(r.meta.saga),
                    outcome: r.outcome,
                    started_at: crate::health::rfc3339(r.started_at),
                    duration_ms: r.duration.as_secs_f64() * 1e3,
                    trace_id: r.trace.trace_id().to_string(),
                    span_id: r.trace.span_id().to_string(),
                })
                .collect(),
            sent: sent_within(calls),
        })
    }
}

/// Empties the journal (tests).
#[doc(hidden)]
pub fn clear() {
    JOURNAL.lock().unwrap_or_else(|e| e.into_inner()).clear();
    EDGES.lock().unwrap_or_else(|e| e.into_inner()).clear();
}
