//! Estimates over seeds: mean, standard deviation and a 95% Student-t
//! confidence interval, and the summary of each grid point.

use std::collections::BTreeMap;

use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::hardware::GpuKind;

use super::grid::Cell;
use super::run::RunRow;

/// A metric's estimate over replications.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Replications.
    pub n: usize,
    /// Sample mean.
    pub mean: f64,
    /// Sample standard deviation (`None` with fewer than two values).
    pub sd: Option<f64>,
    /// Half-width of the 95% confidence interval on the mean (`None` with
    /// fewer than two values).
    pub half_width: Option<f64>,
    /// Range the metric cannot leave (a rate's is 0 to 1): the interval's
    /// ends are clamped to it.
    pub range: (f64, f64),
}

impl Estimate {
    /// The estimate of `values` (at least one).
    pub fn of(values: &[f64]) -> Estimate {
        let n = values.len();
        assert!(n > 0, "an estimate needs at least one value");
        let mean = values.iter().sum::<f64>() / n as f64;
        if n < 2 {
            return Estimate {
                n,
                mean,
                sd: None,
                half_width: None,
                range: (f64::NEG_INFINITY, f64::INFINITY),
            };
        }
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let sd = variance.sqrt();
        let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
            .expect("n - 1 >= 1 degrees of freedom")
            .inverse_cdf(0.975);
        Estimate {
            n,
            mean,
            sd: Some(sd),
            half_width: Some(t * sd / (n as f64).sqrt()),
            range: (f64::NEG_INFINITY, f64::INFINITY),
        }
    }

    /// The estimate of a metric that lies in `min..=max` (a fit rate, a
    /// utilisation: 0 to 1), whose interval is clamped to that range. The
    /// Student-t interval over seeds is kept rather than a binomial one
    /// (Wilson): the replications are runs, not single trials.
    pub fn of_bounded(values: &[f64], min: f64, max: f64) -> Estimate {
        Estimate {
            range: (min, max),
            ..Estimate::of(values)
        }
    }

    /// Lower end of the 95% interval (the mean with one replication).
    pub fn lower(&self) -> f64 {
        (self.mean - self.half_width.unwrap_or(0.0)).max(self.range.0)
    }

    /// Upper end of the 95% interval (the mean with one replication).
    pub fn upper(&self) -> f64 {
        (self.mean + self.half_width.unwrap_or(0.0)).min(self.range.1)
    }
}

/// A grid point's estimates over its seeds.
#[derive(Debug, Clone)]
pub struct PointSummary {
    /// The point.
    pub cell: Cell,
    /// Fit rate.
    pub fit: Estimate,
    /// Share of requests that could fit a fleet of any size of this kind
    /// and layout (the rest never fit one of its GPUs).
    pub reachable: Estimate,
    /// Time-weighted mean of GPUs holding a replica.
    pub gpus_busy: Estimate,
    /// Memory utilisation.
    pub utilisation: Estimate,
    /// Fragmentation.
    pub fragmentation: Estimate,
    /// Mean cost of a run, if the kind has a price.
    pub cost: Option<f64>,
}

/// Summarises `rows` per grid point, in grid order; a run's cost is its
/// GPU-hours at the kind's price in `prices`.
pub fn summarise(
    prices: &BTreeMap<GpuKind, f64>,
    cells: &[Cell],
    rows: &[RunRow],
) -> Vec<PointSummary> {
    let mut by_cell: BTreeMap<usize, Vec<&RunRow>> = BTreeMap::new();
    for row in rows {
        by_cell.entry(row.cell).or_default().push(row);
    }
    by_cell
        .into_iter()
        .map(|(index, runs)| {
            let values = |f: fn(&RunRow) -> f64| runs.iter().map(|r| f(r)).collect::<Vec<_>>();
            let share = |f: fn(&RunRow) -> f64| Estimate::of_bounded(&values(f), 0.0, 1.0);
            let cell = cells
                .iter()
                .find(|c| c.index == index)
                .expect("rows refer to known cells")
                .clone();
            let hours = Estimate::of(&values(|r| r.gpu_hours_online)).mean;
            PointSummary {
                cost: prices.get(&cell.kind).map(|p| p * hours),
                fit: share(|r| r.fit_rate),
                reachable: share(|r| 1.0 - r.rejected_never_fits as f64 / r.arrivals.max(1) as f64),
                gpus_busy: Estimate::of_bounded(&values(|r| r.gpus_busy_mean), 0.0, f64::INFINITY),
                utilisation: share(|r| r.utilisation_mean),
                fragmentation: share(|r| r.fragmentation_mean),
                cell,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worked_interval() {
        // Values 1..=5: mean 3, sd sqrt(2.5); t(0.975, 4) = 2.776445.
        let e = Estimate::of(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(e.mean, 3.0);
        assert!((e.sd.unwrap() - 2.5f64.sqrt()).abs() < 1e-12);
        assert!((e.half_width.unwrap() - 2.776445 * 2.5f64.sqrt() / 5f64.sqrt()).abs() < 1e-5);
        assert!(e.lower() < 3.0 && e.upper() > 3.0);
    }

    #[test]
    fn a_rate_interval_stays_between_zero_and_one() {
        // Unclamped: 0.95 +- 0.215, past 1.
        let values = [0.85, 1.0, 1.0];
        assert!(Estimate::of(&values).upper() > 1.1);
        let e = Estimate::of_bounded(&values, 0.0, 1.0);
        assert_eq!(e.upper(), 1.0);
        assert!(e.lower() > 0.7 && e.lower() < 0.75, "{}", e.lower());
        let low = Estimate::of_bounded(&[0.0, 0.15, 0.0], 0.0, 1.0);
        assert_eq!(low.lower(), 0.0);
    }

    #[test]
    fn one_value_has_no_interval() {
        let e = Estimate::of(&[0.7]);
        assert_eq!((e.sd, e.half_width, e.lower()), (None, None, 0.7));
    }
}
