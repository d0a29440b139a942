//! A node's free CPU, memory and GPU shares as pods are placed on it, and
//! the study's filter: whether a pod fits.

use super::trace::{GpuModel, ModelSet, NodeSpec, PodSpec, MAX_GPUS_PER_NODE, MILLI_PER_GPU};

/// A pod as placement sees it: what it asks for, where it may run, and
/// the index of its shape (pods of one shape ask alike, so they fit and
/// score alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pod {
    /// CPU, in thousandths of a core.
    pub cpu_milli: u32,
    /// Host memory, in MiB.
    pub memory_mib: u32,
    /// GPUs (0: CPU only).
    pub gpus: u8,
    /// Share of each GPU, in thousandths.
    pub gpu_milli: u16,
    /// GPU models it may run on.
    pub allowed: ModelSet,
    /// Index of its ask among the pod list's distinct asks.
    pub shape: u32,
}

impl Pod {
    /// The pod of `spec`, allowed `allowed`, of shape `shape`.
    pub fn new(spec: &PodSpec, allowed: ModelSet, shape: u32) -> Pod {
        Pod {
            cpu_milli: spec.cpu_milli,
            memory_mib: spec.memory_mib,
            gpus: spec.gpus,
            gpu_milli: spec.gpu_milli,
            allowed,
            shape,
        }
    }

    /// Whether it asks for part of one GPU.
    #[inline]
    pub fn is_share(&self) -> bool {
        self.gpus == 1 && self.gpu_milli < MILLI_PER_GPU
    }

    /// GPU thousandths it asks for in all.
    #[inline]
    pub fn total_milli(&self) -> u32 {
        u32::from(self.gpu_milli) * u32::from(self.gpus)
    }
}

/// What the filter reads of a node, kept small so that a scan over every
/// node for every pod stays in cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FitView {
    /// CPU left, in thousandths of a core.
    pub cpu_left: u32,
    /// Host memory left, in MiB.
    pub memory_left: u32,
    /// The largest share left on one GPU.
    largest_left: u16,
    /// GPUs with nothing allocated.
    free_gpus: u8,
    /// The GPUs' model.
    model: GpuModel,
}

impl FitView {
    /// The study's filter: CPU and memory fit (Kubernetes' resource fit),
    /// and a GPU pod's model is allowed and its share fits one GPU, or its
    /// whole GPUs are free.
    #[inline]
    pub fn fits(&self, pod: &Pod) -> bool {
        self.cpu_left >= pod.cpu_milli
            && self.memory_left >= pod.memory_mib
            && (pod.gpus == 0
                || (pod.allowed.allows(self.model)
                    && if pod.gpus == 1 {
                        self.largest_left >= pod.gpu_milli
                    } else {
                        self.free_gpus >= pod.gpus
                    }))
    }
}

/// A node's free resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// What the filter reads.
    view: FitView,
    /// Thousandths left on each GPU (the first `gpus` entries).
    left: [u16; MAX_GPUS_PER_NODE],
    /// Their sum.
    idle: u32,
    /// GPUs.
    gpus: u8,
    /// GPU pods on the node by kind: `[0]` shares of one GPU, `[k]` pods
    /// of `k` whole GPUs (the study's "GPU affinity" tags).
    kinds: [u32; MAX_GPUS_PER_NODE + 1],
}

impl NodeState {
    /// The empty node `spec`.
    pub fn new(spec: &NodeSpec) -> NodeState {
        let mut left = [0; MAX_GPUS_PER_NODE];
        left[..usize::from(spec.gpus)].fill(MILLI_PER_GPU);
        NodeState {
            view: FitView {
                cpu_left: spec.cpu_milli,
                memory_left: spec.memory_mib,
                largest_left: if spec.gpus > 0 { MILLI_PER_GPU } else { 0 },
                free_gpus: spec.gpus,
                model: spec.model,
            },
            left,
            idle: u32::from(spec.gpus) * u32::from(MILLI_PER_GPU),
            gpus: spec.gpus,
            kinds: [0; MAX_GPUS_PER_NODE + 1],
        }
    }

    /// What the filter reads.
    #[inline]
    pub fn view(&self) -> FitView {
        self.view
    }

    /// CPU left, in thousandths of a core.
    #[inline]
    pub fn cpu_left(&self) -> u32 {
        self.view.cpu_left
    }

    /// Host memory left, in MiB.
    #[inline]
    pub fn memory_left(&self) -> u32 {
        self.view.memory_left
    }

    /// The GPUs' model.
    #[inline]
    pub fn model(&self) -> GpuModel {
        self.view.model
    }

    /// Thousandths left on each GPU, by GPU index.
    #[inline]
    pub fn left(&self) -> &[u16] {
        &self.left[..usize::from(self.gpus)]
    }

    /// Thousandths left over all GPUs.
    #[inline]
    pub fn idle(&self) -> u32 {
        self.idle
    }

    /// GPUs with nothing allocated.
    #[inline]
    pub fn free_gpus(&self) -> u8 {
        self.view.free_gpus
    }

    /// Whether `pod` fits ([`FitView::fits`]).
    #[inline]
    pub fn fits(&self, pod: &Pod) -> bool {
        self.view.fits(pod)
    }

