//! The NAB corpus on disk: `data/<category>/<name>.csv` files and the label windows.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// One data file.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    /// `<category>/<name>.csv`, the key of the labels.
    pub(crate) key: String,
    /// The category folder.
    pub(crate) category: String,
    /// The file name.
    pub(crate) file: String,
    /// The timestamps as written in the file.
    pub(crate) raw_timestamps: Vec<String>,
    /// Milliseconds since the epoch (the naive timestamps read as UTC).
    pub(crate) timestamps: Vec<i64>,
    /// The values as written (results files repeat them verbatim).
    pub(crate) raw_values: Vec<String>,
    /// The values.
    pub(crate) values: Vec<f64>,
}

/// Reads every `<category>/<name>.csv` under `dir`, sorted by key.
pub(crate) fn load(dir: &Path) -> Result<Vec<Series>, String> {
    let mut out = Vec::new();
    let mut categories: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    categories.sort();
    for cat in categories {
        let mut files: Vec<PathBuf> = fs::read_dir(&cat)
            .map_err(|e| format!("cannot read {}: {e}", cat.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "csv"))
            .collect();
        files.sort();
        for f in files {
            out.push(read_series(&cat, &f)?);
        }
    }
    if out.is_empty() {
        return Err(format!("no <category>/<name>.csv under {}", dir.display()));
    }
    Ok(out)
}

fn read_series(cat: &Path, path: &Path) -> Result<Series, String> {
    let name = |p: &Path| {
        p.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };
    let (category, file) = (name(cat), name(path));
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut s = Series {
        key: format!("{category}/{file}"),
        category,
        file,
        raw_timestamps: Vec::new(),
        timestamps: Vec::new(),
        raw_values: Vec::new(),
        values: Vec::new(),
    };
    for (n, line) in text.lines().enumerate().skip(1) {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let bad = || format!("{}:{}: expected `timestamp,value`", path.display(), n + 1);
        let (ts, value) = line.split_once(',').ok_or_else(bad)?;
        s.timestamps.push(parse_timestamp(ts).ok_or_else(bad)?);
        s.values.push(value.trim().parse().map_err(|_| bad())?);
        s.raw_timestamps.push(ts.to_owned());
        s.raw_values.push(value.to_owned());
    }
    Ok(s)
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` as milliseconds since the epoch.
pub(crate) fn parse_timestamp(s: &str) -> Option<i64> {
    let (date, time) = s.trim().split_once(' ')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (h, mi, sec) = (t.next()??, t.next()??, t.next()??);
    let micros: i64 = format!("{frac:0<6}")[..6].parse().ok()?;
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3_600 + mi * 60 + sec) * 1_000) + micros / 1_000)
}

/// The label windows: `{"<category>/<name>.csv": [["start", "end"], ...]}`, as timestamps.
pub(crate) fn load_windows(path: &Path) -> Result<BTreeMap<String, Vec<(i64, i64)>>, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = |k: &str| format!("{}: bad windows for {k}", path.display());
    let mut out = BTreeMap::new();
    for (key, windows) in json.as_object().ok_or_else(|| bad("the file"))? {
        let mut list = Vec::new();
        for w in windows.as_array().ok_or_else(|| bad(key))? {
            let pair = w
                .as_array()
                .filter(|p| p.len() == 2)
                .ok_or_else(|| bad(key))?;
            let ts = |v: &serde_json::Value| v.as_str().and_then(parse_timestamp);
            list.push((
                ts(&pair[0]).ok_or_else(|| bad(key))?,
                ts(&pair[1]).ok_or_else(|| bad(key))?,
            ));
        }
        out.insert(key.clone(), list);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_as_utc() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00"), Some(0));
        assert_eq!(
            parse_timestamp("2014-03-09 03:00:00.000000"),
            Some(1_394_334_000_000)
        );
        assert_eq!(parse_timestamp("2014-13"), None);
    }
}
