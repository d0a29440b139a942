//! The scheduler: places and frees replicas on a set of partitioned GPUs
//! and keeps the books of what is charged where.

use crate::hardware::{HostDemand, Layout, NodeShape, MAX_PARTITIONS};
use crate::partition::GpuState;
use crate::units::Mib;

use super::index::FleetIndex;
use super::node::{NodeBooks, NodeRule};
use super::policies::{ConfiguredPolicy, GpuPick, PlacementPolicy, Policy, WithPolicy};
use super::request::{
    Demand, PartitionRef, Placement, PlacementRequest, RejectReason, Rejection, ReplicaId,
    MAX_SHARDS,
};
use super::search::{find, Search};

/// Places replicas on a set of partitioned GPUs grouped into nodes with
/// one policy, frees them, and keeps every GPU's and node's books and every
/// live replica.
#[derive(Debug, Clone)]
pub struct Scheduler {
    policy: ConfiguredPolicy,
    gpus: Vec<GpuState>,
    online: Vec<bool>,
    /// The node each GPU belongs to.
    gpu_node: Vec<u32>,
    nodes: Vec<NodeBooks>,
    /// Each distinct layout of the fleet, once.
    layouts: Vec<FleetLayout>,
    /// The shape of nodes opened from now on.
    node_shape: NodeShape,
    /// At `k - 1`: the largest `k`-th largest partition of the fleet's
    /// layouts, so some GPU has `k` partitions of at least `size` when
    /// empty exactly if `size` is at most this (at 0: the largest
    /// partition).
    kth_largest: [Mib; MAX_PARTITIONS],
    most_partitions: u32,
    /// For `k` partitions of one GPU (at `k - 1`): the smallest size a
    /// search found no GPU for since GPU memory was last freed or added.
    /// Free memory only shrinks in between and every policy's filter asks
    /// at least `size` free, so any search for as many partitions or more,
    /// as large or larger, fails too: such requests are refused without a
    /// search (a full fleet refuses in constant time, scanned or indexed).
    fails_from: [Mib; MAX_PARTITIONS],
    /// Every replica id's slot: the live replica's placement, or a
    /// placement without shards once freed (its id then carries the
    /// generation the slot's next replica gets).
    slots: Vec<Placement>,
    free_slots: Vec<u32>,
    live: usize,
    search: SearchMode,
    index: Option<FleetIndex>,
}

/// How the scheduler finds candidates. Decisions are the same either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchMode {
    /// A plain scan on fleets under the policy's switch-over
    /// ([`Policy::index_from_gpus`]), the fleet index from there on (the
    /// default).
    Auto,
    /// Always the fleet index.
    Indexed,
    /// Always the plain scan (the reference the index is tested against).
    Scan,
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

/// What one node holds and has charged, as [`Scheduler::nodes`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeUsage {
    /// The node's shape: its GPU slots, CPU and host memory.
    pub shape: NodeShape,
    /// Index of its first GPU; its GPUs are consecutive.
    pub first_gpu: u32,
    /// GPUs it holds.
    pub gpus: u32,
    /// CPU charged, thousandths of a core.
    pub cpu_used_milli: u64,
    /// Host memory charged.
    pub memory_used: Mib,
}

