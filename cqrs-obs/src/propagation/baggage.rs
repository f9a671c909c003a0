//! The W3C `baggage` header: application-defined `key=value` pairs that travel with a request.
//!
//! Grammar (W3C Baggage): `key OWS "=" OWS value *( OWS ";" OWS property )` members separated
//! by `,`, where a key is an RFC 7230 token, a value is a string of baggage-octets (printable
//! ASCII other than `"`, `,`, `;`, `\` and space) holding a percent-encoded UTF-8 string, and a
//! property is `key` or `key=value`. Spaces and tabs around members, keys, values and
//! properties are trimmed.
//!
//! Decisions where the specification leaves a choice:
//! - **Strict: an invalid member rejects the whole header**, as `traceparent` and `tracestate`
//!   do. A header that breaks the grammar was usually built wrongly (an unencoded `,` in a value
//!   splits it into a valid-looking member and garbage); keeping the valid-looking part would
//!   propagate a silently wrong value. The caller gets an error naming the byte offset.
//! - Empty members (`a=1,,b=2`, an empty header) are skipped, as RFC 7230 §7 asks of list
//!   headers, since several `baggage` fields may be joined with `,`.
//! - Limits: at most [`MAX_MEMBERS`] members and [`MAX_LEN`] bytes, both for the input and
//!   for the formatted header, so every `Baggage` value formats within the limits.
//! - Values are percent-decoded when parsed and encoded when formatted: every byte outside the
//!   baggage-octets, and `%` itself, is written `%XX`. A `%` not followed by two hex digits is
//!   an error; decoded bytes that are not UTF-8 become U+FFFD, as the specification says.
//! - Properties are opaque to the specification and are kept as written (not decoded).
//! - Duplicate keys are kept in order; [`Baggage::get`] returns the last one, as OpenTelemetry
//!   SDKs do, and [`Baggage::insert`] replaces them all.
//!
//! ```
//! use cqrs_obs::propagation::baggage::Baggage;
//!
//! let mut baggage = Baggage::parse("userId=alice, serverNode = DF%2028;region=eu")?;
//! assert_eq!(baggage.get("serverNode"), Some("DF 28"));
//! baggage.insert("isProduction", "false")?;
//! assert_eq!(baggage.to_string(), "userId=alice,serverNode=DF%2028;region=eu,isProduction=false");
//! # Ok::<(), cqrs_obs::propagation::baggage::BaggageError>(())
//! ```

use std::fmt::{self, Write as _};
use std::str::FromStr;

/// Name of the header (and of the event-metadata key) that carries baggage.
pub const HEADER: &str = "baggage";

/// Most list members a `baggage` header may have.
pub const MAX_MEMBERS: usize = 180;

/// Longest `baggage` header, in bytes.
pub const MAX_LEN: usize = 8192;

/// Why a `baggage` header (or an entry given to [`Baggage::insert`]) was rejected.
///
/// `at` is the byte offset of the offending part in the parsed string; `0` for an entry given
/// to [`Member::new`] or [`Member::with_property`].
///
/// ```
/// use cqrs_obs::propagation::baggage::{Baggage, BaggageError};
///
/// assert_eq!(Baggage::parse("k=a,b"), Err(BaggageError::MissingEquals { at: 4 }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BaggageError {
    /// The header is longer than [`MAX_LEN`] bytes.
    #[error("`baggage` is {len} bytes long; the limit is 8192")]
    TooLong {
        /// The length found (or that an insert would make).
        len: usize,
    },
    /// More than [`MAX_MEMBERS`] list members.
    #[error("`baggage` has more than 180 list members")]
    TooManyMembers,
    /// A member without `=`.
    #[error("`baggage` member at byte {at} has no `=`")]
    MissingEquals {
        /// Offset of the member.
        at: usize,
    },
    /// A key that is not an RFC 7230 token.
    #[error("`baggage` key at byte {at} is not a token (letters, digits and ``!#$%&'*+-.^_`|~``)")]
    InvalidKey {
        /// Offset of the key.
        at: usize,
    },
    /// A character that is not a baggage-octet in a value.
    #[error(
        "`baggage` value has an invalid character at byte {at}; percent-encode space, `\"`, \
         `,`, `;`, `\\` and non-ASCII"
    )]
    InvalidValue {
        /// Offset of the character.
        at: usize,
    },
    /// A `%` not followed by two hex digits.
    #[error("`baggage` value has a `%` not followed by two hex digits at byte {at}")]
    InvalidPercentEncoding {
        /// Offset of the `%`.
        at: usize,
    },
    /// A property that is neither `key` nor `key=value`.
    #[error("`baggage` property at byte {at} is invalid: expected `key` or `key=value`")]
    InvalidProperty {
        /// Offset of the property.
        at: usize,
    },
}

