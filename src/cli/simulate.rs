//! `aimsim simulate`: replay a scenario's workload on its fleet.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use aimsim::profile::Catalog;
use aimsim::report::{self, RunHeader};
use aimsim::scenario::{RunMode, Scenario, WorkloadSpec};
use aimsim::schedule::Policy;
use aimsim::sim::fill::run_fill;
use aimsim::sim::{simulate, Progress, RunConfig};
use aimsim::time::SimTime;
use aimsim::workload::alibaba::{AlibabaOptions, AlibabaWorkload};
use aimsim::workload::synthetic::SyntheticWorkload;
use aimsim::workload::trace::TraceWorkload;
use aimsim::workload::{scan, DemandMix, Skipped, Workload};

use super::table::Table;
use super::{CliError, Format};

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Scenario file (TOML); see scenarios/README.md.
    scenario: PathBuf,
    /// Seed of every random draw (default: the scenario's run.seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Trace file to replay (for workload.source = "trace" or "alibaba").
    #[arg(long, value_name = "PATH")]
    trace: Option<PathBuf>,
    /// Report folder (default: reports/<scenario name>).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Placement policy, overriding fleet.policy.
    #[arg(long)]
    policy: Option<Policy>,
    /// Override a scenario key before it is checked, e.g.
    /// --set fleet.gpus.0.count=16 --set 'workload.precision_mix={int4=1.0}'.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Format of the summary on stdout.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// Reads and checks a scenario file, applying `--set` overrides.
pub fn load_scenario(path: &Path, overrides: &[String]) -> Result<Scenario, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Failure(format!("cannot read scenario {}: {e}", path.display())))?;
    Scenario::parse(&text, &path.display().to_string(), overrides)
        .map_err(|e| CliError::Failure(e.to_string()))
}

/// A workload source ready to be opened as often as needed (a trace is read
/// twice: once to check it and measure its demand mix, once to replay it).
pub struct WorkloadSource<'a> {
    scenario: &'a Scenario,
    catalog: &'a Catalog,
    trace: Option<PathBuf>,
    seed: u64,
}

impl<'a> WorkloadSource<'a> {
    pub fn new(
        scenario: &'a Scenario,
        scenario_path: &Path,
        catalog: &'a Catalog,
        trace: Option<&Path>,
        seed: u64,
    ) -> Result<Self, CliError> {
        let dir = scenario_path.parent().unwrap_or(Path::new("."));
        let trace = scenario.trace_path(dir, trace);
        if trace.is_none() && !matches!(scenario.workload, WorkloadSpec::Synthetic(_)) {
            return Err(CliError::Usage(format!(
                "scenario `{}` replays a trace: give its path with --trace PATH (or workload.path)",
                scenario.name
            )));
        }
        Ok(WorkloadSource {
            scenario,
            catalog,
            trace,
            seed,
        })
    }

