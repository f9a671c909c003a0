//! The W3C Trace Context `traceparent` header: parsing and formatting without allocation.
//!
//! A version-`00` header is exactly 55 characters, `vv-<32 hex>-<16 hex>-<2 hex>`, in lowercase
//! hex only (`"4BF9…"` is invalid), with the dashes where the grammar puts them. Version `ff`
//! is forbidden, and an all-zero trace id or parent (span) id is invalid. A header of a later
//! version is read by the version-`00` rules on its first 55 characters; it must be exactly 55
//! characters or continue with a `-` at index 55, and whatever follows is ignored, as the
//! specification requires.
//!
//! Leading and trailing optional whitespace (`OWS`: spaces and horizontal tabs, RFC 7230 §3.2.3)
//! is tolerated: HTTP strips it from field values, and the W3C test suite sends it. Nothing else
//! is trimmed.
//!
//! Formatting always writes version `00`, the highest version this implementation knows, as the
//! specification requires of a version-`00` implementation that received a later version.
//!
//! ```
//! use cqrs_obs::propagation::traceparent::TraceParent;
//!
//! let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
//! let tp = TraceParent::parse(header)?;
//! assert!(tp.is_sampled());
//! assert_eq!(tp.to_header().as_str(), header);
//! # Ok::<(), cqrs_obs::propagation::traceparent::TraceParentError>(())
//! ```

use std::fmt;
use std::str::FromStr;

/// Name of the header (and of the event-metadata key) that carries the trace parent.
pub const HEADER: &str = "traceparent";

/// Length of a version-`00` `traceparent` value.
pub const HEADER_LEN: usize = 55;

/// Why a `traceparent` (or a trace id or span id) was rejected.
///
/// Positions are byte offsets into the string given to the parser, leading whitespace included.
///
/// ```
/// use cqrs_obs::propagation::traceparent::{TraceParent, TraceParentError};
///
/// let err = TraceParent::parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01");
/// assert_eq!(err, Err(TraceParentError::UppercaseHex { pos: 4 }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceParentError {
    /// The header does not have 55 characters (version `00`) or at least 55 (later versions).
    #[error("`traceparent` must be 55 characters long, found {found}")]
    Length {
        /// The length found, after trimming whitespace.
        found: usize,
    },
    /// The version is `ff`, which the specification forbids.
    #[error("`traceparent` version `ff` is forbidden")]
    ForbiddenVersion,
    /// A `-` is missing where the grammar puts one.
    #[error("`traceparent` needs a `-` at position {pos}")]
    Delimiter {
        /// Where the dash should be.
        pos: usize,
    },
    /// A character that is not a lowercase hex digit where one is required.
    #[error("`traceparent` has a non-hex character at position {pos}")]
    InvalidHex {
        /// Where the character is.
        pos: usize,
    },
    /// An uppercase hex digit: the specification allows lowercase only.
    #[error("`traceparent` has an uppercase hex digit at position {pos}; only lowercase is valid")]
    UppercaseHex {
        /// Where the digit is.
        pos: usize,
    },
    /// The trace id is all zeros.
    #[error("the trace id is all zeros")]
    ZeroTraceId,
    /// The parent (span) id is all zeros.
    #[error("the span id is all zeros")]
    ZeroSpanId,
    /// A standalone trace id or span id has the wrong number of hex digits.
    #[error("expected {expected} hex digits, found {found} characters")]
    IdLength {
        /// 32 for a trace id, 16 for a span id.
        expected: usize,
        /// The length found.
        found: usize,
    },
}

/// A 16-byte trace id; never all zeros.
///
/// ```
/// use cqrs_obs::propagation::traceparent::TraceId;
///
/// let id: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse()?;
/// assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(TraceId::new([0; 16]), None);
/// # Ok::<(), cqrs_obs::propagation::traceparent::TraceParentError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId([u8; 16]);

/// An 8-byte span id (the `parent-id` field of `traceparent`); never all zeros.
///
/// ```
/// use cqrs_obs::propagation::traceparent::SpanId;
///
/// let id = SpanId::new([0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]).unwrap();
/// assert_eq!(id.to_string(), "00f067aa0ba902b7");
/// assert_eq!("00f067aa0ba902b7".parse::<SpanId>(), Ok(id));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId([u8; 8]);

