//! The axes a study's grid shares with a serving plan's: GPU kinds,
//! layouts (each checked against every kind), placement policies, and the
//! `[prices]` table that turns GPUs into money.

use std::collections::BTreeMap;

use crate::hardware::{GpuKind, LayoutSpec};
use crate::schedule::Policy;

use super::check::{Checker, ScenarioError};
use super::schema::LayoutValue;

/// Kinds, layouts and policies of one grid, each non-empty.
pub(super) struct Axes {
    pub kinds: Vec<GpuKind>,
    pub layouts: Vec<LayoutSpec>,
    pub policies: Vec<Policy>,
}

/// Checks `section.kinds`, `section.layouts` and `section.policies`, each
/// replaced by its default when absent.
pub(super) fn axes(
    check: &Checker,
    section: &str,
    kinds: Option<&[String]>,
    layouts: Option<&[LayoutValue]>,
    policies: Option<&[String]>,
    default: (GpuKind, LayoutSpec, Policy),
) -> Result<Axes, ScenarioError> {
    let kinds: Vec<GpuKind> = match kinds {
        None => vec![default.0],
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, k)| check.parsed(&format!("{section}.kinds[{i}]"), k))
            .collect::<Result<_, _>>()?,
    };
    let layouts: Vec<LayoutSpec> = match layouts {
        None => vec![default.1],
        Some(list) => {
            let mut layouts = Vec::new();
            for (i, value) in list.iter().enumerate() {
                let key = format!("{section}.layouts[{i}]");
                let mut spec = None;
                for &kind in &kinds {
                    spec = Some(check.layout(&key, value, kind)?);
                }
                layouts.extend(spec);
            }
            layouts
        }
    };
    let policies: Vec<Policy> = match policies {
        None => vec![default.2],
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, p)| check.parsed(&format!("{section}.policies[{i}]"), p))
            .collect::<Result<_, _>>()?,
    };
    for (key, empty) in [
        ("kinds", kinds.is_empty()),
        ("layouts", layouts.is_empty()),
        ("policies", policies.is_empty()),
    ] {
        if empty {
            return Err(check.fail(
                &format!("{section}.{key}"),
                "the list is empty: the grid would have no point",
            ));
        }
    }
    // A value twice would run the same points twice and report them twice.
    for (key, twice) in [
        ("kinds", first_repeat(&kinds)),
        ("layouts", first_repeat(&layouts)),
        ("policies", first_repeat(&policies)),
    ] {
        if let Some(value) = twice {
            return Err(check.fail(&format!("{section}.{key}"), format!("lists {value} twice")));
        }
    }
    Ok(Axes {
        kinds,
        layouts,
        policies,
    })
}

/// The first value of `list` that an earlier one equals, as text.
pub(super) fn first_repeat<T: PartialEq + std::fmt::Display>(list: &[T]) -> Option<String> {
    list.iter()
        .enumerate()
        .find(|(i, v)| list[..*i].contains(v))
        .map(|(_, v)| v.to_string())
}

/// Checks `[prices]`: a non-negative price per GPU-hour for each kind named.
/// Highest price per GPU-hour: a million, far above any GPU's, and low
/// enough that costs per million tokens stay finite.
pub const MAX_PRICE: f64 = 1e6;

/// `price` if it is a price per GPU-hour from 0 to [`MAX_PRICE`]; `Err`
/// says the range.
pub fn check_price(price: f64) -> Result<f64, String> {
    if price.is_finite() && (0.0..=MAX_PRICE).contains(&price) {
        Ok(price)
    } else {
        Err(format!(
            "must be a price per GPU-hour from 0 to {MAX_PRICE}, got {price:?}"
        ))
    }
}

pub(super) fn prices(
    check: &Checker,
    raw: &BTreeMap<String, f64>,
) -> Result<BTreeMap<GpuKind, f64>, ScenarioError> {
    let mut prices = BTreeMap::new();
    for (kind, &price) in raw {
        let key = format!("prices.{kind}");
        let kind: GpuKind = check.parsed(&key, kind)?;
        prices.insert(kind, check_price(price).map_err(|e| check.fail(&key, e))?);
    }
    Ok(prices)
}
