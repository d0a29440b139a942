//! `aimsim merge`: the shards of a sweep (`aimsim sweep --shard`) or of a
//! serving plan (`aimsim plan --shard`, [`super::plan::shard`]) into the
//! report the whole run writes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;

use aimsim::hardware::GpuKind;
use aimsim::profile::Catalog;
use aimsim::report::study::{parse_results_csv, sweep_files, StudyHeader};
use aimsim::scenario::check_price;
use aimsim::sweep::{Cell, RunRow};

use super::output::{default_out, write_report};
use super::plan::shard::{self as plan_shard, PlanShardManifest};
use super::shards::{check_shard_set, ShardId, ShardManifest, MANIFEST};
use super::{read_input, CliError};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aimsim merge shard1 shard2 shard3 shard4 --out reports/precision-sweep
  aimsim merge plan1 plan2 --out reports/serving-catalog/plan")]
pub struct MergeArgs {
    /// Shard folders written by `aimsim sweep --shard K/N` or, of a
    /// serving scenario, `aimsim plan --shard K/N`.
    #[arg(required = true, value_name = "SHARD_DIR")]
    shards: Vec<PathBuf>,
    /// Report folder (default: reports/<scenario name>/sweep or plan).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Merges the shards of `args`: a sweep's, or a serving plan's (which
/// reads `catalog` to finish the plan).
pub fn merge(
    args: MergeArgs,
    catalog: impl FnOnce() -> Result<Catalog, CliError>,
) -> Result<(), CliError> {
    let mut texts = Vec::with_capacity(args.shards.len());
    for dir in &args.shards {
        let path = dir.join(MANIFEST);
        let text = aimsim::input::read_text(&path)
            .map_err(|e| CliError::Merge(format!("{}: not a shard folder ({e})", dir.display())))?;
        texts.push((path, text));
    }
    let is_plan = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text)
            .is_ok_and(|v| v.get("kind").and_then(|k| k.as_str()) == Some(plan_shard::KIND))
    };
    if texts.iter().any(|(_, t)| is_plan(t)) {
        let manifests = texts
            .iter()
            .map(|(path, text)| {
                serde_json::from_str::<PlanShardManifest>(text).map_err(|e| {
                    CliError::Merge(format!(
                        "{}: not a serving plan's shard, as {} is ({e})",
                        path.display(),
                        texts[0].0.display()
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        return plan_shard::merge(&args.shards, manifests, args.out, &catalog()?);
    }
    let mut manifests: Vec<(PathBuf, ShardManifest)> = Vec::new();
    for ((path, text), dir) in texts.iter().zip(&args.shards) {
        let manifest: ShardManifest = serde_json::from_str(text)
            .map_err(|e| CliError::Merge(format!("{}: {e}", path.display())))?;
        manifests.push((dir.clone(), manifest));
    }
    let ids: Vec<ShardId> = manifests
        .iter()
        .map(|(dir, m)| ShardId {
            dir,
            aimsim: &m.aimsim,
            identity: format!("{} {}", m.scenario, m.fingerprint),
            shard: &m.shard,
        })
        .collect();
    check_shard_set(&ids)?;
    let first = manifests[0].1.clone();
    if !(first.target_fit > 0.0 && first.target_fit <= 1.0) {
        return Err(CliError::Merge(format!(
            "shard.json: target_fit must be in (0, 1], got {}",
            first.target_fit
        )));
    }
    let mut cells: BTreeMap<usize, Cell> = BTreeMap::new();
    let mut rows: Vec<RunRow> = Vec::new();
    for (dir, _) in &manifests {
        let path = dir.join("results.csv");
        let text = read_input(&path, "shard results")?;
        let (shard_cells, shard_rows) = parse_results_csv(&text, &path.display().to_string())?;
        cells.extend(shard_cells.into_iter().map(|c| (c.index, c)));
        rows.extend(shard_rows);
    }
    rows.sort_by_key(|r| (r.cell, r.replication));
    let cells: Vec<Cell> = cells.into_values().collect();
    if cells.len() != first.points || cells.iter().enumerate().any(|(i, c)| c.index != i) {
        return Err(CliError::Merge(format!(
            "the shards hold {} of the {} grid points: a results.csv is incomplete",
            cells.len(),
            first.points
        )));
    }
    for cell in &cells {
        let runs = rows.iter().filter(|r| r.cell == cell.index).count();
        if runs != first.seeds as usize {
            return Err(CliError::Merge(format!(
                "grid point {} has {runs} runs in the shards, not {} (one per seed): a results.csv is incomplete",
                cell.index, first.seeds
            )));
        }
    }
    let header = StudyHeader {
        scenario: first.scenario.clone(),
        command: first.command.clone(),
        version: first.aimsim.clone(),
        seeds: first.seeds,
        target_fit: first.target_fit,
        prices: first
            .prices
            .iter()
            .map(|(k, v)| {
                let bad = |e: String| CliError::Merge(format!("shard.json: prices.{k}: {e}"));
                Ok::<_, CliError>((
                    k.parse::<GpuKind>().map_err(|e| bad(e.to_string()))?,
                    check_price(*v).map_err(bad)?,
                ))
            })
            .collect::<Result<_, _>>()?,
    };
    let files = sweep_files(&header, &cells, &rows);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&first.scenario, "sweep"));
    write_report(&out, &files)?;
    if let Some((_, summary)) = files.iter().find(|f| f.0 == "summary.md") {
        print!("{summary}");
    }
    Ok(())
}
