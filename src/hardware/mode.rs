//! Compute (SPX..CPX) and memory (NPS1..NPS4) partition modes.

use std::fmt;
use std::str::FromStr;

/// How many logical devices the GPU's XCDs are grouped into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ComputeMode {
    /// One device (all 8 XCDs).
    Spx,
    /// Two devices.
    Dpx,
    /// Four devices.
    Qpx,
    /// Eight devices, one per XCD.
    Cpx,
}

impl ComputeMode {
    /// Every compute mode, fewest devices first.
    pub const ALL: [ComputeMode; 4] = [
        ComputeMode::Spx,
        ComputeMode::Dpx,
        ComputeMode::Qpx,
        ComputeMode::Cpx,
    ];

    /// Logical devices this mode creates.
    pub fn devices(self) -> u32 {
        match self {
            ComputeMode::Spx => 1,
            ComputeMode::Dpx => 2,
            ComputeMode::Qpx => 4,
            ComputeMode::Cpx => 8,
        }
    }

    /// Upper-case name: `CPX`.
    pub fn name(self) -> &'static str {
        match self {
            ComputeMode::Spx => "SPX",
            ComputeMode::Dpx => "DPX",
            ComputeMode::Qpx => "QPX",
            ComputeMode::Cpx => "CPX",
        }
    }
}

/// How many NUMA memory partitions the HBM is split into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemoryMode {
    /// One memory partition.
    Nps1,
    /// Two memory partitions.
    Nps2,
    /// Four memory partitions.
    Nps4,
}

impl MemoryMode {
    /// Every memory mode.
    pub const ALL: [MemoryMode; 3] = [MemoryMode::Nps1, MemoryMode::Nps2, MemoryMode::Nps4];

    /// Upper-case name: `NPS4`.
    pub fn name(self) -> &'static str {
        match self {
            MemoryMode::Nps1 => "NPS1",
            MemoryMode::Nps2 => "NPS2",
            MemoryMode::Nps4 => "NPS4",
        }
    }
}

impl fmt::Display for ComputeMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl fmt::Display for MemoryMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// The text names no partition mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnknownMode {
    /// Not SPX, DPX, QPX or CPX.
    #[error("unknown compute mode `{0}`; expected SPX, DPX, QPX or CPX")]
    Compute(String),
    /// Not NPS1, NPS2 or NPS4.
    #[error("unknown memory mode `{0}`; expected NPS1, NPS2 or NPS4")]
    Memory(String),
}

impl FromStr for ComputeMode {
    type Err = UnknownMode;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ComputeMode::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownMode::Compute(text.to_string()))
    }
}

impl FromStr for MemoryMode {
    type Err = UnknownMode;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        MemoryMode::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownMode::Memory(text.to_string()))
    }
}
