//! aimsim's own trace format: one deployment request per CSV row.
//!
//! ```text
//! arrival,model,precision,duration,departure,priority
//! 0,meta-llama/Llama-3.1-8B-Instruct,fp16,3600,,0
//! 12.5,google/gemma-3-27B,int4,,7200,1
//! ```
//!
//! `arrival` (seconds from the start, non-decreasing), `model` (exact id, or an alias of `aim_profiles/aliases.csv`)
//! and `precision` (fp16, int8, int4) are required. A row gives its lifetime
//! as `duration` (seconds) or as `departure` (seconds from the start, not
//! before `arrival`), not both; with neither the replica stays to the end.
//! `priority` is an integer (default 0). Other columns are an error, so a
//! misspelt `duraton` cannot silently make every replica immortal.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

use crate::profile::{Catalog, Precision, MAX_DISTINCT_MODELS};
use crate::schedule::Demand;
use crate::time::SimTime;

use super::csv_rows::{next_row_request, CsvRows, RowReader};
use super::{
    precision_ladder, variant_demand, ClassId, ClassTable, DeploymentRequest, Skipped, Workload,
    WorkloadError,
};

/// Every column the format defines.
pub const COLUMNS: [&str; 6] = [
    "arrival",
    "model",
    "precision",
    "duration",
    "departure",
    "priority",
];

/// Reads an aimsim trace, streaming.
pub struct TraceWorkload<'a> {
    rows: CsvRows,
    catalog: &'a Catalog,
    classes: ClassTable,
    resolved: HashMap<String, [Option<Resolution>; 3]>,
    /// Why rows were skipped (the catalog's message) -> (first line, rows).
    unknown: BTreeMap<String, (u64, u64)>,
    last_arrival: SimTime,
    columns: Columns,
    /// Replaces every row's precision, when set.
    precision: Option<Precision>,
}

/// A model at a precision looked up once: its demand and class, or the
/// catalog's explanation (with close ids) of why it has no such variant.
type Resolution = Result<(Demand, ClassId), String>;

struct Columns {
    arrival: usize,
    model: usize,
    precision: usize,
    duration: Option<usize>,
    departure: Option<usize>,
    priority: Option<usize>,
}

impl<'a> TraceWorkload<'a> {
    /// Opens the trace at `path`; models are looked up in `catalog`.
    pub fn open(path: &Path, catalog: &'a Catalog) -> Result<TraceWorkload<'a>, WorkloadError> {
        TraceWorkload::new(CsvRows::open(path, &COLUMNS, &COLUMNS[..3], true)?, catalog)
    }

    /// Reads a trace from any reader; `source_name` names it in errors.
    pub fn from_reader(
        reader: Box<dyn Read>,
        source_name: &str,
        catalog: &'a Catalog,
    ) -> Result<TraceWorkload<'a>, WorkloadError> {
        TraceWorkload::new(
            CsvRows::from_reader(reader, source_name, &COLUMNS, &COLUMNS[..3], true)?,
            catalog,
        )
    }

    fn new(rows: CsvRows, catalog: &'a Catalog) -> Result<TraceWorkload<'a>, WorkloadError> {
        let columns = Columns {
            arrival: rows.column("arrival").expect("required"),
            model: rows.column("model").expect("required"),
            precision: rows.column("precision").expect("required"),
            duration: rows.column("duration"),
            departure: rows.column("departure"),
            priority: rows.column("priority"),
        };
        Ok(TraceWorkload {
            rows,
            catalog,
            classes: ClassTable::default(),
            resolved: HashMap::new(),
            unknown: BTreeMap::new(),
            last_arrival: SimTime::ZERO,
            columns,
            precision: None,
        })
    }

    /// Charges every row at `precision` instead of its own, when given.
    pub fn with_precision(mut self, precision: Option<Precision>) -> TraceWorkload<'a> {
        self.precision = precision;
        self
    }

