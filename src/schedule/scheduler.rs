//! The scheduler: places and frees replicas on a set of partitioned GPUs
//! and keeps the books of what is charged where.

use crate::hardware::Layout;
use crate::partition::GpuState;
use crate::units::Mib;

use super::index::FleetIndex;
use super::policies::{ConfiguredPolicy, GpuPick, Policy};
use super::request::{
    PartitionRef, Placement, PlacementRequest, RejectReason, Rejection, ReplicaId, Shard,
    MAX_SHARDS,
};
use super::search::Search;

/// Places replicas on a set of partitioned GPUs with one policy, frees
/// them, and keeps every GPU's books and every live replica.
#[derive(Debug, Clone)]
pub struct Scheduler {
    policy: ConfiguredPolicy,
    gpus: Vec<GpuState>,
    online: Vec<bool>,
    largest_partition: Mib,
    most_partitions: u32,
    /// Each distinct layout (partition capacities) and how many GPUs have it.
    layouts: Vec<(Vec<Mib>, u32)>,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    live: usize,
    search: SearchMode,
    index: Option<FleetIndex>,
}

/// How the scheduler finds candidates. Decisions are the same either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchMode {
    /// A plain scan on fleets under [`INDEX_FROM_GPUS`] GPUs, the fleet
    /// index from there on (the default).
    Auto,
    /// Always the fleet index.
    Indexed,
    /// Always the plain scan (the reference the index is tested against).
    Scan,
}

/// Fleets this large get the fleet index under [`SearchMode::Auto`]; below,
/// a scan of a few partitions is cheaper than keeping an index.
pub const INDEX_FROM_GPUS: usize = 64;

/// Storage for one replica id; reused with a new generation once freed.
#[derive(Debug, Clone)]
struct Slot {
    generation: u32,
    placement: Option<Placement>,
}

/// `unschedule` was given an id that is not live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("replica {0} is not live (never placed, or already freed)")]
pub struct UnscheduleError(pub ReplicaId);

/// A GPU cannot be taken out of service or brought back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OnlineError {
    /// The index names no GPU.
    #[error("gpu {0} does not exist")]
    NoSuchGpu(u32),
    /// Only an empty GPU can go offline.
    #[error("gpu {0} still holds a replica")]
    Busy(u32),
}

