//! The binary form of an entry inside a block.
//!
//! ```text
//! u32 length of the rest
//! u64 timestamp (ns) | u64 seq | u8 level | u8 flags (1 trace, 2 span, 4 error) | [16] trace id | [8] span id
//! str correlation | str causation | str aggregate id | str event type | str message
//! str service | str service version | str environment | str target
//! [error: str type | str message | u16 n | n × str]
//! u16 fields | fields × (str key | u8 tag | value)
//! ```
//!
//! `str` is a u32 length (u32::MAX for none) then UTF-8 bytes. The fixed head lets a search
//! test time, sequence, level and trace id without decoding the rest.

use std::borrow::Cow;

use crate::context::Id;
use crate::logs::entry::{ErrorInfo, FieldValue, Level, LogEntry, Timestamp};
use crate::propagation::{SpanId, TraceId};

/// Bytes before the variable part (after the length prefix).
pub(crate) const HEAD: usize = 8 + 8 + 1 + 1 + 16 + 8;
const NONE: u32 = u32::MAX;

/// The fixed head of an encoded entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head {
    pub(crate) ts: u64,
    pub(crate) seq: u64,
    pub(crate) level: u8,
    pub(crate) trace: Option<[u8; 16]>,
}

/// Writes a string; returns where its bytes are in `out`.
fn put_str(out: &mut Vec<u8>, s: Option<&str>) -> Option<std::ops::Range<usize>> {
    match s {
        Some(s) => {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            let start = out.len();
            out.extend_from_slice(s.as_bytes());
            Some(start..out.len())
        }
        None => {
            out.extend_from_slice(&NONE.to_le_bytes());
            None
        }
    }
}

/// The text of recently seen ids: correlation and causation ids repeat across the entries
/// of a request, and formatting an id costs more than the rest of its encoding.
pub(crate) struct IdCache {
    slots: Vec<Option<(Id, String)>>,
}

impl IdCache {
    const SLOTS: usize = 256;

    pub(crate) fn new() -> IdCache {
        IdCache {
            slots: vec![None; Self::SLOTS],
        }
    }

    fn text(&mut self, id: &Id) -> &str {
        use std::hash::{Hash, Hasher};
        let mut hasher = Mix(0);
        id.hash(&mut hasher);
        let slot = &mut self.slots[(hasher.finish() as usize) % Self::SLOTS];
        if slot.as_ref().is_none_or(|(cached, _)| cached != id) {
            *slot = Some((id.clone(), id.to_string()));
        }
        slot.as_ref().map_or("", |(_, text)| text.as_str())
    }
}

impl std::fmt::Debug for IdCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdCache")
    }
}

/// A cheap multiply-xor hasher for the cache slot.
struct Mix(u64);

impl std::hash::Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

fn put_id(
    out: &mut Vec<u8>,
    id: Option<&Id>,
    cache: &mut IdCache,
) -> Option<std::ops::Range<usize>> {
    put_str(out, id.map(|id| cache.text(id)))
}

/// Where the correlation id and the aggregate id of an encoded entry are (for the filter).
pub(crate) type IdRanges = (
    Option<std::ops::Range<usize>>,
    Option<std::ops::Range<usize>>,
);