macro_rules! id_impls {
    ($ty:ident, $int:ty, $n:literal, $zero:ident) => {
        impl $ty {
            /// The id with these bytes, or `None` if they are all zero (an invalid id).
            pub const fn new(bytes: [u8; $n]) -> Option<Self> {
                if <$int>::from_ne_bytes(bytes) == 0 {
                    None
                } else {
                    Some(Self(bytes))
                }
            }

            /// The id's bytes, most significant first.
            pub const fn to_bytes(self) -> [u8; $n] {
                self.0
            }

            fn hex(self) -> [u8; 2 * $n] {
                let mut out = [0; 2 * $n];
                encode_hex(&self.0, &mut out);
                out
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(ascii(&self.hex()))
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($ty), "({})"), ascii(&self.hex()))
            }
        }

        impl FromStr for $ty {
            type Err = TraceParentError;

            /// Exactly the lowercase hex digits, not all zero.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let digits: &[u8; 2 * $n] =
                    s.as_bytes()
                        .try_into()
                        .map_err(|_| TraceParentError::IdLength {
                            expected: 2 * $n,
                            found: s.len(),
                        })?;
                let bytes = decode_hex::<$n, { 2 * $n }>(digits, 0)?;
                Self::new(bytes).ok_or(TraceParentError::$zero)
            }
        }
    };
}

id_impls!(TraceId, u128, 16, ZeroTraceId);
id_impls!(SpanId, u64, 8, ZeroSpanId);

/// The `trace-flags` byte. Bits this implementation does not define are kept as received.
///
/// ```
/// use cqrs_obs::propagation::traceparent::TraceFlags;
///
/// let flags = TraceFlags::SAMPLED | TraceFlags::RANDOM_TRACE_ID;
/// assert!(flags.is_sampled() && flags.is_random_trace_id());
/// assert_eq!(flags.bits(), 0x03);
/// assert!(!TraceFlags::default().is_sampled());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceFlags(u8);

impl TraceFlags {
    /// No flag set.
    pub const NONE: Self = Self(0);
    /// The caller may have recorded trace data (bit 0).
    pub const SAMPLED: Self = Self(0x01);
    /// At least the right-most 7 bytes of the trace id are random (bit 1, Trace Context Level 2).
    pub const RANDOM_TRACE_ID: Self = Self(0x02);
    /// The bits the specification defines.
    pub const KNOWN: Self = Self(0x03);

    /// Flags with exactly these bits.
    pub const fn new(bits: u8) -> Self {
        Self(bits)
    }

    /// The raw byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether the sampled bit is set.
    pub const fn is_sampled(self) -> bool {
        self.0 & Self::SAMPLED.0 != 0
    }

    /// Whether the random-trace-id bit is set.
    pub const fn is_random_trace_id(self) -> bool {
        self.0 & Self::RANDOM_TRACE_ID.0 != 0
    }

    /// These flags with the sampled bit set to `sampled`.
    pub const fn with_sampled(self, sampled: bool) -> Self {
        if sampled {
            Self(self.0 | Self::SAMPLED.0)
        } else {
            Self(self.0 & !Self::SAMPLED.0)
        }
    }
}

impl std::ops::BitOr for TraceFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl fmt::Debug for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceFlags({:02x})", self.0)
    }
}

/// A parsed `traceparent`: always valid, so formatting it always yields a valid header.
///
/// ```
/// use cqrs_obs::propagation::traceparent::{SpanId, TraceFlags, TraceId, TraceParent};
///
/// let trace = TraceId::new([7; 16]).unwrap();
/// let span = SpanId::new([9; 8]).unwrap();
/// let tp = TraceParent::new(trace, span, TraceFlags::SAMPLED);
/// assert_eq!(
///     tp.to_string(),
///     "00-07070707070707070707070707070707-0909090909090909-01"
/// );
/// assert_eq!(tp.to_string().parse::<TraceParent>(), Ok(tp));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    version: u8,
    trace_id: TraceId,
    span_id: SpanId,
    flags: TraceFlags,
}

impl TraceParent {
    /// A version-`00` trace parent.
    pub const fn new(trace_id: TraceId, span_id: SpanId, flags: TraceFlags) -> Self {
        Self {
            version: 0,
            trace_id,
            span_id,
            flags,
        }
    }

