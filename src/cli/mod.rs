//! Turns command-line arguments into validated engine inputs, runs the
//! command, and reports. Only this module reads flags, files or the
//! environment on behalf of the engine, and only here do errors become
//! exit codes.

mod place;
mod profiles;
mod simulate;
mod study;
mod table;

use std::fmt;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use aimsim::profile::Catalog;

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
    Sweep(study::SweepArgs),
    /// For every point of a scenario's [sweep] grid, find the smallest fleet
    /// whose fit rate reaches a target.
    Plan(study::PlanArgs),
    /// Combine the shard folders of `sweep --shard K/N` into one report,
    /// identical to an unsharded run's.
    Merge(study::MergeArgs),
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

/// A command failed. The message is one line; the kind picks the exit code.
#[derive(Debug)]
pub enum CliError {
    /// The arguments are wrong (exit 2).
    Usage(String),
    /// The command ran into bad data or could not complete (exit 1).
    Failure(String),
}

impl CliError {
    /// 2 for usage errors, 1 for failures.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Failure(_) => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(message) | CliError::Failure(message) => f.write_str(message),
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
        Command::Sweep(sweep) => study::sweep(sweep, &load_catalog(args.profiles.as_deref())?),
        Command::Plan(plan) => study::plan_command(plan, &load_catalog(args.profiles.as_deref())?),
        Command::Merge(merge) => study::merge(merge),
    }
}

/// The catalog from `--profiles DIR`, or the built-in one.
fn load_catalog(dir: Option<&std::path::Path>) -> Result<Catalog, CliError> {
    match dir {
        Some(dir) => Catalog::load(dir).map_err(|e| CliError::Failure(e.to_string())),
        None => Ok(Catalog::builtin()),
    }
}