    /// A fresh stream of the workload from its start.
    pub fn open(&self) -> Result<Box<dyn Workload + 'a>, CliError> {
        let fail = |e: aimsim::workload::WorkloadError| CliError::Failure(e.to_string());
        Ok(match &self.scenario.workload {
            WorkloadSpec::Synthetic(spec) => Box::new(self.synthetic(spec)?),
            WorkloadSpec::Trace { .. } => Box::new(
                TraceWorkload::open(self.trace.as_deref().expect("checked"), self.catalog)
                    .map_err(fail)?,
            ),
            WorkloadSpec::Alibaba {
                map_to_profiles, ..
            } => Box::new(
                AlibabaWorkload::open(
                    self.trace.as_deref().expect("checked"),
                    AlibabaOptions {
                        trace_gpu: self.scenario.trace_gpu(),
                        map_to_profiles: map_to_profiles.then_some(self.catalog),
                    },
                )
                .map_err(fail)?,
            ),
        })
    }

    fn synthetic(
        &self,
        spec: &aimsim::workload::synthetic::SyntheticSpec,
    ) -> Result<SyntheticWorkload, CliError> {
        let mut spec = spec.clone();
        if spec.models.is_empty() {
            spec.models = self.catalog.model_ids().map(str::to_string).collect();
        }
        SyntheticWorkload::new(spec, self.catalog, self.seed)
            .map_err(|e| CliError::Failure(format!("{}: workload: {e}", self.scenario.name)))
    }

    /// The demand mix, the records skipped, and (for traces) when the last
    /// replica departs. Reads a trace once to the end, so any malformed row
    /// fails here, before anything is simulated or written.
    pub fn survey(&self, skip_unknown_models: bool) -> Result<Survey, CliError> {
        if let WorkloadSpec::Synthetic(spec) = &self.scenario.workload {
            return Ok(Survey {
                mix: self.synthetic(spec)?.demand_mix(),
                skipped: Vec::new(),
                end: None,
            });
        }
        let found = scan(self.open()?).map_err(|e| CliError::Failure(e.to_string()))?;
        let unknown: Vec<&Skipped> = found.skipped.iter().filter(|s| s.unknown_model).collect();
        if !unknown.is_empty() && !skip_unknown_models {
            let rows: u64 = unknown.iter().map(|s| s.rows).sum();
            let list: Vec<String> = unknown
                .iter()
                .map(|s| format!("{} ({} rows)", s.what, s.rows))
                .collect();
            return Err(CliError::Failure(format!(
                "{}: {rows} rows name models the catalog lacks: {}; set workload.skip_unknown_models = true to skip them",
                self.trace.as_deref().expect("a trace").display(),
                list.join("; ")
            )));
        }
        if found.requests == 0 {
            return Err(CliError::Failure(format!(
                "{}: no request to replay",
                self.trace.as_deref().expect("a trace").display()
            )));
        }
        Ok(Survey {
            mix: found.mix,
            skipped: found.skipped,
            end: Some(found.last_arrival),
        })
    }

    /// One line describing the workload.
    pub fn describe(&self) -> String {
        match &self.scenario.workload {
            WorkloadSpec::Synthetic(spec) => format!(
                "synthetic, {} arrivals, {} lifetimes, {} requests, fp16/int8/int4 {}/{}/{}",
                spec.arrivals,
                spec.lifetime,
                spec.count.map_or("unbounded".into(), |c| c.to_string()),
                spec.precision_mix[0],
                spec.precision_mix[1],
                spec.precision_mix[2]
            ),
            WorkloadSpec::Trace { .. } => format!("trace {}", self.trace_name()),
            WorkloadSpec::Alibaba {
                map_to_profiles, ..
            } => format!(
                "alibaba pods {}{}",
                self.trace_name(),
                if *map_to_profiles {
                    " mapped to AIM profiles"
                } else {
                    ""
                }
            ),
        }
    }

    fn trace_name(&self) -> String {
        self.trace
            .as_deref()
            .and_then(|p| p.file_name())
            .map_or(String::new(), |n| n.to_string_lossy().into_owned())
    }
}

/// What a first look at a workload tells.
pub struct Survey {
    pub mix: DemandMix,
    pub skipped: Vec<Skipped>,
    pub end: Option<SimTime>,
}

