//! `trace CORRELATION_ID`: the conversation's causation tree (children are the messages
//! whose `causation_id` is their parent's `message_id`), drawn with box-drawing characters.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::{Ctx, Outcome};
use crate::cli::TraceArgs;
use crate::client::encode;
use crate::error::{CliError, Exit};
use crate::model::{Message, Trace};
use crate::output::{number, paint, Record, Report, Tone};

fn outcome_tone(outcome: &str) -> Tone {
    match outcome {
        "ok" => Tone::Good,
        "rejected" | "conflict" | "cancelled" => Tone::Warn,
        "" => Tone::Plain,
        _ => Tone::Bad,
    }
}

/// The parent of each message: a message with the `message_id` its `causation_id` names.
/// One message handled by several handlers (an event and its projections) gives several
/// candidates; the one in the same trace wins, as a handler's own sends stay in its trace.
fn parents(messages: &[Message]) -> Vec<Option<usize>> {
    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        if let Some(id) = m.message_id.as_deref() {
            by_id.entry(id).or_default().push(i);
        }
    }
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let candidates: Vec<usize> = by_id
                .get(m.causation_id.as_deref()?)?
                .iter()
                .copied()
                .filter(|&c| c != i && messages[c].message_id != m.message_id)
                .collect();
            candidates
                .iter()
                .copied()
                .find(|&c| m.trace_id.is_some() && messages[c].trace_id == m.trace_id)
                .or_else(|| candidates.first().copied())
        })
        .collect()
}

/// The messages in tree order (depth first, siblings by start time), with, for each level
/// of its path, whether that node is the last of its siblings (for drawing).
pub(crate) fn tree_order(messages: &[Message]) -> Vec<(usize, Vec<bool>)> {
    let parents = parents(messages);
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, parent) in parents.iter().enumerate() {
        match parent {
            Some(p) => children.entry(*p).or_default().push(i),
            None => roots.push(i),
        }
    }
    let by_start = |v: &mut Vec<usize>| {
        v.sort_by(|&a, &b| {
            messages[a]
                .started_at
                .cmp(&messages[b].started_at)
                .then(a.cmp(&b))
        });
    };
    by_start(&mut roots);
    for v in children.values_mut() {
        by_start(v);
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack: Vec<(usize, Vec<bool>)> = roots
        .iter()
        .enumerate()
        .rev()
        .map(|(n, &i)| (i, vec![n + 1 == roots.len()]))
        .collect();
    while let Some((i, lasts)) = stack.pop() {
        if !seen.insert(i) {
            continue;
        }
        if let Some(kids) = children.get(&i) {
            for (n, &k) in kids.iter().enumerate().rev() {
                let mut l = lasts.clone();
                l.push(n + 1 == kids.len());
                stack.push((k, l));
            }
        }
        out.push((i, lasts));
    }
    // Messages in a causation cycle are reachable from no root: list them at the top level.
    for i in 0..messages.len() {
        if !seen.contains(&i) {
            out.push((i, vec![true]));
        }
    }
    out
}

/// The tree as text: one line per message.
pub(crate) fn draw(messages: &[Message], color: bool) -> String {
    let mut out = String::new();
    for (i, lasts) in tree_order(messages) {
        let m = &messages[i];
        let mut prefix = String::new();
        for (level, last) in lasts.iter().enumerate().skip(1) {
            let is_self = level + 1 == lasts.len();
            prefix.push_str(match (is_self, last) {
                (true, true) => "└─ ",
                (true, false) => "├─ ",
                (false, true) => "   ",
                (false, false) => "│  ",
            });
        }
        let duration = m
            .duration_ms
            .map_or_else(String::new, |d| format!("  {}ms", number(d)));
        out.push_str(&format!(
            "{prefix}{} {} {} {}{duration}  {}\n",
            paint(&m.kind, Tone::Dim, color),
            m.message,
            paint(&format!("[{}]", m.handler), Tone::Dim, color),
            paint(&m.outcome, outcome_tone(&m.outcome), color),
            paint(&m.started_at, Tone::Dim, color),
        ));
    }
    out
}

