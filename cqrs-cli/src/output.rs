//! Rendering records as an aligned table, JSON, JSON lines or CSV.
//!
//! A command produces a [`Report`]: ordered records (the rows of every format), optional
//! lines printed above the table, and optionally its own JSON document.

use std::fmt::Write as _;

use serde_json::Value;

use crate::cli::Format;
use crate::error::CliError;

/// A colour for a table cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    /// No colour.
    Plain,
    /// Good (green).
    Good,
    /// Worth a look (yellow).
    Warn,
    /// Bad (red).
    Bad,
    /// Less important (dim).
    Dim,
}

impl Tone {
    fn code(self) -> Option<&'static str> {
        match self {
            Tone::Plain => None,
            Tone::Good => Some("32"),
            Tone::Warn => Some("33"),
            Tone::Bad => Some("31"),
            Tone::Dim => Some("2"),
        }
    }
}

/// One record: ordered fields.
#[derive(Debug, Clone, Default)]
pub(crate) struct Record {
    fields: Vec<(&'static str, Value)>,
    tones: Vec<(&'static str, Tone)>,
}

/// A record serialises as a JSON object with its fields in order.
impl serde::Serialize for Record {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.fields.len()))?;
        for (k, v) in &self.fields {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl Record {
    /// An empty record.
    pub(crate) fn new() -> Record {
        Record::default()
    }

    /// Adds a field.
    pub(crate) fn with(mut self, key: &'static str, value: impl Into<Value>) -> Record {
        self.fields.push((key, value.into()));
        self
    }

    /// Colours field `key` in tables.
    pub(crate) fn tone(mut self, key: &'static str, tone: Tone) -> Record {
        self.tones.push((key, tone));
        self
    }

    fn tone_of(&self, key: &str) -> Tone {
        self.tones
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(Tone::Plain, |(_, t)| *t)
    }

    /// The value of field `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    fn text(&self, key: &str) -> String {
        self.fields
            .iter()
            .find(|(k, _)| *k == key)
            .map_or_else(String::new, |(_, v)| cell(v))
    }
}

/// A value as table or CSV text: strings as they are, null empty, floats trimmed.
pub(crate) fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => number(f),
            _ => n.to_string(),
        },
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        Value::Object(_) => value.to_string(),
    }
}

