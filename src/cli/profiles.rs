//! `aimsim profiles generate | validate | list | show`.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use aimsim::hardware::{ComputeMode, GpuKind, HostDemand, LayoutSpec, MemoryMode};
use aimsim::profile::validate::{inspect_dir, inspect_profiles};
use aimsim::profile::{generate_profiles, write_profiles, Catalog, Precision, SizingTable};
use aimsim::schedule::{Demand, PlacementRequest, Policy, Scheduler};

use super::{load_catalog, read_input, CliError, Format};
use aimsim::report::Table;

#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// Generate the FP16/INT8/INT4 profiles of every model of a sizing table.
    Generate {
        /// Sizing table (CSV: model_id,parameters,fp16_gb,int8_gb,int4_gb);
        /// the built-in aim_profiles/sizing.csv if omitted.
        #[arg(long, value_name = "CSV")]
        table: Option<PathBuf>,
        /// Folder to write the profiles into (created if missing).
        #[arg(long, value_name = "DIR", default_value = "aim_profiles")]
        out: PathBuf,
    },
    /// Check every profile of a folder (the built-in catalog if none is
    /// given); exit 1 on any error, print warnings a sizing study should see.
    Validate {
        /// The folder of *.json profiles (default: `--profiles DIR` if
        /// given, else the built-in catalog).
        dir: Option<PathBuf>,
    },
    /// List the catalog's variants.
    List {
        /// Only models whose id contains this text (case-insensitive).
        #[arg(long)]
        model: Option<String>,
        /// Only this precision.
        #[arg(long)]
        precision: Option<Precision>,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Show one model's variants and how many replicas fit one GPU per mode.
    Show {
        /// Exact model id, e.g. meta-llama/Llama-3.1-8B-Instruct.
        model: String,
        /// GPU kind to size against.
        #[arg(long, default_value = "MI300X")]
        gpu: GpuKind,
    },
}

pub fn run(command: ProfilesCommand, profiles: Option<&Path>) -> Result<(), CliError> {
    match command {
        ProfilesCommand::Generate { table, out } => generate(table.as_deref(), &out),
        ProfilesCommand::Validate { dir } => validate(dir.as_deref().or(profiles)),
        ProfilesCommand::List {
            model,
            precision,
            format,
        } => list(
            &load_catalog(profiles)?,
            model.as_deref(),
            precision,
            format,
        ),
        ProfilesCommand::Show { model, gpu } => show(&load_catalog(profiles)?, &model, gpu),
    }
}

fn generate(table: Option<&Path>, out: &Path) -> Result<(), CliError> {
    let table = match table {
        Some(path) => {
            let text = read_input(path, "sizing table")?;
            SizingTable::parse(&text, &path.display().to_string())?
        }
        None => SizingTable::builtin(),
    };
    let files = generate_profiles(&table);
    let written = write_profiles(&files, out).map_err(|error| CliError::Write {
        what: "profiles",
        path: out.to_path_buf(),
        error,
    })?;
    eprintln!(
        "wrote {} profiles of {} models to {}",
        written.len(),
        table.rows().len(),
        out.display()
    );
    Ok(())
}

fn validate(dir: Option<&Path>) -> Result<(), CliError> {
    let (inspection, source) = match dir {
        Some(dir) => (inspect_dir(dir)?, dir.display().to_string()),
        None => {
            let catalog = Catalog::builtin();
            let profiles = catalog.variants().iter().map(|v| &v.profile);
            (inspect_profiles(profiles), "built-in catalog".to_string())
        }
    };
    for finding in &inspection.findings {
        println!("{finding}");
    }
    let models: std::collections::BTreeSet<&str> = inspection
        .profiles
        .iter()
        .map(|(_, p)| p.model_id.as_str())
        .collect();
    let summary = format!(
        "{source}: {} profile files, {} models: {} errors, {} warnings",
        inspection.files_read,
        models.len(),
        inspection.error_count(),
        inspection.warning_count()
    );
    if inspection.error_count() > 0 {
        return Err(CliError::Found(summary));
    }
    eprintln!("{summary}");
    Ok(())
}

/// One catalog variant as `profiles list` prints it.
#[derive(serde::Serialize)]
struct Listed<'a> {
    model: &'a str,
    precision: Precision,
    parameters: &'a str,
    /// Exact, in GiB (the table shows it to two decimals).
    memory_gib: f64,
    #[serde(skip)]
    memory: aimsim::units::Mib,
    recommended_gib: f64,
    gpus: u32,
}

