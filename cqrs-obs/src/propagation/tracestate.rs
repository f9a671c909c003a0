//! The W3C Trace Context `tracestate` header: vendor entries that travel with `traceparent`.
//!
//! The rules are those of Trace Context Level 1:
//! - a list of at most 32 `key=value` members separated by `,`; spaces and tabs around members
//!   are ignored, and empty members (`a=1,,b=2`, or an empty header) are allowed and skipped;
//! - a key is a simple key (`a-z`, then up to 255 of `a-z0-9_-*/`) or a multi-tenant key
//!   `tenant@system` (tenant: `a-z0-9`, then up to 240 of `a-z0-9_-*/`; system: `a-z`, then up
//!   to 13 of the same);
//! - a value is 1 to 256 printable ASCII characters (`0x20`–`0x7E`) other than `,` and `=`,
//!   not ending in a space (leading spaces are part of the value);
//! - a duplicate key, a 33rd member or any invalid member makes the whole header invalid: the
//!   specification says to discard it rather than propagate a part of it.
//!
//! Several `tracestate` header fields are combined, as RFC 7230 §3.2.2 says, by joining them
//! with `,` before parsing. Parsing never panics, whatever the input.
//!
//! ```
//! use cqrs_obs::propagation::tracestate::TraceState;
//!
//! let mut state = TraceState::parse("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE")?;
//! assert_eq!(state.get("congo"), Some("t61rcWkgMzE"));
//! state.insert("congo", "ucfJifl5GOE")?; // an updated entry moves to the front
//! assert_eq!(state.to_string(), "congo=ucfJifl5GOE,rojo=00f067aa0ba902b7");
//! # Ok::<(), cqrs_obs::propagation::tracestate::TraceStateError>(())
//! ```

use std::fmt;
use std::str::FromStr;

/// Name of the header (and of the event-metadata key) that carries the trace state.
pub const HEADER: &str = "tracestate";

/// Most list members a `tracestate` may have.
pub const MAX_MEMBERS: usize = 32;

/// The length the specification asks every vendor to propagate at least, and the default
/// limit for [`TraceState::truncate`].
pub const PROPAGATION_LIMIT: usize = 512;

/// Members longer than this are the first removed by [`TraceState::truncate`].
pub const LARGE_MEMBER: usize = 128;

/// Why a `tracestate` (or an entry given to [`TraceState::insert`]) was rejected.
///
/// `at` is the byte offset of the offending member (or value) in the parsed string; it is `0`
/// for an entry given to [`TraceState::insert`].
///
/// ```
/// use cqrs_obs::propagation::tracestate::{TraceState, TraceStateError};
///
/// assert_eq!(TraceState::parse("foo=1,FOO=2"), Err(TraceStateError::InvalidKey { at: 6 }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceStateError {
    /// More than [`MAX_MEMBERS`] list members.
    #[error("`tracestate` has more than 32 list members")]
    TooManyMembers,
    /// A member without `=`.
    #[error("`tracestate` member at byte {at} has no `=`")]
    MissingEquals {
        /// Offset of the member.
        at: usize,
    },
    /// A key outside the grammar.
    #[error(
        "`tracestate` key at byte {at} is invalid: expected `a-z` then up to 255 of \
         `a-z0-9_-*/`, or `tenant@system`"
    )]
    InvalidKey {
        /// Offset of the member.
        at: usize,
    },
    /// A value outside the grammar.
    #[error(
        "`tracestate` value at byte {at} is invalid: expected 1 to 256 printable ASCII \
         characters other than `,` and `=`, not ending in a space"
    )]
    InvalidValue {
        /// Offset of the value.
        at: usize,
    },
    /// The same key twice.
    #[error("`tracestate` key `{key}` appears more than once")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
}

/// A parsed, valid `tracestate`: ordered `(key, value)` members, most recently updated first.
///
/// ```
/// use cqrs_obs::propagation::tracestate::TraceState;
///
/// let mut state = TraceState::new();
/// state.insert("rojo", "00f067aa0ba902b7")?;
/// state.insert("tenant@congo", "t61rcWkgMzE")?;
/// assert_eq!(state.to_string(), "tenant@congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
/// assert_eq!(state.remove("rojo").as_deref(), Some("00f067aa0ba902b7"));
/// assert_eq!(state.len(), 1);
/// # Ok::<(), cqrs_obs::propagation::tracestate::TraceStateError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TraceState {
    members: Vec<(String, String)>,
}

