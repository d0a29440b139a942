//! Turns command-line arguments into validated engine inputs, runs the
//! command, and reports. Only this module reads flags, files or the
//! environment on behalf of the engine, and only here do errors become
//! exit codes.

mod fragmentation;
mod inputs;
mod merge;
mod output;
mod perf;
mod place;
mod plan;
mod profiles;
mod progress;
mod serve;
mod shards;
mod simulate;
mod study;
mod sweep;

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use aimsim::hardware::{LayoutError, LayoutParseError};
use aimsim::perf::MeasuredError;
use aimsim::profile::validate::FolderError;
use aimsim::profile::{ArchitectureError, Catalog, CatalogError, LookupError, SizingError};
use aimsim::report::study::ResultsCsvError;
use aimsim::scenario::{NotSweepable, ScenarioError, SourceError};
use aimsim::schedule::Policy;
use aimsim::serve::ServingPolicy;
use aimsim::sweep::SweepError;
use aimsim::workload::WorkloadError;

/// Simulation and capacity planning for AMD Instinct GPU fleets shared by
/// LLM deployments.
#[derive(Debug, Parser)]
#[command(name = "aimsim", version, about, max_term_width = 100)]
pub struct Args {
    /// Load AIM profiles from this folder instead of the built-in catalog
    /// (the 114 profiles of aim_profiles/, compiled in).
    #[arg(long, global = true, value_name = "DIR")]
    profiles: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate, validate, list and show AIM profiles.
    #[command(subcommand)]
    Profiles(profiles::ProfilesCommand),
    /// Place model replicas on a fleet, in order, and report where they went.
    Place(place::PlaceArgs),
    /// Replay a scenario's workload on its fleet and report fit rates, GPU
    /// counts, utilisation and fragmentation.
    Simulate(simulate::SimulateArgs),
    /// Run every point of a scenario's [sweep] grid once per seed, in
    /// parallel, and report fit rates, GPUs in use and their spread.
    Sweep(sweep::SweepArgs),
    /// Find the smallest fleet: for a deployment scenario's [sweep] grid,
    /// the fewest GPUs whose fit rate reaches a target; for a serving
    /// scenario's [plan], the fewest GPUs whose replicas meet its [slo].
    ///
    /// A deployment scenario (a [workload] and a [sweep] table): for every
    /// point of the grid (precision mix x GPU kind x layout x policy), the
    /// smallest fleet whose fit rate over the seeds reaches --target-fit.
    ///
    /// A serving scenario ([traffic], [slo] and [plan] tables): for every
    /// cell of the plan (GPU kind x layout x precision x policy x rate), the
    /// fewest replicas per model and GPUs that meet the SLO on the
    /// scenario's own traffic, and (plan.mixed, the default) a mixed fleet
    /// that picks each model's precision, partition mode, tensor-parallel
    /// degree and engine settings, verified by replaying the traffic. Each
    /// answer is written as a scenario `aimsim serve` replays.
    Plan(plan::PlanArgs),
    /// Combine the shard folders of `sweep --shard K/N` into one report,
    /// identical to an unsharded run's.
    Merge(merge::MergeArgs),
    /// What one replica of a model serves on a GPU kind, partition and
    /// precision: time to first token, time per output token and tokens/s
    /// per batch size, from the calibrated performance model.
    Perf(perf::PerfArgs),
    /// Place a serving scenario's replicas, replay inference traffic
    /// against them, and report TTFT, TPOT, latency percentiles,
    /// throughput and SLO attainment.
    Serve(serve::ServeArgs),
    /// Reproduce the fragmentation study ("Beware of Fragmentation", USENIX
    /// ATC'23) on its own cluster and pod lists: every policy it compares,
    /// every pod list, every seed, beside its published figures.
    Fragmentation(fragmentation::FragmentationArgs),
    /// Print a shell completion script for bash, zsh, fish, elvish or
    /// PowerShell (e.g. `aimsim completions bash > ~/.local/share/bash-completion/completions/aimsim`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff): aimsim's, or with COMMAND that command's,
    /// e.g. `aimsim man plan > aimsim-plan.1; man ./aimsim-plan.1`.
    Man {
        /// The command whose page to print (`plan`, `serve`, ...).
        command: Option<String>,
    },
}

/// Parses a policy name: the registry's names, listed with what each does
/// in `--help`.
pub fn policy_parser() -> impl clap::builder::TypedValueParser<Value = Policy> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(
        Policy::ALL.map(|policy| PossibleValue::new(policy.name()).help(policy.summary())),
    )
    .map(|name| name.parse::<Policy>().expect("a registered name"))
}

/// Parses a serving placement policy: `load-aware` or a memory policy's
/// name, each with its help line.
pub fn serving_policy_parser() -> impl clap::builder::TypedValueParser<Value = ServingPolicy> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    let load_aware = PossibleValue::new(ServingPolicy::LOAD_AWARE)
        .help("after memory fits, the device with the most compute headroom (the default)");
    PossibleValuesParser::new(
        std::iter::once(load_aware).chain(
            Policy::ALL.map(|policy| PossibleValue::new(policy.name()).help(policy.summary())),
        ),
    )
    .map(|name| name.parse::<ServingPolicy>().expect("a known name"))
}

/// Output format of commands that report data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    Table,
    /// One JSON document.
    Json,
    /// CSV with a header row.
    Csv,
}

