//! Parameter sweeps and capacity plans.
//!
//! A sweep runs every point of a grid (precision mixes x GPU kinds x
//! layouts x policies x fleet sizes) once per seed, in parallel with rayon,
//! and summarises each point over its seeds. A plan searches, for each
//! point of the grid without fleet sizes, the smallest fleet whose fit rate
//! reaches a target. Results come out in grid order whatever the thread
//! count.

mod bounds;
mod grid;
mod plan;
mod run;
mod stats;

pub use bounds::{l1, l2};
pub use grid::{mix_label, simplex, Cell, Mix, Shard, SweepSpec};
pub use plan::{plan, plan_cell, FitCriterion, Needed, PlanRow, StaticBounds};
pub use run::{RunRow, SweepError, Sweeper, ELASTIC_CAP};
pub use stats::Estimate;