impl TraceState {
    /// An empty trace state.
    pub const fn new() -> Self {
        Self {
            members: Vec::new(),
        }
    }

    /// Parses a `tracestate` value (see the [module docs](self) for the rules).
    ///
    /// ```
    /// use cqrs_obs::propagation::tracestate::{TraceState, TraceStateError};
    ///
    /// let state = TraceState::parse("foo=1 \t , \t bar=2,, baz= 3")?;
    /// assert_eq!(state.iter().collect::<Vec<_>>(), [("foo", "1"), ("bar", "2"), ("baz", " 3")]);
    /// assert!(TraceState::parse("")?.is_empty());
    /// assert_eq!(
    ///     TraceState::parse("foo=1,foo=2"),
    ///     Err(TraceStateError::DuplicateKey { key: "foo".into() })
    /// );
    /// # Ok::<(), TraceStateError>(())
    /// ```
    pub fn parse(header: &str) -> Result<Self, TraceStateError> {
        let mut members: Vec<(String, String)> = Vec::new();
        for raw in header.split(',') {
            let member = raw.trim_matches(is_ows);
            if member.is_empty() {
                continue;
            }
            let at = offset(header, member);
            if members.len() == MAX_MEMBERS {
                return Err(TraceStateError::TooManyMembers);
            }
            let (key, value) = member
                .split_once('=')
                .ok_or(TraceStateError::MissingEquals { at })?;
            check(key, value, at, offset(header, value))?;
            if members.iter().any(|(k, _)| k == key) {
                return Err(TraceStateError::DuplicateKey {
                    key: key.to_owned(),
                });
            }
            members.push((key.to_owned(), value.to_owned()));
        }
        Ok(Self { members })
    }

