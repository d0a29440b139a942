//! Weight precisions a profile can come in.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The precision of a model's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 16-bit floating point (the baseline).
    Fp16,
    /// 8-bit integer quantisation.
    Int8,
    /// 4-bit integer quantisation.
    Int4,
}

impl Precision {
    /// Every precision, widest first.
    pub const ALL: [Precision; 3] = [Precision::Fp16, Precision::Int8, Precision::Int4];

    /// Lower-case name as in file names: `int4`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp16 => "fp16",
            Precision::Int8 => "int8",
            Precision::Int4 => "int4",
        }
    }

    /// Bytes one parameter takes at this precision.
    pub fn bytes_per_parameter(self) -> f64 {
        match self {
            Precision::Fp16 => 2.0,
            Precision::Int8 => 1.0,
            Precision::Int4 => 0.5,
        }
    }

    /// The share of the FP16 footprint the AIM documentation gives for this
    /// precision (~60% for INT8, ~40% for INT4).
    pub fn documented_share_of_fp16(self) -> f64 {
        match self {
            Precision::Fp16 => 1.0,
            Precision::Int8 => 0.6,
            Precision::Int4 => 0.4,
        }
    }

    /// Position in [`Precision::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// The text is not a precision aimsim knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown precision `{0}`; expected fp16, int8 or int4")]
pub struct UnknownPrecision(pub String);

impl FromStr for Precision {
    type Err = UnknownPrecision;

    /// Case-insensitive: `fp16`, `INT4`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Precision::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownPrecision(text.to_string()))
    }
}
