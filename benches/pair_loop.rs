//! A plain loop of scheduler operations, for counting instructions with
//! callgrind (`benches/instructions.sh` runs it); criterion's own loop is
//! too busy for that. Not a criterion benchmark: it prints ns per operation
//! to stderr, a rough figure on its own.
//!
//! `cargo bench --bench pair_loop -- MODE POLICY COUNT`, MODE one of
//! - `pair:LAYOUT`: schedule + unschedule of a 20 GiB replica on one empty
//!   GPU laid out `LAYOUT` (`40,40,40,40`, `CPX/NPS4`);
//! - `reject:GPUS`: a 12 GiB request refused by `GPUS` CPX GPUs whose
//!   every partition holds a 20 GiB replica;
//! - `fleet:GPUS`: schedule + unschedule of 12 GiB on `GPUS` CPX GPUs
//!   filled to 90% with 12 GiB replicas.
//!
//! Without arguments (as `cargo bench` runs every target) it runs a short
//! `pair:40,40,40,40` loop with `aim`.

use std::hint::black_box;
use std::time::Instant;

use aimsim::hardware::{GpuKind, Layout, LayoutSpec};
use aimsim::schedule::{PlacementRequest, Policy, Scheduler};
use aimsim::units::Mib;

fn layout(text: &str) -> Layout {
    let spec: LayoutSpec = text
        .parse()
        .unwrap_or_else(|e| panic!("layout `{text}`: {e}"));
    spec.build(GpuKind::Mi300x)
        .unwrap_or_else(|e| panic!("layout `{text}`: {e}"))
}

fn main() {
    // `cargo bench` passes `--bench`; everything else is ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let (mode, policy, count) = match args.as_slice() {
        [] => ("pair:40,40,40,40", "aim", "100000"),
        [mode, policy, count] => (mode.as_str(), policy.as_str(), count.as_str()),
        _ => panic!("usage: pair_loop MODE POLICY COUNT (see the file's documentation)"),
    };
    let policy: Policy = policy.parse().unwrap_or_else(|e| panic!("{e}"));
    let count: u64 = count
        .parse()
        .unwrap_or_else(|e| panic!("COUNT `{count}`: {e}"));
    let (kind, argument) = mode.split_once(':').unwrap_or_else(|| {
        panic!("MODE `{mode}`: expected pair:LAYOUT, reject:GPUS or fleet:GPUS")
    });
    let gpus = || -> usize {
        argument
            .parse()
            .unwrap_or_else(|e| panic!("GPUS `{argument}`: {e}"))
    };
    let cpx = layout("CPX/NPS4");
    let (mut fleet, request, refused) = match kind {
        "pair" => (
            Scheduler::uniform(policy, &layout(argument), 1),
            PlacementRequest::single(Mib::gib(20)),
            false,
        ),
        "reject" => {
            let mut fleet = Scheduler::uniform(policy, &cpx, gpus());
            while fleet
                .schedule(&PlacementRequest::single(Mib::gib(20)))
                .is_ok()
            {}
            (fleet, PlacementRequest::single(Mib::gib(12)), true)
        }
        "fleet" => {
            let gpus = gpus();
            let mut fleet = Scheduler::uniform(policy, &cpx, gpus);
            let replica = Mib::gib(12);
            let capacity: Mib = cpx.partitions().iter().copied().sum();
            let target = capacity.0 * gpus as u64 * 90 / 100;
            let mut placed = 0;
            while placed + replica.0 <= target {
                fleet
                    .schedule(&PlacementRequest::single(replica))
                    .expect("the fleet has room to 90%");
                placed += replica.0;
            }
            (fleet, PlacementRequest::single(replica), false)
        }
        _ => panic!("MODE `{mode}`: expected pair:LAYOUT, reject:GPUS or fleet:GPUS"),
    };
    let start = Instant::now();
    for _ in 0..count {
        if refused {
            black_box(fleet.schedule(black_box(&request)).unwrap_err());
        } else {
            let placement = fleet.schedule(black_box(&request)).unwrap();
            fleet.unschedule(placement.replica).unwrap();
        }
    }
    let per = start.elapsed().as_nanos() as f64 / count.max(1) as f64;
    eprintln!("{mode} {policy}: {per:.1} ns per operation over {count}");
}
