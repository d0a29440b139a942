//! Places a serving scenario's replicas on its fleet through the same
//! scheduler as every other run, and builds each placed replica's
//! performance model from where it landed.
//!
//! A replica is charged the memory its [`ReplicaMemory`] setting gives it
//! and its engine takes exactly that (what vLLM's `gpu_memory_utilization`
//! then splits between weights, activations and key/value cache). Its
//! device is the partition it landed in: a hardware partition (DPX, QPX,
//! CPX) is a device of its own; the partitions of an SPX GPU (custom sizes,
//! or one whole GPU) share the GPU's compute and bandwidth. Replicas on
//! one device are co-tenants: each iteration runs at the speed the
//! performance model gives for the number of them busy when it starts. A
//! profile spanning several GPUs runs tensor-parallel over them, all on one
//! node.
//!
//! Where each replica goes is the [`ServingPolicy`]'s choice (or pinned by
//! the scenario); every choice is booked by the scheduler, which checks it.

use std::collections::HashMap;

use crate::hardware::{HostDemand, Layout, LayoutSpec};
use crate::perf::{Device, Efficiency, MeasuredSet, ReplicaModel, ReplicaSpec, Setup};
use crate::profile::{Architecture, ArchitectureTable, Catalog, Precision};
use crate::schedule::{Demand, DemandMix, PartitionRef, Placement, PlacementRequest, Scheduler};
use crate::sim::{FleetError, FleetSpec};
use crate::units::Mib;

use super::engine::EngineConfig;
use super::memory::ReplicaMemory;
use super::placement::{Imbalance, ReplicaDemand, ServingPolicy};
use super::traffic::shape::TrafficShape;

/// Most replicas one scenario may deploy.
pub const MAX_REPLICAS: u32 = 100_000;

/// Replicas of one model at one precision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentSpec {
    /// Model id (exact, as the catalog has it).
    pub model: String,
    /// Precision.
    pub precision: Precision,
    /// Replicas wanted (at least 1).
    pub replicas: u32,
    /// Memory each replica is charged and takes per GPU it spans; `None`:
    /// the engine's default ([`EngineConfig::memory`]).
    pub memory: Option<ReplicaMemory>,
    /// Where each replica goes (its partitions, one per GPU it spans), one
    /// entry per replica; empty: the policy chooses.
    pub pinned: Vec<Vec<PartitionRef>>,
}

impl DeploymentSpec {
    /// `model:precision`.
    pub fn name(&self) -> String {
        format!("{}:{}", self.model, self.precision)
    }
}

/// A placed replica, ready to serve.
#[derive(Debug, Clone)]
pub struct ReplicaSetup {
    /// Index of its deployment.
    pub deployment: u32,
    /// GPUs it spans.
    pub gpus: Vec<u32>,
    /// The devices it runs on (co-tenancy groups).
    pub devices: Vec<u32>,
    /// Where it is, for reports: `gpu 3 partition 1`.
    pub location: String,
    /// Its partitions, one per GPU it spans.
    pub shards: Vec<PartitionRef>,
    /// Memory it was charged, and its engine took, on each of them.
    pub memory: Mib,
    /// The share of its device's time its expected traffic takes
    /// ([`ReplicaDemand::load_on`]).
    pub predicted_load: f64,
    /// Its step-time model.
    pub model: ReplicaModel,
    /// Longest context (prompt + output) the model supports.
    pub max_context: u32,
}

/// Replicas of a deployment the fleet could not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unplaced {
    /// Index of the deployment.
    pub deployment: u32,
    /// Replicas not placed.
    pub count: u32,
    /// The scheduler's reason for the first of them.
    pub reason: String,
}

/// The placed fleet.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// Every placed replica, deployment by deployment.
    pub replicas: Vec<ReplicaSetup>,
    /// Replicas that did not fit.
    pub unplaced: Vec<Unplaced>,
    /// GPUs in the fleet.
    pub gpus: u32,
    /// Devices (co-tenancy groups) in the fleet.
    pub devices: u32,
    /// The device of each GPU's partitions: `device_of[gpu][partition]`.
    pub device_of: Vec<Vec<u32>>,
    /// Predicted load of each device: the sum of its replicas'.
    pub device_loads: Vec<f64>,
    /// Replicas on each device.
    pub device_replicas: Vec<u32>,
    /// Devices over capacity while others idle.
    pub imbalance: Imbalance,
}

