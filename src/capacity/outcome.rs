//! What a cell's search reports: how it ended, its answer, and every
//! simulation it ran on the way.

use super::bounds::Floor;
use super::evaluate::Evaluation;
use super::Cell;

/// Which stage of the search ran a simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Replicas of one model (its index), each alone on its own device.
    Isolated(usize),
    /// Every model's replicas packed on the fewest GPUs that hold them.
    Packed,
    /// One GPU less than the best configuration so far.
    Trim,
}

/// One simulation a search ran.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchStep {
    /// The stage.
    pub stage: Stage,
    /// The configuration and its figures.
    pub evaluation: Evaluation,
}

/// How a cell's search ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The answer meets the SLO in simulation.
    Met,
    /// No fleet can meet the SLO: some model's requests miss it even alone.
    Unreachable(String),
    /// A model cannot run on this layout at this precision.
    DoesNotFit(String),
    /// The search stopped at a limit (GPUs or rounds) without meeting it.
    NotFound(String),
}

impl Verdict {
    /// `met`, `unreachable`, `does-not-fit` or `not-found`.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Unreachable(_) => "unreachable",
            Verdict::DoesNotFit(_) => "does-not-fit",
            Verdict::NotFound(_) => "not-found",
        }
    }

    /// The reason, empty when met.
    pub fn reason(&self) -> &str {
        match self {
            Verdict::Met => "",
            Verdict::Unreachable(r) | Verdict::DoesNotFit(r) | Verdict::NotFound(r) => r,
        }
    }
}

/// A cell's answer and how it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct CellPlan {
    /// The cell.
    pub cell: Cell,
    /// How the search ended.
    pub verdict: Verdict,
    /// Per model: the latency floor alone on one replica (empty when a
    /// model does not fit).
    pub floors: Vec<Floor>,
    /// Per model: the fewest replicas meeting the SLO in isolation (empty
    /// unless the isolated stage finished).
    pub isolated: Vec<u32>,
    /// The answer's configuration and figures, when met.
    pub answer: Option<Evaluation>,
    /// Every simulation the search ran, in order.
    pub steps: Vec<SearchStep>,
}
