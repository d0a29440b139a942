//! What a serving run measures: per-request latencies, counts, service
//! level attainment, and series over time, in constant memory.
//!
//! Definitions (vLLM's benchmark and MLPerf's): **queueing delay** from
//! arrival to the first admission into a batch; **TTFT** from arrival to the
//! end of the iteration that emits the first output token; **TPOT** the time
//! from the first to the last token over the tokens after the first
//! (undefined, and taken as met, for one-token outputs); **E2E** from
//! arrival to the last token.
//!
//! **The warm-up rule**, the same for every metric: a request is measured
//! when it arrives at or after the warm-up, and then all of its figures
//! count (in the tallies and in the series interval where each event
//! falls); figures of time (tokens emitted, busy time, cache use, requests
//! in the system) count from the warm-up on.
//!
//! **The horizon rule**: a request still in flight when the run stops is
//! *unfinished*, not a miss. Its TTFT is recorded if its first token came.
//! It counts against attainment only when it has already missed a target
//! for certain (waited longer than the TTFT target, spent longer than the
//! E2E target, or emitted its tokens so slowly that its TPOT must exceed
//! the target); attainment is the share of *decided* requests (finished,
//! refused, or unfinished and certainly missed) within the targets.
//!
//! **Refusals**: a request longer than its replica can ever hold, and one
//! shed because the fleet already holds `run.max_in_system` requests, are
//! decided on arrival and miss every target.

use serde::Serialize;

use super::histogram::{Histogram, Quantiles};

/// Latency targets; each is optional.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Slo {
    /// Time to first token, seconds.
    pub ttft: Option<f64>,
    /// Time per output token, seconds.
    pub tpot: Option<f64>,
    /// End-to-end latency, seconds.
    pub e2e: Option<f64>,
    /// Share of requests that must meet every target, in (0, 1).
    pub percentile: f64,
}

impl Default for Slo {
    /// MLPerf Inference's Llama-2-70B server constraints: TTFT 2 s and
    /// TPOT 200 ms at the 99th percentile.
    fn default() -> Self {
        Slo {
            ttft: Some(2.0),
            tpot: Some(0.2),
            e2e: None,
            percentile: 0.99,
        }
    }
}

/// One finished request's latencies, seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latencies {
    /// Arrival to first admission.
    pub queue: f64,
    /// Arrival to first token.
    pub ttft: f64,
    /// Per output token after the first (`None` for one-token outputs).
    pub tpot: Option<f64>,
    /// Arrival to last token.
    pub e2e: f64,
}

/// Counts and latency distributions of one deployment (or all).
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Measured requests that arrived.
    pub arrived: u64,
    /// Of them, finished.
    pub finished: u64,
    /// Refused on arrival: longer than a replica can ever hold.
    pub too_long: u64,
    /// Shed on arrival: the fleet already held as many requests as it
    /// accepts (`run.max_in_system`).
    pub shed: u64,
    /// Still queued or running at the horizon.
    pub unfinished: u64,
    /// Of them, certain to miss a target already.
    pub unfinished_missed: u64,
    /// Prompt tokens of finished requests.
    pub prompt_tokens: u64,
    /// Output tokens of finished requests.
    pub output_tokens: u64,
    /// Finished within the TTFT target.
    pub met_ttft: u64,
    /// Finished within the TPOT target.
    pub met_tpot: u64,
    /// Finished within the E2E target.
    pub met_e2e: u64,
    /// Finished within every target.
    pub good: u64,
    /// Queueing delays.
    pub queue: Histogram,
    /// Times to first token.
    pub ttft: Histogram,
    /// Times per output token.
    pub tpot: Histogram,
    /// End-to-end latencies.
    pub e2e: Histogram,
}

impl Tally {
    /// Records a request's first token, `ttft` seconds after it arrived.
    pub fn first_token(&mut self, ttft: f64) {
        self.ttft.record(ttft);
    }

    /// Records a request still in flight at the horizon: `waited` seconds
    /// since its arrival, its TTFT if its first token came, and the least
    /// TPOT it can still reach (`None` before a second token can be
    /// timed).
    pub fn unfinished(
        &mut self,
        waited: f64,
        ttft: Option<f64>,
        least_tpot: Option<f64>,
        slo: &Slo,
    ) {
        self.unfinished += 1;
        let over = |value: Option<f64>, target: Option<f64>| matches!((value, target), (Some(v), Some(t)) if v > t);
        let ttft_missed = over(Some(ttft.unwrap_or(waited)), slo.ttft);
        if ttft_missed || over(least_tpot, slo.tpot) || over(Some(waited), slo.e2e) {
            self.unfinished_missed += 1;
            // Only a target it has met for certain counts as met.
            self.met_ttft += u64::from(ttft.is_some() && !ttft_missed);
        }
    }

