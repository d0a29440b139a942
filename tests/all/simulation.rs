//! The simulator against closed forms (Little's law, Erlang-B) and against
//! hand-worked small cases: warm-up, horizon, priorities, elastic fleets.

use aimsim::hardware::{GpuKind, HostDemand, LayoutSpec, NodeShape};
use aimsim::profile::Catalog;
use aimsim::schedule::{Demand, Policy};
use aimsim::sim::{simulate, ElasticSpec, FleetSpec, GpuGroup, RunConfig, RunResult};
use aimsim::time::SimTime;
use aimsim::units::Mib;
use aimsim::workload::synthetic::{
    ArrivalProcess, LifetimeDistribution, Popularity, SyntheticSpec, SyntheticWorkload,
};
use aimsim::workload::{ClassTable, DeploymentRequest, Workload, WorkloadError};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Llama-3.1-8B at fp16: 20 GiB, one per CPX partition.
const MODEL: &str = "meta-llama/Llama-3.1-8B-Instruct";

fn fleet(count: u32, layout: &str, policy: Policy) -> FleetSpec {
    FleetSpec {
        groups: vec![GpuGroup {
            kind: GpuKind::Mi300x,
            count,
            layout: layout.parse::<LayoutSpec>().unwrap(),
        }],
        node: NodeShape::REFERENCE,
        elastic: None,
        policy,
    }
}

fn poisson(rate_per_hour: f64, mean_lifetime: SimTime, count: Option<u64>) -> SyntheticSpec {
    SyntheticSpec {
        arrivals: ArrivalProcess::Poisson { rate_per_hour },
        count,
        lifetime: LifetimeDistribution::Exponential {
            mean: mean_lifetime,
        },
        models: vec![MODEL.into()],
        popularity: Popularity::Uniform,
        precision_mix: aimsim::profile::PrecisionMix::pure(aimsim::profile::Precision::Fp16),
        priorities: vec![],
    }
}

fn run_synthetic(
    fleet: &FleetSpec,
    spec: SyntheticSpec,
    seed: u64,
    config: RunConfig,
) -> RunResult {
    let catalog = Catalog::builtin();
    let mut workload = SyntheticWorkload::new(spec, &catalog, seed).unwrap();
    let mix = workload.demand_mix();
    replay(fleet, &mut workload, &mix, config)
}

/// Simulates `workload` on a fresh `fleet`, with no progress reports.
fn replay(
    fleet: &FleetSpec,
    workload: &mut dyn Workload,
    mix: &aimsim::schedule::DemandMix,
    config: RunConfig,
) -> RunResult {
    simulate(
        fleet.build(mix).unwrap(),
        workload,
        mix,
        config,
        &mut |_| {},
    )
    .unwrap()
}

#[test]
fn littles_law_holds_when_nothing_is_rejected() {
    // M/M/inf: lambda = 60/h, mean lifetime 2 h, so L = 120 live replicas.
    // 64 SPX GPUs hold 9 x 20 GiB each = 576: never full.
    // The time average of an M/M/inf occupancy over T has variance about
    // 2 L / (mu T) (its autocorrelation decays at rate mu): with T = 5,000 h
    // and mu = 0.5/h that is 0.096, a standard deviation of 0.31. Five of
    // them is the tolerance.
    let (lambda, mean_hours, horizon_hours, warmup_hours) = (60.0, 2.0, 5_000.0, 20.0);
    let result = run_synthetic(
        &fleet(64, "SPX", Policy::Aim),
        poisson(lambda, SimTime::hours(2), None),
        11,
        RunConfig {
            horizon: Some(SimTime::hours(horizon_hours as u64)),
            warmup: SimTime::hours(warmup_hours as u64),
            interval: None,
            precision_fallback: false,
        },
    );
    let s = &result.summary;
    assert_eq!(s.totals.rejected_total(), 0);
    let expected = lambda * mean_hours;
    let sd = (2.0 * expected / ((1.0 / mean_hours) * (horizon_hours - warmup_hours))).sqrt();
    assert!(
        (s.live_mean - expected).abs() < 5.0 * sd,
        "live mean {} vs {expected} +- {}",
        s.live_mean,
        5.0 * sd
    );
    // And the arrival count is Poisson(lambda T): within 5 standard deviations.
    let arrivals = lambda * (horizon_hours - warmup_hours);
    assert!((s.totals.arrived as f64 - arrivals).abs() < 5.0 * arrivals.sqrt());
    // GPU-hours are the integral of GPUs in use.
    let span = horizon_hours - warmup_hours;
    assert!((s.gpu_hours_busy - s.gpus_busy_mean * span).abs() < 1e-6 * s.gpu_hours_busy);
}

