//! NAB's scoring rules, as the data's README states them: probationary period, windows,
//! scaled-sigmoid rewards and penalties, one threshold per detector and profile that
//! maximises the total over all files, and normalisation between the null and the perfect
//! detector.

/// A cost matrix.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Profile {
    /// Name as in `profiles.json`.
    pub(crate) name: &'static str,
    /// Reward of a detected window.
    pub(crate) tp: f64,
    /// Cost of a missed window.
    pub(crate) fn_: f64,
    /// Cost of a false alert.
    pub(crate) fp: f64,
}

/// NAB's three profiles (`config/profiles.json`).
pub(crate) const PROFILES: [Profile; 3] = [
    Profile {
        name: "standard",
        tp: 1.0,
        fn_: 1.0,
        fp: 0.11,
    },
    Profile {
        name: "reward_low_FP_rate",
        tp: 1.0,
        fn_: 1.0,
        fp: 0.22,
    },
    Profile {
        name: "reward_low_FN_rate",
        tp: 1.0,
        fn_: 2.0,
        fp: 0.11,
    },
];

/// `2 sigmoid(-5 p) - 1`, or -1 beyond 3 window widths.
fn scaled_sigmoid(p: f64) -> f64 {
    if p > 3.0 {
        -1.0
    } else {
        2.0 / (1.0 + (5.0 * p).exp()) - 1.0
    }
}

/// One scored row: its detector score, its window (global index) if inside one, and its
/// unweighted reward (in a window) or penalty (outside).
#[derive(Debug, Clone, Copy)]
struct Row {
    score: f64,
    window: Option<usize>,
    weight: f64,
}

/// The rows of every file, ready for threshold sweeps.
#[derive(Debug, Default)]
pub(crate) struct Scorer {
    rows: Vec<Row>,
    windows: usize,
}

impl Scorer {
    /// An empty corpus.
    pub(crate) fn new() -> Scorer {
        Scorer::default()
    }

    /// Adds one file: its timestamps, its scores (one per row) and its label windows.
    pub(crate) fn add_file(&mut self, timestamps: &[i64], scores: &[f64], windows: &[(i64, i64)]) {
        assert_eq!(timestamps.len(), scores.len(), "one score per row");
        let n = timestamps.len();
        let probation = ((0.15 * n as f64).floor() as usize).min(750);
        // Row bounds of each window: the first row with each bound's timestamp.
        let first = |t: i64| timestamps.iter().position(|x| *x == t);
        let bounds: Vec<(usize, usize)> = windows
            .iter()
            .map(|(s, e)| {
                let (l, r) = (first(*s), first(*e));
                (
                    l.expect("window start is a row"),
                    r.expect("window end is a row"),
                )
            })
            .collect();
        let max_tp = scaled_sigmoid(-1.0);
        let base = self.windows;
        let mut current: Option<usize> = None;
        let mut previous: Option<(usize, usize)> = None; // (right index, width)
        let mut next = 0;
        for (i, &score) in scores.iter().enumerate() {
            if current.is_none() && next < bounds.len() && i == bounds[next].0 {
                current = Some(next);
                next += 1;
            }
            let (window, weight) = match current {
                Some(w) => {
                    let (l, r) = bounds[w];
                    let width = (r - l + 1) as f64;
                    let p = -((r as f64 - i as f64 + 1.0) / width);
                    (Some(base + w), scaled_sigmoid(p) / max_tp)
                }
                None => match previous {
                    None => (None, -1.0),
                    Some((right, width)) => {
                        let d = (i as f64 - right as f64).abs() / (width as f64 - 1.0);
                        (None, scaled_sigmoid(d))
                    }
                },
            };
            if i >= probation {
                self.rows.push(Row {
                    score,
                    window,
                    weight,
                });
            }
            if let Some(w) = current {
                let (l, r) = bounds[w];
                if i == r {
                    previous = Some((r, r - l + 1));
                    current = None;
                }
            }
        }
        self.windows += bounds.len();
    }

    /// Number of label windows.
    pub(crate) fn windows(&self) -> usize {
        self.windows
    }

    /// The best threshold for `profile`, the raw total there and the normalised score.
    pub(crate) fn best(&self, profile: &Profile) -> Outcome {
        let mut order: Vec<&Row> = self.rows.iter().collect();
        order.sort_by(|a, b| b.score.total_cmp(&a.score));
        let null = -(self.windows as f64) * profile.fn_;
        let perfect = self.windows as f64 * profile.tp;
        let mut best_window = vec![-profile.fn_; self.windows];
        let (mut fp_total, mut tp_total) = (0.0, null);
        let mut best = (f64::INFINITY, null);
        for (k, row) in order.iter().enumerate() {
            match row.window {
                Some(w) => {
                    let reward = row.weight * profile.tp;
                    if reward > best_window[w] {
                        tp_total += reward - best_window[w];
                        best_window[w] = reward;
                    }
                }
                None => fp_total += row.weight * profile.fp,
            }
            let last_of_tie = order.get(k + 1).is_none_or(|n| n.score != row.score);
            if last_of_tie && tp_total + fp_total > best.1 {
                best = (row.score, tp_total + fp_total);
            }
        }
        Outcome {
            threshold: best.0,
            raw: best.1,
            normalised: 100.0 * (best.1 - null) / (perfect - null),
        }
    }
}

/// A detector's result under one profile.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outcome {
    /// The threshold that maximises the total (infinite: no alert is best).
    pub(crate) threshold: f64,
    /// The raw total.
    pub(crate) raw: f64,
    /// 100 for perfect, 0 for the null detector.
    pub(crate) normalised: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(n: usize) -> Vec<i64> {
        (0..n as i64).collect()
    }

    #[test]
    fn the_null_and_the_perfect_detector_bound_the_scale() {
        let mut s = Scorer::new();
        let mut scores = vec![0.0; 1_000];
        s.add_file(&ts(1_000), &scores, &[(500, 549)]);
        assert_eq!(s.best(&PROFILES[0]).normalised, 0.0);
        scores[500] = 1.0;
        let mut s = Scorer::new();
        s.add_file(&ts(1_000), &scores, &[(500, 549)]);
        assert!((s.best(&PROFILES[0]).normalised - 100.0).abs() < 1e-9);
    }

    #[test]
    fn later_detection_earns_less_and_false_alerts_cost() {
        let score_with = |alerts: &[usize]| {
            let mut scores = vec![0.0; 1_000];
            alerts.iter().for_each(|i| scores[*i] = 1.0);
            let mut s = Scorer::new();
            s.add_file(&ts(1_000), &scores, &[(500, 549)]);
            s.best(&PROFILES[0]).normalised
        };
        let centre = score_with(&[525]);
        assert!(centre < 100.0 && centre > 80.0, "{centre}");
        assert!(score_with(&[525, 300]) < centre);
        // An alert just after the window costs less than one far from it.
        assert!(score_with(&[525, 551]) > score_with(&[525, 900]));
        // Alerts in the probationary period are not scored.
        assert_eq!(score_with(&[525, 10]), centre);
    }
}
