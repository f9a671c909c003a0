//! Statistics over a time range: counts by level, service and target, and the most frequent
//! warning and error patterns (messages with numbers and ids replaced by placeholders).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::entry::{Level, LogEntry, Timestamp};

/// Patterns reported in [`Stats::top_errors`].
pub const TOP_PATTERNS: usize = 10;

/// One recurring warning or error message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorPattern {
    /// The message with numbers as `<n>` and ids as `<id>`.
    pub pattern: String,
    /// The highest level seen with it.
    pub level: Level,
    /// How many entries had it.
    pub count: u64,
    /// The newest message with it, as logged.
    pub example: String,
    /// When it was last seen.
    pub last_seen: Timestamp,
}

/// Statistics of the entries in a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Start of the range, if bounded.
    pub since: Option<Timestamp>,
    /// End of the range, if bounded.
    pub until: Option<Timestamp>,
    /// Entries in the range.
    pub total: u64,
    /// Counts by level name.
    pub by_level: BTreeMap<Level, u64>,
    /// Counts by service.
    pub by_service: BTreeMap<String, u64>,
    /// Counts by target.
    pub by_target: BTreeMap<String, u64>,
    /// The most frequent warning and error patterns, most frequent first.
    pub top_errors: Vec<ErrorPattern>,
    /// Entries in the whole store.
    pub stored_entries: u64,
    /// Bytes of the store's segment files.
    pub stored_bytes: u64,
}

/// Replaces numbers with `<n>` and ids (hex runs of 8 or more with a digit, UUIDs) with
/// `<id>`, so that messages differing only in those group together.
///
/// ```
/// use cqrs_obs::logs::normalise_message;
/// assert_eq!(
///     normalise_message("account acc-42 overdrawn by 30.5 (req 5f0c9a1e77b2)"),
///     "account acc-<n> overdrawn by <n> (req <id>)"
/// );
/// ```
pub fn normalise_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if token.is_empty() {
            return;
        }
        let has_digit = token.bytes().any(|b| b.is_ascii_digit());
        let digits_only = token.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        let hexish = token.len() >= 8 && token.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        if has_digit && digits_only {
            out.push_str("<n>");
        } else if has_digit && hexish {
            out.push_str("<id>");
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    let chars: Vec<char> = message.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let joins = c.is_ascii_alphanumeric()
            || (c == '.'
                && token.bytes().all(|b| b.is_ascii_digit())
                && !token.is_empty()
                && chars.get(i + 1).is_some_and(char::is_ascii_digit))
            || (c == '-'
                && token.len() >= 8
                && token.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'));
        if joins {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

#[derive(Debug, Default)]
pub(crate) struct StatsBuilder {
    total: u64,
    by_level: BTreeMap<Level, u64>,
    by_service: BTreeMap<String, u64>,
    by_target: BTreeMap<String, u64>,
    patterns: HashMap<String, ErrorPattern>,
}

impl StatsBuilder {
    /// Adds an entry; entries come newest first.
    pub(crate) fn add(&mut self, e: &LogEntry) {
        self.total += 1;
        *self.by_level.entry(e.level).or_default() += 1;
        *self.by_service.entry(e.service.clone()).or_default() += 1;
        *self.by_target.entry(e.target.to_string()).or_default() += 1;
        if e.level >= Level::Warn {
            let pattern = normalise_message(&e.message);
            let p = self
                .patterns
                .entry(pattern.clone())
                .or_insert_with(|| ErrorPattern {
                    pattern,
                    level: e.level,
                    count: 0,
                    example: e.message.clone(),
                    last_seen: e.timestamp,
                });
            p.count += 1;
            p.level = p.level.max(e.level);
            if e.timestamp > p.last_seen {
                p.last_seen = e.timestamp;
                p.example.clone_from(&e.message);
            }
        }
    }

    pub(crate) fn finish(
        self,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        stored_entries: u64,
        stored_bytes: u64,
    ) -> Stats {
        let mut top: Vec<ErrorPattern> = self.patterns.into_values().collect();
        top.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_seen.cmp(&a.last_seen)));
        top.truncate(TOP_PATTERNS);
        Stats {
            since,
            until,
            total: self.total,
            by_level: self.by_level,
            by_service: self.by_service,
            by_target: self.by_target,
            top_errors: top,
            stored_entries,
            stored_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_group_messages_differing_in_numbers_and_ids() {
        let mut b = StatsBuilder::default();
        for (i, level) in [(1, Level::Warn), (2, Level::Error), (3, Level::Warn)] {
            let mut e = LogEntry::new(
                level,
                "bank",
                format!("account {i} overdrawn by {}", i * 10),
            );
            e.timestamp = Timestamp(i);
            b.add(&e);
        }
        b.add(&LogEntry::new(Level::Info, "bank", "fine"));
        let stats = b.finish(None, None, 4, 0);
        assert_eq!(stats.total, 4);
        assert_eq!(stats.by_level[&Level::Warn], 2);
        assert_eq!(stats.top_errors.len(), 1);
        let p = &stats.top_errors[0];
        assert_eq!(
            (p.pattern.as_str(), p.count, p.level),
            ("account <n> overdrawn by <n>", 3, Level::Error)
        );
        assert_eq!(p.example, "account 3 overdrawn by 30");
        assert_eq!(
            normalise_message("id 123e4567-e89b-12d3-a456-426614174000 x"),
            "id <id> x"
        );
    }
}