/// Erlang's loss formula B(c, a) by the stable recursion.
fn erlang_b(servers: u32, load: f64) -> f64 {
    (1..=servers).fold(1.0, |b, k| load * b / (k as f64 + load * b))
}

#[test]
fn rejection_rate_matches_erlang_b() {
    // Two CPX MI300X: 16 partitions of 24 GiB, each holding exactly one
    // 20 GiB replica: a loss system with c = 16 servers. lambda = 7/h and a
    // 2 h mean lifetime offer a = 14 Erlangs.
    let (servers, lambda, mean_hours) = (16u32, 7.0, 2.0);
    let expected = erlang_b(servers, lambda * mean_hours);
    // Twenty independent replications; a 99.9% Student-t interval on their
    // mean blocking probability must contain the formula's value.
    let replications = 20;
    let blocking: Vec<f64> = (0..replications)
        .map(|seed| {
            let r = run_synthetic(
                &fleet(2, "CPX/NPS4", Policy::BestFit),
                poisson(lambda, SimTime::hours(2), None),
                1000 + seed,
                RunConfig {
                    horizon: Some(SimTime::hours(3_000)),
                    warmup: SimTime::hours(20),
                    interval: None,
                    precision_fallback: false,
                },
            );
            let t = &r.summary.totals;
            assert_eq!(t.rejected[1] + t.rejected[2], 0, "only capacity rejections");
            t.rejected_total() as f64 / t.arrived as f64
        })
        .collect();
    let n = blocking.len() as f64;
    let mean = blocking.iter().sum::<f64>() / n;
    let sd = (blocking.iter().map(|b| (b - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let t = StudentsT::new(0.0, 1.0, n - 1.0)
        .unwrap()
        .inverse_cdf(0.9995);
    let half_width = t * sd / n.sqrt();
    assert!(
        expected > 0.05 && expected < 0.3,
        "the case should block noticeably: {expected}"
    );
    assert!(
        (mean - expected).abs() <= half_width,
        "simulated {mean:.4} +- {half_width:.4}, Erlang-B {expected:.4}"
    );
}

/// A fixed list of requests, for hand-worked cases.
struct Listed {
    requests: std::vec::IntoIter<DeploymentRequest>,
    classes: ClassTable,
}

impl Listed {
    fn new(items: &[(u64, Option<u64>, u64, i32)]) -> Listed {
        // (arrival s, lifetime s, size GiB, priority); class = size.
        let mut classes = ClassTable::default();
        let requests: Vec<DeploymentRequest> = items
            .iter()
            .map(|&(arrival, lifetime, gib, priority)| DeploymentRequest {
                arrival: SimTime::seconds(arrival),
                lifetime: lifetime.map(SimTime::seconds),
                demand: Demand {
                    size: Mib::gib(gib),
                    gpu_count: 1,
                    partitions: 1,
                    host: HostDemand::NONE,
                },
                class: classes.intern(&format!("{gib} GiB"), None),
                priority,
            })
            .collect();
        Listed {
            requests: requests.into_iter(),
            classes,
        }
    }
}

impl Workload for Listed {
    fn next_request(&mut self) -> Option<Result<DeploymentRequest, WorkloadError>> {
        self.requests.next().map(Ok)
    }

    fn classes(&self) -> &ClassTable {
        &self.classes
    }
}

fn run_listed(
    fleet: FleetSpec,
    items: &[(u64, Option<u64>, u64, i32)],
    config: RunConfig,
) -> RunResult {
    let mut workload = Listed::new(items);
    let mix = aimsim::schedule::DemandMix::new(
        items
            .iter()
            .map(|&(_, _, gib, _)| (Demand::single(Mib::gib(gib)), 1)),
    );
    replay(&fleet, &mut workload, &mix, config)
}

#[test]
fn simultaneous_arrivals_are_admitted_by_priority() {
    // One SPX GPU, two 150 GiB requests at t = 0: the priority-7 one, listed
    // second, gets the GPU.
    let result = run_listed(
        fleet(1, "SPX", Policy::Aim),
        &[(0, None, 150, 1), (0, None, 160, 7)],
        RunConfig {
            horizon: Some(SimTime::seconds(10)),
            warmup: SimTime::ZERO,
            interval: None,
            precision_fallback: false,
        },
    );
    let placed: Vec<&str> = result
        .classes
        .iter()
        .filter(|c| c.counts.placed == 1)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(placed, ["160 GiB"]);
}

#[test]
fn warmup_arrivals_are_simulated_but_not_counted() {
    // A 100 GiB replica arrives at 0 s and lives 100 s; a second arrives at
    // 50 s and is rejected (no room). With a 60 s warm-up neither counts, but
    // the first still occupies the GPU: the third, at 70 s, is rejected and
    // counted; the fourth, at 120 s, fits.
    let result = run_listed(
        fleet(1, "SPX", Policy::FirstFit),
        &[
            (0, Some(100), 100, 0),
            (50, None, 100, 0),
            (70, None, 100, 0),
            (120, Some(10), 100, 0),
        ],
        RunConfig {
            horizon: Some(SimTime::seconds(200)),
            warmup: SimTime::seconds(60),
            interval: None,
            precision_fallback: false,
        },
    );
    let t = &result.summary.totals;
    assert_eq!((t.arrived, t.placed, t.rejected_total()), (2, 1, 1));
    // Busy from 60 to 100 s and from 120 to 130 s: 50 s of 140 measured.
    assert!(
        (result.summary.gpus_busy_mean - 50.0 / 140.0).abs() < 1e-12,
        "{}",
        result.summary.gpus_busy_mean
    );
}

#[test]
fn without_a_horizon_the_run_ends_at_the_last_arrival() {
    let result = run_listed(
        fleet(1, "SPX", Policy::FirstFit),
        &[(0, Some(1000), 10, 0), (30, Some(5), 10, 0)],
        RunConfig {
            horizon: None,
            warmup: SimTime::ZERO,
            interval: Some(SimTime::seconds(10)),
            precision_fallback: false,
        },
    );
    assert_eq!(result.summary.end, SimTime::seconds(30));
    assert_eq!(result.summary.live_at_end, 2);
    let times: Vec<u64> = result.series.iter().map(|s| s.time.0 / 1000).collect();
    assert_eq!(times, [0, 10, 20, 30]);
}

#[test]
fn an_elastic_fleet_grows_when_nothing_fits_and_releases_idle_gpus() {
    // No initial GPU; each 150 GiB replica needs its own SPX GPU. Three
    // overlap, so three GPUs come online (the cap is 3: the fourth, also
    // overlapping, is rejected). After all leave, idle GPUs are released
    // after 60 s.
    let spec = FleetSpec {
        groups: vec![],
        node: NodeShape::REFERENCE,
        elastic: Some(ElasticSpec {
            kind: GpuKind::Mi300x,
            layout: "SPX".parse().unwrap(),
            max_gpus: 3,
            release_after: Some(SimTime::seconds(60)),
        }),
        policy: Policy::BestFit,
    };
    let result = run_listed(
        spec,
        &[
            (0, Some(100), 150, 0),
            (10, Some(100), 150, 0),
            (20, Some(100), 150, 0),
            (30, Some(100), 150, 0),
            (500, Some(100), 150, 0),
        ],
        RunConfig {
            horizon: Some(SimTime::seconds(1000)),
            warmup: SimTime::ZERO,
            interval: None,
            precision_fallback: false,
        },
    );
    let s = &result.summary;
    assert_eq!(s.gpus_online_peak, 3);
    assert_eq!((s.totals.placed, s.totals.rejected_total()), (4, 1));
    // Three GPUs came online for the first burst; after release, one more
    // for the request at 500 s (a revived GPU).
    assert_eq!(s.gpus_added, 4);
    assert_eq!(s.gpus_released, 4);
    // Online GPU-hours: three GPUs from ~0-30 s to 180-200 s, then one from
    // 500 to 660 s; busy only while holding replicas.
    assert!(s.gpu_hours_online > s.gpu_hours_busy);
}

#[test]
fn a_mixed_fleet_places_what_only_the_larger_kind_can_hold() {
    // 2 MI300X (192 GiB) then 1 MI325X (256 GiB), all SPX: a 200 GiB replica
    // can only go to the MI325X; a 250 GiB one too, once the first has left.
    let spec = FleetSpec {
        groups: vec![
            GpuGroup {
                kind: GpuKind::Mi300x,
                count: 2,
                layout: "SPX".parse().unwrap(),
            },
            GpuGroup {
                kind: GpuKind::Mi325x,
                count: 1,
                layout: "SPX".parse().unwrap(),
            },
        ],
        node: NodeShape::REFERENCE,
        elastic: None,
        policy: Policy::Aim,
    };
    let result = run_listed(
        spec,
        &[
            (0, Some(100), 200, 0),
            (10, None, 250, 0),
            (200, None, 250, 0),
            (300, None, 257, 0),
        ],
        RunConfig {
            horizon: Some(SimTime::seconds(400)),
            warmup: SimTime::ZERO,
            interval: None,
            precision_fallback: false,
        },
    );
    let t = &result.summary.totals;
    // 200 placed; 250 at 10 s: no room now; 250 at 200 s: placed; 257: never fits.
    assert_eq!((t.placed, t.rejected[0], t.rejected[1]), (2, 1, 1));
    assert_eq!(result.summary.gpus_busy_peak, 1);
}

#[test]
fn peaks_and_elastic_counts_leave_the_warm_up_out() {
    // Four 20 GiB replicas live only during a 1 h warm-up; one more arrives
    // after it. The peaks are of the measured window: 1 replica, 20 GiB.
    let result = run_listed(
        fleet(1, "SPX", Policy::BestFit),
        &[
            (0, Some(600), 20, 0),
            (10, Some(600), 20, 0),
            (20, Some(600), 20, 0),
            (30, Some(600), 20, 0),
            (4000, None, 20, 0),
        ],
        RunConfig {
            horizon: Some(SimTime::hours(2)),
            warmup: SimTime::hours(1),
            interval: None,
            precision_fallback: false,
        },
    );
    let s = &result.summary;
    assert_eq!(
        (s.live_peak, s.used_gib_peak, s.totals.arrived),
        (1, 20.0, 1)
    );
}

#[test]
fn a_departure_frees_room_for_an_arrival_at_the_same_instant() {
    // A 150 GiB replica leaves at 100 s, when another 150 GiB one arrives:
    // the departure was scheduled first, so it runs first and the arrival fits.
    let result = run_listed(
        fleet(1, "SPX", Policy::Aim),
        &[(0, Some(100), 150, 0), (100, None, 150, 0)],
        RunConfig {
            horizon: Some(SimTime::seconds(200)),
            warmup: SimTime::ZERO,
            interval: None,
            precision_fallback: false,
        },
    );
    assert_eq!(result.summary.totals.placed, 2);
}

#[test]
fn multi_partition_replicas_are_charged_and_freed_on_one_gpu() {
    // Two CPX GPUs; replicas of 4 whole partitions (96 GiB) living 100 s,
    // one every 10 s: at most 4 live at once (2 per GPU), the 5th waits for
    // none and is rejected, and memory returns to zero (the engine checks its
    // books against the fleet after every event in debug builds).
    let whole4 = Demand {
        size: Mib::gib(24),
        gpu_count: 1,
        partitions: 4,
        host: HostDemand::NONE,
    };
    let mut classes = ClassTable::default();
    let class = classes.intern("4 partitions", None);
    let requests: Vec<DeploymentRequest> = (0..5)
        .map(|i| DeploymentRequest {
            arrival: SimTime::seconds(10 * i),
            lifetime: Some(SimTime::seconds(100)),
            demand: whole4,
            class,
            priority: 0,
        })
        .collect();
    let mut workload = Listed {
        requests: requests.into_iter(),
        classes,
    };
    let mix = aimsim::schedule::DemandMix::new([(whole4, 1)]);
    let spec = fleet(2, "CPX/NPS4", Policy::BestFit);
    let config = RunConfig {
        horizon: Some(SimTime::seconds(500)),
        warmup: SimTime::ZERO,
        interval: None,
        precision_fallback: false,
    };
    let result = replay(&spec, &mut workload, &mix, config);
    let s = &result.summary;
    assert_eq!((s.totals.placed, s.totals.rejected[0]), (4, 1));
    assert_eq!((s.live_peak, s.used_gib_peak), (4, 384.0));
    assert_eq!(s.live_at_end, 0);
}