/// A property attached to a baggage member: `key` or `key=value`, kept as written.
///
/// ```
/// use cqrs_obs::propagation::baggage::Baggage;
///
/// let baggage = Baggage::parse("k=v;ttl=30;private")?;
/// let props = baggage.member("k").unwrap().properties();
/// assert_eq!((props[0].key(), props[0].value()), ("ttl", Some("30")));
/// assert_eq!((props[1].key(), props[1].value()), ("private", None));
/// # Ok::<(), cqrs_obs::propagation::baggage::BaggageError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Property {
    key: String,
    value: Option<String>,
}

impl Property {
    /// The property's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The property's value, as written (not percent-decoded).
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    fn len(&self) -> usize {
        self.key.len() + self.value.as_ref().map_or(0, |v| 1 + v.len())
    }
}

/// One baggage entry: a key, its decoded value and its properties.
///
/// ```
/// use cqrs_obs::propagation::baggage::{Baggage, Member};
///
/// let member = Member::new("user", "Zoë Smith")?.with_property("private", None)?;
/// let mut baggage = Baggage::new();
/// baggage.insert_member(member)?;
/// assert_eq!(baggage.to_string(), "user=Zo%C3%AB%20Smith;private");
/// # Ok::<(), cqrs_obs::propagation::baggage::BaggageError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Member {
    key: String,
    value: String,
    properties: Vec<Property>,
}

impl Member {
    /// A member with no properties; `key` must be a token, `value` may be any text.
    ///
    /// ```
    /// use cqrs_obs::propagation::baggage::{BaggageError, Member};
    ///
    /// assert!(Member::new("tenant.id", "a,b;c").is_ok());
    /// assert_eq!(Member::new("bad key", "v"), Err(BaggageError::InvalidKey { at: 0 }));
    /// ```
    pub fn new(key: &str, value: &str) -> Result<Self, BaggageError> {
        if !is_token(key) {
            return Err(BaggageError::InvalidKey { at: 0 });
        }
        Ok(Self {
            key: key.to_owned(),
            value: value.to_owned(),
            properties: Vec::new(),
        })
    }

    /// This member with a property added; `key` must be a token and `value` baggage-octets
    /// (properties are not percent-encoded).
    ///
    /// ```
    /// use cqrs_obs::propagation::baggage::{BaggageError, Member};
    ///
    /// let m = Member::new("k", "v")?.with_property("ttl", Some("30"))?;
    /// assert_eq!(m.properties().len(), 1);
    /// assert_eq!(m.with_property("p", Some("a b")), Err(BaggageError::InvalidProperty { at: 0 }));
    /// # Ok::<(), BaggageError>(())
    /// ```
    pub fn with_property(mut self, key: &str, value: Option<&str>) -> Result<Self, BaggageError> {
        if !is_token(key) || !value.is_none_or(|v| v.bytes().all(is_baggage_octet)) {
            return Err(BaggageError::InvalidProperty { at: 0 });
        }
        let value = value.map(str::to_owned);
        self.properties.push(Property {
            key: key.to_owned(),
            value,
        });
        Ok(self)
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The decoded value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The properties, in order.
    pub fn properties(&self) -> &[Property] {
        &self.properties
    }

    /// Length of this member in a formatted header.
    fn len(&self) -> usize {
        let value: usize = self
            .value
            .bytes()
            .map(|b| if needs_escape(b) { 3 } else { 1 })
            .sum();
        let properties: usize = self.properties.iter().map(|p| 1 + p.len()).sum();
        self.key.len() + 1 + value + properties
    }
}

impl fmt::Display for Member {
    /// The member as it appears in the header, value percent-encoded.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)?;
        f.write_char('=')?;
        for b in self.value.bytes() {
            if needs_escape(b) {
                let hex = b"0123456789ABCDEF";
                for c in [b'%', hex[usize::from(b >> 4)], hex[usize::from(b & 0xf)]] {
                    f.write_char(char::from(c))?;
                }
            } else {
                f.write_char(char::from(b))?;
            }
        }
        for p in &self.properties {
            write!(f, ";{}", p.key)?;
            if let Some(value) = &p.value {
                write!(f, "={value}")?;
            }
        }
        Ok(())
    }
}

