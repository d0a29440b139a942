//! Seeded synthetic inference traffic: one stream per target, each with its
//! own rate, arrival pattern and prompt and output length distributions.
//!
//! Stream `i` draws from its own ChaCha8 generator (the run's seed, stream
//! number `i`), so adding a stream or changing one's rate leaves the others'
//! requests as they were; the streams are merged in time order (ties by
//! stream order).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Gamma};

use crate::time::Nanos;
use crate::workload::WorkloadError;

pub use super::lengths::LengthDistribution;
use super::{InferenceRequest, Target, Traffic};

/// Highest arrival rate of one stream, requests per second.
pub const MAX_RATE: f64 = 1e6;

/// The least coefficient of variation of gamma gaps: a gamma shape of
/// 10,000 (gaps within about 1% of their mean). Below it the shape
/// `1 / cv^2` leaves the range gamma draws are computed in; equal gaps are
/// [`ArrivalPattern::Uniform`].
pub const MIN_CV: f64 = 0.01;

/// How a stream's inter-arrival times are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArrivalPattern {
    /// Exponential gaps: a Poisson process.
    Poisson,
    /// Gamma gaps with this coefficient of variation (above 1: burstier
    /// than Poisson; 1: Poisson; below 1: more regular).
    Gamma {
        /// Standard deviation over mean of a gap, in [[`MIN_CV`], 10].
        cv: f64,
    },
    /// Equal gaps.
    Uniform,
}

/// One target's traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// What the requests ask for.
    pub target: Target,
    /// Mean requests per second, in (0, [`MAX_RATE`]].
    pub rate: f64,
    /// How gaps between arrivals are drawn.
    pub arrivals: ArrivalPattern,
    /// Prompt lengths.
    pub prompt: LengthDistribution,
    /// Output lengths.
    pub output: LengthDistribution,
    /// Scheduling priority of its requests (lower first under the
    /// engine's `priority` policy).
    pub priority: i32,
}

impl Stream {
    /// Checks the rate and distributions; `Err` names the field.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= MAX_RATE) {
            return Err((
                "rate",
                format!(
                    "must be above 0 and at most {MAX_RATE} requests per second, got {}",
                    self.rate
                ),
            ));
        }
        if let ArrivalPattern::Gamma { cv } = self.arrivals {
            if !(cv.is_finite() && (MIN_CV..=10.0).contains(&cv)) {
                return Err((
                    "cv",
                    format!(
                        "must be from {MIN_CV} to 10 (for equal gaps use arrivals = \"uniform\"), got {cv:?}"
                    ),
                ));
            }
        }
        self.prompt.check().map_err(|m| ("prompt", m))?;
        self.output.check().map_err(|m| ("output", m))
    }
}

/// A seeded generator over several streams, in time order.
pub struct SyntheticTraffic {
    streams: Vec<Stream>,
    targets: Vec<Target>,
    rngs: Vec<ChaCha8Rng>,
    /// Next arrival of each stream, seconds.
    next: Vec<f64>,
    emitted: u64,
    limit: Option<u64>,
    until: Nanos,
}

impl SyntheticTraffic {
    /// Requests from `streams` (each checked with [`Stream::check`]) seeded
    /// by `seed`: `limit` of them at most, none arriving after `until`.
    pub fn new(
        streams: Vec<Stream>,
        seed: u64,
        limit: Option<u64>,
        until: Option<Nanos>,
    ) -> SyntheticTraffic {
        let mut rngs: Vec<ChaCha8Rng> = (0..streams.len())
            .map(|i| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(i as u64);
                rng
            })
            .collect();
        let next = streams
            .iter()
            .zip(&mut rngs)
            .map(|(stream, rng)| gap(stream, rng))
            .collect();
        SyntheticTraffic {
            targets: streams.iter().map(|s| s.target.clone()).collect(),
            streams,
            rngs,
            next,
            emitted: 0,
            limit,
            until: until.unwrap_or(Nanos(u64::MAX)),
        }
    }
}

