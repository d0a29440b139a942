//! `aimsim sweep` and `aimsim plan`: parallel studies over a scenario's
//! `[sweep]` grid (a serving scenario's plan is [`super::serving_plan`]).

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use aimsim::profile::Catalog;
use aimsim::report::study::{
    plan_charts, plan_csv, plan_markdown, plan_searches_csv, results_csv, summary_csv,
    sweep_charts, sweep_markdown, StudyHeader,
};
use aimsim::scenario::{Scenario, SweepSpec};
use aimsim::sweep::{plan, summarise, Cell, FitCriterion, GridShard, RunRow, Sweeper};

use super::merge::{fingerprint, trace_identity, ShardManifest, MANIFEST};
use super::simulate::{check_out, load_scenario, scenario_dir, write_report};
use super::{read_input, CliError, Format};

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

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aimsim sweep scenarios/precision-sweep.toml
  aimsim sweep scenarios/precision-sweep.toml --seeds 3 --threads 2 --format csv --out reports/ps
  aimsim sweep scenarios/precision-sweep.toml --shard 1/4 --out shard1   (then aimsim merge shard1 ...)")]
pub struct SweepArgs {
    #[command(flatten)]
    study: StudyArgs,
    /// Run only shard K of N of the grid (points K-1, K-1+N, ...); combine
    /// shards with `aimsim merge`.
    #[arg(long, value_name = "K/N")]
    shard: Option<GridShard>,
}

/// Which estimate of the fit rate must reach the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum On {
    /// The mean over seeds.
    Mean,
    /// The lower end of the 95% confidence interval.
    Lower,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aimsim plan scenarios/fp16-vs-int4.toml
  aimsim plan scenarios/fp16-vs-int4.toml --target-fit 0.999 --on lower --seeds 5 --quiet
  aimsim plan scenarios/serving-catalog.toml --rate-scale 2")]
pub struct PlanArgs {
    #[command(flatten)]
    study: StudyArgs,
    /// Deployment plans: fit rate the fleet must reach, in (0, 1] (default:
    /// sweep.target_fit).
    #[arg(long, value_name = "F")]
    target_fit: Option<f64>,
    /// Deployment plans: whether the mean fit rate over seeds must reach
    /// the target, or the lower end of its 95% confidence interval.
    #[arg(long, value_enum, default_value = "mean")]
    on: On,
    /// Serving plans: multiplies the traffic's rate (`traffic.rate` or
    /// `traffic.rate_scale`; each of `plan.rate_scales` multiplies it too).
    #[arg(long, value_name = "X")]
    rate_scale: Option<f64>,
    /// Serving plans: measure only shard K of N of the mixed fleet's
    /// models x rates; combine the shards with `aimsim merge`.
    #[arg(long, value_name = "K/N")]
    shard: Option<GridShard>,
}

/// A loaded scenario with its grid.
struct Study {
    scenario: Scenario,
    spec: SweepSpec,
    header: StudyHeader,
}

fn prepare(
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

/// Runs `work` on a pool of `threads` threads (default: one per core).
pub(super) fn with_threads<T: Send>(
    threads: Option<u32>,
    work: impl FnOnce() -> T + Send,
) -> Result<T, CliError> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        builder = builder.num_threads(n as usize);
    }
    Ok(builder.build()?.install(work))
}

/// A progress bar on stderr with the time left (drawn only on a terminal).
pub(super) fn progress(total: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {unit} ({{percent}}%), {{elapsed}} elapsed, about {{eta}} left"))
            .expect("a valid template"),
    );
    bar
}

pub(super) fn default_out(name: &str, leaf: &str) -> PathBuf {
    Path::new("reports").join(name).join(leaf)
}

