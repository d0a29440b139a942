//! Placement policies as plugins, in the filter-then-score shape of the
//! Kubernetes scheduler framework: a filter says whether a partition may
//! take the replica, a score ranks the candidates (higher wins, ties to the
//! lowest GPU then partition index), and a scope says how far the search
//! goes. A policy may also answer from the fleet index instead of a scan.
//!
//! Each policy is one file here implementing [`PlacementPolicy`]; the
//! `registry!` invocation below is the only list of policies: the [`Policy`]
//! names users type, help text, error messages and the documentation tests
//! all read it. Dispatch is static: the scheduler matches once per request
//! on the registered policy and runs code compiled for that policy.
//!
//! # Adding a policy
//!
//! 1. Write `src/schedule/policies/NAME.rs` with a unit struct (or one that
//!    holds what it scores with, as `frag-aware` holds its demand mix) and
//!    `impl PlacementPolicy` for it: `NAME`, `SUMMARY`, `SCOPE`,
//!    `index_order` (the fleet index's order its `search_index` reads),
//!    `configure`, `score`, and where the defaults do not fit, `filter`,
//!    `strands_below`, `pick_on_gpu`, `search_index`, `NODE_RULE` and
//!    `INDEX_FROM_GPUS` (measure it: `cargo bench --bench scheduler --
//!    crossover`).
//! 2. Add one line to the `registry!` below: `Variant => module::Struct`.
//! 3. Add its rule to the oracle in `tests/all/scheduler_properties.rs`
//!    (`oracle_gpu`): a plain re-reading of the rule every placement is
//!    checked against. `tests/all/index_properties.rs` then checks that an
//!    indexed search decides exactly as the scan, and
//!    `tests/all/documentation.rs` that the README's policy table lists it.

mod aim;
mod best_fit;
mod first_fit;
mod frag_aware;
mod spread;

use std::fmt;
use std::str::FromStr;

use crate::hardware::MAX_PARTITIONS;
use crate::partition::{GpuState, Partition};
use crate::units::Mib;

use super::demand_mix::DemandMix;
use super::index::{FleetIndex, IndexOrder};
use super::node::NodeRule;

/// How far a policy looks for candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Visit GPUs in index order; score only the first GPU that has a
    /// candidate.
    FirstGpuWithCandidate,
    /// Score every candidate in the fleet.
    WholeFleet,
}

/// The partitions a policy picks on one GPU, and how it ranks that pick
/// against other GPUs' picks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GpuPick {
    /// Higher wins; ties go to the lower GPU index.
    pub score: i128,
    /// Partition indexes (below [`MAX_PARTITIONS`]), in the order picked.
    pub partitions: [u8; MAX_PARTITIONS],
    /// How many of `partitions` are used.
    pub len: u8,
}

impl GpuPick {
    /// A pick of the single partition `partition`, ranked `score`.
    pub fn one(partition: u32, score: i128) -> GpuPick {
        let mut partitions = [0; MAX_PARTITIONS];
        partitions[0] = partition as u8;
        GpuPick {
            score,
            partitions,
            len: 1,
        }
    }

    /// An empty pick of `k` partitions, to fill in.
    pub fn of(k: usize) -> GpuPick {
        GpuPick {
            score: 0,
            partitions: [0; MAX_PARTITIONS],
            len: k as u8,
        }
    }

    /// The partitions picked.
    pub fn picked(&self) -> impl Iterator<Item = u32> + '_ {
        self.partitions[..self.len as usize]
            .iter()
            .map(|&p| u32::from(p))
    }
}

/// What the fleet index says about a search.
pub(crate) enum IndexAnswer {
    /// The index decided: this GPU and pick, or nothing fits.
    Decided(Option<(u32, GpuPick)>),
    /// The index cannot answer this search for this policy: scan.
    Unsupported,
}

/// The fleet as the index sees it, for [`PlacementPolicy::search_index`].
pub(crate) struct IndexedFleet<'a> {
    /// The index over `gpus`.
    pub index: &'a FleetIndex,
    /// Every GPU, by index.
    pub gpus: &'a [GpuState],
}