/// Why a command failed. The message is one line;
/// [`CliError::exit_code`] is the one place that decides between a usage
/// error and a failure.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A flag's value is wrong, or flags contradict each other.
    #[error("{0}")]
    Usage(String),
    /// A layout given by flags cannot be parsed.
    #[error(transparent)]
    LayoutFlag(#[from] LayoutParseError),
    /// A layout given by flags does not fit the GPU kind.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A file cannot be read.
    #[error("cannot read {what} {path}: {error}", path = path.display())]
    Read {
        /// What the file is (`scenario`, `sizing table`).
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A report or profiles cannot be written.
    #[error("cannot write {what} to {path}: {error}", path = path.display())]
    Write {
        /// What was being written.
        what: &'static str,
        /// The folder.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A scenario file is malformed.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A scenario cannot be swept.
    #[error("{path}: {error}", path = path.display())]
    NotSweepable {
        /// The scenario file.
        path: PathBuf,
        /// Why.
        error: NotSweepable,
    },
    /// A workload cannot be read or replayed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A sweep or plan run failed.
    #[error(transparent)]
    Sweep(#[from] SweepError),
    /// A folder of profiles cannot be loaded.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A folder of profiles cannot be read.
    #[error(transparent)]
    Folder(#[from] FolderError),
    /// A model or precision the catalog lacks.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// A sizing table is malformed.
    #[error(transparent)]
    Sizing(#[from] SizingError),
    /// An architecture file is malformed.
    #[error(transparent)]
    Architecture(#[from] ArchitectureError),
    /// A measured table is malformed.
    #[error(transparent)]
    Measured(#[from] MeasuredError),
    /// A shard's results cannot be read back.
    #[error(transparent)]
    Results(#[from] ResultsCsvError),
    /// Shards that cannot be merged.
    #[error("{0}")]
    Merge(String),
    /// The command ran, and what it found is a failure (requests rejected,
    /// profiles with errors, nothing matching a filter).
    #[error("{0}")]
    Found(String),
    /// Inference traffic cannot be read.
    #[error(transparent)]
    Traffic(#[from] WorkloadError),
    /// Worker threads cannot be started.
    #[error("cannot start worker threads: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}

impl CliError {
    /// 2 for usage errors (wrong flags, a trace the scenario needs but the
    /// command line does not give), 1 for every other failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_)
            | CliError::LayoutFlag(_)
            | CliError::Layout(_)
            | CliError::Source(SourceError::MissingTrace(_)) => 2,
            _ => 1,
        }
    }
}

/// Runs the command the arguments name.
pub fn run(args: Args) -> Result<(), CliError> {
    match args.command {
        Command::Profiles(command) => profiles::run(command, args.profiles.as_deref()),
        Command::Place(place) => place::run(place, &load_catalog(args.profiles.as_deref())?),
        Command::Simulate(simulate) => {
            simulate::run(simulate, &load_catalog(args.profiles.as_deref())?)
        }
        Command::Sweep(sweep) => sweep::sweep(sweep, &load_catalog(args.profiles.as_deref())?),
        Command::Plan(plan) => plan::plan_command(plan, &load_catalog(args.profiles.as_deref())?),
        Command::Merge(merge) => merge::merge(merge, || load_catalog(args.profiles.as_deref())),
        Command::Perf(perf) => perf::run(perf, &load_catalog(args.profiles.as_deref())?),
        Command::Serve(serve) => serve::run(serve, &load_catalog(args.profiles.as_deref())?),
        Command::Fragmentation(fragmentation) => fragmentation::run(fragmentation),
        Command::Completions { shell } => {
            let mut command = Args::command();
            clap_complete::generate(shell, &mut command, "aimsim", &mut std::io::stdout());
            Ok(())
        }
        Command::Man { command } => {
            print!("{}", man_page(command.as_deref())?);
            Ok(())
        }
    }
}

/// The roff man page of aimsim (`None`) or of one of its commands, named
/// `aimsim-COMMAND` as aimsim's own page refers to it.
fn man_page(command: Option<&str>) -> Result<String, CliError> {
    let mut aimsim = Args::command();
    // Built, it lists the `help` command its page refers to as well.
    aimsim.build();
    let page = match command {
        None => aimsim,
        Some(name) => {
            let sub = aimsim
                .get_subcommands()
                .find(|c| c.get_name() == name)
                .ok_or_else(|| {
                    let names: Vec<&str> = aimsim.get_subcommands().map(|c| c.get_name()).collect();
                    CliError::Usage(format!(
                        "no command `{name}`; man pages exist for {}",
                        names.join(", ")
                    ))
                })?;
            sub.clone()
                .bin_name(format!("aimsim {name}"))
                .display_name(format!("aimsim-{name}"))
        }
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page)
        .source(format!("aimsim {}", env!("CARGO_PKG_VERSION")))
        .render(&mut roff)
        .expect("rendering to memory");
    Ok(String::from_utf8_lossy(&roff).into_owned())
}

/// Reads a text file the user named, or says which and why not.
fn read_input(path: &std::path::Path, what: &'static str) -> Result<String, CliError> {
    aimsim::input::read_text(path).map_err(|error| CliError::Read {
        what,
        path: path.to_path_buf(),
        error,
    })
}

/// The catalog from `--profiles DIR`, or the built-in one.
fn load_catalog(dir: Option<&std::path::Path>) -> Result<Catalog, CliError> {
    Ok(match dir {
        Some(dir) => Catalog::load(dir)?,
        None => Catalog::builtin(),
    })
}