    /// The demand and class of `model` at `precision`, or why the catalog
    /// has no such variant (the row is then skipped and counted).
    fn resolve(&mut self, precision: Precision) -> Resolution {
        let model = self.rows.field(self.columns.model);
        if let Some(done) = self
            .resolved
            .get(model)
            .and_then(|slots| slots[precision.index()].clone())
        {
            return done;
        }
        if self.resolved.len() >= MAX_DISTINCT_MODELS {
            return Err(format!(
                "more than {MAX_DISTINCT_MODELS} distinct models in one trace"
            ));
        }
        let model = model.to_string();
        let resolved = self
            .catalog
            .find(&model, precision)
            .map_err(|e| e.to_string())
            .map(|id| {
                let demand = variant_demand(self.catalog.variant(id));
                (demand, self.classes.intern(&model, Some(precision)))
            });
        self.resolved.entry(model).or_default()[precision.index()] = Some(resolved.clone());
        resolved
    }
}

impl RowReader for TraceWorkload<'_> {
    fn rows(&mut self) -> &mut CsvRows {
        &mut self.rows
    }

    fn read_row(&mut self) -> Result<Option<DeploymentRequest>, WorkloadError> {
        let rows = &self.rows;
        let c = &self.columns;
        let arrival = rows.seconds(c.arrival)?;
        if arrival < self.last_arrival {
            return Err(rows.error(format!(
                "arrival {} s is before the previous row's {} s; rows must be in arrival order",
                arrival.as_secs_f64(),
                self.last_arrival.as_secs_f64()
            )));
        }
        rows.model_id(c.model)?;
        let precision = rows
            .field(c.precision)
            .parse::<Precision>()
            .map_err(|e| rows.error(format!("column `precision`: {e}")))?;
        let precision = self.precision.unwrap_or(precision);
        let duration = match c.duration {
            Some(i) if !rows.field(i).is_empty() => Some(rows.seconds(i)?),
            _ => None,
        };
        let departure = match c.departure {
            Some(i) if !rows.field(i).is_empty() => Some(rows.seconds(i)?),
            _ => None,
        };
        let lifetime = match (duration, departure) {
            (Some(_), Some(_)) => {
                return Err(rows.error("give `duration` or `departure`, not both".into()));
            }
            (Some(d), None) => Some(d),
            (None, Some(dep)) if dep < arrival => {
                return Err(rows.error(format!(
                    "departure {} s is before arrival {} s (a negative duration)",
                    dep.as_secs_f64(),
                    arrival.as_secs_f64()
                )));
            }
            (None, Some(dep)) => Some(dep - arrival),
            (None, None) => None,
        };
        let priority = match c.priority {
            Some(i) if !rows.field(i).is_empty() => rows.parse(i, "an integer priority")?,
            _ => 0,
        };
        self.last_arrival = arrival;
        let (demand, class) = match self.resolve(precision) {
            Ok(found) => found,
            Err(why) => {
                let line = self.rows.line();
                self.unknown.entry(why).or_insert((line, 0)).1 += 1;
                return Ok(None);
            }
        };
        Ok(Some(DeploymentRequest {
            arrival,
            lifetime,
            demand,
            class,
            priority,
        }))
    }
}

impl Workload for TraceWorkload<'_> {
    fn next_request(&mut self) -> Option<Result<DeploymentRequest, WorkloadError>> {
        next_row_request(self)
    }

    fn classes(&self) -> &ClassTable {
        &self.classes
    }

    fn skipped(&self) -> Vec<Skipped> {
        self.unknown
            .iter()
            .map(|(why, &(first_line, rows))| Skipped {
                what: format!("{why} (first on line {first_line})"),
                rows,
                unknown_model: true,
            })
            .collect()
    }

    fn demand_at(&self, class: ClassId, precision: Precision) -> Option<Demand> {
        let model = &self.classes.get(class).name;
        precision_ladder(self.catalog, model)[precision.index()]
    }
}
