//! `aimsim place`: the AIM example as one command, and its generalisation
//! to many requests over a fleet.

use std::fmt::Write as _;
use std::str::FromStr;

use clap::Args;

use aimsim::hardware::{GpuKind, Layout, LayoutSpec};
use aimsim::profile::{Catalog, Precision, SizingTable, VariantId};
use aimsim::schedule::{
    schedule_at_lower_precision, DemandMix, PartitionRef, PlacementRequest, Policy, RejectCode,
    Scheduler,
};
use aimsim::workload::variant_demand;

use super::inputs::warn_outgrown_profiles;
use super::{CliError, Format};
use aimsim::report::placement::{
    placement_csv, placement_table, PartitionReport, PlacementOutcome, PlacementReport,
};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  aimsim place meta-llama/Llama-3.1-8B-Instruct:int4 Qwen/Qwen3-14B-Instruct --partitions 40,40,40,40
  aimsim place --all-models --precision int4 --gpus 4 --mode CPX/NPS4
  aimsim place meta-llama/Llama-3.3-70B-Instruct:int4*200 meta-llama/Llama-3.1-8B-Instruct:int4*400 --gpus 128")]
pub struct PlaceArgs {
    /// Requests, placed in order (higher priority first):
    /// MODEL[:PRECISION][@[GPU.]PARTITION][^PRIORITY][*COUNT], e.g.
    /// meta-llama/Llama-3.1-8B-Instruct:int4@2^5 prefers partition 2 of GPU 0
    /// and has priority 5; meta-llama/Llama-3.3-70B-Instruct:int4*200 asks
    /// for 200 replicas.
    #[arg(value_name = "REQUEST", required_unless_present = "all_models")]
    requests: Vec<RequestSpec>,
    /// Request one replica of every model in the catalog (at --precision),
    /// in the order of the sizing table (aim_profiles/sizing.csv), as the
    /// AIM runtime's example lists them; models of a --profiles folder that
    /// the table lacks follow in id order.
    #[arg(long, conflicts_with = "requests")]
    all_models: bool,
    /// Precision of requests that name none.
    #[arg(long, default_value = "fp16")]
    precision: Precision,
    /// GPU kind of the fleet.
    #[arg(long, default_value = "MI300X")]
    gpu: GpuKind,
    /// GPUs in the fleet.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    gpus: u32,
    /// Partition mode, COMPUTE[/MEMORY]: SPX, DPX/NPS2, QPX/NPS4, CPX/NPS4...;
    /// without a memory mode it is NPS1 (DPX means DPX/NPS1).
    #[arg(long, conflicts_with = "partitions", value_name = "MODE")]
    mode: Option<String>,
    /// Custom partition sizes in GiB, e.g. 40,40,40,40 (sum <= GPU - 4 GiB).
    #[arg(long, value_name = "SIZES")]
    partitions: Option<String>,
    /// Placement policy (frag-aware scores with the mix of the requests
    /// given).
    #[arg(long, default_value = "aim", ignore_case = true, value_parser = super::policy_parser())]
    policy: Policy,
    /// Place a request that fits nowhere at its precision at the next lower
    /// one that fits (FP16 -> INT8 -> INT4), marked as a fallback.
    #[arg(long)]
    fallback: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// One request as typed on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RequestSpec {
    model: String,
    precision: Option<Precision>,
    preferred: Option<PartitionRef>,
    priority: i32,
    count: u32,
}

/// Most replicas one `*COUNT` may ask for.
const MAX_COUNT: u32 = 1_000_000;

impl FromStr for RequestSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (rest, count) = match text.rsplit_once('*') {
            Some((rest, n)) => (
                rest,
                n.parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_COUNT).contains(n))
                    .ok_or_else(|| {
                        format!(
                            "count `{n}` in `{text}` is not a whole number from 1 to {MAX_COUNT}"
                        )
                    })?,
            ),
            None => (text, 1),
        };
        let (rest, priority) = match rest.rsplit_once('^') {
            Some((rest, p)) => (
                rest,
                p.parse()
                    .map_err(|_| format!("priority `{p}` in `{text}` is not an integer"))?,
            ),
            None => (rest, 0),
        };
        let (rest, preferred) = match rest.rsplit_once('@') {
            Some((rest, at)) => (
                rest,
                Some(parse_partition_ref(at).map_err(|e| format!("`{text}`: {e}"))?),
            ),
            None => (rest, None),
        };
        let (model, precision) = match rest.rsplit_once(':') {
            Some((model, p)) => (
                model,
                Some(
                    p.parse::<Precision>()
                        .map_err(|e| format!("`{text}`: {e}"))?,
                ),
            ),
            None => (rest, None),
        };
        if model.is_empty() {
            return Err(format!("`{text}` names no model"));
        }
        Ok(RequestSpec {
            model: model.to_string(),
            precision,
            preferred,
            priority,
            count,
        })
    }
}

