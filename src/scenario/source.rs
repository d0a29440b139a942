//! A scenario's workload made ready to read: the trace path resolved, the
//! synthetic model list filled in, and a first pass that checks a trace and
//! measures its demand mix before anything is simulated.

use std::path::{Path, PathBuf};

use crate::profile::Catalog;
use crate::schedule::DemandMix;
use crate::sim::{simulate, FleetError, PastEvent, Progress, RunConfig, RunResult, SimError};
use crate::time::SimTime;
use crate::workload::alibaba::{AlibabaOptions, AlibabaWorkload, TraceGpu};
use crate::workload::static_set::StaticSet;
use crate::workload::synthetic::{SyntheticError, SyntheticSpec, SyntheticWorkload};
use crate::workload::trace::TraceWorkload;
use crate::workload::{scan, Skipped, Workload, WorkloadError};

use super::{RunMode, Scenario, Sizes, WorkloadSpec};

/// Why a workload cannot be prepared or read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A trace scenario without a trace path (a usage error).
    #[error("scenario `{0}` replays a trace: give its path with --trace PATH (or workload.path)")]
    MissingTrace(String),
    /// The trace is a pipe or a device, which cannot be read twice.
    #[error("{0}: not a regular file (a pipe or a device?); simulate reads a trace twice, once to check it and once to replay it, so save it to a file first")]
    NotAFile(String),
    /// A malformed record, or a file that cannot be read.
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    /// The synthetic generator cannot be built as described.
    #[error("{scenario}: workload: {error}")]
    Synthetic {
        /// The scenario's name.
        scenario: String,
        /// Why.
        error: SyntheticError,
    },
    /// Trace rows name models the catalog lacks, and the scenario does not
    /// skip them.
    #[error("{path}: {rows} rows name models the catalog lacks: {models}; set workload.skip_unknown_models = true to skip them")]
    UnknownModels {
        /// The trace.
        path: String,
        /// Rows concerned.
        rows: u64,
        /// Each model with its row count.
        models: String,
    },
    /// A trace with nothing to replay.
    #[error("{0}: no request to replay")]
    EmptyTrace(String),
    /// The fleet's layouts do not fit its kinds, or its nodes the gangs.
    #[error(transparent)]
    Fleet(#[from] FleetError),
    /// The replay stopped on an event in the past.
    #[error("the workload went back in time: {0}")]
    PastEvent(#[from] PastEvent),
}

/// What a first look at a workload tells.
#[derive(Debug, Clone)]
pub struct Survey {
    /// The demands it makes and how often.
    pub mix: DemandMix,
    /// Records skipped, by cause.
    pub skipped: Vec<Skipped>,
    /// Arrival of the last request, for a trace.
    pub last_arrival: Option<SimTime>,
}

/// A scenario's workload, ready to be opened as often as needed.
pub struct WorkloadSource<'a> {
    scenario: &'a Scenario,
    catalog: &'a Catalog,
    trace: Option<PathBuf>,
}

