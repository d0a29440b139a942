//! Placement policies in the filter-then-score shape of the Kubernetes
//! scheduler framework: a filter says whether a partition may take the
//! replica, a score ranks the candidates (higher wins, ties to the lowest
//! GPU then partition index), and a scope says how far the search goes.

use std::fmt;
use std::str::FromStr;

use crate::hardware::MIN_PARTITION;
use crate::partition::Partition;
use crate::units::Mib;
use crate::workload::DemandMix;

/// A placement policy, chosen by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Policy {
    /// The AIM runtime's rule: partitions with at least `min_partition_gb`
    /// free that fit, most free memory first (worst fit), on the first GPU
    /// in index order that has one.
    Aim,
    /// The first partition that fits, GPUs and partitions in index order.
    FirstFit,
    /// The partition anywhere in the fleet that fits with the least memory
    /// left over.
    BestFit,
    /// The partition anywhere in the fleet whose expected fragmentation grows
    /// least (in the spirit of Fragmentation Gradient Descent, USENIX ATC'23):
    /// a partition with `f` free is expected to strand `f x P(size > f)` of
    /// it, with sizes drawn from the workload's demand mix. Ties go to the
    /// least memory left over.
    FragAware,
}

/// How far a policy looks for candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Visit GPUs in index order; score only the first GPU that has a
    /// candidate.
    FirstGpuWithCandidate,
    /// Score every candidate in the fleet.
    WholeFleet,
}

impl Policy {
    /// Every policy, in the order they are listed to users.
    pub const ALL: [Policy; 4] = [
        Policy::Aim,
        Policy::FirstFit,
        Policy::BestFit,
        Policy::FragAware,
    ];

    /// The name users type: `aim`, `first-fit`, `best-fit`, `frag-aware`.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Aim => "aim",
            Policy::FirstFit => "first-fit",
            Policy::BestFit => "best-fit",
            Policy::FragAware => "frag-aware",
        }
    }

    /// How far the search goes.
    pub fn scope(self) -> Scope {
        match self {
            Policy::Aim | Policy::FirstFit => Scope::FirstGpuWithCandidate,
            Policy::BestFit | Policy::FragAware => Scope::WholeFleet,
        }
    }

    /// Whether `partition` may take `size` under this policy.
    #[inline]
    pub fn filter(self, partition: &Partition, size: Mib) -> bool {
        let free = partition.free();
        match self {
            // The runtime only offers partitions with min_partition_gb free.
            Policy::Aim => free >= size && free >= MIN_PARTITION,
            Policy::FirstFit | Policy::BestFit | Policy::FragAware => free >= size,
        }
    }

    /// Rank of a candidate that passed the filter; higher wins. `mix` is the
    /// workload's demand mix (only `frag-aware` reads it).
    #[inline]
    pub fn score(self, partition: &Partition, size: Mib, mix: &DemandMix) -> i128 {
        let free = partition.free();
        let left = i128::from((free - size).0);
        match self {
            Policy::Aim => i128::from(free.0),
            // Every candidate ties, so the lowest index wins.
            Policy::FirstFit => 0,
            Policy::BestFit => -left,
            Policy::FragAware => {
                let before = expected_stranded(free, mix);
                let after = expected_stranded(free - size, mix);
                // Less growth first, then less left over (left < 2^32 MiB).
                (before - after) * (1 << 32) - left
            }
        }
    }
}

/// `free x weight(size > free)`: free memory a request drawn from `mix` is
/// expected to find unusable, in MiB x weight units.
fn expected_stranded(free: Mib, mix: &DemandMix) -> i128 {
    i128::from(free.0) * i128::from(mix.weight_larger_than(free))
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// The text names no policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown policy `{0}`; expected one of aim, first-fit, best-fit, frag-aware")]
pub struct UnknownPolicy(pub String);

impl FromStr for Policy {
    type Err = UnknownPolicy;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownPolicy(text.to_string()))
    }
}
