//! A seeded synthetic workload: an arrival process, a lifetime distribution,
//! model popularity and a precision mix.
//!
//! Every draw comes from one ChaCha8 generator seeded by the run's seed, in
//! a fixed order, so a seed names one workload exactly; the stream does not
//! depend on where requests are placed, so policies compared under one seed
//! see the same requests.

use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Exp, LogNormal};

use crate::profile::{Catalog, LookupError, Precision, PrecisionMix, VariantId};
use crate::schedule::{Demand, DemandMix};
use crate::time::SimTime;

use super::{
    precision_ladder, variant_demand, ClassId, ClassTable, DeploymentRequest, PrecisionLadder,
    Workload, WorkloadError,
};

/// Most requests one synthetic run may generate: at the engine's ~6.7 M
/// events per second (two per request), a few minutes of one thread.
pub const MAX_REQUESTS: u64 = 1_000_000_000;

/// Largest log-normal `sigma` accepted: at 20 a draw spans e^±60 of its
/// median, far past any lifetime or length that means something.
pub const MAX_SIGMA: f64 = 20.0;

/// When requests arrive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArrivalProcess {
    /// Exponential inter-arrival times at this mean rate.
    Poisson {
        /// Mean arrivals per hour (> 0).
        rate_per_hour: f64,
    },
    /// One request every `interval`, the first at time zero.
    Deterministic {
        /// Time between arrivals (> 0).
        interval: SimTime,
    },
    /// Every request at time zero: a static set.
    AllAtOnce,
}

impl ArrivalProcess {
    /// Expected arrivals before `horizon` (`None` for all-at-once, where
    /// only the request count bounds them).
    pub fn expected_before(self, horizon: SimTime) -> Option<f64> {
        match self {
            ArrivalProcess::Poisson { rate_per_hour } => {
                Some(rate_per_hour * horizon.as_hours_f64())
            }
            ArrivalProcess::Deterministic { interval } => {
                Some(horizon.as_secs_f64() / interval.as_secs_f64() + 1.0)
            }
            ArrivalProcess::AllAtOnce => None,
        }
    }
}

/// How long a placed replica lives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LifetimeDistribution {
    /// Exponential with this mean.
    Exponential {
        /// Mean lifetime (> 0).
        mean: SimTime,
    },
    /// Log-normal with this median and shape.
    LogNormal {
        /// Median lifetime (> 0).
        median: SimTime,
        /// Standard deviation of the log (>= 0).
        sigma: f64,
    },
    /// Every replica lives exactly this long.
    Fixed(SimTime),
    /// Replicas never depart.
    Infinite,
}

/// How models are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Popularity {
    /// Every listed model equally likely.
    Uniform,
    /// Probability proportional to 1 / rank^exponent, ranks in list order.
    Zipf {
        /// The Zipf exponent (> 0; 1 is classic Zipf).
        exponent: f64,
    },
    /// Explicit weights, one per listed model (same order).
    Weights(Vec<f64>),
}

/// A checked synthetic workload description.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticSpec {
    /// When requests arrive.
    pub arrivals: ArrivalProcess,
    /// Stop after this many requests (`None`: until the horizon).
    pub count: Option<u64>,
    /// Replica lifetimes.
    pub lifetime: LifetimeDistribution,
    /// The models and their popularity.
    pub models: Vec<String>,
    /// How popularity is spread over `models`.
    pub popularity: Popularity,
    /// Share of each precision.
    pub precision_mix: PrecisionMix,
    /// `(priority, share)` pairs; empty means every request has priority 0.
    pub priorities: Vec<(i32, f64)>,
}

impl std::fmt::Display for ArrivalProcess {
    /// `poisson 4/h`, `every 2m`, `all at once`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArrivalProcess::Poisson { rate_per_hour } => write!(f, "poisson {rate_per_hour}/h"),
            ArrivalProcess::Deterministic { interval } => write!(f, "every {interval}"),
            ArrivalProcess::AllAtOnce => f.write_str("all at once"),
        }
    }
}

impl std::fmt::Display for LifetimeDistribution {
    /// `exponential mean 24h`, `lognormal median 12h sigma 1`, `fixed 1h`, `infinite`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LifetimeDistribution::Exponential { mean } => write!(f, "exponential mean {mean}"),
            LifetimeDistribution::LogNormal { median, sigma } => {
                write!(f, "lognormal median {median} sigma {sigma}")
            }
            LifetimeDistribution::Fixed(duration) => write!(f, "fixed {duration}"),
            LifetimeDistribution::Infinite => f.write_str("infinite"),
        }
    }
}

