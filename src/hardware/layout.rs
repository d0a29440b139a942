//! Partition layouts: a mode pair or custom sizes, checked against the GPU.

use std::fmt;
use std::str::FromStr;

use crate::units::Mib;

use super::gpu::GpuKind;
use super::mode::{ComputeMode, MemoryMode, UnknownMode};

/// Memory the AIM runtime reserves on a GPU laid out with custom sizes
/// (`system_overhead_gb = 4`). Mode layouts are driver quotas and reserve
/// nothing extra.
pub const SYSTEM_OVERHEAD: Mib = Mib::gib(4);

/// The smallest partition the AIM runtime offers to a model
/// (`min_partition_gb = 8`).
pub const MIN_PARTITION: Mib = Mib::gib(8);

/// Most partitions a layout may have (`max_partitions = 8`: one per XCD, as
/// CPX makes).
pub const MAX_PARTITIONS: usize = 8;

/// How a user asks for a GPU to be partitioned, before it is checked against
/// a GPU kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LayoutSpec {
    /// A driver mode pair: every device gets total / devices.
    Mode(ComputeMode, MemoryMode),
    /// Explicit partition sizes, as the AIM simulation partitioner accepts.
    Custom(Vec<Mib>),
}

/// A checked layout: the memory quota of each partition of one GPU.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Layout {
    kind: GpuKind,
    spec: LayoutSpec,
    partitions: Vec<Mib>,
}

/// Why a layout cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// The driver does not accept this compute x memory pair on this GPU.
    #[error("{kind} does not support {compute}/{memory}; valid modes are {}", valid.join(", "))]
    InvalidModePair {
        /// The GPU kind.
        kind: GpuKind,
        /// Requested compute mode.
        compute: ComputeMode,
        /// Requested memory mode.
        memory: MemoryMode,
        /// Every valid pair on this kind, as `CPX/NPS4`.
        valid: Vec<String>,
    },
    /// A custom layout with no partition.
    #[error("a custom layout needs at least one partition")]
    Empty,
    /// More custom partitions than the GPU has XCDs.
    #[error("{count} partitions requested; a custom layout has at most {MAX_PARTITIONS}")]
    TooMany {
        /// Partitions requested.
        count: usize,
    },
    /// A custom partition below the smallest size the runtime would offer
    /// (this includes zero).
    #[error("partition {index} is {size} GiB; every partition needs at least {MIN_PARTITION} GiB (min_partition_gb)")]
    BelowMinimum {
        /// Zero-based partition index.
        index: usize,
        /// Its size.
        size: Mib,
    },
    /// Custom sizes that add up to more than the GPU minus the reserved overhead.
    #[error("partitions add up to {sum} GiB but {kind} offers {limit} GiB for custom layouts ({total} GiB minus {SYSTEM_OVERHEAD} GiB system overhead)", total = kind.memory())]
    Oversubscribed {
        /// The GPU kind.
        kind: GpuKind,
        /// Sum of the requested sizes.
        sum: Mib,
        /// Memory available to custom partitions.
        limit: Mib,
    },
}

/// Text that is neither a mode pair nor a list of sizes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad layout `{text}`: {problem}; expected a mode such as SPX or CPX/NPS4, or sizes in GiB such as 40,40,40,40")]
pub struct LayoutParseError {
    /// The text given.
    pub text: String,
    /// What was wrong with it.
    pub problem: String,
}