/// A float for people: 4 significant digits below 1 (latencies in seconds stay readable),
/// at most 4 decimals above; trailing zeros removed.
pub(crate) fn number(f: f64) -> String {
    let abs = f.abs();
    let decimals = if abs > 0.0 && abs < 1.0 {
        (3 - abs.log10().floor() as i32).clamp(4, 12) as usize
    } else {
        4
    };
    let s = format!("{f:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// What a command prints.
#[derive(Debug, Clone, Default)]
pub(crate) struct Report {
    /// The columns, in order (the keys of the records).
    pub(crate) columns: Vec<&'static str>,
    /// The rows.
    pub(crate) records: Vec<Record>,
    /// Lines above the table (table format only).
    pub(crate) preamble: Vec<(String, Tone)>,
    /// Lines below the table (table format only).
    pub(crate) footer: Vec<String>,
    /// The JSON document; default: the records as an array.
    pub(crate) json: Option<Value>,
    /// Text printed instead of a table (table format only).
    pub(crate) text: Option<String>,
    /// JSON lines printed as they are instead of the records' (`logs` keeps entries whole).
    pub(crate) raw_lines: Option<Vec<String>>,
}

impl Report {
    /// A report of `records` under `columns`.
    pub(crate) fn new(columns: Vec<&'static str>, records: Vec<Record>) -> Report {
        Report {
            columns,
            records,
            ..Report::default()
        }
    }

    /// Renders in `format`, colouring tables when `color`.
    pub(crate) fn render(&self, format: Format, color: bool) -> Result<String, CliError> {
        match format {
            Format::Table => Ok(self.table(color)),
            Format::Json => {
                let fail = |e: serde_json::Error| CliError::Other(e.to_string());
                let mut out = match &self.json {
                    Some(doc) => serde_json::to_string_pretty(doc).map_err(fail)?,
                    None => serde_json::to_string_pretty(&self.records).map_err(fail)?,
                };
                out.push('\n');
                Ok(out)
            }
            Format::Jsonl if self.raw_lines.is_some() => {
                let lines = self.raw_lines.as_deref().unwrap_or_default();
                Ok(lines.iter().map(|l| format!("{l}\n")).collect())
            }
            Format::Jsonl => {
                let mut out = String::new();
                for r in &self.records {
                    out.push_str(
                        &serde_json::to_string(r).map_err(|e| CliError::Other(e.to_string()))?,
                    );
                    out.push('\n');
                }
                Ok(out)
            }
            Format::Csv => self.csv(),
        }
    }

    fn csv(&self) -> Result<String, CliError> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let fail = |e: csv::Error| CliError::Other(format!("writing CSV: {e}"));
        writer.write_record(&self.columns).map_err(fail)?;
        for r in &self.records {
            writer
                .write_record(self.columns.iter().map(|c| r.text(c)))
                .map_err(fail)?;
        }
        let bytes = writer
            .into_inner()
            .map_err(|e| CliError::Other(format!("writing CSV: {e}")))?;
        String::from_utf8(bytes).map_err(|e| CliError::Other(e.to_string()))
    }

    fn table(&self, color: bool) -> String {
        let mut out = String::new();
        for (line, tone) in &self.preamble {
            let _ = writeln!(out, "{}", paint(line, *tone, color));
        }
        if let Some(text) = &self.text {
            out.push_str(text);
        } else if self.records.is_empty() {
            out.push_str("(none)\n");
        } else {
            out.push_str(&self.aligned(color));
        }
        for line in &self.footer {
            let _ = writeln!(out, "{line}");
        }
        out
    }

    fn aligned(&self, color: bool) -> String {
        let header: Vec<String> = self.columns.iter().map(|c| c.to_uppercase()).collect();
        let rows: Vec<Vec<String>> = self
            .records
            .iter()
            .map(|r| self.columns.iter().map(|c| one_line(&r.text(c))).collect())
            .collect();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in &rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        let last = self.columns.len().saturating_sub(1);
        let mut line = |cells: &[String], tones: &dyn Fn(usize) -> Tone| {
            let mut text = String::new();
            for (i, c) in cells.iter().enumerate() {
                let pad = if i == last {
                    0
                } else {
                    widths[i] - c.chars().count()
                };
                text.push_str(&paint(c, tones(i), color));
                if i != last {
                    text.push_str(&" ".repeat(pad + 2));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&header, &|_| Tone::Dim);
        for (row, record) in rows.iter().zip(&self.records) {
            line(row, &|i| record.tone_of(self.columns[i]));
        }
        out
    }
}

/// Control characters and newlines as spaces, so a row stays one line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` in `tone` when `color`.
pub(crate) fn paint(text: &str, tone: Tone, color: bool) -> String {
    match (color, tone.code()) {
        (true, Some(code)) if !text.is_empty() => format!("\x1b[{code}m{text}\x1b[0m"),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        Report::new(
            vec!["name", "status", "note"],
            vec![
                Record::new()
                    .with("name", "event-store")
                    .with("status", "UP")
                    .with("note", Value::Null)
                    .tone("status", Tone::Good),
                Record::new()
                    .with("name", "x")
                    .with("status", "DOWN")
                    .with("note", "a, \"quoted\"\nnote"),
            ],
        )
    }

    #[test]
    fn tables_align_and_colour_only_when_asked() {
        let plain = sample().render(Format::Table, false).unwrap();
        assert_eq!(
            plain,
            "NAME         STATUS  NOTE\nevent-store  UP\nx            DOWN    a, \"quoted\" note\n"
        );
        let coloured = sample().render(Format::Table, true).unwrap();
        assert!(coloured.contains("\x1b[32mUP\x1b[0m"));
    }

    #[test]
    fn csv_quotes_and_parses_back() {
        let text = sample().render(Format::Csv, false).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(&rows[1][2], "a, \"quoted\"\nnote");
    }

    #[test]
    fn json_lines_keep_field_order() {
        let text = sample().render(Format::Jsonl, false).unwrap();
        assert!(text.starts_with("{\"name\":\"event-store\",\"status\":\"UP\",\"note\":null}\n"));
    }

    #[test]
    fn numbers_are_trimmed() {
        assert_eq!(number(99.9), "99.9");
        assert_eq!(number(1.0), "1");
        assert_eq!(number(-0.000012346), "-0.00001235");
        assert_eq!(number(0.123456), "0.1235");
        assert_eq!(number(0.00042), "0.00042");
        assert_eq!(number(1e-20), "0");
        assert_eq!(number(12345.678901), "12345.6789");
    }
}
