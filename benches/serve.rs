//! The serving simulator end to end (trace parsing, placement, every
//! engine iteration, metrics), on the two shipped scenarios the speed
//! targets name:
//!
//! - `azure_conv/8x8b_cpx`: the Azure LLM conversation trace (19,366
//!   requests, one hour) on eight Llama-3.1-8B replicas of one MI300X in
//!   CPX (`scenarios/serving-azure-conv.toml`). The trace is read from
//!   `AIMSIM_AZURE_CONV` or `../shared/traces/azure-llm-2023/` when present;
//!   otherwise a stand-in of the same size and shape is generated (the
//!   benchmark's name says which).
//! - `hour_1000rps/64_replicas`: one simulated hour at 1,000 requests/s
//!   over 64 replicas (`scenarios/serving-scale.toml`), 3.6 M requests.
//! - `placement/*`: placing 6,000 Llama-3.1-8B INT4 replicas (three models'
//!   worth of traffic) on 1,000 MI300X in CPX/NPS4, by predicted load
//!   (`load-aware`, through its index) and by memory (`best-fit`), the
//!   performance model built for every replica.
//! - `compose/*`: the mixed plan's exact composition (branch and bound)
//!   of 8 and 16 models, each with an option in each of five partition
//!   modes (sizes drawn from a seeded generator), nodes' CPU respected.
//!
//! `cargo bench --bench serve`

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal};

use aimsim::capacity::mixed::compose::{compose, Choice};
use aimsim::capacity::mixed::space::Mode;
use aimsim::hardware::{GpuKind, HostDemand, LayoutSpec, NodeShape};
use aimsim::perf::FITTED;
use aimsim::profile::{ArchitectureTable, Catalog};
use aimsim::scenario::{ServeScenario, TrafficSpec};
use aimsim::schedule::Policy;
use aimsim::serve::traffic::{Assignment, AzureTraffic, Traffic, TrafficShape};
use aimsim::serve::{deploy, serve, DeployInputs, Deployed, ServeOutcome, ServingPolicy};
use aimsim::units::Mib;

fn scenario(text: &str) -> ServeScenario {
    ServeScenario::parse(text, "bench", &[]).expect("a shipped scenario")
}

fn deployed(s: &ServeScenario) -> Deployed {
    // Without the traffic's shape every predicted load is zero: the
    // load-aware policy then spreads by replica count, as the traffic would.
    deploy(
        &s.fleet,
        s.policy,
        &s.deployments,
        &TrafficShape::none(),
        &DeployInputs {
            catalog: &Catalog::builtin(),
            architectures: &ArchitectureTable::builtin(),
            measured: None,
            engine: &s.engine,
            efficiency: FITTED,
        },
    )
    .expect("the shipped fleet serves")
}

fn run(s: &ServeScenario, d: &Deployed, traffic: &mut dyn Traffic) -> ServeOutcome {
    serve(
        &d.replicas,
        &s.deployment_keys(),
        d.gpus,
        d.devices,
        traffic,
        &s.serve_config(),
        |_| {},
    )
    .expect("the traffic is well formed")
}

/// The conversation trace's bytes and whether they are the real trace.
fn azure_conv() -> (Vec<u8>, bool) {
    let candidates = [
        std::env::var_os("AIMSIM_AZURE_CONV").map(PathBuf::from),
        Some(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../shared/traces/azure-llm-2023/AzureLLMInferenceTrace_conv.csv"),
        ),
    ];
    for path in candidates.into_iter().flatten() {
        if let Ok(bytes) = std::fs::read(&path) {
            return (bytes, true);
        }
    }
    (stand_in(), false)
}

/// 19,366 Poisson arrivals over an hour with conversation-like lengths
/// (prompt median ~1,000, output median ~200 tokens), in the trace's format.
fn stand_in() -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(19_366);
    let gap = Exp::new(19_366.0 / 3600.0).unwrap();
    let prompt = LogNormal::new(1000f64.ln(), 0.8).unwrap();
    let output = LogNormal::new(200f64.ln(), 0.7).unwrap();
    let mut text = String::from("TIMESTAMP,ContextTokens,GeneratedTokens\n");
    let mut t = 0.0;
    for _ in 0..19_366 {
        t += gap.sample(&mut rng);
        let whole = t as u64;
        text.push_str(&format!(
            "2023-11-16 {:02}:{:02}:{:02}.{:07},{},{}\n",
            18 + whole / 3600,
            (whole / 60) % 60,
            whole % 60,
            ((t - whole as f64) * 1e7) as u64,
            (prompt.sample(&mut rng) as u64).clamp(1, 14_000),
            (output.sample(&mut rng) as u64).clamp(1, 1000) + u64::from(rng.random::<bool>()),
        ));
    }
    text.into_bytes()
}

