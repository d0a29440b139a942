//! Entry points that feed arbitrary bytes to each input reader, shared by
//! the fuzz targets in `fuzz/` and the test that replays their corpus. Each
//! must return (with an error or a result) for any input: no panic, no
//! hang, no unbounded memory.

use std::io::Cursor;
use std::sync::OnceLock;

use crate::hardware::{GpuKind, LayoutSpec, NodeShape};
use crate::profile::validate::{inspect_files, Severity};
use crate::profile::Catalog;
use crate::scenario::Scenario;
use crate::schedule::{DemandMix, Policy};
use crate::sim::{simulate, FleetSpec, GpuGroup, RunConfig};
use crate::units::Mib;
use crate::workload::alibaba::{AlibabaOptions, AlibabaWorkload, TraceGpu};
use crate::workload::trace::TraceWorkload;
use crate::workload::{scan, Workload};

/// Fleets larger than this are checked but not built while fuzzing.
const LARGEST_FLEET_BUILT: u32 = 1_000;

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(Catalog::builtin)
}

/// A profile file: validated, and loaded into a catalog when valid.
pub fn profile_json(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    let inspection = inspect_files(&[("fuzz.json".to_string(), text)]);
    if inspection
        .findings
        .iter()
        .all(|f| f.severity != Severity::Error)
    {
        let catalog =
            Catalog::from_profiles("fuzz", inspection.profiles.into_iter().map(|(_, p)| p));
        for variant in catalog.variants() {
            let _ = catalog.find(&variant.profile.model_id, variant.profile.precision);
        }
    }
}

/// A scenario file: parsed and checked; its fleet built when small.
pub fn scenario_toml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(scenario) = Scenario::parse(&text, "fuzz.toml", &[]) {
        let _ = scenario.sweep_spec();
        let _ = scenario.trace_gpu();
        if scenario.fleet.initial_gpus() <= LARGEST_FLEET_BUILT {
            let _ = scenario.fleet.build(&DemandMix::default());
        }
    }
}

/// A small fleet to replay fuzzed traces on.
fn small_fleet() -> FleetSpec {
    FleetSpec {
        groups: vec![GpuGroup {
            kind: GpuKind::Mi300x,
            count: 2,
            layout: "CPX/NPS4".parse::<LayoutSpec>().expect("a valid layout"),
        }],
        node: NodeShape::REFERENCE,
        elastic: None,
        policy: Policy::FragAware,
    }
}

/// Checks a workload's records, then replays them on a small fleet.
fn scan_and_replay<'a>(open: impl Fn() -> Option<Box<dyn Workload + 'a>>) {
    let Some(first) = open() else { return };
    let Ok(found) = scan(first) else { return };
    let Some(mut workload) = open() else { return };
    let fleet = small_fleet().build(&found.mix).expect("a valid fleet");
    let config = RunConfig {
        horizon: None,
        warmup: crate::time::SimTime::ZERO,
        interval: None,
        precision_fallback: false,
    };
    let _ = simulate(fleet, workload.as_mut(), &found.mix, config, &mut |_| {});
}

/// An aimsim trace CSV: checked, then replayed.
pub fn trace_csv(data: &[u8]) {
    scan_and_replay(|| {
        TraceWorkload::from_reader(Box::new(Cursor::new(data.to_vec())), "fuzz.csv", catalog())
            .ok()
            .map(|w| Box::new(w) as Box<dyn Workload>)
    });
}

/// An Alibaba pod CSV, as whole-GPU shares and as partition shares mapped
/// to profiles: checked, then replayed.
pub fn alibaba_csv(data: &[u8]) {
    for (trace_gpu, map, timed) in [
        (TraceGpu::Gpu(Mib::gib(192)), false, true),
        (TraceGpu::Partition(Mib::gib(24)), true, false),
    ] {
        let options = AlibabaOptions {
            trace_gpu,
            map_to_profiles: map.then(catalog),
            timed,
        };
        scan_and_replay(|| {
            AlibabaWorkload::from_reader(Box::new(Cursor::new(data.to_vec())), "fuzz.csv", options)
                .ok()
                .map(|w| Box::new(w) as Box<dyn Workload>)
        });
    }
}

/// Reads every request of a serving traffic source, to its end or its
/// first error.
fn drain(traffic: &mut dyn crate::serve::traffic::Traffic) {
    while let Some(request) = traffic.next_request() {
        if request.is_err() {
            return;
        }
    }
}

/// The Azure LLM inference trace: read, each request assigned a model.
pub fn azure_csv(data: &[u8]) {
    use crate::serve::traffic::{Assignment, AzureTraffic, Target};
    let models = vec![(
        Target {
            model: "meta-llama/Llama-3.1-8B-Instruct".into(),
            precision: None,
        },
        1.0,
    )];
    let assignment = Assignment::new(models).expect("a valid assignment");
    if let Ok(mut traffic) = AzureTraffic::from_reader(
        Box::new(Cursor::new(data.to_vec())),
        "fuzz.csv",
        assignment,
        1,
    ) {
        drain(&mut traffic);
    }
}

/// aimsim's inference request CSV: read to its end.
pub fn request_csv(data: &[u8]) {
    use crate::serve::traffic::CsvTraffic;
    if let Ok(mut traffic) =
        CsvTraffic::from_reader(Box::new(Cursor::new(data.to_vec())), "fuzz.csv")
    {
        drain(&mut traffic);
    }
}

/// A serving scenario: parsed and checked, its models looked up.
pub fn serving_toml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(scenario) = crate::scenario::ServeScenario::parse(&text, "fuzz.toml", &[]) {
        let _ = scenario.check_models(catalog(), "fuzz.toml");
        let _ = scenario.serve_config();
    }
}

/// The fragmentation study's node list, then a pod list on a fixed small
/// cluster, each read whole.
pub fn node_csv(data: &[u8]) {
    let _ = crate::cluster::Cluster::from_reader(Box::new(Cursor::new(data.to_vec())), "fuzz.csv");
}

/// A pod list of the fragmentation study, on a small cluster.
pub fn pod_csv(data: &[u8]) {
    use crate::cluster::{Cluster, PodList};
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    let cluster = CLUSTER.get_or_init(|| {
        let nodes = include_str!("../tests/fixtures/openb_nodes_small.csv");
        Cluster::from_reader(
            Box::new(Cursor::new(nodes.as_bytes().to_vec())),
            "nodes.csv",
        )
        .expect("a valid node list")
    });
    let _ = PodList::from_reader(Box::new(Cursor::new(data.to_vec())), "fuzz.csv", cluster);
}

/// A measured step-time table.
pub fn measured_csv(data: &[u8]) {
    let _ = crate::perf::MeasuredSet::parse(&String::from_utf8_lossy(data), "fuzz.csv");
}

/// An architecture table.
pub fn architecture_csv(data: &[u8]) {
    let _ = crate::profile::ArchitectureTable::parse(&String::from_utf8_lossy(data), "fuzz.csv");
}

/// A sizing table, and the profiles generated from it.
pub fn sizing_csv(data: &[u8]) {
    if let Ok(table) =
        crate::profile::SizingTable::parse(&String::from_utf8_lossy(data), "fuzz.csv")
    {
        let _ = crate::profile::generate_profiles(&table);
    }
}

/// A sweep shard's `results.csv`, read back for `merge`.
pub fn results_csv(data: &[u8]) {
    let _ = crate::report::study::parse_results_csv(&String::from_utf8_lossy(data), "fuzz.csv");
}
