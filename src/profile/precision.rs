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
#[error("unknown precision `{0}`; expected fp16, int8 (also `fp8`) or int4")]
pub struct UnknownPrecision(pub String);

impl FromStr for Precision {
    type Err = UnknownPrecision;

    /// Case-insensitive: `fp16`, `INT4`. `fp8` is `int8`: the catalog's
    /// 8-bit profiles are served as FP8 W8A8 (weights and activations in
    /// 8 bits on the FP8 matrix cores), which users often call fp8.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("fp8") {
            return Ok(Precision::Int8);
        }
        Precision::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| UnknownPrecision(text.to_string()))
    }
}

/// Shares of FP16, INT8 and INT4 among deployments: each in [0, 1],
/// summing to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrecisionMix([f64; 3]);

/// Shares that do not make a precision mix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MixError {
    /// A name that is not a precision.
    #[error(transparent)]
    UnknownPrecision(#[from] UnknownPrecision),
    /// One precision given two shares (under two spellings: `int8` and
    /// `fp8`, or `INT8`).
    #[error("{0} has a share already (fp8 is int8; names are case-insensitive)")]
    Repeated(Precision),
    /// A share outside [0, 1] (or not a number).
    #[error("every share must be between 0 and 1, got {0}")]
    ShareOutOfRange(f64),
    /// The shares do not add up to 1.
    #[error("shares must sum to 1, they sum to {0}")]
    SumNotOne(f64),
    /// A simplex step outside [`PrecisionMix::MIN_STEP`, 1].
    #[error("step {0} must be between {min} and 1", min = PrecisionMix::MIN_STEP)]
    StepOutOfRange(f64),
    /// A simplex step that does not divide 1.
    #[error("step {0} does not divide 1 (try 0.1, 0.125, 0.25 or 0.5)")]
    StepDoesNotDivide(f64),
}

impl PrecisionMix {
    /// The finest simplex step (5,151 mixes).
    pub const MIN_STEP: f64 = 0.01;

    /// Checks `shares` (FP16, INT8, INT4 order).
    pub fn new(shares: [f64; 3]) -> Result<PrecisionMix, MixError> {
        if let Some(&bad) = shares
            .iter()
            .find(|s| !(s.is_finite() && (0.0..=1.0).contains(*s)))
        {
            return Err(MixError::ShareOutOfRange(bad));
        }
        let sum: f64 = shares.iter().sum();
        if (sum - 1.0).abs() > 1e-9 {
            return Err(MixError::SumNotOne(sum));
        }
        Ok(PrecisionMix(shares))
    }

    /// The one parser of mixes written as names and shares (`fp16 = 0.7,
    /// int4 = 0.3`); precisions left out have no share. The error names the
    /// offending precision, if one is to blame.
    pub fn from_named<'a>(
        shares: impl IntoIterator<Item = (&'a str, f64)>,
    ) -> Result<PrecisionMix, (Option<String>, MixError)> {
        let mut mix = [None; 3];
        for (name, share) in shares {
            let precision: Precision = name
                .parse()
                .map_err(|e: UnknownPrecision| (Some(name.to_string()), e.into()))?;
            if mix[precision.index()].replace(share).is_some() {
                return Err((Some(name.to_string()), MixError::Repeated(precision)));
            }
        }
        let mix = mix.map(|share| share.unwrap_or(0.0));
        PrecisionMix::new(mix).map_err(|e| (None, e))
    }

    /// Everything at one precision.
    pub fn pure(precision: Precision) -> PrecisionMix {
        let mut shares = [0.0; 3];
        shares[precision.index()] = 1.0;
        PrecisionMix(shares)
    }

    /// The precision that has the whole mix, if one does.
    pub fn as_pure(&self) -> Option<Precision> {
        Precision::ALL.into_iter().find(|&p| self.share(p) == 1.0)
    }

    /// The share of `precision`.
    pub fn share(&self, precision: Precision) -> f64 {
        self.0[precision.index()]
    }

