//! Physical sizes: what a replica needs from its model's real parameter
//! count, for runs that should not trust a profile's memory figure
//! (`[workload] sizes = "physical"`). Some catalog profiles cannot hold
//! their model (DeepSeek-R1-0528 at 20 GB for 671 B parameters); the real
//! profiles stay the default, since they are the runtime's contract.
//!
//! A replica split over `tp` GPUs (tensor parallelism, 1, 2, 4 or 8 GPUs
//! of one node) is charged on each `HEADROOM_FACTOR x weights / tp +
//! HEADROOM_GIB`, with the smallest `tp` whose share fits one GPU. The two
//! constants are the catalog's own convention: a least-squares line through
//! the FP16 rows of `aim_profiles/sizing.csv` whose memory holds the
//! model's weights (30 rows; mean error 10.1%, max 44%), checked on the 61
//! INT8 and INT4 rows that hold theirs (mean error 26.4%: small quantised
//! profiles keep more slack). A test refits them from the shipped files.

use crate::units::Mib;

use super::architecture::weight_bytes_per_parameter;
use super::{ArchitectureTable, Catalog, Profile};

/// Memory charged per GiB of weights (cache and activations on top).
pub const HEADROOM_FACTOR: f64 = 1.2218;

/// Memory charged per GPU besides (runtime and fixed buffers), GiB.
pub const HEADROOM_GIB: f64 = 3.198;

/// Tensor-parallel degrees tried, smallest first: one node's GPUs.
pub const TP_DEGREES: [u32; 4] = [1, 2, 4, 8];

/// `catalog` with every model the architecture table knows charged at its
/// physical size for GPUs of `gpu_memory`; others keep their profile's
/// size. A model too large even split over eight GPUs is charged its
/// eight-GPU share (and never fits).
pub fn physical_catalog(catalog: &Catalog, table: &ArchitectureTable, gpu_memory: Mib) -> Catalog {
    let profiles = catalog.variants().iter().map(|v| {
        let mut profile: Profile = v.profile.clone();
        if let Some(arch) = table.get(&profile.model_id) {
            let weights_gib =
                arch.total_params_b * 1e9 * weight_bytes_per_parameter(profile.precision)
                    / (1u64 << 30) as f64;
            let (tp, share) = physical_share(weights_gib, gpu_memory);
            profile.memory_requirement_gb = share.ceil();
            profile.resource_requirements.gpu_count = tp;
        }
        profile
    });
    Catalog::from_profiles(&format!("{} at physical sizes", catalog.source()), profiles)
}

/// The TP degree and per-GPU share (GiB) of `weights_gib` of weights.
fn physical_share(weights_gib: f64, gpu_memory: Mib) -> (u32, f64) {
    let share = |tp: u32| HEADROOM_FACTOR * weights_gib / f64::from(tp) + HEADROOM_GIB;
    let fits = |tp: &u32| share(*tp) <= gpu_memory.as_gib();
    let tp = TP_DEGREES.into_iter().find(fits).unwrap_or(8);
    (tp, share(tp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::GpuKind;
    use crate::profile::{Precision, SizingTable};

    #[test]
    fn the_constants_are_the_fit_of_the_shipped_catalog() {
        let table = ArchitectureTable::builtin();
        let mut points = Vec::new();
        for row in SizingTable::builtin().rows() {
            let arch = table.get(&row.model_id).expect("every catalog model");
            let weights = arch.total_params_b * 1e9 * weight_bytes_per_parameter(Precision::Fp16)
                / (1u64 << 30) as f64;
            let memory = row.memory_gb(Precision::Fp16);
            if memory >= weights {
                points.push((weights, memory));
            }
        }
        let n = points.len() as f64;
        let (sx, sy) = points
            .iter()
            .fold((0.0, 0.0), |(a, b), p| (a + p.0, b + p.1));
        let sxx: f64 = points.iter().map(|p| p.0 * p.0).sum();
        let sxy: f64 = points.iter().map(|p| p.0 * p.1).sum();
        let slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
        let intercept = (sy - slope * sx) / n;
        assert_eq!(points.len(), 30);
        assert!((slope - HEADROOM_FACTOR).abs() < 1e-3, "slope {slope}");
        assert!(
            (intercept - HEADROOM_GIB).abs() < 1e-2,
            "intercept {intercept}"
        );
    }

    #[test]
    fn large_models_become_tensor_parallel_replicas_and_small_ones_shrink_nothing() {
        let physical = physical_catalog(
            &Catalog::builtin(),
            &ArchitectureTable::builtin(),
            GpuKind::Mi300x.memory(),
        );
        let variant = |id: &str, p: Precision| physical.variant(physical.find(id, p).unwrap());
        // DeepSeek-R1-0528 (671 B): 20 GB in its profile, eight GPUs here.
        let deepseek = variant("deepseek-ai/DeepSeek-R1-0528", Precision::Int8);
        assert_eq!(deepseek.gpu_count, 8);
        assert!(deepseek.memory.as_gib() > 90.0);
        // Llama-3.3-70B at FP16 (131 GiB of weights) stays on one GPU;
        // Mistral-Large (123 B, 229 GiB) needs two, Qwen3-235B (438 GiB) four.
        assert_eq!(
            variant("meta-llama/Llama-3.3-70B-Instruct", Precision::Fp16).gpu_count,
            1
        );
        assert_eq!(
            variant("mistralai/Mistral-Large", Precision::Fp16).gpu_count,
            2
        );
        assert_eq!(
            variant("Qwen/Qwen3-235B-A22B", Precision::Fp16).gpu_count,
            4
        );
        // An 8B model stays on one GPU, about its profile's size.
        let small = variant("meta-llama/Llama-3.1-8B-Instruct", Precision::Fp16);
        assert_eq!(small.gpu_count, 1);
        assert!(
            (18.0..=23.0).contains(&small.memory.as_gib()),
            "{}",
            small.memory
        );
    }
}
