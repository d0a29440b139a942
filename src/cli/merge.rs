//! `aimsim merge`: the shards of a sweep (`aimsim sweep --shard`) or of a
//! serving plan (`aimsim plan --shard`, [`super::plan_shard`]) into the
//! report the whole run writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::{Deserialize, Serialize};

use aimsim::hardware::GpuKind;
use aimsim::profile::Catalog;
use aimsim::report::study::{parse_results_csv, StudyHeader};
use aimsim::scenario::check_price;
use aimsim::sweep::{Cell, GridShard, RunRow};

use super::plan_shard::{self, PlanShardManifest};
use super::simulate::write_report;
use super::study::{default_out, sweep_files};
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

/// What a sweep's shard folder says about itself, so shards of different
/// runs are never merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct ShardManifest {
    pub aimsim: String,
    pub scenario: String,
    pub command: String,
    pub fingerprint: String,
    pub shard: String,
    pub seeds: u32,
    pub target_fit: f64,
    pub prices: BTreeMap<String, f64>,
    pub points: usize,
}

/// A shard folder's manifest file.
pub(super) const MANIFEST: &str = "shard.json";

/// What identifies a trace file for a fingerprint: its path and length
/// (reading a multi-gigabyte trace to hash it would cost a replay).
pub(super) fn trace_identity(trace: Option<&Path>) -> String {
    trace.map_or(String::new(), |t| {
        let length = std::fs::metadata(t).map_or(0, |m| m.len());
        format!("{}:{length}", t.display())
    })
}

/// FNV-1a, 64 bits: a stable fingerprint of a scenario, grid and catalog.
pub(super) fn fingerprint(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// One shard as its manifest identifies it.
pub(super) struct ShardId<'a> {
    /// Its folder.
    pub dir: &'a Path,
    /// The aimsim version that wrote it.
    pub aimsim: &'a str,
    /// What every shard of one run shares (scenario, fingerprint, size).
    pub identity: String,
    /// `K/N`.
    pub shard: &'a str,
}

/// Checks that `shards` are every shard of one run, each once, written by
/// this version of aimsim.
pub(super) fn check_shard_set(shards: &[ShardId]) -> Result<(), CliError> {
    let parse = |s: &ShardId| -> Result<GridShard, CliError> {
        s.shard
            .parse::<GridShard>()
            .map_err(|e| CliError::Merge(format!("{}: {e}", s.dir.display())))
    };
    let first = &shards[0];
    let count = parse(first)?.count;
    let mut seen = vec![false; count as usize];
    for s in shards {
        let differs = |what: &str| {
            CliError::Merge(format!(
                "{}: a shard of a different {what} than {}",
                s.dir.display(),
                first.dir.display()
            ))
        };
        if s.aimsim != env!("CARGO_PKG_VERSION") {
            return Err(CliError::Merge(format!(
                "{}: written by aimsim {}, this is {}; merge with the version that ran the shards",
                s.dir.display(),
                s.aimsim,
                env!("CARGO_PKG_VERSION")
            )));
        }
        if s.identity != first.identity {
            return Err(differs("scenario or grid"));
        }
        let shard = parse(s)?;
        if shard.count != count {
            return Err(differs(&format!(
                "split ({} shards vs {count})",
                shard.count
            )));
        }
        if std::mem::replace(&mut seen[(shard.index - 1) as usize], true) {
            return Err(CliError::Merge(format!("shard {shard} is given twice")));
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(CliError::Merge(format!(
            "shard {}/{count} is missing",
            missing + 1
        )));
    }
    Ok(())
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
