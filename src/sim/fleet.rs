//! Fleets: GPU groups of one or several kinds, fixed or elastic.

use crate::hardware::{GpuKind, Layout, LayoutError, LayoutSpec, NodeShape};
use crate::schedule::{DemandMix, Policy, Scheduler};
use crate::time::SimTime;
use crate::units::Mib;

/// Most GPUs a fixed fleet may have.
pub const MAX_FLEET_GPUS: u32 = 1_000_000;

/// Most GPUs an elastic fleet may bring online (a plan measures the peak of
/// one with this cap).
pub const ELASTIC_CAP: u32 = 1 << 20;

/// `count` GPUs of one kind, all laid out the same way.
#[derive(Debug, Clone, PartialEq)]
pub struct GpuGroup {
    /// The GPU kind.
    pub kind: GpuKind,
    /// How many.
    pub count: u32,
    /// How each is partitioned.
    pub layout: LayoutSpec,
}

/// How an elastic fleet grows and shrinks.
#[derive(Debug, Clone, PartialEq)]
pub struct ElasticSpec {
    /// Kind of GPU added when nothing fits.
    pub kind: GpuKind,
    /// Its layout.
    pub layout: LayoutSpec,
    /// Most GPUs online at once, the initial groups included.
    pub max_gpus: u32,
    /// Release an added GPU after it has been empty this long (`None`: keep).
    pub release_after: Option<SimTime>,
}

/// A fleet description.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetSpec {
    /// The GPUs present from the start, in index order. Each group fills
    /// nodes of its own (the last one may be partly filled).
    pub groups: Vec<GpuGroup>,
    /// The servers GPUs sit in: GPU slots, CPU and host memory.
    pub node: NodeShape,
    /// Growth rule; `None` for a fixed fleet.
    pub elastic: Option<ElasticSpec>,
    /// Placement policy.
    pub policy: Policy,
}

/// A fleet cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FleetError {
    /// A layout does not fit its GPU kind.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A replica spans a number of GPUs that does not divide a node.
    #[error("the workload has replicas spanning {tp} GPUs (tensor parallelism), which does not divide a node's {node_gpus} GPUs (fleet.node.gpus); use nodes of a multiple of {tp} GPUs")]
    GangDoesNotDivideNode {
        /// GPUs per replica.
        tp: u32,
        /// GPUs per node.
        node_gpus: u32,
    },
}

/// A built fleet: the scheduler plus the elastic rule.
pub struct Fleet {
    /// The scheduler holding every GPU.
    pub scheduler: Scheduler,
    elastic: Option<(Layout, u32, Option<SimTime>)>,
    initial_gpus: usize,
    node_gpus: u32,
}

impl FleetSpec {
    /// A fixed fleet of `count` GPUs of one kind and layout.
    pub fn uniform(kind: GpuKind, count: u32, layout: LayoutSpec, policy: Policy) -> FleetSpec {
        FleetSpec {
            groups: vec![GpuGroup {
                kind,
                count,
                layout,
            }],
            node: NodeShape::REFERENCE,
            elastic: None,
            policy,
        }
    }

    /// The same fleet on nodes of `node`.
    pub fn on_nodes(mut self, node: NodeShape) -> FleetSpec {
        self.node = node;
        self
    }

    /// Checks every layout against its kind and every gang size of `mix`
    /// against the node, and builds the fleet, its policy configured for a
    /// workload whose demands are `mix`.
    pub fn build(&self, mix: &DemandMix) -> Result<Fleet, FleetError> {
        self.check_gangs(mix.entries().iter().map(|(d, _)| d.gpu_count))?;
        let mut scheduler =
            Scheduler::on_nodes(self.policy.configure(mix), self.node, std::iter::empty());
        for group in &self.groups {
            let layout = group.layout.build(group.kind)?;
            for _ in 0..group.count {
                scheduler.add_gpu(&layout);
            }
            scheduler.close_node();
        }
        let elastic = match &self.elastic {
            Some(e) => Some((e.layout.build(e.kind)?, e.max_gpus, e.release_after)),
            None => None,
        };
        let initial_gpus = scheduler.gpus().len();
        Ok(Fleet {
            scheduler,
            elastic,
            initial_gpus,
            node_gpus: self.node.gpus,
        })
    }

    /// Fails on the first replica size (GPUs per replica) that does not
    /// divide this fleet's nodes.
    pub fn check_gangs(&self, gpu_counts: impl IntoIterator<Item = u32>) -> Result<(), FleetError> {
        match gpu_counts.into_iter().find(|&tp| !self.node.divides(tp)) {
            Some(tp) => Err(FleetError::GangDoesNotDivideNode {
                tp,
                node_gpus: self.node.gpus,
            }),
            None => Ok(()),
        }
    }

    /// GPUs present from the start.
    pub fn initial_gpus(&self) -> u32 {
        self.groups.iter().map(|g| g.count).sum()
    }

    /// A short description: `64 x MI300X SPX/NPS1 + 32 x MI325X CPX/NPS1, elastic to 128`,
    /// with the node shape when it is not the reference one.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .groups
            .iter()
            .map(|g| format!("{} x {} {}", g.count, g.kind, g.layout))
            .collect();
        if parts.is_empty() {
            parts.push("no GPU".into());
        }
        let mut text = parts.join(" + ");
        if let Some(e) = &self.elastic {
            text.push_str(&format!(
                ", elastic to {} with {} {}",
                e.max_gpus, e.kind, e.layout
            ));
        }
        if self.node != NodeShape::REFERENCE {
            text.push_str(&format!(", nodes of {}", self.node.describe()));
        }
        text
    }
}

impl Fleet {
    /// Whether the fleet may grow.
    pub fn is_elastic(&self) -> bool {
        self.elastic.is_some()
    }

    /// The largest partition a GPU added by the elastic rule has.
    pub fn elastic_largest_partition(&self) -> Option<Mib> {
        self.elastic
            .as_ref()
            .map(|(layout, _, _)| layout.largest_partition())
    }

    /// Most GPUs worth adding for a replica spanning `gpu_count` GPUs of one
    /// node: enough to fill the last node and then a new one.
    pub fn growth_for(&self, gpu_count: u32) -> usize {
        (self.node_gpus - 1 + gpu_count) as usize
    }

    /// Brings one more GPU online under the elastic rule, reviving the
    /// lowest-indexed released GPU before adding a new one. Returns its
    /// index, or `None` at the cap or for a fixed fleet.
    pub fn grow(&mut self) -> Option<u32> {
        let (layout, max_gpus, _) = self.elastic.as_ref()?;
        if self.scheduler.online_gpus() >= *max_gpus as usize {
            return None;
        }
        let released = (self.initial_gpus..self.scheduler.gpus().len())
            .map(|g| g as u32)
            .find(|&g| !self.scheduler.is_online(g));
        match released {
            Some(gpu) => {
                self.scheduler
                    .set_online(gpu, true)
                    .expect("the GPU exists");
                Some(gpu)
            }
            None => Some(self.scheduler.add_gpu(layout)),
        }
    }

    /// How long an added GPU may stay empty before it is released.
    pub fn release_after(&self) -> Option<SimTime> {
        self.elastic.as_ref().and_then(|e| e.2)
    }

    /// Releases `gpu` if the elastic rule added it and it is empty.
    pub fn release(&mut self, gpu: u32) -> bool {
        (gpu as usize) >= self.initial_gpus
            && self.scheduler.is_online(gpu)
            && self.scheduler.set_online(gpu, false).is_ok()
    }
}