    /// Parses a `traceparent` value (see the [module docs](self) for the rules).
    ///
    /// A later version keeps only the flag bits this implementation defines
    /// ([`TraceFlags::KNOWN`]), since it will be formatted as version `00`.
    ///
    /// ```
    /// use cqrs_obs::propagation::traceparent::{TraceParent, TraceParentError};
    ///
    /// let future = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later-fields";
    /// let tp = TraceParent::parse(future)?;
    /// assert_eq!(tp.version(), 0xcc);
    /// assert_eq!(tp.to_string(), future[..55].replacen("cc", "00", 1));
    ///
    /// assert_eq!(TraceParent::parse("00-1-2-01"), Err(TraceParentError::Length { found: 9 }));
    /// # Ok::<(), TraceParentError>(())
    /// ```
    #[inline]
    pub fn parse(header: &str) -> Result<Self, TraceParentError> {
        let bytes = header.as_bytes();
        let start = bytes
            .iter()
            .position(|&b| !is_ows(b))
            .unwrap_or(bytes.len());
        let end = bytes
            .iter()
            .rposition(|&b| !is_ows(b))
            .map_or(start, |i| i + 1);
        let s = &bytes[start..end];
        let Some(head) = s.first_chunk::<HEADER_LEN>() else {
            return Err(TraceParentError::Length { found: s.len() });
        };
        let [version] = decode_hex::<1, 2>(&[head[0], head[1]], start)?;
        if version == 0xff {
            return Err(TraceParentError::ForbiddenVersion);
        }
        if version == 0 && s.len() != HEADER_LEN {
            return Err(TraceParentError::Length { found: s.len() });
        }
        for pos in [2, 35, 52, 55] {
            if s.get(pos).is_some_and(|&b| b != b'-') {
                return Err(TraceParentError::Delimiter { pos: start + pos });
            }
        }
        let trace: &[u8; 32] = head[3..35].try_into().unwrap_or(&[0; 32]);
        let span: &[u8; 16] = head[36..52].try_into().unwrap_or(&[0; 16]);
        let trace_id = TraceId::new(decode_hex(trace, start + 3)?);
        let span_id = SpanId::new(decode_hex(span, start + 36)?);
        let [mut flags] = decode_hex::<1, 2>(&[head[53], head[54]], start + 53)?;
        if version != 0 {
            flags &= TraceFlags::KNOWN.0;
        }
        let trace_id = trace_id.ok_or(TraceParentError::ZeroTraceId)?;
        let span_id = span_id.ok_or(TraceParentError::ZeroSpanId)?;
        Ok(Self {
            version,
            trace_id,
            span_id,
            flags: TraceFlags(flags),
        })
    }

    /// The version the header was received with (`0` for one made with [`new`](Self::new)).
    pub const fn version(&self) -> u8 {
        self.version
    }

    /// The trace id.
    pub const fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The parent id: the caller's span id.
    pub const fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The trace flags.
    pub const fn flags(&self) -> TraceFlags {
        self.flags
    }

    /// Whether the caller may have recorded trace data.
    pub const fn is_sampled(&self) -> bool {
        self.flags.is_sampled()
    }

    /// The trace parent to send downstream from the span `span_id` of the same trace: version
    /// `00`, the same trace id and the defined flag bits; undefined bits are cleared, as the
    /// specification requires of a sender.
    ///
    /// ```
    /// use cqrs_obs::propagation::traceparent::{SpanId, TraceParent};
    ///
    /// let parent = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09")?;
    /// let child = parent.child(SpanId::new([1; 8]).unwrap());
    /// assert_eq!(child.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-0101010101010101-01");
    /// # Ok::<(), cqrs_obs::propagation::traceparent::TraceParentError>(())
    /// ```
    pub const fn child(&self, span_id: SpanId) -> Self {
        let flags = TraceFlags(self.flags.0 & TraceFlags::KNOWN.0);
        Self {
            version: 0,
            trace_id: self.trace_id,
            span_id,
            flags,
        }
    }

    /// Writes the version-`00` header into `out` (no allocation).
    ///
    /// ```
    /// use cqrs_obs::propagation::traceparent::{TraceParent, HEADER_LEN};
    ///
    /// let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00".parse()?;
    /// let mut buf = [0u8; HEADER_LEN];
    /// tp.write_to(&mut buf);
    /// assert_eq!(&buf[..3], b"00-");
    /// # Ok::<(), cqrs_obs::propagation::traceparent::TraceParentError>(())
    /// ```
    #[inline]
    pub fn write_to(&self, out: &mut [u8; HEADER_LEN]) {
        let (version, rest) = out.split_at_mut(3);
        version.copy_from_slice(b"00-");
        let (trace, rest) = rest.split_at_mut(32);
        encode_hex(&self.trace_id.0, trace);
        let (dash, rest) = rest.split_at_mut(1);
        dash[0] = b'-';
        let (span, rest) = rest.split_at_mut(16);
        encode_hex(&self.span_id.0, span);
        let (dash, flags) = rest.split_at_mut(1);
        dash[0] = b'-';
        encode_hex(&[self.flags.0], flags);
    }

