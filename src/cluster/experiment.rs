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

use std::collections::{HashMap, HashSet};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::fragmentation::TargetWorkload;
use super::node::{FitView, NodeState, Pod};
use super::policy::StudyPolicy;
use super::trace::{Cluster, PodList, MILLI_PER_GPU};

/// Largest arrival target, as a multiple of the cluster's GPUs.
pub const MAX_LOAD: f64 = 3.0;
/// Most pods one run may submit (the tuning appends pods).
pub const MAX_ARRIVALS: usize = 20_000_000;
/// Largest score cache (nodes x pod shapes, 12 bytes each) kept; beyond it
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
    /// Distinct (CPU, GPU share, GPU count) among the pods.
    shapes: usize,
    target: TargetWorkload,
}

/// One seed's arrivals: the pods in submission order and each node's rank
/// for breaking ties (lower wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrivals {
    /// Pods in submission order.
    pub pods: Vec<Pod>,
    /// Each node's tie-breaking rank, a permutation of `0..nodes`.
    pub ranks: Vec<u32>,
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
        let mut shapes: HashMap<(u32, u16, u8), u32> = HashMap::new();
        let pods = list
            .pods
            .iter()
            .map(|spec| {
                let next = shapes.len() as u32;
                let shape = *shapes
                    .entry((spec.cpu_milli, spec.gpu_milli, spec.gpus))
                    .or_insert(next);
                Pod::new(spec, list.allowed(spec), shape)
            })
            .collect();
        Experiment {
            cluster,
            pods,
            shapes: shapes.len(),
            target: TargetWorkload::of(list),
        }
    }

    /// The target workload FGD measures fragmentation against.
    pub fn target(&self) -> &TargetWorkload {
        &self.target
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
        } else {
            while asked as f64 > target && !pods.is_empty() {
                let removed = pods.remove(rng.random_range(0..pods.len()));
                asked -= u64::from(removed.total_milli());
            }
        }
        let mut order: Vec<u32> = (0..self.cluster.nodes.len() as u32).collect();
        order.shuffle(&mut rng);
        let mut ranks = vec![0; order.len()];
        for (rank, &node) in order.iter().enumerate() {
            ranks[node as usize] = rank as u32;
        }
        Arrivals { pods, ranks }
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
        mut on_place: impl FnMut(&Pod, Option<Placed>, &[NodeState]),
    ) -> RunResult {
        let mut nodes: Vec<NodeState> = self.cluster.nodes.iter().map(NodeState::new).collect();
        let mut views: Vec<FitView> = nodes.iter().map(NodeState::view).collect();
        // Nothing ever leaves, so free resources only shrink: a pod asking
        // what a failed pod asked fails too, without a scan.
        let mut failed_asks: HashSet<Pod> = HashSet::new();
        let mut chooser = Chooser::new(self, policy, &nodes, seed);
        let gpus = self.cluster.gpus().max(1);
        let mut curve = Curve::new((load * 100.0).ceil() as usize);
        let (mut arrived, mut allocated, mut failed) = (0u64, 0u64, 0u64);
        for pod in &arrivals.pods {
            arrived += u64::from(pod.total_milli());
            let choice = if failed_asks.contains(pod) {
                None
            } else {
                chooser.choose(&views, &nodes, pod, &arrivals.ranks)
            };
            if choice.is_none() {
                failed_asks.insert(*pod);
            }
            let placed = choice.map(|(n, gpu)| {
                let taken = nodes[n].place(pod, gpu);
                views[n] = nodes[n].view();
                chooser.changed(n, &nodes[n]);
                allocated += u64::from(pod.total_milli());
                Placed {
                    node: n as u32,
                    gpus: taken,
                }
            });
            failed += u64::from(placed.is_none());
            on_place(pod, placed, &nodes);
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

/// Picks a node (and a GPU for a share) for each pod under one policy.
struct Chooser<'e> {
    policy: StudyPolicy,
    experiment: &'e Experiment<'e>,
    nodes: usize,
    rng: ChaCha8Rng,
    /// FGD: each node's fragmentation now.
    before: Vec<f64>,
    /// Each node's placements so far (a cached score is valid for one).
    version: Vec<u32>,
    /// Scores by shape x node (one shape's scores side by side, as a scan
    /// reads them); empty when too large.
    cache: Vec<CachedScore>,
    scratch: Vec<u32>,
}

/// A node's score for a pod shape, valid while the node's version is
/// `version - 1` (0: never computed).
#[derive(Debug, Clone, Copy, Default)]
struct CachedScore {
    version: u32,
    score: i32,
    gpu: u8,
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
            version: vec![0; nodes.len()],
            cache: if cached <= MAX_CACHED_SCORES && policy != StudyPolicy::Random {
                vec![CachedScore::default(); cached]
            } else {
                Vec::new()
            },
            scratch: Vec::new(),
        }
    }

    /// Node `n` took a pod and is now `node`.
    fn changed(&mut self, n: usize, node: &NodeState) {
        self.version[n] = self.version[n].wrapping_add(1);
        if self.policy == StudyPolicy::Fgd {
            self.before[n] = self.experiment.target.fragmentation(node);
        }
    }

    /// The node (and share GPU) for `pod`, `None` if it fits nowhere.
    fn choose(
        &mut self,
        views: &[FitView],
        nodes: &[NodeState],
        pod: &Pod,
        ranks: &[u32],
    ) -> Option<(usize, u8)> {
        if self.policy == StudyPolicy::Random {
            return self.choose_at_random(views, nodes, pod);
        }
        let mut best: Option<(i32, u32, usize, u8)> = None;
        for (n, view) in views.iter().enumerate() {
            if !view.fits(pod) {
                continue;
            }
            let (score, gpu) = self.score(n, &nodes[n], pod);
            let rank = ranks[n];
            if best.is_none_or(|(s, r, _, _)| score > s || (score == s && rank < r)) {
                best = Some((score, rank, n, gpu));
            }
        }
        let (_, _, n, gpu) = best?;
        let gpu = if self.policy == StudyPolicy::Fgd || !pod.is_share() {
            gpu
        } else {
            nodes[n].tightest_gpu(pod.gpu_milli).expect("the pod fits")
        };
        Some((n, gpu))
    }

    /// The policy's score of `pod` on node `n` (and FGD's GPU for a
    /// share), from the cache when the node has not changed since.
    #[inline]
    fn score(&mut self, n: usize, node: &NodeState, pod: &Pod) -> (i32, u8) {
        let slot = pod.shape as usize * self.nodes + n;
        let valid = self.version[n].wrapping_add(1);
        if let Some(entry) = self.cache.get(slot) {
            if entry.version == valid {
                return (entry.score, entry.gpu);
            }
        }
        let (score, gpu) = if self.policy == StudyPolicy::Fgd {
            self.experiment
                .target
                .fgd_score(node, pod, self.before[n], &mut self.scratch)
        } else {
            (self.policy.plain_score(node, pod), 0)
        };
        let score = score.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        if let Some(entry) = self.cache.get_mut(slot) {
            *entry = CachedScore {
                version: valid,
                score,
                gpu,
            };
        }
        (score, gpu)
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
