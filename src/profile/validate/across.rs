//! Checks that need several files: duplicate variants, missing precisions,
//! and quantised sizes far from the documented share of FP16.

use std::collections::BTreeMap;

use crate::profile::{Precision, Profile};

use super::{Finding, Severity};

/// Largest distance, in share of FP16, a quantised size may stray from the
/// documented ratio before it is flagged (15 percentage points).
const SHARE_TOLERANCE: f64 = 0.15;

/// Checks that need several files: duplicate variants, missing precisions,
/// and quantised sizes far from the documented share of FP16.
pub(super) fn check_across_files(profiles: &[(String, Profile)]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut by_model: BTreeMap<&str, [Option<(&str, &Profile)>; 3]> = BTreeMap::new();
    for (file, profile) in profiles {
        let slot =
            &mut by_model.entry(profile.model_id.as_str()).or_default()[profile.precision.index()];
        match slot {
            Some((first, _)) => findings.push(Finding {
                severity: Severity::Error,
                file: file.clone(),
                field: Some("variant_id".into()),
                message: format!(
                    "duplicate variant `{}`, also in {first}",
                    profile.variant_id
                ),
            }),
            None => *slot = Some((file, profile)),
        }
    }
    for (model, variants) in &by_model {
        let present: Vec<(&str, &Profile)> = variants.iter().flatten().copied().collect();
        let anchor = present[0].0;
        let missing: Vec<&str> = Precision::ALL
            .iter()
            .filter(|p| variants[p.index()].is_none())
            .map(|p| p.name())
            .collect();
        if !missing.is_empty() {
            findings.push(Finding {
                severity: Severity::Warning,
                file: anchor.to_string(),
                field: None,
                message: format!("model `{model}` has no {} profile", missing.join(" or ")),
            });
        }
        let Some((_, fp16)) = variants[Precision::Fp16.index()] else {
            continue;
        };
        for precision in [Precision::Int8, Precision::Int4] {
            let Some((file, quantised)) = variants[precision.index()] else {
                continue;
            };
            let share = quantised.memory_requirement_gb / fp16.memory_requirement_gb;
            let documented = precision.documented_share_of_fp16();
            if (share - documented).abs() > SHARE_TOLERANCE {
                findings.push(Finding {
                    severity: Severity::Warning,
                    file: file.to_string(),
                    field: Some("memory_requirement_gb".into()),
                    message: format!(
                        "{} GB is {:.0}% of the FP16 {} GB; the documented {precision} share is ~{:.0}%",
                        quantised.memory_requirement_gb,
                        share * 100.0,
                        fp16.memory_requirement_gb,
                        documented * 100.0
                    ),
                });
            }
        }
        if let (Some((_, int8)), Some((file, int4))) = (
            variants[Precision::Int8.index()],
            variants[Precision::Int4.index()],
        ) {
            if int4.memory_requirement_gb > int8.memory_requirement_gb {
                findings.push(Finding {
                    severity: Severity::Warning,
                    file: file.to_string(),
                    field: Some("memory_requirement_gb".into()),
                    message: format!(
                        "int4 needs more memory ({} GB) than int8 ({} GB)",
                        int4.memory_requirement_gb, int8.memory_requirement_gb
                    ),
                });
            }
        }
    }
    findings
}