/// One placement policy. Implementations are registered in `registry!`.
pub(crate) trait PlacementPolicy {
    /// The name users type (`best-fit`).
    const NAME: &'static str;
    /// One line for help text and documentation.
    const SUMMARY: &'static str;
    /// How far the search goes.
    const SCOPE: Scope;
    /// Which node a gang (a replica on several GPUs of one node) goes to,
    /// among those that can take it: by default the tightest, which keeps
    /// empty nodes whole for large gangs.
    const NODE_RULE: NodeRule = NodeRule::Tightest;
    /// Fleets this large search through the fleet index under
    /// `SearchMode::Auto`; smaller ones scan, which is cheaper than the
    /// index's upkeep there. Each policy's figure is its measured crossover
    /// (BENCHMARKS.md, `crossover-scan` against `crossover-index`): the
    /// smallest fleet measured from which the index costs less than the
    /// scan averaged over a half-full and a nine-tenths-full fleet; by
    /// default the smallest measured (`spread`, whose scan scores every
    /// GPU: 3x the index's cost at 32 GPUs).
    const INDEX_FROM_GPUS: usize = 32;

    /// The order of the fleet index that `search_index` reads (the index
    /// keeps only that one).
    fn index_order(&self) -> IndexOrder;

    /// The policy for a workload whose demands are `mix` (most policies
    /// ignore it).
    fn configure(mix: &DemandMix) -> Self
    where
        Self: Sized;

    /// Free memory below this in a partition can host nothing: the smallest
    /// request the workload makes, unless the policy never offers smaller
    /// partitions.
    fn strands_below(&self, smallest_request: Mib) -> Mib {
        smallest_request
    }

    /// Whether `partition` may take `size`.
    #[inline]
    fn filter(&self, partition: &Partition, size: Mib) -> bool {
        partition.free() >= size
    }

    /// Rank of a candidate partition that passed the filter; higher wins.
    fn score(&self, partition: &Partition, size: Mib) -> i128;

    /// The policy's pick of `k` partitions of `size` on `gpu`, or `None` if
    /// fewer than `k` pass the filter. By default the `k` best-scoring
    /// candidates, ranked by the sum of their scores.
    #[inline]
    fn pick_on_gpu(&self, gpu: &GpuState, size: Mib, k: usize) -> Option<GpuPick>
    where
        Self: Sized,
    {
        best_scoring(self, gpu, size, k)
    }

    /// The choice of a GPU (not one `excluded` holds for) and its pick,
    /// answered from the fleet index; by default unsupported (the scan
    /// decides).
    fn search_index(
        &self,
        _fleet: &IndexedFleet<'_>,
        _size: Mib,
        _k: usize,
        _excluded: &dyn Fn(u32) -> bool,
    ) -> IndexAnswer {
        IndexAnswer::Unsupported
    }
}

/// The `k` candidates of `gpu` with the highest scores (lowest index among
/// equals), ranked by the sum of their scores.
#[inline]
pub(crate) fn best_scoring<P: PlacementPolicy>(
    policy: &P,
    gpu: &GpuState,
    size: Mib,
    k: usize,
) -> Option<GpuPick> {
    if k == 1 {
        best_scoring_one(policy, gpu, size)
    } else {
        best_scoring_several(policy, gpu, size, k)
    }
}

/// [`best_scoring`] for one partition: one pass, no sort, the first of the
/// highest scores (inlined: it is most of a one-GPU search).
#[inline(always)]
fn best_scoring_one<P: PlacementPolicy>(policy: &P, gpu: &GpuState, size: Mib) -> Option<GpuPick> {
    let mut best: Option<(i128, u32)> = None;
    for (index, partition) in gpu.partitions().iter().enumerate() {
        if policy.filter(partition, size) {
            let score = policy.score(partition, size);
            if best.is_none_or(|(top, _)| score > top) {
                best = Some((score, index as u32));
            }
        }
    }
    best.map(|(score, index)| GpuPick::one(index, score))
}

/// [`best_scoring`] for `k` > 1 partitions: the candidates sorted.
fn best_scoring_several<P: PlacementPolicy>(
    policy: &P,
    gpu: &GpuState,
    size: Mib,
    k: usize,
) -> Option<GpuPick> {
    let mut candidates = [(0i128, 0u32); MAX_PARTITIONS];
    let mut n = 0;
    for (index, partition) in gpu.partitions().iter().enumerate() {
        if policy.filter(partition, size) {
            candidates[n] = (policy.score(partition, size), index as u32);
            n += 1;
        }
    }
    if n < k {
        return None;
    }
    // Highest score first, lowest index among equals.
    candidates[..n].sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut pick = GpuPick::of(k);
    for (slot, &(score, index)) in candidates[..k].iter().enumerate() {
        pick.score += score;
        pick.partitions[slot] = index as u8;
    }
    Some(pick)
}

