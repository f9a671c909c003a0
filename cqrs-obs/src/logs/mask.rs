//! Masking of sensitive values before an entry leaves the application thread's hands: fields
//! with sensitive names, `name=value` / `name: value` pairs and bearer tokens inside text, and
//! card numbers (13 to 19 digits passing the Luhn check) anywhere.

use std::borrow::Cow;

use super::entry::{FieldValue, LogEntry};

/// What replaces a masked value.
pub const MASK: &str = "***";

/// The names masked by default (matched case-insensitively anywhere in a field name, with `-`,
/// `.` and spaces read as `_`).
pub const DEFAULT_SENSITIVE: [&str; 8] = [
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "api_key",
    "apikey",
    "credential",
];

/// Masks sensitive values in entries and text.
///
/// ```
/// use cqrs_obs::logs::Masker;
/// let m = Masker::new(["pin"]);
/// assert!(m.is_sensitive("X-Api-Key"));
/// assert!(m.is_sensitive("card_pin"));
/// assert_eq!(m.mask_text("login password=hunter2 ok"), "login password=*** ok");
/// assert_eq!(m.mask_text("paid with 4111 1111 1111 1111"), "paid with ****1111");
/// ```
#[derive(Debug, Clone)]
pub struct Masker {
    names: Vec<String>,
    /// Lowercase first bytes of the names and of `bearer`: a scan compares names only there.
    first: [bool; 256],
}

impl Default for Masker {
    fn default() -> Self {
        Masker::new(std::iter::empty::<String>())
    }
}