/// A synthetic workload that cannot be generated as described.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SyntheticError {
    /// The model list is empty.
    #[error("the workload names no model")]
    NoModels,
    /// `Popularity::Weights` has a weight count other than the model count.
    #[error("{weights} weights for {models} models")]
    WeightCount {
        /// Weights given.
        weights: usize,
        /// Models listed.
        models: usize,
    },
    /// Weights that are negative, not numbers, or all zero.
    #[error("model weights must be non-negative with a positive sum")]
    BadWeights,
    /// A model the catalog lacks, or lacks at a precision the mix asks for.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// Priority shares that cannot be drawn from.
    #[error("priority shares must be non-negative with a positive sum")]
    BadPriorityShares,
}

/// A mix component: a catalog variant and its probability.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Component {
    demand: Demand,
    class: ClassId,
    probability: f64,
}

/// The generator.
pub struct SyntheticWorkload {
    spec: SyntheticSpec,
    rng: ChaCha8Rng,
    classes: ClassTable,
    /// Each class's model at every precision, by class id.
    ladders: Vec<PrecisionLadder>,
    components: Vec<Component>,
    pick: WeightedIndex<f64>,
    priority_pick: Option<WeightedIndex<f64>>,
    clock_secs: f64,
    emitted: u64,
    until: SimTime,
}

/// Scale of probabilities turned into integer weights for a [`DemandMix`].
const WEIGHT_SCALE: f64 = 1e12;

impl SyntheticWorkload {
    /// A generator over `catalog` seeded with `seed`; fails if a model is
    /// unknown or lacks a precision the mix asks for.
    pub fn new(
        spec: SyntheticSpec,
        catalog: &Catalog,
        seed: u64,
    ) -> Result<SyntheticWorkload, SyntheticError> {
        let popularity = model_probabilities(&spec.models, &spec.popularity)?;
        let mut classes = ClassTable::default();
        let mut components = Vec::new();
        for (model, model_probability) in spec.models.iter().zip(popularity) {
            for precision in Precision::ALL {
                let share = spec.precision_mix.share(precision);
                if share == 0.0 || model_probability == 0.0 {
                    continue;
                }
                let id: VariantId = catalog.find(model, precision)?;
                components.push(Component {
                    demand: variant_demand(catalog.variant(id)),
                    class: classes.intern(model, Some(precision)),
                    probability: model_probability * share,
                });
            }
        }
        // Probabilities are positive and sum to 1 by construction.
        let pick = WeightedIndex::new(components.iter().map(|c| c.probability))
            .map_err(|_| SyntheticError::BadWeights)?;
        let priority_pick = if spec.priorities.is_empty() {
            None
        } else {
            Some(
                WeightedIndex::new(spec.priorities.iter().map(|p| p.1))
                    .map_err(|_| SyntheticError::BadPriorityShares)?,
            )
        };
        let ladders = classes
            .iter()
            .map(|(_, class)| precision_ladder(catalog, &class.name))
            .collect();
        Ok(SyntheticWorkload {
            spec,
            rng: ChaCha8Rng::seed_from_u64(seed),
            ladders,
            classes,
            components,
            pick,
            priority_pick,
            clock_secs: 0.0,
            emitted: 0,
            until: SimTime::NEVER,
        })
    }

    /// Stops the stream before the first arrival after `until` (a run's
    /// horizon), so an unbounded generator ends.
    pub fn until(mut self, until: SimTime) -> SyntheticWorkload {
        self.until = until;
        self
    }

    /// The distribution of demands this generator draws from.
    pub fn demand_mix(&self) -> DemandMix {
        DemandMix::new(
            self.components
                .iter()
                .map(|c| (c.demand, (c.probability * WEIGHT_SCALE).round() as u64)),
        )
    }

    fn next_arrival(&mut self) -> SimTime {
        if self.emitted > 0 {
            match self.spec.arrivals {
                ArrivalProcess::Poisson { rate_per_hour } => {
                    let exp = Exp::new(rate_per_hour / 3600.0).expect("rate checked positive");
                    self.clock_secs += exp.sample(&mut self.rng);
                }
                ArrivalProcess::Deterministic { interval } => {
                    self.clock_secs += interval.as_secs_f64()
                }
                ArrivalProcess::AllAtOnce => {}
            }
        }
        SimTime::from_secs_f64(self.clock_secs).unwrap_or(SimTime::NEVER)
    }

    fn draw_lifetime(&mut self) -> Option<SimTime> {
        let seconds = match self.spec.lifetime {
            LifetimeDistribution::Exponential { mean } => Exp::new(1.0 / mean.as_secs_f64())
                .expect("mean checked positive")
                .sample(&mut self.rng),
            LifetimeDistribution::LogNormal { median, sigma } => {
                LogNormal::new(median.as_secs_f64().ln(), sigma)
                    .expect("median and sigma checked")
                    .sample(&mut self.rng)
            }
            LifetimeDistribution::Fixed(duration) => return Some(duration),
            LifetimeDistribution::Infinite => return None,
        };
        Some(SimTime::from_secs_f64(seconds).unwrap_or(SimTime::NEVER))
    }
}

