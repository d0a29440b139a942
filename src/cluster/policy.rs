//! The policies the study compares, scored as its public simulator scores
//! them (`pkg/simulator/plugin/*_score.go`): every feasible node gets an
//! integer score, the highest wins, and ties go to the node of lowest rank
//! (the study renames nodes with a seeded permutation and breaks ties by
//! name). Within the chosen node a share goes to the GPU the policy picks;
//! whole GPUs go to the first free ones.

use std::fmt;
use std::str::FromStr;

use super::node::{NodeState, Pod};
use super::trace::MILLI_PER_GPU;

/// CPU of the largest node shape, in thousandths: the study's `MaxSpecCpu`,
/// which normalises CPU in BestFit and DotProduct.
const MAX_SPEC_CPU: f64 = 128_000.0;
/// GPU thousandths of the largest node shape (8 GPUs): `MaxSpecGpu`.
const MAX_SPEC_GPU: f64 = 8_000.0;
/// The Kubernetes scheduler framework's highest node score.
const MAX_SCORE: i64 = 100;

/// A policy of the study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StudyPolicy {
    /// A feasible node uniformly at random, a random GPU with room.
    Random,
    /// The node whose free (CPU, GPU) vector has the smallest dot product
    /// with the pod's request, both scaled by the largest node.
    DotProduct,
    /// Nodes already running GPU pods of the pod's kind (share, 1 GPU, 2
    /// GPUs...) first, then the fullest.
    GpuClustering,
    /// Shared GPUs first (the fullest), then free GPUs on used nodes, then
    /// empty nodes (the smallest).
    GpuPacking,
    /// The node with the least CPU and GPU left after placing the pod.
    BestFit,
    /// Fragmentation Gradient Descent: the placement that raises the
    /// node's fragmentation against the target workload least.
    Fgd,
}

impl StudyPolicy {
    /// Every policy, in the study's order (its figures' legend order).
    pub const ALL: [StudyPolicy; 6] = [
        StudyPolicy::Random,
        StudyPolicy::DotProduct,
        StudyPolicy::GpuClustering,
        StudyPolicy::GpuPacking,
        StudyPolicy::BestFit,
        StudyPolicy::Fgd,
    ];

    /// The name users type.
    pub fn name(self) -> &'static str {
        match self {
            StudyPolicy::Random => "random",
            StudyPolicy::DotProduct => "dot-product",
            StudyPolicy::GpuClustering => "gpu-clustering",
            StudyPolicy::GpuPacking => "gpu-packing",
            StudyPolicy::BestFit => "best-fit",
            StudyPolicy::Fgd => "fgd",
        }
    }

    /// The name the study's figures give it.
    pub fn study_name(self) -> &'static str {
        match self {
            StudyPolicy::Random => "Random",
            StudyPolicy::DotProduct => "DotProd",
            StudyPolicy::GpuClustering => "GpuClustering",
            StudyPolicy::GpuPacking => "GpuPacking",
            StudyPolicy::BestFit => "BestFit",
            StudyPolicy::Fgd => "FGD",
        }
    }

    /// The score of placing `pod` on `node` (which it fits), for every
    /// policy but [`StudyPolicy::Random`] and [`StudyPolicy::Fgd`], which
    /// score elsewhere. BestFit's min-max normalisation over the feasible
    /// nodes is left out: its raw scores lie in 0..=100, so the normalised
    /// ones order (and tie) the nodes exactly as the raw ones do.
    pub fn plain_score(self, node: &NodeState, pod: &Pod) -> i64 {
        match self {
            StudyPolicy::BestFit => best_fit_score(node, pod),
            StudyPolicy::DotProduct => dot_product_score(node, pod),
            StudyPolicy::GpuClustering => gpu_clustering_score(node, pod),
            StudyPolicy::GpuPacking => gpu_packing_score(node, pod),
            StudyPolicy::Random | StudyPolicy::Fgd => {
                unreachable!("{} scores elsewhere", self.name())
            }
        }
    }
}

impl fmt::Display for StudyPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StudyPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<StudyPolicy, String> {
        StudyPolicy::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = StudyPolicy::ALL.iter().map(|p| p.name()).collect();
                format!("unknown policy `{s}`; expected one of {}", names.join(", "))
            })
    }
}

/// `best_fit_score.go`: `int((1 - sum of 0.5 x (free - request) / max
/// spec over CPU and GPU) x 100)`.
fn best_fit_score(node: &NodeState, pod: &Pod) -> i64 {
    let mut raw = 0.0;
    raw += (f64::from(node.cpu_left()) - f64::from(pod.cpu_milli)) / MAX_SPEC_CPU * 0.5;
    raw += (f64::from(node.idle()) - f64::from(pod.total_milli())) / MAX_SPEC_GPU * 0.5;
    ((1.0 - raw) * MAX_SCORE as f64) as i64
}

/// `dot_product_score.go` (dimensions merged, scaled by the largest node):
/// `int(100 x (1 - free . request / 2))`.
fn dot_product_score(node: &NodeState, pod: &Pod) -> i64 {
    let dot = (f64::from(node.cpu_left()) / MAX_SPEC_CPU)
        * (f64::from(pod.cpu_milli) / MAX_SPEC_CPU)
        + (f64::from(node.idle()) / MAX_SPEC_GPU) * (f64::from(pod.total_milli()) / MAX_SPEC_GPU);
    (MAX_SCORE as f64 * (1.0 - dot / 2.0)) as i64
}