fn normalise(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| match c {
            '-' | '.' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

impl Masker {
    /// The default names plus `extra`.
    pub fn new<S: AsRef<str>>(extra: impl IntoIterator<Item = S>) -> Masker {
        let mut names: Vec<String> = DEFAULT_SENSITIVE.iter().map(|s| (*s).to_owned()).collect();
        for name in extra {
            let name = normalise(name.as_ref());
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
        let mut first = [false; 256];
        for name in names.iter().map(String::as_str).chain([BEARER]) {
            if let Some(&b) = name.as_bytes().first() {
                first[usize::from(b)] = true;
            }
        }
        Masker { names, first }
    }

    /// Whether a field with this name holds a sensitive value.
    pub fn is_sensitive(&self, field: &str) -> bool {
        let b = field.as_bytes();
        (0..b.len()).any(|i| {
            self.first[usize::from(b[i].to_ascii_lowercase())]
                && self.names.iter().any(|n| matches_at(b, i, n.as_bytes()))
        })
    }

    /// Masks every sensitive part of an entry: message, fields (by name and by content),
    /// aggregate id, error message and chain.
    pub fn mask_entry(&self, entry: &mut LogEntry) {
        mask_string(self, &mut entry.message);
        for (key, value) in &mut entry.fields {
            if self.is_sensitive(key) {
                *value = FieldValue::Str(MASK.to_owned());
            } else if let FieldValue::Str(s) = value {
                mask_string(self, s);
            } else if let FieldValue::U64(_) | FieldValue::I64(_) = value {
                let text = value.to_string();
                if let Cow::Owned(masked) = self.mask_text(&text) {
                    *value = FieldValue::Str(masked);
                }
            }
        }
        if let Some(id) = &mut entry.aggregate_id {
            mask_string(self, id);
        }
        if let Some(error) = &mut entry.error {
            mask_string(self, &mut error.message);
            for cause in &mut error.chain {
                mask_string(self, cause);
            }
        }
    }

    /// Masks `name=value` and `name: value` pairs with sensitive names, bearer tokens and card
    /// numbers inside free text. Borrows when there is nothing to mask.
    pub fn mask_text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let pairs = self.mask_pairs(text);
        match mask_cards(&pairs) {
            Cow::Borrowed(_) => pairs,
            Cow::Owned(s) => Cow::Owned(s),
        }
    }

    fn mask_pairs<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let bytes = text.as_bytes();
        // Value spans to replace, in order, not overlapping (no allocation until one is found).
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for i in 0..bytes.len() {
            if !self.first[usize::from(bytes[i].to_ascii_lowercase())] {
                continue;
            }
            let names = self.names.iter().map(String::as_str).chain([BEARER]);
            for name in names {
                if matches_at(bytes, i, name.as_bytes()) {
                    if let Some(span) = value_after(bytes, i + name.len(), name == BEARER) {
                        spans.push(span);
                    }
                }
            }
        }
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        spans.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end) in spans {
            if start < at {
                continue;
            }
            out.push_str(&text[at..start]);
            out.push_str(MASK);
            at = end;
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    }
}

const BEARER: &str = "bearer";

/// Whether `name` (lowercase, `_` for separators) occurs at `i` in `text`, case-insensitively,
/// reading `-` and `.` as `_`.
#[inline]
fn matches_at(text: &[u8], i: usize, name: &[u8]) -> bool {
    text.len() - i >= name.len()
        && name.iter().zip(&text[i..]).all(|(&n, &t)| {
            let t = t.to_ascii_lowercase();
            n == t || (n == b'_' && matches!(t, b'-' | b'.' | b' '))
        })
}

fn mask_string(masker: &Masker, s: &mut String) {
    if let Cow::Owned(masked) = masker.mask_text(s) {
        *s = masked;
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'
}

fn is_value_end(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b',' | b';' | b'&' | b')' | b'}' | b']')
}

/// The span of the value following a sensitive name at `i`: `name[_suffix] ["'] ws (=|:) ws
/// ["'] value`, or for `bearer` a space then the token. Skips an auth scheme word.
fn value_after(b: &[u8], mut i: usize, bearer: bool) -> Option<(usize, usize)> {
    let skip_ws = |mut i: usize| {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        i
    };
    if bearer {
        if b.get(i) != Some(&b' ') {
            return None;
        }
        i = skip_ws(i);
    } else {
        while i < b.len() && is_name_byte(b[i]) {
            i += 1;
        }
        if matches!(b.get(i), Some(b'"' | b'\'')) {
            i += 1;
        }
        i = skip_ws(i);
        if !matches!(b.get(i), Some(b'=' | b':')) {
            return None;
        }
        i = skip_ws(i + 1);
        if matches!(b.get(i), Some(b'"' | b'\'')) {
            i += 1;
        }
        // `Authorization: Bearer abc`: mask the credentials, keep the scheme.
        for scheme in [&b"bearer "[..], b"basic "] {
            if b.len() >= i + scheme.len() && b[i..i + scheme.len()].eq_ignore_ascii_case(scheme) {
                i = skip_ws(i + scheme.len());
            }
        }
    }
    let start = i;
    while i < b.len() && !is_value_end(b[i]) {
        i += 1;
    }
    (i > start).then_some((start, i))
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let d2 = d * 2;
                if d2 > 9 {
                    d2 - 9
                } else {
                    d2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Replaces card numbers (13–19 digits, single spaces or dashes between groups, Luhn-valid,
/// not part of a longer number) with `****` and their last four digits.
fn mask_cards(text: &str) -> Cow<'_, str> {
    let b = text.as_bytes();
    let mut out: Option<String> = None;
    let mut at = 0;
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = Vec::with_capacity(19);
        let mut end = i;
        while i < b.len() {
            if b[i].is_ascii_digit() {
                digits.push(b[i]);
                i += 1;
                end = i;
            } else if matches!(b[i], b' ' | b'-') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                i += 1;
            } else {
                break;
            }
        }
        let bounded = !b.get(end).is_some_and(u8::is_ascii_alphanumeric);
        if bounded && (13..=19).contains(&digits.len()) && luhn(&digits) {
            let s = out.get_or_insert_with(|| String::with_capacity(text.len()));
            s.push_str(&text[at..start]);
            s.push_str("****");
            s.push_str(std::str::from_utf8(&digits[digits.len() - 4..]).unwrap_or_default());
            at = end;
        }
        i = end.max(start + 1);
    }
    match out {
        Some(mut s) => {
            s.push_str(&text[at..]);
            Cow::Owned(s)
        }
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pairs_in_text_are_masked() {
        let m = Masker::new(["pin"]);
        for (input, expected) in [
            ("password=hunter2", "password=***"),
            ("db_password: 'hunter2' next", "db_password: '***' next"),
            (r#"{"token":"abc.def"}"#, r#"{"token":"***"}"#),
            ("Authorization: Bearer eyJhbGc", "Authorization: Bearer ***"),
            ("sent bearer eyJhbGc to", "sent bearer *** to"),
            ("pin=1234 and api-key = k1", "pin=*** and api-key = ***"),
            ("the password policy changed", "the password policy changed"),
        ] {
            assert_eq!(m.mask_text(input), expected, "{input}");
        }
    }

    #[test]
    fn cards_are_masked_and_other_numbers_kept() {
        let m = Masker::default();
        assert_eq!(m.mask_text("card 4111-1111-1111-1111."), "card ****1111.");
        assert_eq!(
            m.mask_text("order 4111111111111112"),
            "order 4111111111111112"
        );
        assert_eq!(m.mask_text("id 12345"), "id 12345");
        assert_eq!(m.mask_text("x5555555555554444"), "x5555555555554444");
    }

    fn card() -> impl Strategy<Value = String> {
        proptest::collection::vec(0u8..10, 15).prop_map(|mut d| {
            d[0] = 4;
            for check in 0..10 {
                let mut all = d.clone();
                all.push(check);
                let digits: Vec<u8> = all.iter().map(|x| x + b'0').collect();
                if luhn(&digits) {
                    return String::from_utf8(digits).unwrap();
                }
            }
            unreachable!()
        })
    }

    proptest! {
        #[test]
        fn no_card_survives(prefix in "[a-z ,.:=]{0,20}", card in card(), suffix in "[a-z ,.]{0,20}", sep in prop::sample::select(vec!["", " ", "-"])) {
            let grouped: Vec<&str> = card.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect();
            let text = format!("{prefix} {} {suffix}", grouped.join(sep));
            let masked = Masker::default().mask_text(&text).into_owned();
            let digits: String = masked.chars().filter(char::is_ascii_digit).collect();
            prop_assert!(!digits.contains(&card), "{}", masked);
        }

        #[test]
        fn masking_never_panics_and_is_idempotent(text in "\\PC{0,60}") {
            let m = Masker::default();
            let once = m.mask_text(&text).into_owned();
            prop_assert_eq!(m.mask_text(&once).into_owned(), once.clone());
        }

        #[test]
        fn secret_values_never_survive(name in prop::sample::select(vec!["password", "Token", "API_KEY", "client_secret"]), value in "[A-Za-z0-9]{6,20}", sep in prop::sample::select(vec!["=", ": ", " = "])) {
            let text = format!("login {name}{sep}{value} done");
            prop_assert!(!Masker::default().mask_text(&text).contains(&value));
        }
    }
}
