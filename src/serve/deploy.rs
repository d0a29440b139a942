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

use crate::hardware::{Layout, LayoutSpec};
use crate::perf::{Efficiency, MeasuredSet, ReplicaModel};
use crate::profile::{ArchitectureTable, Catalog, Precision};
use crate::schedule::{DemandMix, PartitionRef, RejectCode};
use crate::sim::{FleetError, FleetSpec};
use crate::units::Mib;

use super::engine::{EngineConfig, EngineKnobs};
use super::memory::ReplicaMemory;
use super::placement::{Imbalance, ReplicaDemand, ServingPolicy};
use super::placer::{FleetMap, Placer, Resolved, Wanted};
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
    /// Tensor-parallel degree: whole GPUs of one node each replica spans;
    /// `None`: its profile's `gpu_count`. A degree other than the
    /// profile's splits the profile's memory evenly over the GPUs.
    pub tp: Option<u32>,
    /// Engine settings of its replicas over the scenario's.
    pub knobs: EngineKnobs,
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
    /// The scheduler's code for the first of them: it never fits this
    /// fleet, or there is no room now.
    pub code: RejectCode,
    /// The scheduler's reason for the first of them, in words.
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
    /// Devices over capacity, and those a better placement could relieve.
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
    /// A replica cannot be placed where the scenario pins it.
    #[error("deployments[{index}].placement[{replica}]: {message}")]
    Pinned {
        /// Index of the deployment.
        index: usize,
        /// The replica.
        replica: usize,
        /// Why.
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
        let gpu_count = d.tp.unwrap_or(variant.gpu_count);
        if gpu_count == 0 {
            return Err(DeployError::Unknown {
                index,
                message: "a replica spans at least one GPU (tp = 0)".into(),
            });
        }
        let profile = if gpu_count == variant.gpu_count {
            variant.memory
        } else {
            Mib((variant.memory.0 * u64::from(variant.gpu_count)).div_ceil(u64::from(gpu_count)))
        };
        resolved.push(Resolved {
            profile,
            gpu_count,
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
            .map(|(r, d)| (r.demand(r.needs()), u64::from(d.replicas))),
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
    let map = FleetMap {
        layouts,
        layout_of,
        device_of,
        devices,
    };
    let wanted = Wanted {
        deployments,
        resolved: &resolved,
        demands: &demands,
    };
    let mut placer = Placer::new(scheduler, map, policy, wanted, inputs);
    let mut order: Vec<usize> = (0..deployments.len()).collect();
    if policy == ServingPolicy::LoadAware {
        // The hardest to fit first, while the fleet is emptiest.
        order.sort_by_key(|&i| {
            let r = &resolved[i];
            std::cmp::Reverse((r.gpu_count, r.needs()))
        });
    }
    let mut replicas = Vec::new();
    let mut unplaced = Vec::new();
    // Pinned replicas first, wherever their deployment comes in the order,
    // so that no policy's choice takes a pinned partition.
    for (index, d) in deployments.iter().enumerate() {
        for replica in 0..d.pinned.len() {
            if let Ok(setup) = placer.place(policy, index, replica)? {
                replicas.push(setup);
            }
        }
    }
    for index in order {
        let mut failed: Option<Unplaced> = None;
        for replica in deployments[index].pinned.len()..deployments[index].replicas as usize {
            // Memory and host room only shrink while a fleet is placed: once
            // one replica found no place, the others of its kind find none.
            if let Some(failed) = failed.as_mut() {
                failed.count += 1;
                continue;
            }
            match placer.place(policy, index, replica)? {
                Ok(setup) => replicas.push(setup),
                Err(refusal) => {
                    failed
                        .get_or_insert(Unplaced {
                            deployment: index as u32,
                            count: 0,
                            code: refusal.code,
                            reason: refusal.message,
                        })
                        .count += 1;
                }
            }
        }
        unplaced.extend(failed);
    }
    // Deployment by deployment; a sort keeps each one's replicas in order.
    replicas.sort_by_key(|r| r.deployment);
    unplaced.sort_by_key(|u| u.deployment);
    let room = placer.device_room();
    let (map, loads, counts) = placer.finish();
    let mut needs: Vec<Option<Mib>> = vec![None; devices as usize];
    for r in &replicas {
        let need = resolved[r.deployment as usize].needs();
        for &d in &r.devices {
            let least = needs[d as usize].get_or_insert(need);
            *least = (*least).min(need);
        }
    }
    Ok(Deployed {
        replicas,
        unplaced,
        gpus: map.layout_of.len() as u32,
        devices,
        device_of: map.device_of,
        imbalance: Imbalance::of(&loads, &counts, &needs, &room),
        device_loads: loads,
        device_replicas: counts,
    })
}

/// Devices a GPU laid out as `layout` is: its hardware partitions, or one.
fn hardware_devices(layout: &Layout) -> u32 {
    match layout.spec() {
        LayoutSpec::Mode(compute, _) => compute.devices(),
        LayoutSpec::Custom(_) => 1,
    }
}