/// `gpu_clustering_score.go`, in its integer arithmetic.
fn gpu_clustering_score(node: &NodeState, pod: &Pod) -> i64 {
    if pod.gpus == 0 {
        return 0;
    }
    let fullness =
        MAX_SCORE / 4 * (MAX_SPEC_GPU as i64 - i64::from(node.idle())) / MAX_SPEC_GPU as i64;
    let (same_kind, kinds) = node.kinds_for(pod);
    let base = match (same_kind > 0, kinds) {
        (true, 1) => MAX_SCORE * 3 / 4,
        (true, _) => MAX_SCORE * 2 / 4,
        (false, 0) => MAX_SCORE / 4,
        (false, _) => 0,
    };
    base + fullness
}

/// `gpu_packing_score.go`: shared GPUs first (the fuller the better), then
/// free GPUs on a node in use (the fewer the better), then empty nodes.
fn gpu_packing_score(node: &NodeState, pod: &Pod) -> i64 {
    if pod.gpu_milli == 0 {
        return 0;
    }
    let left = node.left();
    let free = i64::from(node.free_gpus());
    if free == left.len() as i64 {
        return (MAX_SCORE / 3 - free).max(free);
    }
    // The study takes the least-left GPUs with room: for a share the
    // tightest GPU, for whole GPUs free ones.
    let shared_left = if pod.is_share() {
        let g = node
            .tightest_gpu(pod.gpu_milli)
            .expect("the pod fits the node");
        Some(left[usize::from(g)]).filter(|&l| l < MILLI_PER_GPU)
    } else {
        None
    };
    match shared_left {
        Some(l) => {
            (MAX_SCORE - i64::from(l) * 100 / i64::from(MILLI_PER_GPU) / 10).max(MAX_SCORE / 2)
        }
        None => (MAX_SCORE / 2 - i64::from(pod.gpus)).max(MAX_SCORE / 3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::testing::{node, pod};

    #[test]
    fn best_fit_and_dot_product_by_hand() {
        let n = node(64_000, 8);
        // (64000 - 8000) / 128000 / 2 + (8000 - 500) / 8000 / 2 = 0.21875 + 0.46875
        assert_eq!(best_fit_score(&n, &pod(8000, 1, 500)), 31);
        // 0.5 x 0.0625 + 1 x 0.0625 = 0.09375; 100 x (1 - 0.046875) = 95.3
        assert_eq!(dot_product_score(&n, &pod(8000, 1, 500)), 95);
        // Fuller nodes score higher under both.
        let mut fuller = n.clone();
        fuller.place(&pod(32_000, 4, 1000), 0);
        assert!(best_fit_score(&fuller, &pod(8000, 1, 500)) > 31);
        assert!(dot_product_score(&fuller, &pod(8000, 1, 500)) > 95);
    }

    #[test]
    fn gpu_clustering_groups_kinds_then_fills() {
        let mut n = node(64_000, 8);
        let share = pod(1000, 1, 500);
        assert_eq!(gpu_clustering_score(&n, &share), 25, "an idle node");
        n.place(&share, 0);
        // 25 x (8000 - 7500) / 8000 = 1 (integer); only shares here: 75 + 1.
        assert_eq!(gpu_clustering_score(&n, &share), 76);
        assert_eq!(
            gpu_clustering_score(&n, &pod(1000, 1, 1000)),
            1,
            "another kind"
        );
        n.place(&pod(0, 1, 1000), 1);
        assert_eq!(gpu_clustering_score(&n, &share), 50 + 4);
        assert_eq!(
            gpu_clustering_score(&n, &pod(1, 0, 0)),
            0,
            "CPU-only pods score 0"
        );
    }

    #[test]
    fn gpu_packing_prefers_shared_gpus_then_used_nodes_then_small_empty_ones() {
        let empty8 = node(64_000, 8);
        let empty2 = node(64_000, 2);
        let share = pod(0, 1, 300);
        assert_eq!(gpu_packing_score(&empty8, &share), 25);
        assert_eq!(gpu_packing_score(&empty2, &share), 31);
        let mut used = empty8.clone();
        used.place(&pod(0, 1, 600), 0); // 400 left on GPU 0
                                        // The share fits the 400 left: 100 - 40 / 10 = 96.
        assert_eq!(gpu_packing_score(&used, &share), 96);
        // A whole GPU must use a free one on a used node: 50 - 1.
        assert_eq!(gpu_packing_score(&used, &pod(0, 1, 1000)), 49);
        assert_eq!(gpu_packing_score(&used, &pod(0, 4, 1000)), 46);
    }

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known_ones() {
        for p in StudyPolicy::ALL {
            assert_eq!(p.name().parse::<StudyPolicy>(), Ok(p));
        }
        let err = "fgd2".parse::<StudyPolicy>().unwrap_err();
        assert!(err.contains("fgd2") && err.contains("gpu-packing"), "{err}");
    }
}
