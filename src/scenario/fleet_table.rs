//! `[fleet]`: GPU groups, the policy, and an elastic rule, checked.

use crate::hardware::{GpuKind, NodeShape};
use crate::schedule::Policy;
use crate::sim::{ElasticSpec, FleetSpec, GpuGroup, ELASTIC_CAP, MAX_FLEET_GPUS};
use crate::units::Mib;

use super::check::{Checker, ScenarioError};
use super::schema::{FleetTable, NodeTable};

/// Most CPU cores a node may have.
const MAX_NODE_CORES: f64 = 65_536.0;

/// Most host memory a node may have, GiB.
const MAX_NODE_MEMORY_GB: f64 = 1_048_576.0;

/// Checks `[fleet]` of a deployment scenario, whose `policy` is required.
pub(super) fn fleet(check: &Checker, raw: &FleetTable) -> Result<FleetSpec, ScenarioError> {
    let text = raw.policy.as_deref().ok_or_else(|| {
        check.fail(
            "fleet.policy",
            format!("missing: name a placement policy ({})", Policy::names()),
        )
    })?;
    let policy: Policy = check.parsed("fleet.policy", text)?;
    fleet_with_policy(check, raw, policy)
}

/// Checks `[fleet]` but its policy, which is `policy`.
pub(super) fn fleet_with_policy(
    check: &Checker,
    raw: &FleetTable,
    policy: Policy,
) -> Result<FleetSpec, ScenarioError> {
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
        node: node(check, raw.node.as_ref())?,
        elastic,
        policy,
    })
}

/// Checks `[fleet.node]`; a key left out keeps the reference node's value
/// ([`NodeShape::REFERENCE`]).
pub(super) fn node(check: &Checker, raw: Option<&NodeTable>) -> Result<NodeShape, ScenarioError> {
    let reference = NodeShape::REFERENCE;
    let Some(raw) = raw else {
        return Ok(reference);
    };
    let gpus = raw.gpus.unwrap_or(reference.gpus);
    if gpus == 0 || gpus > NodeShape::MAX_GPUS {
        return Err(check.fail(
            "fleet.node.gpus",
            format!("must be between 1 and {}, got {gpus}", NodeShape::MAX_GPUS),
        ));
    }
    let cpu_milli = match raw.cpu_cores {
        Some(cores) => (check.within("fleet.node.cpu_cores", cores, 0.001, MAX_NODE_CORES)?
            * 1000.0)
            .round() as u64,
        None => reference.cpu_milli,
    };
    let memory = match raw.memory_gb {
        Some(gb) => {
            let gb = check.within("fleet.node.memory_gb", gb, 1.0, MAX_NODE_MEMORY_GB)?;
            Mib::from_gib_ceil(gb).expect("bounded above")
        }
        None => reference.memory,
    };
    Ok(NodeShape {
        gpus,
        cpu_milli,
        memory,
    })
}