/// `PARTITION` (on GPU 0) or `GPU.PARTITION`.
fn parse_partition_ref(text: &str) -> Result<PartitionRef, String> {
    let number = |t: &str| {
        t.parse::<u32>()
            .map_err(|_| format!("preferred partition `{text}` is not GPU.PARTITION or PARTITION"))
    };
    match text.split_once('.') {
        Some((gpu, partition)) => Ok(PartitionRef {
            gpu: number(gpu)?,
            partition: number(partition)?,
        }),
        None => Ok(PartitionRef {
            gpu: 0,
            partition: number(text)?,
        }),
    }
}

/// What one replica of `variant` asks of the fleet.
/// A request resolved against the catalog.
struct Resolved {
    spec: RequestSpec,
    variant: VariantId,
}

pub fn run(args: PlaceArgs, catalog: &Catalog) -> Result<(), CliError> {
    let layout = build_layout(&args)?;
    let mut specs: Vec<RequestSpec> = if args.all_models {
        sizing_table_order(catalog)
            .into_iter()
            .map(|model| RequestSpec {
                model: model.to_string(),
                precision: Some(args.precision),
                preferred: None,
                priority: 0,
                count: 1,
            })
            .collect()
    } else {
        let replicas: u64 = args.requests.iter().map(|r| u64::from(r.count)).sum();
        if replicas > u64::from(MAX_COUNT) {
            return Err(CliError::Usage(format!(
                "{replicas} replicas asked for; at most {MAX_COUNT} in one run"
            )));
        }
        args.requests
            .iter()
            .flat_map(|r| std::iter::repeat_n(r.clone(), r.count as usize))
            .collect()
    };
    // Priority decides admission order: higher first, ties in the order given.
    specs.sort_by_key(|s| std::cmp::Reverse(s.priority));
    let resolved = specs
        .into_iter()
        .map(|spec| {
            let precision = spec.precision.unwrap_or(args.precision);
            let variant = catalog.find(&spec.model, precision)?;
            Ok(Resolved { spec, variant })
        })
        .collect::<Result<Vec<_>, CliError>>()?;
    let used: std::collections::BTreeSet<(&str, Precision)> = resolved
        .iter()
        .map(|r| {
            let profile = &catalog.variant(r.variant).profile;
            (profile.model_id.as_str(), profile.precision)
        })
        .collect();
    warn_outgrown_profiles(catalog, used);

    let mix = DemandMix::new(
        resolved
            .iter()
            .map(|r| (variant_demand(catalog.variant(r.variant)), 1)),
    );
    let mut scheduler =
        Scheduler::uniform(args.policy.configure(&mix), &layout, args.gpus as usize);
    let outcomes: Vec<PlacementOutcome> = resolved
        .iter()
        .enumerate()
        .map(|(order, r)| place_one(&mut scheduler, catalog, order + 1, r, args.fallback))
        .collect();
    let report = build_report(&args, &layout, catalog, &scheduler, outcomes);
    let text = match args.format {
        Format::Table => placement_table(&report),
        Format::Json => serde_json::to_string_pretty(&report).expect("report serialises") + "\n",
        Format::Csv => placement_csv(&report),
    };
    print!("{text}");
    if report.placed < report.requested {
        let never = report
            .requests
            .iter()
            .filter(|o| o.code == Some(RejectCode::NeverFits.name()))
            .count();
        let mut message = format!(
            "{} of {} requests rejected",
            report.requested - report.placed,
            report.requested
        );
        if never > 0 {
            let _ = write!(message, " ({never} can never fit {})", layout);
        }
        return Err(CliError::Found(message));
    }
    Ok(())
}

/// The catalog's model ids in the built-in sizing table's order, then any
/// the table lacks in id order.
fn sizing_table_order(catalog: &Catalog) -> Vec<&str> {
    let sizing = SizingTable::builtin();
    let position = |id: &str| sizing.rows().iter().position(|row| row.model_id == id);
    let mut ids: Vec<&str> = catalog.model_ids().collect();
    ids.sort_by_key(|id| (position(id).unwrap_or(usize::MAX), *id));
    ids
}

fn build_layout(args: &PlaceArgs) -> Result<Layout, CliError> {
    let text = args
        .partitions
        .as_deref()
        .or(args.mode.as_deref())
        .unwrap_or("SPX");
    let spec: LayoutSpec = text.parse()?;
    if args.partitions.is_some() != matches!(spec, LayoutSpec::Custom(_)) {
        let flag = if args.partitions.is_some() {
            "--partitions takes sizes"
        } else {
            "--mode takes a mode"
        };
        return Err(CliError::Usage(format!("{flag}, not `{text}`")));
    }
    Ok(spec.build(args.gpu)?)
}

