//! What identifies the shard of a sharded run (`sweep --shard`, `plan
//! --shard`) and checks that shards given to `merge` belong together.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use aimsim::sweep::GridShard;

use super::CliError;

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
