//! Batch analysis (feature `augurs`) on the Numenta Anomaly Benchmark: the periods of the NYC
//! taxi series, and changepoints against NAB's labelled anomaly windows.

use std::path::Path;

use cqrs_obs::anomaly::batch::{
    changepoints, deseasonalized_changepoints, seasonal_periods, Changepoint, Period,
};

const NAB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/nab");
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` (naive, read as UTC) as milliseconds since the epoch.
fn timestamp(s: &str) -> i64 {
    let (date, time) = s
        .trim()
        .split_once(' ')
        .unwrap_or_else(|| panic!("bad timestamp `{s}`"));
    let num = |p: &str| {
        p.parse::<i64>()
            .unwrap_or_else(|_| panic!("bad timestamp `{s}`"))
    };
    let d: Vec<i64> = date.split('-').map(num).collect();
    let t: Vec<i64> = time
        .split('.')
        .next()
        .unwrap()
        .split(':')
        .map(num)
        .collect();
    let (y, m, day) = (d[0], d[1], d[2]);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    (days * 86_400 + t[0] * 3_600 + t[1] * 60 + t[2]) * 1_000
}

/// The `(timestamp, value)` rows of `data/<key>`.
fn series(key: &str) -> Vec<(i64, f64)> {
    let path = Path::new(NAB).join("data").join(key);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (the NAB data set)", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (ts, v) = l.split_once(',').unwrap();
            (timestamp(ts), v.trim().parse().unwrap())
        })
        .collect()
}

/// The labelled anomaly windows of `key`, inclusive.
fn windows(key: &str) -> Vec<(i64, i64)> {
    let path = Path::new(NAB).join("labels/combined_windows.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json[key]
        .as_array()
        .unwrap_or_else(|| panic!("no windows for {key}"))
        .iter()
        .map(|w| {
            (
                timestamp(w[0].as_str().unwrap()),
                timestamp(w[1].as_str().unwrap()),
            )
        })
        .collect()
}

fn days(found: &[Changepoint]) -> Vec<String> {
    found
        .iter()
        .map(|c| {
            format!(
                "#{} (day {:.2})",
                c.index,
                c.timestamp_ms as f64 / DAY as f64
            )
        })
        .collect()
}

#[test]
fn nyc_taxi_has_a_daily_and_a_weekly_period() {
    let taxi = series("realKnownCause/nyc_taxi.csv");
    assert_eq!(taxi.len(), 10_320);
    let periods = seasonal_periods(&taxi).unwrap();
    eprintln!("nyc_taxi periods: {periods:?}");
    let top: Vec<&Period> = periods.iter().take(3).collect();
    // 30-minute steps: a day is 48 points, a week 336.
    let daily = top.iter().find(|p| p.points == 48);
    let weekly = top.iter().find(|p| p.points == 336);
    assert!(daily.is_some() || weekly.is_some(), "{periods:?}");
    for p in daily.into_iter().chain(weekly) {
        assert_eq!(p.millis, p.points as i64 * 30 * 60_000);
        assert!(p.strength > 0.5, "{p:?}");
    }
    // Nothing shorter than half a day is a season of taxi rides.
    assert!(periods.iter().all(|p| p.points >= 24), "{periods:?}");
}

#[test]
fn the_artificial_series_repeat_daily() {
    for key in [
        "artificialNoAnomaly/art_daily_small_noise.csv",
        "artificialWithAnomaly/art_daily_jumpsup.csv",
        "artificialWithAnomaly/art_daily_jumpsdown.csv",
    ] {
        let periods = seasonal_periods(&series(key)).unwrap();
        assert_eq!(periods[0].points, 288, "{key}: {periods:?}");
        assert_eq!(periods[0].millis, DAY, "{key}");
    }
}

/// Every changepoint of a daily series whose busy hours jump up or down one day lies in the
/// labelled window (give or take a few hours), and at least one lies inside it.
#[test]
fn a_jump_in_a_daily_series_is_a_changepoint_in_its_window() {
    for key in [
        "artificialWithAnomaly/art_daily_jumpsup.csv",
        "artificialWithAnomaly/art_daily_jumpsdown.csv",
    ] {
        let (found, window) = deseasonalized(key);
        let near = (window.0 - 6 * HOUR)..=(window.1 + 6 * HOUR);
        assert!(
            found.iter().all(|c| near.contains(&c.timestamp_ms)),
            "{key}: {:?}",
            days(&found)
        );
    }
}

/// A day without its busy hours is found too, though not alone: this series also gets a few
/// changepoints on ordinary days.
#[test]
fn a_missing_day_is_a_changepoint_in_its_window() {
    let (found, _) = deseasonalized("artificialWithAnomaly/art_daily_nojump.csv");
    assert!(found.len() < 28, "{:?}", days(&found));
}

/// The changepoints of `key` without its daily cycle, checked to include one in its labelled
/// window.
fn deseasonalized(key: &str) -> (Vec<Changepoint>, (i64, i64)) {
    let points = series(key);
    let window = windows(key)[0];
    let found = deseasonalized_changepoints(&points, 288).unwrap();
    eprintln!("{key}: window {window:?}, changepoints {:?}", days(&found));
    assert!(
        found
            .iter()
            .any(|c| (window.0..=window.1).contains(&c.timestamp_ms)),
        "{key}: {:?}",
        days(&found)
    );
    (found, window)
}

#[test]
fn a_daily_series_without_anomaly_has_no_changepoint() {
    let key = "artificialNoAnomaly/art_daily_small_noise.csv";
    let found = deseasonalized_changepoints(&series(key), 288).unwrap();
    assert!(found.is_empty(), "{key}: {:?}", days(&found));
    // Without the season removed, the daily swings are changes.
    assert!(changepoints(&series(key)).unwrap().len() >= 14);
}
