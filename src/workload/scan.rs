//! A first, streaming pass over a workload: validates every record and
//! measures what the replay needs to know in advance.

use crate::time::SimTime;

use crate::schedule::DemandMix;

use super::{ClassTable, Skipped, Workload, WorkloadError};

/// What a full pass over a workload found.
#[derive(Debug, Clone)]
pub struct WorkloadScan {
    /// Requests that will be replayed.
    pub requests: u64,
    /// How often each demand occurs.
    pub mix: DemandMix,
    /// Records skipped, by cause.
    pub skipped: Vec<Skipped>,
    /// Arrival of the last request.
    pub last_arrival: SimTime,
    /// The classes seen.
    pub classes: ClassTable,
}

/// Reads `workload` to the end, failing on the first malformed record.
pub fn scan(mut workload: impl Workload) -> Result<WorkloadScan, WorkloadError> {
    let mut requests = 0;
    let mut counts = Vec::new();
    let mut last_arrival = SimTime::ZERO;
    while let Some(request) = workload.next_request() {
        let request = request?;
        requests += 1;
        counts.push((request.demand, 1));
        if counts.len() >= 1 << 16 {
            // Keep memory bounded on long traces: merge as we go.
            counts = DemandMix::new(counts).entries().to_vec();
        }
        last_arrival = request.arrival;
    }
    Ok(WorkloadScan {
        requests,
        mix: DemandMix::new(counts),
        skipped: workload.skipped(),
        last_arrival,
        classes: workload.classes().clone(),
    })
}
