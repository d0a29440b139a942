//! Every pod list x policy x seed of the study's experiment, in parallel.
//! The arrivals of a (pod list, seed) are drawn once and run under every
//! policy, as in the study (its seed fixes the arrivals before any policy
//! runs), so policies are compared on the same pods.

use rayon::prelude::*;

use super::experiment::{Experiment, RunResult};
use super::policy::StudyPolicy;
use super::trace::{Cluster, PodList};

/// Most seeds one study runs.
pub const MAX_SEEDS: usize = 1000;

/// One pod list of the study.
#[derive(Debug, Clone)]
pub struct Variant {
    /// Its name (`default`, `gpushare40`, ...).
    pub name: String,
    /// Its pods.
    pub pods: PodList,
}

/// What a study runs.
#[derive(Debug, Clone, PartialEq)]
pub struct StudySpec {
    /// Policies, in report order.
    pub policies: Vec<StudyPolicy>,
    /// Seeds, in report order.
    pub seeds: Vec<u64>,
    /// GPUs asked for at the end of each run, as a multiple of the
    /// cluster's (the study: 1.3).
    pub load: f64,
}

/// One run of a study.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyRun {
    /// Index of its pod list in the study's variants.
    pub variant: usize,
    /// Its policy.
    pub policy: StudyPolicy,
    /// Its seed.
    pub seed: u64,
    /// What happened.
    pub result: RunResult,
}

/// Runs every variant x seed x policy of `spec` on the current rayon pool;
/// `finished` is called after each run (from any thread). Runs come back
/// ordered by variant, seed, then policy, whatever the thread count.
pub fn run_study(
    cluster: &Cluster,
    variants: &[Variant],
    spec: &StudySpec,
    finished: impl Fn() + Sync,
) -> Vec<StudyRun> {
    let experiments: Vec<Experiment> = variants
        .iter()
        .map(|v| Experiment::new(cluster, &v.pods))
        .collect();
    let jobs: Vec<(usize, u64)> = (0..variants.len())
        .flat_map(|v| spec.seeds.iter().map(move |&s| (v, s)))
        .collect();
    jobs.par_iter()
        .map(|&(variant, seed)| {
            let experiment = &experiments[variant];
            let arrivals = experiment.arrivals(seed, spec.load);
            spec.policies
                .iter()
                .map(|&policy| {
                    let result = experiment.run(&arrivals, policy, seed, spec.load, |_, _, _| {});
                    finished();
                    StudyRun {
                        variant,
                        policy,
                        seed,
                        result,
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .collect()
}
