//! The study's experiment: pods arrive one at a time into an empty cluster
//! and never leave; a pod that fits nowhere fails and is not retried. The
//! arrivals are the pod list shuffled by the seed and then "tuned" until
//! the GPU share they ask for is a set multiple of the cluster's GPUs
//! (random pods of the list appended, or removed when the list asks for
//! more); after each pod the share of the cluster's GPUs allocated is
//! recorded against the share asked for so far ("arrived").
//!
//! Followed from the study's simulator (`pkg/simulator/core.go`,
//! `simulator.go` `TunePods`, `experiments/analysis/merge_alloc_discrete.py`),
//! quirks included: the tuning stops at the first drawn pod whose
//! per-GPU share would cross the target; failed pods count as arrived. The
//! seeds drive a different generator than the study's Go one, so runs
//! agree with the study's in distribution, not pod for pod.

use std::collections::HashMap;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::fragmentation::TargetWorkload;
use super::node::{FitView, NodeState, Pod};
use super::policy::StudyPolicy;
use super::thinning::thin;
use super::trace::{Cluster, PodList, MILLI_PER_GPU};

/// Largest arrival target, as a multiple of the cluster's GPUs.
pub const MAX_LOAD: f64 = 3.0;
/// Most pods one run submits: the tuning stops appending pods there (a
/// list whose pods ask for tiny GPU shares would otherwise grow without
/// useful end; the report's pod count shows it). The study's runs submit
/// 6,000 to 17,000.
pub const MAX_ARRIVALS: usize = 2_000_000;
/// Largest score cache (nodes x pod shapes, 8 bytes each) kept; beyond it
/// scores are recomputed each time (same decisions, slower).
const MAX_CACHED_SCORES: usize = 1 << 22;
/// Added to a seed for the random policy's own draws, so that they leave
/// the arrivals (shared by every policy of a seed) untouched.
const RANDOM_POLICY_STREAM: u64 = 0x005e_ed0f_2a4d_0ce5;

/// The pod list of one workload variant, ready to run on one cluster.
#[derive(Debug, Clone)]
pub struct Experiment<'a> {
    cluster: &'a Cluster,
    /// The list's pods, in file order, resolved against the cluster.
    pods: Vec<Pod>,
    /// Distinct asks (CPU, memory, GPUs, share, models) among the pods.
    shapes: usize,
    target: TargetWorkload,
}

/// One seed's arrivals: the pods in submission order and the nodes'
/// order for breaking ties (the study renames its nodes with a seeded
/// permutation and breaks ties by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrivals {
    /// Pods in submission order.
    pub pods: Vec<Pod>,
    /// Node indexes in tie-breaking order (of equal scores the earlier
    /// wins): a permutation of `0..nodes`.
    pub order: Vec<u32>,
}

/// Where a pod went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// Node index in the cluster.
    pub node: u32,
    /// GPUs taken, as a bit set of GPU indexes.
    pub gpus: u32,
}

/// The outcome of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// Mean share of the cluster's GPUs allocated (%) over the pods whose
    /// arrival brought the share asked for to `x`% (rounded), for `x` in
    /// `0..curve.len()`: the study's discrete allocation curve.
    pub curve: Vec<Option<f64>>,
    /// Pods submitted.
    pub pods: u64,
    /// Pods that fit nowhere.
    pub failed: u64,
    /// GPU thousandths asked for by all pods.
    pub arrived_milli: u64,
    /// GPU thousandths allocated at the end.
    pub allocated_milli: u64,
}

