//! The cheapest fleet composition: per model one configuration and a
//! replica count, per partition mode a number of GPUs, solved exactly by
//! branch and bound.
//!
//! Each model `m` needs `ceil(demand_m / capacity_c)` replicas of the
//! configuration `c` it is given; replicas of one partition mode share its
//! GPUs (`partitions` per GPU, a TP replica taking `tp` whole GPUs), and a
//! node holds no more replicas than its CPU and host memory allow. The
//! cost of a mode is its price times its GPUs; the composition minimises
//! the sum; fewer GPUs, then fewer partition modes, then the first found
//! (options in each model's order) break ties.
//!
//! Only the cheapest configuration of each model in each mode can be part
//! of an optimum (a mode's GPUs grow with the partitions its replicas
//! take, and nothing else of a model matters to the others), so a model
//! has one option per mode. The bound of a partial composition is its
//! modes' fractional GPUs (partitions taken / partitions per GPU, times
//! the price) plus each remaining model's cheapest fractional option: a
//! mode's GPUs are at least its fraction, so no completion costs less, and
//! a branch whose bound exceeds the best cost found is cut. The search is
//! therefore exact within its space: one configuration per model, and the
//! replica counts the capacities give.

use crate::hardware::{HostDemand, NodeShape};

use super::space::Mode;

/// Most branch-and-bound nodes visited before the search stops with the
/// best composition found (and says it is not proven optimal).
pub const MAX_NODES: u64 = 20_000_000;

/// One way to serve a model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    /// Index of the configuration in the model's viable list.
    pub viable: usize,
    /// Its partition mode.
    pub mode: usize,
    /// Replicas needed.
    pub replicas: u32,
    /// Partitions of the mode they take.
    pub slots: u32,
    /// What each asks of its node.
    pub host: HostDemand,
}

impl Choice {
    /// GPUs (partitions) each of its replicas spans.
    pub fn tp(&self) -> u32 {
        self.slots / self.replicas.max(1)
    }
}

/// A composition: a choice per model and the GPUs of each mode.
#[derive(Debug, Clone, PartialEq)]
pub struct Composition {
    /// Per model, the choice made.
    pub choices: Vec<Choice>,
    /// GPUs per mode (in the plan's mode order).
    pub gpus: Vec<u32>,
    /// Sum over modes of price x GPUs.
    pub cost: f64,
    /// Whether the search finished (the composition is optimal), rather
    /// than stopping at [`MAX_NODES`].
    pub proven: bool,
    /// Branch-and-bound nodes visited.
    pub nodes: u64,
}

impl Composition {
    /// GPUs in all.
    pub fn total_gpus(&self) -> u32 {
        self.gpus.iter().sum()
    }
}

/// Fewest GPUs of `mode` on nodes of `node` that hold `groups` (each a
/// tensor-parallel degree and a replica count), each replica asking at
/// most `host` of its node, laid out as [`super::layout::lay_out`] lays
/// them out; `None` when not even an empty node holds one.
///
/// Replicas of one partition each are counted: a node holds as many as
/// its partitions and its host allow. Tensor-parallel replicas are packed
/// for real, from that count up, since aligned blocks and host room
/// interact.
pub fn mode_gpus(
    mode: &Mode,
    node: &NodeShape,
    host: HostDemand,
    groups: &[(u32, u32)],
) -> Option<u32> {
    let slots: u32 = groups.iter().map(|&(tp, n)| tp * n).sum();
    let replicas: u32 = groups.iter().map(|&(_, n)| n).sum();
    if slots == 0 {
        return Some(0);
    }
    let by_cpu = node
        .cpu_milli
        .checked_div(u64::from(host.cpu_milli))
        .unwrap_or(u64::MAX);
    let by_memory = node.memory.0.checked_div(host.memory.0).unwrap_or(u64::MAX);
    let per_node = by_cpu.min(by_memory);
    if per_node == 0 || node.gpus == 0 {
        return None;
    }
    let holds = |gpus: u32| -> u64 {
        let full = u64::from(gpus / node.gpus);
        let rest = u64::from(gpus % node.gpus);
        let per_full = (u64::from(node.gpus) * u64::from(mode.partitions)).min(per_node);
        full * per_full + (rest * u64::from(mode.partitions)).min(per_node)
    };
    let mut gpus = slots.div_ceil(mode.partitions);
    while holds(gpus) < u64::from(replicas) {
        gpus = gpus.checked_add(1)?;
    }
    if groups.iter().any(|&(tp, n)| tp > 1 && n > 0) {
        // Each gang could need a node of its own: past that, more GPUs
        // cannot help.
        let most = gpus.saturating_add(replicas.saturating_mul(node.gpus));
        while !super::layout::packs(mode, node, gpus, host, groups) {
            if gpus >= most {
                return None;
            }
            gpus += 1;
        }
    }
    Some(gpus)
}

