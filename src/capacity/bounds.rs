//! What no number of replicas can beat, and where a search should start:
//! each request alone on an idle replica (the latency floor), and the
//! steady-state throughput of a replica (the replica bound).

use crate::perf::{batch_latency, offline_throughput, ReplicaModel};
use crate::serve::traffic::InferenceRequest;
use crate::serve::Slo;

/// The latency floor of one model's traffic on one replica.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Floor {
    /// Share of requests whose TTFT and TPOT, each alone on an idle
    /// replica, are within the targets.
    pub attainable: f64,
    /// TTFT alone of the request at the SLO's percentile, seconds.
    pub ttft: f64,
    /// TPOT alone (first decode step) at the SLO's percentile, seconds.
    pub tpot: f64,
}

impl Floor {
    /// Whether some number of replicas might meet the SLO.
    pub fn reachable(&self, slo: &Slo) -> bool {
        self.attainable >= slo.percentile
    }

    /// Why no fleet can meet `slo`, in words.
    pub fn reason(&self, slo: &Slo) -> String {
        let mut parts = vec![format!(
            "only {:.1}% of requests meet the targets even alone on an idle replica (the SLO asks {:.1}%)",
            self.attainable * 100.0,
            slo.percentile * 100.0
        )];
        if let Some(target) = slo.ttft.filter(|&t| self.ttft > t) {
            parts.push(format!(
                "p{} TTFT alone is {:.3} s against {target} s",
                percent(slo.percentile),
                self.ttft
            ));
        }
        if let Some(target) = slo.tpot.filter(|&t| self.tpot > t) {
            parts.push(format!(
                "p{} TPOT alone is {:.1} ms against {:.1} ms",
                percent(slo.percentile),
                self.tpot * 1e3,
                target * 1e3
            ));
        }
        parts.join("; ")
    }
}

fn percent(p: f64) -> String {
    format!("{}", (p * 1000.0).round() / 10.0)
}

/// The latency floor of `requests` on `model`: each prompt prefilled alone
/// (in chunks of the engine's token budget) and its first decode step
/// alone, against `slo`. TTFT and TPOT only grow with company and context,
/// so a request that misses here misses on any fleet.
pub fn floor(model: &ReplicaModel, requests: &[InferenceRequest], slo: &Slo) -> Floor {
    let mut ttfts = Vec::with_capacity(requests.len());
    let mut tpots = Vec::with_capacity(requests.len());
    let mut met = 0usize;
    for r in requests {
        let alone = batch_latency(model, 1, r.prompt, r.output.min(2), 1);
        let tpot = if r.output > 1 { alone.tpot_s } else { 0.0 };
        let ok = slo.ttft.is_none_or(|t| alone.ttft_s <= t)
            && slo.tpot.is_none_or(|t| tpot <= t)
            && slo
                .e2e
                .is_none_or(|t| alone.ttft_s + tpot * f64::from(r.output.saturating_sub(1)) <= t);
        met += usize::from(ok);
        ttfts.push(alone.ttft_s);
        tpots.push(tpot);
    }
    let at = |values: &mut Vec<f64>| {
        if values.is_empty() {
            return 0.0;
        }
        values.sort_by(f64::total_cmp);
        let rank = ((slo.percentile * values.len() as f64).ceil() as usize).clamp(1, values.len());
        values[rank - 1]
    };
    Floor {
        attainable: if requests.is_empty() {
            1.0
        } else {
            met as f64 / requests.len() as f64
        },
        ttft: at(&mut ttfts),
        tpot: at(&mut tpots),
    }
}

/// Replicas that, each at its steady-state throughput for the traffic's
/// mean prompt and output, just carry `requests` arriving over `seconds`:
/// fewer cannot keep up, so a search starts here.
pub fn replica_bound(model: &ReplicaModel, requests: &[InferenceRequest], seconds: f64) -> u32 {
    if requests.is_empty() || seconds <= 0.0 {
        return 1;
    }
    let n = requests.len() as f64;
    let prompt = requests.iter().map(|r| f64::from(r.prompt)).sum::<f64>() / n;
    let output = requests.iter().map(|r| f64::from(r.output)).sum::<f64>() / n;
    let tokens_per_s = offline_throughput(
        model,
        prompt.round().max(1.0) as u32,
        output.round().max(1.0) as u32,
        u32::MAX,
        1,
    );
    let demand = n / seconds * output;
    (demand / tokens_per_s)
        .ceil()
        .clamp(1.0, f64::from(u32::MAX)) as u32
}