/// Parsed, valid baggage: its members in order.
///
/// ```
/// use cqrs_obs::propagation::baggage::Baggage;
///
/// let mut baggage = Baggage::new();
/// baggage.insert("userId", "alice")?;
/// assert_eq!(baggage.remove("userId").as_deref(), Some("alice"));
/// assert!(baggage.is_empty());
/// # Ok::<(), cqrs_obs::propagation::baggage::BaggageError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Baggage {
    members: Vec<Member>,
}

impl Baggage {
    /// Empty baggage.
    pub const fn new() -> Self {
        Self {
            members: Vec::new(),
        }
    }

    /// Parses a `baggage` value (see the [module docs](self) for the rules).
    ///
    /// ```
    /// use cqrs_obs::propagation::baggage::{Baggage, BaggageError};
    ///
    /// let baggage = Baggage::parse("key1=value1;property1;property2, key2 = value2")?;
    /// assert_eq!(baggage.len(), 2);
    /// assert_eq!(baggage.get("key2"), Some("value2"));
    /// assert_eq!(Baggage::parse("k=a b"), Err(BaggageError::InvalidValue { at: 3 }));
    /// # Ok::<(), BaggageError>(())
    /// ```
    pub fn parse(header: &str) -> Result<Self, BaggageError> {
        let trimmed = header.trim_matches(is_ows);
        if trimmed.len() > MAX_LEN {
            return Err(BaggageError::TooLong { len: trimmed.len() });
        }
        let mut members = Vec::new();
        for raw in trimmed.split(',') {
            let member = raw.trim_matches(is_ows);
            if member.is_empty() {
                continue;
            }
            if members.len() == MAX_MEMBERS {
                return Err(BaggageError::TooManyMembers);
            }
            members.push(parse_member(header, member)?);
        }
        let baggage = Self { members };
        // Re-encoding can lengthen a value (`%FF` decodes to U+FFFD, written `%EF%BF%BD`);
        // every `Baggage` formats within the limit.
        match baggage.header_len() {
            len if len > MAX_LEN => Err(BaggageError::TooLong { len }),
            _ => Ok(baggage),
        }
    }

    /// The value of the last member named `key`.
    ///
    /// ```
    /// use cqrs_obs::propagation::baggage::Baggage;
    ///
    /// let baggage = Baggage::parse("k=1,k=2")?;
    /// assert_eq!(baggage.get("k"), Some("2"));
    /// assert_eq!(baggage.get("K"), None);
    /// # Ok::<(), cqrs_obs::propagation::baggage::BaggageError>(())
    /// ```
    pub fn get(&self, key: &str) -> Option<&str> {
        self.member(key).map(Member::value)
    }

    /// The last member named `key`, with its properties.
    ///
    /// ```
    /// use cqrs_obs::propagation::baggage::Baggage;
    ///
    /// let baggage = Baggage::parse("k=1;p")?;
    /// assert_eq!(baggage.member("k").map(|m| m.properties().len()), Some(1));
    /// # Ok::<(), cqrs_obs::propagation::baggage::BaggageError>(())
    /// ```
    pub fn member(&self, key: &str) -> Option<&Member> {
        self.members.iter().rev().find(|m| m.key == key)
    }

