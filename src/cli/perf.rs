//! `aimsim perf`: what one replica of a model serves on a GPU kind,
//! partition and precision, per batch size; and the calibration of the
//! model behind it.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use aimsim::hardware::{GpuKind, LayoutSpec};
use aimsim::perf::calibration::{self, Comparison};
use aimsim::perf::{
    batch_latency, BatchLatency, Device, EngineLimits, KvCache, MeasuredSet, ReplicaModel,
    ReplicaSpec, Setup, FITTED,
};
use aimsim::profile::{Architecture, ArchitectureTable, Catalog, Precision};
use aimsim::serve::{EngineConfig, ReplicaMemory};

use super::{CliError, Format};
use aimsim::report::perf::{perf_csv, perf_table, BatchRow, DeviceFigures, PerfReport};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aimsim perf meta-llama/Llama-3.3-70B-Instruct:fp16 --gpu MI300X --input 1024 --output 1024 --batch 1 --batch 64
  aimsim perf meta-llama/Llama-3.1-8B-Instruct:int4 --gpu MI300X --mode CPX/NPS4 --input 1024 --output 256
  aimsim perf meta-llama/Llama-3.1-8B-Instruct --partitions 40,40,40,40 --input 512 --output 512
  aimsim perf --calibration")]
pub struct PerfArgs {
    /// The model, MODEL[:PRECISION] (precision fp16, int8 or int4; default
    /// fp16): a catalog model, or one of --arch FILE.
    #[arg(value_name = "MODEL", required_unless_present_any = ["calibration", "fit"])]
    model: Option<String>,
    /// GPU kind.
    #[arg(long, default_value = "MI300X")]
    gpu: GpuKind,
    /// Partition mode of the GPU, COMPUTE[/MEMORY] (SPX, DPX/NPS2, CPX/NPS4...);
    /// without a memory mode it is NPS1 (DPX means DPX/NPS1).
    #[arg(long, conflicts_with = "partitions", value_name = "MODE")]
    mode: Option<String>,
    /// Custom (software) partition sizes in GiB, e.g. 40,40,40,40: the
    /// replicas share the whole GPU's compute and bandwidth.
    #[arg(long, value_name = "SIZES")]
    partitions: Option<String>,
    /// Which partition holds the replica.
    #[arg(long, default_value_t = 0)]
    partition: usize,
    /// Memory the replica takes per GPU, as a serving scenario's `memory`:
    /// `partition` (all of it), `profile` (the catalog profile's quota,
    /// taken whole) or a size (`48 GiB`).
    #[arg(long, default_value = "partition", value_name = "MEMORY")]
    memory: ReplicaMemory,
    /// Tensor-parallel degree: whole GPUs the replica spans (1, 2, 4, 8).
    #[arg(long, default_value_t = 1)]
    tp: u32,
    /// Prompt tokens per request.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    input: u32,
    /// Output tokens per request.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    output: u32,
    /// Batch sizes to report (repeatable; default 1, 8, 32, 128 and the
    /// largest that fits).
    #[arg(long = "batch", value_parser = clap::value_parser!(u32).range(1..=65_536))]
    batches: Vec<u32>,
    /// Bits of the key/value cache.
    #[arg(long, value_enum, default_value = "16")]
    kv_cache: KvBits,
    /// Most sequences the engine runs at once (vLLM max_num_seqs).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    max_seqs: u32,
    /// Most tokens one iteration processes (vLLM max_num_batched_tokens).
    #[arg(long, default_value_t = 8192, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    max_batched_tokens: u32,
    /// Share of the replica's memory the engine takes (vLLM
    /// gpu_memory_utilization; under --memory profile the quota is taken
    /// whole, as the AIM runtime sets it).
    #[arg(long, default_value_t = 0.9)]
    memory_utilization: f64,
    /// Architecture CSV (format of aim_profiles/architectures.csv) for a
    /// model the catalog lacks.
    #[arg(long, value_name = "FILE")]
    arch: Option<PathBuf>,
    /// Measured table (CSV, see PERFORMANCE_MODEL.md) to use instead of the
    /// model where it applies.
    #[arg(long, value_name = "FILE")]
    measured: Option<PathBuf>,
    /// Print the calibration table: published measurements beside aimsim's
    /// predictions.
    #[arg(long, conflicts_with = "fit")]
    calibration: bool,
    /// Refit the fitted constants to the `fit` measurements and print them
    /// with the table they give.
    #[arg(long)]
    fit: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// Key/value cache bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum KvBits {
    /// 16-bit values.
    #[value(name = "16")]
    Sixteen,
    /// 8-bit (FP8) values.
    #[value(name = "8")]
    Eight,
}