/// Appends the encoded entry to `out`; returns where its correlation and aggregate ids are.
pub(crate) fn encode(entry: &LogEntry, out: &mut Vec<u8>, ids: &mut IdCache) -> IdRanges {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&entry.timestamp.nanos().to_le_bytes());
    out.extend_from_slice(&entry.seq.to_le_bytes());
    out.push(entry.level as u8);
    let flags = u8::from(entry.trace_id.is_some())
        | (u8::from(entry.span_id.is_some()) << 1)
        | (u8::from(entry.error.is_some()) << 2);
    out.push(flags);
    out.extend_from_slice(&entry.trace_id.map_or([0; 16], TraceId::to_bytes));
    out.extend_from_slice(&entry.span_id.map_or([0; 8], SpanId::to_bytes));
    let correlation = put_id(out, entry.correlation_id.as_ref(), ids);
    put_id(out, entry.causation_id.as_ref(), ids);
    let aggregate = put_str(out, entry.aggregate_id.as_deref());
    put_str(out, entry.event_type.as_deref());
    put_str(out, Some(&entry.message));
    put_str(out, Some(&entry.service));
    put_str(out, entry.service_version.as_deref());
    put_str(out, entry.environment.as_deref());
    put_str(out, Some(&entry.target));
    if let Some(e) = &entry.error {
        put_str(out, e.r#type.as_deref());
        put_str(out, Some(&e.message));
        out.extend_from_slice(&(e.chain.len().min(u16::MAX.into()) as u16).to_le_bytes());
        for cause in e.chain.iter().take(u16::MAX.into()) {
            put_str(out, Some(cause));
        }
    }
    let n = entry.fields.len().min(u16::MAX.into());
    out.extend_from_slice(&(n as u16).to_le_bytes());
    for (key, value) in entry.fields.iter().take(n) {
        put_str(out, Some(key));
        match value {
            FieldValue::Bool(v) => out.extend_from_slice(&[0, u8::from(*v)]),
            FieldValue::I64(v) => {
                out.push(1);
                out.extend_from_slice(&v.to_le_bytes());
            }
            FieldValue::U64(v) => {
                out.push(2);
                out.extend_from_slice(&v.to_le_bytes());
            }
            FieldValue::F64(v) => {
                out.push(3);
                out.extend_from_slice(&v.to_le_bytes());
            }
            FieldValue::Str(v) => {
                out.push(4);
                put_str(out, Some(v));
            }
        }
    }
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    (correlation, aggregate)
}

/// Reads entries one by one from a block's payload.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let out = self.buf.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(out)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    }

    fn str(&mut self) -> Option<Option<&'a str>> {
        let len = self.u32()?;
        if len == NONE {
            return Some(None);
        }
        std::str::from_utf8(self.take(len as usize)?).ok().map(Some)
    }

    fn string(&mut self) -> Option<String> {
        self.str()?.map(str::to_owned)
    }
}

/// Splits a payload into `(head, encoded entry)` pairs, oldest first.
pub(crate) fn entries(payload: &[u8]) -> Vec<(Head, &[u8])> {
    let mut out = Vec::with_capacity(payload.len() / 128);
    let mut at = 0;
    while at + 4 + HEAD <= payload.len() {
        let len = u32::from_le_bytes(payload[at..at + 4].try_into().unwrap_or_default()) as usize;
        let Some(body) = payload.get(at + 4..at + 4 + len) else {
            break;
        };
        if len < HEAD {
            break;
        }
        let ts = u64::from_le_bytes(body[0..8].try_into().unwrap_or_default());
        let seq = u64::from_le_bytes(body[8..16].try_into().unwrap_or_default());
        let trace = (body[17] & 1 != 0).then(|| body[18..34].try_into().unwrap_or_default());
        out.push((
            Head {
                ts,
                seq,
                level: body[16],
                trace,
            },
            body,
        ));
        at += 4 + len;
    }
    out
}