impl Deployed {
    /// The predicted load of GPU `gpu`: the mean over its devices (the
    /// share of the whole GPU's compute its replicas' traffic takes).
    pub fn gpu_load(&self, gpu: usize) -> f64 {
        let devices = &self.device_of[gpu];
        let mut distinct: Vec<u32> = devices.clone();
        distinct.dedup();
        distinct
            .iter()
            .map(|&d| self.device_loads[d as usize])
            .sum::<f64>()
            / distinct.len().max(1) as f64
    }
}

/// The catalogue, architectures and engine a placement models replicas
/// with.
#[derive(Clone, Copy)]
pub struct DeployInputs<'a> {
    /// The profiles.
    pub catalog: &'a Catalog,
    /// Architectures for the performance model.
    pub architectures: &'a ArchitectureTable,
    /// Measured step times used where they apply.
    pub measured: Option<&'a MeasuredSet>,
    /// The engine every replica runs (its `memory` the default setting).
    pub engine: &'a EngineConfig,
    /// The performance model's fitted efficiencies.
    pub efficiency: Efficiency,
}

/// Why a fleet cannot serve.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeployError {
    /// A deployment names a model or precision the catalog lacks.
    #[error("deployments[{index}]: {message}")]
    Unknown {
        /// Index of the deployment.
        index: usize,
        /// The catalog's explanation.
        message: String,
    },
    /// The performance model has no architecture for the model.
    #[error("deployments[{index}]: no architecture for `{model}` (aim_profiles/architectures.csv); pass one with --arch")]
    NoArchitecture {
        /// Index of the deployment.
        index: usize,
        /// The model.
        model: String,
    },
    /// A placed replica cannot run where it landed.
    #[error("deployments[{index}] ({name}) on {location}: {message}")]
    CannotRun {
        /// Index of the deployment.
        index: usize,
        /// `model:precision`.
        name: String,
        /// Where it landed.
        location: String,
        /// The performance model's reason.
        message: String,
    },
    /// A layout does not fit its GPU kind, or a gang its node.
    #[error("fleet: {0}")]
    Fleet(#[from] FleetError),
}

/// Places `deployments` on `fleet` under `policy` and models every placed
/// replica; `traffic` gives each replica's expected load. A replica whose
/// setup (model, precision, GPU kind, layout, TP) `inputs.measured` has a
/// table for uses it. Replicas are listed deployment by deployment.
pub fn deploy(
    fleet: &FleetSpec,
    policy: ServingPolicy,
    deployments: &[DeploymentSpec],
    traffic: &TrafficShape,
    inputs: &DeployInputs,
) -> Result<Deployed, DeployError> {
    let mut resolved = Vec::with_capacity(deployments.len());
    for (index, d) in deployments.iter().enumerate() {
        let id = inputs
            .catalog
            .find(&d.model, d.precision)
            .map_err(|e| DeployError::Unknown {
                index,
                message: e.to_string(),
            })?;
        let variant = inputs.catalog.variant(id);
        let arch =
            inputs
                .architectures
                .get(&d.model)
                .ok_or_else(|| DeployError::NoArchitecture {
                    index,
                    model: d.model.clone(),
                })?;
        resolved.push(Resolved {
            profile: variant.memory,
            gpu_count: variant.gpu_count,
            host: variant.host,
            arch,
            memory: d.memory.unwrap_or(inputs.engine.memory),
        });
    }
    let demands = ReplicaDemand::of(deployments, traffic);
    let mix = DemandMix::new(
        resolved
            .iter()
            .zip(deployments)
            .map(|(r, d)| (r.demand(r.memory.needs(r.profile)), u64::from(d.replicas))),
    );
    let scheduler_fleet = FleetSpec {
        policy: policy.scheduler_policy(),
        ..fleet.clone()
    };
    let scheduler = scheduler_fleet.build(&mix)?.scheduler;
    let mut layouts: Vec<Layout> = Vec::new();
    let mut layout_of = Vec::new();
    for group in &fleet.groups {
        let layout = group.layout.build(group.kind).map_err(FleetError::from)?;
        layout_of.extend(std::iter::repeat_n(layouts.len(), group.count as usize));
        layouts.push(layout);
    }
    // Device numbering: one per hardware partition, one per SPX GPU.
    let mut device_of = Vec::with_capacity(layout_of.len());
    let mut devices = 0u32;
    for &l in &layout_of {
        let layout = &layouts[l];
        let hardware = hardware_devices(layout);
        device_of.push(
            (0..layout.partitions().len() as u32)
                .map(|p| devices + if hardware > 1 { p } else { 0 })
                .collect::<Vec<u32>>(),
        );
        devices += hardware;
    }
    let mut placer = Placer {
        scheduler,
        layouts,
        layout_of,
        device_of,
        loads: vec![0.0; devices as usize],
        counts: vec![0; devices as usize],
        same: vec![0; devices as usize],
        models: HashMap::new(),
        deployments,
        resolved: &resolved,
        demands: &demands,
        inputs,
    };
    let mut order: Vec<usize> = (0..deployments.len()).collect();
    if policy == ServingPolicy::LoadAware {
        // The hardest to fit first, while the fleet is emptiest.
        order.sort_by_key(|&i| {
            let r = &resolved[i];
            std::cmp::Reverse((r.gpu_count, r.memory.needs(r.profile)))
        });
    }
    let mut replicas = Vec::new();
    let mut unplaced = Vec::new();
    for index in order {
        placer.same.iter_mut().for_each(|s| *s = 0);
        let mut failed: Option<Unplaced> = None;
        for replica in 0..deployments[index].replicas {
            match placer.place(policy, index, replica as usize)? {
                Ok(setup) => replicas.push(setup),
                Err(reason) => {
                    failed
                        .get_or_insert(Unplaced {
                            deployment: index as u32,
                            count: 0,
                            reason,
                        })
                        .count += 1;
                }
            }
        }
        unplaced.extend(failed);
    }
    replicas.sort_by_key(|r| r.deployment);
    unplaced.sort_by_key(|u| u.deployment);
    let imbalance = Imbalance::of(&placer.loads, &placer.counts);
    Ok(Deployed {
        replicas,
        unplaced,
        gpus: placer.layout_of.len() as u32,
        devices,
        device_of: placer.device_of,
        device_loads: placer.loads,
        device_replicas: placer.counts,
        imbalance,
    })
}

