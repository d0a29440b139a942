//! Precision fallback: a replica that fits nowhere at its own precision is
//! placed at the next lower one that fits (FP16 -> INT8 -> INT4), a
//! placement option no peer offers ("FP16 where possible, INT4 when full").

use crate::profile::Precision;

use super::{Demand, PartitionRef, Placement, PlacementRequest, Scheduler};

/// Places the replica at the highest precision below `own` that fits now,
/// trying each lower precision in turn; `demand_at` gives the model's
/// demand at a precision (`None` where the catalog lacks it). Returns the
/// placement and the precision it was placed at, or `None` (and the fleet
/// unchanged) if none fits. Never raises the precision.
pub fn schedule_at_lower_precision(
    scheduler: &mut Scheduler,
    own: Precision,
    preferred: Option<PartitionRef>,
    demand_at: impl Fn(Precision) -> Option<Demand>,
) -> Option<(Placement, Precision)> {
    Precision::ALL
        .into_iter()
        .filter(|lower| lower.index() > own.index())
        .find_map(|lower| {
            let demand = demand_at(lower)?;
            let placement = scheduler
                .schedule(&PlacementRequest { demand, preferred })
                .ok()?;
            Some((placement, lower))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::{GpuKind, HostDemand, LayoutSpec};
    use crate::schedule::Policy;
    use crate::units::Mib;

    fn demand(gib: u64) -> Demand {
        Demand {
            size: Mib::gib(gib),
            gpu_count: 1,
            partitions: 1,
            host: HostDemand::NONE,
        }
    }

    #[test]
    fn takes_the_highest_lower_precision_that_fits_and_never_raises() {
        let layout = "40"
            .parse::<LayoutSpec>()
            .unwrap()
            .build(GpuKind::Mi300x)
            .unwrap();
        let mut scheduler = Scheduler::uniform(Policy::BestFit, &layout, 1);
        // 16 GiB free: FP16 (38) and INT8 (20) do not fit, INT4 (12) does.
        scheduler
            .schedule(&PlacementRequest {
                demand: demand(24),
                preferred: None,
            })
            .unwrap();
        let ladder = |p: Precision| Some(demand([38, 20, 12][p.index()]));
        let (placement, at) =
            schedule_at_lower_precision(&mut scheduler, Precision::Fp16, None, ladder).unwrap();
        assert_eq!(at, Precision::Int4);
        assert_eq!(placement.size(), Mib::gib(12));
        // From INT4 there is nothing lower; the fleet is left as it was.
        let used = scheduler.gpus()[0].used();
        assert!(
            schedule_at_lower_precision(&mut scheduler, Precision::Int4, None, ladder).is_none()
        );
        assert_eq!(scheduler.gpus()[0].used(), used);
        // A precision the catalog lacks is skipped, not an error.
        let (_, at) = schedule_at_lower_precision(
            &mut Scheduler::uniform(Policy::BestFit, &layout, 1),
            Precision::Fp16,
            None,
            |p| (p != Precision::Int8).then(|| demand([38, 20, 12][p.index()])),
        )
        .unwrap();
        assert_eq!(
            at,
            Precision::Int4,
            "INT8 missing: INT4 even though INT8 would fit"
        );
    }
}
