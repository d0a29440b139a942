//! One GPU's partitions and their exact memory accounting.
//!
//! A [`GpuState`] is built from a checked [`Layout`]; replicas are charged
//! to a partition with [`GpuState::allocate`] and refunded with
//! [`GpuState::free`] by exactly the amount charged. Nothing here chooses a
//! partition: that is the scheduler's job.

use crate::hardware::{GpuKind, Layout};
use crate::units::Mib;

/// One memory partition: its quota and what is charged to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    capacity: Mib,
    /// Kept rather than the charge: every policy's filter and score read
    /// it, once per partition per search.
    free: Mib,
    replicas: u32,
}

impl Partition {
    /// The partition's memory quota.
    pub fn capacity(&self) -> Mib {
        self.capacity
    }

    /// Memory charged to replicas.
    pub fn used(&self) -> Mib {
        self.capacity - self.free
    }

    /// Memory not charged.
    #[inline]
    pub fn free(&self) -> Mib {
        self.free
    }

    /// Replicas (or replica shards) charged here.
    pub fn replicas(&self) -> u32 {
        self.replicas
    }
}

/// Why an allocation or a free was refused. The state is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PartitionError {
    /// The partition index does not exist on this GPU.
    #[error("partition {partition} does not exist (the GPU has {count})")]
    NoSuchPartition {
        /// Index asked for.
        partition: usize,
        /// Partitions on the GPU.
        count: usize,
    },
    /// Not enough free memory.
    #[error("partition {partition} has {free} GiB free, {size} GiB requested")]
    InsufficientMemory {
        /// Index asked for.
        partition: usize,
        /// Free memory there.
        free: Mib,
        /// Size requested.
        size: Mib,
    },
    /// A free larger than what is charged, or on a partition with no replica:
    /// the caller's books disagree with the GPU's.
    #[error(
        "partition {partition} cannot refund {size} GiB: {used} GiB charged to {replicas} replicas"
    )]
    RefundExceedsCharge {
        /// Index asked for.
        partition: usize,
        /// Amount to refund.
        size: Mib,
        /// Amount charged.
        used: Mib,
        /// Replicas charged.
        replicas: u32,
    },
}

/// A GPU's books are inconsistent (a bug, never bad input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BooksError {
    /// More is free than the quota: something was refunded that was never
    /// charged. (The opposite, more charged than the quota, cannot be
    /// represented: a charge above the free memory is refused and free
    /// memory is unsigned.)
    #[error("partition {partition} has {free} GiB free of a {capacity} GiB quota")]
    FreeAboveQuota {
        /// Index of the partition.
        partition: usize,
        /// Memory free.
        free: Mib,
        /// Its quota.
        capacity: Mib,
    },
    /// The GPU's totals (charge, replicas, largest free partition and how
    /// many have it) disagree with its partitions.
    #[error("the GPU's totals say {used} GiB for {replicas} replicas, its partitions {partitions_used} GiB for {partitions_replicas} (or its largest free partition or their count is stale)")]
    Totals {
        /// The kept total charge.
        used: Mib,
        /// The kept replica count.
        replicas: u32,
        /// The partitions' charges, added up.
        partitions_used: Mib,
        /// The partitions' replicas, added up.
        partitions_replicas: u32,
    },
    /// Memory is charged to a partition that holds no replica.
    #[error("partition {partition} has {used} GiB charged but no replica")]
    ChargeWithoutReplica {
        /// Index of the partition.
        partition: usize,
        /// Memory charged.
        used: Mib,
    },
}

/// A GPU's partitions with their charges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuState {
    kind: GpuKind,
    partitions: Vec<Partition>,
    /// Sums over the partitions, kept with every charge and refund so that
    /// the GPU's totals cost one read.
    capacity: Mib,
    used: Mib,
    replicas: u32,
    /// The most free memory of one partition.
    largest_free: Mib,
    /// How many partitions have `largest_free` free: a charge to one of
    /// them leaves the largest unchanged unless it was the only one, so
    /// the partitions are re-read only then.
    largest_count: u32,
}

impl GpuState {
    /// An empty GPU laid out as `layout`.
    pub fn new(layout: &Layout) -> GpuState {
        let partitions: Vec<Partition> = layout
            .partitions()
            .iter()
            .map(|&capacity| Partition {
                capacity,
                free: capacity,
                replicas: 0,
            })
            .collect();
        let (largest_free, largest_count) = largest_free_of(&partitions);
        GpuState {
            kind: layout.kind(),
            partitions,
            capacity: layout.partitions().iter().copied().sum(),
            used: Mib::ZERO,
            replicas: 0,
            largest_free,
            largest_count,
        }
    }

