//! The booking of each serving replica: where it goes (pinned, by a memory
//! policy, or by predicted load), what it is charged, its model there, and
//! each device's predicted load as replicas land.

mod load_aware;

use std::collections::HashMap;

use crate::hardware::{HostDemand, Layout};
use crate::perf::{Device, ReplicaModel, ReplicaSpec, Setup};
use crate::profile::Architecture;
use crate::schedule::{
    Demand, PartitionRef, Placement, PlacementRequest, RejectCode, Rejection, Scheduler,
};
use crate::units::Mib;

use super::candidates::Candidates;
use super::deploy::{DeployError, DeployInputs, DeploymentSpec, ReplicaSetup};
use super::memory::ReplicaMemory;
use super::placement::{ReplicaDemand, ServingPolicy};

/// A deployment's profile and memory setting, resolved.
pub(super) struct Resolved<'a> {
    /// The profile's memory per GPU.
    pub profile: Mib,
    /// GPUs a replica spans.
    pub gpu_count: u32,
    /// CPU and host memory a replica asks of its node.
    pub host: HostDemand,
    /// The model's architecture.
    pub arch: &'a Architecture,
    /// The memory setting.
    pub memory: ReplicaMemory,
}

impl Resolved<'_> {
    /// The scheduler's demand for `size` on each GPU.
    pub fn demand(&self, size: Mib) -> Demand {
        Demand {
            size,
            gpu_count: self.gpu_count,
            partitions: 1,
            host: self.host,
        }
    }

    /// The least free memory a partition must have to take a replica.
    pub fn needs(&self) -> Mib {
        self.memory.needs(self.profile)
    }
}

/// A replica's model on one kind of device with one memory, and its
/// predicted load there; or why it cannot run there.
type Modelled = Result<(ReplicaModel, f64), String>;

/// Why a replica found no place: the scheduler's code (never fits, or no
/// room now) and the words that say why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Never, not now, or invalid.
    pub code: RejectCode,
    /// The reason, in words.
    pub message: String,
}

impl From<Rejection> for Refusal {
    fn from(rejection: Rejection) -> Refusal {
        Refusal {
            code: rejection.code,
            message: rejection.to_string(),
        }
    }
}

/// The fleet as the placement sees it: each GPU's layout and the device of
/// each of its partitions.
pub(super) struct FleetMap {
    /// Each distinct layout.
    pub layouts: Vec<Layout>,
    /// The layout of each GPU.
    pub layout_of: Vec<usize>,
    /// `device_of[gpu][partition]`.
    pub device_of: Vec<Vec<u32>>,
    /// Devices in all.
    pub devices: u32,
}

/// What a placement knows of the deployments.
pub(super) struct Wanted<'a> {
    /// As the scenario gives them.
    pub deployments: &'a [DeploymentSpec],
    /// Their profiles and memory settings.
    pub resolved: &'a [Resolved<'a>],
    /// Each one's traffic per replica.
    pub demands: &'a [ReplicaDemand],
}

/// The placement in progress: the scheduler's books, each device's
/// predicted load and replicas, and the models built so far.
pub(super) struct Placer<'a> {
    scheduler: Scheduler,
    map: FleetMap,
    /// The partitions of each device.
    partitions_of: Vec<Vec<PartitionRef>>,
    loads: Vec<f64>,
    counts: Vec<u32>,
    /// The load-aware policy's index (single-GPU replicas).
    candidates: Option<Candidates>,
    /// The least any replica asks of a node's host, per resource: a node
    /// without that left can take no replica, and its partitions leave the
    /// index.
    least_host: HostDemand,
    /// Nodes whose partitions left the index.
    retired: Vec<bool>,
    /// By (deployment, layout, partition, memory).
    models: HashMap<(usize, usize, u32, Mib), Modelled>,
    deployments: &'a [DeploymentSpec],
    resolved: &'a [Resolved<'a>],
    demands: &'a [ReplicaDemand],
    inputs: &'a DeployInputs<'a>,
}

/// A candidate's rank: lower wins (predicted load of its device after the
/// replica is added, replicas there, GPU, partition).
type Rank = (f64, u32, u32, u32);

fn better(a: Rank, b: Rank) -> bool {
    a.0.total_cmp(&b.0)
        .then(a.1.cmp(&b.1))
        .then(a.2.cmp(&b.2))
        .then(a.3.cmp(&b.3))
        == std::cmp::Ordering::Less
}

