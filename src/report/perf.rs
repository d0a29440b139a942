//! `aimsim perf`'s report: per device of the layout and batch size, the
//! replica's latencies and throughput from the performance model.

use serde::Serialize;

use crate::hardware::GpuKind;
use crate::profile::Precision;

use super::{csv_text, Table};

/// One device's figures for the batch sizes asked.
#[derive(Debug, Serialize)]
pub struct DeviceFigures {
    /// What the device is.
    pub device: String,
    /// Replicas busy at once on the device.
    pub busy_replicas: u32,
    /// Replicas one GPU holds in this layout.
    pub replicas_per_gpu: u32,
    /// Weight memory, GiB.
    pub weights_gib: f64,
    /// Memory left for the key/value cache, GiB.
    pub kv_cache_gib: f64,
    /// Tokens the cache holds.
    pub kv_cache_tokens: u64,
    /// Largest batch whose requests fit the cache at input + output tokens.
    pub max_batch: u32,
    /// Per batch size.
    pub rows: Vec<BatchRow>,
}

/// One batch size's figures.
#[derive(Debug, Serialize)]
pub struct BatchRow {
    /// Requests in the batch.
    pub batch: u32,
    /// Time to first token, ms.
    pub ttft_ms: f64,
    /// Time per output token, ms.
    pub tpot_ms: f64,
    /// End to end, s.
    pub e2e_s: f64,
    /// Output tokens per second of the replica.
    pub tokens_per_s_replica: f64,
    /// Output tokens per second of a GPU, every replica on it busy.
    pub tokens_per_s_gpu: f64,
    /// Whether the batch fits the key/value cache (else the engine preempts).
    pub fits: bool,
}

/// What `aimsim perf` reports for one model, precision and layout.
#[derive(Debug, Serialize)]
pub struct PerfReport {
    /// Model id.
    pub model: String,
    /// Precision.
    pub precision: Precision,
    /// GPU kind.
    pub gpu: GpuKind,
    /// Tensor-parallel degree.
    pub tp: u32,
    /// Prompt tokens per request.
    pub input_tokens: u32,
    /// Output tokens per request.
    pub output_tokens: u32,
    /// Bits of the key/value cache.
    pub kv_cache_bits: u32,
    /// Per device of the layout.
    pub devices: Vec<DeviceFigures>,
}

/// One CSV row per device and batch size.
pub fn perf_csv(report: &PerfReport) -> String {
    let rows = report.devices.iter().flat_map(|d| {
        d.rows.iter().map(move |r| {
            vec![
                report.model.clone(),
                report.precision.to_string(),
                d.device.clone(),
                d.busy_replicas.to_string(),
                r.batch.to_string(),
                format!("{:.3}", r.ttft_ms),
                format!("{:.3}", r.tpot_ms),
                format!("{:.4}", r.e2e_s),
                format!("{:.1}", r.tokens_per_s_replica),
                format!("{:.1}", r.tokens_per_s_gpu),
                r.fits.to_string(),
            ]
        })
    });
    csv_text(
        &[
            "model",
            "precision",
            "device",
            "busy_replicas",
            "batch",
            "ttft_ms",
            "tpot_ms",
            "e2e_s",
            "tokens_per_s_replica",
            "tokens_per_s_gpu",
            "fits",
        ],
        rows,
    )
}

/// The report as text for people: a line per device, a table per device.
pub fn perf_table(report: &PerfReport) -> String {
    let mut out = format!(
        "{} {} (tp {}), {} prompt + {} output tokens, {}-bit KV cache\n",
        report.model,
        report.precision,
        report.tp,
        report.input_tokens,
        report.output_tokens,
        report.kv_cache_bits
    );
    for d in &report.devices {
        out.push_str(&format!(
            "\n{}{}\n  weights {:.1} GiB, KV cache {:.1} GiB ({} tokens), largest batch at {} tokens: {}\n",
            d.device,
            if d.busy_replicas > 1 {
                format!(", all {} replicas busy", d.busy_replicas)
            } else {
                String::new()
            },
            d.weights_gib,
            d.kv_cache_gib,
            d.kv_cache_tokens,
            report.input_tokens + report.output_tokens,
            d.max_batch
        ));
        let mut table = Table::new(&[
            "batch>",
            "TTFT ms>",
            "TPOT ms>",
            "E2E s>",
            "tok/s replica>",
            "tok/s GPU>",
            "fits",
        ]);
        for r in &d.rows {
            table.row(vec![
                r.batch.to_string(),
                format!("{:.1}", r.ttft_ms),
                format!("{:.2}", r.tpot_ms),
                format!("{:.2}", r.e2e_s),
                format!("{:.0}", r.tokens_per_s_replica),
                format!("{:.0}", r.tokens_per_s_gpu),
                if r.fits { "yes" } else { "no: preempts" }.to_string(),
            ]);
        }
        out.push_str(&table.render());
    }
    out
}
