//! The sweep grid: the points of a [`SweepSpec`] (precision mixes x GPU
//! kinds x layouts x policies x fleet sizes), and the shards that split it
//! across machines.

use std::fmt;
use std::str::FromStr;

use crate::hardware::{GpuKind, LayoutSpec};
use crate::profile::PrecisionMix;
use crate::scenario::SweepSpec;
use crate::schedule::Policy;

/// One point of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Position in grid order.
    pub index: usize,
    /// The precision mix, if the sweep varies it.
    pub mix: Option<PrecisionMix>,
    /// GPU kind.
    pub kind: GpuKind,
    /// Layout.
    pub layout: LayoutSpec,
    /// Policy.
    pub policy: Policy,
    /// Fleet size (for a plan: none, the plan searches it).
    pub gpus: Option<u32>,
}

/// Every grid point of `spec`, mixes outermost, then kinds, layouts,
/// policies and fleet sizes.
pub fn cells(spec: &SweepSpec) -> Vec<Cell> {
    grid(spec, true)
}

/// The grid without the fleet-size axis, which a plan searches.
pub fn plan_cells(spec: &SweepSpec) -> Vec<Cell> {
    grid(spec, false)
}

fn grid(spec: &SweepSpec, with_sizes: bool) -> Vec<Cell> {
    let mixes: Vec<Option<PrecisionMix>> = if spec.mixes.is_empty() {
        vec![None]
    } else {
        spec.mixes.iter().copied().map(Some).collect()
    };
    let sizes: Vec<Option<u32>> = if with_sizes {
        spec.gpus.iter().copied().map(Some).collect()
    } else {
        vec![None]
    };
    let mut cells = Vec::new();
    for &mix in &mixes {
        for &kind in &spec.kinds {
            for layout in &spec.layouts {
                for &policy in &spec.policies {
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

/// Which part of a grid a run computes: cells whose index is `index - 1`
/// modulo `count` (so every shard gets a spread of the grid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridShard {
    /// One-based shard number.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

/// The text is not `K/N` with 1 <= K <= N.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad shard `{0}`: expected K/N with 1 <= K <= N, e.g. 2/8")]
pub struct BadShard(pub String);

impl GridShard {
    /// The whole grid.
    pub const ALL: GridShard = GridShard { index: 1, count: 1 };

    /// Whether cell `index` belongs to this shard.
    pub fn contains(self, index: usize) -> bool {
        index % self.count as usize == (self.index - 1) as usize
    }
}

impl fmt::Display for GridShard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for GridShard {
    type Err = BadShard;

    /// `K/N` with 1 <= K <= N.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = || BadShard(text.to_string());
        let (k, n) = text.split_once('/').ok_or_else(fail)?;
        let (index, count): (u32, u32) = (
            k.trim().parse().map_err(|_| fail())?,
            n.trim().parse().map_err(|_| fail())?,
        );
        if index == 0 || count == 0 || index > count {
            return Err(fail());
        }
        Ok(GridShard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_grid() {
        let shards: Vec<GridShard> = (1..=3).map(|k| format!("{k}/3").parse().unwrap()).collect();
        for cell in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.contains(cell)).count(), 1);
        }
        for bad in ["3/2", "0/2", "1/0", "1", "a/b", "1/2/3"] {
            assert!(bad.parse::<GridShard>().is_err(), "{bad}");
        }
    }
}