impl<'a> WorkloadSource<'a> {
    /// Resolves the trace path (`trace` if given, else the scenario's
    /// `workload.path` relative to `scenario_dir`).
    pub fn new(
        scenario: &'a Scenario,
        catalog: &'a Catalog,
        scenario_dir: &Path,
        trace: Option<&Path>,
    ) -> Result<Self, SourceError> {
        let trace = scenario.trace_path(scenario_dir, trace);
        let reads_a_trace = matches!(
            scenario.workload,
            WorkloadSpec::Trace { .. } | WorkloadSpec::Alibaba { .. }
        );
        if trace.is_none() && reads_a_trace {
            return Err(SourceError::MissingTrace(scenario.name.clone()));
        }
        if let Some(path) = &trace {
            // A missing file is reported when it is opened, with the reason.
            if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
                return Err(SourceError::NotAFile(path.display().to_string()));
            }
        }
        Ok(WorkloadSource {
            scenario,
            catalog,
            trace,
        })
    }

    /// A fresh stream of the workload from its start; `seed` seeds a
    /// synthetic generator.
    pub fn open(&self, seed: u64) -> Result<Box<dyn Workload + 'a>, SourceError> {
        Ok(match &self.scenario.workload {
            WorkloadSpec::Synthetic(spec) => Box::new(self.synthetic(spec, seed)?),
            WorkloadSpec::Trace { precision, .. } => Box::new(
                TraceWorkload::open(self.trace_path(), self.catalog)?.with_precision(*precision),
            ),
            WorkloadSpec::Static {
                deployments,
                precision,
            } => Box::new(StaticSet::new(deployments, *precision, self.catalog)?),
            WorkloadSpec::Alibaba {
                map_to_profiles, ..
            } => Box::new(AlibabaWorkload::open(
                self.trace_path(),
                AlibabaOptions {
                    trace_gpu: self.scenario.trace_gpu(),
                    map_to_profiles: map_to_profiles.then_some(self.catalog),
                    timed: self.scenario.mode == RunMode::Replay,
                },
            )?),
        })
    }

    fn trace_path(&self) -> &Path {
        self.trace
            .as_deref()
            .expect("checked when the source was made")
    }

    fn synthetic(&self, spec: &SyntheticSpec, seed: u64) -> Result<SyntheticWorkload, SourceError> {
        let mut spec = spec.clone();
        if spec.models.is_empty() {
            spec.models = self.catalog.model_ids().map(str::to_string).collect();
        }
        let workload = SyntheticWorkload::new(spec, self.catalog, seed).map_err(|error| {
            SourceError::Synthetic {
                scenario: self.scenario.name.clone(),
                error,
            }
        })?;
        Ok(match self.scenario.horizon {
            Some(horizon) => workload.until(horizon),
            None => workload,
        })
    }

    /// The demand mix, skipped records and last arrival. Reads a trace once
    /// to the end, so any malformed row fails here, before anything is
    /// simulated or written; rows naming models the catalog lacks are an
    /// error unless the scenario skips them. A synthetic stream is drawn
    /// once for its last arrival only when `with_span` and the scenario has
    /// no horizon (a run's default sampling interval needs the span).
    pub fn survey(&self, with_span: bool) -> Result<Survey, SourceError> {
        if let WorkloadSpec::Synthetic(spec) = &self.scenario.workload {
            let generator = self.synthetic(spec, self.scenario.seed)?;
            let mix = generator.demand_mix();
            let last_arrival = if with_span && self.scenario.horizon.is_none() {
                Some(scan(generator)?.last_arrival)
            } else {
                None
            };
            return Ok(Survey {
                mix,
                skipped: Vec::new(),
                last_arrival,
            });
        }
        let found = scan(self.open(self.scenario.seed)?)?;
        if matches!(self.scenario.workload, WorkloadSpec::Static { .. }) {
            return Ok(Survey {
                mix: found.mix,
                skipped: found.skipped,
                last_arrival: Some(found.last_arrival),
            });
        }
        let skip_unknown = matches!(
            self.scenario.workload,
            WorkloadSpec::Trace {
                skip_unknown_models: true,
                ..
            }
        );
        let unknown: Vec<&Skipped> = found.skipped.iter().filter(|s| s.unknown_model).collect();
        let path = self.trace_path().display();
        if !unknown.is_empty() && !skip_unknown {
            let rows: u64 = unknown.iter().map(|s| s.rows).sum();
            let list: Vec<String> = unknown
                .iter()
                .map(|s| format!("{} ({} rows)", s.what, s.rows))
                .collect();
            return Err(SourceError::UnknownModels {
                path: path.to_string(),
                rows,
                models: list.join("; "),
            });
        }
        if found.requests == 0 {
            return Err(SourceError::EmptyTrace(path.to_string()));
        }
        Ok(Survey {
            mix: found.mix,
            skipped: found.skipped,
            last_arrival: Some(found.last_arrival),
        })
    }

    /// Replays the workload (seeded by `seed`) on the scenario's fleet with
    /// `config`, using the demand mix of `survey`.
    pub fn replay(
        &self,
        seed: u64,
        survey: &Survey,
        config: RunConfig,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<RunResult, SourceError> {
        let fleet = self.scenario.fleet.build(&survey.mix)?;
        let mut workload = self.open(seed)?;
        simulate(fleet, workload.as_mut(), &survey.mix, config, progress).map_err(|e| match e {
            SimError::Workload(e) => SourceError::Workload(e),
            SimError::PastEvent(e) => SourceError::PastEvent(e),
        })
    }

    /// One line describing the workload.
    pub fn describe(&self) -> String {
        let mut text = self.describe_source();
        if self.scenario.sizes == Sizes::Physical {
            text.push_str(", physical sizes");
        }
        text
    }

    fn describe_source(&self) -> String {
        let trace_name = || {
            self.trace
                .as_deref()
                .and_then(|p| p.file_name())
                .map_or(String::new(), |n| n.to_string_lossy().into_owned())
        };
        match &self.scenario.workload {
            WorkloadSpec::Synthetic(spec) => format!(
                "synthetic, {} arrivals, {} lifetimes, {}, fp16/int8/int4 {}",
                spec.arrivals,
                spec.lifetime,
                spec.count
                    .map_or("until the horizon".into(), |c| format!("{c} requests")),
                spec.precision_mix.shares().map(|s| s.to_string()).join("/")
            ),
            WorkloadSpec::Trace { precision, .. } => format!(
                "trace {}{}",
                trace_name(),
                precision.map_or(String::new(), |p| format!(", every row at {p}"))
            ),
            WorkloadSpec::Static {
                deployments,
                precision,
            } => format!(
                "static, {} replicas of {} deployments{}",
                deployments.iter().map(|d| d.count).sum::<u64>(),
                deployments.len(),
                precision.map_or(String::new(), |p| format!(", all at {p}"))
            ),
            WorkloadSpec::Alibaba {
                map_to_profiles, ..
            } => format!(
                "alibaba pods {}, one trace GPU = {}{}",
                trace_name(),
                match self.scenario.trace_gpu() {
                    TraceGpu::Gpu(m) => format!("a {m} GiB GPU"),
                    TraceGpu::Partition(m) => format!("a {m} GiB partition"),
                },
                if *map_to_profiles {
                    ", mapped to AIM profiles"
                } else {
                    ""
                }
            ),
        }
    }
}
