//! A static set of deployments: so many replicas of each model at each
//! precision, all present at once (`source = "static"` in a scenario). It
//! answers "host 200 Llama-3.3-70B and 400 Llama-3.1-8B at once: how many
//! GPUs?" without a hand-written trace.

use crate::profile::{Catalog, LookupError, Precision};
use crate::schedule::Demand;
use crate::time::SimTime;

use super::{
    precision_ladder, variant_demand, ClassId, ClassTable, DeploymentRequest, PrecisionLadder,
    Workload, WorkloadError,
};

/// Replicas of one model at one precision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticDeployment {
    /// Exact model id.
    pub model: String,
    /// Its precision.
    pub precision: Precision,
    /// How many replicas.
    pub count: u64,
}

/// Every deployment of a static set, arriving at time zero in the order
/// listed and staying to the end.
#[derive(Debug)]
pub struct StaticSet {
    entries: Vec<(Demand, ClassId, u64)>,
    /// Each class's model at every precision, by class id.
    ladders: Vec<PrecisionLadder>,
    classes: ClassTable,
    next: usize,
    left: u64,
}

impl StaticSet {
    /// The set of `deployments`, every precision replaced by `precision`
    /// when given, looked up in `catalog`.
    pub fn new(
        deployments: &[StaticDeployment],
        precision: Option<Precision>,
        catalog: &Catalog,
    ) -> Result<StaticSet, WorkloadError> {
        let mut classes = ClassTable::default();
        let entries = deployments
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let precision = precision.unwrap_or(d.precision);
                let id = catalog
                    .find(&d.model, precision)
                    .map_err(|e: LookupError| WorkloadError {
                        source_name: format!("workload.deployments[{i}]"),
                        line: None,
                        message: e.to_string(),
                    })?;
                let demand = variant_demand(catalog.variant(id));
                Ok((demand, classes.intern(&d.model, Some(precision)), d.count))
            })
            .collect::<Result<Vec<_>, WorkloadError>>()?;
        let left = entries.first().map_or(0, |e| e.2);
        let ladders = classes
            .iter()
            .map(|(_, class)| precision_ladder(catalog, &class.name))
            .collect();
        Ok(StaticSet {
            entries,
            ladders,
            classes,
            next: 0,
            left,
        })
    }
}

impl Workload for StaticSet {
    fn next_request(&mut self) -> Option<Result<DeploymentRequest, WorkloadError>> {
        while self.left == 0 {
            self.next += 1;
            self.left = self.entries.get(self.next)?.2;
        }
        let (demand, class, _) = self.entries[self.next];
        self.left -= 1;
        Some(Ok(DeploymentRequest {
            arrival: SimTime::ZERO,
            lifetime: None,
            demand,
            class,
            priority: 0,
        }))
    }

    fn classes(&self) -> &ClassTable {
        &self.classes
    }

    fn demand_at(&self, class: ClassId, precision: Precision) -> Option<Demand> {
        self.ladders[class.0 as usize][precision.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(model: &str, precision: Precision, count: u64) -> StaticDeployment {
        StaticDeployment {
            model: model.into(),
            precision,
            count,
        }
    }

    #[test]
    fn yields_each_entry_count_times_in_order_at_time_zero() {
        let catalog = Catalog::builtin();
        let set = [
            deployment("meta-llama/Llama-3.3-70B-Instruct", Precision::Int4, 2),
            deployment("Qwen/Qwen3-14B-Instruct", Precision::Fp16, 0),
            deployment("meta-llama/Llama-3.1-8B-Instruct", Precision::Fp16, 3),
        ];
        let mut workload = StaticSet::new(&set, None, &catalog).unwrap();
        let requests: Vec<DeploymentRequest> = std::iter::from_fn(|| workload.next_request())
            .map(Result::unwrap)
            .collect();
        assert_eq!(requests.len(), 5);
        assert!(requests
            .iter()
            .all(|r| r.arrival == SimTime::ZERO && r.lifetime.is_none()));
        let names: Vec<&str> = requests
            .iter()
            .map(|r| workload.classes().get(r.class).name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "meta-llama/Llama-3.3-70B-Instruct",
                "meta-llama/Llama-3.3-70B-Instruct",
                "meta-llama/Llama-3.1-8B-Instruct",
                "meta-llama/Llama-3.1-8B-Instruct",
                "meta-llama/Llama-3.1-8B-Instruct"
            ]
        );
        // A precision override charges every replica at that precision.
        let mut int4 = StaticSet::new(&set, Some(Precision::Int4), &catalog).unwrap();
        let small = int4.next_request().unwrap().unwrap().demand.size;
        let big = requests[0].demand.size;
        assert_eq!(small, big, "the 70B entry was int4 already");
        let eight_fp16 = requests[2].demand.size;
        let eight_int4 = std::iter::from_fn(|| int4.next_request())
            .map(Result::unwrap)
            .last()
            .unwrap()
            .demand
            .size;
        assert!(eight_int4 < eight_fp16);
    }

    #[test]
    fn an_unknown_model_names_its_entry() {
        let err = StaticSet::new(
            &[deployment("nope/x", Precision::Fp16, 1)],
            None,
            &Catalog::builtin(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("workload.deployments[0]: unknown model"),
            "{err}"
        );
    }
}