/// The first GPU in index order with `k` partitions of at least `threshold`
/// free (one descent of the index), and the policy's pick on it.
pub(crate) fn first_gpu_with_room<P: PlacementPolicy>(
    policy: &P,
    fleet: &IndexedFleet<'_>,
    threshold: Mib,
    size: Mib,
    k: usize,
    excluded: &dyn Fn(u32) -> bool,
) -> IndexAnswer {
    let mut start = 0;
    while let Some(gpu) = fleet.index.first_gpu(start, k, threshold) {
        if !excluded(gpu) {
            let pick = policy.pick_on_gpu(&fleet.gpus[gpu as usize], size, k);
            return IndexAnswer::Decided(pick.map(|p| (gpu, p)));
        }
        start = gpu + 1;
    }
    IndexAnswer::Decided(None)
}

/// The choice of a policy whose pick on a GPU is the `k` best-scoring
/// partitions ([`best_scoring`]) and whose partition score depends on the
/// partition's free memory alone, answered from the index: `values` are
/// free values of at least `size` with the score a partition holding each
/// would get, best first (non-increasing score), covering every free value
/// of the fleet's partitions that fits.
///
/// GPUs are visited value by value, each GPU holding a partition with that
/// value in index order, and ranked exactly with the policy's own pick. A
/// GPU's pick scores at most `k` times its best partition's score, so once
/// `k` times a value's score falls below the best pick found, no GPU not
/// yet visited can win; at equality only a lower-index GPU could (ties go
/// to the lower index). Decisions are the scan's; the work is the GPUs
/// holding the best-ranked values (a scan's worth at worst).
pub(crate) fn best_by_value_rank<P: PlacementPolicy>(
    policy: &P,
    fleet: &IndexedFleet<'_>,
    size: Mib,
    k: usize,
    excluded: &dyn Fn(u32) -> bool,
    values: impl IntoIterator<Item = (i128, Mib)>,
) -> Option<(u32, GpuPick)> {
    let mut best: Option<(u32, GpuPick)> = None;
    for (score, free) in values {
        let bound = score * k as i128;
        if best.is_some_and(|(_, top)| bound < top.score) {
            break;
        }
        fleet.index.for_each_gpu_with_free(free, |gpu| {
            if let Some((best_gpu, top)) = best {
                if bound == top.score && gpu > best_gpu {
                    return false;
                }
            }
            if excluded(gpu) {
                return true;
            }
            keep_better(
                &mut best,
                gpu,
                policy.pick_on_gpu(&fleet.gpus[gpu as usize], size, k),
            );
            true
        });
    }
    best
}

/// Makes `best` the pick of `gpu` if it has one that beats `best`: a higher
/// score, or the same on a lower-index GPU (as the scan ranks).
pub(crate) fn keep_better(best: &mut Option<(u32, GpuPick)>, gpu: u32, pick: Option<GpuPick>) {
    let Some(pick) = pick else {
        return;
    };
    let better = best.is_none_or(|(best_gpu, top)| {
        pick.score > top.score || (pick.score == top.score && gpu < best_gpu)
    });
    if better {
        *best = Some((gpu, pick));
    }
}

/// Code run with the registered policy's own type (static dispatch).
pub(crate) trait WithPolicy {
    /// What the code returns.
    type Output;
    /// Runs with `policy`.
    fn run<P: PlacementPolicy>(self, policy: &P) -> Self::Output;
}

