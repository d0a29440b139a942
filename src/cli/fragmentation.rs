//! `aimsim fragmentation`: the fragmentation study's experiment on its own
//! cluster and pod lists, every policy x pod list x seed in parallel, and a
//! report beside the study's published figures.

use std::path::{Path, PathBuf};

use clap::Args;

use aimsim::cluster::experiment::MAX_LOAD;
use aimsim::cluster::study::{run_study, StudySpec, Variant, MAX_SEEDS};
use aimsim::cluster::{Cluster, PodList, StudyPolicy};
use aimsim::report::fragmentation::FragmentationReport;

use super::output::write_report;
use super::progress::{progress_bar, with_threads};
use super::CliError;

/// Prefix of the study's pod list file names, dropped from variant names.
const POD_LIST_PREFIX: &str = "openb_pod_list_";

#[derive(Debug, Args)]
#[command(
    after_help = "The study's files are in github.com/hkust-adsl/kubernetes-scheduler-simulator, data/csv/. Examples:
  aimsim fragmentation --nodes openb_node_list_gpu_node.csv openb_pod_list_default.csv
  aimsim fragmentation --nodes openb_node_list_gpu_node.csv data/csv/openb_pod_list_*.csv --out reports/fragmentation-study
  aimsim fragmentation --nodes nodes.csv pods.csv --policy fgd --policy best-fit --seeds 3"
)]
pub struct FragmentationArgs {
    /// The node list (`openb_node_list_gpu_node.csv`: cpu_milli, memory_mib,
    /// gpu, model; sn optional).
    #[arg(long, value_name = "CSV")]
    nodes: PathBuf,
    /// Pod lists (`openb_pod_list_*.csv`: cpu_milli, memory_mib, num_gpu,
    /// gpu_milli; gpu_spec optional). Each is one variant, named by its file
    /// name without `openb_pod_list_` and `.csv`.
    #[arg(required = true, value_name = "PODS_CSV")]
    pods: Vec<PathBuf>,
    /// Policies to run (repeat the flag; default: all six).
    #[arg(long = "policy", value_parser = policy_parser())]
    policies: Vec<StudyPolicy>,
    /// Seeds per pod list and policy.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=MAX_SEEDS as i64))]
    seeds: u32,
    /// The first seed (the study's: 42 to 51).
    #[arg(long, default_value_t = 42)]
    first_seed: u64,
    /// GPUs asked for at the end of a run, as a multiple of the cluster's
    /// (the study's: 1.3).
    #[arg(long, default_value_t = 1.3, value_parser = load_parser)]
    load: f64,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
    /// Report folder; without it the headline CSV (`at-100.csv`) goes to
    /// stdout.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn policy_parser() -> impl clap::builder::TypedValueParser<Value = StudyPolicy> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(StudyPolicy::ALL.map(|p| PossibleValue::new(p.name())))
        .map(|name| name.parse::<StudyPolicy>().expect("a listed name"))
}

fn load_parser(text: &str) -> Result<f64, String> {
    let load: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if load > 0.0 && load <= MAX_LOAD {
        Ok(load)
    } else {
        Err(format!(
            "expected a multiple of the cluster's GPUs above 0 and at most {MAX_LOAD}"
        ))
    }
}

/// The variant name of a pod list file.
fn variant_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    stem.strip_prefix(POD_LIST_PREFIX)
        .unwrap_or(&stem)
        .to_string()
}

pub fn run(args: FragmentationArgs) -> Result<(), CliError> {
    let cluster = Cluster::open(&args.nodes)?;
    let mut variants: Vec<Variant> = Vec::new();
    for path in &args.pods {
        let name = variant_name(path);
        if variants.iter().any(|v| v.name == name) {
            return Err(CliError::Usage(format!(
                "two pod lists are named `{name}`; give each variant once"
            )));
        }
        variants.push(Variant {
            name,
            pods: PodList::open(path, &cluster)?,
        });
    }
    let mut policies = args.policies.clone();
    if policies.is_empty() {
        policies = StudyPolicy::ALL.to_vec();
    }
    policies.sort();
    policies.dedup();
    let spec = StudySpec {
        policies,
        seeds: (0..u64::from(args.seeds))
            .map(|i| args.first_seed.wrapping_add(i))
            .collect(),
        load: args.load,
    };
    let runs = variants.len() * spec.seeds.len() * spec.policies.len();
    let bar = progress_bar(runs as u64, "runs");
    let results = with_threads(args.threads, || {
        run_study(&cluster, &variants, &spec, || bar.inc(1))
    })?;
    bar.finish_and_clear();
    let command = command_line(&args);
    let report = FragmentationReport {
        command: &command,
        cluster: &cluster,
        variants: &variants,
        spec: &spec,
        runs: &results,
    };
    match &args.out {
        Some(out) => {
            write_report(out, &report.files())?;
            print!("{}", report.markdown());
        }
        None => print!("{}", report.headline_csv()),
    }
    Ok(())
}

/// The command as a user would retype it, with file names only (the
/// report must not depend on where the files were).
fn command_line(args: &FragmentationArgs) -> String {
    let name = |p: &PathBuf| {
        p.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    };
    let mut line = format!("aimsim fragmentation --nodes {}", name(&args.nodes));
    for p in &args.pods {
        line.push(' ');
        line.push_str(&name(p));
    }
    for p in &args.policies {
        line.push_str(&format!(" --policy {p}"));
    }
    line.push_str(&format!(
        " --seeds {} --first-seed {} --load {}",
        args.seeds, args.first_seed, args.load
    ));
    line
}