impl<'a> Experiment<'a> {
    /// The experiment of `list` on `cluster`.
    pub fn new(cluster: &'a Cluster, list: &PodList) -> Experiment<'a> {
        let mut shapes: HashMap<Pod, u32> = HashMap::new();
        let pods = list
            .pods
            .iter()
            .map(|spec| {
                let pod = Pod::new(spec, list.allowed(spec), 0);
                let next = shapes.len() as u32;
                let shape = *shapes.entry(pod).or_insert(next);
                Pod { shape, ..pod }
            })
            .collect();
        Experiment {
            cluster,
            pods,
            shapes: shapes.len(),
            target: TargetWorkload::of(list),
        }
    }

    /// GPU thousandths in the cluster.
    pub fn capacity_milli(&self) -> u64 {
        self.cluster.gpus() * u64::from(MILLI_PER_GPU)
    }

    /// The arrivals of `seed` for a target of `load` x the cluster's GPUs.
    pub fn arrivals(&self, seed: u64, load: f64) -> Arrivals {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut pods = self.pods.clone();
        pods.shuffle(&mut rng);
        let target = load * self.capacity_milli() as f64;
        let mut asked: u64 = pods.iter().map(|p| u64::from(p.total_milli())).sum();
        if (asked as f64) < target {
            // The study's tune-up: clones of random list pods appended
            // until the first whose per-GPU share would cross the target.
            while pods.len() < MAX_ARRIVALS {
                let pod = self.pods[rng.random_range(0..self.pods.len())];
                if (asked + u64::from(pod.gpu_milli)) as f64 > target {
                    break;
                }
                asked += u64::from(pod.total_milli());
                pods.push(pod);
            }
        } else if asked as f64 > target {
            // Random pods removed one at a time until the target is met.
            thin(&mut pods, &mut rng, |removed| {
                asked -= u64::from(removed.total_milli());
                asked as f64 > target
            });
        }
        let mut order: Vec<u32> = (0..self.cluster.nodes.len() as u32).collect();
        order.shuffle(&mut rng);
        Arrivals { pods, order }
    }

    /// Runs `arrivals` under `policy`; `seed` drives the random policy.
    /// `on_place` sees every pod's outcome and the nodes after it (tests
    /// check invariants there).
    pub fn run(
        &self,
        arrivals: &Arrivals,
        policy: StudyPolicy,
        seed: u64,
        load: f64,
        mut on_place: impl FnMut(&Pod, Option<Placed>, NodesNow),
    ) -> RunResult {
        // Nodes are kept in tie-breaking order, so that "ties to the lowest
        // rank" is "ties to the first", and a scan reads one array in order.
        let order = &arrivals.order;
        let mut position = vec![0u32; order.len()];
        for (p, &n) in order.iter().enumerate() {
            position[n as usize] = p as u32;
        }
        let mut nodes: Vec<NodeState> = order
            .iter()
            .map(|&n| NodeState::new(&self.cluster.nodes[n as usize]))
            .collect();
        let mut views: Vec<FitView> = nodes.iter().map(NodeState::view).collect();
        // Nothing ever leaves, so free resources only shrink: a pod asking
        // what a failed pod asked fails too, without a scan.
        let mut failed_shapes = vec![false; self.shapes];
        let mut chooser = Chooser::new(self, policy, &nodes, seed);
        let gpus = self.cluster.gpus().max(1);
        let mut curve = Curve::new((load * 100.0).ceil() as usize);
        let (mut arrived, mut allocated, mut failed) = (0u64, 0u64, 0u64);
        for pod in &arrivals.pods {
            arrived += u64::from(pod.total_milli());
            let failed_before = &mut failed_shapes[pod.shape as usize];
            let choice = if *failed_before {
                None
            } else {
                chooser.choose(&views, &nodes, pod)
            };
            *failed_before |= choice.is_none();
            let placed = choice.map(|(p, gpu)| {
                let taken = nodes[p].place(pod, gpu);
                views[p] = nodes[p].view();
                chooser.changed(p, &nodes[p]);
                allocated += u64::from(pod.total_milli());
                Placed {
                    node: order[p],
                    gpus: taken,
                }
            });
            failed += u64::from(placed.is_none());
            on_place(
                pod,
                placed,
                NodesNow {
                    nodes: &nodes,
                    position: &position,
                },
            );
            curve.record(arrived, allocated, gpus);
        }
        RunResult {
            curve: curve.finish(),
            pods: arrivals.pods.len() as u64,
            failed,
            arrived_milli: arrived,
            allocated_milli: allocated,
        }
    }
}

/// The nodes during a run, in the cluster's order.
#[derive(Debug, Clone, Copy)]
pub struct NodesNow<'r> {
    nodes: &'r [NodeState],
    /// Where each cluster node is kept in `nodes`.
    position: &'r [u32],
}