/// A deployment's profile and memory setting, resolved.
struct Resolved<'a> {
    profile: Mib,
    gpu_count: u32,
    host: HostDemand,
    arch: &'a Architecture,
    memory: ReplicaMemory,
}

impl Resolved<'_> {
    /// The scheduler's demand for `size` on each GPU.
    fn demand(&self, size: Mib) -> Demand {
        Demand {
            size,
            gpu_count: self.gpu_count,
            partitions: 1,
            host: self.host,
        }
    }
}

/// A replica's model on one kind of device with one memory, and its
/// predicted load there; or why it cannot run there.
type Modelled = Result<(ReplicaModel, f64), String>;

/// The placement in progress: the scheduler's books, each device's
/// predicted load and replicas, and the models built so far.
struct Placer<'a> {
    scheduler: Scheduler,
    layouts: Vec<Layout>,
    layout_of: Vec<usize>,
    device_of: Vec<Vec<u32>>,
    loads: Vec<f64>,
    counts: Vec<u32>,
    /// Replicas of the deployment being placed, per device.
    same: Vec<u32>,
    /// By (deployment, layout, partition, memory).
    models: HashMap<(usize, usize, u32, Mib), Modelled>,
    deployments: &'a [DeploymentSpec],
    resolved: &'a [Resolved<'a>],
    demands: &'a [ReplicaDemand],
    inputs: &'a DeployInputs<'a>,
}

/// A load-aware candidate's rank: lower wins (predicted load after the
/// replica is added, replicas of its deployment there, replicas there).
type Rank = (f64, u32, u32);

fn better(a: Rank, b: Rank) -> bool {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)) == std::cmp::Ordering::Less
}

