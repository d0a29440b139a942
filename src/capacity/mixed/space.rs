//! The configurations a replica of one model can take in a mixed plan
//! (precision x partition mode x tensor-parallel degree), and the ones
//! physics rules out before any simulation: no profile at the precision,
//! weights that do not fit the device, or requests that miss the targets
//! even alone on an idle replica.

use crate::hardware::{GpuKind, HostDemand, LayoutSpec};
use crate::perf::ReplicaModel;
use crate::profile::physical::TP_DEGREES;
use crate::profile::Precision;
use crate::serve::traffic::InferenceRequest;
use crate::serve::{DeploymentSpec, EngineKnobs};
use crate::sim::FleetSpec;
use crate::units::Mib;

use super::super::bounds::{floor, Floor};
use super::super::evaluate::lone_replica_on;
use super::super::PlanContext;

/// A way to partition GPUs of one kind that a mixed fleet may use.
#[derive(Debug, Clone, PartialEq)]
pub struct Mode {
    /// GPU kind.
    pub kind: GpuKind,
    /// Layout of every GPU in this mode.
    pub layout: LayoutSpec,
    /// Partitions per GPU: the replicas of one partition each it holds.
    pub partitions: u32,
    /// Memory of its smallest partition.
    pub partition: Mib,
    /// Price of one GPU per hour (1 when the scenario gives none, so cost
    /// counts GPUs).
    pub price: f64,
}

impl Mode {
    /// `MI300X QPX/NPS1`.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind, self.layout)
    }

    /// A fleet of `gpus` GPUs of this mode on the plan's nodes.
    pub fn fleet(&self, context: &PlanContext, gpus: u32) -> FleetSpec {
        FleetSpec::uniform(
            self.kind,
            gpus,
            self.layout.clone(),
            crate::schedule::Policy::Spread,
        )
        .on_nodes(context.node)
    }
}

/// One configuration of a model's replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaConfig {
    /// Weight precision.
    pub precision: Precision,
    /// Index of its partition mode in the plan's modes.
    pub mode: usize,
    /// GPUs (whole, of one node) it spans; 1 on a partition.
    pub tp: u32,
    /// Engine settings of its own (`None`s: the scenario's engine).
    pub knobs: EngineKnobs,
}

impl ReplicaConfig {
    /// Partitions of its mode one replica takes: one, or `tp` whole GPUs.
    pub fn slots(&self) -> u32 {
        self.tp
    }

    /// `int8 MI300X QPX/NPS1 tp1`, then its own engine settings if any
    /// (`seqs64`, `tokens4096`).
    pub fn label(&self, modes: &[Mode]) -> String {
        let mut label = format!(
            "{} {} tp{}",
            self.precision,
            modes[self.mode].label(),
            self.tp
        );
        if let Some(n) = self.knobs.max_seqs {
            label.push_str(&format!(" seqs{n}"));
        }
        if let Some(n) = self.knobs.max_batched_tokens {
            label.push_str(&format!(" tokens{n}"));
        }
        label
    }

    /// The deployment of `replicas` such replicas of `model`.
    pub fn deployment(&self, context: &PlanContext, model: &str, replicas: u32) -> DeploymentSpec {
        DeploymentSpec {
            model: model.to_string(),
            precision: self.precision,
            replicas,
            memory: Some(context.engine.memory),
            pinned: Vec::new(),
            tp: Some(self.tp),
            knobs: self.knobs,
        }
    }
}

/// A configuration that survived pruning: what one replica of it is.
#[derive(Debug, Clone)]
pub struct Viable {
    /// The configuration.
    pub config: ReplicaConfig,
    /// Its performance model, alone on its device.
    pub model: ReplicaModel,
    /// Its latency floor on the model's measured requests.
    pub floor: Floor,
    /// CPU and host memory one replica asks of its node.
    pub host: HostDemand,
}

/// A configuration ruled out, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Pruned {
    /// The configuration.
    pub config: ReplicaConfig,
    /// Why, in words.
    pub reason: String,
}

/// Every configuration of `model` over `precisions` x `modes` x TP
/// degrees (TP above one on whole-GPU modes only, dividing the node) x
/// `knobs`, split into the viable and the pruned; `measured` are its
/// requests after the warm-up.
pub fn configurations(
    context: &PlanContext,
    model: &str,
    precisions: &[Precision],
    modes: &[Mode],
    knobs: &[EngineKnobs],
    measured: &[InferenceRequest],
) -> (Vec<Viable>, Vec<Pruned>) {
    let mut viable = Vec::new();
    let mut pruned = Vec::new();
    for &precision in precisions {
        let variant = match context.catalog.find(model, precision) {
            Ok(id) => context.catalog.variant(id),
            Err(e) => {
                for mode in 0..modes.len() {
                    pruned.push(Pruned {
                        config: ReplicaConfig {
                            precision,
                            mode,
                            tp: 1,
                            knobs: EngineKnobs::default(),
                        },
                        reason: e.to_string(),
                    });
                }
                continue;
            }
        };
        for (m, mode) in modes.iter().enumerate() {
            let degrees: &[u32] = if mode.partitions == 1 {
                &TP_DEGREES
            } else {
                &TP_DEGREES[..1]
            };
            let shapes = degrees
                .iter()
                .filter(|&&tp| context.node.divides(tp))
                .flat_map(|&tp| knobs.iter().map(move |&k| (tp, k)));
            for (tp, knobs) in shapes {
                let config = ReplicaConfig {
                    precision,
                    mode: m,
                    tp,
                    knobs,
                };
                let spec = config.deployment(context, model, 1);
                match lone_replica_on(context, &mode.fleet(context, tp), &spec) {
                    Err(reason) => pruned.push(Pruned { config, reason }),
                    Ok(replica) => {
                        let floor = floor(&replica, measured, &context.slo);
                        if floor.reachable(&context.slo) {
                            viable.push(Viable {
                                config,
                                model: replica,
                                floor,
                                host: variant.host,
                            });
                        } else {
                            pruned.push(Pruned {
                                config,
                                reason: floor.reason(&context.slo),
                            });
                        }
                    }
                }
            }
        }
    }
    (viable, pruned)
}