pub fn run(args: SimulateArgs, catalog: &Catalog) -> Result<(), CliError> {
    let mut scenario = load_scenario(&args.scenario, &args.overrides)?;
    if let Some(policy) = args.policy {
        scenario.fleet.policy = policy;
    }
    let seed = args.seed.unwrap_or(scenario.seed);
    let source = WorkloadSource::new(
        &scenario,
        &args.scenario,
        catalog,
        args.trace.as_deref(),
        seed,
    )?;
    let skip_unknown = matches!(
        scenario.workload,
        WorkloadSpec::Trace {
            skip_unknown_models: true,
            ..
        }
    );
    let survey = source.survey(skip_unknown)?;
    let fleet = scenario
        .fleet
        .build()
        .map_err(|e| CliError::Failure(e.to_string()))?;
    let header = RunHeader {
        scenario: scenario.name.clone(),
        seed,
        policy: scenario.fleet.policy.to_string(),
        fleet: scenario.fleet.describe(),
        workload: source.describe(),
        skipped: survey.skipped.clone(),
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(&scenario.name));
    let started = Instant::now();
    let (files, rows, class_table) = match scenario.mode {
        RunMode::Fill(spec) => {
            let mut scheduler = fleet.scheduler;
            let points = run_fill(&mut scheduler, &survey.mix, spec, seed);
            let last = points.last().cloned();
            let mut rows = vec![
                ("scenario".to_string(), header.scenario.clone()),
                ("seed".into(), seed.to_string()),
                ("policy".into(), header.policy.clone()),
                ("fleet".into(), header.fleet.clone()),
                ("workload".into(), header.workload.clone()),
            ];
            if let Some(p) = last {
                rows.extend([
                    ("requested_share".into(), report::decimal(p.requested)),
                    ("allocation_ratio".into(), report::decimal(p.allocated)),
                    ("placed".into(), p.placed.to_string()),
                    ("rejected".into(), p.rejected.to_string()),
                    ("gpus_busy".into(), p.gpus_busy.to_string()),
                    ("fragmentation".into(), report::decimal(p.fragmentation)),
                ]);
            }
            let metrics = report::csv_text(
                &["metric", "value"],
                rows.iter().map(|(k, v)| vec![k.clone(), v.clone()]),
            );
            (
                vec![
                    ("metrics.csv".to_string(), metrics),
                    ("fill.csv".into(), report::fill_csv(&points)),
                ],
                rows,
                None,
            )
        }
        RunMode::Replay => {
            let interval = scenario.interval.or_else(|| {
                let span = scenario
                    .horizon
                    .or(survey.end)?
                    .0
                    .saturating_sub(scenario.warmup.0);
                Some(SimTime((span / 100).max(1000)))
            });
            let config = RunConfig {
                horizon: scenario.horizon,
                warmup: scenario.warmup,
                interval,
            };
            let mut workload = source.open()?;
            let mut reporter = ProgressReporter::new(scenario.horizon.or(survey.end));
            let result = simulate(fleet, workload.as_mut(), &survey.mix, config, &mut |p| {
                reporter.report(p)
            })
            .map_err(|e| CliError::Failure(e.to_string()))?;
            reporter.finish();
            let files = vec![
                (
                    "metrics.csv".to_string(),
                    report::metrics_csv(&header, &result),
                ),
                ("fit_by_class.csv".into(), report::by_class_csv(&result)),
                ("fit_by_model.csv".into(), report::by_model_csv(&result)),
                ("timeseries.csv".into(), report::timeseries_csv(&result)),
            ];
            let events = result.summary.events;
            let elapsed = started.elapsed().as_secs_f64();
            eprintln!(
                "simulated {events} events in {elapsed:.2} s ({:.0} events/s)",
                events as f64 / elapsed.max(1e-9)
            );
            (files, report::summary_rows(&header, &result), Some(result))
        }
    };
    report::write_report_dir(&out, &files).map_err(|e| {
        CliError::Failure(format!("cannot write the report to {}: {e}", out.display()))
    })?;
    eprintln!("report written to {}", out.display());
    print_summary(args.format, &rows, class_table.as_ref(), &files);
    Ok(())
}

fn print_summary(
    format: Format,
    rows: &[(String, String)],
    result: Option<&aimsim::sim::RunResult>,
    files: &[(String, String)],
) {
    match format {
        Format::Csv => print!("{}", files[0].1),
        Format::Json => {
            let metrics: serde_json::Map<String, serde_json::Value> = rows
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            let classes: Vec<serde_json::Value> = result
                .map(|r| {
                    r.classes
                        .iter()
                        .map(|c| {
                            serde_json::json!({
                                "class": c.name,
                                "precision": c.precision.map(|p| p.to_string()),
                                "arrived": c.counts.arrived,
                                "placed": c.counts.placed,
                                "fit_rate": c.counts.fit_rate(),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            let doc = serde_json::json!({ "metrics": metrics, "classes": classes });
            println!(
                "{}",
                serde_json::to_string_pretty(&doc).expect("serialises")
            );
        }
        Format::Table => {
            let mut table = Table::new(&["metric", "value"]);
            for (k, v) in rows {
                table.row(vec![k.clone(), v.clone()]);
            }
            print!("{}", table.render());
        }
    }
}

/// Progress on stderr: a line that updates in place on a terminal, a line
/// every ten seconds otherwise, nothing for runs shorter than a second.
struct ProgressReporter {
    started: Instant,
    last: Instant,
    end: Option<SimTime>,
    terminal: bool,
    shown: bool,
}

impl ProgressReporter {
    fn new(end: Option<SimTime>) -> Self {
        let now = Instant::now();
        ProgressReporter {
            started: now,
            last: now,
            end,
            terminal: std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    fn report(&mut self, p: Progress) {
        let every = if self.terminal { 0.25 } else { 10.0 };
        if self.started.elapsed().as_secs_f64() < 1.0 || self.last.elapsed().as_secs_f64() < every {
            return;
        }
        self.last = Instant::now();
        let share = self.end.map_or(String::new(), |end| {
            format!(" ({:.0}%)", 100.0 * p.now.0 as f64 / end.0.max(1) as f64)
        });
        let line = format!(
            "simulated {:.1} h{share}, {} events",
            p.now.as_hours_f64(),
            p.events
        );
        if self.terminal {
            eprint!("\r{line}  ");
        } else {
            eprintln!("{line}");
        }
        self.shown = true;
    }

    fn finish(&self) {
        if self.shown && self.terminal {
            eprintln!();
        }
    }
}
