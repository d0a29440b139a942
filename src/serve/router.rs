//! Which replica of a model serves a request.

use std::fmt;
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How requests are spread over the replicas of their target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Routing {
    /// In turn.
    RoundRobin,
    /// The replica with the fewest requests queued or running (ties: the
    /// first).
    #[default]
    LeastOutstanding,
    /// Of two replicas drawn at random (seeded), the one with fewer
    /// outstanding requests (Mitzenmacher's power of two choices).
    PowerOfTwo,
}

impl Routing {
    /// Every rule, by name.
    pub const ALL: [Routing; 3] = [
        Routing::RoundRobin,
        Routing::LeastOutstanding,
        Routing::PowerOfTwo,
    ];

    /// The name scenarios use.
    pub fn name(self) -> &'static str {
        match self {
            Routing::RoundRobin => "round-robin",
            Routing::LeastOutstanding => "least-outstanding",
            Routing::PowerOfTwo => "power-of-two",
        }
    }
}

impl fmt::Display for Routing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Routing {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Routing::ALL
            .into_iter()
            .find(|r| r.name() == text)
            .ok_or_else(|| {
                let names: Vec<_> = Routing::ALL.iter().map(|r| r.name()).collect();
                format!(
                    "unknown routing `{text}`; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// A router's state: a turn per target, and a seeded generator.
#[derive(Debug, Clone)]
pub struct Router {
    rule: Routing,
    turns: Vec<usize>,
    rng: ChaCha8Rng,
}

impl Router {
    /// A router seeded by `seed`.
    pub fn new(rule: Routing, seed: u64) -> Router {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Its own stream: routing draws do not disturb traffic draws.
        rng.set_stream(u64::MAX);
        Router {
            rule,
            turns: Vec::new(),
            rng,
        }
    }

    /// Picks one of `replicas` (not empty) for a request of `target`;
    /// `outstanding` tells a replica's load.
    pub fn pick(
        &mut self,
        target: usize,
        replicas: &[u32],
        outstanding: impl Fn(u32) -> usize,
    ) -> u32 {
        debug_assert!(!replicas.is_empty());
        match self.rule {
            Routing::RoundRobin => {
                if target >= self.turns.len() {
                    self.turns.resize(target + 1, 0);
                }
                let turn = &mut self.turns[target];
                let replica = replicas[*turn % replicas.len()];
                *turn = (*turn + 1) % replicas.len();
                replica
            }
            Routing::LeastOutstanding => *replicas
                .iter()
                .min_by_key(|&&r| outstanding(r))
                .expect("a target with replicas"),
            Routing::PowerOfTwo => {
                if replicas.len() == 1 {
                    return replicas[0];
                }
                let first = self.rng.random_range(0..replicas.len());
                let mut second = self.rng.random_range(0..replicas.len() - 1);
                if second >= first {
                    second += 1;
                }
                let (a, b) = (replicas[first], replicas[second]);
                if outstanding(b) < outstanding(a) {
                    b
                } else {
                    a
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_takes_turns_per_target() {
        let mut router = Router::new(Routing::RoundRobin, 0);
        let picks: Vec<u32> = (0..4).map(|_| router.pick(0, &[3, 5], |_| 0)).collect();
        assert_eq!(picks, [3, 5, 3, 5]);
        assert_eq!(router.pick(1, &[7, 8, 9], |_| 0), 7);
    }

    #[test]
    fn least_outstanding_and_power_of_two_avoid_the_loaded_replica() {
        let load = |r: u32| if r == 1 { 10 } else { 0 };
        let mut least = Router::new(Routing::LeastOutstanding, 0);
        assert_eq!(least.pick(0, &[1, 2], load), 2);
        let mut two = Router::new(Routing::PowerOfTwo, 0);
        // With two replicas both are always drawn.
        assert!((0..100).all(|_| two.pick(0, &[1, 2], load) == 2));
        // With more, the loaded one is never chosen over an idle one drawn
        // beside it, and draws cover every replica.
        let mut seen = [false; 4];
        for _ in 0..200 {
            seen[two.pick(0, &[0, 1, 2, 3], load) as usize] = true;
        }
        assert_eq!(seen, [true, false, true, true]);
    }

    #[test]
    fn names_round_trip_and_unknown_ones_list_the_rules() {
        for rule in Routing::ALL {
            assert_eq!(rule.name().parse::<Routing>(), Ok(rule));
        }
        assert!("random"
            .parse::<Routing>()
            .unwrap_err()
            .contains("power-of-two"));
    }
}