    /// The version-`00` header in a stack buffer (no allocation).
    ///
    /// ```
    /// use cqrs_obs::propagation::traceparent::TraceParent;
    ///
    /// let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?;
    /// let header = tp.to_header();
    /// assert_eq!(&*header, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    /// # Ok::<(), cqrs_obs::propagation::traceparent::TraceParentError>(())
    /// ```
    pub fn to_header(&self) -> TraceParentHeader {
        let mut out = [0; HEADER_LEN];
        self.write_to(&mut out);
        TraceParentHeader(out)
    }
}

impl FromStr for TraceParent {
    type Err = TraceParentError;

    /// Same as [`TraceParent::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.to_header().as_str())
    }
}

/// A formatted `traceparent` held on the stack; dereferences to `&str`.
///
/// ```
/// use cqrs_obs::propagation::traceparent::TraceParent;
///
/// let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?;
/// let header = tp.to_header();
/// assert_eq!(header.len(), 55);
/// assert_eq!(header.as_bytes()[2], b'-');
/// # Ok::<(), cqrs_obs::propagation::traceparent::TraceParentError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParentHeader([u8; HEADER_LEN]);

impl TraceParentHeader {
    /// The header as text.
    pub fn as_str(&self) -> &str {
        ascii(&self.0)
    }
}

