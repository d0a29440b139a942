//! The sweep grid: precision mixes x GPU kinds x layouts x policies x fleet
//! sizes, each run once per seed, and the shards that split it.

use std::fmt;
use std::str::FromStr;

use crate::hardware::{GpuKind, LayoutSpec};
use crate::schedule::Policy;

/// Shares of FP16, INT8 and INT4, summing to 1.
pub type Mix = [f64; 3];

/// A checked `[sweep]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSpec {
    /// Precision mixes; empty runs the workload as it is.
    pub mixes: Vec<Mix>,
    /// Fleet sizes (GPUs).
    pub gpus: Vec<u32>,
    /// GPU kinds.
    pub kinds: Vec<GpuKind>,
    /// Layouts (each valid on every kind).
    pub layouts: Vec<LayoutSpec>,
    /// Policies.
    pub policies: Vec<Policy>,
    /// Replications per grid point; replication `r` runs with seed
    /// `run.seed + r`, the same seeds at every point.
    pub seeds: u32,
    /// Fit rate a fleet must reach to count as enough.
    pub target_fit: f64,
}

/// One point of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Position in grid order.
    pub index: usize,
    /// The precision mix, if the sweep varies it.
    pub mix: Option<Mix>,
    /// GPU kind.
    pub kind: GpuKind,
    /// Layout.
    pub layout: LayoutSpec,
    /// Policy.
    pub policy: Policy,
    /// Fleet size (for a plan: none, the plan searches it).
    pub gpus: Option<u32>,
}

impl SweepSpec {
    /// Every grid point, mixes outermost, then kinds, layouts, policies and
    /// fleet sizes.
    pub fn cells(&self) -> Vec<Cell> {
        self.grid(true)
    }

    /// The grid without the fleet-size axis, which a plan searches.
    pub fn plan_cells(&self) -> Vec<Cell> {
        self.grid(false)
    }

    fn grid(&self, with_sizes: bool) -> Vec<Cell> {
        let mixes: Vec<Option<Mix>> = if self.mixes.is_empty() {
            vec![None]
        } else {
            self.mixes.iter().copied().map(Some).collect()
        };
        let sizes: Vec<Option<u32>> = if with_sizes {
            self.gpus.iter().copied().map(Some).collect()
        } else {
            vec![None]
        };
        let mut cells = Vec::new();
        for &mix in &mixes {
            for &kind in &self.kinds {
                for layout in &self.layouts {
                    for &policy in &self.policies {
                        for &gpus in &sizes {
                            cells.push(Cell {
                                index: cells.len(),
                                mix,
                                kind,
                                layout: layout.clone(),
                                policy,
                                gpus,
                            });
                        }
                    }
                }
            }
        }
        cells
    }
}

/// The finest simplex step (5,151 mixes).
pub const MIN_STEP: f64 = 0.01;

/// Every mix on a simplex grid with `step` (0.1 gives 66), FP16-heaviest
/// first: by INT4 share, then INT8 share. `step` must divide 1.
pub fn simplex(step: f64) -> Result<Vec<Mix>, String> {
    if !(step.is_finite() && (MIN_STEP..=1.0).contains(&step)) {
        return Err(format!("step {step} must be between {MIN_STEP} and 1"));
    }
    let units = (1.0 / step).round();
    if (units * step - 1.0).abs() > 1e-9 {
        return Err(format!(
            "step {step} does not divide 1 (try 0.1, 0.125, 0.25 or 0.5)"
        ));
    }
    let n = units as u32;
    let mut mixes = Vec::new();
    for int4 in 0..=n {
        for int8 in 0..=(n - int4) {
            let fp16 = n - int4 - int8;
            let share = |u: u32| f64::from(u) / f64::from(n);
            mixes.push([share(fp16), share(int8), share(int4)]);
        }
    }
    Ok(mixes)
}

/// `fp16 0.7, int8 0.1, int4 0.2`, shares with up to three decimals.
pub fn mix_label(mix: &Mix) -> String {
    let share = |v: f64| {
        let text = format!("{v:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    format!(
        "fp16 {}, int8 {}, int4 {}",
        share(mix[0]),
        share(mix[1]),
        share(mix[2])
    )
}

/// Which part of a grid a run computes: cells whose index is `index - 1`
/// modulo `count` (so every shard gets a spread of the grid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// One-based shard number.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl Shard {
    /// The whole grid.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Whether cell `index` belongs to this shard.
    pub fn contains(self, index: usize) -> bool {
        index % self.count as usize == (self.index - 1) as usize
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N` with 1 <= K <= N.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = || format!("bad shard `{text}`: expected K/N with 1 <= K <= N, e.g. 2/8");
        let (k, n) = text.split_once('/').ok_or_else(fail)?;
        let (index, count): (u32, u32) = (
            k.trim().parse().map_err(|_| fail())?,
            n.trim().parse().map_err(|_| fail())?,
        );
        if index == 0 || count == 0 || index > count {
            return Err(fail());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenth_step_gives_66_mixes_that_sum_to_one() {
        let mixes = simplex(0.1).unwrap();
        assert_eq!(mixes.len(), 66);
        assert!(mixes
            .iter()
            .all(|m| (m.iter().sum::<f64>() - 1.0).abs() < 1e-12));
        assert_eq!(mixes[0], [1.0, 0.0, 0.0]);
        assert_eq!(*mixes.last().unwrap(), [0.0, 0.0, 1.0]);
        assert_eq!(simplex(0.25).unwrap().len(), 15);
        assert_eq!(simplex(1.0).unwrap().len(), 3);
    }

    #[test]
    fn a_step_that_does_not_divide_one_is_refused() {
        for bad in [0.3, 0.0, -0.1, 1.5, f64::NAN, 1e-9] {
            assert!(simplex(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_partition_the_grid() {
        let shards: Vec<Shard> = (1..=3).map(|k| format!("{k}/3").parse().unwrap()).collect();
        for cell in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.contains(cell)).count(), 1);
        }
        for bad in ["3/2", "0/2", "1/0", "1", "a/b", "1/2/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn labels_trim_zeros() {
        assert_eq!(mix_label(&[0.7, 0.1, 0.2]), "fp16 0.7, int8 0.1, int4 0.2");
        assert_eq!(mix_label(&[1.0, 0.0, 0.0]), "fp16 1, int8 0, int4 0");
    }
}
