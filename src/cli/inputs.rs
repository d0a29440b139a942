//! Reading what a command is given: scenarios, their folder, their
//! traffic, and the warnings a run's inputs deserve.

use std::collections::BTreeMap;
use std::path::Path;

use aimsim::profile::validate::profile_outgrown;
use aimsim::profile::{Catalog, Precision};
use aimsim::scenario::{Scenario, ServeScenario, TrafficSpec, MISSING_TRACE};
use aimsim::serve::traffic::Traffic;

use super::{read_input, CliError};

/// Reads and checks a scenario file, applying `--set` overrides, and the
/// models it names against `catalog`.
pub(super) fn load_scenario(
    path: &Path,
    overrides: &[String],
    catalog: &Catalog,
) -> Result<Scenario, CliError> {
    let text = read_input(path, "scenario")?;
    let file = path.display().to_string();
    let scenario = Scenario::parse(&text, &file, overrides)?;
    scenario.check_models(catalog, &file)?;
    Ok(scenario)
}

/// The folder relative paths in a scenario file are resolved against.
pub(super) fn scenario_dir(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

/// Says on stderr, in one line, which profiles a run used cannot hold
/// their model's weights (`profiles validate` warns of the same): the
/// figures when there is one, the models and precisions when there are
/// several. The run charges the profiles' sizes as given, since the real
/// profiles are the contract.
pub(super) fn warn_outgrown_profiles<'a>(
    catalog: &Catalog,
    used: impl IntoIterator<Item = (&'a str, Precision)>,
) {
    let mut outgrown: Vec<(&str, Precision, String)> = Vec::new();
    for (model, precision) in used {
        let Ok(id) = catalog.find(model, precision) else {
            continue;
        };
        if let Some(why) = profile_outgrown(&catalog.variant(id).profile) {
            outgrown.push((model, precision, why));
        }
    }
    let tail = "the run charges the profiles' sizes as given (workload.sizes = \"physical\" charges real sizes)";
    match outgrown.as_slice() {
        [] => {}
        [(model, precision, why)] => {
            eprintln!("warning: {model} at {precision}: {why}; {tail}")
        }
        several => {
            let mut by_model: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for (model, precision, _) in several {
                by_model
                    .entry(model)
                    .or_default()
                    .push(precision.to_string());
            }
            let list: Vec<String> = by_model
                .iter()
                .map(|(model, precisions)| format!("{model} ({})", precisions.join(", ")))
                .collect();
            eprintln!(
                "warning: {} profiles this run used cannot hold their model's weights: {}; `aimsim profiles validate` gives the figures; {tail}",
                several.len(),
                list.join(", ")
            );
        }
    }
}

/// Opens `traffic` of `scenario`: a missing trace is a usage error (the
/// command line lacks `--trace`), a bad one (or a bad length file) a
/// traffic error naming the file.
pub(super) fn open_traffic(
    traffic: &TrafficSpec,
    trace: Option<&Path>,
    dir: &Path,
    scenario: &ServeScenario,
) -> Result<Box<dyn Traffic>, CliError> {
    traffic
        .open(trace, dir, scenario.seed, scenario.horizon)
        .map_err(|e| {
            if e.source_name == MISSING_TRACE {
                CliError::Usage(e.message)
            } else {
                CliError::Traffic(e)
            }
        })
}

/// `--set` overrides with the command's own flags after them as overrides
/// of the keys they stand for (`--seed 7` is `run.seed=7`): a flag is
/// checked as that key is, and wins over a `--set` of it. `flags` pairs a
/// key with the flag's value as TOML, `None` when the flag is absent.
pub(super) fn with_flags(
    overrides: &[String],
    flags: &[(&str, Option<toml::Value>)],
) -> Vec<String> {
    let mut all = overrides.to_vec();
    all.extend(
        flags
            .iter()
            .filter_map(|(key, value)| value.as_ref().map(|v| format!("{key}={v}"))),
    );
    all
}

/// `--seed` as a TOML integer; a seed above TOML's largest integer
/// (2^63 - 1) is refused, as it would be in a scenario.
pub(super) fn seed_value(seed: u64) -> Result<toml::Value, CliError> {
    i64::try_from(seed).map(toml::Value::Integer).map_err(|_| {
        CliError::Usage(format!(
            "--seed {seed} is above {}, the largest seed a scenario holds",
            i64::MAX
        ))
    })
}
