//! Datasheet figures of the AMD Instinct GPUs aimsim models.

use std::fmt;
use std::str::FromStr;

use crate::units::Mib;

use super::mode::{ComputeMode, MemoryMode};

/// An AMD Instinct GPU model.
///
/// Figures from ROCm docs `conceptual/gpu-arch/mi300` and
/// `reference/gpu-arch-specs`; MI350X throughput is scaled from MI355X by
/// clock. (The AIM runtime's own sizing table lists MI325X and MI350X at
/// 192 GB; that is wrong and not copied here.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GpuKind {
    /// 192 GB HBM3, 304 CUs, 750 W.
    Mi300x,
    /// 256 GB HBM3E, 304 CUs, 1000 W.
    Mi325x,
    /// 288 GB HBM3E, 256 CUs, 1000 W.
    Mi350x,
    /// 288 GB HBM3E, 256 CUs, 1400 W.
    Mi355x,
}

impl GpuKind {
    /// Every kind, smallest memory first.
    pub const ALL: [GpuKind; 4] = [
        GpuKind::Mi300x,
        GpuKind::Mi325x,
        GpuKind::Mi350x,
        GpuKind::Mi355x,
    ];

    /// The marketing name, as users type it: `MI300X`.
    pub fn name(self) -> &'static str {
        match self {
            GpuKind::Mi300x => "MI300X",
            GpuKind::Mi325x => "MI325X",
            GpuKind::Mi350x => "MI350X",
            GpuKind::Mi355x => "MI355X",
        }
    }

    /// HBM capacity.
    pub fn memory(self) -> Mib {
        Mib::gib(match self {
            GpuKind::Mi300x => 192,
            GpuKind::Mi325x => 256,
            GpuKind::Mi350x | GpuKind::Mi355x => 288,
        })
    }

    /// HBM bandwidth in TB/s.
    pub fn hbm_bandwidth_tbps(self) -> f64 {
        match self {
            GpuKind::Mi300x => 5.3,
            GpuKind::Mi325x => 6.0,
            GpuKind::Mi350x | GpuKind::Mi355x => 8.0,
        }
    }

    /// Accelerator complex dies (XCDs); CPX makes one device per XCD.
    pub fn xcds(self) -> u32 {
        8
    }

    /// Compute units on the whole GPU.
    pub fn compute_units(self) -> u32 {
        match self {
            GpuKind::Mi300x | GpuKind::Mi325x => 8 * 38,
            GpuKind::Mi350x | GpuKind::Mi355x => 8 * 32,
        }
    }

    /// Dense FP16/BF16 throughput in TFLOPS.
    pub fn fp16_dense_tflops(self) -> f64 {
        match self {
            GpuKind::Mi300x | GpuKind::Mi325x => 1307.4,
            GpuKind::Mi350x => 2307.0,
            GpuKind::Mi355x => 2500.0,
        }
    }

    /// Dense FP8/INT8 throughput in TFLOPS (or TOPS).
    pub fn int8_dense_tflops(self) -> f64 {
        match self {
            GpuKind::Mi300x | GpuKind::Mi325x => 2614.9,
            GpuKind::Mi350x => 4614.0,
            GpuKind::Mi355x => 5000.0,
        }
    }

    /// Dense FP4/FP6 (MXFP4/MXFP6) throughput in TFLOPS, on the kinds that
    /// have it (CDNA4: 16,384 FP4 FLOP per clock per CU x 256 CUs at
    /// 2.2 / 2.4 GHz; AMD quotes "20 PF" FP4 with sparsity for MI355X).
    pub fn fp4_dense_tflops(self) -> Option<f64> {
        match self {
            GpuKind::Mi300x | GpuKind::Mi325x => None,
            GpuKind::Mi350x => Some(9228.0),
            GpuKind::Mi355x => Some(10_000.0),
        }
    }

    /// Peak engine clock in MHz (MI300X: 1307.4 TFLOPS / (2048 FLOP/clk/CU
    /// x 304 CUs); MI325X from AMD's MLPerf v5.0 blog; MI350X/MI355X from
    /// AMD's Hot Chips 2025 figures).
    pub fn peak_clock_mhz(self) -> u32 {
        match self {
            GpuKind::Mi300x | GpuKind::Mi325x => 2100,
            GpuKind::Mi350x => 2200,
            GpuKind::Mi355x => 2400,
        }
    }

    /// Infinity Fabric links to the other GPUs of an 8-GPU node (ROCm
    /// MI300 microarchitecture docs: 7 links per GPU).
    pub fn peer_links(self) -> u32 {
        7
    }

    /// Peak bandwidth of one Infinity Fabric link in GB/s, both directions
    /// together (AMD platform pages: 128 GB/s on MI300X/MI325X, 153.6 GB/s
    /// on MI350X/MI355X; AMD does not say whether the figure is one way, so
    /// aimsim reads it as both ways, half each direction).
    pub fn peer_link_gbps(self) -> f64 {
        match self {
            GpuKind::Mi300x | GpuKind::Mi325x => 128.0,
            GpuKind::Mi350x | GpuKind::Mi355x => 153.6,
        }
    }

    /// Infinity Cache (last-level cache) in MiB (ROCm GPU specifications).
    pub fn infinity_cache_mib(self) -> u32 {
        256
    }

    /// Board power in watts.
    pub fn board_power_w(self) -> u32 {
        match self {
            GpuKind::Mi300x => 750,
            GpuKind::Mi325x | GpuKind::Mi350x => 1000,
            GpuKind::Mi355x => 1400,
        }
    }

    /// Whether the driver accepts this compute x memory partition pair
    /// (driver `aqua_vanjaram.c`, AMD partitioning docs). NPS4 is invalid with
    /// SPX and DPX and absent on the MI350 series.
    pub fn supports(self, compute: ComputeMode, memory: MemoryMode) -> bool {
        use ComputeMode::*;
        use MemoryMode::*;
        match self {
            // MI325X is the same die and driver path as MI300X.
            GpuKind::Mi300x | GpuKind::Mi325x => matches!(
                (compute, memory),
                (Spx, Nps1) | (Dpx, Nps1 | Nps2) | (Qpx, Nps1 | Nps4) | (Cpx, Nps1 | Nps4)
            ),
            GpuKind::Mi350x | GpuKind::Mi355x => matches!(
                (compute, memory),
                (Spx, Nps1) | (Dpx | Qpx | Cpx, Nps1 | Nps2)
            ),
        }
    }

    /// Every valid mode pair, in the order SPX, DPX, QPX, CPX then NPS1..4.
    pub fn valid_modes(self) -> Vec<(ComputeMode, MemoryMode)> {
        ComputeMode::ALL
            .iter()
            .flat_map(|&c| MemoryMode::ALL.iter().map(move |&m| (c, m)))
            .filter(|&(c, m)| self.supports(c, m))
            .collect()
    }
}

