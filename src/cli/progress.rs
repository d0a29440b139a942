//! Progress of long runs on stderr.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use aimsim::sim::Progress;
use aimsim::time::SimTime;

use super::CliError;

/// Progress on stderr: a line that updates in place on a terminal, a line
/// every ten seconds otherwise, nothing for runs shorter than a second.
pub struct ProgressReporter {
    started: Instant,
    last: Instant,
    end: Option<SimTime>,
    terminal: bool,
    shown: bool,
}

impl ProgressReporter {
    /// A reporter for a run ending at `end`, if known.
    pub fn new(end: Option<SimTime>) -> Self {
        let now = Instant::now();
        ProgressReporter {
            started: now,
            last: now,
            end,
            terminal: std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    /// Shows `p` if it is time to.
    pub fn report(&mut self, p: Progress) {
        let every = if self.terminal { 0.25 } else { 10.0 };
        if self.started.elapsed().as_secs_f64() < 1.0 || self.last.elapsed().as_secs_f64() < every {
            return;
        }
        self.last = Instant::now();
        let share = self.end.map_or(String::new(), |end| {
            format!(" ({:.0}%)", 100.0 * p.now.0 as f64 / end.0.max(1) as f64)
        });
        let line = format!(
            "simulated {:.1} h{share}, {} events",
            p.now.as_hours_f64(),
            p.events
        );
        if self.terminal {
            eprint!("\r{line}  ");
        } else {
            eprintln!("{line}");
        }
        self.shown = true;
    }

    /// Ends the line on a terminal.
    pub fn finish(&self) {
        if self.shown && self.terminal {
            eprintln!();
        }
    }
}

/// Runs `work` on a pool of `threads` threads (default: one per core).
pub(super) fn with_threads<T: Send>(
    threads: Option<u32>,
    work: impl FnOnce() -> T + Send,
) -> Result<T, CliError> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = threads {
        builder = builder.num_threads(n as usize);
    }
    Ok(builder.build()?.install(work))
}

/// A progress bar on stderr with the time left (drawn only on a terminal).
pub(super) fn progress_bar(total: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {unit} ({{percent}}%), {{elapsed}} elapsed, about {{eta}} left"))
            .expect("a valid template"),
    );
    bar
}