    /// The GPU kind.
    pub fn kind(&self) -> GpuKind {
        self.kind
    }

    /// The partitions, by index.
    pub fn partitions(&self) -> &[Partition] {
        &self.partitions
    }

    /// Charges `size` to `partition`, or says why not.
    pub fn allocate(&mut self, partition: usize, size: Mib) -> Result<(), PartitionError> {
        let count = self.partitions.len();
        let p = self
            .partitions
            .get_mut(partition)
            .ok_or(PartitionError::NoSuchPartition { partition, count })?;
        if size > p.free {
            return Err(PartitionError::InsufficientMemory {
                partition,
                free: p.free,
                size,
            });
        }
        let was_largest = p.free == self.largest_free && size > Mib::ZERO;
        p.free -= size;
        p.replicas += 1;
        self.used += size;
        self.replicas += 1;
        if was_largest {
            if self.largest_count > 1 {
                self.largest_count -= 1;
            } else {
                (self.largest_free, self.largest_count) = largest_free_of(&self.partitions);
            }
        }
        Ok(())
    }

    /// Refunds `size`, which must be exactly what one replica was charged.
    pub fn free(&mut self, partition: usize, size: Mib) -> Result<(), PartitionError> {
        let count = self.partitions.len();
        let p = self
            .partitions
            .get_mut(partition)
            .ok_or(PartitionError::NoSuchPartition { partition, count })?;
        if p.replicas == 0 || size > p.used() {
            return Err(PartitionError::RefundExceedsCharge {
                partition,
                size,
                used: p.used(),
                replicas: p.replicas,
            });
        }
        p.free += size;
        p.replicas -= 1;
        if p.free > self.largest_free {
            self.largest_free = p.free;
            self.largest_count = 1;
        } else if p.free == self.largest_free && size > Mib::ZERO {
            self.largest_count += 1;
        }
        self.used -= size;
        self.replicas -= 1;
        Ok(())
    }

    /// Total quota of all partitions.
    pub fn capacity(&self) -> Mib {
        self.capacity
    }

    /// Total memory charged.
    pub fn used(&self) -> Mib {
        self.used
    }

    /// Total memory not charged.
    pub fn free_memory(&self) -> Mib {
        self.capacity - self.used
    }

    /// Charged share of the quota, in [0, 1].
    pub fn utilisation(&self) -> f64 {
        let capacity = self.capacity();
        if capacity == Mib::ZERO {
            0.0
        } else {
            self.used().0 as f64 / capacity.0 as f64
        }
    }

    /// Replicas (or shards) charged on the whole GPU.
    pub fn replicas(&self) -> u32 {
        self.replicas
    }

    /// The most free memory of one partition: no request larger can be
    /// placed here.
    #[inline]
    pub fn largest_free(&self) -> Mib {
        self.largest_free
    }

    /// Whether any replica is charged here.
    pub fn is_busy(&self) -> bool {
        self.replicas > 0
    }

    /// Whether both GPUs are empty and laid out alike (then every policy
    /// scores them the same).
    #[inline]
    pub fn both_empty_alike(&self, other: &GpuState) -> bool {
        self.replicas == 0
            && other.replicas == 0
            && self.kind == other.kind
            && self.capacity == other.capacity
            && self.partitions.len() == other.partitions.len()
            && self
                .partitions
                .iter()
                .zip(&other.partitions)
                .all(|(a, b)| a.capacity == b.capacity)
    }

    /// Checks that no partition has more free than its quota, that a
    /// partition with no replica has nothing charged, and that the GPU's
    /// totals agree with its partitions. Returns the first inconsistency.
    pub fn check(&self) -> Result<(), BooksError> {
        for (index, p) in self.partitions.iter().enumerate() {
            if p.free > p.capacity {
                return Err(BooksError::FreeAboveQuota {
                    partition: index,
                    free: p.free,
                    capacity: p.capacity,
                });
            }
            if p.replicas == 0 && p.free != p.capacity {
                return Err(BooksError::ChargeWithoutReplica {
                    partition: index,
                    used: p.used(),
                });
            }
        }
        let used: Mib = self.partitions.iter().map(Partition::used).sum();
        let replicas: u32 = self.partitions.iter().map(|p| p.replicas).sum();
        if used != self.used
            || replicas != self.replicas
            || (self.largest_free, self.largest_count) != largest_free_of(&self.partitions)
        {
            return Err(BooksError::Totals {
                used: self.used,
                replicas: self.replicas,
                partitions_used: used,
                partitions_replicas: replicas,
            });
        }
        Ok(())
    }
}

