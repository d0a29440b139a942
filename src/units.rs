//! Exact memory units.
//!
//! Profiles give sizes in "GB" that the AIM runtime converts with 1024^3, so
//! aimsim reads them as GiB and keeps every account in whole MiB (`u64`):
//! a million allocate/free pairs never drift the way float sums do.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Sub, SubAssign};

/// MiB in one GiB.
pub const MIB_PER_GIB: u64 = 1024;

/// An amount of GPU memory in whole mebibytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Mib(pub u64);

impl Mib {
    /// Zero bytes.
    pub const ZERO: Mib = Mib(0);

    /// Whole gibibytes.
    pub const fn gib(gib: u64) -> Mib {
        Mib(gib * MIB_PER_GIB)
    }

    /// Converts a GiB figure from a profile or a command line, rounding up to
    /// the next whole MiB so that a demand is never under-charged.
    ///
    /// Returns `None` for values that are negative, not finite, or too large
    /// to hold.
    pub fn from_gib_ceil(gib: f64) -> Option<Mib> {
        if !gib.is_finite() || gib < 0.0 {
            return None;
        }
        let mib = (gib * MIB_PER_GIB as f64).ceil();
        if mib > u64::MAX as f64 / 2.0 {
            return None;
        }
        Some(Mib(mib as u64))
    }

    /// The amount in GiB, for display and reports.
    pub fn as_gib(self) -> f64 {
        self.0 as f64 / MIB_PER_GIB as f64
    }

    /// `self - other`, or `None` when `other` is larger.
    pub fn checked_sub(self, other: Mib) -> Option<Mib> {
        self.0.checked_sub(other.0).map(Mib)
    }

    /// `self - other`, floored at zero.
    pub fn saturating_sub(self, other: Mib) -> Mib {
        Mib(self.0.saturating_sub(other.0))
    }
}

impl fmt::Display for Mib {
    /// Shows GiB with up to two decimals and no trailing zeros: `20`, `11.25`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = format!("{:.2}", self.as_gib());
        let text = text.trim_end_matches('0').trim_end_matches('.');
        f.pad(text)
    }
}

impl Add for Mib {
    type Output = Mib;
    fn add(self, rhs: Mib) -> Mib {
        Mib(self.0 + rhs.0)
    }
}

impl AddAssign for Mib {
    fn add_assign(&mut self, rhs: Mib) {
        self.0 += rhs.0;
    }
}

impl Sub for Mib {
    type Output = Mib;
    fn sub(self, rhs: Mib) -> Mib {
        Mib(self.0 - rhs.0)
    }
}

impl SubAssign for Mib {
    fn sub_assign(&mut self, rhs: Mib) {
        self.0 -= rhs.0;
    }
}

impl Sum for Mib {
    fn sum<I: Iterator<Item = Mib>>(iter: I) -> Mib {
        Mib(iter.map(|m| m.0).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gib_figures_convert_exactly() {
        assert_eq!(Mib::from_gib_ceil(20.0), Some(Mib(20 * 1024)));
        assert_eq!(Mib::from_gib_ceil(206.25), Some(Mib(211_200)));
        assert_eq!(Mib::from_gib_ceil(11.25), Some(Mib(11_520)));
    }

    #[test]
    fn fractional_mib_rounds_up_never_down() {
        // 0.0001 GiB is 0.1024 MiB: charging 0 would be an under-charge.
        assert_eq!(Mib::from_gib_ceil(0.0001), Some(Mib(1)));
    }

    #[test]
    fn negative_and_non_finite_are_refused() {
        assert_eq!(Mib::from_gib_ceil(-1.0), None);
        assert_eq!(Mib::from_gib_ceil(f64::NAN), None);
        assert_eq!(Mib::from_gib_ceil(f64::INFINITY), None);
    }

    #[test]
    fn display_trims_trailing_zeros() {
        assert_eq!(Mib::gib(20).to_string(), "20");
        assert_eq!(Mib(11_520).to_string(), "11.25");
        assert_eq!(Mib(1536).to_string(), "1.5");
    }
}