impl Scheduler {
    /// An empty set of GPUs, one per layout, in order, placed on with
    /// `policy` (a [`Policy`] or one configured for a workload), grouped
    /// into nodes of the reference shape ([`NodeShape::REFERENCE`]).
    pub fn new<'a>(
        policy: impl Into<ConfiguredPolicy>,
        layouts: impl IntoIterator<Item = &'a Layout>,
    ) -> Scheduler {
        Scheduler::on_nodes(policy, NodeShape::REFERENCE, layouts)
    }

    /// As [`Scheduler::new`], on nodes of `node`: consecutive GPUs of one
    /// layout fill a node before the next one opens.
    pub fn on_nodes<'a>(
        policy: impl Into<ConfiguredPolicy>,
        node: NodeShape,
        layouts: impl IntoIterator<Item = &'a Layout>,
    ) -> Scheduler {
        let mut scheduler = Scheduler {
            policy: policy.into(),
            gpus: Vec::new(),
            online: Vec::new(),
            gpu_node: Vec::new(),
            nodes: Vec::new(),
            layouts: Vec::new(),
            node_shape: node,
            kth_largest: [Mib::ZERO; MAX_PARTITIONS],
            fails_from: NOTHING_FAILS,
            most_partitions: 0,
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

    /// Adds an empty, online GPU at the end of the fleet and returns its
    /// index. It joins the last node if that node has a free slot, is not
    /// closed and holds GPUs of this layout; otherwise it opens a new node.
    pub fn add_gpu(&mut self, layout: &Layout) -> u32 {
        let index = self.gpus.len() as u32;
        let layout_id = match self.layouts.iter().position(|l| l.layout == *layout) {
            Some(id) => id as u32,
            None => {
                self.layouts.push(FleetLayout::new(layout));
                (self.layouts.len() - 1) as u32
            }
        };
        if !self.nodes.last().is_some_and(|n| n.takes(layout_id)) {
            self.nodes
                .push(NodeBooks::new(self.node_shape, layout_id, index));
        }
        let node = self.nodes.len() - 1;
        self.nodes[node].gpus += 1;
        let largest = &mut self.layouts[layout_id as usize].largest_node;
        *largest = (*largest).max(self.nodes[node].gpus);
        self.gpu_node.push(node as u32);
        let kth_largest = &self.layouts[layout_id as usize].kth_largest;
        for (fleet, &own) in self.kth_largest.iter_mut().zip(kth_largest) {
            *fleet = (*fleet).max(own);
        }
        self.most_partitions = self.most_partitions.max(layout.partitions().len() as u32);
        self.gpus.push(GpuState::new(layout));
        self.fails_from = NOTHING_FAILS;
        self.online.push(true);
        match &mut self.index {
            Some(fleet_index) => fleet_index.add_gpu(&self.gpus[index as usize], true),
            None => self.refresh_index(),
        }
        index
    }

    /// Ends the last node: the next GPU added opens a new one (a fleet's
    /// groups are separate servers).
    pub fn close_node(&mut self) {
        if let Some(node) = self.nodes.last_mut() {
            node.open = false;
        }
    }

    /// Every node, in order (GPUs are numbered node by node).
    pub fn nodes(&self) -> impl Iterator<Item = NodeUsage> + '_ {
        self.nodes.iter().map(|n| NodeUsage {
            shape: n.shape,
            first_gpu: n.first_gpu,
            gpus: n.gpus,
            cpu_used_milli: n.cpu_used,
            memory_used: n.memory_used,
        })
    }

    /// The node GPU `gpu` belongs to.
    pub fn node_of(&self, gpu: u32) -> u32 {
        self.gpu_node[gpu as usize]
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
            SearchMode::Auto => self.gpus.len() >= self.policy.policy().index_from_gpus(),
            SearchMode::Indexed => true,
            SearchMode::Scan => false,
        };
        if wanted && self.index.is_none() {
            let mut index = FleetIndex::new(self.policy.index_order());
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
        if online {
            self.fails_from = NOTHING_FAILS;
        }
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
        if let Some(reason) = self.refused_again(request) {
            return Err(Rejection::new(reason));
        }
        let mut placement = Placement::empty(request.demand.size, request.demand.host);
        let chosen = self.policy.with(Choose {
            scheduler: self,
            request,
            placement: &mut placement,
        });
        if let Err(reason) = chosen {
            self.remember_failure(request.demand, reason);
            return Err(Rejection::new(reason));
        }
        self.book::<true>(&placement);
        self.store(&mut placement);
        self.live += 1;
        Ok(placement)
    }

    /// Places a replica exactly on `at` (its shards, in order), bypassing
    /// the policy: a placement chosen elsewhere (a serving placement that
    /// weighs load, or one pinned in a scenario) kept in the same books. The
    /// partitions must have the demand's shape (`partitions` distinct ones
    /// on each of `gpu_count` distinct GPUs of one node), be online and have
    /// `demand.size` free, and the node must have the host demand left. On
    /// rejection nothing changes.
    pub fn schedule_at(
        &mut self,
        demand: Demand,
        at: &[PartitionRef],
    ) -> Result<Placement, Rejection> {
        if demand.size == Mib::ZERO || demand.gpu_count == 0 || demand.partitions == 0 {
            return Err(Rejection::new(RejectReason::EmptyDemand));
        }
        if demand.shards() > MAX_SHARDS as u64 {
            return Err(Rejection::new(RejectReason::TooManyShards {
                requested: demand.shards(),
            }));
        }
        let shape = RejectReason::PinnedShape {
            needed: demand.shards(),
            pinned: at.len() as u32,
        };
        if at.len() as u64 != demand.shards() {
            return Err(Rejection::new(shape));
        }
        for (i, &shard) in at.iter().enumerate() {
            let exists = self
                .gpus
                .get(shard.gpu as usize)
                .is_some_and(|g| (shard.partition as usize) < g.partitions().len());
            if !exists {
                return Err(Rejection::new(RejectReason::NoSuchPartition {
                    preferred: shard,
                }));
            }
            let on_gpu = at.iter().filter(|s| s.gpu == shard.gpu).count() as u32;
            let same_node = self.gpu_node[shard.gpu as usize] == self.gpu_node[at[0].gpu as usize];
            if at[..i].contains(&shard) || on_gpu != demand.partitions || !same_node {
                return Err(Rejection::new(shape));
            }
            let partition = &self.gpus[shard.gpu as usize].partitions()[shard.partition as usize];
            if !self.online[shard.gpu as usize] || partition.free() < demand.size {
                return Err(Rejection::new(RejectReason::PinnedFull {
                    at: shard,
                    size: demand.size,
                }));
            }
        }
        if !self.host_room(at[0].gpu, demand.host) {
            return Err(Rejection::new(RejectReason::NoHostRoom {
                host: demand.host,
            }));
        }
        let mut placement = Placement::empty(demand.size, demand.host);
        for &shard in at {
            placement.push(shard);
        }
        self.book::<true>(&placement);
        self.store(&mut placement);
        self.live += 1;
        Ok(placement)
    }

    /// Whether the node of GPU `gpu` has `host` of CPU and host memory left.
    pub fn has_host_room(&self, gpu: u32, host: HostDemand) -> bool {
        self.host_room(gpu, host)
    }

    /// Frees a live replica; returns where it was, with exactly the sizes
    /// that are now refunded.
    pub fn unschedule(&mut self, replica: ReplicaId) -> Result<Placement, UnscheduleError> {
        let slot = self
            .slots
            .get_mut(replica.slot as usize)
            .filter(|s| s.replica == replica && s.has_shards())
            .ok_or(UnscheduleError(replica))?;
        let placement = *slot;
        slot.vacate();
        self.free_slots.push(replica.slot);
        self.fails_from = NOTHING_FAILS;
        self.live -= 1;
        self.book::<false>(&placement);
        Ok(placement)
    }

    /// Charges (`CHARGE`) or refunds a placement: its host demand on its
    /// node, its size on each of its partitions; the changed GPUs are
    /// re-read into the index.
    #[inline]
    fn book<const CHARGE: bool>(&mut self, placement: &Placement) {
        if !placement.host.is_none() {
            let node = self.gpu_node[placement.first().at.gpu as usize] as usize;
            if CHARGE {
                self.nodes[node].charge(placement.host);
            } else {
                self.nodes[node].refund(placement.host);
            }
        }
        for shard in placement.shards() {
            let state = &mut self.gpus[shard.at.gpu as usize];
            let partition = shard.at.partition as usize;
            if CHARGE {
                state
                    .allocate(partition, shard.size)
                    .expect("a chosen partition passed the fit filter");
            } else {
                state
                    .free(partition, shard.size)
                    .expect("a live replica's shards are charged");
            }
        }
        if self.index.is_some() {
            for (gpu, _) in placement.per_gpu() {
                self.reindex(gpu);
            }
        }
    }

    /// Where a live replica is.
    pub fn placement(&self, replica: ReplicaId) -> Option<&Placement> {
        self.slots
            .get(replica.slot as usize)
            .filter(|s| s.replica == replica && s.has_shards())
    }

    /// Every live replica, in id-slot order.
    pub fn placements(&self) -> impl Iterator<Item = &Placement> {
        self.slots.iter().filter(|s| s.has_shards())
    }

    /// Chooses `partitions` partitions on each of `gpu_count` distinct
    /// GPUs of one node with the host room left, adding them to
    /// `placement` (empty), or says why none.
    #[inline(always)]
    fn choose<P: PlacementPolicy>(
        &self,
        policy: &P,
        request: &PlacementRequest,
        placement: &mut Placement,
    ) -> Result<(), RejectReason> {
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
                (self.online[at.gpu as usize]
                    && partition.free() >= demand.size
                    && self.host_room(at.gpu, demand.host))
                .then_some(at)
            }
            None => None,
        };
        if demand.size > self.kth_largest[0] {
            return Err(RejectReason::LargerThanAnyPartition {
                size: demand.size,
                largest: self.kth_largest[0],
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
        if !demand.host.is_none() && !self.nodes.iter().any(|n| n.shape.could_host(demand.host)) {
            return Err(RejectReason::LargerThanAnyNode { host: demand.host });
        }
        if preferred.is_none() && self.search_failed_for(demand) {
            return Err(self.why_not(policy, request));
        }
        let chosen = if demand.gpu_count == 1 {
            self.choose_one(policy, demand.partitions, preferred, placement)
        } else {
            self.choose_gang(policy, request, preferred, placement)
        };
        chosen.ok_or_else(|| self.why_not(policy, request))
    }

    /// A replica on one GPU: the preferred partition if it has room, the
    /// policy's choice among GPUs whose node has the host room otherwise.
    #[inline]
    fn choose_one<P: PlacementPolicy>(
        &self,
        policy: &P,
        partitions: u32,
        preferred: Option<PartitionRef>,
        placement: &mut Placement,
    ) -> Option<()> {
        if let Some(at) = preferred {
            placement.push(at);
            return Some(());
        }
        let (size, host) = (placement.size(), placement.host);
        let (gpu, pick) = if host.is_none() {
            self.search(policy, size, partitions as usize, |_| false)?
        } else {
            self.search(policy, size, partitions as usize, |gpu| {
                !self.host_room(gpu, host)
            })?
        };
        for partition in pick.picked() {
            placement.push(PartitionRef { gpu, partition });
        }
        Some(())
    }

    /// A gang: `gpu_count` GPUs of one node, all or nothing. With a
    /// preferred partition that has room, its node (and that partition
    /// first); otherwise the node the policy's [`NodeRule`] ranks first
    /// among those that can take the whole gang and its host needs.
    fn choose_gang<P: PlacementPolicy>(
        &self,
        policy: &P,
        request: &PlacementRequest,
        preferred: Option<PartitionRef>,
        placement: &mut Placement,
    ) -> Option<()> {
        if let Some(at) = preferred {
            let node = self.gpu_node[at.gpu as usize] as usize;
            return self.fill_node(policy, node, request, preferred, placement);
        }
        let rule = P::NODE_RULE;
        let mut best: Option<(u64, Placement)> = None;
        for (node, books) in self.nodes.iter().enumerate() {
            if books.gpus < request.demand.gpu_count || !books.has_room(request.demand.host) {
                continue;
            }
            let mut candidate = *placement;
            if self
                .fill_node(policy, node, request, None, &mut candidate)
                .is_none()
            {
                continue;
            }
            let free: u64 = books
                .gpu_range()
                .filter(|&g| self.online[g])
                .map(|g| self.gpus[g].free_memory().0)
                .sum();
            let better = match (rule, &best) {
                (_, None) => true,
                (NodeRule::First, Some(_)) => false,
                (NodeRule::Tightest, Some((top, _))) => free < *top,
                (NodeRule::Loosest, Some((top, _))) => free > *top,
            };
            if better {
                best = Some((free, candidate));
                if rule == NodeRule::First {
                    break;
                }
            }
        }
        *placement = best?.1;
        Some(())
    }

    /// The gang on node `node` by the policy's per-GPU choice (its preferred
    /// partition first, if any), or `None` if the node cannot take it all.
    fn fill_node<P: PlacementPolicy>(
        &self,
        policy: &P,
        node: usize,
        request: &PlacementRequest,
        preferred: Option<PartitionRef>,
        placement: &mut Placement,
    ) -> Option<()> {
        let demand = request.demand;
        let books = &self.nodes[node];
        let range = books.gpu_range();
        let first = books.first_gpu;
        let mut gpus_found = 0;
        if let Some(at) = preferred {
            placement.push(at);
            gpus_found = 1;
        }
        while gpus_found < demand.gpu_count {
            let taken = &*placement;
            let (local, pick) = find(
                policy,
                Search {
                    gpus: &self.gpus[range.clone()],
                    online: &self.online[range.clone()],
                    index: None,
                    size: demand.size,
                    k: demand.partitions as usize,
                    excluded: |gpu| taken.holds_gpu(gpu + first),
                },
            )?;
            for partition in pick.picked() {
                placement.push(PartitionRef {
                    gpu: local + first,
                    partition,
                });
            }
            gpus_found += 1;
        }
        Some(())
    }

    /// Whether GPU `gpu`'s node has `host` left.
    #[inline]
    fn host_room(&self, gpu: u32, host: HostDemand) -> bool {
        host.is_none() || self.nodes[self.gpu_node[gpu as usize] as usize].has_room(host)
    }

    /// Why a valid request found no place: no node could ever hold the gang,
    /// the host is what is missing, or no GPU memory now.
    #[cold]
    fn why_not<P: PlacementPolicy>(&self, policy: &P, request: &PlacementRequest) -> RejectReason {
        let demand = request.demand;
        let capable = self.most_capable_gpus_on_a_node(demand.size, demand.partitions);
        if capable < demand.gpu_count {
            return RejectReason::NotEnoughCapableGpus {
                needed: demand.gpu_count,
                capable,
            };
        }
        if !demand.host.is_none() {
            let without_host = PlacementRequest {
                demand: Demand {
                    host: HostDemand::NONE,
                    ..demand
                },
                preferred: request.preferred,
            };
            let mut placement = Placement::empty(demand.size, HostDemand::NONE);
            if self.choose(policy, &without_host, &mut placement).is_ok() {
                return RejectReason::NoHostRoom { host: demand.host };
            }
        }
        let found = if demand.gpu_count == 1 {
            0
        } else {
            self.most_gpus_with_room_on_a_node(policy, demand.size, demand.partitions)
        };
        no_candidate(demand, found, policy.strands_below(demand.size))
    }

    /// The most online GPUs of one node on which the policy finds
    /// `partitions` partitions of `size` now.
    fn most_gpus_with_room_on_a_node<P: PlacementPolicy>(
        &self,
        policy: &P,
        size: Mib,
        partitions: u32,
    ) -> u32 {
        self.nodes
            .iter()
            .map(|n| {
                n.gpu_range()
                    .filter(|&g| {
                        self.online[g]
                            && policy
                                .pick_on_gpu(&self.gpus[g], size, partitions as usize)
                                .is_some()
                    })
                    .count() as u32
            })
            .max()
            .unwrap_or(0)
    }

    /// The policy's choice of `k` partitions of `size` on one GPU that
    /// `excluded` does not hold for: through the fleet index where the
    /// policy answers from it, by the plain scan otherwise.
    #[inline]
    fn search<P: PlacementPolicy>(
        &self,
        policy: &P,
        size: Mib,
        k: usize,
        excluded: impl Fn(u32) -> bool,
    ) -> Option<(u32, GpuPick)> {
        find(
            policy,
            Search {
                gpus: &self.gpus,
                online: &self.online,
                index: self.index.as_ref(),
                size,
                k,
                excluded,
            },
        )
    }

    /// The most GPUs of one node (online or not) with at least
    /// `partitions` partitions of at least `size` when empty: in a fleet of
    /// mixed kinds or layouts, the fleet-wide checks alone can miss a
    /// request that no node could ever host.
    fn most_capable_gpus_on_a_node(&self, size: Mib, partitions: u32) -> u32 {
        self.layouts
            .iter()
            .filter(|l| l.has_partitions_of(partitions, size))
            .map(|l| l.largest_node)
            .max()
            .unwrap_or(0)
    }

    /// Whether a search already found no GPU with `demand`'s partitions
    /// since GPU memory was last freed or added (see `fails_from`).
    #[inline]
    fn search_failed_for(&self, demand: Demand) -> bool {
        let k = (demand.partitions as usize).wrapping_sub(1);
        self.fails_from.get(k).is_some_and(|&f| demand.size >= f) && demand.gpu_count == 1
    }

    /// The refusal of a request that asks the same as one already refused
    /// for want of GPU memory: one GPU, nothing of its host, no preferred
    /// partition, a size a search already failed for, and at most the
    /// `k`-th largest partition of some layout. Its reason is the one
    /// [`Scheduler::choose`] would give: such a request passes every
    /// validity check (its size is at least a refused one's, so not zero,
    /// and some GPU could hold it empty), and `choose` would refuse it from
    /// the same memory of failures. This is most of what a full fleet
    /// answers, hence the shortcut.
    #[inline]
    fn refused_again(&self, request: &PlacementRequest) -> Option<RejectReason> {
        let demand = request.demand;
        let again = self.search_failed_for(demand)
            && request.preferred.is_none()
            && demand.host.is_none()
            && demand.size <= self.kth_largest[demand.partitions as usize - 1];
        again.then(|| no_candidate(demand, 0, self.policy.strands_below(demand.size)))
    }

    /// Notes that no GPU had `demand`'s partitions when a search for it
    /// (on one GPU, asking nothing of the host) found none.
    fn remember_failure(&mut self, demand: Demand, reason: RejectReason) {
        if let RejectReason::NoCandidate { .. } = reason {
            let first = demand.partitions as usize - 1;
            // `fails_from` never grows with `k`: if it already refuses this
            // size for `partitions`, it does for every larger `k` too.
            if demand.gpu_count == 1
                && demand.host.is_none()
                && demand.size < self.fails_from[first]
            {
                for fails in &mut self.fails_from[first..] {
                    *fails = (*fails).min(demand.size);
                }
            }
        }
    }

    /// Gives a new replica's placement the id of a free slot (a freed one,
    /// whose id carries its next generation, or a new one) and stores it
    /// there.
    fn store(&mut self, placement: &mut Placement) {
        let slot = match self.free_slots.pop() {
            Some(slot) => &mut self.slots[slot as usize],
            None => {
                let mut vacant = Placement::empty(Mib::ZERO, HostDemand::NONE);
                vacant.replica = ReplicaId {
                    slot: self.slots.len() as u32,
                    generation: 0,
                };
                self.slots.push(vacant);
                self.slots.last_mut().expect("just pushed")
            }
        };
        placement.replica = slot.replica;
        *slot = *placement;
    }
}

/// No partition passes the filter for `demand` now: `found` of its GPUs
/// had a candidate; the policy wants `min_free` free of a partition.
fn no_candidate(demand: Demand, found: u32, min_free: Mib) -> RejectReason {
    RejectReason::NoCandidate {
        size: demand.size,
        partitions: demand.partitions,
        needed: demand.gpu_count,
        found,
        min_free,
    }
}

/// A layout of the fleet, as the refusal checks read it.
#[derive(Debug, Clone)]
struct FleetLayout {
    layout: Layout,
    /// The most GPUs of this layout one node holds.
    largest_node: u32,
    /// At `k - 1`: the `k`-th largest partition (zero past the layout's
    /// partitions), so "has `k` partitions of at least `size`" is one
    /// comparison.
    kth_largest: [Mib; MAX_PARTITIONS],
}

impl FleetLayout {
    fn new(layout: &Layout) -> FleetLayout {
        let mut kth_largest = [Mib::ZERO; MAX_PARTITIONS];
        for (slot, &size) in kth_largest.iter_mut().zip(layout.partitions()) {
            *slot = size;
        }
        kth_largest.sort_unstable_by(|a, b| b.cmp(a));
        FleetLayout {
            layout: layout.clone(),
            largest_node: 0,
            kth_largest,
        }
    }

    /// Whether an empty GPU of this layout has `k` partitions of at least
    /// `size` (`k` from 1 to [`MAX_PARTITIONS`]).
    #[inline]
    fn has_partitions_of(&self, k: u32, size: Mib) -> bool {
        self.kth_largest[k as usize - 1] >= size
    }
}

/// No search has failed since GPU memory was last freed or added.
const NOTHING_FAILS: [Mib; MAX_PARTITIONS] = [Mib(u64::MAX); MAX_PARTITIONS];

/// [`Scheduler::choose`] run with the scheduler's own policy type: one
/// dispatch per request, the rest compiled for that policy.
struct Choose<'a> {
    scheduler: &'a Scheduler,
    request: &'a PlacementRequest,
    placement: &'a mut Placement,
}

impl WithPolicy for Choose<'_> {
    type Output = Result<(), RejectReason>;

    #[inline]
    fn run<P: PlacementPolicy>(self, policy: &P) -> Self::Output {
        self.scheduler.choose(policy, self.request, self.placement)
    }
}