/// The cheapest composition choosing one of `options[m]` for every model
/// `m` (in each model's order of preference), or `None` when some model
/// has no option or no composition can be hosted.
pub fn compose(modes: &[Mode], node: &NodeShape, options: &[Vec<Choice>]) -> Option<Composition> {
    if options.iter().any(|o| o.is_empty()) {
        return None;
    }
    let fraction = |c: &Choice| {
        let mode = &modes[c.mode];
        mode.price * f64::from(c.slots) / f64::from(mode.partitions)
    };
    // Models with the most expensive cheapest option first: they decide
    // most, so the bound tightens early.
    let mut order: Vec<usize> = (0..options.len()).collect();
    let cheapest: Vec<f64> = options
        .iter()
        .map(|o| o.iter().map(fraction).fold(f64::INFINITY, f64::min))
        .collect();
    order.sort_by(|&a, &b| cheapest[b].total_cmp(&cheapest[a]).then(a.cmp(&b)));
    let mut rest = vec![0.0; order.len() + 1];
    for i in (0..order.len()).rev() {
        rest[i] = rest[i + 1] + cheapest[order[i]];
    }
    let mut search = Search {
        modes,
        node,
        options,
        order: &order,
        rest: &rest,
        fraction: &fraction,
        picked: vec![0; options.len()],
        groups: vec![Vec::new(); modes.len()],
        host: vec![Vec::new(); modes.len()],
        best: None,
        nodes: 0,
    };
    search.branch(0, 0.0);
    let nodes = search.nodes;
    search.best.map(|(cost, picked, gpus)| Composition {
        choices: picked
            .iter()
            .enumerate()
            .map(|(m, &i)| options[m][i])
            .collect(),
        gpus,
        cost,
        proven: nodes < MAX_NODES,
        nodes,
    })
}

/// The state of one branch-and-bound search.
struct Search<'a, F: Fn(&Choice) -> f64> {
    modes: &'a [Mode],
    node: &'a NodeShape,
    options: &'a [Vec<Choice>],
    order: &'a [usize],
    /// Sum of the cheapest fractions of the models from each depth on.
    rest: &'a [f64],
    fraction: &'a F,
    picked: Vec<usize>,
    /// Per mode, the (tensor-parallel degree, replicas) of the models in it.
    groups: Vec<Vec<(u32, u32)>>,
    host: Vec<Vec<HostDemand>>,
    /// Cost, choice per model and GPUs per mode of the best so far.
    best: Option<(f64, Vec<usize>, Vec<u32>)>,
    nodes: u64,
}