pub fn run(args: PerfArgs, catalog: &Catalog) -> Result<(), CliError> {
    if args.calibration || args.fit {
        return calibration_command(&args);
    }
    let text = args.model.as_deref().expect("clap requires a model");
    let (model_id, precision) = match text.rsplit_once(':') {
        Some((m, p)) => (
            m,
            p.parse::<Precision>()
                .map_err(|e| CliError::Usage(e.to_string()))?,
        ),
        None => (text, Precision::Fp16),
    };
    let model_id = aimsim::profile::aliases::canonical(model_id);
    let mut table = ArchitectureTable::builtin();
    if let Some(path) = &args.arch {
        let text = super::read_input(path, "architecture file")?;
        table.extend(ArchitectureTable::parse(
            &text,
            &path.display().to_string(),
        )?);
    }
    // An id neither table knows is most often misspelt: the catalog's
    // error names the closest ids.
    let arch = table.get(model_id).ok_or_else(|| match catalog.model(model_id) {
        Err(unknown) => CliError::Found(format!(
            "{unknown} A model outside the catalog needs its --arch FILE (format of aim_profiles/architectures.csv)."
        )),
        Ok(_) => CliError::Found(format!(
            "no architecture for `{model_id}`: give its --arch FILE (format of aim_profiles/architectures.csv)"
        )),
    })?;
    let context = u64::from(args.input) + u64::from(args.output);
    if context > u64::from(arch.max_context) {
        // vLLM refuses such a request (and `serve` counts it as too long).
        return Err(CliError::Usage(format!(
            "--input {} + --output {} = {context} tokens is longer than {model_id}'s context of {} tokens: the engine would refuse the request",
            args.input, args.output, arch.max_context
        )));
    }
    if !(args.memory_utilization > 0.0 && args.memory_utilization <= 1.0) {
        return Err(CliError::Usage(format!(
            "--memory-utilization {} must be in (0, 1]",
            args.memory_utilization
        )));
    }
    let layout_text = args
        .partitions
        .as_deref()
        .or(args.mode.as_deref())
        .unwrap_or("SPX");
    let layout_spec = layout_text.parse::<LayoutSpec>()?;
    let layout = layout_spec.build(args.gpu)?;
    if args.partition >= layout.partitions().len() {
        return Err(CliError::Usage(format!(
            "--partition {} does not exist: the layout has {} partitions",
            args.partition,
            layout.partitions().len()
        )));
    }
    let measured = match &args.measured {
        Some(path) => {
            let text = super::read_input(path, "measured table")?;
            let set = MeasuredSet::parse(&text, &path.display().to_string())?;
            let setup = Setup {
                model: model_id.to_string(),
                precision,
                gpu: args.gpu,
                layout: layout_spec.to_string(),
                tp: args.tp,
            };
            Some(set.table(&setup).cloned().ok_or_else(|| {
                CliError::Usage(format!(
                    "{} has no row for {model_id} {precision} on {} {} tp {}",
                    path.display(),
                    args.gpu,
                    setup.layout,
                    args.tp
                ))
            })?)
        }
        None => None,
    };
    let engine = EngineConfig {
        limits: EngineLimits {
            max_seqs: args.max_seqs,
            max_batched_tokens: args.max_batched_tokens,
            memory_utilization: args.memory_utilization,
            scheduler_steps: 1,
        },
        ..EngineConfig::default()
    };
    let limits = engine.limits_for(args.memory);
    let mut device = Device::of_layout(&layout, args.partition);
    let memory = match args.memory {
        ReplicaMemory::Partition => device.memory,
        ReplicaMemory::Fixed(size) => size,
        ReplicaMemory::Profile => {
            let id = catalog
                .find(model_id, precision)
                .map_err(|e| CliError::Usage(format!("--memory profile: {e}")))?;
            catalog.variant(id).memory
        }
    };
    if memory > device.memory {
        return Err(CliError::Usage(format!(
            "--memory {}: {memory} GiB is more than the partition's {} GiB",
            args.memory, device.memory
        )));
    }
    device.memory = memory;
    let mut devices = vec![(device, 1)];
    if device.co_tenants > 1 {
        devices.push((device, device.co_tenants));
    }
    if !device.whole_gpu && device.co_tenants == 1 {
        // The same replica alone on a whole GPU, given the same memory
        // unless it takes its partition (then the whole GPU's).
        let mut whole = Device::whole(args.gpu);
        if args.memory != ReplicaMemory::Partition {
            whole.memory = device.memory;
        }
        devices.push((whole, 1));
    }
    let mut reports = Vec::new();
    for (device, busy) in devices {
        let spec = ReplicaSpec {
            arch,
            precision,
            kv_cache: match args.kv_cache {
                KvBits::Sixteen => KvCache::Bits16,
                KvBits::Eight => KvCache::Bits8,
            },
            device,
            tp: args.tp,
            limits,
            efficiency: FITTED,
        };
        let mut model = ReplicaModel::new(&spec).map_err(|e| CliError::Found(e.to_string()))?;
        if let (Some(table), true) = (&measured, reports.is_empty()) {
            model = model.with_measurements(table.clone());
        }
        reports.push(device_report(&args, arch, &model, device, busy));
    }
    let report = PerfReport {
        model: model_id.to_string(),
        precision,
        gpu: args.gpu,
        tp: args.tp,
        input_tokens: args.input,
        output_tokens: args.output,
        kv_cache_bits: match args.kv_cache {
            KvBits::Sixteen => 16,
            KvBits::Eight => 8,
        },
        devices: reports,
    };
    let text = match args.format {
        Format::Json => serde_json::to_string_pretty(&report).expect("serialises") + "\n",
        Format::Csv => perf_csv(&report),
        Format::Table => perf_table(&report),
    };
    print!("{text}");
    Ok(())
}