/// The time to a stream's next arrival, seconds.
fn gap(stream: &Stream, rng: &mut ChaCha8Rng) -> f64 {
    let mean = 1.0 / stream.rate;
    match stream.arrivals {
        ArrivalPattern::Poisson => Exp::new(stream.rate).expect("rate checked").sample(rng),
        ArrivalPattern::Gamma { cv } => {
            let shape = 1.0 / (cv * cv);
            Gamma::new(shape, mean / shape)
                .expect("cv checked")
                .sample(rng)
        }
        ArrivalPattern::Uniform => mean,
    }
}

impl Traffic for SyntheticTraffic {
    fn next_request(&mut self) -> Option<Result<InferenceRequest, WorkloadError>> {
        if self.limit.is_some_and(|l| self.emitted >= l) {
            return None;
        }
        let (i, &seconds) = self
            .next
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(&b.0)))?;
        let arrival = Nanos::from_secs_f64(seconds).filter(|&t| t <= self.until)?;
        let stream = &self.streams[i];
        let rng = &mut self.rngs[i];
        let prompt = stream.prompt.sample(rng);
        let output = stream.output.sample(rng);
        self.next[i] = seconds + gap(stream, rng);
        self.emitted += 1;
        Some(Ok(InferenceRequest {
            arrival,
            target: i as u32,
            prompt,
            output,
            priority: stream.priority,
        }))
    }

    fn targets(&self) -> &[Target] {
        &self.targets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(model: &str, rate: f64, arrivals: ArrivalPattern) -> Stream {
        Stream {
            target: Target {
                model: model.into(),
                precision: None,
            },
            rate,
            arrivals,
            prompt: LengthDistribution::LogNormal {
                median: 100.0,
                sigma: 0.5,
                max: 1000,
            },
            output: LengthDistribution::Fixed(7),
            priority: 0,
        }
    }

    fn gaps(arrivals: ArrivalPattern, n: u64) -> Vec<f64> {
        let mut traffic =
            SyntheticTraffic::new(vec![stream("a", 10.0, arrivals)], 3, Some(n), None);
        let times: Vec<f64> = std::iter::from_fn(|| traffic.next_request())
            .map(|r| r.unwrap().arrival.as_secs_f64())
            .collect();
        times.windows(2).map(|w| w[1] - w[0]).collect()
    }

    fn mean_and_cv(values: &[f64]) -> (f64, f64) {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var.sqrt() / mean)
    }

    #[test]
    fn gaps_have_the_stated_mean_and_variability() {
        for (pattern, cv) in [
            (ArrivalPattern::Poisson, 1.0),
            (ArrivalPattern::Gamma { cv: 3.0 }, 3.0),
            (ArrivalPattern::Uniform, 0.0),
        ] {
            let (mean, measured_cv) = mean_and_cv(&gaps(pattern, 50_000));
            assert!(
                (mean - 0.1).abs() < 0.1 * 0.05,
                "{pattern:?}: mean gap {mean}"
            );
            assert!(
                (measured_cv - cv).abs() < 0.05 * cv.max(0.2),
                "{pattern:?}: cv {measured_cv}"
            );
        }
    }

    #[test]
    fn streams_merge_in_time_order_and_each_keeps_its_own_draws() {
        let alone: Vec<_> = {
            let mut t = SyntheticTraffic::new(
                vec![stream("a", 5.0, ArrivalPattern::Poisson)],
                9,
                None,
                Some(Nanos(60_000_000_000)),
            );
            std::iter::from_fn(|| t.next_request())
                .map(|r| r.unwrap())
                .collect()
        };
        let mut both = SyntheticTraffic::new(
            vec![
                stream("a", 5.0, ArrivalPattern::Poisson),
                stream("b", 50.0, ArrivalPattern::Poisson),
            ],
            9,
            None,
            Some(Nanos(60_000_000_000)),
        );
        let merged: Vec<_> = std::iter::from_fn(|| both.next_request())
            .map(|r| r.unwrap())
            .collect();
        assert!(merged.windows(2).all(|w| w[0].arrival <= w[1].arrival));
        let a: Vec<_> = merged.iter().filter(|r| r.target == 0).copied().collect();
        assert_eq!(a, alone);
        assert!(merged.iter().all(|r| r.arrival <= Nanos(60_000_000_000)));
    }

    #[test]
    fn lognormal_lengths_have_the_stated_median_within_bounds() {
        let mut t = SyntheticTraffic::new(
            vec![stream("a", 1.0, ArrivalPattern::Poisson)],
            5,
            Some(20_001),
            None,
        );
        let mut prompts: Vec<u32> = std::iter::from_fn(|| t.next_request())
            .map(|r| r.unwrap().prompt)
            .collect();
        prompts.sort_unstable();
        let median = prompts[prompts.len() / 2];
        assert!((97..=103).contains(&median), "median {median}");
        assert!(prompts.iter().all(|&p| (1..=1000).contains(&p)));
    }

    #[test]
    fn absurd_parameters_are_refused() {
        assert_eq!(
            stream("a", 1e12, ArrivalPattern::Poisson)
                .check()
                .unwrap_err()
                .0,
            "rate"
        );
        for cv in [0.0, 1e-155, MIN_CV / 2.0, 10.5, f64::NAN] {
            let (field, message) = stream("a", 1.0, ArrivalPattern::Gamma { cv })
                .check()
                .unwrap_err();
            assert_eq!(field, "cv");
            assert!(message.contains("uniform"), "{message}");
        }
        // The least accepted draws without a panic.
        assert_eq!(gaps(ArrivalPattern::Gamma { cv: MIN_CV }, 10).len(), 9);
        let mut bad = stream("a", 1.0, ArrivalPattern::Poisson);
        bad.output = LengthDistribution::Fixed(0);
        assert_eq!(bad.check().unwrap_err().0, "output");
    }

    #[test]
    fn quantile_lengths_follow_their_points_and_their_mean() {
        let points: Vec<(f64, f64)> = vec![(0.0, 10.0), (0.5, 100.0), (0.9, 1000.0), (1.0, 4000.0)];
        // Piecewise linear: each segment's mass times its midpoint.
        let mean: f64 = points
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
            .sum();
        let lengths = LengthDistribution::Quantiles(points.clone().into());
        lengths.check().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut draws: Vec<u32> = (0..200_000).map(|_| lengths.sample(&mut rng)).collect();
        let sample_mean = draws.iter().map(|&d| f64::from(d)).sum::<f64>() / draws.len() as f64;
        assert!(
            (sample_mean / mean - 1.0).abs() < 0.01,
            "{sample_mean} vs {mean}"
        );
        draws.sort_unstable();
        assert!(draws[0] >= 10 && *draws.last().unwrap() <= 4000);
        for &(p, tokens) in &points[1..points.len() - 1] {
            let at = f64::from(draws[(p * draws.len() as f64) as usize]);
            assert!((at / tokens - 1.0).abs() < 0.03, "p{p}: {at} vs {tokens}");
        }
    }

    #[test]
    fn quantile_points_must_rise_from_zero_to_one() {
        let check = |points: Vec<(f64, f64)>| LengthDistribution::Quantiles(points.into()).check();
        assert!(check(vec![(0.0, 5.0), (1.0, 9.0)]).is_ok());
        for (points, says) in [
            (vec![(0.0, 5.0)], "2 to"),
            (vec![(0.1, 5.0), (1.0, 9.0)], "p = 0"),
            (vec![(0.0, 5.0), (0.9, 9.0)], "p = 1"),
            (
                vec![(0.0, 5.0), (0.5, 9.0), (0.5, 9.0), (1.0, 9.0)],
                "rise strictly",
            ),
            (vec![(0.0, 5.0), (0.5, 4.0), (1.0, 9.0)], "must not fall"),
            (vec![(0.0, 0.0), (1.0, 9.0)], "between 1 and"),
            (
                vec![(0.0, 1.0), (f64::NAN, 2.0), (1.0, 9.0)],
                "rise strictly",
            ),
        ] {
            let error = check(points).unwrap_err();
            assert!(error.contains(says), "{error}");
        }
    }
}
