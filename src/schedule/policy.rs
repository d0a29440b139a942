//! Placement policies in the filter-then-score shape of the Kubernetes
//! scheduler framework: a filter says whether a partition may take the
//! replica, a score ranks the candidates (higher wins, ties to the lowest
//! GPU then partition index), and a scope says how far the search goes.

use std::fmt;
use std::str::FromStr;

use crate::hardware::MIN_PARTITION;
use crate::partition::Partition;
use crate::units::Mib;

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
    /// The placement anywhere in the fleet that grows the GPU's expected
    /// stranded memory least, after Fragmentation Gradient Descent ("Beware
    /// of Fragmentation", USENIX ATC'23): the memory a request drawn from
    /// the workload's demand mix could not use (see
    /// [`DemandMix::expected_stranded`](crate::workload::DemandMix::expected_stranded)).
    /// Ties go to the least memory left over, as best-fit.
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

    /// Free memory below this in a partition can host nothing: the smallest
    /// request the workload makes, or for `aim` at least the runtime's
    /// `min_partition_gb`, below which it never offers a partition.
    pub fn strands_below(self, smallest_request: Mib) -> Mib {
        match self {
            Policy::Aim => smallest_request.max(MIN_PARTITION),
            Policy::FirstFit | Policy::BestFit | Policy::FragAware => smallest_request,
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

    /// Rank of a candidate partition that passed the filter; higher wins.
    /// For `frag-aware` this is only the tie-breaker: the scheduler ranks by
    /// the change in the GPU's expected stranded memory first.
    #[inline]
    pub fn score(self, partition: &Partition, size: Mib) -> i128 {
        let free = partition.free();
        match self {
            Policy::Aim => i128::from(free.0),
            // Every candidate ties, so the lowest index wins.
            Policy::FirstFit => 0,
            Policy::BestFit | Policy::FragAware => -i128::from((free - size).0),
        }
    }
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
