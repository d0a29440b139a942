//! `[fleet]`: GPU groups, the policy, and an elastic rule, checked.

use crate::hardware::GpuKind;
use crate::schedule::Policy;
use crate::sim::{ElasticSpec, FleetSpec, GpuGroup, ELASTIC_CAP, MAX_FLEET_GPUS};

use super::check::{Checker, ScenarioError};
use super::schema::FleetTable;

/// Checks `[fleet]`.
pub(super) fn fleet(check: &Checker, raw: &FleetTable) -> Result<FleetSpec, ScenarioError> {
    let policy: Policy = check.parsed("fleet.policy", &raw.policy)?;
    let mut groups = Vec::new();
    for (i, group) in raw.gpus.iter().enumerate() {
        let kind: GpuKind = check.parsed(&format!("fleet.gpus[{i}].kind"), &group.kind)?;
        if group.count == 0 || group.count > MAX_FLEET_GPUS {
            return Err(check.fail(
                &format!("fleet.gpus[{i}].count"),
                format!(
                    "must be between 1 and {MAX_FLEET_GPUS}, got {}",
                    group.count
                ),
            ));
        }
        let layout = check.layout(&format!("fleet.gpus[{i}].layout"), &group.layout, kind)?;
        groups.push(GpuGroup {
            kind,
            count: group.count,
            layout,
        });
    }
    let initial: u64 = groups.iter().map(|g| u64::from(g.count)).sum();
    if initial > u64::from(MAX_FLEET_GPUS) {
        return Err(check.fail(
            "fleet.gpus",
            format!("{initial} GPUs in all; a fleet has at most {MAX_FLEET_GPUS}"),
        ));
    }
    let initial = initial as u32;
    let elastic = match &raw.elastic {
        Some(e) => {
            let kind: GpuKind = check.parsed("fleet.elastic.kind", &e.kind)?;
            let layout = check.layout("fleet.elastic.layout", &e.layout, kind)?;
            if e.max_gpus == 0 || e.max_gpus < initial || e.max_gpus > ELASTIC_CAP {
                return Err(check.fail(
                    "fleet.elastic.max_gpus",
                                        format!(
                        "must be at least 1, at least the {initial} GPUs of fleet.gpus and at most {}, got {}",
                        ELASTIC_CAP,
                        e.max_gpus
                    ),
                ));
            }
            let release_after = e
                .release_after
                .as_deref()
                .map(|r| check.positive_duration("fleet.elastic.release_after", r))
                .transpose()?;
            Some(ElasticSpec {
                kind,
                layout,
                max_gpus: e.max_gpus,
                release_after,
            })
        }
        None => None,
    };
    if initial == 0 && elastic.is_none() {
        return Err(check.fail(
            "fleet.gpus",
            "a fixed fleet needs at least one [[fleet.gpus]] group",
        ));
    }
    Ok(FleetSpec {
        groups,
        elastic,
        policy,
    })
}