impl<'r> NodesNow<'r> {
    /// Each node of the cluster as it is now, in the cluster's order.
    pub fn iter(self) -> impl Iterator<Item = &'r NodeState> {
        self.position.iter().map(move |&p| &self.nodes[p as usize])
    }
}

/// A cached score not yet computed (or out of date).
const UNKNOWN: i64 = i64::MIN;
/// A cached "the pod's shape does not fit this node".
const INFEASIBLE: i64 = i64::MIN + 1;

/// Picks a node (and a GPU for a share) for each pod under one policy.
/// Nodes are addressed by position (tie-breaking order).
struct Chooser<'e> {
    policy: StudyPolicy,
    experiment: &'e Experiment<'e>,
    nodes: usize,
    rng: ChaCha8Rng,
    /// FGD: each node's fragmentation now.
    before: Vec<f64>,
    /// FGD: what each typical pod sees of each node now, typical pods of
    /// one node side by side ([`TargetWorkload::seen`]).
    seen: Vec<u32>,
    /// By shape x node, one shape's nodes side by side (as a scan reads
    /// them): [`UNKNOWN`], [`INFEASIBLE`], or the score shifted left 8
    /// bits with FGD's GPU in the low bits. A node's entries are reset
    /// when it takes a pod. Empty when too large: then every score is
    /// computed when needed (same decisions, slower).
    cache: Vec<i64>,
}

impl<'e> Chooser<'e> {
    fn new(
        experiment: &'e Experiment<'e>,
        policy: StudyPolicy,
        nodes: &[NodeState],
        seed: u64,
    ) -> Chooser<'e> {
        let fgd = policy == StudyPolicy::Fgd;
        let cached = nodes.len() * experiment.shapes;
        Chooser {
            policy,
            experiment,
            nodes: nodes.len(),
            rng: ChaCha8Rng::seed_from_u64(seed ^ RANDOM_POLICY_STREAM),
            before: if fgd {
                nodes
                    .iter()
                    .map(|n| experiment.target.fragmentation(n))
                    .collect()
            } else {
                Vec::new()
            },
            seen: if fgd {
                nodes
                    .iter()
                    .flat_map(|n| experiment.target.seen(n))
                    .collect()
            } else {
                Vec::new()
            },
            cache: if cached <= MAX_CACHED_SCORES && policy != StudyPolicy::Random {
                vec![UNKNOWN; cached]
            } else {
                Vec::new()
            },
        }
    }

    /// The node at position `p` took a pod and is now `node`.
    fn changed(&mut self, p: usize, node: &NodeState) {
        if self.policy == StudyPolicy::Fgd {
            let target = &self.experiment.target;
            self.before[p] = target.fragmentation(node);
            let typical = target.pods().len();
            for (slot, seen) in self.seen[p * typical..(p + 1) * typical]
                .iter_mut()
                .zip(target.seen(node))
            {
                *slot = seen;
            }
        }
        for slot in self.cache.iter_mut().skip(p).step_by(self.nodes) {
            *slot = UNKNOWN;
        }
    }

    /// The position (and share GPU) for `pod`, `None` if it fits nowhere:
    /// the highest score, the first of equals.
    fn choose(&mut self, views: &[FitView], nodes: &[NodeState], pod: &Pod) -> Option<(usize, u8)> {
        if self.policy == StudyPolicy::Random {
            return self.choose_at_random(views, nodes, pod);
        }
        // The cache is moved out for the scan, so that a miss can evaluate
        // (which borrows the chooser) while the row is being filled.
        let mut cache = std::mem::take(&mut self.cache);
        let mut uncached: Vec<i64>;
        let row: &mut [i64] = if cache.is_empty() {
            uncached = nodes
                .iter()
                .enumerate()
                .map(|(p, node)| self.evaluate(p, node, pod))
                .collect();
            &mut uncached
        } else {
            let start = pod.shape as usize * self.nodes;
            let row = &mut cache[start..start + self.nodes];
            for (p, slot) in row.iter_mut().enumerate() {
                if *slot == UNKNOWN {
                    *slot = self.evaluate(p, &nodes[p], pod);
                }
            }
            row
        };
        // The highest score, the first of equals; an infeasible entry's
        // score (INFEASIBLE >> 8) is below every real one and never wins.
        let (mut best_score, mut best) = (INFEASIBLE >> 8, None);
        for (p, &entry) in row.iter().enumerate() {
            if entry >> 8 > best_score {
                (best_score, best) = (entry >> 8, Some(p));
            }
        }
        let chosen = best.map(|p| (row[p], p));
        self.cache = cache;
        let (entry, p) = chosen?;
        let gpu = if self.policy == StudyPolicy::Fgd {
            (entry & 0xff) as u8
        } else if pod.is_share() {
            nodes[p].tightest_gpu(pod.gpu_milli).expect("the pod fits")
        } else {
            0
        };
        Some((p, gpu))
    }

    /// [`INFEASIBLE`], or the policy's score of `pod` on `node` (position
    /// `p`) with FGD's GPU for a share, packed as the cache keeps it.
    fn evaluate(&mut self, p: usize, node: &NodeState, pod: &Pod) -> i64 {
        if !node.fits(pod) {
            return INFEASIBLE;
        }
        let (score, gpu) = if self.policy == StudyPolicy::Fgd {
            let target = &self.experiment.target;
            let typical = target.pods().len();
            target.fgd_score_seen(
                node,
                pod,
                self.before[p],
                &self.seen[p * typical..(p + 1) * typical],
            )
        } else {
            (self.policy.plain_score(node, pod), 0)
        };
        // Scores are far inside +-2^54 (CPU and GPUs are bounded), so a
        // packed score is always above INFEASIBLE.
        score << 8 | i64::from(gpu)
    }

    /// A feasible node uniformly at random, and a uniformly random GPU with
    /// room for a share.
    fn choose_at_random(
        &mut self,
        views: &[FitView],
        nodes: &[NodeState],
        pod: &Pod,
    ) -> Option<(usize, u8)> {
        let feasible = views.iter().filter(|v| v.fits(pod)).count();
        if feasible == 0 {
            return None;
        }
        let k = self.rng.random_range(0..feasible);
        let n = views
            .iter()
            .enumerate()
            .filter(|(_, view)| view.fits(pod))
            .nth(k)
            .map(|(n, _)| n)
            .expect("k < feasible");
        let mut gpu = 0;
        if pod.is_share() {
            let node = &nodes[n];
            let room = node.left().iter().filter(|&&l| l >= pod.gpu_milli).count();
            let j = self.rng.random_range(0..room);
            gpu = (0..node.left().len() as u8)
                .filter(|&g| node.holds(g, pod.gpu_milli))
                .nth(j)
                .expect("j < room");
        }
        Some((n, gpu))
    }
}

