//! The study's fragmentation measure: the GPU share of a node that pods
//! drawn from the target workload could not use, and the FGD score built
//! on it ("Beware of Fragmentation", USENIX ATC'23, section 4; its public
//! simulator, `pkg/utils/frag.go` and `pkg/simulator/plugin/fgd_score.go`).
//!
//! The target workload is the study's "typical pods": the most frequent
//! pod shapes (CPU, GPU share, GPU count, GPU models allowed) of the pod
//! list, taken until they cover 95% of its pods, weighted by their counts.
//! For one typical pod a node's idle GPU share is all fragment if the pod
//! cannot run there (no GPU asked, model not allowed, too little CPU, too
//! few GPUs with its share free); otherwise the fragment is the share left
//! on GPUs too small for it. Memory plays no part (the study checks it only
//! in the filter).

use std::collections::BTreeMap;

use super::node::{NodeState, Pod};
use super::trace::{GpuModel, ModelSet, PodList, MILLI_PER_GPU};

/// Share of the pod list the typical shapes cover (the study's
/// `podPopularityThreshold`).
pub const TYPICAL_COVERAGE_PERCENT: f64 = 95.0;

/// One typical pod shape and its weight in the target workload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TypicalPod {
    /// CPU, in thousandths of a core.
    pub cpu_milli: u32,
    /// Share of each GPU, in thousandths (0: CPU only).
    pub gpu_milli: u16,
    /// GPUs.
    pub gpus: u8,
    /// GPU models it may run on.
    pub allowed: ModelSet,
    /// Its share of the typical pods (the weights sum to 1).
    pub weight: f64,
}

/// The target workload the FGD policy measures fragmentation against.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetWorkload {
    pods: Vec<TypicalPod>,
}

/// What a typical pod sees of a node, gathered once per node so that the
/// fragmentation after each candidate placement costs one pass.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    /// GPUs with at least the pod's share left.
    usable: u8,
    /// Share left on the other GPUs.
    stranded: u32,
}

impl TargetWorkload {
    /// The typical pods of `list`: shapes by count, most frequent first
    /// (equal counts: the larger shape first, comparing CPU, GPU share,
    /// GPU count, then the `gpu_spec` text), until they cover
    /// [`TYPICAL_COVERAGE_PERCENT`] of the pods.
    pub fn of(list: &PodList) -> TargetWorkload {
        let mut counts: BTreeMap<(u32, u16, u8, &str), (u64, ModelSet)> = BTreeMap::new();
        for pod in &list.pods {
            let (spec, allowed) = &list.specs[usize::from(pod.spec)];
            let entry = counts
                .entry((pod.cpu_milli, pod.gpu_milli, pod.gpus, spec.as_str()))
                .or_insert((0, *allowed));
            entry.0 += 1;
        }
        let total = list.pods.len() as f64;
        let mut shapes: Vec<_> = counts.into_iter().collect();
        // Descending count, then descending shape (BTreeMap order reversed).
        shapes.reverse();
        shapes.sort_by_key(|shape| std::cmp::Reverse(shape.1 .0));
        let wanted = TYPICAL_COVERAGE_PERCENT * total / 100.0;
        let mut covered = 0.0;
        let mut taken = 0;
        while covered < wanted && taken < shapes.len() {
            covered += shapes[taken].1 .0 as f64;
            taken += 1;
        }
        let pods = shapes[..taken]
            .iter()
            .map(
                |&((cpu_milli, gpu_milli, gpus, _), (count, allowed))| TypicalPod {
                    cpu_milli,
                    gpu_milli,
                    gpus,
                    allowed,
                    weight: count as f64 / covered,
                },
            )
            .collect();
        TargetWorkload { pods }
    }

    /// A target workload of the given shapes (weights as given).
    pub fn from_pods(pods: Vec<TypicalPod>) -> TargetWorkload {
        TargetWorkload { pods }
    }

    /// The typical pods, most frequent first.
    pub fn pods(&self) -> &[TypicalPod] {
        &self.pods
    }

    /// The expected GPU share (thousandths) of a node with `cpu_left` CPU
    /// and `left` on its GPUs, of model `model`, that a typical pod cannot
    /// use.
    pub fn fragmentation_of(&self, cpu_left: u32, left: &[u16], model: GpuModel) -> f64 {
        let idle: u32 = left.iter().map(|&l| u32::from(l)).sum();
        self.pods
            .iter()
            .map(|t| {
                let seen = Seen::of(t, left);
                t.weight * f64::from(t.fragment(seen, cpu_left, model, idle))
            })
            .sum()
    }