    /// The GPU a share goes to under best fit: the one with the least left
    /// that still holds `milli`, the lowest index of equals.
    pub fn tightest_gpu(&self, milli: u16) -> Option<u8> {
        let mut best: Option<(u16, u8)> = None;
        for (i, &l) in self.left().iter().enumerate() {
            if l >= milli && best.is_none_or(|(b, _)| l < b) {
                best = Some((l, i as u8));
            }
        }
        best.map(|b| b.1)
    }

    /// Whether GPU `gpu` has `milli` left.
    pub fn holds(&self, gpu: u8, milli: u16) -> bool {
        self.left()
            .get(usize::from(gpu))
            .is_some_and(|&l| l >= milli)
    }

    /// Number of GPUs a GPU-pod kind tag counts: 0 for a share.
    fn kind(pod: &Pod) -> usize {
        if pod.is_share() {
            0
        } else {
            usize::from(pod.gpus)
        }
    }

    /// Pods of `pod`'s kind on the node, and the number of kinds present:
    /// what GPU clustering scores with.
    pub fn kinds_for(&self, pod: &Pod) -> (u32, usize) {
        (
            self.kinds[NodeState::kind(pod)],
            self.kinds.iter().filter(|&&k| k > 0).count(),
        )
    }

    /// Places `pod`, which must fit: a share on GPU `share_gpu`, whole GPUs
    /// on the first free ones by index. Returns the GPUs taken, as a bit
    /// set.
    pub fn place(&mut self, pod: &Pod, share_gpu: u8) -> u32 {
        debug_assert!(self.fits(pod));
        self.view.cpu_left -= pod.cpu_milli;
        self.view.memory_left -= pod.memory_mib;
        if pod.gpus == 0 {
            return 0;
        }
        self.kinds[NodeState::kind(pod)] += 1;
        let mut taken = 0u32;
        if pod.is_share() {
            let g = usize::from(share_gpu);
            assert!(
                self.left[g] >= pod.gpu_milli,
                "a share placed on a GPU without room"
            );
            self.left[g] -= pod.gpu_milli;
            taken = 1 << g;
        } else {
            let mut wanted = pod.gpus;
            for g in 0..usize::from(self.gpus) {
                if wanted > 0 && self.left[g] == MILLI_PER_GPU {
                    self.left[g] = 0;
                    taken |= 1 << g;
                    wanted -= 1;
                }
            }
            assert_eq!(wanted, 0, "whole GPUs placed on a node without them free");
        }
        self.idle -= pod.total_milli();
        self.view.largest_left = self.left().iter().copied().max().unwrap_or(0);
        self.view.free_gpus = self.left().iter().filter(|&&l| l == MILLI_PER_GPU).count() as u8;
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(gpus: u8) -> NodeState {
        NodeState::new(&NodeSpec {
            name: "n".into(),
            cpu_milli: 8000,
            memory_mib: 1024,
            gpus,
            model: GpuModel(1),
        })
    }

    fn pod(cpu: u32, gpus: u8, milli: u16) -> Pod {
        Pod {
            cpu_milli: cpu,
            memory_mib: 100,
            gpus,
            gpu_milli: milli,
            allowed: ModelSet::ANY,
            shape: 0,
        }
    }

    #[test]
    fn shares_whole_gpus_cpu_memory_and_models_all_bind() {
        let mut n = node(2);
        assert!(n.fits(&pod(8000, 2, 1000)));
        assert!(!n.fits(&pod(8001, 0, 0)), "CPU binds");
        assert!(
            !n.fits(&Pod {
                memory_mib: 1025,
                ..pod(1, 0, 0)
            }),
            "memory binds"
        );
        assert!(
            !n.fits(&Pod {
                allowed: ModelSet::NONE.with(GpuModel(0)),
                ..pod(1, 1, 10)
            }),
            "model binds"
        );
        assert!(n.fits(&Pod {
            allowed: ModelSet::NONE.with(GpuModel(1)),
            ..pod(1, 1, 10)
        }));
        assert_eq!(n.place(&pod(1000, 1, 600), 1), 0b10);
        assert_eq!(n.left(), &[1000, 400]);
        assert!(!n.fits(&pod(0, 2, 1000)), "one GPU is no longer whole");
        assert_eq!(n.tightest_gpu(300), Some(1));
        assert_eq!(n.tightest_gpu(500), Some(0));
        assert_eq!(n.place(&pod(1000, 1, 1000), 0), 0b01);
        assert_eq!((n.idle(), n.free_gpus(), n.cpu_left()), (400, 0, 6000));
        assert!(!n.fits(&pod(0, 1, 401)));
        assert_eq!(n.kinds_for(&pod(0, 1, 5)), (1, 2));
    }

    #[test]
    fn whole_gpus_go_to_the_first_free_ones() {
        let mut n = node(4);
        n.place(&pod(0, 1, 100), 0);
        assert_eq!(n.place(&pod(0, 2, 1000), 0), 0b0110);
        assert_eq!(n.left(), &[900, 0, 0, 1000]);
    }
}