/// The most free memory of one of `partitions` and how many have it.
fn largest_free_of(partitions: &[Partition]) -> (Mib, u32) {
    let mut largest = (Mib::ZERO, 0);
    for partition in partitions {
        if partition.free > largest.0 {
            largest = (partition.free, 1);
        } else if partition.free == largest.0 {
            largest.1 += 1;
        }
    }
    largest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::LayoutSpec;

    fn gpu(layout: &str) -> GpuState {
        GpuState::new(
            &layout
                .parse::<LayoutSpec>()
                .unwrap()
                .build(GpuKind::Mi300x)
                .unwrap(),
        )
    }

    #[test]
    fn allocate_then_free_restores_the_exact_state() {
        let mut g = gpu("40,40,40,40");
        let before = g.clone();
        g.allocate(2, Mib(11_520)).unwrap();
        assert_eq!(g.partitions()[2].free(), Mib(40 * 1024 - 11_520));
        assert_eq!(g.used(), Mib(11_520));
        g.free(2, Mib(11_520)).unwrap();
        assert_eq!(g, before);
    }

    #[test]
    fn allocation_past_the_quota_is_refused_and_changes_nothing() {
        let mut g = gpu("40,40,40,40");
        g.allocate(0, Mib::gib(30)).unwrap();
        let before = g.clone();
        let err = g.allocate(0, Mib::gib(11)).unwrap_err();
        assert_eq!(
            err,
            PartitionError::InsufficientMemory {
                partition: 0,
                free: Mib::gib(10),
                size: Mib::gib(11)
            }
        );
        assert_eq!(g, before);
        // Exactly the remaining memory fits.
        g.allocate(0, Mib::gib(10)).unwrap();
        assert_eq!(g.partitions()[0].free(), Mib::ZERO);
    }

    #[test]
    fn a_refund_larger_than_the_charge_is_refused() {
        // Runtime defect 1: freeing the fp16 size after charging int4 drove a
        // partition negative. Here it is an error and nothing changes.
        let mut g = gpu("40,40,40,40");
        g.allocate(1, Mib::gib(9)).unwrap();
        let before = g.clone();
        assert!(matches!(
            g.free(1, Mib::gib(20)),
            Err(PartitionError::RefundExceedsCharge { .. })
        ));
        assert_eq!(g, before);
        assert!(
            g.free(3, Mib::gib(1)).is_err(),
            "nothing charged on partition 3"
        );
    }

    #[test]
    fn missing_partition_is_an_error_not_ignored() {
        let mut g = gpu("40,40,40,40");
        assert_eq!(
            g.allocate(4, Mib::gib(1)),
            Err(PartitionError::NoSuchPartition {
                partition: 4,
                count: 4
            })
        );
    }

    #[test]
    fn the_check_names_each_inconsistency_of_the_books() {
        let mut g = gpu("40,40,40,40");
        g.allocate(1, Mib::gib(9)).unwrap();
        g.check().unwrap();

        let mut refunded_twice = g.clone();
        refunded_twice.partitions[0].free = Mib::gib(41);
        assert_eq!(
            refunded_twice.check(),
            Err(BooksError::FreeAboveQuota {
                partition: 0,
                free: Mib::gib(41),
                capacity: Mib::gib(40)
            })
        );

        let mut charge_without_replica = g.clone();
        charge_without_replica.partitions[2].free = Mib::gib(39);
        assert_eq!(
            charge_without_replica.check(),
            Err(BooksError::ChargeWithoutReplica {
                partition: 2,
                used: Mib::gib(1)
            })
        );

        // Each kept total, made to disagree with the partitions.
        type MakeStale = fn(&mut GpuState);
        let stale_totals: [(&str, MakeStale); 3] = [
            ("largest free", |g| g.largest_free = Mib::gib(31)),
            ("largest count", |g| g.largest_count = 2),
            ("total charge", |g| g.used = Mib::gib(8)),
        ];
        for (what, make_stale) in stale_totals {
            let mut stale = g.clone();
            make_stale(&mut stale);
            assert!(
                matches!(stale.check(), Err(BooksError::Totals { .. })),
                "a stale {what} goes unnoticed"
            );
        }
    }

    #[test]
    fn utilisation_is_used_over_capacity() {
        let mut g = gpu("CPX");
        g.allocate(0, Mib::gib(24)).unwrap();
        g.allocate(1, Mib::gib(12)).unwrap();
        assert!((g.utilisation() - 36.0 / 192.0).abs() < 1e-12);
        assert!(g.is_busy());
        g.check().unwrap();
    }
}
