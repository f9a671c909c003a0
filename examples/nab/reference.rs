//! NAB's windowed Gaussian detector, the reference that checks our scorer against the
//! figure the data's README gives for it.

use cqrs_obs::anomaly::normal_tail;

/// Mean and standard deviation of the previous points (up to 6400, sliding in steps of 100);
/// score `1 - Q(|z|)`.
#[derive(Debug, Default)]
pub(crate) struct WindowedGaussian {
    window: Vec<f64>,
    step: Vec<f64>,
    mean: f64,
    std: f64,
}

const WINDOW: usize = 6400;
const STEP: usize = 100;

impl WindowedGaussian {
    /// An empty detector.
    pub(crate) fn new() -> WindowedGaussian {
        WindowedGaussian::default()
    }

    /// Scores one value, then learns it.
    pub(crate) fn update(&mut self, value: f64) -> f64 {
        let score = if self.window.is_empty() {
            0.0
        } else {
            // NAB reflects values below the mean: Q of the mirrored point.
            let x = if value < self.mean {
                2.0 * self.mean - value
            } else {
                value
            };
            1.0 - normal_tail((x - self.mean) / self.std)
        };
        if self.window.len() < WINDOW {
            self.window.push(value);
            self.refresh();
        } else {
            self.step.push(value);
            if self.step.len() == STEP {
                self.window.drain(..STEP);
                self.window.append(&mut self.step);
                self.refresh();
            }
        }
        score
    }

    fn refresh(&mut self) {
        let n = self.window.len() as f64;
        self.mean = self.window.iter().sum::<f64>() / n;
        let var = self
            .window
            .iter()
            .map(|v| (v - self.mean) * (v - self.mean))
            .sum::<f64>()
            / n;
        self.std = var.sqrt();
        if self.std == 0.0 {
            self.std = 0.000_001;
        }
    }
}
