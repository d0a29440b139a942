//! `[plan]` of a serving scenario: the grid `aimsim plan` searches for the
//! fewest GPUs that serve the traffic within the `[slo]`.

use crate::capacity::MAX_PLAN_GPUS;
use crate::hardware::{ComputeMode, GpuKind, LayoutSpec, MemoryMode};
use crate::profile::Precision;
use crate::schedule::Policy;
use crate::serve::traffic::check_rate_scale;
use crate::serve::ServingPolicy;

use super::super::axes::{axes, first_repeat, Axes};
use super::super::check::Checker;
use super::super::ScenarioError;
use super::schema::PlanTable;

/// Most values of one engine setting a mixed plan tries.
pub const MAX_ENGINE_VALUES: usize = 8;

/// Largest value of an engine setting (as `engine.max_batched_tokens`).
const MAX_ENGINE_VALUE: u32 = 1 << 20;

/// Most cells (kinds x layouts x precisions x policies x rates) in a plan.
pub const MAX_PLAN_CELLS: usize = 10_000;

/// A checked `[plan]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ServePlanSpec {
    /// GPU kinds (default MI300X).
    pub kinds: Vec<GpuKind>,
    /// Layouts, each valid on every kind (default SPX).
    pub layouts: Vec<LayoutSpec>,
    /// Precisions every replica is served at, one cell each (default all
    /// three).
    pub precisions: Vec<Precision>,
    /// Placement policies (default fleet.policy, itself `load-aware` by
    /// default).
    pub policies: Vec<ServingPolicy>,
    /// Traffic rate multipliers (default 1).
    pub rate_scales: Vec<f64>,
    /// Most GPUs one cell may use (default 1,024).
    pub max_gpus: u32,
    /// Whether to plan a mixed fleet too (default true).
    pub mixed: bool,
    /// The partition modes a mixed fleet may use: `layouts` when the
    /// scenario lists them, every compute mode (at NPS1) otherwise.
    pub mixed_layouts: Vec<LayoutSpec>,
    /// `max_seqs` values a mixed fleet's replicas may run with (`None`:
    /// the engine's and a quarter of it).
    pub max_seqs: Option<Vec<u32>>,
    /// `max_batched_tokens` values a mixed fleet's replicas may run with
    /// (`None`: the engine's).
    pub max_batched_tokens: Option<Vec<u32>>,
}

impl ServePlanSpec {
    /// Cells of the grid.
    pub fn cells(&self) -> usize {
        self.kinds.len()
            * self.layouts.len()
            * self.precisions.len()
            * self.policies.len()
            * self.rate_scales.len()
    }
}

/// Checks `[plan]`; `policy` is the fleet's.
pub(super) fn plan(
    check: &Checker,
    raw: &PlanTable,
    policy: ServingPolicy,
) -> Result<ServePlanSpec, ScenarioError> {
    // The axes' own policy list holds memory policies only; the serving
    // policies are read below.
    let Axes { kinds, layouts, .. } = axes(
        check,
        "plan",
        raw.kinds.as_deref(),
        raw.layouts.as_deref(),
        None,
        (
            GpuKind::Mi300x,
            LayoutSpec::Mode(ComputeMode::Spx, MemoryMode::Nps1),
            Policy::Spread,
        ),
    )?;
    let policies: Vec<ServingPolicy> = match &raw.policies {
        None => vec![policy],
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, p)| check.parsed(&format!("plan.policies[{i}]"), p))
            .collect::<Result<_, _>>()?,
    };
    let precisions: Vec<Precision> = match &raw.precisions {
        None => Precision::ALL.to_vec(),
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, p)| check.parsed(&format!("plan.precisions[{i}]"), p))
            .collect::<Result<_, _>>()?,
    };
    let rate_scales = raw.rate_scales.clone().unwrap_or_else(|| vec![1.0]);
    // A value twice would search the same cells twice and write the same
    // answers over each other.
    for (key, twice) in [
        ("plan.policies", first_repeat(&policies)),
        ("plan.precisions", first_repeat(&precisions)),
        ("plan.rate_scales", first_repeat(&rate_scales)),
    ] {
        if let Some(value) = twice {
            return Err(check.fail(key, format!("lists {value} twice")));
        }
    }
    for (key, empty) in [
        ("plan.policies", policies.is_empty()),
        ("plan.precisions", precisions.is_empty()),
        ("plan.rate_scales", rate_scales.is_empty()),
    ] {
        if empty {
            return Err(check.fail(key, "the list is empty: the plan would have no cell"));
        }
    }
    for (i, &scale) in rate_scales.iter().enumerate() {
        check_rate_scale(scale).map_err(|e| check.fail(&format!("plan.rate_scales[{i}]"), e))?;
    }
    let max_gpus = raw.max_gpus.unwrap_or(1024);
    if max_gpus == 0 || max_gpus > MAX_PLAN_GPUS {
        return Err(check.fail(
            "plan.max_gpus",
            format!("must be between 1 and {MAX_PLAN_GPUS}, got {max_gpus}"),
        ));
    }
    for (key, list) in [
        ("plan.max_seqs", &raw.max_seqs),
        ("plan.max_batched_tokens", &raw.max_batched_tokens),
    ] {
        let Some(list) = list else { continue };
        if list.is_empty() || list.len() > MAX_ENGINE_VALUES {
            return Err(check.fail(key, format!("give 1 to {MAX_ENGINE_VALUES} values")));
        }
        if let Some(twice) = first_repeat(list) {
            return Err(check.fail(key, format!("lists {twice} twice")));
        }
        if let Some((i, v)) = list
            .iter()
            .enumerate()
            .find(|(_, &v)| !(1..=MAX_ENGINE_VALUE).contains(&v))
        {
            return Err(check.fail(
                &format!("{key}[{i}]"),
                format!("must be between 1 and {MAX_ENGINE_VALUE}, got {v}"),
            ));
        }
    }
    let mixed_layouts = match raw.layouts {
        Some(_) => layouts.clone(),
        None => ComputeMode::ALL
            .iter()
            .map(|&c| LayoutSpec::Mode(c, MemoryMode::Nps1))
            .collect(),
    };
    let spec = ServePlanSpec {
        kinds,
        layouts,
        mixed: raw.mixed.unwrap_or(true),
        mixed_layouts,
        max_seqs: raw.max_seqs.clone(),
        max_batched_tokens: raw.max_batched_tokens.clone(),
        precisions,
        policies,
        rate_scales,
        max_gpus,
    };
    if spec.cells() > MAX_PLAN_CELLS {
        return Err(check.fail(
            "plan",
            format!(
                "{} cells (kinds x layouts x precisions x policies x rate_scales); a plan has at most {MAX_PLAN_CELLS}",
                spec.cells()
            ),
        ));
    }
    Ok(spec)
}