    /// The value of `key`.
    ///
    /// ```
    /// use cqrs_obs::propagation::tracestate::TraceState;
    ///
    /// let state = TraceState::parse("rojo=00f067aa0ba902b7")?;
    /// assert_eq!(state.get("rojo"), Some("00f067aa0ba902b7"));
    /// assert_eq!(state.get("congo"), None);
    /// # Ok::<(), cqrs_obs::propagation::tracestate::TraceStateError>(())
    /// ```
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key` to `value` and moves it to the front, as the specification requires of an
    /// added or updated entry. If that makes 33 members, the last one is dropped (truncation
    /// removes entries from the end). On error nothing changes.
    ///
    /// ```
    /// use cqrs_obs::propagation::tracestate::{TraceState, TraceStateError};
    ///
    /// let mut state = TraceState::parse("a=1,b=2")?;
    /// state.insert("b", "3")?;
    /// assert_eq!(state.to_string(), "b=3,a=1");
    /// assert_eq!(state.insert("B", "3"), Err(TraceStateError::InvalidKey { at: 0 }));
    /// assert_eq!(state.insert("c", "x=y"), Err(TraceStateError::InvalidValue { at: 0 }));
    /// # Ok::<(), TraceStateError>(())
    /// ```
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), TraceStateError> {
        check(key, value, 0, 0)?;
        self.members.retain(|(k, _)| k != key);
        self.members.insert(0, (key.to_owned(), value.to_owned()));
        self.members.truncate(MAX_MEMBERS);
        Ok(())
    }

    /// Removes `key`, returning its value.
    ///
    /// ```
    /// use cqrs_obs::propagation::tracestate::TraceState;
    ///
    /// let mut state = TraceState::parse("a=1,b=2")?;
    /// assert_eq!(state.remove("a").as_deref(), Some("1"));
    /// assert_eq!(state.remove("a"), None);
    /// # Ok::<(), cqrs_obs::propagation::tracestate::TraceStateError>(())
    /// ```
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.members.iter().position(|(k, _)| k == key)?;
        Some(self.members.remove(i).1)
    }

    /// The members, front first.
    ///
    /// ```
    /// use cqrs_obs::propagation::tracestate::TraceState;
    ///
    /// let state = TraceState::parse("a=1,b=2")?;
    /// assert_eq!(state.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["a", "b"]);
    /// # Ok::<(), cqrs_obs::propagation::tracestate::TraceStateError>(())
    /// ```
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.members.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of members.
    ///
    /// ```
    /// use cqrs_obs::propagation::tracestate::TraceState;
    /// assert_eq!(TraceState::parse("a=1, ,b=2").map(|s| s.len()), Ok(2));
    /// ```
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are no members.
    ///
    /// ```
    /// use cqrs_obs::propagation::tracestate::TraceState;
    /// assert!(TraceState::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Length of the formatted header (`to_string().len()`), without formatting it.
    ///
    /// ```
    /// use cqrs_obs::propagation::tracestate::TraceState;
    /// let state = TraceState::parse(" a=1 , b=2 ")?;
    /// assert_eq!(state.header_len(), "a=1,b=2".len());
    /// # Ok::<(), cqrs_obs::propagation::tracestate::TraceStateError>(())
    /// ```
    pub fn header_len(&self) -> usize {
        let members: usize = self.members.iter().map(member_len).sum();
        members + self.members.len().saturating_sub(1)
    }

    /// Removes whole members until the formatted header is at most `max_len` characters:
    /// first members longer than [`LARGE_MEMBER`] characters, from the end, then members from
    /// the end, as the specification recommends. Use [`PROPAGATION_LIMIT`] for `max_len` unless
    /// the transport documents another limit.
    ///
    /// ```
    /// use cqrs_obs::propagation::tracestate::{TraceState, PROPAGATION_LIMIT};
    ///
    /// let big = "x".repeat(200);
    /// let mut state = TraceState::parse(&format!("a=1,big={big},b=2"))?;
    /// state.truncate(100);
    /// assert_eq!(state.to_string(), "a=1,b=2");
    /// state.truncate(3);
    /// assert_eq!(state.to_string(), "a=1");
    /// state.truncate(PROPAGATION_LIMIT);
    /// assert_eq!(state.len(), 1);
    /// # Ok::<(), cqrs_obs::propagation::tracestate::TraceStateError>(())
    /// ```
    pub fn truncate(&mut self, max_len: usize) {
        let mut len = self.header_len();
        while len > max_len {
            let large = self
                .members
                .iter()
                .rposition(|m| member_len(m) > LARGE_MEMBER);
            let removed = match large {
                Some(i) => self.members.remove(i),
                None => match self.members.pop() {
                    Some(last) => last,
                    None => return,
                },
            };
            len -= member_len(&removed) + usize::from(!self.members.is_empty());
        }
    }
}

impl FromStr for TraceState {
    type Err = TraceStateError;

    /// Same as [`TraceState::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for TraceState {
    /// The header value: members joined by `,`, without optional whitespace.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (key, value)) in self.members.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{key}={value}")?;
        }
        Ok(())
    }
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Byte offset of `part` in `whole`; `part` is always a sub-slice of `whole`.
fn offset(whole: &str, part: &str) -> usize {
    part.as_ptr().addr().saturating_sub(whole.as_ptr().addr())
}

fn member_len((key, value): &(String, String)) -> usize {
    key.len() + 1 + value.len()
}

fn check(key: &str, value: &str, key_at: usize, value_at: usize) -> Result<(), TraceStateError> {
    if !valid_key(key.as_bytes()) {
        return Err(TraceStateError::InvalidKey { at: key_at });
    }
    if !valid_value(value.as_bytes()) {
        return Err(TraceStateError::InvalidValue { at: value_at });
    }
    Ok(())
}

fn is_key_char(b: &u8) -> bool {
    matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/')
}

/// `first` then up to `max - 1` key characters.
fn valid_part(part: &[u8], max: usize, first: fn(&u8) -> bool) -> bool {
    part.len() <= max && part.first().is_some_and(first) && part.iter().all(is_key_char)
}

