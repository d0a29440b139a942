//! A composition laid out: the fleet (one group of GPUs per partition mode
//! used, each filling nodes of its own) and every replica's partitions,
//! pinned so that a replay puts each replica exactly where the plan did.
//!
//! Tensor-parallel replicas take aligned blocks of whole GPUs, largest
//! first (with degrees dividing the node, such blocks never straddle two
//! nodes and leave no hole a later block could not use). Every other
//! replica takes one partition, on the node with the fewest replicas so
//! far that has room for one more under its CPU and host memory (lowest
//! index first), the lowest partition index first across that node's GPUs.

use crate::hardware::{HostDemand, NodeShape};
use crate::schedule::PartitionRef;
use crate::sim::{FleetSpec, GpuGroup};

use super::compose::Composition;
use super::space::Mode;

/// A composition laid out.
#[derive(Debug, Clone, PartialEq)]
pub struct LaidOut {
    /// The fleet: one group per mode used, in mode order.
    pub fleet: FleetSpec,
    /// Per model, each replica's partitions.
    pub pinned: Vec<Vec<Vec<PartitionRef>>>,
}

/// The fleet of a composition (`tps`: each model's tensor-parallel
/// degree) and, per model, each replica's partitions.
pub fn lay_out(
    modes: &[Mode],
    node: &NodeShape,
    composition: &Composition,
    tps: &[u32],
) -> Result<LaidOut, String> {
    let mut groups = Vec::new();
    let mut pinned = vec![Vec::new(); composition.choices.len()];
    let mut first_gpu = 0u32;
    for (k, mode) in modes.iter().enumerate() {
        let gpus = composition.gpus[k];
        if gpus == 0 {
            continue;
        }
        groups.push(GpuGroup {
            kind: mode.kind,
            count: gpus,
            layout: mode.layout.clone(),
        });
        let members: Vec<usize> = (0..composition.choices.len())
            .filter(|&m| composition.choices[m].mode == k)
            .collect();
        let host = members.iter().map(|&m| composition.choices[m].host).fold(
            HostDemand::default(),
            |a, h| HostDemand {
                cpu_milli: a.cpu_milli.max(h.cpu_milli),
                memory: a.memory.max(h.memory),
            },
        );
        let mut group = Group::new(mode, node, gpus, host);
        let mut gangs: Vec<usize> = members.iter().copied().filter(|&m| tps[m] > 1).collect();
        gangs.sort_by_key(|&m| (std::cmp::Reverse(tps[m]), m));
        for &m in &gangs {
            for _ in 0..composition.choices[m].replicas {
                let at = group.take_gang(tps[m]).ok_or_else(|| {
                    format!(
                        "no aligned block of {} GPUs left in {}",
                        tps[m],
                        mode.label()
                    )
                })?;
                pinned[m].push(shift(at, first_gpu));
            }
        }
        for &m in members.iter().filter(|&&m| tps[m] == 1) {
            for _ in 0..composition.choices[m].replicas {
                let at = group.take_single().ok_or_else(|| {
                    format!(
                        "{} GPUs of {} hold no more replicas (partitions or host room)",
                        gpus,
                        mode.label()
                    )
                })?;
                pinned[m].push(shift(vec![at], first_gpu));
            }
        }
        first_gpu += gpus;
    }
    let fleet = FleetSpec {
        groups,
        node: *node,
        elastic: None,
        policy: crate::schedule::Policy::Spread,
    };
    Ok(LaidOut { fleet, pinned })
}

/// Whether `groups` (each a tensor-parallel degree and a replica count),
/// each replica asking at most `host` of its node, fit `gpus` GPUs of
/// `mode` laid out as [`lay_out`] lays them out.
pub fn packs(
    mode: &Mode,
    node: &NodeShape,
    gpus: u32,
    host: HostDemand,
    groups: &[(u32, u32)],
) -> bool {
    let mut group = Group::new(mode, node, gpus, host);
    let mut gangs: Vec<(u32, u32)> = groups.iter().copied().filter(|&(tp, _)| tp > 1).collect();
    gangs.sort_by_key(|&(tp, _)| std::cmp::Reverse(tp));
    for (tp, n) in gangs {
        for _ in 0..n {
            if group.take_gang(tp).is_none() {
                return false;
            }
        }
    }
    let singles: u32 = groups
        .iter()
        .filter(|&&(tp, _)| tp == 1)
        .map(|&(_, n)| n)
        .sum();
    (0..singles).all(|_| group.take_single().is_some())
}

fn shift(at: Vec<PartitionRef>, by: u32) -> Vec<PartitionRef> {
    at.into_iter()
        .map(|p| PartitionRef {
            gpu: p.gpu + by,
            partition: p.partition,
        })
        .collect()
}

/// The GPUs of one mode while replicas are laid out on them.
struct Group {
    partitions: u32,
    node_gpus: u32,
    /// Per GPU (group-relative), whether each partition is taken.
    taken: Vec<Vec<bool>>,
    /// Replicas per node.
    on_node: Vec<u64>,
    /// Most replicas a node's host holds.
    per_node: u64,
}

impl Group {
    fn new(mode: &Mode, node: &NodeShape, gpus: u32, host: HostDemand) -> Group {
        let by_cpu = node
            .cpu_milli
            .checked_div(u64::from(host.cpu_milli))
            .unwrap_or(u64::MAX);
        let by_memory = node.memory.0.checked_div(host.memory.0).unwrap_or(u64::MAX);
        Group {
            partitions: mode.partitions,
            node_gpus: node.gpus.max(1),
            taken: vec![vec![false; mode.partitions as usize]; gpus as usize],
            on_node: vec![0; gpus.div_ceil(node.gpus.max(1)) as usize],
            per_node: by_cpu.min(by_memory),
        }
    }