/// Decodes one entry body (without its length prefix).
pub(crate) fn decode(body: &[u8]) -> Option<LogEntry> {
    let mut r = Reader { buf: body, at: 0 };
    let ts = r.u64()?;
    let seq = r.u64()?;
    let level = Level::from_u8(r.u8()?)?;
    let flags = r.u8()?;
    let trace: [u8; 16] = r.take(16)?.try_into().ok()?;
    let span: [u8; 8] = r.take(8)?.try_into().ok()?;
    let correlation_id = r.str()?.and_then(Id::from_text);
    let causation_id = r.str()?.and_then(Id::from_text);
    let aggregate_id = r.string();
    let event_type = r.string();
    let message = r.string().unwrap_or_default();
    let service = r.string().unwrap_or_default();
    let service_version = r.string();
    let environment = r.string();
    let target = Cow::Owned(r.string().unwrap_or_default());
    let error = if flags & 4 != 0 {
        let r#type = r.string();
        let message = r.string().unwrap_or_default();
        let n = r.u16()?;
        let chain = (0..n).map(|_| r.string().unwrap_or_default()).collect();
        Some(ErrorInfo {
            r#type,
            message,
            chain,
        })
    } else {
        None
    };
    let n = r.u16()?;
    let mut fields = Vec::with_capacity(n.into());
    for _ in 0..n {
        let key = Cow::Owned(r.string()?);
        let value = match r.u8()? {
            0 => FieldValue::Bool(r.u8()? != 0),
            1 => FieldValue::I64(r.u64()? as i64),
            2 => FieldValue::U64(r.u64()?),
            3 => FieldValue::F64(f64::from_bits(r.u64()?)),
            _ => FieldValue::Str(r.string()?),
        };
        fields.push((key, value));
    }
    Some(LogEntry {
        timestamp: Timestamp(ts),
        seq,
        level,
        message,
        service,
        service_version,
        environment,
        target,
        trace_id: if flags & 1 != 0 {
            TraceId::new(trace)
        } else {
            None
        },
        span_id: if flags & 2 != 0 {
            SpanId::new(span)
        } else {
            None
        },
        correlation_id,
        causation_id,
        aggregate_id,
        event_type,
        error,
        fields,
    })
}

/// The correlation and aggregate ids of an encoded body, without decoding the rest.
#[cfg(test)]
pub(crate) fn ids(body: &[u8]) -> (Option<&str>, Option<&str>) {
    let mut r = Reader {
        buf: body,
        at: HEAD,
    };
    let correlation = r.str().flatten();
    let _causation = r.str();
    let aggregate = r.str().flatten();
    (correlation, aggregate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample(message: String, fields: Vec<(String, i64)>, text: String) -> LogEntry {
        let ctx = crate::context::Context::new_root();
        let mut e = LogEntry::new(Level::Error, "bank::account", message);
        e.seq = 7;
        e.service = "bank".into();
        e.trace_id = Some(ctx.trace.trace_id());
        e.span_id = Some(ctx.trace.span_id());
        e.correlation_id = Some(ctx.correlation_id);
        e.causation_id = Id::from_text("cmd-1");
        e.aggregate_id = Some(text.clone());
        e.error = Some(ErrorInfo {
            r#type: Some("Io".into()),
            message: text.clone(),
            chain: vec![text.clone(), "root".into()],
        });
        e.fields = fields
            .into_iter()
            .map(|(k, v)| (Cow::Owned(k), FieldValue::I64(v)))
            .collect();
        e.fields.push(("note".into(), FieldValue::Str(text)));
        e.fields.push(("ok".into(), FieldValue::Bool(true)));
        e.fields.push(("ratio".into(), FieldValue::F64(0.5)));
        e.fields.push(("n".into(), FieldValue::U64(u64::MAX)));
        e
    }

    proptest! {
        #[test]
        fn entries_round_trip(message in "\\PC{0,40}", text in "\\PC{0,20}", fields in proptest::collection::vec(("[a-z]{1,8}", any::<i64>()), 0..4)) {
            let entry = sample(message, fields, text);
            let mut buf = Vec::new();
            encode(&entry, &mut buf, &mut IdCache::new());
            encode(&entry, &mut buf, &mut IdCache::new());
            let all = entries(&buf);
            prop_assert_eq!(all.len(), 2);
            prop_assert_eq!(all[0].0.seq, 7);
            prop_assert_eq!(all[0].0.trace, entry.trace_id.map(TraceId::to_bytes));
            prop_assert_eq!(decode(all[1].1), Some(entry.clone()));
            let (corr, agg) = ids(all[0].1);
            prop_assert_eq!(corr.map(str::to_owned), entry.correlation_id.map(|c| c.to_string()));
            prop_assert_eq!(agg, entry.aggregate_id.as_deref());
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            for (_, body) in entries(&bytes) {
                let _ = decode(body);
            }
        }
    }
}