/// Prints a study report as `args` ask: its `summary.md`, its main CSV
/// (`table_file`), that CSV as JSON records, or nothing.
pub(super) fn print_report(args: &StudyArgs, files: &[(String, String)], table_file: &str) {
    let file = |name: &str| {
        files
            .iter()
            .find(|f| f.0 == name)
            .map_or("", |f| f.1.as_str())
    };
    if args.quiet {
        return;
    }
    match args.format {
        Format::Table => print!("{}", file("summary.md")),
        Format::Csv => print!("{}", file(table_file)),
        Format::Json => println!("{}", csv_as_json(file(table_file))),
    }
}

/// A CSV table as a JSON array of records: a cell that reads as a number is
/// a number, an empty cell `null`, any other a string.
/// Columns of a plan's CSVs that pack `key=value` pairs separated by `;`
/// into one cell (`replicas`: model=count;...), given as objects in JSON.
const MAP_COLUMNS: [&str; 4] = [
    "replicas",
    "isolated_replicas",
    "gpus_by_mode",
    "configurations",
];

fn csv_as_json(csv_text: &str) -> String {
    use serde_json::{Map, Value};
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers().expect("a report's own CSV").clone();
    let records: Vec<Value> = reader
        .records()
        .map(|record| {
            let record = record.expect("a report's own CSV");
            let cells = headers.iter().zip(record.iter()).map(|(name, cell)| {
                let value = if MAP_COLUMNS.contains(&name) && !cell.is_empty() {
                    let pairs = cell.split(';').map(|pair| {
                        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                        (key.trim().to_string(), json_scalar(value.trim()))
                    });
                    Value::Object(pairs.collect::<Map<_, _>>())
                } else {
                    json_scalar(cell)
                };
                (name.to_string(), value)
            });
            Value::Object(cells.collect::<Map<_, _>>())
        })
        .collect();
    serde_json::to_string_pretty(&records).expect("serialises")
}

/// A CSV cell as JSON: null when empty, else a number where it reads as
/// one, else text.
fn json_scalar(cell: &str) -> serde_json::Value {
    use serde_json::{Number, Value};
    if cell.is_empty() {
        Value::Null
    } else if let Ok(n) = cell.parse::<i64>() {
        Value::from(n)
    } else {
        cell.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or_else(|| Value::from(cell), Value::Number)
    }
}

/// Every file of an unsharded sweep report, from its rows alone.
pub(super) fn sweep_files(
    header: &StudyHeader,
    cells: &[Cell],
    rows: &[RunRow],
) -> Vec<(String, String)> {
    let points = summarise(&header.prices, cells, rows);
    let mut files = vec![
        ("results.csv".to_string(), results_csv(header, cells, rows)),
        ("summary.csv".to_string(), summary_csv(&points)),
        (
            "summary.md".to_string(),
            sweep_markdown(header, &points, rows.len()),
        ),
    ];
    files.extend(sweep_charts(header, &points));
    files
}

pub fn sweep(args: SweepArgs, catalog: &Catalog) -> Result<(), CliError> {
    let study = prepare(&args.study, catalog, "sweep", None)?;
    let sized = study.scenario.sized_catalog(catalog);
    let catalog: &Catalog = &sized;
    let shard = args.shard.unwrap_or(GridShard::ALL);
    let cells = aimsim::sweep::cells(&study.spec);
    let runs = cells.iter().filter(|c| shard.contains(c.index)).count() as u64
        * u64::from(study.spec.seeds);
    let sweeper = Sweeper::new(
        &study.scenario,
        catalog,
        scenario_dir(&args.study.scenario),
        args.study.trace.as_deref(),
    );
    let leaf = if shard == GridShard::ALL {
        "sweep".to_string()
    } else {
        format!("sweep-shard-{}-of-{}", shard.index, shard.count)
    };
    let out = args
        .study
        .out
        .clone()
        .unwrap_or_else(|| default_out(&study.scenario.name, &leaf));
    check_out(&out)?;
    let bar = progress(runs, "runs");
    let rows = with_threads(args.study.threads, || {
        sweeper.sweep(&study.spec, shard, &|| bar.inc(1))
    })??;
    bar.finish_and_clear();
    if shard == GridShard::ALL {
        let files = sweep_files(&study.header, &cells, &rows);
        write_report(&out, &files)?;
        print_report(&args.study, &files, "summary.csv");
        return Ok(());
    }
    let manifest = ShardManifest {
        aimsim: study.header.version.clone(),
        scenario: study.scenario.name.clone(),
        command: study.header.command.clone(),
        fingerprint: fingerprint(&format!(
            "{:?}{:?}{:?}{}",
            study.scenario,
            study.spec,
            catalog.variants(),
            trace_identity(args.study.trace.as_deref())
        )),
        shard: shard.to_string(),
        seeds: study.spec.seeds,
        target_fit: study.spec.target_fit,
        prices: study
            .scenario
            .prices
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        points: cells.len(),
    };
    let files = vec![
        (
            MANIFEST.to_string(),
            serde_json::to_string_pretty(&manifest).expect("serialises") + "\n",
        ),
        (
            "results.csv".to_string(),
            results_csv(&study.header, &cells, &rows),
        ),
    ];
    write_report(&out, &files)?;
    eprintln!(
        "shard {shard}: {} runs; combine the shards with `aimsim merge`",
        rows.len()
    );
    Ok(())
}