impl std::ops::Deref for TraceParentHeader {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for TraceParentHeader {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for TraceParentHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for TraceParentHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Text of a buffer this module filled with ASCII; never fails in practice.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// Value of each byte as a lowercase hex digit, or `INVALID`.
const INVALID: u8 = 0xff;
static HEX_VALUE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Decodes `D = 2 * N` lowercase hex digits; `base` is the position of `digits[0]` for errors.
/// Ids go 8 digits at a time through [`decode8`]; short fields through the table.
#[inline]
fn decode_hex<const N: usize, const D: usize>(
    digits: &[u8; D],
    base: usize,
) -> Result<[u8; N], TraceParentError> {
    let mut out = [0; N];
    let mut valid = true;
    if N.is_multiple_of(4) {
        for (bytes, chunk) in out
            .as_chunks_mut::<4>()
            .0
            .iter_mut()
            .zip(digits.as_chunks::<8>().0)
        {
            let (value, ok) = decode8(u64::from_be_bytes(*chunk));
            *bytes = value.to_be_bytes();
            valid &= ok;
        }
    } else {
        let mut invalid = 0;
        for (byte, pair) in out.iter_mut().zip(digits.as_chunks::<2>().0) {
            let (hi, lo) = (
                HEX_VALUE[usize::from(pair[0])],
                HEX_VALUE[usize::from(pair[1])],
            );
            invalid |= hi | lo;
            *byte = (hi << 4) | (lo & 0x0f);
        }
        valid = invalid & 0xf0 == 0;
    }
    if valid {
        return Ok(out);
    }
    let at = digits
        .iter()
        .position(|&b| HEX_VALUE[usize::from(b)] == INVALID)
        .unwrap_or(0);
    let pos = base + at;
    Err(
        if digits[at].is_ascii_uppercase() && digits[at].is_ascii_hexdigit() {
            TraceParentError::UppercaseHex { pos }
        } else {
            TraceParentError::InvalidHex { pos }
        },
    )
}

/// 32 lowercase hex digits of a 128-bit id (what [`Id`](crate::context::Id)s print as).
#[inline]
pub(crate) fn encode_id(id: u128) -> [u8; 32] {
    let mut out = [0; 32];
    encode_hex(&id.to_be_bytes(), &mut out);
    out
}

/// The 128-bit id written as exactly 32 lowercase hex digits, if `digits` is one.
#[inline]
pub(crate) fn decode_id(digits: &[u8]) -> Option<u128> {
    let digits: &[u8; 32] = digits.try_into().ok()?;
    decode_hex::<16, 32>(digits, 0)
        .ok()
        .map(u128::from_be_bytes)
}

#[inline]
fn encode_hex(bytes: &[u8], out: &mut [u8]) {
    if bytes.len().is_multiple_of(4) {
        for (chunk, hex) in bytes
            .as_chunks::<4>()
            .0
            .iter()
            .zip(out.as_chunks_mut::<8>().0)
        {
            *hex = encode8(u32::from_be_bytes(*chunk)).to_be_bytes();
        }
        return;
    }
    for (byte, pair) in bytes.iter().zip(out.as_chunks_mut::<2>().0) {
        pair[0] = HEX_DIGITS[usize::from(byte >> 4)];
        pair[1] = HEX_DIGITS[usize::from(byte & 0x0f)];
    }
}

/// `0x0101…01`: one in every byte lane.
const LANES: u64 = u64::from_ne_bytes([1; 8]);
/// The high bit of every byte lane.
const HIGH: u64 = LANES * 0x80;

/// Eight ASCII digits (big-endian in `x`) to four bytes, and whether all were lowercase hex.
///
/// SWAR: with every byte below `0x80`, adding `0x80 - c` to a byte sets its high bit exactly
/// when the byte is `>= c`, and no lane carries into the next.
#[inline]
fn decode8(x: u64) -> (u32, bool) {
    let at_least = |c: u64| x.wrapping_add(LANES * (0x80 - c));
    let digit = at_least(0x30) & !at_least(0x3a);
    let a_to_f = at_least(0x61) & !at_least(0x67);
    let valid = x & HIGH == 0 && (digit | a_to_f) & HIGH == HIGH;
    // '0'..='9' & 0x0f is the value; 'a'..='f' & 0x0f is the value - 9.
    let nibbles = (x & (LANES * 0x0f)) + ((a_to_f & HIGH) >> 7) * 9;
    let pairs = (nibbles | (nibbles >> 4)) & 0x00ff_00ff_00ff_00ff;
    let quads = (pairs | (pairs >> 8)) & 0x0000_ffff_0000_ffff;
    (((quads | (quads >> 16)) & 0xffff_ffff) as u32, valid)
}

/// Four bytes to eight lowercase hex digits (big-endian in the result).
#[inline]
fn encode8(bytes: u32) -> u64 {
    let x = u64::from(bytes);
    let x = ((x << 16) | x) & 0x0000_ffff_0000_ffff;
    let x = ((x << 8) | x) & 0x00ff_00ff_00ff_00ff;
    let nibbles = ((x << 4) | x) & (LANES * 0x0f);
    let letters = ((nibbles + LANES * 6) >> 4) & LANES; // 1 where the nibble is 10..=15
    nibbles + LANES * u64::from(b'0') + letters * u64::from(b'a' - b'0' - 10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TraceParentError as E;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const SUITE: &str = "00-12345678901234567890123456789012-1234567890123456-01";

    fn parse(s: &str) -> Result<TraceParent, TraceParentError> {
        TraceParent::parse(s)
    }

    #[test]
    fn spec_examples_round_trip() {
        for header in [
            VALID,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            SUITE,
        ] {
            let tp = parse(header).unwrap();
            assert_eq!(tp.to_string(), header);
            assert_eq!(tp.to_header().as_str(), header);
        }
        let tp = parse(VALID).unwrap();
        assert_eq!(tp.version(), 0);
        assert_eq!(
            tp.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(tp.span_id().to_string(), "00f067aa0ba902b7");
        assert_eq!(
            tp.span_id().to_bytes(),
            [0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
        );
        assert!(tp.is_sampled());
        assert!(!parse(&VALID.replace("-01", "-00")).unwrap().is_sampled());
    }

    #[test]
    fn the_header_opentelemetry_accepts_is_rejected() {
        assert_eq!(parse("00-1-2-01"), Err(E::Length { found: 9 }));
    }

    #[test]
    fn version_00_is_exactly_55_characters() {
        assert_eq!(parse(&format!("{SUITE}.")), Err(E::Length { found: 56 }));
        let future_fields = format!("{SUITE}-what-the-future-will-be-like");
        assert_eq!(
            parse(&future_fields),
            Err(E::Length {
                found: future_fields.len()
            })
        );
        assert_eq!(parse(&SUITE[..54]), Err(E::Length { found: 54 }));
        assert_eq!(parse(""), Err(E::Length { found: 0 }));
    }

    #[test]
    fn later_versions_read_the_first_55_characters() {
        let cc = SUITE.replacen("00", "cc", 1);
        let tp = parse(&cc).unwrap();
        assert_eq!(
            (tp.version(), tp.trace_id()),
            (0xcc, parse(SUITE).unwrap().trace_id())
        );
        assert_eq!(tp.to_string(), SUITE, "formatted as version 00");
        assert!(parse(&format!("{cc}-what-the-future-will-be-like")).is_ok());
        assert_eq!(
            parse(&format!("{cc}.what-the-future-will-be-like")),
            Err(E::Delimiter { pos: 55 })
        );
        assert_eq!(parse(&cc[..54]), Err(E::Length { found: 54 }));
        // Undefined flag bits of a later version are not carried into version 00.
        let flags = parse(&cc.replace("-01", "-ff")).unwrap().flags();
        assert_eq!(flags, TraceFlags::KNOWN);
        // A later version still needs lowercase hex and valid ids.
        assert_eq!(
            parse(&cc.replacen('1', "A", 1)),
            Err(E::UppercaseHex { pos: 3 })
        );
    }

    #[test]
    fn version_rules() {
        assert_eq!(
            parse(&SUITE.replacen("00", "ff", 1)),
            Err(E::ForbiddenVersion)
        );
        assert_eq!(
            parse(&SUITE.replacen("00", ".0", 1)),
            Err(E::InvalidHex { pos: 0 })
        );
        assert_eq!(
            parse(&SUITE.replacen("00", "0.", 1)),
            Err(E::InvalidHex { pos: 1 })
        );
        assert_eq!(
            parse(&SUITE.replacen("00", "0A", 1)),
            Err(E::UppercaseHex { pos: 1 })
        );
        // Too long / too short versions shift the delimiters.
        assert_eq!(parse(&format!("0{SUITE}")), Err(E::Length { found: 56 }));
        let version_0cc = format!("0{}", SUITE.replacen("00", "cc", 1));
        assert_eq!(parse(&version_0cc), Err(E::Delimiter { pos: 2 }));
        assert_eq!(parse(&SUITE[1..]), Err(E::Length { found: 54 }));
    }

    #[test]
    fn ids_and_flags() {
        let zero_trace = "00-00000000000000000000000000000000-1234567890123456-01";
        assert_eq!(parse(zero_trace), Err(E::ZeroTraceId));
        let zero_span = "00-12345678901234567890123456789012-0000000000000000-01";
        assert_eq!(parse(zero_span), Err(E::ZeroSpanId));
        let cases = [
            (
                "00-.2345678901234567890123456789012-1234567890123456-01",
                E::InvalidHex { pos: 3 },
            ),
            (
                "00-1234567890123456789012345678901.-1234567890123456-01",
                E::InvalidHex { pos: 34 },
            ),
            (
                "00-12345678901234567890123456789012-.234567890123456-01",
                E::InvalidHex { pos: 36 },
            ),
            (
                "00-12345678901234567890123456789012-123456789012345.-01",
                E::InvalidHex { pos: 51 },
            ),
            (
                "00-12345678901234567890123456789012-1234567890123456-.0",
                E::InvalidHex { pos: 53 },
            ),
            (
                "00-12345678901234567890123456789012-1234567890123456-0.",
                E::InvalidHex { pos: 54 },
            ),
            (
                "00-12345678901234567890123456789012-1234567890123456-0F",
                E::UppercaseHex { pos: 54 },
            ),
            (
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                E::UppercaseHex { pos: 4 },
            ),
            (
                "00_12345678901234567890123456789012-1234567890123456-01",
                E::Delimiter { pos: 2 },
            ),
            (
                "00-12345678901234567890123456789012_1234567890123456-01",
                E::Delimiter { pos: 35 },
            ),
            (
                "00-12345678901234567890123456789012-1234567890123456_01",
                E::Delimiter { pos: 52 },
            ),
        ];
        for (header, err) in cases {
            assert_eq!(parse(header), Err(err), "{header}");
        }
        // Wrong field lengths at the right total length move a dash.
        let long_trace = "00-123456789012345678901234567890123-234567890123456-01";
        assert_eq!(parse(long_trace), Err(E::Delimiter { pos: 35 }));
        let long_flags = "00-12345678901234567890123456789012-1234567890123456-001";
        assert_eq!(parse(long_flags), Err(E::Length { found: 56 }));
        let short_flags = "00-12345678901234567890123456789012-1234567890123456-1";
        assert_eq!(parse(short_flags), Err(E::Length { found: 54 }));
    }

    #[test]
    fn undefined_flags_are_kept_on_read_and_cleared_for_a_child() {
        let tp = parse(&SUITE.replace("-01", "-ff")).unwrap();
        assert_eq!(tp.flags().bits(), 0xff);
        assert_eq!(tp.to_string(), SUITE.replace("-01", "-ff"));
        let child = tp.child(SpanId::new([1; 8]).unwrap());
        assert_eq!(child.flags(), TraceFlags::KNOWN);
        assert_eq!((child.version(), child.trace_id()), (0, tp.trace_id()));
    }

    #[test]
    fn surrounding_ows_is_tolerated_and_nothing_else() {
        for header in [" {}", "\t{}", "{} ", "{}\t", "\t {} \t"] {
            let header = header.replace("{}", SUITE);
            assert_eq!(parse(&header).unwrap().to_string(), SUITE, "{header:?}");
        }
        assert_eq!(
            parse(&format!("  {}", &SUITE[..3])),
            Err(E::Length { found: 3 })
        );
        assert_eq!(parse(&format!("{SUITE}\n")), Err(E::Length { found: 56 }));
        assert_eq!(
            parse(&format!(" {}", SUITE.replacen('1', "x", 1))),
            Err(E::InvalidHex { pos: 4 })
        );
        assert_eq!(parse(" \t "), Err(E::Length { found: 0 }));
    }

    #[test]
    fn non_ascii_input_is_an_error_not_a_panic() {
        let with_multibyte = SUITE.replacen("12", "é", 1);
        assert_eq!(parse(&with_multibyte), Err(E::InvalidHex { pos: 3 }));
        assert!(parse("cc-12345678901234567890123456789012-1234567890123456-01-ü").is_ok());
        let header = "cc-12345678901234567890123456789012-1234567890123456-0ü";
        assert_eq!(parse(header), Err(E::Delimiter { pos: 55 }));
        let header = "00-12345678901234567890123456789012-1234567890123456-ü";
        assert_eq!(parse(header), Err(E::InvalidHex { pos: 53 }));
        assert!(parse("€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€").is_err());
    }

    #[test]
    fn ids_from_str() {
        let trace: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
        assert_eq!(trace, parse(VALID).unwrap().trace_id());
        assert_eq!(
            format!("{trace:?}"),
            "TraceId(4bf92f3577b34da6a3ce929d0e0e4736)"
        );
        assert_eq!(format!("{trace:>34}"), "  4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            "abc".parse::<TraceId>(),
            Err(E::IdLength {
                expected: 32,
                found: 3
            })
        );
        assert_eq!("0".repeat(32).parse::<TraceId>(), Err(E::ZeroTraceId));
        assert_eq!("0".repeat(16).parse::<SpanId>(), Err(E::ZeroSpanId));
        assert_eq!(
            "00F067AA0BA902B7".parse::<SpanId>(),
            Err(E::UppercaseHex { pos: 2 })
        );
        assert_eq!(
            "é".repeat(8).parse::<SpanId>(),
            Err(E::InvalidHex { pos: 0 })
        );
        assert_eq!(SpanId::new([0; 8]), None);
    }

    #[test]
    fn swar_hex_agrees_with_the_table_for_every_byte() {
        for b in 0..=255u8 {
            let digits = [b'7', b, b'0', b'a', b'f', b'9', b, b'1'];
            let (_, valid) = decode8(u64::from_be_bytes(digits));
            assert_eq!(valid, HEX_VALUE[usize::from(b)] != INVALID, "byte {b:#04x}");
            let word = u32::from_be_bytes([b, 0x0f, 0xa0, b.wrapping_mul(7)]);
            let hex = encode8(word).to_be_bytes();
            assert_eq!(ascii(&hex), format!("{word:08x}"));
            assert_eq!(decode8(u64::from_be_bytes(hex)), (word, true));
        }
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            E::UppercaseHex { pos: 3 }.to_string(),
            "`traceparent` has an uppercase hex digit at position 3; only lowercase is valid"
        );
        assert_eq!(
            E::Length { found: 9 }.to_string(),
            "`traceparent` must be 55 characters long, found 9"
        );
    }
}
