//! Criterion benchmarks of the scheduler hot paths and the simulator.
//!
//! `cargo bench --bench scheduler` runs them all; pick a group with
//! `cargo bench --bench scheduler -- GROUP` (`pair`, `fleet`, `scan`,
//! `crossover`, `several`, `reject`, `simulate`, `openb`, `sweep_point`). The Alibaba replay needs
//! the trace: `AIMSIM_OPENB_TRACE=path/openb_pod_list_default.csv`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use aimsim::hardware::{GpuKind, Layout, LayoutSpec};
use aimsim::profile::Catalog;
use aimsim::scenario::SweepSpec;
use aimsim::scenario::{Scenario, WorkloadSource};
use aimsim::schedule::{
    ConfiguredPolicy, Demand, DemandMix, PlacementRequest, Policy, Scheduler, SearchMode,
};
use aimsim::sweep::{cells, Sweeper};
use aimsim::units::Mib;

/// The AIM seed example's replica: Llama-3.1-8B at fp16.
const REPLICA: Mib = Mib::gib(20);
/// Fleet sizes for the scaling groups.
const FLEET_SIZES: [usize; 4] = [100, 1_000, 10_000, 100_000];
/// Shares of fleet memory held by background replicas before timing.
const FILLS: [u64; 2] = [50, 90];
/// Background replicas: half a CPX partition.
const BACKGROUND: Mib = Mib::gib(12);

fn layout(text: &str) -> Layout {
    text.parse::<LayoutSpec>()
        .unwrap()
        .build(GpuKind::Mi300x)
        .unwrap()
}

/// Schedule then unschedule one replica on one empty MI300X.
fn pair_on_one_gpu(c: &mut Criterion) {
    let mut group = c.benchmark_group("pair");
    group.throughput(Throughput::Elements(1));
    for layout_text in ["40,40,40,40", "CPX/NPS4"] {
        for policy in Policy::ALL {
            let mut fleet = Scheduler::uniform(policy, &layout(layout_text), 1);
            let request = PlacementRequest::single(REPLICA);
            group.bench_with_input(
                BenchmarkId::new(policy.name(), layout_text),
                &request,
                |b, request| {
                    b.iter(|| {
                        let placement = fleet.schedule(black_box(request)).unwrap();
                        fleet.unschedule(placement.replica).unwrap();
                    })
                },
            );
        }
    }
    group.finish();
}

/// A CPX fleet of `gpus` filled to `fill`% with 12 GiB replicas, so every
/// GPU is equally full and the search cannot stop early by luck.
fn filled(policy: ConfiguredPolicy, gpus: usize, fill: u64, mode: SearchMode) -> Scheduler {
    let cpx = layout("CPX/NPS4");
    // Filled through the index (the scan's decisions are the same, only
    // slower), then switched to `mode`.
    let mut fleet = Scheduler::uniform(policy, &cpx, gpus);
    let target = cpx.partitions().iter().copied().sum::<Mib>().0 * gpus as u64 * fill / 100;
    let mut placed = 0;
    while placed + BACKGROUND.0 <= target {
        fleet
            .schedule(&PlacementRequest::single(BACKGROUND))
            .unwrap();
        placed += BACKGROUND.0;
    }
    fleet.with_search(mode)
}

/// The pair on fleets of 100 to 100,000 GPUs filled to 50% and 90%, in
/// `mode`, under group `name`.
fn pair_on_fleets(c: &mut Criterion, name: &str, mode: SearchMode, sizes: &[usize]) {
    let request = PlacementRequest::single(BACKGROUND);
    let policies = Policy::ALL.map(|p| (p.name(), ConfiguredPolicy::from(p)));
    pair_on_fleets_with(c, name, &policies, &request, mode, sizes);
}

/// The pair of `request` with each of `policies` (named) on fleets of
/// `sizes` GPUs filled to 50% and 90%, in `mode`, under group `name`.
fn pair_on_fleets_with(
    c: &mut Criterion,
    name: &str,
    policies: &[(&str, ConfiguredPolicy)],
    request: &PlacementRequest,
    mode: SearchMode,
    sizes: &[usize],
) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (policy_name, policy) in policies {
        for fill in FILLS {
            for &gpus in sizes {
                // Filled on first use: a filter that skips this benchmark
                // skips its (large) setup too.
                let mut fleet = None;
                let id = BenchmarkId::new(format!("{policy_name}/{fill}%"), gpus);
                group.bench_with_input(id, request, |b, request| {
                    let fleet =
                        fleet.get_or_insert_with(|| filled(policy.clone(), gpus, fill, mode));
                    b.iter(|| {
                        let placement = fleet.schedule(black_box(request)).unwrap();
                        fleet.unschedule(placement.replica).unwrap();
                    })
                });
            }
        }
    }
    group.finish();
}

fn fleet_indexed(c: &mut Criterion) {
    pair_on_fleets(c, "fleet", SearchMode::Auto, &FLEET_SIZES);
}

/// The same pair with the plain scan, for comparison (to 10,000 GPUs).
fn fleet_scan(c: &mut Criterion) {
    pair_on_fleets(c, "scan", SearchMode::Scan, &FLEET_SIZES[..3]);
}

/// Small fleets with the index forced on and off: where the index starts
/// to pay for its upkeep (each policy's `INDEX_FROM_GPUS`).
const CROSSOVER_SIZES: [usize; 8] = [32, 64, 128, 256, 512, 1024, 2048, 4096];

fn crossover(c: &mut Criterion) {
    pair_on_fleets(c, "crossover-index", SearchMode::Indexed, &CROSSOVER_SIZES);
    pair_on_fleets(c, "crossover-scan", SearchMode::Scan, &CROSSOVER_SIZES);
}

