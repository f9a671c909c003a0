//! Property tests: whatever the input — NaN, infinities, huge, tiny or constant values,
//! repeated or backward timestamps — every detector's score stays in [0, 1] and nothing is
//! NaN.

use proptest::prelude::*;

use super::composite::{Composite, CompositeConfig};
use super::detector::Detector;
use super::pattern::Pattern;
use super::robust::{Iqr, Mad};
use super::seasonal::Seasonal;
use super::threshold::Threshold;
use super::trend::{Direction, TrendTracker};
use super::zscore::ZScore;

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -1e3f64..1e3,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(f64::MAX),
        1 => Just(f64::MIN),
        1 => Just(f64::MIN_POSITIVE),
        1 => Just(0.0),
        1 => Just(42.0),
        1 => any::<f64>(),
    ]
}

fn points() -> impl Strategy<Value = Vec<(i64, f64)>> {
    prop::collection::vec((-5_000i64..60_000, value()), 1..400).prop_map(|steps| {
        let mut t = 0i64;
        steps
            .into_iter()
            .map(|(dt, v)| {
                t = t.saturating_add(dt);
                (t, v)
            })
            .collect()
    })
}

fn detectors() -> Vec<Box<dyn Detector>> {
    vec![
        Box::new(ZScore::new(20)),
        Box::new(Iqr::new(20)),
        Box::new(Mad::new(20)),
        Box::new(Threshold::new()),
        Box::new(
            Threshold::new()
                .with_min(-1.0)
                .with_max(1.0)
                .with_max_rate(5.0),
        ),
        Box::new(Seasonal::new(600_000, 10)),
        Box::new(Pattern::new()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn detector_scores_stay_in_range(points in points()) {
        for mut d in detectors() {
            for (t, v) in &points {
                let verdict = d.update(*t, *v);
                prop_assert!((0.0..=1.0).contains(&verdict.score()), "{} {verdict:?}", d.name());
                prop_assert!(verdict.deviation.is_finite(), "{} {verdict:?}", d.name());
            }
        }
    }

    #[test]
    fn composite_scores_and_confidence_stay_in_range(points in points()) {
        let mut c = Composite::new(CompositeConfig {
            window: 20,
            warmup: 5,
            period_ms: Some(600_000),
            bins: 10,
            ..CompositeConfig::default()
        });
        let mut trend = TrendTracker::new(2, Direction::HigherIsWorse);
        for (t, v) in &points {
            let a = c.update(*t, *v);
            trend.add(*t, *v);
            prop_assert!((0.0..=1.0).contains(&a.score), "{a:?}");
            prop_assert!(a.deviation.is_finite(), "{a:?}");
            let k = a.confidence;
            for part in [k.value, k.extremity, k.data, k.persistence, k.agreement] {
                prop_assert!((0.0..=1.0).contains(&part), "{a:?}");
            }
        }
        if let Some(t) = trend.trend() {
            prop_assert!(t.slope_per_hour.is_finite() && (0.0..=1.0).contains(&t.p_value));
        }
    }

    #[test]
    fn a_constant_series_raises_nothing(v in -1e12f64..1e12, n in 50usize..600) {
        for mut d in detectors().into_iter().take(4) {
            for i in 0..n {
                prop_assert_eq!(d.update(i as i64 * 1_000, v).score(), 0.0, "{}", d.name());
            }
        }
        let mut c = Composite::new(CompositeConfig::default());
        for i in 0..n {
            prop_assert!(!c.update(i as i64 * 1_000, v).anomaly);
        }
    }
}
