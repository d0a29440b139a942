//! Property tests of whole simulations: random synthetic workloads on random
//! fleets keep every count consistent with every other at every instant.

use proptest::prelude::*;

use aimsim::hardware::{GpuKind, LayoutSpec, NodeShape};
use aimsim::profile::Catalog;
use aimsim::schedule::Policy;
use aimsim::sim::{simulate, ElasticSpec, FleetSpec, GpuGroup, RunConfig};
use aimsim::time::SimTime;
use aimsim::workload::synthetic::{
    ArrivalProcess, LifetimeDistribution, Popularity, SyntheticSpec, SyntheticWorkload,
};

const MODELS: [&str; 6] = [
    "Qwen/Qwen2.5-0.5B-Instruct",
    "meta-llama/Llama-3.1-8B-Instruct",
    "google/gemma-3-27B",
    "Qwen/Qwen3-32B-Instruct",
    "mistralai/Mixtral-8x7B-Instruct-v0.1",
    "meta-llama/Llama-3.3-70B-Instruct",
];

#[derive(Debug, Clone)]
struct Case {
    policy: Policy,
    layout: &'static str,
    gpus: u32,
    elastic: bool,
    rate_per_hour: f64,
    mean_lifetime_minutes: u64,
    models: usize,
    mix: [f64; 3],
    horizon_hours: u64,
    seed: u64,
    fallback: bool,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        prop::sample::select(Policy::ALL.to_vec()),
        prop::sample::select(vec!["SPX", "DPX/NPS2", "CPX/NPS4", "40,40,40,40"]),
        1u32..=6,
        any::<bool>(),
        1.0f64..120.0,
        5u64..1200,
        1usize..=MODELS.len(),
        (0.0f64..1.0, 0.0f64..1.0, 0.01f64..1.0),
        1u64..150,
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                policy,
                layout,
                gpus,
                elastic,
                rate_per_hour,
                mean_lifetime_minutes,
                models,
                (a, b, c),
                horizon_hours,
                seed,
                fallback,
            )| {
                let sum = a + b + c;
                Case {
                    policy,
                    layout,
                    gpus,
                    elastic,
                    rate_per_hour,
                    mean_lifetime_minutes,
                    models,
                    mix: [a / sum, b / sum, c / sum],
                    horizon_hours,
                    seed,
                    fallback,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_count_agrees_with_every_other(case in cases()) {
        let catalog = Catalog::builtin();
        let layout: LayoutSpec = case.layout.parse().unwrap();
        let fleet = FleetSpec {
            groups: vec![GpuGroup { kind: GpuKind::Mi300x, count: case.gpus, layout: layout.clone() }],
            node: NodeShape::REFERENCE,
            elastic: case.elastic.then(|| ElasticSpec { kind: GpuKind::Mi300x, layout, max_gpus: case.gpus + 4, release_after: Some(SimTime::seconds(1800)) }),
            policy: case.policy,
        };
        let spec = SyntheticSpec {
            arrivals: ArrivalProcess::Poisson { rate_per_hour: case.rate_per_hour },
            count: None,
            lifetime: LifetimeDistribution::Exponential { mean: SimTime::seconds(60 * case.mean_lifetime_minutes) },
            models: MODELS[..case.models].iter().map(|m| m.to_string()).collect(),
            popularity: Popularity::Zipf { exponent: 1.0 },
            precision_mix: aimsim::profile::PrecisionMix::new(case.mix).unwrap(),
            priorities: vec![],
        };
        let horizon = SimTime::hours(case.horizon_hours);
        let mut workload = SyntheticWorkload::new(spec, &catalog, case.seed).unwrap().until(horizon);
        let mix = workload.demand_mix();
        let config = RunConfig { horizon: Some(horizon), warmup: SimTime::ZERO, interval: Some(SimTime::seconds(1800)), precision_fallback: case.fallback };
        let result = simulate(fleet.build(&mix).unwrap(), &mut workload, &mix, config, &mut |_| {}).unwrap();
        let s = &result.summary;
        let t = &s.totals;
        // Every request is placed or rejected, and every placed one has left or is live.
        prop_assert_eq!(t.arrived, t.placed + t.rejected_total());
        prop_assert_eq!(t.placed, s.departures + s.live_at_end);
        for (name, v) in [("fit", t.fit_rate()), ("utilisation", s.utilisation_mean), ("fragmentation", s.fragmentation_mean), ("expected fragmentation", s.expected_fragmentation_mean)] {
            prop_assert!((0.0..=1.0).contains(&v), "{} = {}", name, v);
        }
        // GPU-hours are the integral of GPUs in use; peaks bound means.
        let hours = horizon.as_hours_f64();
        prop_assert!((s.gpu_hours_busy - s.gpus_busy_mean * hours).abs() <= 1e-6 * s.gpu_hours_busy.max(1.0));
        prop_assert!((s.gpu_hours_online - s.gpus_online_mean * hours).abs() <= 1e-6 * s.gpu_hours_online.max(1.0));
        prop_assert!(f64::from(s.gpus_busy_peak) >= s.gpus_busy_mean - 1e-9 && s.live_peak as f64 >= s.live_mean - 1e-9);
        prop_assert!(s.gpus_busy_peak <= s.gpus_online_peak);
        // The same at every sampled instant.
        for sample in &result.series {
            prop_assert_eq!(sample.arrivals, sample.placed + sample.rejected);
            prop_assert_eq!(sample.live, sample.placed - sample.departures);
            prop_assert!(sample.gpus_busy <= sample.gpus_online);
            prop_assert!((0.0..=1.0).contains(&sample.utilisation) && (0.0..=1.0).contains(&sample.fragmentation));
        }
        // The per-class counts add up to the totals.
        let arrived: u64 = result.classes.iter().map(|c| c.counts.arrived).sum();
        let placed: u64 = result.classes.iter().map(|c| c.counts.placed).sum();
        prop_assert_eq!((arrived, placed), (t.arrived, t.placed));
        // Fallback placements are placements, per class as in total, and
        // only with fallback on.
        let fallback: u64 = result.classes.iter().map(|c| c.counts.fallback).sum();
        prop_assert_eq!(fallback, t.fallback);
        prop_assert!(t.fallback <= t.placed);
        if !case.fallback {
            prop_assert_eq!(t.fallback, 0);
        }
        for class in &result.classes {
            if class.precision == Some(aimsim::profile::Precision::Int4) {
                prop_assert_eq!(class.counts.fallback, 0, "nothing is below INT4");
            }
        }
    }
}
