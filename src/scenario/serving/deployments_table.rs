//! `[[deployments]]` of a serving scenario: the models and replicas to
//! place, each replica's memory setting and, where pinned, its partitions.

use crate::profile::physical::TP_DEGREES;
use crate::profile::Precision;
use crate::schedule::PartitionRef;
use crate::serve::deploy::MAX_REPLICAS;
use crate::serve::{DeploymentSpec, EngineConfig, EngineKnobs, ReplicaMemory};
use crate::sim::FleetSpec;

use super::super::check::Checker;
use super::super::ScenarioError;
use super::schema::{MemoryValue, ServeFile};
use super::MAX_DEPLOYMENTS;

/// Most tokens per iteration a deployment may set (as `[engine]`).
const MAX_BATCHED_TOKENS: u32 = 1 << 20;

/// Checks `[[deployments]]`; `engine` is the scenario's, which a
/// deployment's own engine settings override for its replicas.
pub(super) fn deployments(
    check: &Checker,
    raw: &ServeFile,
    engine: &EngineConfig,
) -> Result<Vec<DeploymentSpec>, ScenarioError> {
    if raw.deployments.is_empty() || raw.deployments.len() > MAX_DEPLOYMENTS {
        return Err(check.fail(
            "deployments",
            format!("give 1 to {MAX_DEPLOYMENTS} [[deployments]] entries (a scenario with a [plan] may give none: `aimsim plan` chooses them)"),
        ));
    }
    let mut total = 0u64;
    let mut out = Vec::new();
    for (i, d) in raw.deployments.iter().enumerate() {
        let key = |field: &str| format!("deployments[{i}].{field}");
        let precision: Precision = check.parsed(&key("precision"), &d.precision)?;
        if d.replicas == 0 || d.replicas > MAX_REPLICAS {
            return Err(check.fail(
                &key("replicas"),
                format!("must be between 1 and {MAX_REPLICAS}, got {}", d.replicas),
            ));
        }
        total += u64::from(d.replicas);
        let model = crate::profile::aliases::canonical(&d.model);
        if out
            .iter()
            .any(|o: &DeploymentSpec| o.model == model && o.precision == precision)
        {
            return Err(check.fail(
                &key("model"),
                format!(
                    "{model}:{precision} is deployed twice; give one entry with the total replicas"
                ),
            ));
        }
        let memory = d
            .memory
            .as_ref()
            .map(|m| memory(check, &key("memory"), m))
            .transpose()?;
        let pinned = match &d.placement {
            None => Vec::new(),
            Some(list) => {
                if list.len() != d.replicas as usize {
                    return Err(check.fail(
                        &key("placement"),
                        format!(
                            "pins {} replica(s); give one location per replica ({})",
                            list.len(),
                            d.replicas
                        ),
                    ));
                }
                list.iter()
                    .enumerate()
                    .map(|(r, text)| {
                        pinned_location(text)
                            .map_err(|e| check.fail(&format!("deployments[{i}].placement[{r}]"), e))
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        let tp = match d.tp {
            None => None,
            Some(tp) if TP_DEGREES.contains(&tp) => Some(tp),
            Some(tp) => {
                return Err(check.fail(
                    &key("tp"),
                    format!("must be one of {TP_DEGREES:?} (whole GPUs of one node), got {tp}"),
                ))
            }
        };
        let knobs = EngineKnobs {
            max_seqs: d.max_seqs,
            max_batched_tokens: d.max_batched_tokens,
        };
        if let Some(tokens) = d.max_batched_tokens {
            if !(1..=MAX_BATCHED_TOKENS).contains(&tokens) {
                return Err(check.fail(
                    &key("max_batched_tokens"),
                    format!("must be between 1 and {MAX_BATCHED_TOKENS}, got {tokens}"),
                ));
            }
        }
        let own = EngineConfig {
            limits: knobs.apply(engine.limits),
            ..*engine
        };
        if let Err(e) = own.check() {
            return Err(check.fail(&key(e.key), e.message));
        }
        out.push(DeploymentSpec {
            model: model.to_string(),
            precision,
            replicas: d.replicas,
            memory,
            pinned,
            tp,
            knobs,
        });
    }
    if total > u64::from(MAX_REPLICAS) {
        return Err(check.fail(
            "deployments",
            format!("{total} replicas in all; a scenario deploys at most {MAX_REPLICAS}"),
        ));
    }
    Ok(out)
}

/// A memory setting: `"partition"`, `"profile"`, a size as text, or a
/// number of GiB.
pub(super) fn memory(
    check: &Checker,
    key: &str,
    value: &MemoryValue,
) -> Result<ReplicaMemory, ScenarioError> {
    match value {
        MemoryValue::Text(text) => check.parsed(key, text),
        MemoryValue::Gib(gib) => check.parsed(key, &format!("{gib} GiB")),
    }
}

/// Most characters of one pinned location (`7.3+6.3+5.3+4.3`...).
const MAX_LOCATION_LEN: usize = 128;

/// A pinned location: `GPU.PARTITION`, joined by `+` for a replica over
/// several GPUs (`0.0+1.0`).
fn pinned_location(text: &str) -> Result<Vec<PartitionRef>, String> {
    let expected = || {
        let shown: String = text.chars().take(MAX_LOCATION_LEN).collect();
        format!("expected GPU.PARTITION, joined by + for a replica over several GPUs (\"0.0+1.0\"), got {shown:?}")
    };
    if text.len() > MAX_LOCATION_LEN {
        return Err(expected());
    }
    text.split('+')
        .map(|part| {
            let (gpu, partition) = part.trim().split_once('.').ok_or_else(expected)?;
            Ok(PartitionRef {
                gpu: gpu.parse().map_err(|_| expected())?,
                partition: partition.parse().map_err(|_| expected())?,
            })
        })
        .collect()
}

/// Every pinned location names a partition the fleet has (whether the
/// replica fits there is the scheduler's answer when it is placed).
pub(super) fn check_pins(
    check: &Checker,
    deployments: &[DeploymentSpec],
    fleet: &FleetSpec,
) -> Result<(), ScenarioError> {
    // Partitions of each group's GPUs, and the group's first GPU.
    let mut groups = Vec::new();
    let mut first = 0u64;
    for group in &fleet.groups {
        let partitions = group
            .layout
            .build(group.kind)
            .map_or(0, |l| l.partitions().len() as u32);
        groups.push((first, u64::from(group.count), partitions));
        first += u64::from(group.count);
    }
    for (i, d) in deployments.iter().enumerate() {
        for (r, at) in d.pinned.iter().enumerate() {
            for shard in at {
                let gpu = u64::from(shard.gpu);
                let fail = |message: String| {
                    check.fail(&format!("deployments[{i}].placement[{r}]"), message)
                };
                let Some(&(_, _, partitions)) = groups
                    .iter()
                    .find(|&&(start, count, _)| gpu >= start && gpu < start + count)
                else {
                    return Err(fail(format!(
                        "names gpu {gpu}, but the fleet has {first} GPUs"
                    )));
                };
                if shard.partition >= partitions {
                    return Err(fail(format!(
                        "names partition {} of gpu {gpu}, which has {partitions} partitions (0 to {})",
                        shard.partition,
                        partitions.saturating_sub(1)
                    )));
                }
                if at.iter().filter(|s| s.gpu == shard.gpu).count() > 1 {
                    return Err(fail(format!(
                        "names gpu {gpu} twice; a replica over several GPUs takes one partition of each"
                    )));
                }
            }
        }
    }
    Ok(())
}