    /// The first aligned block of `tp` wholly free GPUs on a node with
    /// host room.
    fn take_gang(&mut self, tp: u32) -> Option<Vec<PartitionRef>> {
        let gpus = self.taken.len() as u32;
        let start = (0..gpus).step_by(tp as usize).find(|&s| {
            s + tp <= gpus
                && self.on_node[(s / self.node_gpus) as usize] < self.per_node
                && (s..s + tp).all(|g| self.taken[g as usize].iter().all(|t| !t))
        })?;
        for g in start..start + tp {
            self.taken[g as usize].iter_mut().for_each(|t| *t = true);
        }
        self.on_node[(start / self.node_gpus) as usize] += 1;
        Some(
            (start..start + tp)
                .map(|gpu| PartitionRef { gpu, partition: 0 })
                .collect(),
        )
    }

    /// A free partition on the least-loaded node with host room.
    fn take_single(&mut self) -> Option<PartitionRef> {
        let mut nodes: Vec<usize> = (0..self.on_node.len())
            .filter(|&n| self.on_node[n] < self.per_node)
            .collect();
        nodes.sort_by_key(|&n| (self.on_node[n], n));
        for n in nodes {
            let first = n as u32 * self.node_gpus;
            let last = (first + self.node_gpus).min(self.taken.len() as u32);
            for partition in 0..self.partitions {
                for gpu in first..last {
                    let slot = &mut self.taken[gpu as usize][partition as usize];
                    if !*slot {
                        *slot = true;
                        self.on_node[n] += 1;
                        return Some(PartitionRef { gpu, partition });
                    }
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::compose::{mode_gpus, Choice};
    use super::*;
    use crate::hardware::{ComputeMode, GpuKind, LayoutSpec, MemoryMode};
    use crate::units::Mib;
    use proptest::prelude::*;

    fn modes() -> Vec<Mode> {
        [ComputeMode::Spx, ComputeMode::Qpx, ComputeMode::Cpx]
            .iter()
            .map(|&c| Mode {
                kind: GpuKind::Mi300x,
                layout: LayoutSpec::Mode(c, MemoryMode::Nps1),
                partitions: c.devices(),
                partition: Mib::gib(u64::from(192 / c.devices())),
                price: 1.0,
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn every_replica_gets_its_own_partitions_in_its_mode_within_its_node(
            models in prop::collection::vec((0usize..3, 1u32..=30, prop::sample::select(vec![1u32, 2, 4, 8]), 1u32..=8), 1..=6),
            cores in 8u64..=96,
        ) {
            let modes = modes();
            // Nodes whose CPU often binds before their GPUs do.
            let node = NodeShape { cpu_milli: cores * 1000, ..NodeShape::REFERENCE };
            let host = |cores: u32| HostDemand { cpu_milli: cores * 1000, memory: Mib::gib(16) };
            let tps: Vec<u32> = models
                .iter()
                .map(|&(k, _, tp, _)| if modes[k].partitions == 1 { tp } else { 1 })
                .collect();
            let choices: Vec<Choice> = models
                .iter()
                .zip(&tps)
                .map(|(&(k, replicas, _, cores), &tp)| Choice {
                    viable: 0,
                    mode: k,
                    replicas,
                    slots: replicas * tp,
                    host: host(cores),
                })
                .collect();
            let gpus: Vec<u32> = (0..modes.len())
                .map(|k| {
                    let of: Vec<&Choice> = choices.iter().filter(|c| c.mode == k).collect();
                    let groups: Vec<(u32, u32)> = of.iter().map(|c| (c.tp(), c.replicas)).collect();
                    mode_gpus(
                        &modes[k],
                        &node,
                        of.iter().map(|c| c.host).max().unwrap_or_default(),
                        &groups,
                    )
                    .unwrap()
                })
                .collect();
            let composition = Composition { choices: choices.clone(), gpus: gpus.clone(), cost: 0.0, proven: true, nodes: 0 };
            let LaidOut { fleet, pinned } = lay_out(&modes, &node, &composition, &tps).unwrap();
            prop_assert_eq!(fleet.initial_gpus(), gpus.iter().sum::<u32>());
            // GPU ranges of each mode's group, in order.
            let mut start = vec![0u32; modes.len()];
            let mut first = 0;
            for k in 0..modes.len() {
                start[k] = first;
                first += gpus[k];
            }
            let mut used = std::collections::BTreeSet::new();
            let mut per_node: std::collections::BTreeMap<(usize, u32), u32> = Default::default();
            for (m, at) in pinned.iter().enumerate() {
                let c = choices[m];
                prop_assert_eq!(at.len() as u32, c.replicas);
                for replica in at {
                    prop_assert_eq!(replica.len() as u32, tps[m]);
                    let node_of = |g: u32| (g - start[c.mode]) / node.gpus;
                    for p in replica {
                        prop_assert!(p.gpu >= start[c.mode] && p.gpu < start[c.mode] + gpus[c.mode]);
                        prop_assert!(p.partition < modes[c.mode].partitions);
                        prop_assert!(used.insert((p.gpu, p.partition)), "partition used twice");
                        prop_assert_eq!(node_of(p.gpu), node_of(replica[0].gpu));
                    }
                    *per_node.entry((c.mode, node_of(replica[0].gpu))).or_default() += 1;
                }
            }
            // No node hosts more replicas than the most demanding one's
            // cores allow.
            for (&(k, _), &count) in &per_node {
                let cores = choices.iter().filter(|c| c.mode == k).map(|c| c.host.cpu_milli).max().unwrap();
                prop_assert!(u64::from(count) * u64::from(cores) <= node.cpu_milli);
            }
        }
    }
}
