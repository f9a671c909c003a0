//! Timestamps in nanoseconds since the Unix epoch, their RFC 3339 form, and durations such as
//! `1h` (the admin query parameters and the retention settings).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time: nanoseconds since the Unix epoch (UTC). Its text form is RFC 3339 with
/// nanoseconds, such as `2026-11-27T06:01:02.345678901Z`.
///
/// ```
/// use cqrs_obs::logs::Timestamp;
/// let t: Timestamp = "2026-11-27T06:01:02.5Z".parse().unwrap();
/// assert_eq!(t.to_string(), "2026-11-27T06:01:02.500000000Z");
/// assert_eq!("2026-11-27T07:01:02.5+01:00".parse::<Timestamp>(), Ok(t));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Now, from the system clock.
    #[inline]
    pub fn now() -> Timestamp {
        Timestamp::from(SystemTime::now())
    }

    /// Nanoseconds since the epoch.
    pub const fn nanos(self) -> u64 {
        self.0
    }

    /// This time minus `d` (saturating at the epoch).
    pub fn minus(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_sub(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        )
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Timestamp {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = (self.0 / 1_000_000_000) as i64;
        let nanos = self.0 % 1_000_000_000;
        let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
        let rem = secs.rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )
    }
}

/// A malformed time or duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid time `{0}`: expected RFC 3339 such as `2026-11-27T06:01:02Z` or a duration such as `15m`, `1h`, `7d`")]
pub struct TimeError(pub String);

impl std::str::FromStr for Timestamp {
    type Err = TimeError;

    /// RFC 3339: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (`t` and a space also separate).
    fn from_str(s: &str) -> Result<Timestamp, TimeError> {
        parse_rfc3339(s.trim()).ok_or_else(|| TimeError(s.to_owned()))
    }
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    // RFC 3339 is ASCII; checking it first keeps the slicing below on character boundaries.
    if !s.is_ascii()
        || b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
    {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(&s[0..4])?, num(&s[5..7])?, num(&s[8..10])?);
    let (h, mi, sec) = (num(&s[11..13])?, num(&s[14..16])?, num(&s[17..19])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos = 0u64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = u64::from(num(&frac[..digits])?) * 10u64.pow(9 - digits as u32);
        rest = &frac[digits..];
    }
    let offset: i64 = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (oh, om) = (num(&rest[1..3])?, num(&rest[4..6])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = i64::from(oh * 3600 + om * 60);
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(y), mo, d);
    let secs = days * 86_400 + i64::from(h * 3600 + mi * 60 + sec.min(59)) - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(Timestamp(
        secs.checked_mul(1_000_000_000)?.checked_add(nanos)?,
    ))
}

/// Parses a duration such as `500ms`, `30s`, `15m`, `1h`, `7d` (one number, one unit).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(cqrs_obs::logs::parse_duration("90m"), Some(Duration::from_secs(5400)));
/// assert_eq!(cqrs_obs::logs::parse_duration("1 week"), None);
/// ```
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let n: u64 = num(&s[..split])
        .map(u64::from)
        .or_else(|| s[..split].parse().ok())?;
    let unit = match &s[split..] {
        "ms" => Duration::from_millis(1),
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        "d" => Duration::from_secs(86_400),
        _ => return None,
    };
    unit.checked_mul(u32::try_from(n).ok()?)
}

/// A time given as RFC 3339 or as a duration before `now` (`1h` = one hour ago).
pub(crate) fn parse_time_or_ago(s: &str, now: Timestamp) -> Result<Timestamp, TimeError> {
    if let Some(d) = parse_duration(s) {
        return Ok(now.minus(d));
    }
    s.parse()
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_instants() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000000000Z");
        let t: Timestamp = "2000-02-29T23:59:59.123Z".parse().unwrap();
        assert_eq!(t.0, 951_868_799_123_000_000);
        for bad in [
            "2000-13-01T00:00:00Z",
            "2000-01-01T00:00:00",
            "2000-01-01",
            "x",
            "2000-01-01T00:00:00.Z",
            // Found by the admin_query fuzz target: a multi-byte character where a digit goes.
            "2026-11-27T10:00:0\u{fffd}Z",
            "2026-11-27T10:00:00+0\u{e9}:00",
            "2026-11-27T1\u{e9}:00:00Z",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
        let now = Timestamp(10_000_000_000_000);
        assert_eq!(
            parse_time_or_ago("1s", now),
            Ok(Timestamp(9_999_000_000_000))
        );
    }

    proptest! {
        #[test]
        fn display_and_parse_round_trip(n in 0u64..4_000_000_000_000_000_000) {
            let t = Timestamp(n);
            prop_assert_eq!(t.to_string().parse::<Timestamp>(), Ok(t));
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<Timestamp>();
            let _ = parse_duration(&s);
        }

        #[test]
        fn a_timestamp_with_any_character_replaced_never_panics(
            at in 0usize..25,
            c in any::<char>(),
        ) {
            let mut s: Vec<char> = "2026-11-27T10:00:00+01:00".chars().collect();
            s[at] = c;
            let s: String = s.into_iter().collect();
            let _ = s.parse::<Timestamp>();
        }

        #[test]
        fn durations_parse(n in 0u32..100_000, unit in prop::sample::select(vec!["ms", "s", "m", "h", "d"])) {
            let d = parse_duration(&format!("{n}{unit}")).unwrap();
            let per = match unit { "ms" => 1, "s" => 1000, "m" => 60_000, "h" => 3_600_000, _ => 86_400_000u128 };
            prop_assert_eq!(d.as_millis(), u128::from(n) * per);
        }
    }
}