    /// Sets `key` to `value` (any text; it is percent-encoded when formatted), replacing every
    /// member named `key`; the new member goes last. Fails, changing nothing, if `key` is not a
    /// token or the limits would be exceeded.
    ///
    /// ```
    /// use cqrs_obs::propagation::baggage::{Baggage, BaggageError};
    ///
    /// let mut baggage = Baggage::parse("a=1,b=2,a=3")?;
    /// baggage.insert("a", "x y")?;
    /// assert_eq!(baggage.to_string(), "b=2,a=x%20y");
    /// let err = baggage.insert("big", &"v".repeat(8192));
    /// assert!(matches!(err, Err(BaggageError::TooLong { .. })));
    /// # Ok::<(), BaggageError>(())
    /// ```
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), BaggageError> {
        self.insert_member(Member::new(key, value)?)
    }

    /// Adds `member`, replacing every member with its key; see [`insert`](Self::insert).
    ///
    /// ```
    /// use cqrs_obs::propagation::baggage::{Baggage, Member};
    ///
    /// let mut baggage = Baggage::new();
    /// baggage.insert_member(Member::new("k", "v")?.with_property("ttl", Some("30"))?)?;
    /// assert_eq!(baggage.to_string(), "k=v;ttl=30");
    /// # Ok::<(), cqrs_obs::propagation::baggage::BaggageError>(())
    /// ```
    pub fn insert_member(&mut self, member: Member) -> Result<(), BaggageError> {
        let kept = self.members.iter().filter(|m| m.key != member.key);
        let (count, len) = kept.fold((1, member.len()), |(n, len), m| (n + 1, len + 1 + m.len()));
        if count > MAX_MEMBERS {
            return Err(BaggageError::TooManyMembers);
        }
        if len > MAX_LEN {
            return Err(BaggageError::TooLong { len });
        }
        self.members.retain(|m| m.key != member.key);
        self.members.push(member);
        Ok(())
    }

    /// Removes every member named `key`, returning the value [`get`](Self::get) would have.
    ///
    /// ```
    /// use cqrs_obs::propagation::baggage::Baggage;
    ///
    /// let mut baggage = Baggage::parse("k=1,j=0,k=2")?;
    /// assert_eq!(baggage.remove("k").as_deref(), Some("2"));
    /// assert_eq!(baggage.to_string(), "j=0");
    /// # Ok::<(), cqrs_obs::propagation::baggage::BaggageError>(())
    /// ```
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let mut removed = None;
        self.members.retain_mut(|m| {
            let hit = m.key == key;
            if hit {
                removed = Some(std::mem::take(&mut m.value));
            }
            !hit
        });
        removed
    }

    /// The members, in order.
    ///
    /// ```
    /// use cqrs_obs::propagation::baggage::Baggage;
    ///
    /// let baggage = Baggage::parse("a=1,b=2")?;
    /// let keys: Vec<_> = baggage.iter().map(|m| m.key()).collect();
    /// assert_eq!(keys, ["a", "b"]);
    /// # Ok::<(), cqrs_obs::propagation::baggage::BaggageError>(())
    /// ```
    pub fn iter(&self) -> std::slice::Iter<'_, Member> {
        self.members.iter()
    }

    /// Number of members.
    ///
    /// ```
    /// use cqrs_obs::propagation::baggage::Baggage;
    /// assert_eq!(Baggage::parse("a=1,,b=2").map(|b| b.len()), Ok(2));
    /// ```
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are no members.
    ///
    /// ```
    /// use cqrs_obs::propagation::baggage::Baggage;
    /// assert!(Baggage::parse(" ").is_ok_and(|b| b.is_empty()));
    /// ```
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Length of the formatted header (`to_string().len()`), without formatting it.
    ///
    /// ```
    /// use cqrs_obs::propagation::baggage::Baggage;
    /// let baggage = Baggage::parse("a = x%20y , b=2")?;
    /// assert_eq!(baggage.header_len(), "a=x%20y,b=2".len());
    /// # Ok::<(), cqrs_obs::propagation::baggage::BaggageError>(())
    /// ```
    pub fn header_len(&self) -> usize {
        let members: usize = self.members.iter().map(Member::len).sum();
        members + self.members.len().saturating_sub(1)
    }
}

impl<'a> IntoIterator for &'a Baggage {
    type Item = &'a Member;
    type IntoIter = std::slice::Iter<'a, Member>;
    fn into_iter(self) -> Self::IntoIter {
        self.members.iter()
    }
}

impl FromStr for Baggage {
    type Err = BaggageError;