    /// Records a finished request (its TTFT was recorded at its first
    /// token).
    pub fn finish(&mut self, latencies: &Latencies, prompt: u32, output: u32, slo: &Slo) {
        self.finished += 1;
        self.prompt_tokens += u64::from(prompt);
        self.output_tokens += u64::from(output);
        self.queue.record(latencies.queue);
        self.e2e.record(latencies.e2e);
        if let Some(tpot) = latencies.tpot {
            self.tpot.record(tpot);
        }
        let within = |value: Option<f64>, target: Option<f64>| match (value, target) {
            (Some(v), Some(t)) => v <= t,
            _ => true,
        };
        let ttft = within(Some(latencies.ttft), slo.ttft);
        let tpot = within(latencies.tpot, slo.tpot);
        let e2e = within(Some(latencies.e2e), slo.e2e);
        self.met_ttft += u64::from(ttft);
        self.met_tpot += u64::from(tpot);
        self.met_e2e += u64::from(e2e);
        self.good += u64::from(ttft && tpot && e2e);
    }

    /// Adds another tally.
    pub fn merge(&mut self, other: &Tally) {
        self.arrived += other.arrived;
        self.finished += other.finished;
        self.too_long += other.too_long;
        self.shed += other.shed;
        self.unfinished += other.unfinished;
        self.unfinished_missed += other.unfinished_missed;
        self.prompt_tokens += other.prompt_tokens;
        self.output_tokens += other.output_tokens;
        self.met_ttft += other.met_ttft;
        self.met_tpot += other.met_tpot;
        self.met_e2e += other.met_e2e;
        self.good += other.good;
        self.queue.merge(&other.queue);
        self.ttft.merge(&other.ttft);
        self.tpot.merge(&other.tpot);
        self.e2e.merge(&other.e2e);
    }

    /// The summary over a measured window of `seconds`, judged against `slo`.
    pub fn summary(&self, seconds: f64, slo: &Slo) -> TallySummary {
        let decided = self.arrived - self.unfinished + self.unfinished_missed;
        let share = |met: u64| {
            if decided == 0 {
                1.0
            } else {
                met as f64 / decided as f64
            }
        };
        let per_second = |n: u64| {
            if seconds > 0.0 {
                n as f64 / seconds
            } else {
                0.0
            }
        };
        let attainment = Attainment {
            ttft: share(self.met_ttft),
            tpot: share(self.met_tpot),
            e2e: share(self.met_e2e),
            all: share(self.good),
        };
        TallySummary {
            arrived: self.arrived,
            finished: self.finished,
            too_long: self.too_long,
            shed: self.shed,
            unfinished: self.unfinished,
            unfinished_missed: self.unfinished_missed,
            requests_per_second: per_second(self.finished),
            output_tokens_per_second: per_second(self.output_tokens),
            prompt_tokens_per_second: per_second(self.prompt_tokens),
            goodput: per_second(self.good),
            slo_met: attainment.all >= slo.percentile,
            attainment,
            queue: self.queue.quantiles(),
            ttft: self.ttft.quantiles(),
            tpot: self.tpot.quantiles(),
            e2e: self.e2e.quantiles(),
        }
    }
}

/// Shares of measured arrivals that finished within each target (a
/// request refused misses them all; one unfinished is left out unless it
/// certainly missed a target).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Attainment {
    /// Within the TTFT target.
    pub ttft: f64,
    /// Within the TPOT target.
    pub tpot: f64,
    /// Within the E2E target.
    pub e2e: f64,
    /// Within every target.
    pub all: f64,
}

/// A tally's figures for reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TallySummary {
    /// Measured arrivals.
    pub arrived: u64,
    /// Finished.
    pub finished: u64,
    /// Refused as longer than a replica holds.
    pub too_long: u64,
    /// Shed: the fleet held as many requests as it accepts.
    pub shed: u64,
    /// Unfinished at the horizon.
    pub unfinished: u64,
    /// Of them, certain to miss a target already.
    pub unfinished_missed: u64,
    /// Finished requests per second.
    pub requests_per_second: f64,
    /// Output tokens of finished requests per second.
    pub output_tokens_per_second: f64,
    /// Prompt tokens of finished requests per second.
    pub prompt_tokens_per_second: f64,
    /// Requests finished within every target, per second.
    pub goodput: f64,
    /// Whether at least `slo.percentile` of decided requests met every
    /// target.
    pub slo_met: bool,
    /// Shares within each target.
    pub attainment: Attainment,
    /// Queueing delay, seconds.
    pub queue: Quantiles,
    /// Time to first token, seconds.
    pub ttft: Quantiles,
    /// Time per output token, seconds.
    pub tpot: Quantiles,
    /// End-to-end latency, seconds.
    pub e2e: Quantiles,
}

/// Most points a time series keeps: past it, neighbouring intervals merge
/// and the interval doubles.
pub const MAX_POINTS: usize = 512;

