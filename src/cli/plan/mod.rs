//! `aimsim plan`: the smallest fleet. A deployment scenario's plan (the
//! fewest GPUs whose fit rate reaches a target, per point of its `[sweep]`
//! grid) is here; a serving scenario's is [`serving`], its mixed fleet
//! [`mixed`] and its shards [`shard`].

pub(super) mod mixed;
pub(super) mod serving;
pub(super) mod shard;

use clap::{Args, ValueEnum};

use aimsim::profile::Catalog;
use aimsim::report::study::{plan_charts, plan_csv, plan_markdown, plan_searches_csv};
use aimsim::sweep::{plan, FitCriterion, GridShard, Sweeper};

use super::inputs::scenario_dir;
use super::output::{check_out, default_out, write_report};
use super::progress::{progress_bar, with_threads};
use super::study::{prepare, StudyArgs};
use super::{read_input, CliError};

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

pub fn plan_command(args: PlanArgs, catalog: &Catalog) -> Result<(), CliError> {
    let text = read_input(&args.study.scenario, "scenario")?;
    if serving::is_serving(&text) {
        if args.target_fit.is_some() || args.on != On::Mean || args.study.seeds.is_some() {
            return Err(CliError::Usage(
                "--target-fit, --on and --seeds apply to deployment plans; a serving plan's target is its [slo]".into(),
            ));
        }
        // Whole, or only a shard of its mixed fleet's measurements
        // (combined by `aimsim merge`).
        let inputs = serving::Inputs::read(&args.study, args.rate_scale, &text, catalog)?;
        return match args.shard {
            Some(part) => shard::write(&args.study, args.rate_scale, part, &text, &inputs, catalog),
            None => serving::report(&args.study, args.rate_scale, &text, &inputs, catalog, None),
        };
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
    let bar = progress_bar(points, "grid points");
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
    args.study.print_report(&files, "plan.csv");
    Ok(())
}