impl Scheduler {
    /// An empty set of GPUs, one per layout, in order, placed on with
    /// `policy` (a [`Policy`] or one configured for a workload).
    pub fn new<'a>(
        policy: impl Into<ConfiguredPolicy>,
        layouts: impl IntoIterator<Item = &'a Layout>,
    ) -> Scheduler {
        let mut scheduler = Scheduler {
            policy: policy.into(),
            gpus: Vec::new(),
            online: Vec::new(),
            largest_partition: Mib::ZERO,
            most_partitions: 0,
            layouts: Vec::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            live: 0,
            search: SearchMode::Auto,
            index: None,
        };
        for layout in layouts {
            scheduler.add_gpu(layout);
        }
        scheduler
    }

    /// `count` identical GPUs.
    pub fn uniform(
        policy: impl Into<ConfiguredPolicy>,
        layout: &Layout,
        count: usize,
    ) -> Scheduler {
        Scheduler::new(policy, std::iter::repeat_n(layout, count))
    }

    /// Adds an empty, online GPU at the end of the fleet and returns its index.
    pub fn add_gpu(&mut self, layout: &Layout) -> u32 {
        self.largest_partition = self.largest_partition.max(layout.largest_partition());
        self.most_partitions = self.most_partitions.max(layout.partitions().len() as u32);
        match self
            .layouts
            .iter_mut()
            .find(|(capacities, _)| capacities == layout.partitions())
        {
            Some((_, gpus)) => *gpus += 1,
            None => self.layouts.push((layout.partitions().to_vec(), 1)),
        }
        self.gpus.push(GpuState::new(layout));
        self.online.push(true);
        let index = (self.gpus.len() - 1) as u32;
        match &mut self.index {
            Some(fleet_index) => fleet_index.add_gpu(&self.gpus[index as usize], true),
            None => self.refresh_index(),
        }
        index
    }

    /// Chooses how candidates are found (for benchmarks and the tests that
    /// compare the index with the scan).
    pub fn with_search(mut self, mode: SearchMode) -> Scheduler {
        self.search = mode;
        self.index = None;
        self.refresh_index();
        self
    }

    /// Builds the index when the mode and fleet size call for one.
    fn refresh_index(&mut self) {
        let wanted = match self.search {
            SearchMode::Auto => self.gpus.len() >= INDEX_FROM_GPUS,
            SearchMode::Indexed => true,
            SearchMode::Scan => false,
        };
        if wanted && self.index.is_none() {
            let mut index = FleetIndex::default();
            for (gpu, &online) in self.gpus.iter().zip(&self.online) {
                index.add_gpu(gpu, online);
            }
            self.index = Some(index);
        }
    }

    /// Tells the index that GPU `gpu` changed.
    fn reindex(&mut self, gpu: u32) {
        if let Some(index) = &mut self.index {
            index.update(gpu, &self.gpus[gpu as usize], self.online[gpu as usize]);
        }
    }

    /// Takes an empty GPU out of service (an elastic fleet releasing it) or
    /// brings it back. An offline GPU is never offered to a request. Fails,
    /// changing nothing, if the GPU does not exist or still holds a replica.
    pub fn set_online(&mut self, gpu: u32, online: bool) -> Result<(), OnlineError> {
        let state = self
            .gpus
            .get(gpu as usize)
            .ok_or(OnlineError::NoSuchGpu(gpu))?;
        if !online && state.is_busy() {
            return Err(OnlineError::Busy(gpu));
        }
        self.online[gpu as usize] = online;
        self.reindex(gpu);
        Ok(())
    }

    /// Whether the GPU is in service.
    pub fn is_online(&self, gpu: u32) -> bool {
        self.online[gpu as usize]
    }

    /// GPUs in service.
    pub fn online_gpus(&self) -> usize {
        self.online.iter().filter(|&&o| o).count()
    }

    /// The policy in use.
    pub fn policy(&self) -> Policy {
        self.policy.policy()
    }

    /// Free memory below this in a partition can host nothing, for a
    /// workload whose smallest request is `smallest_request` (see
    /// [`ConfiguredPolicy::strands_below`]).
    pub fn strands_below(&self, smallest_request: Mib) -> Mib {
        self.policy.strands_below(smallest_request)
    }

    /// The GPUs, by index.
    pub fn gpus(&self) -> &[GpuState] {
        &self.gpus
    }

    /// Live replicas.
    pub fn live_replicas(&self) -> usize {
        self.live
    }

    /// GPUs holding at least one replica.
    pub fn gpus_in_use(&self) -> usize {
        self.gpus.iter().filter(|g| g.is_busy()).count()
    }

    /// Places a replica or says why not. On rejection nothing changes.
    pub fn schedule(&mut self, request: &PlacementRequest) -> Result<Placement, Rejection> {
        let mut shards = [Shard {
            at: PartitionRef {
                gpu: 0,
                partition: 0,
            },
            size: Mib::ZERO,
        }; MAX_SHARDS];
        let count = self.choose(request, &mut shards).map_err(Rejection::new)?;
        for (i, shard) in shards[..count].iter().enumerate() {
            self.gpus[shard.at.gpu as usize]
                .allocate(shard.at.partition as usize, shard.size)
                .expect("a chosen partition passed the fit filter");
            if shards[i + 1..count]
                .iter()
                .all(|s| s.at.gpu != shard.at.gpu)
            {
                self.reindex(shard.at.gpu);
            }
        }
        let replica = self.take_slot();
        let placement = Placement::new(replica, &shards[..count]);
        self.slots[replica.slot as usize].placement = Some(placement);
        self.live += 1;
        Ok(placement)
    }

    /// Frees a live replica; returns where it was, with exactly the sizes
    /// that are now refunded.
    pub fn unschedule(&mut self, replica: ReplicaId) -> Result<Placement, UnscheduleError> {
        let slot = self
            .slots
            .get_mut(replica.slot as usize)
            .filter(|s| s.generation == replica.generation)
            .ok_or(UnscheduleError(replica))?;
        let placement = slot.placement.take().ok_or(UnscheduleError(replica))?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free_slots.push(replica.slot);
        self.live -= 1;
        let shards = placement.shards();
        for (i, shard) in shards.iter().enumerate() {
            self.gpus[shard.at.gpu as usize]
                .free(shard.at.partition as usize, shard.size)
                .expect("a live replica's shards are charged");
            if shards[i + 1..].iter().all(|s| s.at.gpu != shard.at.gpu) {
                self.reindex(shard.at.gpu);
            }
        }
        Ok(placement)
    }

    /// Where a live replica is.
    pub fn placement(&self, replica: ReplicaId) -> Option<&Placement> {
        self.slots
            .get(replica.slot as usize)
            .filter(|s| s.generation == replica.generation)
            .and_then(|s| s.placement.as_ref())
    }

    /// Every live replica, in id-slot order.
    pub fn placements(&self) -> impl Iterator<Item = &Placement> {
        self.slots.iter().filter_map(|s| s.placement.as_ref())
    }

    /// Chooses `partitions` partitions on each of `gpu_count` distinct
    /// GPUs, filling `shards`; returns how many shards, or why none.
    fn choose(
        &self,
        request: &PlacementRequest,
        shards: &mut [Shard; MAX_SHARDS],
    ) -> Result<usize, RejectReason> {
        let demand = request.demand;
        if demand.size == Mib::ZERO || demand.gpu_count == 0 || demand.partitions == 0 {
            return Err(RejectReason::EmptyDemand);
        }
        if demand.shards() > MAX_SHARDS as u64 {
            return Err(RejectReason::TooManyShards {
                requested: demand.shards(),
            });
        }
        let preferred = match request.preferred {
            Some(_) if demand.partitions > 1 => {
                return Err(RejectReason::PreferredWithSeveralPartitions)
            }
            Some(at) => {
                let exists = self
                    .gpus
                    .get(at.gpu as usize)
                    .is_some_and(|g| (at.partition as usize) < g.partitions().len());
                if !exists {
                    return Err(RejectReason::NoSuchPartition { preferred: at });
                }
                let partition = &self.gpus[at.gpu as usize].partitions()[at.partition as usize];
                (self.online[at.gpu as usize] && partition.free() >= demand.size).then_some(at)
            }
            None => None,
        };
        if demand.size > self.largest_partition {
            return Err(RejectReason::LargerThanAnyPartition {
                size: demand.size,
                largest: self.largest_partition,
            });
        }
        if demand.partitions > self.most_partitions {
            return Err(RejectReason::NotEnoughPartitions {
                needed: demand.partitions,
                most: self.most_partitions,
            });
        }
        if demand.gpu_count as usize > self.gpus.len() {
            return Err(RejectReason::NotEnoughGpus {
                needed: demand.gpu_count,
                fleet: self.gpus.len() as u32,
            });
        }
        let mut count = 0;
        let mut gpus_found = 0;
        if let Some(at) = preferred {
            shards[0] = Shard {
                at,
                size: demand.size,
            };
            count = 1;
            gpus_found = 1;
        }
        while gpus_found < demand.gpu_count {
            let taken = &shards[..count];
            let found = self.search(demand.size, demand.partitions as usize, |gpu| {
                taken.iter().any(|s| s.at.gpu == gpu)
            });
            let Some((gpu, pick)) = found else {
                let capable = self.gpus_that_could_ever_host(demand.size, demand.partitions);
                if capable < demand.gpu_count {
                    return Err(RejectReason::NotEnoughCapableGpus {
                        needed: demand.gpu_count,
                        capable,
                    });
                }
                return Err(RejectReason::NoCandidate {
                    size: demand.size,
                    partitions: demand.partitions,
                    needed: demand.gpu_count,
                    found: gpus_found,
                    min_free: self.policy.strands_below(demand.size),
                });
            };
            for partition in pick.picked() {
                shards[count] = Shard {
                    at: PartitionRef { gpu, partition },
                    size: demand.size,
                };
                count += 1;
            }
            gpus_found += 1;
        }
        Ok(count)
    }

    /// The policy's choice of `k` partitions of `size` on one GPU that
    /// `excluded` does not hold for: through the fleet index where the
    /// policy answers from it, by the plain scan otherwise.
    #[inline]
    fn search(
        &self,
        size: Mib,
        k: usize,
        excluded: impl Fn(u32) -> bool,
    ) -> Option<(u32, GpuPick)> {
        self.policy.with(Search {
            gpus: &self.gpus,
            online: &self.online,
            index: self.index.as_ref(),
            size,
            k,
            excluded,
        })
    }

    /// GPUs of the fleet (online or not) with at least `partitions`
    /// partitions of at least `size` when empty: in a fleet of mixed kinds
    /// or layouts, the fleet-wide checks alone can miss a request that no
    /// single GPU could ever host.
    fn gpus_that_could_ever_host(&self, size: Mib, partitions: u32) -> u32 {
        self.layouts
            .iter()
            .filter(|(capacities, _)| {
                capacities.iter().filter(|&&c| c >= size).count() >= partitions as usize
            })
            .map(|(_, gpus)| gpus)
            .sum()
    }

    fn take_slot(&mut self) -> ReplicaId {
        match self.free_slots.pop() {
            Some(slot) => ReplicaId {
                slot,
                generation: self.slots[slot as usize].generation,
            },
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    placement: None,
                });
                ReplicaId {
                    slot: (self.slots.len() - 1) as u32,
                    generation: 0,
                }
            }
        }
    }
}