/// Figures per interval of simulated time, from the warm-up's end: the
/// events of measured requests (arrived after the warm-up) in the interval,
/// and the tokens emitted in it.
#[derive(Debug, Clone)]
pub struct TimeSeries {
    start: u64,
    interval: u64,
    points: Vec<Point>,
    /// The last point asked for: its index and span [from, to) in ns
    /// (most events fall in the interval of the one before).
    last: (usize, u64, u64),
}

/// One interval's figures.
#[derive(Debug, Clone, Default)]
pub struct Point {
    /// Requests that arrived.
    pub arrivals: u64,
    /// Requests that finished.
    pub finished: u64,
    /// Output tokens emitted.
    pub tokens: u64,
    /// TTFTs of requests whose first token came in the interval.
    pub ttft: Histogram,
    /// TPOTs of requests that finished in the interval.
    pub tpot: Histogram,
    /// Integral of requests in the system over the interval, request-ns.
    pub in_system: f64,
}

impl TimeSeries {
    /// A series from `start` (ns) with intervals of `interval` ns at first.
    pub fn new(start: u64, interval: u64) -> TimeSeries {
        TimeSeries {
            start,
            interval: interval.max(1),
            points: Vec::new(),
            last: (0, 0, 0),
        }
    }

    /// Interval length now, ns.
    pub fn interval(&self) -> u64 {
        self.interval
    }

    /// The series' start, ns.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// The points so far.
    pub fn points(&self) -> &[Point] {
        &self.points
    }

    /// The point holding time `t` (ns, at or after the start), created as
    /// needed; merges intervals pairwise while there would be more than
    /// [`MAX_POINTS`].
    pub fn at(&mut self, t: u64) -> &mut Point {
        let (last, from, to) = self.last;
        if from <= t && t < to {
            return &mut self.points[last];
        }
        let mut index = ((t - self.start) / self.interval) as usize;
        while index >= MAX_POINTS {
            self.coarsen();
            index = ((t - self.start) / self.interval) as usize;
        }
        if index >= self.points.len() {
            self.points.resize_with(index + 1, Point::default);
        }
        let from = self.start + index as u64 * self.interval;
        self.last = (index, from, from + self.interval);
        &mut self.points[index]
    }

    /// Spreads `count` requests in the system over [from, to) (ns).
    pub fn occupy(&mut self, from: u64, to: u64, count: u64) {
        if count == 0 || to <= from {
            return;
        }
        let mut t = from.max(self.start);
        while t < to {
            self.at(t);
            let (index, _, point_end) = self.last;
            let end = point_end.min(to);
            self.points[index].in_system += ((end - t) * count) as f64;
            t = end;
        }
    }

    fn coarsen(&mut self) {
        let merged = self
            .points
            .chunks_mut(2)
            .map(|pair| {
                let mut first = std::mem::take(&mut pair[0]);
                if let Some(second) = pair.get(1) {
                    first.arrivals += second.arrivals;
                    first.finished += second.finished;
                    first.tokens += second.tokens;
                    first.ttft.merge(&second.ttft);
                    first.tpot.merge(&second.tpot);
                    first.in_system += second.in_system;
                }
                first
            })
            .collect();
        self.points = merged;
        self.interval *= 2;
        self.last = (0, 0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_meets_only_the_targets_it_is_within() {
        let slo = Slo {
            ttft: Some(1.0),
            tpot: Some(0.1),
            e2e: None,
            percentile: 0.5,
        };
        let mut tally = Tally {
            arrived: 3,
            ..Tally::default()
        };
        let fast = Latencies {
            queue: 0.0,
            ttft: 0.5,
            tpot: Some(0.05),
            e2e: 2.0,
        };
        let slow_start = Latencies { ttft: 1.5, ..fast };
        tally.finish(&fast, 10, 20, &slo);
        tally.finish(&slow_start, 10, 20, &slo);
        let summary = tally.summary(10.0, &slo);
        assert_eq!((tally.met_ttft, tally.met_tpot, tally.good), (1, 2, 1));
        // One of three arrivals met everything: 1/3 < 0.5.
        assert!(!summary.slo_met);
        assert!((summary.attainment.all - 1.0 / 3.0).abs() < 1e-12);
        assert!((summary.goodput - 0.1).abs() < 1e-12);
    }

    #[test]
    fn a_long_series_coarsens_and_keeps_its_totals() {
        let mut series = TimeSeries::new(0, 10);
        for t in 0..10_000u64 {
            series.at(t).tokens += 1;
        }
        series.occupy(0, 10_000, 2);
        assert!(series.points().len() <= MAX_POINTS);
        assert_eq!(series.interval(), 20);
        assert_eq!(
            series.points().iter().map(|p| p.tokens).sum::<u64>(),
            10_000
        );
        assert_eq!(
            series.points().iter().map(|p| p.in_system).sum::<f64>(),
            20_000.0
        );
    }
}