impl fmt::Display for GpuKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// The text was not the name of a GPU kind aimsim knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown GPU kind `{0}`; expected one of MI300X, MI325X, MI350X, MI355X")]
pub struct UnknownGpuKind(pub String);

impl FromStr for GpuKind {
    type Err = UnknownGpuKind;

    /// Case-insensitive: `MI300X`, `mi300x`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        GpuKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownGpuKind(text.to_string()))
    }
}

impl serde::Serialize for GpuKind {
    /// As its name: `"MI300X"`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for GpuKind {
    /// From its name, case-insensitive.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_matches_datasheets_not_the_runtime_table() {
        assert_eq!(GpuKind::Mi300x.memory(), Mib::gib(192));
        assert_eq!(GpuKind::Mi325x.memory(), Mib::gib(256));
        assert_eq!(GpuKind::Mi350x.memory(), Mib::gib(288));
        assert_eq!(GpuKind::Mi355x.memory(), Mib::gib(288));
    }

    #[test]
    fn compute_units_are_xcds_times_cus_per_xcd() {
        assert_eq!(GpuKind::Mi300x.compute_units(), 304);
        assert_eq!(GpuKind::Mi355x.compute_units(), 256);
    }

    #[test]
    fn valid_pairs_follow_the_driver_table() {
        use ComputeMode::*;
        use MemoryMode::*;
        let cases = [
            // (kind, compute, memory, valid)
            (GpuKind::Mi300x, Spx, Nps1, true),
            (GpuKind::Mi300x, Spx, Nps4, false),
            (GpuKind::Mi300x, Dpx, Nps2, true),
            (GpuKind::Mi300x, Dpx, Nps4, false),
            (GpuKind::Mi300x, Qpx, Nps2, false),
            (GpuKind::Mi300x, Cpx, Nps4, true),
            (GpuKind::Mi355x, Cpx, Nps2, true),
            (GpuKind::Mi355x, Cpx, Nps4, false),
            (GpuKind::Mi350x, Spx, Nps2, false),
        ];
        for (kind, c, m, valid) in cases {
            assert_eq!(kind.supports(c, m), valid, "{kind} {c}/{m}");
        }
    }

    #[test]
    fn names_parse_case_insensitively() {
        assert_eq!("mi325x".parse::<GpuKind>(), Ok(GpuKind::Mi325x));
        assert!("H100".parse::<GpuKind>().is_err());
    }
}