fn list(
    catalog: &Catalog,
    model: Option<&str>,
    precision: Option<Precision>,
    format: Format,
) -> Result<(), CliError> {
    let needle = model.map(str::to_ascii_lowercase);
    let rows: Vec<Listed> = catalog
        .variants()
        .iter()
        .filter(|v| {
            let p = &v.profile;
            needle
                .as_deref()
                .is_none_or(|n| p.model_id.to_ascii_lowercase().contains(n))
                && precision.is_none_or(|want| p.precision == want)
        })
        .map(|v| Listed {
            model: &v.profile.model_id,
            precision: v.profile.precision,
            parameters: &v.profile.parameters,
            memory_gib: v.memory.as_gib(),
            memory: v.memory,
            recommended_gib: v.profile.recommended_partition_gb,
            gpus: v.gpu_count,
        })
        .collect();
    if rows.is_empty() {
        return Err(CliError::Found(format!(
            "no profile in {} matches the filters",
            catalog.source()
        )));
    }
    match format {
        Format::Table => {
            let mut table = Table::new(&[
                "model",
                "precision",
                "parameters>",
                "memory GiB>",
                "recommended GiB>",
                "GPUs>",
            ]);
            for row in &rows {
                table.row(vec![
                    row.model.to_string(),
                    row.precision.to_string(),
                    row.parameters.to_string(),
                    row.memory.to_string(),
                    row.recommended_gib.to_string(),
                    row.gpus.to_string(),
                ]);
            }
            print!("{}", table.render());
        }
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&rows).expect("serialises")
        ),
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(std::io::stdout().lock());
            for row in &rows {
                writer
                    .serialize(row)
                    .map_err(|e| CliError::Found(format!("writing CSV: {e}")))?;
            }
            writer
                .flush()
                .map_err(|e| CliError::Found(format!("writing CSV: {e}")))?;
        }
    }
    Ok(())
}

fn show(catalog: &Catalog, model: &str, gpu: GpuKind) -> Result<(), CliError> {
    let ids = catalog.model(model)?;
    let modes: Vec<(ComputeMode, MemoryMode)> = ComputeMode::ALL
        .iter()
        .filter_map(|&c| gpu.valid_modes().into_iter().find(|&(vc, _)| vc == c))
        .collect();
    let mut headers = vec![
        "precision",
        "parameters>",
        "memory GiB>",
        "recommended GiB>",
        "GPUs>",
    ];
    let mode_headers: Vec<String> = modes
        .iter()
        .map(|(c, m)| {
            let layout = LayoutSpec::Mode(*c, *m).build(gpu).expect("valid mode");
            format!(
                "{c} {}x{}>",
                layout.partitions().len(),
                layout.largest_partition()
            )
        })
        .collect();
    headers.extend(mode_headers.iter().map(String::as_str));
    let mut table = Table::new(&headers);
    for id in ids {
        let variant = catalog.variant(id);
        let p = &variant.profile;
        let mut row = vec![
            p.precision.to_string(),
            p.parameters.clone(),
            variant.memory.to_string(),
            format!("{}", p.recommended_partition_gb),
            variant.gpu_count.to_string(),
        ];
        for &(c, m) in &modes {
            let layout = LayoutSpec::Mode(c, m).build(gpu).expect("valid mode");
            row.push(replicas_per_gpu(&layout, variant.memory, variant.gpu_count).to_string());
        }
        table.row(row);
    }
    println!("{model} on one {gpu}: replicas that fit per mode (charged at memory GiB)");
    print!("{}", table.render());
    let findings = inspect_profiles(
        catalog
            .variants()
            .iter()
            .map(|v| &v.profile)
            .filter(|p| p.model_id == model),
    );
    for finding in &findings.findings {
        println!("{finding}");
    }
    Ok(())
}

/// How many replicas the scheduler packs onto a fleet of `gpu_count` empty
/// GPUs laid out as `layout` (so multi-GPU replicas are counted per set).
fn replicas_per_gpu(
    layout: &aimsim::hardware::Layout,
    size: aimsim::units::Mib,
    gpu_count: u32,
) -> usize {
    let mut scheduler = Scheduler::uniform(Policy::FirstFit, layout, gpu_count as usize);
    let request = PlacementRequest {
        demand: Demand {
            size,
            gpu_count,
            partitions: 1,
            host: HostDemand::NONE,
        },
        preferred: None,
    };
    std::iter::from_fn(|| scheduler.schedule(&request).ok()).count()
}
