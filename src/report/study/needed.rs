//! What a study says each setup needs at each precision: the ranges a
//! sweep brackets, and the "GPUs needed at FP16 / INT8 / INT4" table.

use std::fmt::Write as _;

use crate::profile::{Precision, PrecisionMix};
use crate::sweep::PointSummary;

use super::{price, setup, Setup, StudyHeader};

/// What a sweep says of the fleet a setup needs at a mix: the smallest
/// swept size whose mean fit reaches the target, and the largest swept size
/// below it (the answer lies between).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum SweptNeed {
    /// Reached at `gpus`; `below` is the next smaller swept size, if any.
    Within { below: Option<u32>, gpus: u32 },
    /// Not reached at any swept size up to this one.
    Beyond(u32),
    /// No fleet can reach it: only this share of requests can ever fit.
    Unreachable(f64),
}

/// What `plan` and `sweep` both print when no fleet of a kind and layout
/// can reach the target, with the share of requests that can ever fit it.
pub(super) fn unreachable_text(reachable: f64) -> String {
    format!("unreachable ({:.1}% can fit)", reachable * 100.0)
}

impl SweptNeed {
    /// `<= N`, `M-N` or `> N`.
    pub(super) fn text(self) -> String {
        match self {
            SweptNeed::Within { below: None, gpus } => format!("<= {gpus}"),
            SweptNeed::Within {
                below: Some(b),
                gpus,
            } => format!("{}-{gpus}", b + 1),
            SweptNeed::Beyond(max) => format!("> {max}"),
            SweptNeed::Unreachable(reachable) => unreachable_text(reachable),
        }
    }
}

/// For each setup and mix (in grid order), what the sweep says it needs.
pub(super) fn needed_from_sweep(
    points: &[PointSummary],
    target: f64,
) -> Vec<(Setup, Option<PrecisionMix>, SweptNeed)> {
    // Per setup and mix, the swept sizes, whether each reached the target,
    // and the share of requests that could ever fit.
    type Swept = (Setup, Option<PrecisionMix>, Vec<(u32, bool, f64)>);
    let mut found: Vec<Swept> = Vec::new();
    for p in points {
        let (s, mix) = (setup(&p.cell), p.cell.mix);
        let size = (
            p.cell.gpus.expect("sweep points have a size"),
            p.fit.mean >= target,
            p.reachable.mean,
        );
        match found.iter_mut().find(|(fs, fm, _)| *fs == s && *fm == mix) {
            Some(entry) => entry.2.push(size),
            None => found.push((s, mix, vec![size])),
        }
    }
    found
        .into_iter()
        .map(|(s, mix, mut swept)| {
            swept.sort_unstable_by_key(|&(gpus, _, _)| gpus);
            let reachable = swept.iter().map(|&(_, _, r)| r).fold(1.0, f64::min);
            let need = match swept.iter().position(|&(_, ok, _)| ok) {
                Some(i) => SweptNeed::Within {
                    below: i.checked_sub(1).map(|j| swept[j].0),
                    gpus: swept[i].0,
                },
                None if reachable < target => SweptNeed::Unreachable(reachable),
                None => SweptNeed::Beyond(swept.last().map_or(0, |l| l.0)),
            };
            (s, mix, need)
        })
        .collect()
}

/// The "GPUs needed at FP16 / INT8 / INT4" table. `cell(setup, mix)` gives
/// a cell's text and, when exact, its GPU count (for the savings and cost
/// columns, shown when `exact`).
pub(super) fn needed_table(
    header: &StudyHeader,
    setups: &[Setup],
    cell: impl Fn(&Setup, &PrecisionMix) -> Option<(String, Option<u32>)>,
    exact: bool,
) -> String {
    let priced = exact && !header.prices.is_empty();
    let mut md = String::from("| kind | layout | policy | FP16 | INT8 | INT4 |");
    let mut rule = String::from("|---|---|---|---:|---:|---:|");
    if exact {
        md.push_str(" INT8 vs FP16 | INT4 vs FP16 |");
        rule.push_str("---:|---:|");
    }
    if priced {
        md.push_str(" cost/h FP16 | cost/h INT4 |");
        rule.push_str("---:|---:|");
    }
    md.push('\n');
    md.push_str(&rule);
    md.push('\n');
    for s in setups {
        let at = |p: Precision| cell(s, &PrecisionMix::pure(p));
        let text = |p: Precision| at(p).map_or("-".to_string(), |c| c.0);
        let gpus = |p: Precision| at(p).and_then(|c| c.1);
        let _ = write!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            s.0,
            s.1,
            s.2,
            text(Precision::Fp16),
            text(Precision::Int8),
            text(Precision::Int4)
        );
        if exact {
            for p in [Precision::Int8, Precision::Int4] {
                let saving = match (gpus(Precision::Fp16), gpus(p)) {
                    (Some(f), Some(q)) if f > 0 => {
                        format!("{:+.0}%", (f64::from(q) / f64::from(f) - 1.0) * 100.0)
                    }
                    _ => "-".into(),
                };
                let _ = write!(md, " {saving} |");
            }
        }
        if priced {
            for p in [Precision::Fp16, Precision::Int4] {
                let cost = match (price(header, s.0), gpus(p)) {
                    (Some(unit), Some(g)) => format!("{:.2}", unit * f64::from(g)),
                    _ => "-".into(),
                };
                let _ = write!(md, " {cost} |");
            }
        }
        md.push('\n');
    }
    md
}
