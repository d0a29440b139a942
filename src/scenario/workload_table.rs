//! `[workload]`: a synthetic generator, an aimsim trace or the Alibaba pod
//! trace, checked.

use crate::profile::{Precision, MAX_MODEL_ID_BYTES};
use crate::workload::static_set::StaticDeployment;
use crate::workload::synthetic::{
    ArrivalProcess, LifetimeDistribution, Popularity, SyntheticSpec, MAX_REQUESTS, MAX_SIGMA,
};

use super::check::{Checker, ScenarioError};
use super::schema::{
    AlibabaTable, ArrivalsTable, LifetimeTable, PopularityTable, StaticTable, SyntheticTable,
    TraceTable, WorkloadTable,
};
use super::WorkloadSpec;

/// Slowest and fastest Poisson arrival rates (per hour): beyond them a run
/// would never see an arrival, or never get past its first instant.
const MIN_RATE: f64 = 1e-6;
const MAX_RATE: f64 = 1e6;

/// Most entries in `workload.deployments`.
const MAX_STATIC_ENTRIES: usize = 10_000;

/// Checks the table of the workload's source.
pub(super) fn workload(
    check: &Checker,
    raw: &WorkloadTable,
) -> Result<WorkloadSpec, ScenarioError> {
    Ok(match raw {
        WorkloadTable::Synthetic(SyntheticTable {
            requests,
            arrivals,
            lifetime,
            models,
            popularity,
            precision_mix,
            priorities,
        }) => {
            if requests.is_some_and(|n| n == 0 || n > MAX_REQUESTS) {
                return Err(check.fail(
                    "workload.requests",
                    format!("must be between 1 and {MAX_REQUESTS}"),
                ));
            }
            let arrivals = match arrivals {
                ArrivalsTable::Poisson { rate_per_hour } => ArrivalProcess::Poisson {
                    rate_per_hour: check.within(
                        "workload.arrivals.rate_per_hour",
                        *rate_per_hour,
                        MIN_RATE,
                        MAX_RATE,
                    )?,
                },
                ArrivalsTable::Deterministic { interval } => ArrivalProcess::Deterministic {
                    interval: check.positive_duration("workload.arrivals.interval", interval)?,
                },
                ArrivalsTable::AllAtOnce {} => {
                    if requests.is_none() {
                        return Err(check.fail(
                            "workload.requests",
                            "all-at-once arrivals need a request count",
                        ));
                    }
                    ArrivalProcess::AllAtOnce
                }
            };
            let lifetime = match lifetime {
                LifetimeTable::Exponential { mean } => LifetimeDistribution::Exponential {
                    mean: check.positive_duration("workload.lifetime.mean", mean)?,
                },
                LifetimeTable::Lognormal { median, sigma } => {
                    if !(sigma.is_finite() && (0.0..=MAX_SIGMA).contains(sigma)) {
                        return Err(check.fail(
                            "workload.lifetime.sigma",
                            format!("must be between 0 and {MAX_SIGMA}, got {sigma:?}"),
                        ));
                    }
                    LifetimeDistribution::LogNormal {
                        median: check.positive_duration("workload.lifetime.median", median)?,
                        sigma: *sigma,
                    }
                }
                LifetimeTable::Fixed { duration } => LifetimeDistribution::Fixed(
                    check.duration("workload.lifetime.duration", duration)?,
                ),
                LifetimeTable::Infinite {} => LifetimeDistribution::Infinite,
            };
            if models.as_ref().is_some_and(Vec::is_empty) {
                return Err(check.fail(
                    "workload.models",
                    "the list is empty; leave the key out to use the whole catalog",
                ));
            }
            let models = models.clone().unwrap_or_default();
            let popularity = match popularity {
                None | Some(PopularityTable::Uniform {}) => Popularity::Uniform,
                Some(PopularityTable::Zipf { exponent }) => Popularity::Zipf {
                    exponent: check.positive("workload.popularity.exponent", *exponent)?,
                },
                Some(PopularityTable::Weights { weights }) => {
                    if weights.len() != models.len() {
                        return Err(check.fail(
                            "workload.popularity.weights",
                            format!(
                                "{} weights for the {} entries of workload.models",
                                weights.len(),
                                models.len()
                            ),
                        ));
                    }
                    if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0))
                        || weights.iter().sum::<f64>() <= 0.0
                    {
                        return Err(check.fail(
                            "workload.popularity.weights",
                            "weights must be non-negative with a positive sum",
                        ));
                    }
                    Popularity::Weights(weights.clone())
                }
            };
            let mix = check.mix("workload.precision_mix", precision_mix)?;
            let shares: Vec<f64> = priorities.iter().map(|p| p.share).collect();
            if !priorities.is_empty() {
                check.shares("workload.priorities", &shares)?;
            }
            WorkloadSpec::Synthetic(SyntheticSpec {
                arrivals,
                count: *requests,
                lifetime,
                models,
                popularity,
                precision_mix: mix,
                priorities: priorities.iter().map(|p| (p.priority, p.share)).collect(),
            })
        }
        WorkloadTable::Trace(TraceTable {
            path,
            skip_unknown_models,
            precision,
        }) => WorkloadSpec::Trace {
            path: path.clone(),
            skip_unknown_models: *skip_unknown_models,
            precision: precision
                .as_deref()
                .map(|p| check.parsed("workload.precision", p))
                .transpose()?,
        },
        WorkloadTable::Static(StaticTable {
            deployments,
            precision,
        }) => {
            if deployments.is_empty() || deployments.len() > MAX_STATIC_ENTRIES {
                return Err(check.fail(
                    "workload.deployments",
                    format!("must list 1 to {MAX_STATIC_ENTRIES} entries"),
                ));
            }
            let mut total = 0u64;
            let deployments = deployments
                .iter()
                .enumerate()
                .map(|(i, entry)| {
                    let key = format!("workload.deployments[{i}]");
                    if entry.model.is_empty() || entry.model.len() > MAX_MODEL_ID_BYTES {
                        return Err(check.fail(
                            &format!("{key}.model"),
                            format!("expected a model id of 1 to {MAX_MODEL_ID_BYTES} bytes"),
                        ));
                    }
                    total = total.saturating_add(entry.count);
                    if entry.count == 0 || total > MAX_REQUESTS {
                        return Err(check.fail(
                            &format!("{key}.count"),
                            format!("must be at least 1, with at most {MAX_REQUESTS} in all"),
                        ));
                    }
                    Ok(StaticDeployment {
                        model: entry.model.clone(),
                        precision: match &entry.precision {
                            Some(p) => check.parsed(&format!("{key}.precision"), p)?,
                            None => Precision::Fp16,
                        },
                        count: entry.count,
                    })
                })
                .collect::<Result<Vec<_>, ScenarioError>>()?;
            WorkloadSpec::Static {
                deployments,
                precision: precision
                    .as_deref()
                    .map(|p| check.parsed("workload.precision", p))
                    .transpose()?,
            }
        }
        WorkloadTable::Alibaba(AlibabaTable {
            path,
            map_to_profiles,
            gpu,
            unit,
        }) => WorkloadSpec::Alibaba {
            path: path.clone(),
            map_to_profiles: *map_to_profiles,
            gpu: gpu
                .as_deref()
                .map(|g| check.parsed("workload.gpu", g))
                .transpose()?,
            per_partition: match unit.as_deref().unwrap_or("gpu") {
                "gpu" => false,
                "partition" => true,
                other => {
                    return Err(check.fail(
                        "workload.unit",
                        format!("`{other}`; expected \"gpu\" or \"partition\""),
                    ))
                }
            },
        },
    })
}