impl Placer<'_> {
    /// Places replica `replica` of deployment `index`: its setup, or why it
    /// found no place (the inner error); the outer error when it landed
    /// where it cannot run.
    fn place(
        &mut self,
        policy: ServingPolicy,
        index: usize,
        replica: usize,
    ) -> Result<Result<ReplicaSetup, String>, DeployError> {
        let r = &self.resolved[index];
        let booked = match self.deployments[index].pinned.get(replica) {
            Some(at) => self.pinned(index, at),
            None => match policy {
                ServingPolicy::LoadAware => self.load_aware(index),
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
        let location = shards
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(" + ");
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
            .map(|s| self.device_of[s.gpu as usize][s.partition as usize])
            .collect();
        for &d in &devices {
            self.loads[d as usize] += load;
            self.counts[d as usize] += 1;
            self.same[d as usize] += 1;
        }
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
    fn pinned(&mut self, index: usize, at: &[PartitionRef]) -> Result<Placement, String> {
        let r = &self.resolved[index];
        let free = self.least_free(at);
        let size = r.memory.charge(r.profile, free).ok_or_else(|| {
            format!(
                "pinned at {}: {free} GiB free, the replica needs {} GiB ({} memory)",
                describe(at),
                r.memory.needs(r.profile),
                r.memory
            )
        })?;
        self.scheduler
            .schedule_at(r.demand(size), at)
            .map_err(|e| format!("pinned at {}: {e}", describe(at)))
    }

    /// The fleet policy's choice by memory; a replica taking its whole
    /// partition is placed where the policy puts its profile, then charged
    /// everything free there.
    fn by_memory_policy(&mut self, index: usize) -> Result<Placement, String> {
        let r = &self.resolved[index];
        let needs = r.memory.needs(r.profile);
        let placement = self
            .scheduler
            .schedule(&PlacementRequest {
                demand: r.demand(needs),
                preferred: None,
            })
            .map_err(|e| e.to_string())?;
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

    /// The load-aware choice: the candidate whose devices' predicted load
    /// after the replica is lowest (see [`ServingPolicy::LoadAware`]).
    fn load_aware(&mut self, index: usize) -> Result<Placement, String> {
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
                a.0 .0
                    .total_cmp(&b.0 .0)
                    .then(a.0 .1.cmp(&b.0 .1))
                    .then(a.0 .2.cmp(&b.0 .2))
                    .then(a.1.cmp(&b.1))
            });
            let chosen = &per_gpu[..gpu_count as usize];
            let worst = chosen
                .iter()
                .map(|c| c.0)
                .fold((f64::NEG_INFINITY, 0, 0), |w, c| {
                    (w.0.max(c.0), w.1 + c.1, w.2 + c.2)
                });
            if best.as_ref().is_none_or(|(rank, _)| better(worst, *rank)) {
                best = Some((worst, chosen.iter().map(|c| c.1).collect()));
            }
        }
        let Some((_, at)) = best else {
            return Err(why.unwrap_or_else(|| {
                format!(
                    "no capacity now: no {}partition has {} GiB free ({memory} memory){}",
                    if gpu_count > 1 {
                        format!("node has {gpu_count} GPUs each with a ")
                    } else {
                        String::new()
                    },
                    memory.needs(profile),
                    if host.is_none() {
                        String::new()
                    } else {
                        " with the host room left".to_string()
                    }
                )
            }));
        };
        let size = memory
            .charge(profile, self.least_free(&at))
            .expect("every candidate partition has room");
        self.scheduler
            .schedule_at(self.resolved[index].demand(size), &at)
            .map_err(|e| e.to_string())
    }

    /// The best partition of `gpu` for a replica of deployment `index`,
    /// ranked; `why` keeps the reason a partition with room could not run
    /// it.
    fn best_on_gpu(
        &mut self,
        index: usize,
        gpu: u32,
        why: &mut Option<String>,
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
                    why.get_or_insert(message);
                    continue;
                }
            };
            let device = self.device_of[gpu as usize][partition as usize] as usize;
            let rank = (
                self.loads[device] + load,
                self.same[device],
                self.counts[device],
            );
            if best.as_ref().is_none_or(|(b, _)| better(rank, *b)) {
                best = Some((rank, at));
            }
        }
        best
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
        let layout_index = self.layout_of[at.gpu as usize];
        let key = (index, layout_index, at.partition, memory);
        if let Some(known) = self.models.get(&key) {
            return known.clone();
        }
        let layout = &self.layouts[layout_index];
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
            limits: self.inputs.engine.limits_for(r.memory),
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

/// Devices a GPU laid out as `layout` is: its hardware partitions, or one.
fn hardware_devices(layout: &Layout) -> u32 {
    match layout.spec() {
        LayoutSpec::Mode(compute, _) => compute.devices(),
        LayoutSpec::Custom(_) => 1,
    }
}
