//! What `aimsim sweep` and the deployment `aimsim plan` share: their
//! options and the scenario loaded with its grid.

use std::path::PathBuf;

use clap::Args;

use aimsim::profile::Catalog;
use aimsim::report::study::StudyHeader;
use aimsim::scenario::{Scenario, SweepSpec};

use super::inputs::load_scenario;
use super::output::print_report;
use super::{CliError, Format};

/// Options shared by `sweep` and `plan`.
#[derive(Debug, Args)]
pub struct StudyArgs {
    /// Scenario file (TOML) with a [sweep] table, or for `plan` a serving
    /// scenario with [slo] and [plan] tables; see scenarios/README.md.
    pub(super) scenario: PathBuf,
    /// Seeds per grid point, overriding sweep.seeds.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(super) seeds: Option<u32>,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(super) threads: Option<u32>,
    /// Trace file, for scenarios that replay one.
    #[arg(long, value_name = "PATH")]
    pub(super) trace: Option<PathBuf>,
    /// Report folder (default: reports/<scenario name>/<sweep|plan>).
    #[arg(long, value_name = "DIR")]
    pub(super) out: Option<PathBuf>,
    /// Override a scenario key before it is checked (see `simulate --set`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(super) overrides: Vec<String>,
    /// What to print on stdout: the markdown summary (`table`), the main
    /// CSV (`summary.csv` of a sweep, `plan.csv` of a plan), or the same
    /// rows as JSON records. The report folder is the same whatever this is.
    #[arg(long, value_enum, default_value = "table")]
    pub(super) format: Format,
    /// Print nothing on stdout (the report folder is still written).
    #[arg(long, short)]
    pub(super) quiet: bool,
}

impl StudyArgs {
    /// Prints a study report as these options ask.
    pub(super) fn print_report(&self, files: &[(String, String)], table_file: &str) {
        print_report(self.format, self.quiet, files, table_file);
    }
}

/// A loaded scenario with its grid.
pub(super) struct Study {
    pub scenario: Scenario,
    pub spec: SweepSpec,
    pub header: StudyHeader,
}

/// Loads the scenario of `args` with its grid, `--seeds` and `target_fit`
/// applied, and the header its reports carry (`verb` names the command).
pub(super) fn prepare(
    args: &StudyArgs,
    catalog: &Catalog,
    verb: &str,
    target_fit: Option<f64>,
) -> Result<Study, CliError> {
    let scenario = load_scenario(&args.scenario, &args.overrides, catalog)?;
    let mut spec = scenario
        .sweep_spec()
        .map_err(|error| CliError::NotSweepable {
            path: args.scenario.clone(),
            error,
        })?;
    if let Some(seeds) = args.seeds {
        spec.seeds = seeds;
    }
    if let Some(target) = target_fit {
        if !(target > 0.0 && target <= 1.0) {
            return Err(CliError::Usage(format!(
                "--target-fit {target} must be in (0, 1]"
            )));
        }
        spec.target_fit = target;
    }
    let mut command = format!("aimsim {verb} {}", args.scenario.display());
    for set in &args.overrides {
        command.push_str(&format!(" --set '{set}'"));
    }
    if let Some(seeds) = args.seeds {
        command.push_str(&format!(" --seeds {seeds}"));
    }
    if let Some(trace) = &args.trace {
        command.push_str(&format!(" --trace {}", trace.display()));
    }
    let header = StudyHeader {
        scenario: scenario.name.clone(),
        command,
        version: env!("CARGO_PKG_VERSION").to_string(),
        seeds: spec.seeds,
        target_fit: spec.target_fit,
        prices: scenario.prices.clone(),
    };
    Ok(Study {
        scenario,
        spec,
        header,
    })
}