impl LayoutSpec {
    /// Checks the spec against `kind` and computes the partition sizes.
    pub fn build(&self, kind: GpuKind) -> Result<Layout, LayoutError> {
        let partitions = match self {
            LayoutSpec::Mode(compute, memory) => {
                if !kind.supports(*compute, *memory) {
                    return Err(LayoutError::InvalidModePair {
                        kind,
                        compute: *compute,
                        memory: *memory,
                        valid: kind
                            .valid_modes()
                            .into_iter()
                            .map(|(c, m)| format!("{c}/{m}"))
                            .collect(),
                    });
                }
                let devices = u64::from(compute.devices());
                vec![Mib(kind.memory().0 / devices); devices as usize]
            }
            LayoutSpec::Custom(sizes) => {
                if sizes.is_empty() {
                    return Err(LayoutError::Empty);
                }
                if sizes.len() > MAX_PARTITIONS {
                    return Err(LayoutError::TooMany { count: sizes.len() });
                }
                if let Some((index, &size)) =
                    sizes.iter().enumerate().find(|(_, &s)| s < MIN_PARTITION)
                {
                    return Err(LayoutError::BelowMinimum { index, size });
                }
                let sum: Mib = sizes.iter().copied().sum();
                let limit = kind.memory() - SYSTEM_OVERHEAD;
                if sum > limit {
                    return Err(LayoutError::Oversubscribed { kind, sum, limit });
                }
                sizes.clone()
            }
        };
        Ok(Layout {
            kind,
            spec: self.clone(),
            partitions,
        })
    }
}

impl fmt::Display for LayoutSpec {
    /// `CPX/NPS4` or `40,40,40,40`; parses back with [`FromStr`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutSpec::Mode(c, m) => write!(f, "{c}/{m}"),
            LayoutSpec::Custom(sizes) => {
                let text: Vec<String> = sizes.iter().map(Mib::to_string).collect();
                f.write_str(&text.join(","))
            }
        }
    }
}

impl FromStr for LayoutSpec {
    type Err = LayoutParseError;

    /// Parses `SPX`, `CPX/NPS4` (memory mode defaults to NPS1), or a
    /// comma-separated list of sizes in GiB (`40,40,40,40`, `23.5,24`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |problem: String| LayoutParseError {
            text: text.to_string(),
            problem,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(fail("it is empty".into()));
        }
        let looks_numeric = trimmed
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '.' || c == '+');
        if looks_numeric {
            let sizes = trimmed
                .split(',')
                .enumerate()
                .map(|(index, part)| {
                    parse_size(part).map_err(|p| fail(format!("size {index}: {p}")))
                })
                .collect::<Result<Vec<Mib>, _>>()?;
            return Ok(LayoutSpec::Custom(sizes));
        }
        let (compute, memory) = match trimmed.split_once(['/', '+']) {
            Some((c, m)) => (c, m),
            None => (trimmed, "NPS1"),
        };
        Ok(LayoutSpec::Mode(
            compute
                .parse()
                .map_err(|e: UnknownMode| fail(e.to_string()))?,
            memory
                .parse()
                .map_err(|e: UnknownMode| fail(e.to_string()))?,
        ))
    }
}

/// One custom size in GiB; must be a positive whole number of MiB.
fn parse_size(text: &str) -> Result<Mib, String> {
    let text = text.trim();
    let gib: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if !gib.is_finite() || gib <= 0.0 {
        return Err(format!("`{text}` must be a positive number of GiB"));
    }
    let mib = gib * 1024.0;
    if mib.fract() != 0.0 {
        return Err(format!("`{text}` GiB is not a whole number of MiB"));
    }
    Mib::from_gib_ceil(gib).ok_or_else(|| format!("`{text}` is too large"))
}

impl Layout {
    /// The GPU kind this layout was checked against.
    pub fn kind(&self) -> GpuKind {
        self.kind
    }

    /// The spec it was built from.
    pub fn spec(&self) -> &LayoutSpec {
        &self.spec
    }

    /// Memory quota of each partition, by partition index.
    pub fn partitions(&self) -> &[Mib] {
        &self.partitions
    }

    /// The largest partition.
    pub fn largest_partition(&self) -> Mib {
        self.partitions.iter().copied().max().unwrap_or(Mib::ZERO)
    }

