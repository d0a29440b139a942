//! The Alibaba GPU-sharing pod trace (`openb_pod_list_*.csv` of the
//! "Beware of Fragmentation" study, USENIX ATC'23).
//!
//! Columns used: `num_gpu`, `gpu_milli` (thousandths of one GPU),
//! `creation_time` and `deletion_time` (seconds); the others are ignored.
//! What one GPU of the trace becomes is a [`TraceGpu`]: a whole MI300X (a
//! one-GPU pod asks for `gpu_milli / 1000` of its memory; a pod with
//! `num_gpu >= 2` for that many whole GPUs, all or nothing), or one
//! partition (a trace node becomes one MI300X, so a multi-GPU pod asks for
//! that many whole partitions of one GPU). Sizes are rounded up to a MiB.
//! CPU-only pods (`num_gpu = 0`) are counted and skipped. Pods are replayed
//! by their times whatever their final phase in the original cluster.
//! Optionally each one-GPU pod becomes the AIM profile whose memory is
//! closest to its share (ties to the larger; of equal ones, the first in
//! catalog order).

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use crate::hardware::HostDemand;
use crate::profile::{Catalog, VariantId};
use crate::schedule::Demand;
use crate::time::SimTime;
use crate::units::Mib;

use super::csv_rows::{next_row_request, CsvRows, RowReader};
use super::{ClassId, ClassTable, DeploymentRequest, Skipped, Workload, WorkloadError};

/// Columns the reader always needs.
pub const REQUIRED_COLUMNS: [&str; 2] = ["num_gpu", "gpu_milli"];

/// Columns a replay over time needs besides; the fill experiment, which
/// only draws from the pods' mix of demands, reads pods in any order and
/// needs neither (the trace's `multigpu*` variants have no time columns,
/// its `gpushare*` variants are not in creation order).
pub const TIME_COLUMNS: [&str; 2] = ["creation_time", "deletion_time"];

/// What one GPU of the trace stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceGpu {
    /// A whole GPU with this much memory.
    Gpu(Mib),
    /// One partition of this size; a trace node is one GPU.
    Partition(Mib),
}

impl TraceGpu {
    /// Memory of one trace GPU.
    pub fn memory(self) -> Mib {
        match self {
            TraceGpu::Gpu(m) | TraceGpu::Partition(m) => m,
        }
    }
}

/// How pods become deployment requests.
#[derive(Debug, Clone, Copy)]
pub struct AlibabaOptions<'a> {
    /// What one GPU of the trace becomes.
    pub trace_gpu: TraceGpu,
    /// Map each single-GPU pod to the closest AIM profile of this catalog
    /// instead of its raw share.
    pub map_to_profiles: Option<&'a Catalog>,
    /// Whether pods are replayed over time: then the [`TIME_COLUMNS`] are
    /// required and pods must come in creation order; otherwise every pod
    /// arrives at time zero and lives forever.
    pub timed: bool,
}

/// Reads the pod trace, streaming.
pub struct AlibabaWorkload<'a> {
    rows: CsvRows,
    options: AlibabaOptions<'a>,
    classes: ClassTable,
    by_share: HashMap<(u32, u32), (Demand, ClassId)>,
    profiles_by_memory: Vec<(Mib, VariantId)>,
    cpu_only: u64,
    last_creation: SimTime,
    columns: [usize; 2],
    /// `creation_time` and `deletion_time`, when replayed over time.
    time_columns: Option<[usize; 2]>,
}

