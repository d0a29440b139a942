//! What fraction of peak a serving engine reaches, and what an engine
//! iteration costs beyond the roofline.
//!
//! Two kinds of constant, kept apart:
//!
//! - **Measured by microbenchmarks** (not fitted): achievable matrix
//!   throughput (AMD's "Max-Achievable FLOPs", hipBLASLt: MI300X 654 TFLOPS
//!   FP16 and 1273 TFLOPS FP8, MI325X 794 and 1519; ROCm blogs,
//!   measuring-max-achievable-flops-part2), achievable HBM bandwidth for
//!   streamed weights (BabelStream copy 4.11 TB/s of 5.3 on MI300X, Azure
//!   ND MI300X v5 results), and the all-reduce bus bandwidth of 8 MI300X
//!   (rccl-tests 316.8 GB/s at 8 GB, same Azure results: 71% of 7 links x
//!   64 GB/s each way). Kinds without a published figure take MI300X's
//!   fractions.
//! - **Fitted** on the published serving measurements marked `fit` in
//!   `aim_profiles/calibration/measurements.csv` (`aimsim perf --fit`
//!   refits them; a test checks the shipped values are that fit's result):
//!   the bandwidth fraction attention reaches on the key/value cache, how
//!   fast compute and memory time come to overlap as the batch of tokens
//!   grows, and the per-layer and per-sequence costs a roofline leaves out. The per-sequence cost is the engine's CPU
//!   work: with multi-step scheduling (vLLM `num_scheduler_steps`) it is
//!   paid once per that many iterations.

use serde::{Deserialize, Serialize};

use crate::hardware::GpuKind;

/// Achievable fractions of peak and fixed costs of one engine iteration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Efficiency {
    /// Share of the peak bandwidth attention reaches reading the key/value
    /// cache (fitted).
    pub kv_bandwidth: f64,
    /// Seconds per decoder layer per iteration: kernel launches, norms,
    /// tensor-parallel all-reduce latency (fitted).
    pub layer_overhead: f64,
    /// Seconds per sequence in the batch per iteration: the engine's CPU
    /// bookkeeping (fitted).
    pub sequence_overhead: f64,
    /// How much of a kernel's lesser time (compute or memory) hides under
    /// the greater: with T tokens in the iteration the kernel takes
    /// `max + min x this / (T + this)`. Few tokens: the two add (small
    /// kernels neither stream at full bandwidth nor compute at full rate);
    /// many: the plain roofline maximum. Not identifiable from the
    /// published points (see [`OVERLAP_TOKENS`]).
    pub overlap_tokens: f64,
}

/// The shipped fit (`aimsim perf --fit` on the `fit` rows of
/// `aim_profiles/calibration/measurements.csv`).
pub const FITTED: Efficiency = Efficiency {
    kv_bandwidth: 0.4281692712476028,
    layer_overhead: 9.654715531150074e-05,
    sequence_overhead: 6.329566336085518e-05,
    overlap_tokens: OVERLAP_TOKENS,
};

/// Tokens at which half of a kernel's lesser time hides under the greater.
/// Fitted freely it runs to infinity (times add at every batch the
/// published points measure, whose prefill is a small part of their work),
/// so it is set: 2048 tokens is 13 times the MI300X ridge point (~160
/// tokens per weight read, where compute and memory time are equal), well
/// inside the size where hipBLASLt GEMMs run compute-bound (AMD's
/// max-achievable-FLOPs runs use M = 4096). It costs 0.002 in RMS log error
/// on the fit points.
pub const OVERLAP_TOKENS: f64 = 2048.0;

/// Achievable share of peak 16-bit matrix throughput on `kind`.
pub fn matrix_16bit(kind: GpuKind) -> f64 {
    match kind {
        GpuKind::Mi325x => 794.0 / 1307.4,
        GpuKind::Mi300x | GpuKind::Mi350x | GpuKind::Mi355x => 654.0 / 1307.4,
    }
}

/// Achievable share of peak 8-bit matrix throughput on `kind`.
pub fn matrix_8bit(kind: GpuKind) -> f64 {
    match kind {
        GpuKind::Mi325x => 1519.0 / 2614.9,
        GpuKind::Mi300x | GpuKind::Mi350x | GpuKind::Mi355x => 1273.0 / 2614.9,
    }
}

/// Achievable share of peak HBM bandwidth for streamed weights
/// (BabelStream copy on MI300X, 4.11 of 5.3 TB/s).
pub const WEIGHT_BANDWIDTH: f64 = 4.11 / 5.3;

/// Achieved share of the peer links' one-way bandwidth in a large
/// all-reduce over 8 GPUs: 316.8 GB/s bus bandwidth over 7 x 64 GB/s.
pub const LINK_EFFICIENCY: f64 = 316.8 / (7.0 * 64.0);