/// Places one request; with `fallback`, a rejected one is tried at each
/// lower precision of its model in turn.
fn place_one(
    scheduler: &mut Scheduler,
    catalog: &Catalog,
    order: usize,
    r: &Resolved,
    fallback: bool,
) -> PlacementOutcome {
    let variant = catalog.variant(r.variant);
    let request = PlacementRequest {
        demand: variant_demand(variant),
        preferred: r.spec.preferred,
    };
    let mut outcome = PlacementOutcome {
        order,
        model: r.spec.model.clone(),
        precision: variant.profile.precision,
        priority: r.spec.priority,
        size_gib: variant.memory.as_gib(),
        gpu_count: variant.gpu_count,
        status: "placed",
        replica: None,
        gpus: Vec::new(),
        partitions: Vec::new(),
        code: None,
        reason: None,
        fallback_from: None,
    };
    let mut result = scheduler.schedule(&request);
    if result.is_err() && fallback {
        let own = variant.profile.precision;
        let lower = |p| {
            catalog
                .find(&r.spec.model, p)
                .ok()
                .map(|id| catalog.variant(id))
        };
        if let Some((placement, at)) =
            schedule_at_lower_precision(scheduler, own, r.spec.preferred, |p| {
                lower(p).map(variant_demand)
            })
        {
            let placed = lower(at).expect("placed at a precision the catalog has");
            outcome.fallback_from = Some(own);
            outcome.precision = at;
            outcome.size_gib = placed.memory.as_gib();
            outcome.gpu_count = placed.gpu_count;
            outcome.status = "fallback";
            result = Ok(placement);
        }
    }
    match result {
        Ok(placement) => {
            outcome.replica = Some(placement.replica.to_string());
            outcome.gpus = placement.shards().map(|s| s.at.gpu).collect();
            outcome.partitions = placement.shards().map(|s| s.at.partition).collect();
        }
        Err(rejection) => {
            outcome.status = "rejected";
            outcome.code = Some(rejection.code.name());
            outcome.reason = Some(rejection.to_string());
        }
    }
    outcome
}

fn build_report(
    args: &PlaceArgs,
    layout: &Layout,
    catalog: &Catalog,
    scheduler: &Scheduler,
    requests: Vec<PlacementOutcome>,
) -> PlacementReport {
    let mut partitions = Vec::new();
    for (g, gpu) in scheduler.gpus().iter().enumerate() {
        for (p, part) in gpu.partitions().iter().enumerate() {
            partitions.push(PartitionReport {
                gpu: g as u32,
                partition: p as u32,
                capacity_gib: part.capacity().as_gib(),
                used_gib: part.used().as_gib(),
                free_gib: part.free().as_gib(),
                replicas: part.replicas(),
                utilisation: part.used().0 as f64 / part.capacity().0 as f64,
            });
        }
    }
    let capacity: u64 = scheduler.gpus().iter().map(|g| g.capacity().0).sum();
    let used: u64 = scheduler.gpus().iter().map(|g| g.used().0).sum();
    PlacementReport {
        gpu: args.gpu.to_string(),
        layout: layout.spec().to_string(),
        gpus: args.gpus,
        policy: args.policy.to_string(),
        catalog: catalog.source().to_string(),
        placed: requests.iter().filter(|o| o.reason.is_none()).count(),
        requested: requests.len(),
        requests,
        partitions,
        gpus_used: scheduler.gpus_in_use(),
        memory_utilisation: used as f64 / capacity as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_specs_parse_every_part() {
        let spec: RequestSpec = "meta-llama/Llama-3.1-8B-Instruct:int4@1.2^5"
            .parse()
            .unwrap();
        assert_eq!(spec.model, "meta-llama/Llama-3.1-8B-Instruct");
        assert_eq!(spec.precision, Some(Precision::Int4));
        assert_eq!(
            spec.preferred,
            Some(PartitionRef {
                gpu: 1,
                partition: 2
            })
        );
        assert_eq!(spec.priority, 5);
        let bare: RequestSpec = "google/gemma-3-1B".parse().unwrap();
        assert_eq!(
            (bare.precision, bare.preferred, bare.priority),
            (None, None, 0)
        );
        for bad in [":fp16", "m:fp4", "m@x", "m^high", "m@1.x"] {
            assert!(bad.parse::<RequestSpec>().is_err(), "{bad}");
        }
    }
}