impl<'a> AlibabaWorkload<'a> {
    /// Opens the pod list at `path`.
    pub fn open(
        path: &Path,
        options: AlibabaOptions<'a>,
    ) -> Result<AlibabaWorkload<'a>, WorkloadError> {
        AlibabaWorkload::new(CsvRows::open(path, &[], &REQUIRED_COLUMNS, false)?, options)
    }

    /// Reads a pod list from any reader; `source_name` names it in errors.
    pub fn from_reader(
        reader: Box<dyn Read>,
        source_name: &str,
        options: AlibabaOptions<'a>,
    ) -> Result<AlibabaWorkload<'a>, WorkloadError> {
        AlibabaWorkload::new(
            CsvRows::from_reader(reader, source_name, &[], &REQUIRED_COLUMNS, false)?,
            options,
        )
    }

    fn new(
        rows: CsvRows,
        options: AlibabaOptions<'a>,
    ) -> Result<AlibabaWorkload<'a>, WorkloadError> {
        let columns = REQUIRED_COLUMNS.map(|name| rows.column(name).expect("required"));
        let time_columns = if options.timed {
            let found = TIME_COLUMNS.map(|name| rows.column(name));
            if let Some(missing) = TIME_COLUMNS.iter().zip(found).find(|(_, c)| c.is_none()) {
                return Err(WorkloadError {
                    source_name: rows.source_name().to_string(),
                    line: Some(1),
                    message: format!(
                        "missing column `{}`: replaying pods over time needs creation_time and deletion_time (the fill experiment, run.mode = \"fill\", does not)",
                        missing.0
                    ),
                });
            }
            Some(found.map(|c| c.expect("checked")))
        } else {
            None
        };
        let mut profiles_by_memory: Vec<(Mib, VariantId)> = options
            .map_to_profiles
            .map(|catalog| {
                catalog
                    .variants()
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.gpu_count == 1)
                    .map(|(i, v)| (v.memory, VariantId(i as u32)))
                    .collect()
            })
            .unwrap_or_default();
        profiles_by_memory.sort();
        // Of profiles with equal memory, the first in catalog order stands for all.
        profiles_by_memory.dedup_by_key(|entry| entry.0);
        Ok(AlibabaWorkload {
            rows,
            options,
            classes: ClassTable::default(),
            by_share: HashMap::new(),
            profiles_by_memory,
            cpu_only: 0,
            last_creation: SimTime::ZERO,
            columns,
            time_columns,
        })
    }

    /// The demand and class of a pod with `num_gpu` GPUs at `milli`.
    fn demand_of(&mut self, num_gpu: u32, milli: u32) -> (Demand, ClassId) {
        if let Some(&known) = self.by_share.get(&(num_gpu, milli)) {
            return known;
        }
        let unit = self.options.trace_gpu.memory();
        let resolved = if num_gpu >= 2 {
            let demand = match self.options.trace_gpu {
                TraceGpu::Gpu(memory) => Demand {
                    size: memory,
                    gpu_count: num_gpu,
                    partitions: 1,
                    host: HostDemand::NONE,
                },
                TraceGpu::Partition(memory) => Demand {
                    size: memory,
                    gpu_count: 1,
                    partitions: num_gpu,
                    host: HostDemand::NONE,
                },
            };
            (
                demand,
                self.classes.intern(&format!("openb {num_gpu} x GPU"), None),
            )
        } else {
            let size = Mib((unit.0 * u64::from(milli)).div_ceil(1000));
            match (self.options.map_to_profiles, self.closest_profile(size)) {
                (Some(catalog), Some(id)) => {
                    let variant = catalog.variant(id);
                    let demand = Demand {
                        size: variant.memory,
                        gpu_count: 1,
                        partitions: 1,
                        host: HostDemand::NONE,
                    };
                    let p = &variant.profile;
                    (demand, self.classes.intern(&p.model_id, Some(p.precision)))
                }
                _ => {
                    let demand = Demand {
                        size,
                        gpu_count: 1,
                        partitions: 1,
                        host: HostDemand::NONE,
                    };
                    (
                        demand,
                        self.classes
                            .intern(&format!("openb {milli} milli-GPU"), None),
                    )
                }
            }
        };
        self.by_share.insert((num_gpu, milli), resolved);
        resolved
    }

    /// The profile whose memory is closest to `size`, ties to the larger
    /// (of profiles with equal memory, the first in catalog order).
    fn closest_profile(&self, size: Mib) -> Option<VariantId> {
        let i = self.profiles_by_memory.partition_point(|&(m, _)| m < size);
        let above = self.profiles_by_memory.get(i);
        let below = i
            .checked_sub(1)
            .and_then(|j| self.profiles_by_memory.get(j));
        match (below, above) {
            (Some(&(b, bid)), Some(&(a, aid))) => Some(if size.0 - b.0 < a.0 - size.0 {
                bid
            } else {
                aid
            }),
            (Some(&(_, id)), None) | (None, Some(&(_, id))) => Some(id),
            (None, None) => None,
        }
    }
}

impl RowReader for AlibabaWorkload<'_> {
    fn rows(&mut self) -> &mut CsvRows {
        &mut self.rows
    }

    fn read_row(&mut self) -> Result<Option<DeploymentRequest>, WorkloadError> {
        let [num_gpu_col, milli_col] = self.columns;
        let rows = &self.rows;
        let num_gpu: u32 = rows.parse(num_gpu_col, "a whole number of GPUs")?;
        let (creation, lifetime) = match self.time_columns {
            Some([creation_col, deletion_col]) => {
                let creation = rows.seconds(creation_col)?;
                if creation < self.last_creation {
                    return Err(rows.error(format!(
                        "creation_time {} is before the previous pod's {}; a replay over time needs pods in creation order (the fill experiment does not)",
                        creation.as_secs_f64(),
                        self.last_creation.as_secs_f64()
                    )));
                }
                let lifetime = if rows.field(deletion_col).is_empty() {
                    None
                } else {
                    let deletion = rows.seconds(deletion_col)?;
                    if deletion < creation {
                        return Err(rows.error(format!(
                            "deletion_time {} is before creation_time {} (a negative duration)",
                            deletion.as_secs_f64(),
                            creation.as_secs_f64()
                        )));
                    }
                    Some(deletion - creation)
                };
                self.last_creation = creation;
                (creation, lifetime)
            }
            None => (SimTime::ZERO, None),
        };
        if num_gpu == 0 {
            self.cpu_only += 1;
            return Ok(None);
        }
        let milli = if num_gpu == 1 {
            let milli: u32 = rows.parse(milli_col, "a whole number of milli-GPUs")?;
            if !(1..=1000).contains(&milli) {
                return Err(rows.error(format!(
                    "column `gpu_milli`: {milli} is outside 1..=1000 for a one-GPU pod"
                )));
            }
            milli
        } else {
            1000
        };
        let (demand, class) = self.demand_of(num_gpu, milli);
        Ok(Some(DeploymentRequest {
            arrival: creation,
            lifetime,
            demand,
            class,
            priority: 0,
        }))
    }
}

impl Workload for AlibabaWorkload<'_> {
    fn next_request(&mut self) -> Option<Result<DeploymentRequest, WorkloadError>> {
        next_row_request(self)
    }

    fn classes(&self) -> &ClassTable {
        &self.classes
    }

    fn skipped(&self) -> Vec<Skipped> {
        if self.cpu_only == 0 {
            return Vec::new();
        }
        vec![Skipped {
            what: "CPU-only pods (num_gpu = 0)".into(),
            rows: self.cpu_only,
            unknown_model: false,
        }]
    }
}