/// Reads `[workload]`: its `source` first, then the table of that source,
/// so an error names its key (`workload.requests`).
pub(super) fn workload_table(
    check: &Checker,
    table: &toml::Table,
) -> Result<WorkloadTable, ScenarioError> {
    let source = match table.get("source") {
        Some(toml::Value::String(source)) => source.clone(),
        Some(other) => {
            return Err(check.fail("workload.source", format!("must be a string, got {other}")))
        }
        None => {
            return Err(check.fail(
                "workload.source",
                "missing; expected \"synthetic\", \"trace\", \"alibaba\" or \"static\"",
            ))
        }
    };
    let mut rest = table.clone();
    rest.remove("source");
    rest.remove("sizes");
    let value = toml::Value::Table(rest);
    fn read<T: serde::de::DeserializeOwned>(
        check: &Checker,
        value: toml::Value,
    ) -> Result<T, ScenarioError> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let key = if path == "." {
                "workload".to_string()
            } else {
                format!("workload.{path}")
            };
            check.fail(&key, e.into_inner().message().to_string())
        })
    }
    Ok(match source.as_str() {
        "synthetic" => WorkloadTable::Synthetic(read(check, value)?),
        "trace" => WorkloadTable::Trace(read(check, value)?),
        "alibaba" => WorkloadTable::Alibaba(read(check, value)?),
        "static" => WorkloadTable::Static(read(check, value)?),
        other => {
            return Err(check.fail(
                "workload.source",
                format!("`{other}`; expected \"synthetic\", \"trace\", \"alibaba\" or \"static\""),
            ))
        }
    })
}
