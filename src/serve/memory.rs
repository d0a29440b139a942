//! How much memory a serving replica is given: charged to the partition it
//! lands on and taken by its engine, the same figure in both books.
//!
//! vLLM takes `gpu_memory_utilization` of the device it is given and fills
//! what its weights and activations leave with key/value cache. Under the
//! AIM runtime a replica is handed its profile's memory as its quota, so
//! several can share a partition. Which of the two a study means changes
//! every answer (an 8B model's cache is 35 times larger alone on a whole
//! MI300X than in its catalog quota), so it is a choice, per deployment
//! and as a default for the scenario.

use std::fmt;
use std::str::FromStr;

use crate::units::Mib;

/// Most memory a fixed setting may give a replica per GPU (the largest
/// GPU of the catalog has 288 GB; room above it is a typo).
pub const MAX_FIXED_GIB: f64 = 1024.0;

/// Memory a replica is charged per GPU it spans, and that its engine takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReplicaMemory {
    /// The profile's memory: the AIM runtime's quota, several replicas
    /// stacking on one partition as far as memory goes.
    Profile,
    /// Everything free on the partition it lands on (the whole partition
    /// when it lands alone, as vLLM on a device of its own): the replica
    /// needs its profile's memory free there and takes the rest too, so no
    /// later replica shares that partition.
    #[default]
    Partition,
    /// This much, charged and taken.
    Fixed(Mib),
}

impl ReplicaMemory {
    /// The memory charged on a partition with `free` memory for a replica
    /// whose profile asks `profile`: `None` when it does not fit there.
    pub fn charge(self, profile: Mib, free: Mib) -> Option<Mib> {
        let (needs, takes) = match self {
            ReplicaMemory::Profile => (profile, profile),
            ReplicaMemory::Partition => (profile, free),
            ReplicaMemory::Fixed(size) => (size, size),
        };
        (needs <= free).then_some(takes)
    }

    /// The least free memory a partition must have to take the replica.
    pub fn needs(self, profile: Mib) -> Mib {
        match self {
            ReplicaMemory::Profile | ReplicaMemory::Partition => profile,
            ReplicaMemory::Fixed(size) => size,
        }
    }
}

impl fmt::Display for ReplicaMemory {
    /// `profile`, `partition` or `48 GiB`, as scenarios write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplicaMemory::Profile => f.write_str("profile"),
            ReplicaMemory::Partition => f.write_str("partition"),
            // GiB where two decimals hold it exactly, else whole MiB, so
            // that what is written reads back as the same size.
            ReplicaMemory::Fixed(size) if (size.0 * 100).is_multiple_of(1024) => {
                write!(f, "{size} GiB")
            }
            ReplicaMemory::Fixed(size) => write!(f, "{} MiB", size.0),
        }
    }
}

impl FromStr for ReplicaMemory {
    type Err = String;

    /// `profile`, `partition`, or a size in GiB (`48`, `48 GiB`, `47.5GiB`)
    /// or in MiB (`20480 MiB`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "profile" => return Ok(ReplicaMemory::Profile),
            "partition" => return Ok(ReplicaMemory::Partition),
            _ => {}
        }
        let expected = || {
            format!(
                "expected \"profile\", \"partition\" or a size (\"48 GiB\", \"20480 MiB\") above 0 and at most {MAX_FIXED_GIB} GiB, got {text:?}"
            )
        };
        let text = text.trim();
        let (number, per_gib) = match text.strip_suffix("MiB") {
            Some(mib) => (mib.trim(), 1024.0),
            None => (text.trim_end_matches("GiB").trim(), 1.0),
        };
        let gib = number.parse::<f64>().map_err(|_| expected())? / per_gib;
        if !(gib > 0.0 && gib <= MAX_FIXED_GIB) {
            return Err(expected());
        }
        Mib::from_gib_ceil(gib)
            .map(ReplicaMemory::Fixed)
            .ok_or_else(expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sizes_read_back_as_written() {
        for text in ["profile", "partition", "48 GiB", "0.5 GiB", "20001 MiB"] {
            let memory: ReplicaMemory = text.parse().unwrap();
            assert_eq!(memory.to_string(), text);
        }
        assert_eq!(
            "48".parse::<ReplicaMemory>(),
            Ok(ReplicaMemory::Fixed(Mib(48 * 1024)))
        );
        for bad in ["", "whole", "0", "-4 GiB", "2000 GiB", "NaN", "inf"] {
            let err = bad.parse::<ReplicaMemory>().unwrap_err();
            assert!(err.contains("\"partition\""), "{bad}: {err}");
        }
    }

    #[test]
    fn a_partition_replica_takes_what_is_free_and_needs_its_profile() {
        let (profile, free) = (Mib(20_000), Mib(98_304));
        assert_eq!(ReplicaMemory::Partition.charge(profile, free), Some(free));
        assert_eq!(ReplicaMemory::Profile.charge(profile, free), Some(profile));
        assert_eq!(
            ReplicaMemory::Fixed(Mib(30_000)).charge(profile, free),
            Some(Mib(30_000))
        );
        assert_eq!(ReplicaMemory::Partition.charge(profile, Mib(19_999)), None);
        assert_eq!(
            ReplicaMemory::Fixed(Mib(30_000)).charge(profile, Mib(29_999)),
            None
        );
    }
}
