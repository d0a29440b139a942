//! The load-aware choice: where a replica's predicted load leaves its
//! device the most headroom, from the index for a replica on one GPU and
//! by a scan of each node for a tensor-parallel gang; and why a replica
//! found no place.

use crate::schedule::{PartitionRef, Placement, PlacementRequest, RejectCode};
use crate::units::Mib;

use super::super::candidates::Slot;
use super::super::deploy::DeployError;
use super::{better, Placer, Rank, Refusal};

impl Placer<'_> {
    /// The load-aware choice: the candidate whose devices' predicted load
    /// after the replica is lowest (see [`crate::serve::ServingPolicy::LoadAware`]).
    pub(super) fn load_aware(
        &mut self,
        index: usize,
    ) -> Result<Result<Placement, Refusal>, DeployError> {
        if self.resolved[index].gpu_count == 1 {
            return self.load_aware_one(index);
        }
        let r = &self.resolved[index];
        let (gpu_count, host, memory, profile) = (r.gpu_count, r.host, r.memory, r.profile);
        let mut why = None;
        let mut best: Option<(Rank, Vec<PartitionRef>)> = None;
        let nodes: Vec<(u32, u32)> = self
            .scheduler
            .nodes()
            .map(|n| (n.first_gpu, n.gpus))
            .collect();
        for (first, gpus) in nodes {
            if gpus < gpu_count || !self.scheduler.has_host_room(first, host) {
                continue;
            }
            // Each GPU's best partition, then the node's best GPUs.
            let mut per_gpu: Vec<(Rank, PartitionRef)> = Vec::new();
            for gpu in first..first + gpus {
                if let Some(pick) = self.best_on_gpu(index, gpu, &mut why) {
                    per_gpu.push(pick);
                }
            }
            if per_gpu.len() < gpu_count as usize {
                continue;
            }
            per_gpu.sort_by(|a, b| {
                if better(a.0, b.0) {
                    std::cmp::Ordering::Less
                } else if better(b.0, a.0) {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            });
            let chosen = &per_gpu[..gpu_count as usize];
            // The gang's rank: its worst device, its replicas, its first GPU.
            let worst = chosen
                .iter()
                .map(|c| c.0)
                .fold((f64::NEG_INFINITY, 0, u32::MAX, 0), |w, c| {
                    (w.0.max(c.0), w.1 + c.1, w.2.min(c.2), 0)
                });
            if best.as_ref().is_none_or(|(rank, _)| better(worst, *rank)) {
                // Its GPUs in index order, as the scheduler lists a gang.
                let mut at: Vec<PartitionRef> = chosen.iter().map(|c| c.1).collect();
                at.sort_unstable();
                best = Some((worst, at));
            }
        }
        let Some((_, at)) = best else {
            return self.refusal(index, why);
        };
        let size = memory
            .charge(profile, self.least_free(&at))
            .expect("every candidate partition has room");
        Ok(self
            .scheduler
            .schedule_at(self.resolved[index].demand(size), &at)
            .map_err(Refusal::from))
    }

    /// The load-aware choice of a replica on one GPU, from the index: each
    /// slot's first usable partition, ranked as a scan would rank them.
    fn load_aware_one(&mut self, index: usize) -> Result<Result<Placement, Refusal>, DeployError> {
        let r = &self.resolved[index];
        let (host, memory, profile) = (r.host, r.memory, r.profile);
        let index_of = self.candidates.as_ref().expect("built for load-aware");
        // Each slot's first partition the replica may use.
        let mut firsts: Vec<(Slot, u32, f64, u32)> = Vec::new();
        for (slot, partitions) in index_of.slots_with(r.needs()) {
            for (gpu, load, replicas) in partitions {
                if self.scheduler.is_online(gpu) && self.scheduler.has_host_room(gpu, host) {
                    firsts.push((slot, gpu, load, replicas));
                    break;
                }
            }
        }
        let mut why = None;
        let mut best: Option<(Rank, PartitionRef, Mib)> = None;
        for ((layout, partition, free), gpu, load, replicas) in firsts {
            let size = memory
                .charge(profile, free)
                .expect("the slot has what the replica needs");
            let at = PartitionRef { gpu, partition };
            debug_assert_eq!(self.map.layout_of[gpu as usize], layout);
            let own = match self.model(index, at, size) {
                Ok((_, own)) => own,
                Err(message) => {
                    why.get_or_insert((at, message));
                    continue;
                }
            };
            let rank = (load + own, replicas, gpu, partition);
            if best.as_ref().is_none_or(|(b, _, _)| better(rank, *b)) {
                best = Some((rank, at, size));
            }
        }
        #[cfg(debug_assertions)]
        if self.map.layout_of.len() <= 64 {
            // On small fleets, check the index against a scan of every GPU.
            let mut scan: Option<(Rank, PartitionRef)> = None;
            for gpu in 0..self.map.layout_of.len() as u32 {
                if !self.scheduler.has_host_room(gpu, host) {
                    continue;
                }
                if let Some(pick) = self.best_on_gpu(index, gpu, &mut None) {
                    if scan.as_ref().is_none_or(|(b, _)| better(pick.0, *b)) {
                        scan = Some(pick);
                    }
                }
            }
            assert_eq!(
                scan.map(|(_, at)| at),
                best.map(|(_, at, _)| at),
                "the load-aware index decides as a scan"
            );
        }
        let Some((_, at, size)) = best else {
            return self.refusal(index, why);
        };
        Ok(self
            .scheduler
            .schedule_at(self.resolved[index].demand(size), &[at])
            .map_err(Refusal::from))
    }

    /// Why the load-aware policy found no place for a replica of
    /// deployment `index`. If it cannot run on any partition of the fleet,
    /// even empty, at its memory setting, that is an error (`why` holds a
    /// location and the performance model's reason); otherwise it is
    /// refused: the partitions where it could run are full, in the
    /// scheduler's words when the scheduler finds no room either.
    fn refusal(
        &mut self,
        index: usize,
        why: Option<(PartitionRef, String)>,
    ) -> Result<Result<Placement, Refusal>, DeployError> {
        if let Some((at, message)) = why {
            if !self.runs_somewhere(index) {
                return Err(DeployError::CannotRun {
                    index,
                    name: self.deployments[index].name(),
                    location: at.to_string(),
                    message,
                });
            }
        }
        let r = &self.resolved[index];
        let request = PlacementRequest {
            demand: r.demand(r.needs()),
            preferred: None,
        };
        Ok(Err(match self.scheduler.schedule(&request) {
            Err(rejection) => rejection.into(),
            Ok(placement) => {
                // Room is left only where the model cannot run.
                self.scheduler
                    .unschedule(placement.replica)
                    .expect("just placed");
                Refusal {
                    code: RejectCode::NoCapacityNow,
                    message: format!(
                        "no capacity now: the partitions with {} GiB free cannot run {}",
                        r.needs(),
                        self.deployments[index].name()
                    ),
                }
            }
        }))
    }

    /// Whether a replica of deployment `index` runs on some partition of
    /// the fleet, taken empty, at its memory setting.
    fn runs_somewhere(&mut self, index: usize) -> bool {
        let r = &self.resolved[index];
        let (memory, profile) = (r.memory, r.profile);
        // One GPU of each layout stands for all of them.
        let mut seen = vec![false; self.map.layouts.len()];
        for gpu in 0..self.map.layout_of.len() {
            let layout = self.map.layout_of[gpu];
            if std::mem::replace(&mut seen[layout], true) {
                continue;
            }
            let partitions = self.map.layouts[layout].partitions().to_vec();
            for (partition, capacity) in partitions.into_iter().enumerate() {
                let Some(size) = memory.charge(profile, capacity) else {
                    continue;
                };
                let at = PartitionRef {
                    gpu: gpu as u32,
                    partition: partition as u32,
                };
                if self.model(index, at, size).is_ok() {
                    return true;
                }
            }
        }
        false
    }

    /// The best partition of `gpu` for a replica of deployment `index`,
    /// ranked; `why` keeps the reason a partition with room could not run
    /// it.
    fn best_on_gpu(
        &mut self,
        index: usize,
        gpu: u32,
        why: &mut Option<(PartitionRef, String)>,
    ) -> Option<(Rank, PartitionRef)> {
        if !self.scheduler.is_online(gpu) {
            return None;
        }
        let r = &self.resolved[index];
        let (memory, profile) = (r.memory, r.profile);
        let mut best: Option<(Rank, PartitionRef)> = None;
        let partitions = self.scheduler.gpus()[gpu as usize].partitions().len() as u32;
        for partition in 0..partitions {
            let free = self.scheduler.gpus()[gpu as usize].partitions()[partition as usize].free();
            let Some(size) = memory.charge(profile, free) else {
                continue;
            };
            let at = PartitionRef { gpu, partition };
            let load = match self.model(index, at, size) {
                Ok((_, load)) => load,
                Err(message) => {
                    why.get_or_insert((at, message));
                    continue;
                }
            };
            let device = self.map.device_of[gpu as usize][partition as usize] as usize;
            let rank = (
                self.loads[device] + load,
                self.counts[device],
                gpu,
                partition,
            );
            if best.as_ref().is_none_or(|(b, _)| better(rank, *b)) {
                best = Some((rank, at));
            }
        }
        best
    }
}