fn valid_key(key: &[u8]) -> bool {
    match key.iter().position(|&b| b == b'@') {
        None => valid_part(key, 256, u8::is_ascii_lowercase),
        Some(i) => {
            let (tenant, system) = (&key[..i], &key[i + 1..]);
            let tenant_first = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
            valid_part(tenant, 241, tenant_first) && valid_part(system, 14, u8::is_ascii_lowercase)
        }
    }
}

fn valid_value(value: &[u8]) -> bool {
    let printable = |b: &u8| matches!(b, 0x20..=0x7e) && *b != b',' && *b != b'=';
    value.len() <= 256 && value.last().is_some_and(|&b| b != b' ') && value.iter().all(printable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TraceStateError as E;

    fn parse(s: &str) -> Result<TraceState, TraceStateError> {
        TraceState::parse(s)
    }

    fn pairs(state: &TraceState) -> Vec<(&str, &str)> {
        state.iter().collect()
    }

    #[test]
    fn spec_examples() {
        let state = parse("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE").unwrap();
        assert_eq!(
            pairs(&state),
            [("rojo", "00f067aa0ba902b7"), ("congo", "t61rcWkgMzE")]
        );
        assert_eq!(state.to_string(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
        let mut state = parse("congo=t61rcWkgMzE").unwrap();
        state.insert("rojo", "00f067aa0ba902b7").unwrap();
        assert_eq!(state.to_string(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
        state.insert("congo", "ucfJifl5GOE").unwrap();
        assert_eq!(state.to_string(), "congo=ucfJifl5GOE,rojo=00f067aa0ba902b7");
    }

    #[test]
    fn ows_and_empty_members() {
        for header in [
            "foo=1 \t , \t bar=2, \t baz=3",
            "foo=1\t \t,\t \tbar=2,\t \tbaz=3",
        ] {
            assert_eq!(
                pairs(&parse(header).unwrap()),
                [("foo", "1"), ("bar", "2"), ("baz", "3")]
            );
        }
        for header in [
            " foo=1",
            "\tfoo=1",
            "foo=1 ",
            "foo=1\t",
            "\t foo=1 \t",
            ",foo=1,",
            " , foo=1,,",
        ] {
            assert_eq!(pairs(&parse(header).unwrap()), [("foo", "1")], "{header:?}");
        }
        for header in ["", " ", ",", " ,\t, "] {
            assert!(parse(header).unwrap().is_empty(), "{header:?}");
        }
        assert_eq!(
            parse("foo= 1").unwrap().get("foo"),
            Some(" 1"),
            "leading spaces are kept"
        );
    }

    #[test]
    fn all_allowed_characters() {
        let simple: String = ('a'..='z').chain('0'..='9').chain("_-*/".chars()).collect();
        let tenant = format!("{simple}@a-z0-9_-*/");
        let value: String = (0x20u8..=0x7e)
            .filter(|b| !b",=".contains(b))
            .map(char::from)
            .collect();
        for key in [&simple, &tenant] {
            let state = parse(&format!("{key}={value}")).unwrap();
            assert_eq!(state.get(key), Some(value.as_str()));
            assert_eq!(state.to_string(), format!("{key}={value}"));
        }
    }

    #[test]
    fn invalid_keys() {
        for key in [
            "foo ",
            "FOO",
            "foo.bar",
            "1foo",
            "foo@",
            "@foo",
            "foo@@bar",
            "foo@bar@baz",
            "t@1v",
            "é",
        ] {
            assert_eq!(
                parse(&format!("a=1, {key}=1")),
                Err(E::InvalidKey { at: 5 }),
                "{key:?}"
            );
        }
        assert_eq!(parse("a=1,\t@foo=1,bar=2"), Err(E::InvalidKey { at: 5 }));
        assert_eq!(parse(" foo"), Err(E::MissingEquals { at: 1 }));
    }

    #[test]
    fn key_length_limits() {
        let ok = |key: String| parse(&format!("foo=1,{key}=1")).map(|s| s.len());
        assert_eq!(ok("z".repeat(256)), Ok(2));
        assert_eq!(ok("z".repeat(257)), Err(E::InvalidKey { at: 6 }));
        assert_eq!(ok(format!("{}@{}", "t".repeat(241), "v".repeat(14))), Ok(2));
        assert_eq!(
            ok(format!("{}@v", "t".repeat(242))),
            Err(E::InvalidKey { at: 6 })
        );
        assert_eq!(
            ok(format!("t@{}", "v".repeat(15))),
            Err(E::InvalidKey { at: 6 })
        );
        assert_eq!(ok("0@v".into()), Ok(2), "a tenant may start with a digit");
    }

    #[test]
    fn invalid_values() {
        assert_eq!(parse("foo=bar=baz"), Err(E::InvalidValue { at: 4 }));
        assert_eq!(parse("foo=,bar=3"), Err(E::InvalidValue { at: 4 }));
        assert_eq!(parse("foo= ,bar=3"), Err(E::InvalidValue { at: 4 }));
        assert_eq!(parse("foo=a\tb"), Err(E::InvalidValue { at: 4 }));
        assert_eq!(parse("foo=ü"), Err(E::InvalidValue { at: 4 }));
        assert_eq!(
            parse(&format!("foo={}", "v".repeat(256))).map(|s| s.len()),
            Ok(1)
        );
        assert_eq!(
            parse(&format!("foo={}", "v".repeat(257))),
            Err(E::InvalidValue { at: 4 })
        );
    }

    #[test]
    fn duplicates_and_member_count() {
        assert_eq!(
            parse("foo=1,foo=1"),
            Err(E::DuplicateKey { key: "foo".into() })
        );
        assert_eq!(
            parse("foo=1,bar=2,foo=2"),
            Err(E::DuplicateKey { key: "foo".into() })
        );
        let members = |n: usize| {
            (1..=n)
                .map(|i| format!("bar{i:02}={i:02}"))
                .collect::<Vec<_>>()
        };
        let state = parse(&members(32).join(",")).unwrap();
        assert_eq!((state.len(), state.get("bar01")), (32, Some("01")));
        assert_eq!(parse(&members(33).join(",")), Err(E::TooManyMembers));
        assert_eq!(
            parse(&format!("{},,,", members(32).join(",,"))).map(|s| s.len()),
            Ok(32)
        );
    }

    #[test]
    fn insert_keeps_at_most_32_members() {
        let mut state = parse(
            &(1..=32)
                .map(|i| format!("k{i}=v"))
                .collect::<Vec<_>>()
                .join(","),
        )
        .unwrap();
        state.insert("new", "v").unwrap();
        assert_eq!((state.len(), state.iter().next()), (32, Some(("new", "v"))));
        assert_eq!(state.get("k32"), None);
        state.insert("k1", "w").unwrap();
        assert_eq!((state.len(), state.iter().next()), (32, Some(("k1", "w"))));
    }

    #[test]
    fn truncation_drops_large_members_from_the_end_then_the_last() {
        let big = |c: &str| c.repeat(130);
        let header = format!("a=1,b={},c=2,d={},e=3", big("x"), big("y"));
        let mut state = parse(&header).unwrap();
        state.truncate(header.len());
        assert_eq!(state.len(), 5, "nothing to do");
        state.truncate(header.len() - 1);
        assert_eq!(state.to_string(), format!("a=1,b={},c=2,e=3", big("x")));
        state.truncate(20);
        assert_eq!(state.to_string(), "a=1,c=2,e=3");
        state.truncate(8);
        assert_eq!(state.to_string(), "a=1,c=2");
        state.truncate(0);
        assert!(state.is_empty());
        // A member of exactly 128 characters is not "large".
        let exact = format!("k={}", "v".repeat(126));
        let mut state = parse(&format!("{exact},z=1")).unwrap();
        state.truncate(130);
        assert_eq!(state.to_string(), exact);
        assert_eq!(state.header_len(), state.to_string().len());
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            E::MissingEquals { at: 3 }.to_string(),
            "`tracestate` member at byte 3 has no `=`"
        );
        assert_eq!(
            E::DuplicateKey { key: "foo".into() }.to_string(),
            "`tracestate` key `foo` appears more than once"
        );
    }
}