    /// [`Self::fragmentation_of`] a node as it is.
    pub fn fragmentation(&self, node: &NodeState) -> f64 {
        self.fragmentation_of(node.cpu_left(), node.left(), node.model())
    }

    /// The FGD score of placing `pod` on `node`, whose fragmentation is
    /// `before`, and the GPU a share goes to: `int(100 x sigmoid((before -
    /// after) / 1000))`, the study's integer score (50 when fragmentation
    /// does not change, higher as it falls). A share tries every GPU with
    /// room and keeps the best score, the lowest index of equals; whole
    /// GPUs go to the first free ones and CPU-only pods only take CPU.
    pub fn fgd_score(&self, node: &NodeState, pod: &Pod, before: f64) -> (i64, u8) {
        let seen: Vec<u32> = self.seen(node).collect();
        self.fgd_score_seen(node, pod, before, &seen)
    }

    /// What each typical pod sees of `node` (GPUs it could use, share
    /// stranded on the others), packed, in typical-pod order: what
    /// [`Self::fgd_score_seen`] starts from. It changes only when the node
    /// does.
    pub fn seen<'s>(&'s self, node: &'s NodeState) -> impl Iterator<Item = u32> + 's {
        self.pods.iter().map(|t| Seen::of(t, node.left()).pack())
    }

    /// [`Self::fgd_score`] given [`Self::seen`] of the node.
    pub fn fgd_score_seen(
        &self,
        node: &NodeState,
        pod: &Pod,
        before: f64,
        seen: &[u32],
    ) -> (i64, u8) {
        let cpu_after = node.cpu_left() - pod.cpu_milli;
        if !pod.is_share() {
            let mut left = [0u16; super::trace::MAX_GPUS_PER_NODE];
            let n = node.left().len();
            left[..n].copy_from_slice(node.left());
            let mut wanted = pod.gpus;
            for l in &mut left[..n] {
                if wanted > 0 && *l == MILLI_PER_GPU {
                    *l = 0;
                    wanted -= 1;
                }
            }
            let after = self.fragmentation_of(cpu_after, &left[..n], node.model());
            return (fgd_points(before, after), 0);
        }
        // Each candidate GPU changes one GPU's share of what the typical
        // pods see.
        let idle_after = node.idle() - u32::from(pod.gpu_milli);
        let mut best: Option<(i64, u8)> = None;
        for (g, &from) in node.left().iter().enumerate() {
            if from < pod.gpu_milli || node.left()[..g].contains(&from) {
                // No room, or a GPU with the same share left scored already
                // (it scores the same, and the lower index wins ties).
                continue;
            }
            let to = from - pod.gpu_milli;
            let after: f64 = self
                .pods
                .iter()
                .zip(seen.iter())
                .map(|(t, &packed)| {
                    let s = Seen::unpack(packed).moved(t, from, to);
                    t.weight * f64::from(t.fragment(s, cpu_after, node.model(), idle_after))
                })
                .sum();
            let score = fgd_points(before, after);
            if best.is_none_or(|b| score > b.0) {
                best = Some((score, g as u8));
            }
        }
        best.expect("a share that fits has a GPU with room")
    }
}

/// The study's integer score of a fragmentation change.
fn fgd_points(before: f64, after: f64) -> i64 {
    let x = (before - after) / 1000.0;
    (100.0 / (1.0 + (-x).exp())) as i64
}

impl Seen {
    fn of(t: &TypicalPod, left: &[u16]) -> Seen {
        let mut seen = Seen::default();
        for &l in left {
            if l >= t.gpu_milli {
                seen.usable += 1;
            } else {
                seen.stranded += u32::from(l);
            }
        }
        seen
    }

    /// This view after one GPU's share goes from `from` to `to`.
    fn moved(self, t: &TypicalPod, from: u16, to: u16) -> Seen {
        let mut s = self;
        if from >= t.gpu_milli {
            s.usable -= 1;
        } else {
            s.stranded -= u32::from(from);
        }
        if to >= t.gpu_milli {
            s.usable += 1;
        } else {
            s.stranded += u32::from(to);
        }
        s
    }

    fn pack(self) -> u32 {
        self.stranded << 8 | u32::from(self.usable)
    }

    fn unpack(packed: u32) -> Seen {
        Seen {
            usable: packed as u8,
            stranded: packed >> 8,
        }
    }
}