    /// Shares in FP16, INT8, INT4 order.
    pub fn shares(&self) -> [f64; 3] {
        self.0
    }

    /// Every mix on a simplex grid with `step` (0.1 gives 66), FP16-heaviest
    /// first: by INT4 share, then INT8 share. `step` must divide 1.
    pub fn simplex(step: f64) -> Result<Vec<PrecisionMix>, MixError> {
        if !(step.is_finite() && (Self::MIN_STEP..=1.0).contains(&step)) {
            return Err(MixError::StepOutOfRange(step));
        }
        let units = (1.0 / step).round();
        if (units * step - 1.0).abs() > 1e-9 {
            return Err(MixError::StepDoesNotDivide(step));
        }
        let n = units as u32;
        let mut mixes = Vec::new();
        for int4 in 0..=n {
            for int8 in 0..=(n - int4) {
                let fp16 = n - int4 - int8;
                let share = |u: u32| f64::from(u) / f64::from(n);
                mixes.push(PrecisionMix([share(fp16), share(int8), share(int4)]));
            }
        }
        Ok(mixes)
    }
}

impl fmt::Display for PrecisionMix {
    /// `fp16 0.7, int8 0.1, int4 0.2`, shares with up to three decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let share = |v: f64| {
            let text = format!("{v:.3}");
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        };
        write!(
            f,
            "fp16 {}, int8 {}, int4 {}",
            share(self.0[0]),
            share(self.0[1]),
            share(self.0[2])
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenth_step_gives_66_mixes_that_sum_to_one() {
        let mixes = PrecisionMix::simplex(0.1).unwrap();
        assert_eq!(mixes.len(), 66);
        assert!(mixes
            .iter()
            .all(|m| (m.shares().iter().sum::<f64>() - 1.0).abs() < 1e-12));
        assert_eq!(mixes[0], PrecisionMix::pure(Precision::Fp16));
        assert_eq!(*mixes.last().unwrap(), PrecisionMix::pure(Precision::Int4));
        assert_eq!(PrecisionMix::simplex(0.25).unwrap().len(), 15);
        assert_eq!(PrecisionMix::simplex(1.0).unwrap().len(), 3);
    }

    #[test]
    fn a_step_that_does_not_divide_one_is_refused() {
        for bad in [0.3, 0.0, -0.1, 1.5, f64::NAN, 1e-9] {
            assert!(PrecisionMix::simplex(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn named_shares_are_checked_by_one_parser() {
        let mix = PrecisionMix::from_named([("fp16", 0.7), ("INT4", 0.3)]).unwrap();
        assert_eq!(mix.shares(), [0.7, 0.0, 0.3]);
        assert_eq!(mix.as_pure(), None);
        assert_eq!(
            PrecisionMix::from_named([("fp4", 1.0)]).unwrap_err().0,
            Some("fp4".into())
        );
        // fp8 is the 8-bit profile, and may not be given beside int8.
        assert_eq!(
            PrecisionMix::from_named([("fp8", 0.5), ("fp16", 0.5)])
                .unwrap()
                .shares(),
            [0.5, 0.5, 0.0]
        );
        assert_eq!(
            PrecisionMix::from_named([("int8", 0.5), ("FP8", 0.5)]).unwrap_err(),
            (Some("FP8".into()), MixError::Repeated(Precision::Int8))
        );
        assert_eq!(
            PrecisionMix::from_named([("fp16", 0.5), ("int4", 0.4)]).unwrap_err(),
            (None, MixError::SumNotOne(0.9))
        );
        assert!(matches!(
            PrecisionMix::new([1.5, -0.5, 0.0]),
            Err(MixError::ShareOutOfRange(_))
        ));
    }

    #[test]
    fn labels_trim_zeros() {
        let mix = PrecisionMix::new([0.7, 0.1, 0.2]).unwrap();
        assert_eq!(mix.to_string(), "fp16 0.7, int8 0.1, int4 0.2");
        assert_eq!(
            PrecisionMix::pure(Precision::Fp16).to_string(),
            "fp16 1, int8 0, int4 0"
        );
    }
}