    /// Same as [`Baggage::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Baggage {
    /// The header value: members joined by `,`, values percent-encoded, no optional whitespace.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, member) in self.members.iter().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            fmt::Display::fmt(member, f)?;
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

/// RFC 7230 `token`: one or more `tchar`.
fn is_token(s: &str) -> bool {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    !s.is_empty() && s.bytes().all(tchar)
}

/// `%x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

fn needs_escape(b: u8) -> bool {
    b == b'%' || !is_baggage_octet(b)
}

fn parse_member(header: &str, member: &str) -> Result<Member, BaggageError> {
    let mut parts = member.split(';');
    let pair = parts.next().unwrap_or_default();
    let Some((key, value)) = pair.split_once('=') else {
        return Err(BaggageError::MissingEquals {
            at: offset(header, member),
        });
    };
    let key = key.trim_matches(is_ows);
    if !is_token(key) {
        return Err(BaggageError::InvalidKey {
            at: offset(header, key),
        });
    }
    let value = value.trim_matches(is_ows);
    let value = decode(value).map_err(|(i, percent)| {
        let at = offset(header, value) + i;
        if percent {
            BaggageError::InvalidPercentEncoding { at }
        } else {
            BaggageError::InvalidValue { at }
        }
    })?;
    let properties = parts
        .map(|p| parse_property(header, p))
        .collect::<Result<_, _>>()?;
    Ok(Member {
        key: key.to_owned(),
        value,
        properties,
    })
}

fn parse_property(header: &str, raw: &str) -> Result<Property, BaggageError> {
    let trimmed = raw.trim_matches(is_ows);
    let invalid = || BaggageError::InvalidProperty {
        at: offset(header, trimmed),
    };
    let (key, value) = match trimmed.split_once('=') {
        Some((key, value)) => (key.trim_matches(is_ows), Some(value.trim_matches(is_ows))),
        None => (trimmed, None),
    };
    if !is_token(key) || !value.is_none_or(|v| v.bytes().all(is_baggage_octet)) {
        return Err(invalid());
    }
    Ok(Property {
        key: key.to_owned(),
        value: value.map(str::to_owned),
    })
}

/// Percent-decodes a value; on error, the offset of the bad byte and whether it is a `%`.
fn decode(raw: &str) -> Result<String, (usize, bool)> {
    let bytes = raw.as_bytes();
    if let Some(i) = bytes.iter().position(|&b| !is_baggage_octet(b)) {
        return Err((i, false));
    }
    if !bytes.contains(&b'%') {
        return Ok(raw.to_owned());
    }
    let hex = |b: Option<&u8>| b.and_then(|&b| char::from(b).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'%' {
            out.push(b);
            i += 1;
            continue;
        }
        match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
            (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
            _ => return Err((i, true)),
        }
        i += 3;
    }
    Ok(String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use BaggageError as E;

    fn parse(s: &str) -> Result<Baggage, BaggageError> {
        Baggage::parse(s)
    }

    fn entries(b: &Baggage) -> Vec<(&str, &str)> {
        b.iter().map(|m| (m.key(), m.value())).collect()
    }

    #[test]
    fn spec_examples() {
        let b = parse("key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue")
            .unwrap();
        assert_eq!(
            entries(&b),
            [("key1", "value1"), ("key2", "value2"), ("key3", "value3")]
        );
        let props = b.member("key3").unwrap().properties();
        assert_eq!(
            (props[0].key(), props[0].value()),
            ("propertyKey", Some("propertyValue"))
        );
        assert_eq!(
            b.to_string(),
            "key1=value1;property1;property2,key2=value2,key3=value3;propertyKey=propertyValue"
        );
        let single = parse("userId=alice,serverNode=DF%2028,isProduction=false").unwrap();
        let spaced = parse("userId =   alice, serverNode = DF%2028, isProduction = false").unwrap();
        assert_eq!(single, spaced);
        assert_eq!(single.get("serverNode"), Some("DF 28"));
        assert_eq!(
            single.to_string(),
            "userId=alice,serverNode=DF%2028,isProduction=false"
        );
    }

    #[test]
    fn reference_test_cases() {
        let b = parse("SomeKey \t = \t SomeValue \t ; \t SomeProp \t , \t SomeKey2 \t = \t SomeValue2 \t ; \t ValueProp \t = \t PropVal").unwrap();
        assert_eq!(
            entries(&b),
            [("SomeKey", "SomeValue"), ("SomeKey2", "SomeValue2")]
        );
        let prop = &b.member("SomeKey2").unwrap().properties()[0];
        assert_eq!((prop.key(), prop.value()), ("ValueProp", Some("PropVal")));
        assert_eq!(
            parse("SomeKey=SomeValue=equals").unwrap().get("SomeKey"),
            Some("SomeValue=equals")
        );
        let encoded = "SomeKey=%09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29";
        let b = parse(encoded).unwrap();
        assert_eq!(b.get("SomeKey"), Some("\t \"';=asdf!@#$%^&*()"));
        assert_eq!(
            b.to_string(),
            "SomeKey=%09%20%22'%3B=asdf!@#$%25^&*()",
            "minimal encoding"
        );
        assert_eq!(parse(&b.to_string()), Ok(b));
    }

    #[test]
    fn empty_values_and_members() {
        assert_eq!(entries(&parse("k=").unwrap()), [("k", "")]);
        assert_eq!(entries(&parse("k= ;p").unwrap()), [("k", "")]);
        assert_eq!(
            entries(&parse(", a=1 ,, \t,b=2,").unwrap()),
            [("a", "1"), ("b", "2")]
        );
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn invalid_members_reject_the_header() {
        let cases = [
            ("k=a,b", E::MissingEquals { at: 4 }),
            ("=v", E::InvalidKey { at: 0 }),
            ("a b=v", E::InvalidKey { at: 0 }),
            ("a=1, k(=v", E::InvalidKey { at: 5 }),
            ("kü=v", E::InvalidKey { at: 0 }),
            ("k=a\"b", E::InvalidValue { at: 3 }),
            ("k=a\\b", E::InvalidValue { at: 3 }),
            ("k=ü", E::InvalidValue { at: 2 }),
            ("k = a\tb", E::InvalidValue { at: 5 }),
            ("k=100%", E::InvalidPercentEncoding { at: 5 }),
            ("k=%4", E::InvalidPercentEncoding { at: 2 }),
            ("k=%zz", E::InvalidPercentEncoding { at: 2 }),
            ("k=v;", E::InvalidProperty { at: 4 }),
            ("k=v; ;p", E::InvalidProperty { at: 4 }),
            ("k=v;p q", E::InvalidProperty { at: 4 }),
            ("k=v;p=a b", E::InvalidProperty { at: 4 }),
            ("k=v;=x", E::InvalidProperty { at: 4 }),
        ];
        for (header, err) in cases {
            assert_eq!(parse(header), Err(err), "{header:?}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(parse("k=%e2%82%ac%E2%82%AC").unwrap().get("k"), Some("€€"));
        assert_eq!(
            parse("k=%ff").unwrap().get("k"),
            Some("\u{fffd}"),
            "invalid UTF-8 is replaced"
        );
        let b = parse("k=%C3%A9;p=%20").unwrap();
        assert_eq!(
            b.member("k").unwrap().properties()[0].value(),
            Some("%20"),
            "properties are raw"
        );
        assert_eq!(b.to_string(), "k=%C3%A9;p=%20");
    }

    #[test]
    fn limits() {
        let members = |n: usize| {
            (0..n)
                .map(|i| format!("k{i}=v"))
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(parse(&members(180)).map(|b| b.len()), Ok(180));
        assert_eq!(parse(&members(181)), Err(E::TooManyMembers));
        let long = format!("a={}", "0123456789".repeat(819));
        assert_eq!(long.len(), 8192);
        assert_eq!(
            parse(&format!(" {long}\t")).map(|b| b.header_len()),
            Ok(8192)
        );
        assert_eq!(parse(&format!("{long}0")), Err(E::TooLong { len: 8193 }));
        let invalid_utf8 = format!("a={}", "%FF".repeat(2730));
        assert_eq!(
            parse(&invalid_utf8),
            Err(E::TooLong { len: 2 + 9 * 2730 }),
            "once re-encoded"
        );

        let mut b = parse(&members(180)).unwrap();
        assert_eq!(b.insert("one_more", "v"), Err(E::TooManyMembers));
        b.insert("k0", "replaced").unwrap();
        assert_eq!(
            (b.len(), b.iter().last().map(Member::value)),
            (180, Some("replaced"))
        );
        let mut b = Baggage::new();
        b.insert("a", &"0123456789".repeat(819)).unwrap();
        assert_eq!(b.insert("b", ""), Err(E::TooLong { len: 8195 }));
        assert_eq!(
            b.insert("a", &" ".repeat(2731)),
            Err(E::TooLong { len: 8195 }),
            "encoded size"
        );
        assert_eq!(b.header_len(), 8192);
    }

    #[test]
    fn duplicates_are_kept_and_the_last_wins() {
        let mut b = parse("k=1;p,j=0,k=2").unwrap();
        assert_eq!(b.to_string(), "k=1;p,j=0,k=2");
        assert_eq!(b.get("k"), Some("2"));
        b.insert("k", "3").unwrap();
        assert_eq!(b.to_string(), "j=0,k=3");
    }

    #[test]
    fn header_len_matches_display() {
        let mut b = parse("a=%20x;p;q=1,b=%E2%82%AC").unwrap();
        b.insert("c", "Zoë \"quoted\", 100%").unwrap();
        assert_eq!(b.header_len(), b.to_string().len());
        assert_eq!(parse(&b.to_string()).unwrap(), b);
    }
}