impl Workload for SyntheticWorkload {
    fn next_request(&mut self) -> Option<Result<DeploymentRequest, WorkloadError>> {
        if self.spec.count.is_some_and(|count| self.emitted >= count) {
            return None;
        }
        let arrival = self.next_arrival();
        if arrival > self.until || arrival == SimTime::NEVER {
            return None;
        }
        let component = self.components[self.pick.sample(&mut self.rng)];
        let lifetime = self.draw_lifetime();
        let priority = match &self.priority_pick {
            Some(pick) => self.spec.priorities[pick.sample(&mut self.rng)].0,
            None => 0,
        };
        self.emitted += 1;
        Some(Ok(DeploymentRequest {
            arrival,
            lifetime,
            demand: component.demand,
            class: component.class,
            priority,
        }))
    }

    fn classes(&self) -> &ClassTable {
        &self.classes
    }

    fn demand_at(&self, class: ClassId, precision: Precision) -> Option<Demand> {
        self.ladders[class.0 as usize][precision.index()]
    }
}

/// Probability of each model under `popularity`.
fn model_probabilities(
    models: &[String],
    popularity: &Popularity,
) -> Result<Vec<f64>, SyntheticError> {
    if models.is_empty() {
        return Err(SyntheticError::NoModels);
    }
    let weights: Vec<f64> = match popularity {
        Popularity::Uniform => vec![1.0; models.len()],
        Popularity::Zipf { exponent } => (1..=models.len())
            .map(|rank| 1.0 / (rank as f64).powf(*exponent))
            .collect(),
        Popularity::Weights(weights) => {
            if weights.len() != models.len() {
                return Err(SyntheticError::WeightCount {
                    weights: weights.len(),
                    models: models.len(),
                });
            }
            weights.clone()
        }
    };
    let total: f64 = weights.iter().sum();
    if !(total.is_finite() && total > 0.0) || weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
        return Err(SyntheticError::BadWeights);
    }
    Ok(weights.into_iter().map(|w| w / total).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SyntheticSpec {
        SyntheticSpec {
            arrivals: ArrivalProcess::Poisson {
                rate_per_hour: 60.0,
            },
            count: Some(2000),
            lifetime: LifetimeDistribution::Exponential {
                mean: SimTime::hours(2),
            },
            models: vec![
                "meta-llama/Llama-3.1-8B-Instruct".into(),
                "google/gemma-3-27B".into(),
            ],
            popularity: Popularity::Zipf { exponent: 1.0 },
            precision_mix: PrecisionMix::new([0.5, 0.0, 0.5]).unwrap(),
            priorities: vec![],
        }
    }

    fn drain(w: &mut SyntheticWorkload) -> Vec<DeploymentRequest> {
        std::iter::from_fn(|| w.next_request())
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn same_seed_same_stream_other_seed_other_stream() {
        let catalog = Catalog::builtin();
        let a = drain(&mut SyntheticWorkload::new(spec(), &catalog, 7).unwrap());
        let b = drain(&mut SyntheticWorkload::new(spec(), &catalog, 7).unwrap());
        let c = drain(&mut SyntheticWorkload::new(spec(), &catalog, 8).unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 2000);
        assert!(a.windows(2).all(|w| w[0].arrival <= w[1].arrival));
    }

    #[test]
    fn draws_follow_zipf_popularity_and_the_precision_mix() {
        let catalog = Catalog::builtin();
        let mut w = SyntheticWorkload::new(spec(), &catalog, 1).unwrap();
        let requests = drain(&mut w);
        // Zipf(1) over two models: 2/3 and 1/3.
        let first = requests
            .iter()
            .filter(|r| w.classes().get(r.class).name.starts_with("meta-llama"))
            .count();
        let share = first as f64 / requests.len() as f64;
        assert!((share - 2.0 / 3.0).abs() < 0.04, "{share}");
        let int8 = requests
            .iter()
            .filter(|r| w.classes().get(r.class).precision == Some(Precision::Int8))
            .count();
        assert_eq!(int8, 0, "the mix gives int8 no share");
        // 60 per hour: the 2000th arrival near 2000 minutes.
        let last = requests.last().unwrap().arrival.as_secs_f64() / 60.0;
        assert!((last - 2000.0).abs() < 200.0, "{last}");
    }

    #[test]
    fn an_unknown_model_is_refused() {
        let mut bad = spec();
        bad.models.push("acme/NotAModel".into());
        let err = SyntheticWorkload::new(bad, &Catalog::builtin(), 1)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("unknown model `acme/NotAModel`"), "{err}");
    }
}