fn device_report(
    args: &PerfArgs,
    arch: &Architecture,
    model: &ReplicaModel,
    device: Device,
    busy: u32,
) -> DeviceFigures {
    let context = args.input + args.output;
    let max_batch = model.max_batch(context);
    let mut batches = if args.batches.is_empty() {
        let mut b: Vec<u32> = [1, 8, 32, 128]
            .into_iter()
            .filter(|&b| b < max_batch)
            .collect();
        b.push(max_batch.max(1));
        b
    } else {
        args.batches.clone()
    };
    batches.sort_unstable();
    batches.dedup();
    let gib = |bytes: f64| bytes / (1u64 << 30) as f64;
    // Replicas per GPU: every partition of the layout hosts one, or a
    // tensor-parallel replica spans tp GPUs.
    let per_gpu = f64::from(device.partitions_per_gpu) / f64::from(args.tp);
    let rows = batches
        .into_iter()
        .map(|batch| {
            let BatchLatency {
                ttft_s,
                tpot_s,
                e2e_s,
                tokens_per_s,
                ..
            } = batch_latency(model, batch, args.input, args.output, busy);
            // With software partitions, per GPU assumes every partition busy.
            let all_busy = if busy == device.co_tenants {
                tokens_per_s
            } else {
                batch_latency(model, batch, args.input, args.output, device.co_tenants).tokens_per_s
            };
            BatchRow {
                batch,
                ttft_ms: ttft_s * 1e3,
                tpot_ms: tpot_s * 1e3,
                e2e_s,
                tokens_per_s_replica: tokens_per_s,
                tokens_per_s_gpu: all_busy * per_gpu,
                fits: batch <= max_batch,
            }
        })
        .collect();
    let _ = arch;
    DeviceFigures {
        device: device.to_string(),
        busy_replicas: busy,
        replicas_per_gpu: device.partitions_per_gpu,
        weights_gib: gib(model.weight_memory()),
        kv_cache_gib: gib(model.kv_memory()),
        kv_cache_tokens: model.kv_capacity_tokens(),
        max_batch,
        rows,
    }
}

fn calibration_command(args: &PerfArgs) -> Result<(), CliError> {
    let efficiency = if args.fit {
        let (fitted, rms) = calibration::fit();
        eprintln!("fitted (rms log error on the fit rows {rms:.4}):");
        println!(
            "{}",
            serde_json::to_string_pretty(&fitted).expect("serialises")
        );
        fitted
    } else {
        FITTED
    };
    let comparisons: Vec<Comparison> = calibration::evaluate(efficiency);
    print!("{}", calibration::report(&comparisons));
    Ok(())
}
