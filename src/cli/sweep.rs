//! `aimsim sweep`: every point of a scenario's `[sweep]` grid once per
//! seed, in parallel (or a shard of them, for `aimsim merge`).

use clap::Args;

use aimsim::profile::Catalog;
use aimsim::report::study::{results_csv, sweep_files};
use aimsim::sweep::{GridShard, Sweeper};

use super::inputs::scenario_dir;
use super::output::{check_out, default_out, write_report};
use super::progress::{progress_bar, with_threads};
use super::shards::{fingerprint, trace_identity, ShardManifest, MANIFEST};
use super::study::{prepare, StudyArgs};
use super::CliError;

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
    let bar = progress_bar(runs, "runs");
    let rows = with_threads(args.study.threads, || {
        sweeper.sweep(&study.spec, shard, &|| bar.inc(1))
    })??;
    bar.finish_and_clear();
    if shard == GridShard::ALL {
        let files = sweep_files(&study.header, &cells, &rows);
        write_report(&out, &files)?;
        args.study.print_report(&files, "summary.csv");
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
