//! What a replica's partition of a GPU offers: its share of the GPU's
//! compute units, matrix throughput and HBM bandwidth, its memory, and how
//! many replicas contend for them.
//!
//! A hardware partition (DPX, QPX, CPX) owns its compute units and its share
//! of the bandwidth: nothing it runs slows its neighbours. In NPS1 memory is
//! interleaved over all HBM stacks; in NPS4 (MI300X) or NPS2 (MI350 series)
//! each partition's traffic stays on its own I/O die, which AMD measured at
//! 4.21 TB/s aggregate copy bandwidth against 4.017 TB/s in SPX/NPS1 ("Deep
//! dive into the MI300 compute and memory partition modes", ROCm blogs):
//! a 1.048 locality factor. A software (custom) partition is only a memory
//! quota: its replica shares the whole device's compute and bandwidth with
//! every other busy replica on it.

use std::fmt;

use crate::hardware::{GpuKind, Layout, LayoutSpec, MemoryMode};
use crate::units::Mib;

/// Aggregate copy bandwidth with memory kept local to each I/O die, over
/// interleaved: 4.21 / 4.017 TB/s (AMD compute-memory-modes blog).
pub const NPS_LOCALITY: f64 = 4.21 / 4.017;

/// One replica's device.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Device {
    /// The GPU kind.
    pub kind: GpuKind,
    /// Compute units the device owns.
    pub compute_units: u32,
    /// Share of the GPU's matrix throughput the device owns.
    pub compute_share: f64,
    /// Share of the GPU's HBM bandwidth the device owns.
    pub bandwidth_share: f64,
    /// Multiplier on achievable bandwidth from keeping memory local
    /// ([`NPS_LOCALITY`] in NPS2/NPS4, 1 otherwise).
    pub locality: f64,
    /// Memory of the replica's partition.
    pub memory: Mib,
    /// Replicas that can be busy on the device at once: the partitions of a
    /// custom layout, which share one device; 1 for a hardware partition.
    pub co_tenants: u32,
    /// Partitions of the GPU (replicas one GPU holds when every partition
    /// hosts one).
    pub partitions_per_gpu: u32,
    /// Whether the device is a whole GPU (tensor parallelism spans whole
    /// GPUs only).
    pub whole_gpu: bool,
    /// How the GPU is laid out, for descriptions.
    pub layout: LayoutLabel,
}

/// A short name of the layout a device comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutLabel {
    /// A compute x memory mode pair.
    Mode(crate::hardware::ComputeMode, MemoryMode),
    /// Custom (software) partitions of the whole device.
    Custom,
}

impl Device {
    /// The whole GPU in SPX/NPS1.
    pub fn whole(kind: GpuKind) -> Device {
        Device {
            kind,
            compute_units: kind.compute_units(),
            compute_share: 1.0,
            bandwidth_share: 1.0,
            locality: 1.0,
            memory: kind.memory(),
            co_tenants: 1,
            partitions_per_gpu: 1,
            whole_gpu: true,
            layout: LayoutLabel::Mode(
                crate::hardware::ComputeMode::Spx,
                crate::hardware::MemoryMode::Nps1,
            ),
        }
    }

    /// Partition `partition` of a GPU laid out as `layout`.
    pub fn of_layout(layout: &Layout, partition: usize) -> Device {
        let kind = layout.kind();
        let partitions = layout.partitions().len() as u32;
        let memory = layout.partitions()[partition.min(layout.partitions().len() - 1)];
        match layout.spec() {
            LayoutSpec::Mode(compute, mem) => {
                let devices = compute.devices();
                Device {
                    kind,
                    compute_units: kind.compute_units() / devices,
                    compute_share: 1.0 / f64::from(devices),
                    bandwidth_share: 1.0 / f64::from(devices),
                    locality: if *mem == MemoryMode::Nps1 {
                        1.0
                    } else {
                        NPS_LOCALITY
                    },
                    memory,
                    co_tenants: 1,
                    partitions_per_gpu: devices,
                    whole_gpu: devices == 1,
                    layout: LayoutLabel::Mode(*compute, *mem),
                }
            }
            LayoutSpec::Custom(_) => Device {
                memory,
                co_tenants: partitions,
                partitions_per_gpu: partitions,
                whole_gpu: partitions == 1,
                layout: LayoutLabel::Custom,
                ..Device::whole(kind)
            },
        }
    }

    /// Peak dense 16-bit matrix throughput of the device, FLOP/s.
    pub fn peak_16bit(&self) -> f64 {
        self.kind.fp16_dense_tflops() * 1e12 * self.compute_share
    }

    /// Peak dense 8-bit matrix throughput of the device, FLOP/s.
    pub fn peak_8bit(&self) -> f64 {
        self.kind.int8_dense_tflops() * 1e12 * self.compute_share
    }

    /// Peak HBM bandwidth of the device, bytes/s.
    pub fn peak_bandwidth(&self) -> f64 {
        self.kind.hbm_bandwidth_tbps() * 1e12 * self.bandwidth_share
    }
}

impl fmt::Display for Device {
    /// `MI300X CPX/NPS4 partition: 38 CUs, 24 GiB, 1/8 of 5.3 TB/s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.layout {
            LayoutLabel::Mode(c, m) if self.whole_gpu => {
                write!(f, "{} {c}/{m}", self.kind)?;
            }
            LayoutLabel::Mode(c, m) => write!(f, "{} {c}/{m} partition", self.kind)?,
            LayoutLabel::Custom => write!(f, "{} software partition", self.kind)?,
        }
        write!(
            f,
            ": {} CUs, {} GiB, {:.2} TB/s",
            self.compute_units,
            self.memory,
            self.peak_bandwidth() / 1e12
        )?;
        if self.co_tenants > 1 {
            write!(f, " shared by {} replicas", self.co_tenants)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(text: &str, kind: GpuKind) -> Layout {
        text.parse::<LayoutSpec>().unwrap().build(kind).unwrap()
    }

    #[test]
    fn a_cpx_partition_owns_an_eighth_of_the_gpu() {
        let cpx = Device::of_layout(&layout("CPX/NPS4", GpuKind::Mi300x), 3);
        assert_eq!(cpx.compute_units, 38);
        assert_eq!(cpx.memory, Mib::gib(24));
        assert!((cpx.peak_16bit() * 8.0 - 1307.4e12).abs() < 1e6);
        assert!((cpx.peak_bandwidth() * 8.0 - 5.3e12).abs() < 1e6);
        assert_eq!((cpx.co_tenants, cpx.partitions_per_gpu), (1, 8));
        assert!(cpx.locality > 1.0 && !cpx.whole_gpu);
        let nps1 = Device::of_layout(&layout("CPX", GpuKind::Mi300x), 0);
        assert_eq!(nps1.locality, 1.0);
    }

    #[test]
    fn software_partitions_share_the_whole_device() {
        let soft = Device::of_layout(&layout("40,40,40,40", GpuKind::Mi300x), 1);
        assert_eq!(soft.compute_units, 304);
        assert_eq!(soft.memory, Mib::gib(40));
        assert_eq!(soft.co_tenants, 4);
        assert_eq!(
            soft.peak_bandwidth(),
            Device::whole(GpuKind::Mi300x).peak_bandwidth()
        );
        assert!(soft.to_string().contains("shared by 4 replicas"));
    }
}