/// Requests for two partitions of one GPU (as the Alibaba trace mapped to
/// partitions makes), through the index and by the scan: `best-fit` and
/// `frag-aware` (the index visits GPUs value by value), and `frag-aware`
/// for a workload that itself asks two partitions of a GPU a quarter of the
/// time (`frag-aware-mixed`: the index ranks one GPU per state).
fn several_partitions(c: &mut Criterion) {
    let request = PlacementRequest {
        demand: Demand {
            partitions: 2,
            ..Demand::single(BACKGROUND)
        },
        preferred: None,
    };
    let mixed = DemandMix::new(vec![(Demand::single(BACKGROUND), 3), (request.demand, 1)]);
    let policies = [
        ("best-fit", Policy::BestFit.into()),
        ("frag-aware", Policy::FragAware.into()),
        ("frag-aware-mixed", Policy::FragAware.configure(&mixed)),
    ];
    let sizes = [1_000, 10_000];
    pair_on_fleets_with(
        c,
        "several-index",
        &policies,
        &request,
        SearchMode::Indexed,
        &sizes,
    );
    pair_on_fleets_with(
        c,
        "several-scan",
        &policies,
        &request,
        SearchMode::Scan,
        &sizes,
    );
}

/// A request nothing can take (the fleet is full to the last 4 GiB of
/// every partition), at the same fleet sizes.
fn rejection(c: &mut Criterion) {
    let mut group = c.benchmark_group("reject");
    group.throughput(Throughput::Elements(1));
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let cpx = layout("CPX/NPS4");
    for policy in Policy::ALL {
        for gpus in FLEET_SIZES {
            // Filled on first use, as in `pair_on_fleets`.
            let mut fleet = None;
            let request = PlacementRequest::single(Mib::gib(12));
            group.bench_with_input(
                BenchmarkId::new(policy.name(), gpus),
                &request,
                |b, request| {
                    let fleet = fleet.get_or_insert_with(|| {
                        let mut fleet = Scheduler::uniform(policy, &cpx, gpus);
                        while fleet
                            .schedule(&PlacementRequest::single(Mib::gib(20)))
                            .is_ok()
                        {}
                        fleet
                    });
                    b.iter(|| fleet.schedule(black_box(request)).unwrap_err())
                },
            );
        }
    }
    group.finish();
}

fn load_scenario(name: &str) -> Scenario {
    let path = format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
    Scenario::parse(&std::fs::read_to_string(&path).unwrap(), &path, &[]).unwrap()
}

/// Simulator throughput, in events per second, on the quickstart scenario
/// made longer (one year of arrivals).
fn simulator(c: &mut Criterion) {
    let catalog = Catalog::builtin();
    let scenario = load_scenario("quickstart.toml");
    let scenario = Scenario {
        horizon: Some(aimsim::time::SimTime::hours(24 * 365)),
        interval: None,
        ..scenario
    };
    let source = WorkloadSource::new(&scenario, &catalog, Path::new("."), None).unwrap();
    let survey = source.survey(false).unwrap();
    let config = scenario.run_config(None);
    let events = source
        .replay(scenario.seed, &survey, config, &mut |_| {})
        .unwrap()
        .summary
        .events;
    let mut group = c.benchmark_group("simulate");
    group
        .throughput(Throughput::Elements(events))
        .sample_size(10);
    group.bench_function("quickstart-1y", |b| {
        b.iter(|| {
            source
                .replay(scenario.seed, &survey, config, &mut |_| {})
                .unwrap()
        })
    });
    group.finish();
}

/// The Alibaba pod trace replayed end to end (both passes: the check and
/// the replay), when `AIMSIM_OPENB_TRACE` names it.
fn openb(c: &mut Criterion) {
    let Ok(trace) = std::env::var("AIMSIM_OPENB_TRACE") else {
        eprintln!("openb: skipped; set AIMSIM_OPENB_TRACE to openb_pod_list_default.csv to run it");
        return;
    };
    let catalog = Catalog::builtin();
    let scenario = load_scenario("openb-replay.toml");
    let mut group = c.benchmark_group("openb");
    group.sample_size(10);
    group.bench_function("replay", |b| {
        b.iter(|| {
            let source =
                WorkloadSource::new(&scenario, &catalog, Path::new("."), Some(Path::new(&trace)))
                    .unwrap();
            let survey = source.survey(true).unwrap();
            let config = scenario.run_config(survey.last_arrival);
            source
                .replay(scenario.seed, &survey, config, &mut |_| {})
                .unwrap()
        })
    });
    group.finish();
}

/// One grid point of the precision sweep: 10,000 deployments on 48 SPX
/// MI300X, one seed.
fn sweep_point(c: &mut Criterion) {
    let catalog = Catalog::builtin();
    let scenario = load_scenario("precision-sweep.toml");
    let spec: SweepSpec = scenario.sweep_spec().unwrap();
    let cell = cells(&spec)[0].clone();
    let sweeper = Sweeper::new(&scenario, &catalog, Path::new("."), None);
    let mut group = c.benchmark_group("sweep_point");
    group.sample_size(10);
    group.bench_function("precision-sweep/0", |b| {
        b.iter(|| {
            sweeper
                .run(&cell, Sweeper::fixed_fleet(&cell, 48), 0)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    pair_on_one_gpu,
    fleet_indexed,
    fleet_scan,
    crossover,
    several_partitions,
    rejection,
    simulator,
    openb,
    sweep_point
);
criterion_main!(benches);