pub fn plan_command(args: PlanArgs, catalog: &Catalog) -> Result<(), CliError> {
    let text = read_input(&args.study.scenario, "scenario")?;
    if super::serving_plan::is_serving(&text) {
        if args.target_fit.is_some() || args.on != On::Mean || args.study.seeds.is_some() {
            return Err(CliError::Usage(
                "--target-fit, --on and --seeds apply to deployment plans; a serving plan's target is its [slo]".into(),
            ));
        }
        return super::serving_plan::run(&args.study, args.rate_scale, args.shard, &text, catalog);
    }
    if args.shard.is_some() {
        return Err(CliError::Usage(
            "--shard applies to serving plans; shard a deployment plan's grid with `aimsim sweep --shard`".into(),
        ));
    }
    if args.rate_scale.is_some() {
        return Err(CliError::Usage(
            "--rate-scale applies to serving plans (scenarios with [traffic]); a deployment plan's load is its [workload]".into(),
        ));
    }
    let study = prepare(&args.study, catalog, "plan", args.target_fit)?;
    let sized = study.scenario.sized_catalog(catalog);
    let catalog: &Catalog = &sized;
    let criterion = match args.on {
        On::Mean => FitCriterion::Mean,
        On::Lower if study.spec.seeds < 2 => {
            return Err(CliError::Usage(
                "--on lower needs a confidence interval: give at least 2 seeds (sweep.seeds or --seeds)".into(),
            ))
        }
        On::Lower => FitCriterion::LowerBound,
    };
    let mut header = study.header.clone();
    if args.target_fit.is_some() {
        header
            .command
            .push_str(&format!(" --target-fit {}", study.spec.target_fit));
    }
    if args.on == On::Lower {
        header.command.push_str(" --on lower");
    }
    let sweeper = Sweeper::new(
        &study.scenario,
        catalog,
        scenario_dir(&args.study.scenario),
        args.study.trace.as_deref(),
    );
    let out = args
        .study
        .out
        .clone()
        .unwrap_or_else(|| default_out(&study.scenario.name, "plan"));
    check_out(&out)?;
    let points = aimsim::sweep::plan_cells(&study.spec).len() as u64;
    let bar = progress(points, "grid points");
    let rows = with_threads(args.study.threads, || {
        plan(
            &sweeper,
            &study.spec,
            study.spec.target_fit,
            criterion,
            &|| bar.inc(1),
        )
    })??;
    bar.finish_and_clear();
    let mut files = vec![
        ("plan.csv".to_string(), plan_csv(&header, criterion, &rows)),
        ("searches.csv".to_string(), plan_searches_csv(&rows)),
        (
            "summary.md".to_string(),
            plan_markdown(&header, criterion, &rows),
        ),
    ];
    files.extend(plan_charts(&header, &rows));
    write_report(&out, &files)?;
    print_report(&args.study, &files, "plan.csv");
    Ok(())
}
