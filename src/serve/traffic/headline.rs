//! A trace replayed at a stated mean rate (`traffic.rate = R`): the rate
//! multiplier that makes its headline rate `R`.
//!
//! The **headline rate** of replayed traffic is the number of requests it
//! holds divided by the span they arrive in, counted from time 0 (the rate
//! [`super::TrafficShape`] reports):
//! - with a horizon `H` (`run.horizon`), the requests arriving before `H`,
//!   over `H`: the multiplier is chosen so that exactly `round(R x H)`
//!   requests arrive before `H` (the window's edge falls halfway between
//!   that request and the next);
//! - without one, every request of the trace, over the time of its last
//!   arrival.
//!
//! Only arrival times are read (in one streaming pass, constant memory), so
//! the multiplier does not depend on the seed that assigns models.

use crate::time::Nanos;

use super::{check_rate_scale, Traffic};

/// The multiplier that replays `traffic` (at its own pace, unscaled) at
/// `rate` requests per second over `horizon`, as the module describes.
/// `Err` says why no multiplier does: too few requests in the trace, a
/// trace with no span, or a multiplier out of [`check_rate_scale`]'s range.
pub fn scale_for_rate(
    traffic: &mut dyn Traffic,
    rate: f64,
    horizon: Option<Nanos>,
) -> Result<f64, String> {
    let factor = match horizon {
        Some(horizon) => over_horizon(traffic, rate, horizon)?,
        None => over_trace(traffic, rate)?,
    };
    check_rate_scale(factor).map_err(|range| {
        format!("{rate} requests/s means replaying the trace {factor:.3e} times as fast: {range}")
    })
}

/// Every request over the last arrival.
fn over_trace(traffic: &mut dyn Traffic, rate: f64) -> Result<f64, String> {
    let mut count = 0u64;
    let mut last = 0u64;
    while let Some(request) = traffic.next_request() {
        last = request.map_err(|e| e.to_string())?.arrival.0;
        count += 1;
    }
    if count == 0 {
        return Err("the trace holds no requests".into());
    }
    if last == 0 {
        return Err(
            "every request of the trace arrives at time 0: it has no rate to rescale".into(),
        );
    }
    // count / (last / factor) = rate.
    Ok(rate * (last as f64 / 1e9) / count as f64)
}

/// `round(rate x horizon)` requests before the horizon.
fn over_horizon(traffic: &mut dyn Traffic, rate: f64, horizon: Nanos) -> Result<f64, String> {
    let seconds = horizon.0 as f64 / 1e9;
    let wanted = (rate * seconds).round();
    if wanted < 1.0 {
        return Err(format!(
            "{rate} requests/s over the {seconds} s horizon is less than one request"
        ));
    }
    let wanted = wanted as u64;
    let mut count = 0u64;
    let mut edge = None;
    let mut next = None;
    while let Some(request) = traffic.next_request() {
        let arrival = request.map_err(|e| e.to_string())?.arrival.0;
        count += 1;
        if count == wanted {
            edge = Some(arrival);
        } else if count > wanted {
            next = Some(arrival);
            break;
        }
    }
    let Some(edge) = edge else {
        return Err(format!(
            "the trace holds {count} requests; {rate} requests/s over the {seconds} s horizon needs {wanted}: lower traffic.rate or run.horizon, or drop the horizon to rate the whole trace"
        ));
    };
    // The window [0, horizon) of the scaled run is [0, boundary) of the
    // trace: halfway to the next arrival, or just past the edge when the
    // next arrives with it or there is none.
    let boundary = match next {
        Some(next) if next > edge => (edge as f64 + next as f64) / 2.0,
        _ => edge as f64 + 1e6,
    };
    Ok(boundary / horizon.0 as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::traffic::{InferenceRequest, Recorded, Target};
    use crate::workload::WorkloadError;

    /// A trace of requests at `arrivals` (seconds).
    struct Arrivals {
        times: std::vec::IntoIter<f64>,
        targets: Vec<Target>,
    }

    impl Arrivals {
        fn new(times: &[f64]) -> Arrivals {
            Arrivals {
                times: Vec::from(times).into_iter(),
                targets: vec![Target {
                    model: "m".into(),
                    precision: None,
                }],
            }
        }
    }

    impl Traffic for Arrivals {
        fn next_request(&mut self) -> Option<Result<InferenceRequest, WorkloadError>> {
            self.times.next().map(|t| {
                Ok(InferenceRequest {
                    arrival: Nanos((t * 1e9) as u64),
                    target: 0,
                    prompt: 1,
                    output: 1,
                    priority: 0,
                })
            })
        }

        fn targets(&self) -> &[Target] {
            &self.targets
        }
    }

    /// Requests of `times` arriving before `horizon` once scaled by `factor`.
    fn before(times: &[f64], factor: f64, horizon: f64) -> usize {
        let mut scaled =
            super::super::RateScaled::new(Arrivals::new(times), factor).expect("factor in range");
        let recorded = Recorded::record(&mut scaled, times.len()).expect("no errors");
        recorded
            .requests()
            .iter()
            .filter(|r| r.arrival.0 < (horizon * 1e9) as u64)
            .count()
    }

    #[test]
    fn the_whole_trace_at_the_stated_rate() {
        // 10 requests over 20 s: 0.5 req/s; 2 req/s is 4x as fast.
        let times: Vec<f64> = (1..=10).map(|i| 2.0 * i as f64).collect();
        let factor = scale_for_rate(&mut Arrivals::new(&times), 2.0, None).unwrap();
        assert!((factor - 4.0).abs() < 1e-12, "{factor}");
    }

    #[test]
    fn a_horizon_holds_rate_times_horizon_requests() {
        // Uneven gaps: a quiet start, then a burst.
        let times: Vec<f64> = (0..400)
            .map(|i| {
                if i < 50 {
                    3.0 * i as f64
                } else {
                    150.0 + 0.1 * i as f64
                }
            })
            .collect();
        for (rate, horizon) in [(1.0, 30.0), (2.5, 60.0), (0.2, 100.0), (7.0, 50.0)] {
            let factor = scale_for_rate(
                &mut Arrivals::new(&times),
                rate,
                Some(Nanos((horizon * 1e9) as u64)),
            )
            .unwrap();
            let expected = (rate * horizon).round() as usize;
            assert_eq!(
                before(&times, factor, horizon),
                expected,
                "rate {rate} over {horizon} s (factor {factor})"
            );
        }
    }

    #[test]
    fn too_short_a_trace_or_rate_is_refused_with_why() {
        let times = [1.0, 2.0, 3.0];
        let short = scale_for_rate(&mut Arrivals::new(&times), 1.0, Some(Nanos(10_000_000_000)));
        assert!(short.unwrap_err().contains("holds 3 requests"));
        let tiny = scale_for_rate(
            &mut Arrivals::new(&times),
            0.01,
            Some(Nanos(10_000_000_000)),
        );
        assert!(tiny.unwrap_err().contains("less than one request"));
        let flat = scale_for_rate(&mut Arrivals::new(&[0.0, 0.0]), 1.0, None);
        assert!(flat.unwrap_err().contains("time 0"));
        let fast = scale_for_rate(&mut Arrivals::new(&times), 1e9, None);
        assert!(fast.unwrap_err().contains("the rate scale must be from"));
    }
}