/// Runs `trace`.
pub(crate) fn run(ctx: &Ctx, args: &TraceArgs) -> Outcome {
    let answer = ctx
        .admin
        .get(&format!("/traces/{}", encode(&args.correlation_id)))?;
    let trace: Trace = match answer.expect(&[200]) {
        Err(CliError::Status { status: 404, message, .. }) if message.contains("no such admin route") => {
            return Err(CliError::Other(format!(
                "{}/traces/{{correlation_id}} is not served by this service (a newer cqrs-obs serves it)",
                ctx.admin.base()
            )))
        }
        other => other?.json()?,
    };
    let order = tree_order(&trace.messages);
    let records: Vec<Record> = order
        .iter()
        .map(|(i, lasts)| {
            let m = &trace.messages[*i];
            let opt =
                |v: &Option<String>| v.as_ref().map_or(Value::Null, |s| Value::from(s.as_str()));
            Record::new()
                .with("depth", lasts.len() - 1)
                .with("message_id", opt(&m.message_id))
                .with("causation_id", opt(&m.causation_id))
                .with("kind", m.kind.as_str())
                .with("message", m.message.as_str())
                .with("handler", m.handler.as_str())
                .with("outcome", m.outcome.as_str())
                .with("started_at", m.started_at.as_str())
                .with(
                    "duration_ms",
                    m.duration_ms.map_or(Value::Null, Value::from),
                )
                .with("trace_id", opt(&m.trace_id))
                .with("span_id", opt(&m.span_id))
        })
        .collect();
    let mut report = Report::new(
        vec![
            "depth",
            "message_id",
            "causation_id",
            "kind",
            "message",
            "handler",
            "outcome",
            "started_at",
            "duration_ms",
            "trace_id",
            "span_id",
        ],
        records,
    );
    let id = if trace.correlation_id.is_empty() {
        &args.correlation_id
    } else {
        &trace.correlation_id
    };
    report.preamble.push((
        format!("conversation {id}: {} messages", trace.messages.len()),
        Tone::Plain,
    ));
    report.text = Some(draw(&trace.messages, ctx.settings.color));
    report.json = Some(serde_json::json!({
        "correlation_id": id,
        "messages": report.records,
    }));
    Ok((report, Exit::Ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: &str, parent: Option<&str>, message: &str, at: &str) -> Message {
        Message {
            message_id: Some(id.into()),
            causation_id: parent.map(Into::into),
            kind: if parent.is_none() { "command" } else { "event" }.into(),
            handler: "h".into(),
            message: message.into(),
            outcome: "ok".into(),
            started_at: at.into(),
            duration_ms: Some(1.5),
            trace_id: None,
            span_id: None,
        }
    }

    #[test]
    fn trees_are_drawn_with_box_characters() {
        let messages = vec![
            m("c", Some("a"), "Second", "t3"),
            m("a", None, "Open", "t1"),
            m("b", Some("a"), "First", "t2"),
            m("d", Some("b"), "Nested", "t4"),
            m("e", Some("c"), "Deeper", "t5"),
        ];
        assert_eq!(
            draw(&messages, false),
            "command Open [h] ok  1.5ms  t1\n\
             ├─ event First [h] ok  1.5ms  t2\n\
             │  └─ event Nested [h] ok  1.5ms  t4\n\
             └─ event Second [h] ok  1.5ms  t3\n\
             \u{20}  └─ event Deeper [h] ok  1.5ms  t5\n"
        );
    }

    #[test]
    fn a_message_handled_twice_parents_the_sends_of_the_call_in_their_trace() {
        let mut messages = vec![
            m("c", None, "Transfer", "t1"),
            m("e", Some("c"), "Withdrawn", "t2"),
            m("e", Some("c"), "Withdrawn", "t3"),
            m("d", Some("e"), "Deposit", "t4"),
        ];
        messages[1].trace_id = Some("a".into());
        messages[2].trace_id = Some("b".into());
        messages[3].trace_id = Some("b".into());
        assert_eq!(
            tree_order(&messages),
            [
                (0, vec![true]),
                (1, vec![true, false]),
                (2, vec![true, true]),
                (3, vec![true, true, true])
            ]
        );
    }

    #[test]
    fn cycles_and_orphans_do_not_hide_messages() {
        let messages = vec![
            m("x", Some("y"), "X", "t1"),
            m("y", Some("x"), "Y", "t2"),
            m("z", Some("gone"), "Z", "t3"),
        ];
        assert_eq!(tree_order(&messages).len(), 3);
    }
}