/// Declares the registered policies: the [`Policy`] names and the
/// [`ConfiguredPolicy`] that holds one, configured for a workload.
macro_rules! registry {
    ($($(#[$doc:meta])* $variant:ident => $module:ident :: $plugin:ident,)+) => {
        /// A placement policy, chosen by name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Policy {
            $($(#[$doc])* $variant,)+
        }

        impl Policy {
            /// Every policy, in the order they are listed to users.
            pub const ALL: [Policy; [$(Policy::$variant),+].len()] = [$(Policy::$variant),+];

            /// The name users type.
            pub fn name(self) -> &'static str {
                match self {
                    $(Policy::$variant => <$module::$plugin as PlacementPolicy>::NAME,)+
                }
            }

            /// One line saying what the policy does.
            pub fn summary(self) -> &'static str {
                match self {
                    $(Policy::$variant => <$module::$plugin as PlacementPolicy>::SUMMARY,)+
                }
            }

            /// How far the policy's search goes.
            pub fn scope(self) -> Scope {
                match self {
                    $(Policy::$variant => <$module::$plugin as PlacementPolicy>::SCOPE,)+
                }
            }

            /// Fleets from this many GPUs search through the fleet index
            /// under `SearchMode::Auto`.
            pub fn index_from_gpus(self) -> usize {
                match self {
                    $(Policy::$variant => <$module::$plugin as PlacementPolicy>::INDEX_FROM_GPUS,)+
                }
            }

            /// Which node a gang goes to among those that can take it.
            pub fn node_rule(self) -> NodeRule {
                match self {
                    $(Policy::$variant => <$module::$plugin as PlacementPolicy>::NODE_RULE,)+
                }
            }

            /// The policy, configured for a workload whose demands are `mix`
            /// (`frag-aware` scores with it; the others ignore it).
            pub fn configure(self, mix: &DemandMix) -> ConfiguredPolicy {
                ConfiguredPolicy(match self {
                    $(Policy::$variant => Plugin::$variant(
                        <$module::$plugin as PlacementPolicy>::configure(mix),
                    ),)+
                })
            }
        }

        /// A registered policy's own value.
        #[derive(Debug, Clone)]
        enum Plugin {
            $($variant($module::$plugin),)+
        }

        impl ConfiguredPolicy {
            /// Its name.
            pub fn policy(&self) -> Policy {
                match &self.0 {
                    $(Plugin::$variant(_) => Policy::$variant,)+
                }
            }

            /// Runs `code` with the policy's own type.
            #[inline]
            pub(crate) fn with<W: WithPolicy>(&self, code: W) -> W::Output {
                match &self.0 {
                    $(Plugin::$variant(policy) => code.run(policy),)+
                }
            }
        }
    };
}

registry! {
    /// The AIM runtime's rule: partitions with at least `min_partition_gb`
    /// free that fit, most free memory first (worst fit), on the first GPU
    /// in index order that has one.
    Aim => aim::Aim,
    /// The first partition that fits, GPUs and partitions in index order.
    FirstFit => first_fit::FirstFit,
    /// The partition anywhere in the fleet that fits with the least memory
    /// left over.
    BestFit => best_fit::BestFit,
    /// The placement anywhere in the fleet that grows the GPU's expected
    /// stranded memory least, after Fragmentation Gradient Descent ("Beware
    /// of Fragmentation", USENIX ATC'23); ties to the least left over.
    FragAware => frag_aware::FragAware,
    /// The GPU with the most free memory in the fleet, then its partition
    /// with the most free memory: keeps replicas apart.
    Spread => spread::Spread,
}

/// A policy configured for a workload, as a scheduler runs it.
#[derive(Debug, Clone)]
pub struct ConfiguredPolicy(Plugin);

impl ConfiguredPolicy {
    /// The order of the fleet index the policy reads.
    pub(crate) fn index_order(&self) -> IndexOrder {
        struct Order;
        impl WithPolicy for Order {
            type Output = IndexOrder;
            fn run<P: PlacementPolicy>(self, policy: &P) -> IndexOrder {
                policy.index_order()
            }
        }
        self.with(Order)
    }

    /// Free memory below this in a partition can host nothing under this
    /// policy, for a workload whose smallest request is `smallest_request`.
    pub fn strands_below(&self, smallest_request: Mib) -> Mib {
        struct StrandsBelow(Mib);
        impl WithPolicy for StrandsBelow {
            type Output = Mib;
            fn run<P: PlacementPolicy>(self, policy: &P) -> Mib {
                policy.strands_below(self.0)
            }
        }
        self.with(StrandsBelow(smallest_request))
    }
}

impl From<Policy> for ConfiguredPolicy {
    /// The policy with no knowledge of the workload (an empty demand mix:
    /// `frag-aware` then ranks by left-over memory alone).
    fn from(policy: Policy) -> Self {
        policy.configure(&DemandMix::default())
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// The text names no registered policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown policy `{0}`; expected one of {names}", names = Policy::names())]
pub struct UnknownPolicy(pub String);

impl Policy {
    /// The registered names, comma-separated: `aim, first-fit, ...`.
    pub fn names() -> String {
        Policy::ALL.map(Policy::name).join(", ")
    }
}

impl FromStr for Policy {
    type Err = UnknownPolicy;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownPolicy(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        for policy in Policy::ALL {
            assert_eq!(policy.name().parse::<Policy>(), Ok(policy));
            assert_eq!(policy.configure(&DemandMix::default()).policy(), policy);
            assert!(!policy.summary().is_empty());
        }
        let mut names: Vec<&str> = Policy::ALL.iter().map(|p| p.name()).collect();
        names.dedup();
        assert_eq!(names.len(), Policy::ALL.len());
        let err = "no-such-policy".parse::<Policy>().unwrap_err().to_string();
        assert!(err.contains("spread") && err.contains("aim"), "{err}");
    }

    /// Four CPX GPUs with 24 GiB partitions, charged so that two partitions
    /// of 10 GiB fit best on GPU 2 (two partitions with 12 GiB free: 4 GiB
    /// left over) and next on GPUs 1 and 3 (one 12, one 24: 16 left over).
    fn fleet_for_two_partitions(order: IndexOrder) -> (Vec<GpuState>, FleetIndex) {
        let cpx: crate::hardware::Layout = "CPX/NPS4"
            .parse::<crate::hardware::LayoutSpec>()
            .unwrap()
            .build(crate::hardware::GpuKind::Mi300x)
            .unwrap();
        let charges: [&[(usize, u64)]; 4] = [
            &[
                (0, 20),
                (1, 20),
                (2, 20),
                (3, 20),
                (4, 20),
                (5, 20),
                (6, 20),
                (7, 20),
            ],
            &[(0, 12)],
            &[(3, 12), (5, 12)],
            &[(1, 12)],
        ];
        let mut gpus = Vec::new();
        let mut index = FleetIndex::new(order);
        for charged in charges {
            let mut gpu = GpuState::new(&cpx);
            for &(partition, gib) in charged {
                gpu.allocate(partition, Mib::gib(gib)).unwrap();
            }
            index.add_gpu(&gpu, true);
            gpus.push(gpu);
        }
        (gpus, index)
    }

    #[test]
    fn the_index_answers_best_fit_and_frag_aware_for_several_partitions_of_a_gpu() {
        let (gpus, index) = fleet_for_two_partitions(IndexOrder::Free);
        let fleet = IndexedFleet {
            index: &index,
            gpus: &gpus,
        };
        let size = Mib::gib(10);
        let none = |_: u32| false;
        let additive = frag_aware::FragAware::configure(&DemandMix::default());
        let answers = [
            best_fit::BestFit.search_index(&fleet, size, 2, &none),
            additive.search_index(&fleet, size, 2, &none),
        ];
        for answer in answers {
            let IndexAnswer::Decided(Some((gpu, pick))) = answer else {
                panic!("the index should decide a two-partition request");
            };
            assert_eq!(gpu, 2);
            assert_eq!(pick.picked().collect::<Vec<_>>(), [3, 5]);
        }
        // Without GPU 2, GPUs 1 and 3 tie: the lower index wins.
        let IndexAnswer::Decided(Some((gpu, _))) =
            best_fit::BestFit.search_index(&fleet, size, 2, &|g| g == 2)
        else {
            panic!("the index should decide");
        };
        assert_eq!(gpu, 1);
        // Nine partitions of one GPU: no GPU has them.
        assert!(matches!(
            best_fit::BestFit.search_index(&fleet, size, 9, &none),
            IndexAnswer::Decided(None)
        ));
    }

    #[test]
    fn the_index_answers_frag_aware_by_gpu_state_when_the_mix_asks_several_partitions() {
        let (gpus, index) = fleet_for_two_partitions(IndexOrder::State);
        let fleet = IndexedFleet {
            index: &index,
            gpus: &gpus,
        };
        let grouped = crate::schedule::Demand {
            partitions: 2,
            ..crate::schedule::Demand::single(Mib::gib(12))
        };
        let mix = DemandMix::new(vec![
            (crate::schedule::Demand::single(Mib::gib(10)), 3),
            (grouped, 1),
        ]);
        let policy = frag_aware::FragAware::configure(&mix);
        assert_eq!(policy.index_order(), IndexOrder::State);
        let online = vec![true; gpus.len()];
        let size = Mib::gib(10);
        let decide = |k: usize, excluded: &dyn Fn(u32) -> bool| {
            let IndexAnswer::Decided(answer) = policy.search_index(&fleet, size, k, excluded)
            else {
                panic!("the index should decide");
            };
            let scanned = crate::schedule::search::scan(
                &policy,
                &crate::schedule::search::Search {
                    gpus: &gpus,
                    online: &online,
                    index: None,
                    size,
                    k,
                    excluded,
                },
            );
            let seen = |found: Option<(u32, GpuPick)>| {
                found.map(|(gpu, pick)| (gpu, pick.picked().collect::<Vec<_>>(), pick.score))
            };
            assert_eq!(seen(answer), seen(scanned), "k = {k}");
            answer.map(|(gpu, _)| gpu)
        };
        for k in 1..=3 {
            decide(k, &|_| false);
        }
        // GPUs 1 and 3 are in one state (one partition with 12 GiB free,
        // seven with 24): without GPU 2 the lower wins, without 1 and 2
        // the next in that state.
        assert_eq!(decide(2, &|g| g == 2 || g == 0), Some(1));
        assert_eq!(decide(2, &|g| g <= 2), Some(3));
        assert_eq!(decide(9, &|_| false), None);
    }
}