/// The study's discrete allocation curve, accumulated pod by pod.
struct Curve {
    sums: Vec<f64>,
    counts: Vec<u32>,
}

impl Curve {
    /// A curve for arrival shares `0..=last` percent.
    fn new(last: usize) -> Curve {
        Curve {
            sums: vec![0.0; last + 2],
            counts: vec![0; last + 2],
        }
    }

    /// One pod event: `arrived` and `allocated` GPU thousandths of a cluster
    /// of `gpus` GPUs. As the study: the arrival share rounded to a whole
    /// percent (ties to even), the allocation share to 0.01%.
    fn record(&mut self, arrived: u64, allocated: u64, gpus: u64) {
        let x = (arrived as f64 / gpus as f64 / 10.0).round_ties_even() as usize;
        let y = (allocated as f64 / gpus as f64 / 10.0 * 100.0).round_ties_even() / 100.0;
        let bin = x.min(self.sums.len() - 1);
        self.sums[bin] += y;
        self.counts[bin] += 1;
    }

    /// The mean allocation at each whole percent; a percent no pod landed
    /// on takes the mean of its neighbours' pods (the study's fallback).
    fn finish(self) -> Vec<Option<f64>> {
        let last = self.sums.len() - 2;
        (0..=last)
            .map(|x| {
                let mean = |range: std::ops::RangeInclusive<usize>| {
                    let (s, c) = range.fold((0.0, 0u32), |(s, c), i| {
                        (s + self.sums[i], c + self.counts[i])
                    });
                    (c > 0).then(|| s / f64::from(c))
                };
                mean(x..=x).or_else(|| mean(x.saturating_sub(1)..=x + 1))
            })
            .collect()
    }
}
