//! Places a serving scenario's replicas on its fleet with the same
//! scheduler as every other run, and builds each placed replica's
//! performance model from where it landed.
//!
//! A replica is charged its profile's memory, as in a deployment replay,
//! and its engine takes that memory (the quota AIM hands vLLM as its
//! share). Its device is the partition it landed in: a hardware partition
//! (DPX, QPX, CPX) is a device of its own; the partitions of an SPX GPU
//! (custom sizes, or one whole GPU) share the GPU's compute and bandwidth.
//! Replicas on one device are co-tenants: each iteration runs at the
//! speed the performance model gives for the number of them busy when it
//! starts. A profile spanning several GPUs runs tensor-parallel over them,
//! all on one node.

use crate::hardware::{Layout, LayoutSpec};
use crate::perf::{Device, Efficiency, MeasuredSet, ReplicaModel, ReplicaSpec, Setup};
use crate::profile::{ArchitectureTable, Catalog, Precision};
use crate::schedule::{Demand, DemandMix, PlacementRequest, Shard};
use crate::sim::{FleetError, FleetSpec};
use crate::units::Mib;

use super::engine::EngineConfig;

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
    /// Memory reserved per replica on each GPU it spans, when more than
    /// its profile's: charged to the partition (a plan keeping co-tenants
    /// apart), while the engine still takes only the profile's memory.
    /// `None`: the profile's memory.
    pub reserve: Option<Mib>,
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

/// Places `deployments` on `fleet` in order and models every placed
/// replica; a replica whose setup (model, precision, GPU kind, layout, TP)
/// `measured` has a table for uses it.
pub fn deploy(
    fleet: &FleetSpec,
    deployments: &[DeploymentSpec],
    catalog: &Catalog,
    architectures: &ArchitectureTable,
    measured: Option<&MeasuredSet>,
    engine: &EngineConfig,
    efficiency: Efficiency,
) -> Result<Deployed, DeployError> {
    let mut layouts: Vec<Layout> = Vec::new();
    for group in &fleet.groups {
        let layout = group.layout.build(group.kind).map_err(FleetError::from)?;
        layouts.extend(std::iter::repeat_n(layout, group.count as usize));
    }
    // Device numbering: one per hardware partition, one per SPX GPU.
    let mut first_device = Vec::with_capacity(layouts.len());
    let mut devices = 0u32;
    for layout in &layouts {
        first_device.push(devices);
        devices += hardware_devices(layout);
    }
    let mut demands = Vec::with_capacity(deployments.len());
    for (index, d) in deployments.iter().enumerate() {
        let unknown = |message: String| DeployError::Unknown { index, message };
        let id = catalog
            .find(&d.model, d.precision)
            .map_err(|e| unknown(e.to_string()))?;
        let variant = catalog.variant(id);
        let arch = architectures
            .get(&d.model)
            .ok_or_else(|| DeployError::NoArchitecture {
                index,
                model: d.model.clone(),
            })?;
        demands.push((
            Demand {
                size: d.reserve.map_or(variant.memory, |m| m.max(variant.memory)),
                gpu_count: variant.gpu_count,
                partitions: 1,
                host: variant.host,
            },
            arch,
            variant.memory,
        ));
    }
    let mix = DemandMix::new(
        demands
            .iter()
            .zip(deployments)
            .map(|((demand, _, _), d)| (*demand, u64::from(d.replicas))),
    );
    let mut scheduler = fleet.build(&mix)?.scheduler;
    let mut replicas = Vec::new();
    let mut unplaced = Vec::new();
    for (index, (d, (demand, arch, quota))) in deployments.iter().zip(&demands).enumerate() {
        let request = PlacementRequest {
            demand: *demand,
            preferred: None,
        };
        let mut failed: Option<Unplaced> = None;
        for _ in 0..d.replicas {
            let placement = match scheduler.schedule(&request) {
                Ok(p) => p,
                Err(rejection) => {
                    failed
                        .get_or_insert_with(|| Unplaced {
                            deployment: index as u32,
                            count: 0,
                            reason: rejection.to_string(),
                        })
                        .count += 1;
                    continue;
                }
            };
            let shards: Vec<Shard> = placement.shards().collect();
            let first = shards[0].at;
            let layout = &layouts[first.gpu as usize];
            let mut device = Device::of_layout(layout, first.partition as usize);
            // The engine's quota is the profile's, whatever was reserved.
            device.memory = *quota;
            let location = shards
                .iter()
                .map(|s| s.at.to_string())
                .collect::<Vec<_>>()
                .join(" + ");
            let spec = ReplicaSpec {
                arch,
                precision: d.precision,
                kv_cache: engine.kv_cache,
                device,
                tp: demand.gpu_count,
                limits: engine.limits,
                efficiency,
            };
            let mut model = ReplicaModel::new(&spec).map_err(|e| DeployError::CannotRun {
                index,
                name: d.name(),
                location: location.clone(),
                message: e.to_string(),
            })?;
            let setup = Setup {
                model: d.model.clone(),
                precision: d.precision,
                gpu: layout.kind(),
                layout: layout.spec().to_string(),
                tp: demand.gpu_count,
            };
            if let Some(table) = measured.and_then(|m| m.table(&setup)) {
                model = model.with_measurements(table.clone());
            }
            replicas.push(ReplicaSetup {
                deployment: index as u32,
                gpus: shards.iter().map(|s| s.at.gpu).collect(),
                devices: shards
                    .iter()
                    .map(|s| {
                        let layout = &layouts[s.at.gpu as usize];
                        first_device[s.at.gpu as usize]
                            + if hardware_devices(layout) > 1 {
                                s.at.partition
                            } else {
                                0
                            }
                    })
                    .collect(),
                location,
                model,
                max_context: arch.max_context,
            });
        }
        unplaced.extend(failed);
    }
    Ok(Deployed {
        replicas,
        unplaced,
        gpus: layouts.len() as u32,
        devices,
    })
}

/// Devices a GPU laid out as `layout` is: its hardware partitions, or one.
fn hardware_devices(layout: &Layout) -> u32 {
    match layout.spec() {
        LayoutSpec::Mode(compute, _) => compute.devices(),
        LayoutSpec::Custom(_) => 1,
    }
}
