//! `aimsim serve`: place a serving scenario's replicas on its fleet, replay
//! inference traffic against them and report latencies, throughput and
//! service-level attainment.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use aimsim::perf::{MeasuredSet, FITTED};
use aimsim::profile::{ArchitectureTable, Catalog};
use aimsim::report::serving::{
    deployments_csv, gpus_csv, latency_cdf_csv, latency_chart, over_time_chart, replicas_csv,
    serving_json, serving_markdown, serving_summary_rows, serving_timeseries_csv, ServeRun,
};
use aimsim::scenario::ServeScenario;
use aimsim::serve::traffic::TrafficShape;
use aimsim::serve::{deploy, serve, DeployInputs, Deployed, Routing, ServingPolicy};
use aimsim::time::SimTime;

use super::inputs::{open_traffic, scenario_dir, seed_value, with_flags};
use super::output::{check_out, write_report};
use super::progress::ProgressReporter;
use super::{read_input, CliError, Format};
use aimsim::report::metric_table;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aimsim serve scenarios/serving-quickstart.toml
  aimsim serve scenarios/serving-azure-conv.toml --trace AzureLLMInferenceTrace_conv.csv --rate-scale 2
  aimsim serve scenarios/serving-quickstart.toml --set 'deployments.0.precision=\"int4\"' --format json")]
