//! Checks `[traffic]`: which keys each source takes, its streams or
//! model assignment, their rates and lengths.

use crate::profile::Precision;
use crate::serve::traffic::synthetic::MAX_RATE;
use crate::serve::traffic::{check_rate_scale, ArrivalPattern, LengthDistribution, Stream, Target};

use super::super::check::Checker;
use super::super::ScenarioError;
use super::schema::{LengthTable, StreamTable, TrafficTable, WeightTable};
use super::traffic_table::{
    LengthSpec, Pace, StreamSpec, TrafficSpec, MAX_STREAMS, MAX_SYNTHETIC_REQUESTS,
};

/// Checks `[traffic]`.
pub(super) fn traffic(check: &Checker, raw: &TrafficTable) -> Result<TrafficSpec, ScenarioError> {
    let scale = |scale: Option<f64>| {
        check_rate_scale(scale.unwrap_or(1.0)).map_err(|e| check.fail("traffic.rate_scale", e))
    };
    let pace = |given: Option<f64>, rate: Option<f64>| {
        match (given, rate) {
        (Some(_), Some(_)) => Err(check.fail(
            "traffic.rate",
            "give traffic.rate (requests/s) or traffic.rate_scale (a multiple of the trace's rate), not both",
        )),
        (None, Some(rate)) => Pace::Rate(rate)
            .check()
            .map_err(|e| check.fail("traffic.rate", e)),
        (given, None) => scale(given).map(Pace::Scale),
    }
    };
    let only = |source: &str, keys: &[(&str, bool)]| match keys.iter().find(|(_, given)| *given) {
        Some((key, _)) => Err(check.fail(
            &format!("traffic.{key}"),
            format!("does not apply to source = \"{source}\""),
        )),
        None => Ok(()),
    };
    Ok(match raw.source.as_str() {
        "synthetic" => {
            only(
                "synthetic",
                &[
                    ("path", raw.path.is_some()),
                    ("rate", raw.rate.is_some()),
                    ("models", raw.models.is_some()),
                ],
            )?;
            if raw
                .requests
                .is_some_and(|n| n == 0 || n > MAX_SYNTHETIC_REQUESTS)
            {
                return Err(check.fail(
                    "traffic.requests",
                    format!("must be between 1 and {MAX_SYNTHETIC_REQUESTS}"),
                ));
            }
            let streams = raw.streams.as_deref().unwrap_or_default();
            if streams.is_empty() || streams.len() > MAX_STREAMS {
                return Err(check.fail(
                    "traffic.streams",
                    format!("give 1 to {MAX_STREAMS} [[traffic.streams]] entries"),
                ));
            }
            let streams = streams
                .iter()
                .enumerate()
                .map(|(i, s)| stream(check, i, s))
                .collect::<Result<_, _>>()?;
            TrafficSpec::Synthetic {
                streams,
                requests: raw.requests,
                rate_scale: scale(raw.rate_scale)?,
            }
        }
        "azure" => {
            only(
                "azure",
                &[
                    ("requests", raw.requests.is_some()),
                    ("streams", raw.streams.is_some()),
                ],
            )?;
            let models = raw.models.as_deref().unwrap_or_default();
            if models.is_empty() || models.len() > MAX_STREAMS {
                return Err(check.fail(
                    "traffic.models",
                    format!("give 1 to {MAX_STREAMS} [[traffic.models]] entries: the Azure trace names no model"),
                ));
            }
            let models = models
                .iter()
                .enumerate()
                .map(|(i, m)| weighted(check, i, m))
                .collect::<Result<_, _>>()?;
            TrafficSpec::Azure {
                path: raw.path.clone(),
                models,
                pace: pace(raw.rate_scale, raw.rate)?,
            }
        }
        "trace" => {
            only(
                "trace",
                &[
                    ("requests", raw.requests.is_some()),
                    ("streams", raw.streams.is_some()),
                    ("models", raw.models.is_some()),
                ],
            )?;
            TrafficSpec::Trace {
                path: raw.path.clone(),
                pace: pace(raw.rate_scale, raw.rate)?,
            }
        }
        other => {
            return Err(check.fail(
                "traffic.source",
                format!(
                    "unknown source `{}`; expected \"synthetic\", \"azure\" or \"trace\"",
                    crate::input::shown(other)
                ),
            ))
        }
    })
}

