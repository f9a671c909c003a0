//! A parser of the Prometheus text exposition format (0.0.4), strict enough to catch a
//! malformed page: every sample line must parse, label values must be properly escaped,
//! and a family's `# TYPE` must come before its samples.

use std::collections::BTreeMap;

/// Label names and values of one sample, sorted by name.
pub type Labels = BTreeMap<String, String>;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name (with `_bucket`, `_sum`, `_count` suffixes as written).
    pub name: String,
    /// Its labels.
    pub labels: Labels,
    /// Its value.
    pub value: f64,
}

/// A parsed page.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    /// Samples, in page order.
    pub samples: Vec<Sample>,
    /// `# TYPE` per family name.
    pub types: BTreeMap<String, String>,
    /// `# HELP` per family name.
    pub help: BTreeMap<String, String>,
}

impl Exposition {
    /// Parses a page; the error names the line.
    pub fn parse(text: &str) -> Result<Exposition, String> {
        let mut page = Exposition::default();
        for (i, line) in text.lines().enumerate() {
            let at = |e: String| format!("line {}: {e}: {line:?}", i + 1);
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                page.comment(comment.trim_start()).map_err(at)?;
                continue;
            }
            let sample = parse_sample(line).map_err(at)?;
            let family = family_of(&sample.name, &page.types);
            if !page.types.contains_key(family) {
                return Err(at(format!("sample of `{family}` before its # TYPE")));
            }
            page.samples.push(sample);
        }
        Ok(page)
    }

    fn comment(&mut self, comment: &str) -> Result<(), String> {
        let mut parts = comment.splitn(3, ' ');
        let (keyword, name, rest) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
        match (keyword, name) {
            (Some("TYPE"), Some(name)) => {
                let kind = rest.trim();
                if !matches!(
                    kind,
                    "counter" | "gauge" | "histogram" | "summary" | "untyped"
                ) {
                    return Err(format!("unknown type {kind:?}"));
                }
                if self
                    .types
                    .insert(name.to_owned(), kind.to_owned())
                    .is_some()
                {
                    return Err(format!("second # TYPE for {name}"));
                }
            }
            (Some("HELP"), Some(name)) => {
                let previous = self.help.insert(name.to_owned(), rest.to_owned());
                if previous.is_some() {
                    return Err(format!("second # HELP for {name}"));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Samples named `name`.
    pub fn samples_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// The value of the sample named `name` with exactly these labels.
    pub fn value(&self, name: &str, labels: &Labels) -> Option<f64> {
        self.samples_named(name)
            .find(|s| &s.labels == labels)
            .map(|s| s.value)
    }
}

/// The family a sample belongs to: histogram and summary samples carry suffixes.
fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> &'a str {
    if types.contains_key(name) {
        return name;
    }
    for suffix in ["_bucket", "_sum", "_count", "_created"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if types.contains_key(base) {
                return base;
            }
        }
    }
    name
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if !is_name(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Labels::new();
    if let Some(after_brace) = rest.strip_prefix('{') {
        rest = parse_labels(after_brace, &mut labels)?;
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("no value")?;
    let value = parse_value(value)?;
    if let Some(timestamp) = fields.next() {
        timestamp
            .parse::<i64>()
            .map_err(|_| format!("bad timestamp {timestamp:?}"))?;
    }
    if fields.next().is_some() {
        return Err("trailing fields".into());
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Parses `name="value",...}` and returns what follows the closing brace.
fn parse_labels<'a>(mut rest: &'a str, labels: &mut Labels) -> Result<&'a str, String> {
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return Ok(after);
        }
        let eq = rest.find('=').ok_or("label without `=`")?;
        let key = rest[..eq].trim();
        if !is_name(key) || key.contains(':') {
            return Err(format!("bad label name {key:?}"));
        }
        rest = rest[eq + 1..]
            .trim_start()
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((_, c)) => value.push(c),
                None => return Err("unterminated label value".into()),
            }
        };
        if labels.insert(key.to_owned(), value).is_some() {
            return Err(format!("label {key} twice"));
        }
        rest = &rest[end + 1..];
        rest = rest.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => text.parse().map_err(|_| format!("bad value {text:?}")),
    }
}

/// Builds a label set from pairs.
///
/// ```
/// let labels = cqrs_obs_tests::exposition::labels([("outcome", "ok"), ("query", "GetBalance")]);
/// assert_eq!(labels.len(), 2);
/// ```
pub fn labels<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Labels {
    pairs
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"# HELP cqrs_queries_total Query handler calls.
# TYPE cqrs_queries_total counter
cqrs_queries_total{query="Get\"Bal\\ance\n",outcome="ok"} 12
# TYPE cqrs_query_duration_seconds histogram
cqrs_query_duration_seconds_bucket{query="GetBalance",outcome="ok",le="+Inf"} 12
cqrs_query_duration_seconds_count{query="GetBalance",outcome="ok"} 12 1700000000000
# TYPE up gauge
up 1
"#;

    #[test]
    fn parses_samples_labels_and_escapes() {
        let page = Exposition::parse(PAGE).unwrap();
        assert_eq!(page.samples.len(), 4);
        let odd = labels([("query", "Get\"Bal\\ance\n"), ("outcome", "ok")]);
        assert_eq!(page.value("cqrs_queries_total", &odd), Some(12.0));
        let inf = labels([("query", "GetBalance"), ("outcome", "ok"), ("le", "+Inf")]);
        assert_eq!(
            page.value("cqrs_query_duration_seconds_bucket", &inf),
            Some(12.0)
        );
        assert_eq!(page.value("up", &Labels::new()), Some(1.0));
        assert_eq!(page.help["cqrs_queries_total"], "Query handler calls.");
        assert_eq!(page.types["cqrs_query_duration_seconds"], "histogram");
    }

    #[test]
    fn rejects_malformed_lines() {
        for bad in [
            "# TYPE m counter\nm{a=\"x} 1",
            "# TYPE m counter\nm{a=x} 1",
            "# TYPE m counter\nm 1 2 3",
            "# TYPE m counter\nm one",
            "m 1",
            "# TYPE m counter\n# TYPE m gauge",
            "# TYPE m counter\nm{a=\"\\q\"} 1",
        ] {
            assert!(Exposition::parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