fn azure(c: &mut Criterion) {
    let s = scenario(include_str!("../scenarios/serving-azure-conv.toml"));
    let d = deployed(&s);
    let (bytes, real) = azure_conv();
    let TrafficSpec::Azure { models, .. } = &s.traffic else {
        panic!("the Azure scenario reads the Azure trace")
    };
    let mut group = c.benchmark_group("azure_conv");
    group.throughput(Throughput::Elements(19_366));
    group.sample_size(20);
    let name = if real {
        "8x8b_cpx"
    } else {
        "8x8b_cpx_stand_in"
    };
    group.bench_function(name, |b| {
        b.iter(|| {
            let mut traffic = AzureTraffic::from_reader(
                Box::new(Cursor::new(bytes.clone())),
                "conv",
                Assignment::new(models.clone()).unwrap(),
                s.seed,
            )
            .unwrap();
            run(&s, &d, &mut traffic)
        })
    });
    group.finish();
}

fn hour(c: &mut Criterion) {
    let s = scenario(include_str!("../scenarios/serving-scale.toml"));
    let d = deployed(&s);
    let mut group = c.benchmark_group("hour_1000rps");
    group.throughput(Throughput::Elements(3_600_000));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(60));
    group.bench_function("64_replicas", |b| {
        b.iter(|| {
            let mut traffic = s
                .traffic
                .open(None, Path::new("."), s.seed, s.horizon)
                .unwrap();
            run(&s, &d, &mut traffic)
        })
    });
    group.finish();
}

/// 1,000 CPX GPUs and 6,000 replicas of three deployments with traffic.
fn placement(c: &mut Criterion) {
    let mut text = String::from(
        "[run]\nseed = 1\nhorizon = \"1m\"\n[[fleet.gpus]]\nkind = \"MI300X\"\ncount = 1000\nlayout = \"CPX/NPS4\"\n[traffic]\nsource = \"synthetic\"\n[slo]\nttft = \"1s\"\n",
    );
    let models = [
        "meta-llama/Llama-3.1-8B-Instruct",
        "Qwen/Qwen3-4B-Instruct",
        "meta-llama/Llama-3.2-3B-Instruct",
    ];
    for model in models {
        text.push_str(&format!(
            "[[deployments]]\nmodel = \"{model}\"\nprecision = \"int4\"\nreplicas = 2000\n[[traffic.streams]]\nmodel = \"{model}\"\nrate = 500.0\nprompt = {{ distribution = \"fixed\", tokens = 1000 }}\noutput = {{ distribution = \"fixed\", tokens = 200 }}\n"
        ));
    }
    let s = scenario(&text);
    let shape = TrafficShape::measure(
        &mut s
            .traffic
            .open(None, Path::new("."), s.seed, s.horizon)
            .unwrap(),
        s.horizon,
    )
    .unwrap();
    let (catalog, architectures) = (Catalog::builtin(), ArchitectureTable::builtin());
    let inputs = DeployInputs {
        catalog: &catalog,
        architectures: &architectures,
        measured: None,
        engine: &s.engine,
        efficiency: FITTED,
    };
    let mut group = c.benchmark_group("placement");
    group.throughput(Throughput::Elements(6_000));
    group.sample_size(10);
    for policy in [
        ServingPolicy::LoadAware,
        ServingPolicy::Memory(Policy::BestFit),
    ] {
        group.bench_function(format!("1000_cpx_6000_replicas/{policy}"), |b| {
            b.iter(|| deploy(&s.fleet, policy, &s.deployments, &shape, &inputs).unwrap())
        });
    }
    group.finish();
}

/// The composition of `models` models, each with one option per mode.
fn composition_options(models: usize) -> (Vec<Mode>, Vec<Vec<Choice>>) {
    let mode = |layout: &str, partitions: u32| Mode {
        kind: GpuKind::Mi300x,
        layout: layout.parse::<LayoutSpec>().unwrap(),
        partitions,
        partition: Mib::gib(u64::from(192 / partitions)),
        price: 1.0,
    };
    let modes = vec![
        mode("SPX", 1),
        mode("DPX", 2),
        mode("QPX", 4),
        mode("CPX", 8),
        mode("96,48,48", 3),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(29);
    let host = HostDemand {
        cpu_milli: 2_000,
        memory: Mib::gib(16),
    };
    let options = (0..models)
        .map(|_| {
            (0..modes.len())
                .map(|k| {
                    let replicas = rng.random_range(1..=24);
                    let tp = if modes[k].partitions == 1 {
                        [1, 2, 4, 8][rng.random_range(0..4)]
                    } else {
                        1
                    };
                    Choice {
                        viable: k,
                        mode: k,
                        replicas,
                        slots: replicas * tp,
                        host,
                    }
                })
                .collect()
        })
        .collect();
    (modes, options)
}

fn composition(c: &mut Criterion) {
    let mut group = c.benchmark_group("compose");
    for models in [8, 16] {
        let (modes, options) = composition_options(models);
        group.bench_function(format!("{models}_models_5_modes"), |b| {
            b.iter(|| compose(&modes, &NodeShape::REFERENCE, &options).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, azure, hour, placement, composition);
criterion_main!(benches);