impl<'a> Placer<'a> {
    /// A placement on `scheduler`'s empty fleet, mapped by `map`.
    pub fn new(
        scheduler: Scheduler,
        map: FleetMap,
        policy: ServingPolicy,
        wanted: Wanted<'a>,
        inputs: &'a DeployInputs<'a>,
    ) -> Placer<'a> {
        let mut partitions_of = vec![Vec::new(); map.devices as usize];
        for (gpu, devices) in map.device_of.iter().enumerate() {
            for (partition, &d) in devices.iter().enumerate() {
                partitions_of[d as usize].push(PartitionRef {
                    gpu: gpu as u32,
                    partition: partition as u32,
                });
            }
        }
        let candidates = (policy == ServingPolicy::LoadAware).then(|| {
            let least = wanted
                .resolved
                .iter()
                .map(Resolved::needs)
                .min()
                .unwrap_or(Mib::ZERO);
            let mut index = Candidates::new(least);
            for (gpu, state) in scheduler.gpus().iter().enumerate() {
                for (partition, p) in state.partitions().iter().enumerate() {
                    let slot = (map.layout_of[gpu], partition as u32, p.free());
                    index.insert(slot, gpu as u32, 0.0, 0);
                }
            }
            index
        });
        let least_host = HostDemand {
            cpu_milli: wanted
                .resolved
                .iter()
                .map(|r| r.host.cpu_milli)
                .min()
                .unwrap_or(0),
            memory: wanted
                .resolved
                .iter()
                .map(|r| r.host.memory)
                .min()
                .unwrap_or(Mib::ZERO),
        };
        Placer {
            least_host,
            retired: vec![false; scheduler.nodes().count()],
            loads: vec![0.0; map.devices as usize],
            counts: vec![0; map.devices as usize],
            scheduler,
            map,
            partitions_of,
            candidates,
            models: HashMap::new(),
            deployments: wanted.deployments,
            resolved: wanted.resolved,
            demands: wanted.demands,
            inputs,
        }
    }

    /// The map, each device's predicted load and its replicas.
    pub fn finish(self) -> (FleetMap, Vec<f64>, Vec<u32>) {
        (self.map, self.loads, self.counts)
    }

    /// Places replica `replica` of deployment `index`: its setup, or why it
    /// found no place (the inner error); the outer error when it landed
    /// where it cannot run.
    pub fn place(
        &mut self,
        policy: ServingPolicy,
        index: usize,
        replica: usize,
    ) -> Result<Result<ReplicaSetup, Refusal>, DeployError> {
        let r = &self.resolved[index];
        let booked = match self.deployments[index].pinned.get(replica) {
            Some(at) => Ok(self
                .pinned(index, at)
                .map_err(|refusal| DeployError::Pinned {
                    index,
                    replica,
                    message: refusal.message,
                })?),
            None => match policy {
                ServingPolicy::LoadAware => self.load_aware(index)?,
                ServingPolicy::Memory(_) => self.by_memory_policy(index),
            },
        };
        let placement = match booked {
            Ok(p) => p,
            Err(reason) => return Ok(Err(reason)),
        };
        let shards: Vec<PartitionRef> = placement.shards().map(|s| s.at).collect();
        let first = shards[0];
        let size = placement.size();
        let location = describe(&shards);
        let (model, load) =
            self.model(index, first, size)
                .map_err(|message| DeployError::CannotRun {
                    index,
                    name: self.deployments[index].name(),
                    location: location.clone(),
                    message,
                })?;
        let devices: Vec<u32> = shards
            .iter()
            .map(|s| self.map.device_of[s.gpu as usize][s.partition as usize])
            .collect();
        self.account(&shards, &devices, size, load);
        Ok(Ok(ReplicaSetup {
            deployment: index as u32,
            gpus: shards.iter().map(|s| s.gpu).collect(),
            devices,
            location,
            shards,
            memory: size,
            predicted_load: load,
            model,
            max_context: r.arch.max_context,
        }))
    }

    /// The replica at its pinned partitions.
    fn pinned(&mut self, index: usize, at: &[PartitionRef]) -> Result<Placement, Refusal> {
        let r = &self.resolved[index];
        // What it is charged depends on what is free there; where that
        // cannot be read (a partition that does not exist), the scheduler
        // says what is wrong with the pin.
        let size = r
            .memory
            .charge(r.profile, self.least_free(at))
            .unwrap_or(r.needs());
        self.scheduler
            .schedule_at(r.demand(size), at)
            .map_err(|e| Refusal {
                code: e.code,
                message: format!("pinned at {}: {e}", describe(at)),
            })
    }

    /// The fleet policy's choice by memory; a replica taking its whole
    /// partition is placed where the policy puts its profile, then charged
    /// everything free there.
    fn by_memory_policy(&mut self, index: usize) -> Result<Placement, Refusal> {
        let r = &self.resolved[index];
        let needs = r.memory.needs(r.profile);
        let placement = self
            .scheduler
            .schedule(&PlacementRequest {
                demand: r.demand(needs),
                preferred: None,
            })
            .map_err(Refusal::from)?;
        if r.memory != ReplicaMemory::Partition {
            return Ok(placement);
        }
        let shards: Vec<PartitionRef> = placement.shards().map(|s| s.at).collect();
        self.scheduler
            .unschedule(placement.replica)
            .expect("just placed");
        let size = self.least_free(&shards);
        Ok(self
            .scheduler
            .schedule_at(r.demand(size), &shards)
            .expect("the partitions just held the profile and are free again"))
    }

    /// Adds a booked replica's `load` to its devices and re-ranks their
    /// partitions in the load-aware index; `size` was charged on `shards`.
    fn account(&mut self, shards: &[PartitionRef], devices: &[u32], size: Mib, load: f64) {
        for &d in devices {
            let d = d as usize;
            let (before, replicas) = (self.loads[d], self.counts[d]);
            self.loads[d] += load;
            self.counts[d] += 1;
            let Some(index) = self.candidates.as_mut() else {
                continue;
            };
            for &at in &self.partitions_of[d] {
                let free = self.scheduler.gpus()[at.gpu as usize].partitions()
                    [at.partition as usize]
                    .free();
                let charged = if shards.contains(&at) {
                    size
                } else {
                    Mib::ZERO
                };
                let layout = self.map.layout_of[at.gpu as usize];
                index.remove(
                    (layout, at.partition, free + charged),
                    at.gpu,
                    before,
                    replicas,
                );
                if !self.retired[self.scheduler.node_of(at.gpu) as usize] {
                    index.insert(
                        (layout, at.partition, free),
                        at.gpu,
                        self.loads[d],
                        self.counts[d],
                    );
                }
            }
        }
        self.retire_if_full(shards[0].gpu);
    }

    /// Takes the partitions of `gpu`'s node out of the index once its host
    /// cannot take the least any replica asks (host room never comes back
    /// while a fleet is placed), so that searches do not walk past them.
    fn retire_if_full(&mut self, gpu: u32) {
        let node = self.scheduler.node_of(gpu) as usize;
        if self.retired[node] || self.scheduler.has_host_room(gpu, self.least_host) {
            return;
        }
        let Some(index) = self.candidates.as_mut() else {
            return;
        };
        self.retired[node] = true;
        let usage = self.scheduler.nodes().nth(node).expect("the GPU's node");
        for g in usage.first_gpu..usage.first_gpu + usage.gpus {
            let layout = self.map.layout_of[g as usize];
            for (partition, p) in self.scheduler.gpus()[g as usize]
                .partitions()
                .iter()
                .enumerate()
            {
                let d = self.map.device_of[g as usize][partition] as usize;
                index.remove(
                    (layout, partition as u32, p.free()),
                    g,
                    self.loads[d],
                    self.counts[d],
                );
            }
        }
    }

    /// The largest partition of each device, or nothing when its node has
    /// no host room left for the least any replica asks.
    pub fn device_room(&self) -> Vec<Mib> {
        let mut room = vec![Mib::ZERO; self.map.devices as usize];
        for (gpu, devices) in self.map.device_of.iter().enumerate() {
            if !self.scheduler.has_host_room(gpu as u32, self.least_host) {
                continue;
            }
            let layout = &self.map.layouts[self.map.layout_of[gpu]];
            for (partition, &d) in devices.iter().enumerate() {
                room[d as usize] = room[d as usize].max(layout.partitions()[partition]);
            }
        }
        room
    }

    /// The least free memory among `at`'s partitions.
    fn least_free(&self, at: &[PartitionRef]) -> Mib {
        at.iter()
            .map(|s| {
                self.scheduler
                    .gpus()
                    .get(s.gpu as usize)
                    .and_then(|g| g.partitions().get(s.partition as usize))
                    .map_or(Mib::ZERO, |p| p.free())
            })
            .min()
            .unwrap_or(Mib::ZERO)
    }

    /// The model of a replica of deployment `index` whose first shard is
    /// `at`, taking `memory` per GPU, and its predicted load (built once
    /// per deployment, layout, partition and memory).
    fn model(&mut self, index: usize, at: PartitionRef, memory: Mib) -> Modelled {
        let layout_index = self.map.layout_of[at.gpu as usize];
        let key = (index, layout_index, at.partition, memory);
        if let Some(known) = self.models.get(&key) {
            return known.clone();
        }
        let layout = &self.map.layouts[layout_index];
        let d = &self.deployments[index];
        let r = &self.resolved[index];
        let mut device = Device::of_layout(layout, at.partition as usize);
        device.memory = memory;
        let spec = ReplicaSpec {
            arch: r.arch,
            precision: d.precision,
            kv_cache: self.inputs.engine.kv_cache,
            device,
            tp: r.gpu_count,
            limits: d.knobs.apply(self.inputs.engine.limits_for(r.memory)),
            efficiency: self.inputs.efficiency,
        };
        let modelled = ReplicaModel::new(&spec)
            .map(|model| {
                let setup = Setup {
                    model: d.model.clone(),
                    precision: d.precision,
                    gpu: layout.kind(),
                    layout: layout.spec().to_string(),
                    tp: r.gpu_count,
                };
                let model = match self.inputs.measured.and_then(|m| m.table(&setup)) {
                    Some(table) => model.with_measurements(table.clone()),
                    None => model,
                };
                let load = self.demands[index].load_on(&model);
                (model, load)
            })
            .map_err(|e| e.to_string());
        self.models.insert(key, modelled.clone());
        modelled
    }
}

/// `gpu 0 partition 1 + gpu 1 partition 0`.
fn describe(at: &[PartitionRef]) -> String {
    at.iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(" + ")
}