    /// Compute units each partition gets (mode layouts split the CUs evenly;
    /// custom layouts share all of them).
    pub fn compute_units_per_partition(&self) -> u32 {
        match self.spec {
            LayoutSpec::Mode(c, _) => self.kind.compute_units() / c.devices(),
            LayoutSpec::Custom(_) => self.kind.compute_units(),
        }
    }
}

impl fmt::Display for Layout {
    /// `MI300X CPX/NPS4 (8 x 24 GiB)` or `MI300X 40,40,40,40`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.spec {
            LayoutSpec::Mode(..) => write!(
                f,
                "{} {} ({} x {} GiB)",
                self.kind,
                self.spec,
                self.partitions.len(),
                self.largest_partition()
            ),
            LayoutSpec::Custom(_) => write!(f, "{} {}", self.kind, self.spec),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> LayoutSpec {
        text.parse().unwrap()
    }

    #[test]
    fn mode_quotas_are_total_over_devices() {
        let cases = [
            (GpuKind::Mi300x, "SPX", 1, 192),
            (GpuKind::Mi300x, "DPX/NPS2", 2, 96),
            (GpuKind::Mi300x, "QPX/NPS4", 4, 48),
            (GpuKind::Mi300x, "CPX", 8, 24),
            (GpuKind::Mi300x, "CPX/NPS4", 8, 24),
            (GpuKind::Mi325x, "CPX", 8, 32),
            (GpuKind::Mi355x, "QPX/NPS2", 4, 72),
            (GpuKind::Mi350x, "CPX/NPS2", 8, 36),
        ];
        for (kind, text, count, gib) in cases {
            let layout = spec(text).build(kind).unwrap();
            assert_eq!(
                layout.partitions(),
                vec![Mib::gib(gib); count].as_slice(),
                "{kind} {text}"
            );
        }
    }

    #[test]
    fn invalid_pair_lists_the_valid_ones() {
        let err = spec("SPX/NPS4").build(GpuKind::Mi300x).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("MI300X does not support SPX/NPS4"), "{text}");
        assert!(
            text.contains("CPX/NPS4") && text.contains("DPX/NPS2"),
            "{text}"
        );
        assert!(spec("CPX/NPS4").build(GpuKind::Mi355x).is_err());
    }

    #[test]
    fn custom_layout_of_the_aim_example_is_accepted() {
        let layout = spec("40,40,40,40").build(GpuKind::Mi300x).unwrap();
        assert_eq!(layout.partitions(), &[Mib::gib(40); 4]);
        assert_eq!(layout.to_string(), "MI300X 40,40,40,40");
    }

    #[test]
    fn custom_layout_reserves_system_overhead() {
        // 188 = 192 - 4 fits exactly; one MiB more does not.
        assert!(spec("94,94").build(GpuKind::Mi300x).is_ok());
        let err = spec("94,94.0009765625").build(GpuKind::Mi300x).unwrap_err();
        assert!(matches!(err, LayoutError::Oversubscribed { .. }), "{err}");
    }

    #[test]
    fn bad_custom_layouts_are_refused_with_the_reason() {
        assert!(matches!(
            LayoutSpec::Custom(vec![]).build(GpuKind::Mi300x),
            Err(LayoutError::Empty)
        ));
        assert!(matches!(
            spec("40,4").build(GpuKind::Mi300x),
            Err(LayoutError::BelowMinimum { index: 1, .. })
        ));
        assert!(matches!(
            spec("9,9,9,9,9,9,9,9,9").build(GpuKind::Mi300x),
            Err(LayoutError::TooMany { count: 9 })
        ));
        for bad in ["40,-40", "40,0", "40,,40", "40,abc", "1e400"] {
            assert!(bad.parse::<LayoutSpec>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn spec_text_round_trips() {
        for text in ["SPX/NPS1", "CPX/NPS4", "40,40,40,40", "23.5,24"] {
            assert_eq!(spec(text).to_string(), text);
        }
    }
}
