//! A streaming latency histogram: constant memory whatever the number of
//! requests, quantiles within a stated relative error.
//!
//! Values (seconds) fall in logarithmic buckets growing by a factor of
//! 1 + 2 x [`RELATIVE_ERROR`]; a quantile is reported as the geometric
//! middle of its bucket, so it is within `RELATIVE_ERROR` of the true
//! sample quantile (for values between [`MIN`] and [`MAX`]; smaller values
//! count as `MIN`, larger as `MAX`). Mean, minimum and maximum are exact.

use serde::Serialize;

/// Largest relative error of a reported quantile: 0.5%.
pub const RELATIVE_ERROR: f64 = 0.005;
/// Smallest value told apart: one microsecond.
pub const MIN: f64 = 1e-6;
/// Largest value told apart: a million seconds.
pub const MAX: f64 = 1e6;

/// Counts of values by logarithmic bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

/// Buckets cover [MIN, MAX] with ratio (1 + 2e) each.
fn bucket_count() -> usize {
    ((MAX / MIN).ln() / (1.0 + 2.0 * RELATIVE_ERROR).ln()).ceil() as usize + 1
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; bucket_count()],
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: 0.0,
        }
    }
}

/// Summary statistics of one latency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quantiles {
    /// Values recorded.
    pub count: u64,
    /// Exact mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Exact largest value.
    pub max: f64,
}

impl Histogram {
    /// Records one value (seconds; negative or NaN counts as zero).
    #[inline]
    pub fn record(&mut self, value: f64) {
        let value = if value.is_finite() {
            value.max(0.0)
        } else {
            MAX
        };
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        let index = if value <= MIN {
            0
        } else {
            let i = ((value / MIN).ln() / (1.0 + 2.0 * RELATIVE_ERROR).ln()) as usize;
            i.min(self.counts.len() - 1)
        };
        self.counts[index] += 1;
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Exact mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }

    /// The `q` quantile (0 < q <= 1), within [`RELATIVE_ERROR`]; 0 when
    /// empty.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        // The smallest value with at least ceil(q x n) values at or below.
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let ratio = 1.0 + 2.0 * RELATIVE_ERROR;
                let middle = MIN * ratio.powi(i as i32) * ratio.sqrt();
                // The exact extremes are known: never report beyond them.
                return middle.clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// The share of values at or below `threshold` (to the bucket holding
    /// it).
    pub fn share_at_most(&self, threshold: f64) -> f64 {
        if self.count == 0 {
            return 1.0;
        }
        let ratio = 1.0 + 2.0 * RELATIVE_ERROR;
        let below: u64 = self
            .counts
            .iter()
            .enumerate()
            .take_while(|(i, _)| MIN * ratio.powi(*i as i32 + 1) <= threshold)
            .map(|(_, &c)| c)
            .sum();
        below as f64 / self.count as f64
    }

    /// Mean, median, p90, p95, p99 and maximum.
    pub fn quantiles(&self) -> Quantiles {
        Quantiles {
            count: self.count,
            mean: self.mean(),
            p50: self.quantile(0.5),
            p90: self.quantile(0.9),
            p95: self.quantile(0.95),
            p99: self.quantile(0.99),
            max: if self.count == 0 { 0.0 } else { self.max },
        }
    }

    /// (value, share of values at or below it) at every bucket that holds
    /// a value: the empirical CDF, for charts.
    pub fn cdf(&self) -> Vec<(f64, f64)> {
        let ratio = 1.0 + 2.0 * RELATIVE_ERROR;
        let mut seen = 0;
        let mut points = Vec::new();
        for (i, &c) in self.counts.iter().enumerate() {
            if c > 0 {
                seen += c;
                let upper = (MIN * ratio.powi(i as i32 + 1)).min(self.max);
                points.push((upper, seen as f64 / self.count as f64));
            }
        }
        points
    }

    /// Adds another histogram's values.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_the_stated_error_of_the_exact_ones() {
        let mut h = Histogram::default();
        let mut values: Vec<f64> = (1..=10_000)
            .map(|i| 0.001 * f64::from(i).powf(1.3))
            .collect();
        for &v in &values {
            h.record(v);
        }
        values.sort_by(f64::total_cmp);
        for q in [0.5, 0.9, 0.95, 0.99, 1.0] {
            let exact = values[((q * values.len() as f64).ceil() as usize).max(1) - 1];
            let got = h.quantile(q);
            assert!(
                (got / exact - 1.0).abs() <= RELATIVE_ERROR * 1.0001,
                "q {q}: {got} vs {exact}"
            );
        }
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        assert!((h.mean() - mean).abs() < 1e-9 * mean);
        assert_eq!(h.quantiles().max, *values.last().unwrap());
        // Memory does not grow with the values recorded.
        assert_eq!(h.counts.len(), bucket_count());
    }

    #[test]
    fn shares_and_merges() {
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        for v in [0.1, 0.2, 0.3] {
            a.record(v);
        }
        b.record(5.0);
        a.merge(&b);
        assert_eq!(a.count(), 4);
        assert_eq!(a.share_at_most(1.0), 0.75);
        assert_eq!(a.quantile(1.0), 5.0);
        assert_eq!(Histogram::default().quantile(0.99), 0.0);
    }
}
