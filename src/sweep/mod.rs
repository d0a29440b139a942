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
pub use grid::{cells, plan_cells, BadShard, Cell, GridShard};
pub use plan::{plan, plan_cell, FitCriterion, Needed, PlanRow, StaticBounds};
pub use run::{RunRow, SweepError, Sweeper};
pub use stats::{summarise, Estimate, PointSummary};