impl TypicalPod {
    /// The share of a node's `idle` thousandths this pod cannot use.
    #[inline]
    fn fragment(&self, seen: Seen, cpu_left: u32, model: GpuModel, idle: u32) -> u32 {
        let runs_here = self.gpu_milli > 0
            && self.allowed.allows(model)
            && cpu_left >= self.cpu_milli
            && seen.usable >= self.gpus;
        if runs_here {
            seen.stranded
        } else {
            idle
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::testing::{node, pod};
    use crate::cluster::trace::Cluster;

    fn typical(cpu: u32, milli: u16, gpus: u8, weight: f64) -> TypicalPod {
        TypicalPod {
            cpu_milli: cpu,
            gpu_milli: milli,
            gpus,
            allowed: ModelSet::ANY,
            weight,
        }
    }

    #[test]
    fn fragmentation_follows_the_studys_quadrants_by_hand() {
        // Half the workload asks for 500 of one GPU and 4 cores, a quarter
        // for two whole GPUs, a quarter for CPU only.
        let target = TargetWorkload::from_pods(vec![
            typical(4000, 500, 1, 0.5),
            typical(1000, 1000, 2, 0.25),
            typical(1000, 0, 0, 0.25),
        ]);
        // GPUs left 300 and 1000: the share pod fits (stranded 300), the
        // two-GPU pod does not (all 1300 stranded), CPU-only pods strand all.
        let f = target.fragmentation_of(8000, &[300, 1000], GpuModel(0));
        assert!(
            (f - (0.5 * 300.0 + 0.25 * 1300.0 + 0.25 * 1300.0)).abs() < 1e-9,
            "{f}"
        );
        // With 3 cores left the share pod cannot run either (lacks CPU).
        let f = target.fragmentation_of(3000, &[300, 1000], GpuModel(0));
        assert!((f - 1300.0).abs() < 1e-9, "{f}");
        // A model the pod does not allow strands everything.
        let only_other = TargetWorkload::from_pods(vec![TypicalPod {
            allowed: ModelSet::NONE.with(GpuModel(1)),
            ..typical(0, 100, 1, 1.0)
        }]);
        assert_eq!(only_other.fragmentation_of(1, &[1000], GpuModel(0)), 1000.0);
        assert_eq!(only_other.fragmentation_of(1, &[1000], GpuModel(1)), 0.0);
    }

    #[test]
    fn the_fgd_score_prefers_the_placement_that_strands_least() {
        let target = TargetWorkload::from_pods(vec![typical(0, 500, 1, 1.0)]);
        let mut n = node(8000, 2);
        n.place(&pod(0, 1, 400), 0); // left 600 and 1000
        let before = target.fragmentation(&n);
        assert_eq!(before, 0.0);
        // 500 on GPU 0 leaves 100 stranded; on GPU 1, 500 left usable.
        let (score, gpu) = target.fgd_score(&n, &pod(0, 1, 500), before);
        assert_eq!(gpu, 1);
        assert_eq!(score, 50, "no change in fragmentation scores 50");
        // 200 on GPU 0 leaves 400 stranded; on GPU 1, 800 usable: GPU 1.
        let (score, gpu) = target.fgd_score(&n, &pod(0, 1, 200), before);
        assert_eq!((score, gpu), (50, 1));
        // Each candidate agrees with a full recount.
        let mut after = n.clone();
        after.place(&pod(0, 1, 200), 0);
        assert!((target.fragmentation(&after) - 400.0).abs() < 1e-9);
        assert_eq!(
            fgd_points(0.0, 400.0),
            (100.0 / (1.0 + 0.4f64.exp())) as i64
        );
        // Whole GPUs: taking the free GPU strands nothing new here.
        let (score, _) = target.fgd_score(&n, &pod(0, 1, 1000), before);
        assert_eq!(score, 50);
    }

    #[test]
    fn typical_pods_cover_95_percent_most_frequent_first() {
        let cluster = Cluster::from_reader(
            Box::new("sn,cpu_milli,memory_mib,gpu,model\na,1000,1000,1,T4\n".as_bytes()),
            "nodes",
        )
        .expect("valid");
        let mut text = String::from("cpu_milli,memory_mib,num_gpu,gpu_milli\n");
        // 60 pods of A, 35 of B, 3 of C, 2 of D: A, B cover 95%.
        for (n, row) in [
            (60, "1000,1,1,500"),
            (35, "2000,1,1,1000"),
            (3, "3000,1,0,0"),
            (2, "4000,1,0,0"),
        ] {
            for _ in 0..n {
                text.push_str(row);
                text.push('\n');
            }
        }
        let list = PodList::from_reader(Box::new(std::io::Cursor::new(text)), "pods", &cluster)
            .expect("valid");
        let target = TargetWorkload::of(&list);
        let got: Vec<_> = target
            .pods()
            .iter()
            .map(|t| (t.cpu_milli, t.weight))
            .collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, 1000);
        assert!((got[0].1 - 60.0 / 95.0).abs() < 1e-12);
        assert!((got[1].1 - 35.0 / 95.0).abs() < 1e-12);
    }
}
