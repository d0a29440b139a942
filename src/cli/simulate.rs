//! `aimsim simulate`: replay a scenario's workload on its fleet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use aimsim::profile::Catalog;
use aimsim::report::{self, MetricRows, MetricValue, RunHeader};
use aimsim::scenario::{RunMode, SourceError, WorkloadSource};
use aimsim::schedule::Policy;
use aimsim::sim::fill::run_fill;

use super::inputs::{load_scenario, scenario_dir, seed_value, warn_outgrown_profiles, with_flags};
use super::output::{check_out, write_report};
use super::progress::ProgressReporter;
use super::{CliError, Format};
use aimsim::report::metric_table;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aimsim simulate scenarios/quickstart.toml
  aimsim simulate scenarios/quickstart.toml --policy frag-aware --seed 7 --format json
  aimsim simulate scenarios/openb-replay.toml --trace openb_pod_list_default.csv
  aimsim simulate scenarios/quickstart.toml --set 'run.horizon=\"30d\"' --out reports/month
  aimsim simulate scenarios/fp16-vs-int4.toml --fallback   (FP16 where it fits, INT8 or INT4 when full)")]
pub struct SimulateArgs {
    /// Scenario file (TOML); see scenarios/README.md.
    scenario: PathBuf,
    /// Seed of every random draw (default: the scenario's run.seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Trace file to replay (for workload.source = "trace" or "alibaba").
    #[arg(long, value_name = "PATH")]
    trace: Option<PathBuf>,
    /// Report folder (default: reports/<scenario name>/simulation).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Placement policy, overriding fleet.policy.
    #[arg(long, ignore_case = true, value_parser = super::policy_parser())]
    policy: Option<Policy>,
    /// Place a deployment that fits nowhere at its precision at the next
    /// lower one that fits (FP16 -> INT8 -> INT4), as fleet.precision_fallback.
    #[arg(long)]
    fallback: bool,
    /// Override a scenario key before it is checked, e.g.
    /// --set fleet.gpus.0.count=16 --set 'workload.precision_mix={int4=1.0}'.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Format of the summary on stdout.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

pub fn run(args: SimulateArgs, catalog: &Catalog) -> Result<(), CliError> {
    let overrides = with_flags(
        &args.overrides,
        &[
            ("fleet.policy", args.policy.map(|p| p.name().into())),
            ("run.seed", args.seed.map(seed_value).transpose()?),
            (
                "fleet.precision_fallback",
                args.fallback.then_some(true.into()),
            ),
        ],
    );
    let scenario = load_scenario(&args.scenario, &overrides, catalog)?;
    let seed = scenario.seed;
    let sized = scenario.sized_catalog(catalog);
    let catalog: &Catalog = &sized;
    let source = WorkloadSource::new(
        &scenario,
        catalog,
        scenario_dir(&args.scenario),
        args.trace.as_deref(),
    )?;
    let survey = source.survey(true)?;
    let header = RunHeader {
        scenario: scenario.name.clone(),
        seed,
        policy: scenario.fleet.policy.to_string(),
        fleet: scenario.fleet.describe(),
        workload: source.describe(),
        skipped: survey.skipped.clone(),
        precision_fallback: scenario.precision_fallback,
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(&scenario.name).join("simulation"));
    check_out(&out)?;
    let started = Instant::now();
    let (files, rows, class_table) = match scenario.mode {
        RunMode::Fill(spec) => {
            let fleet = scenario
                .fleet
                .build(&survey.mix)
                .map_err(SourceError::from)?;
            let mut scheduler = fleet.scheduler;
            let points = run_fill(&mut scheduler, &survey.mix, spec, seed);
            let rows = report::fill_summary_rows(&header, &points);
            let mut files = vec![
                ("metrics.csv".to_string(), report::rows_csv(&rows)),
                ("fill.csv".into(), report::fill_csv(&points)),
            ];
            files.extend(report::fill_chart(&header, &points).map(|c| ("fill.svg".into(), c)));
            (files, rows, None)
        }
        RunMode::Replay => {
            let config = scenario.run_config(survey.last_arrival);
            let mut reporter = ProgressReporter::new(scenario.horizon.or(survey.last_arrival));
            let result = source.replay(seed, &survey, config, &mut |p| reporter.report(p))?;
            reporter.finish();
            let mut files = vec![
                (
                    "metrics.csv".to_string(),
                    report::metrics_csv(&header, &result),
                ),
                ("fit_by_class.csv".into(), report::by_class_csv(&result)),
                ("fit_by_model.csv".into(), report::by_model_csv(&result)),
                ("timeseries.csv".into(), report::timeseries_csv(&result)),
            ];
            files.extend(
                report::timeseries_chart(&header, &result).map(|c| ("timeseries.svg".into(), c)),
            );
            warn_outgrown_profiles(
                catalog,
                result
                    .classes
                    .iter()
                    .filter_map(|c| Some((c.name.as_str(), c.precision?))),
            );
            let events = result.summary.events;
            let elapsed = started.elapsed().as_secs_f64();
            eprintln!(
                "simulated {events} events in {elapsed:.2} s ({:.0} events/s)",
                events as f64 / elapsed.max(1e-9)
            );
            (files, report::summary_rows(&header, &result), Some(result))
        }
    };
    write_report(&out, &files)?;
    print_summary(args.format, &rows, class_table.as_ref(), &files);
    Ok(())
}

/// What `simulate --format json` prints: the metrics by name and, for a
/// replay, the fit of every class.
#[derive(Serialize)]
struct SummaryJson<'a> {
    metrics: BTreeMap<&'a str, &'a MetricValue>,
    classes: Vec<ClassJson<'a>>,
}

/// One class (model and precision) in [`SummaryJson`].
#[derive(Serialize)]
struct ClassJson<'a> {
    class: &'a str,
    precision: Option<String>,
    arrived: u64,
    placed: u64,
    placed_by_fallback: u64,
    fit_rate: f64,
}

fn print_summary(
    format: Format,
    rows: &MetricRows,
    result: Option<&aimsim::sim::RunResult>,
    files: &[(String, String)],
) {
    match format {
        Format::Csv => print!("{}", files[0].1),
        Format::Json => {
            let classes = result.map_or(&[][..], |r| &r.classes);
            let doc = SummaryJson {
                metrics: rows.iter().map(|(k, v)| (k.as_str(), v)).collect(),
                classes: classes
                    .iter()
                    .map(|c| ClassJson {
                        class: &c.name,
                        precision: c.precision.map(|p| p.to_string()),
                        arrived: c.counts.arrived,
                        placed: c.counts.placed,
                        placed_by_fallback: c.counts.fallback,
                        fit_rate: c.counts.fit_rate(),
                    })
                    .collect(),
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&doc).expect("serialises")
            );
        }
        Format::Table => print!("{}", metric_table(rows)),
    }
}