fn target(
    check: &Checker,
    key: &str,
    model: &str,
    precision: Option<&str>,
) -> Result<Target, ScenarioError> {
    if model.is_empty() || model.len() > 256 {
        return Err(check.fail(
            &format!("{key}.model"),
            "expected a model id of 1 to 256 characters",
        ));
    }
    let precision = precision
        .map(|p| check.parsed::<Precision>(&format!("{key}.precision"), p))
        .transpose()?;
    Ok(Target {
        model: crate::profile::aliases::canonical(model).to_string(),
        precision,
    })
}

fn stream(check: &Checker, i: usize, raw: &StreamTable) -> Result<StreamSpec, ScenarioError> {
    let key = format!("traffic.streams[{i}]");
    let arrivals = match (raw.arrivals.as_deref().unwrap_or("poisson"), raw.cv) {
        ("poisson", None) => ArrivalPattern::Poisson,
        ("uniform", None) => ArrivalPattern::Uniform,
        ("gamma", Some(cv)) => ArrivalPattern::Gamma { cv },
        ("gamma", None) => {
            return Err(check.fail(
                &format!("{key}.cv"),
                "gamma arrivals need cv (the coefficient of variation of the gaps)",
            ))
        }
        ("poisson" | "uniform", Some(_)) => {
            return Err(check.fail(
                &format!("{key}.cv"),
                "applies only with arrivals = \"gamma\"",
            ))
        }
        (other, _) => {
            return Err(check.fail(
                &format!("{key}.arrivals"),
                format!("`{other}`; expected \"poisson\", \"gamma\" or \"uniform\""),
            ))
        }
    };
    let prompt = length(&raw.prompt);
    let output = length(&raw.output);
    let spec = StreamSpec {
        target: target(check, &key, &raw.model, raw.precision.as_deref())?,
        rate: raw.rate,
        arrivals,
        prompt,
        output,
        priority: raw.priority.unwrap_or(0),
    };
    // Check the parametric parts as the generator will.
    let probe = Stream {
        target: spec.target.clone(),
        rate: spec.rate,
        arrivals,
        prompt: given_or_fixed(&spec.prompt),
        output: given_or_fixed(&spec.output),
        priority: spec.priority,
    };
    probe.check().map_err(|(field, message)| {
        let message = if field == "rate" {
            format!("{message} (at most {MAX_RATE})")
        } else {
            message
        };
        check.fail(&format!("{key}.{field}"), message)
    })?;
    Ok(spec)
}

/// A parametric length as is; a file's column stands in as a fixed length
/// for checking (its values are checked as they are read).
fn given_or_fixed(spec: &LengthSpec) -> LengthDistribution {
    match spec {
        LengthSpec::Given(d) => d.clone(),
        LengthSpec::Column { .. } => LengthDistribution::Fixed(1),
    }
}

fn length(raw: &LengthTable) -> LengthSpec {
    let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    match raw {
        LengthTable::Fixed { tokens } => {
            LengthSpec::Given(LengthDistribution::Fixed(clamp(*tokens)))
        }
        LengthTable::Lognormal { median, sigma, max } => {
            LengthSpec::Given(LengthDistribution::LogNormal {
                median: *median,
                sigma: *sigma,
                max: clamp(*max),
            })
        }
        LengthTable::Geometric { mean, max } => LengthSpec::Given(LengthDistribution::Geometric {
            mean: *mean,
            max: clamp(*max),
        }),
        LengthTable::Empirical { path, column } => LengthSpec::Column {
            path: path.clone(),
            column: column.clone(),
        },
        LengthTable::Quantiles { points } => {
            LengthSpec::Given(LengthDistribution::Quantiles(points.as_slice().into()))
        }
    }
}

fn weighted(check: &Checker, i: usize, raw: &WeightTable) -> Result<(Target, f64), ScenarioError> {
    let key = format!("traffic.models[{i}]");
    let weight = raw.weight.unwrap_or(1.0);
    if !(weight.is_finite() && weight > 0.0 && weight <= 1e9) {
        return Err(check.fail(
            &format!("{key}.weight"),
            format!("must be a positive number, got {weight:?}"),
        ));
    }
    Ok((
        target(check, &key, &raw.model, raw.precision.as_deref())?,
        weight,
    ))
}