impl<F: Fn(&Choice) -> f64> Search<'_, F> {
    fn branch(&mut self, depth: usize, spent: f64) {
        self.nodes += 1;
        if self.nodes >= MAX_NODES {
            return;
        }
        // Cut a branch that cannot cost less; one that can tie is kept, for
        // the tie-breaks (fewer GPUs, then fewer modes).
        if let Some((best, _, _)) = &self.best {
            if spent + self.rest[depth] > best + 1e-9 {
                return;
            }
        }
        if depth == self.order.len() {
            self.leaf();
            return;
        }
        let m = self.order[depth];
        for (i, choice) in self.options[m].iter().enumerate() {
            self.picked[m] = i;
            self.groups[choice.mode].push((choice.tp(), choice.replicas));
            self.host[choice.mode].push(choice.host);
            self.branch(depth + 1, spent + (self.fraction)(choice));
            self.host[choice.mode].pop();
            self.groups[choice.mode].pop();
        }
    }

    fn leaf(&mut self) {
        let mut gpus = Vec::with_capacity(self.modes.len());
        let mut cost = 0.0;
        for (k, mode) in self.modes.iter().enumerate() {
            let host = self.host[k]
                .iter()
                .fold(HostDemand::default(), |a, h| HostDemand {
                    cpu_milli: a.cpu_milli.max(h.cpu_milli),
                    memory: a.memory.max(h.memory),
                });
            match mode_gpus(mode, self.node, host, &self.groups[k]) {
                Some(g) => {
                    gpus.push(g);
                    cost += mode.price * f64::from(g);
                }
                None => return,
            }
        }
        let key = |gpus: &[u32]| {
            (
                gpus.iter().sum::<u32>(),
                gpus.iter().filter(|&&g| g > 0).count(),
            )
        };
        let better = match &self.best {
            None => true,
            Some((best, _, best_gpus)) => {
                cost < best - 1e-9 || (cost <= best + 1e-9 && key(&gpus) < key(best_gpus))
            }
        };
        if better {
            self.best = Some((cost, self.picked.clone(), gpus));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::{GpuKind, LayoutSpec};
    use crate::units::Mib;
    use proptest::prelude::*;

    fn mode(partitions: u32, price: f64) -> Mode {
        Mode {
            kind: GpuKind::Mi300x,
            layout: LayoutSpec::Custom(vec![Mib::gib(24); partitions as usize]),
            partitions,
            partition: Mib::gib(24),
            price,
        }
    }

    fn host(cores: u32) -> HostDemand {
        HostDemand {
            cpu_milli: cores * 1000,
            memory: Mib::gib(16),
        }
    }

    #[test]
    fn a_node_holds_no_more_replicas_than_its_cores_allow() {
        let cpx = mode(8, 1.0);
        let node = NodeShape::REFERENCE; // 8 GPUs, 96 cores
                                         // 64 CPX replicas of 2 cores: 48 per node, so the first node's 8
                                         // GPUs hold 48 and two more GPUs hold the other 16.
        assert_eq!(mode_gpus(&cpx, &node, host(2), &[(1, 64)]), Some(10));
        // Of 1 core, 64 fit the 8 GPUs of one node.
        assert_eq!(mode_gpus(&cpx, &node, host(1), &[(1, 64)]), Some(8));
        // A replica asking more than a node has never fits.
        assert_eq!(mode_gpus(&cpx, &node, host(97), &[(1, 1)]), None);
        assert_eq!(mode_gpus(&cpx, &node, host(2), &[]), Some(0));
    }

    #[test]
    fn gangs_a_node_cannot_host_together_take_nodes_of_their_own() {
        let spx = mode(1, 1.0);
        let node = NodeShape {
            cpu_milli: 2_000,
            ..NodeShape::REFERENCE
        };
        // Two 4-GPU replicas of 2 cores: one per node, so 12 GPUs (the
        // second node's first 4), not the 8 their GPUs alone would need.
        assert_eq!(mode_gpus(&spx, &node, host(2), &[(4, 2)]), Some(12));
        // With the reference node's 96 cores, one node holds both.
        assert_eq!(
            mode_gpus(&spx, &NodeShape::REFERENCE, host(2), &[(4, 2)]),
            Some(8)
        );
    }

    /// Every combination of one option per model, its cost and GPUs.
    fn brute_force(
        modes: &[Mode],
        node: &NodeShape,
        options: &[Vec<Choice>],
    ) -> Option<(f64, u32)> {
        let mut best: Option<(f64, u32)> = None;
        let mut pick = vec![0usize; options.len()];
        loop {
            let mut groups = vec![Vec::new(); modes.len()];
            let mut hosts = vec![HostDemand::default(); modes.len()];
            for (m, &i) in pick.iter().enumerate() {
                let c = options[m][i];
                groups[c.mode].push((c.tp(), c.replicas));
                hosts[c.mode] = hosts[c.mode].max(c.host);
            }
            let gpus: Option<Vec<u32>> = (0..modes.len())
                .map(|k| mode_gpus(&modes[k], node, hosts[k], &groups[k]))
                .collect();
            if let Some(gpus) = gpus {
                let cost: f64 = gpus
                    .iter()
                    .zip(modes)
                    .map(|(&g, m)| m.price * f64::from(g))
                    .sum();
                let total = gpus.iter().sum();
                if best.is_none_or(|(c, g)| cost < c - 1e-9 || (cost <= c + 1e-9 && total < g)) {
                    best = Some((cost, total));
                }
            }
            // Next combination.
            let mut m = 0;
            loop {
                if m == options.len() {
                    return best;
                }
                pick[m] += 1;
                if pick[m] < options[m].len() {
                    break;
                }
                pick[m] = 0;
                m += 1;
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn branch_and_bound_finds_the_cheapest_composition(
            partitions in prop::collection::vec((prop::sample::select(vec![1u32, 2, 4, 8]), 1u32..=3), 1..=4),
            models in prop::collection::vec(
                prop::collection::vec((0usize..4, 1u32..=20, prop::sample::select(vec![1u32, 2, 4]), 1u32..=12), 1..=4),
                1..=5,
            ),
            cores in 4u64..=96,
        ) {
            let modes: Vec<Mode> = partitions.iter().map(|&(p, price)| mode(p, f64::from(price))).collect();
            // Nodes whose CPU often binds before their GPUs do.
            let node = NodeShape { cpu_milli: cores * 1000, ..NodeShape::REFERENCE };
            let options: Vec<Vec<Choice>> = models
                .iter()
                .map(|list| {
                    list.iter()
                        .enumerate()
                        .map(|(i, &(k, replicas, tp, cores))| {
                            let k = k % modes.len();
                            // Tensor parallelism only over whole GPUs.
                            let tp = if modes[k].partitions == 1 { tp } else { 1 };
                            Choice { viable: i, mode: k, replicas, slots: replicas * tp, host: host(cores) }
                        })
                        .collect()
                })
                .collect();
            let found = compose(&modes, &node, &options);
            let expected = brute_force(&modes, &node, &options);
            match (found, expected) {
                (Some(c), Some((cost, gpus))) => {
                    prop_assert!(c.proven);
                    prop_assert!((c.cost - cost).abs() < 1e-9, "cost {} vs {}", c.cost, cost);
                    prop_assert_eq!(c.total_gpus(), gpus);
                    // The GPUs it reports are what its choices need.
                    for (k, m) in modes.iter().enumerate() {
                        let chosen: Vec<&Choice> = c.choices.iter().filter(|ch| ch.mode == k).collect();
                        let groups: Vec<(u32, u32)> = chosen.iter().map(|ch| (ch.tp(), ch.replicas)).collect();
                        let host = chosen.iter().map(|ch| ch.host).max().unwrap_or_default();
                        prop_assert_eq!(Some(c.gpus[k]), mode_gpus(m, &node, host, &groups));
                    }
                }
                (None, None) => {}
                (found, expected) => prop_assert!(false, "{found:?} vs {expected:?}"),
            }
        }
    }
}