pub struct ServeArgs {
    /// Serving scenario file (TOML); see scenarios/README.md.
    scenario: PathBuf,
    /// Trace to replay (for traffic.source = "azure" or "trace").
    #[arg(long, value_name = "PATH")]
    trace: Option<PathBuf>,
    /// Replay the traffic this many times as fast (2 doubles the rate).
    #[arg(long, value_name = "X")]
    rate_scale: Option<f64>,
    /// Seed of every random draw (default: the scenario's run.seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Report folder (default: reports/<scenario name>/serving).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Placement policy, overriding fleet.policy.
    #[arg(long, ignore_case = true, value_parser = super::serving_policy_parser())]
    policy: Option<ServingPolicy>,
    /// Routing rule, overriding routing.policy (round-robin,
    /// least-outstanding, power-of-two).
    #[arg(long)]
    routing: Option<Routing>,
    /// Architecture CSV (format of aim_profiles/architectures.csv) for
    /// models the built-in table lacks.
    #[arg(long, value_name = "FILE")]
    arch: Option<PathBuf>,
    /// Measured table (CSV, see PERFORMANCE_MODEL.md) used instead of the
    /// model for the replicas whose setup it measures.
    #[arg(long, value_name = "FILE")]
    measured: Option<PathBuf>,
    /// Override a scenario key before it is checked, e.g.
    /// --set deployments.0.replicas=4 --set traffic.streams.0.rate=20.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Format of the summary on stdout.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

pub fn run(args: ServeArgs, catalog: &Catalog) -> Result<(), CliError> {
    let text = read_input(&args.scenario, "scenario")?;
    let file = args.scenario.display().to_string();
    let overrides = with_flags(
        &args.overrides,
        &[
            ("run.seed", args.seed.map(seed_value).transpose()?),
            ("fleet.policy", args.policy.map(|p| p.to_string().into())),
            ("routing.policy", args.routing.map(|r| r.name().into())),
        ],
    );
    let mut scenario = ServeScenario::parse(&text, &file, &overrides)?;
    scenario.check_models(catalog, &file)?;
    if scenario.deployments.is_empty() {
        return Err(CliError::Usage(format!(
            "{}: no [[deployments]] to serve; this scenario is for `aimsim plan`, which chooses them",
            args.scenario.display()
        )));
    }
    if let Some(factor) = args.rate_scale {
        scenario
            .traffic
            .scale_rate(factor)
            .map_err(|e| CliError::Usage(format!("--rate-scale: {e}")))?;
    }
    let mut architectures = ArchitectureTable::builtin();
    if let Some(path) = &args.arch {
        let text = read_input(path, "architecture file")?;
        architectures.extend(ArchitectureTable::parse(
            &text,
            &path.display().to_string(),
        )?);
    }
    let measured = match &args.measured {
        Some(path) => Some(MeasuredSet::parse(
            &read_input(path, "measured table")?,
            &path.display().to_string(),
        )?),
        None => None,
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(&scenario.name).join("serving"));
    check_out(&out)?;
    let dir = scenario_dir(&args.scenario);
    let trace = scenario.trace_path(dir, args.trace.as_deref());
    // One pass over the traffic for each replica's expected load, then the
    // run reads it again from the start.
    let shape = TrafficShape::measure(
        &mut open_traffic(&scenario.traffic, trace.as_deref(), dir, &scenario)?,
        scenario.horizon,
    )?;
    let deployed = deploy(
        &scenario.fleet,
        scenario.policy,
        &scenario.deployments,
        &shape,
        &DeployInputs {
            catalog,
            architectures: &architectures,
            measured: measured.as_ref(),
            engine: &scenario.engine,
            efficiency: FITTED,
        },
    )
    .map_err(|e| CliError::Found(format!("{}: {e}", args.scenario.display())))?;
    warn_placement(&scenario, &deployed);
    let mut traffic = open_traffic(&scenario.traffic, trace.as_deref(), dir, &scenario)?;
    let config = scenario.serve_config();
    let started = Instant::now();
    let mut reporter = ProgressReporter::new(scenario.run_end().map(|h| SimTime(h.0 / 1_000_000)));
    let outcome = serve(
        &deployed.replicas,
        &scenario.deployment_keys(),
        deployed.gpus,
        deployed.devices,
        &mut traffic,
        &config,
        |p| reporter.report(p),
    )?;
    reporter.finish();
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "simulated {} requests and {} iterations in {elapsed:.2} s ({:.0} requests/s)",
        outcome.arrived,
        outcome.iterations,
        outcome.arrived as f64 / elapsed
    );
    let measured: u64 = outcome.deployments.iter().map(|t| t.arrived).sum::<u64>()
        + outcome.unserved.iter().map(|u| u.requests).sum::<u64>();
    if measured == 0 {
        // An SLO over no request would read "met": refuse to judge it.
        return Err(CliError::Traffic(aimsim::workload::WorkloadError {
            source_name: trace.as_ref().map_or("traffic".to_string(), |t| t.display().to_string()),
            line: None,
            message: format!(
                "no request arrived in the measured window ({} request(s) in all, the first {} s not measured): there is nothing to judge the SLO on; check the traffic, run.warmup and run.horizon",
                outcome.arrived,
                scenario.warmup.0 as f64 / 1e9
            ),
        }));
    }
    for u in &outcome.unserved {
        eprintln!(
            "warning: {} request(s) for {} found no replica serving it",
            u.requests, u.target
        );
    }
    let fleet = scenario.fleet.describe();
    let policy = scenario.policy.to_string();
    let routing = scenario.routing.to_string();
    let traffic_text = scenario.traffic.describe(trace.as_deref());
    let report = ServeRun {
        scenario: &scenario.name,
        seed: scenario.seed,
        fleet: &fleet,
        policy: &policy,
        routing: &routing,
        traffic: &traffic_text,
        deployments: &scenario.deployments,
        deployed: &deployed,
        outcome: &outcome,
        slo: &scenario.slo,
        max_in_system: scenario.max_in_system,
    };
    let rows = serving_summary_rows(&report);
    let mut files = vec![
        ("summary.csv".to_string(), aimsim::report::rows_csv(&rows)),
        ("deployments.csv".into(), deployments_csv(&report)),
        ("replicas.csv".into(), replicas_csv(&report)),
        ("gpus.csv".into(), gpus_csv(&report)),
        ("timeseries.csv".into(), serving_timeseries_csv(&report)),
        ("latency_cdf.csv".into(), latency_cdf_csv(&report)),
        ("summary.md".into(), serving_markdown(&report)),
    ];
    files.extend(latency_chart(&report).map(|c| ("latency.svg".into(), c)));
    files.extend(over_time_chart(&report).map(|c| ("over_time.svg".into(), c)));
    write_report(&out, &files)?;
    match args.format {
        Format::Csv => print!("{}", files[1].1),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serving_json(&report)).expect("serialises")
        ),
        Format::Table => print!("{}", metric_table(&rows)),
    }
    Ok(())
}

/// Says on stderr which replicas did not fit, and when the placement left
/// a device predicted over its capacity while another holds no replica.
fn warn_placement(scenario: &ServeScenario, deployed: &Deployed) {
    for u in &deployed.unplaced {
        eprintln!(
            "warning: {} replica(s) of {} did not fit the fleet: {}",
            u.count,
            scenario.deployments[u.deployment as usize].name(),
            u.reason
        );
    }
    let imbalance = deployed.imbalance;
    if imbalance.left_compute_idle() {
        eprintln!(
            "warning: the {} placement leaves {} device(s) predicted over their capacity with several replicas each, while {} device(s) with room for one of them hold none{}",
            scenario.policy,
            imbalance.stacked,
            imbalance.idle,
            if scenario.policy == ServingPolicy::LoadAware {
                ""
            } else {
                "; `--policy load-aware` places replicas by predicted load"
            }
        );
    }
    if imbalance.overloaded > imbalance.stacked {
        eprintln!(
            "warning: {} device(s) predicted over their capacity (up to {:.2}x): their traffic needs more replicas or larger partitions",
            imbalance.overloaded - imbalance.stacked,
            imbalance.peak
        );
    }
}
