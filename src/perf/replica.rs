//! The time of one engine iteration of one replica, as a roofline plus fixed
//! costs.
//!
//! An iteration runs the decode step of every running sequence and a chunk
//! of prompt tokens (prefill) together. Its work:
//!
//! - **compute**: 2 FLOPs per active parameter per token through the linear
//!   layers (the output head only for sequences that emit a token), plus
//!   attention: per attended (query, key) pair and layer, 4 x heads x
//!   head_dim FLOPs (MLA: 2 x heads x (latent + rope + latent));
//! - **memory**: every weight read once per iteration (a MoE layer reads
//!   the experts the batch's tokens touch: E x (1 - (1 - k/E)^T) for T
//!   tokens routed uniformly to k of E experts), the key/value cache of
//!   every attended token read and the new tokens' written.
//!
//! Each kind of kernel (linear layers over the weights, attention over the
//! cache) takes the greater of its compute time (FLOPs / achievable FLOP
//! rate) and memory time (bytes / achievable bandwidth), plus the lesser
//! scaled by how little of it overlaps at this many tokens; the sum is
//! multiplied by the busy co-tenants, and fixed costs per layer, per
//! sequence and per tensor-parallel all-reduce are added ([`Efficiency`]). Precision
//! decides the bytes per weight and the math: FP16 weights and math; INT8
//! weights and activations on the FP8/INT8 matrix cores; INT4 weights with a
//! 16-bit scale per 128 dequantised to 16-bit math (fewer bytes, no faster
//! math). The key/value cache is 16-bit unless set to 8-bit. Attention math
//! is 16-bit.
//!
//! Everything that does not change from one iteration to the next is
//! computed once in [`ReplicaModel::new`], so [`ReplicaModel::step_time`] is
//! a handful of multiplications.

use crate::profile::{weight_bytes_per_parameter, Architecture, Precision};

use super::device::Device;
use super::efficiency::{self, Efficiency, LINK_EFFICIENCY, WEIGHT_BANDWIDTH};
use super::measured::MeasuredTable;

/// Bytes one key/value cache value takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KvCache {
    /// 16-bit (the default).
    Bits16,
    /// 8-bit (FP8), as MLPerf submissions run.
    Bits8,
}

impl KvCache {
    /// Bytes per value.
    pub fn bytes(self) -> f64 {
        match self {
            KvCache::Bits16 => 2.0,
            KvCache::Bits8 => 1.0,
        }
    }
}

/// What the serving engine allows per iteration and how much memory it
/// takes (vLLM's settings of the same names).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineLimits {
    /// Most sequences running at once (`max_num_seqs`, vLLM default 256).
    pub max_seqs: u32,
    /// Most tokens one iteration processes (`max_num_batched_tokens`).
    pub max_batched_tokens: u32,
    /// Share of the device memory the engine takes
    /// (`gpu_memory_utilization`, vLLM default 0.9).
    pub memory_utilization: f64,
    /// Iterations per scheduler invocation (`num_scheduler_steps`, vLLM
    /// default 1): the engine's CPU costs are paid once per that many.
    pub scheduler_steps: u32,
}

impl Default for EngineLimits {
    /// vLLM's defaults: 256 sequences, 8192 tokens per iteration, 90% of
    /// memory.
    fn default() -> Self {
        EngineLimits {
            max_seqs: 256,
            max_batched_tokens: 8192,
            memory_utilization: 0.9,
            scheduler_steps: 1,
        }
    }
}

/// A replica to model.
#[derive(Debug, Clone)]
pub struct ReplicaSpec<'a> {
    /// The model.
    pub arch: &'a Architecture,
    /// Weight precision.
    pub precision: Precision,
    /// Key/value cache precision.
    pub kv_cache: KvCache,
    /// One of the devices the replica runs on.
    pub device: Device,
    /// Tensor-parallel degree: devices the replica spans.
    pub tp: u32,
    /// Engine limits.
    pub limits: EngineLimits,
    /// Efficiency constants.
    pub efficiency: Efficiency,
}

/// Why a replica cannot be modelled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReplicaError {
    /// The weights (and the engine's reserve) do not fit the memory.
    #[error("{model} at {precision} needs {weights_gib:.1} GiB of weights; {tp} x {memory_gib:.1} GiB at {utilization:.0}% utilisation leaves no room for a key/value cache (try a lower precision, a larger partition or a higher tensor-parallel degree: `--tp` of perf, `tp` of a deployment)")]
    DoesNotFit {
        /// The model.
        model: String,
        /// Its precision.
        precision: Precision,
        /// Weight memory.
        weights_gib: f64,
        /// Devices.
        tp: u32,
        /// Memory of one device.
        memory_gib: f64,
        /// Memory utilisation in percent.
        utilization: f64,
    },
    /// Tensor parallelism needs whole GPUs.
    #[error("tensor parallelism spans whole GPUs (vLLM supports CPX with TP=1 only); use a whole-GPU mode (SPX) for tensor parallelism {0}")]
    TpNeedsWholeGpus(u32),
    /// A TP degree that does not divide the node or the heads.
    #[error("tensor parallelism {tp} must be 1, 2, 4 or 8 and divide the model's {kv_heads} key/value heads or {heads} heads")]
    BadTp {
        /// The degree asked for.
        tp: u32,
        /// Query heads.
        heads: u32,
        /// Key/value heads.
        kv_heads: u32,
    },
}

/// The work of one iteration, summed over the batch. Build it with
/// [`Batch::add_decode`] and [`Batch::add_prefill`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Batch {
    /// Sequences decoding one token.
    pub decode_seqs: u32,
    /// Keys they attend to on global layers (their contexts, summed).
    pub decode_context: u64,
    /// Keys they attend to on windowed layers.
    pub decode_window_context: u64,
    /// Prompt tokens processed.
    pub prefill_tokens: u32,
    /// Sequences whose prompt chunk is processed.
    pub prefill_seqs: u32,
    /// (query, key) pairs of the prompt chunks on global layers.
    pub prefill_pairs: u64,
    /// (query, key) pairs on windowed layers.
    pub prefill_window_pairs: u64,
    /// Cached keys the prompt chunks read (prior context and chunk).
    pub prefill_reads: u64,
    /// The same on windowed layers.
    pub prefill_window_reads: u64,
    /// Sequences that emit a token this iteration.
    pub samples: u32,
}

impl Batch {
    /// Adds a sequence decoding its next token with `context` tokens in its
    /// cache (the new one included), under an attention window of `window`
    /// tokens (0: none).
    #[inline]
    pub fn add_decode(&mut self, context: u32, window: u32) {
        self.decode_seqs += 1;
        self.samples += 1;
        self.decode_context += u64::from(context);
        self.decode_window_context += u64::from(windowed(context, window));
    }

    /// Adds `seqs` sequences decoding one token each whose contexts (the
    /// new token included) sum to `context`, and to `window_context` under
    /// the attention window: [`Batch::add_decode`] for many at once.
    #[inline]
    pub fn add_decodes(&mut self, seqs: u32, context: u64, window_context: u64) {
        self.decode_seqs += seqs;
        self.samples += seqs;
        self.decode_context += context;
        self.decode_window_context += window_context;
    }

    /// `seqs` sequences decoding together, each with `context` tokens in
    /// its cache (the new one included).
    pub fn decodes(seqs: u32, context: u32, window: u32) -> Batch {
        Batch {
            decode_seqs: seqs,
            samples: seqs,
            decode_context: u64::from(seqs) * u64::from(context),
            decode_window_context: u64::from(seqs) * u64::from(windowed(context, window)),
            ..Batch::default()
        }
    }

    /// Adds a prompt chunk of `tokens` after `prior` cached tokens; `last`
    /// when the chunk ends the prompt (the sequence then emits its first
    /// token).
    #[inline]
    pub fn add_prefill(&mut self, tokens: u32, prior: u32, window: u32, last: bool) {
        let (n, c) = (u64::from(tokens), u64::from(prior));
        self.prefill_tokens += tokens;
        self.prefill_seqs += 1;
        self.samples += u32::from(last);
        self.prefill_pairs += n * c + n * (n + 1) / 2;
        self.prefill_reads += n + c;
        if window == 0 {
            self.prefill_window_pairs += n * c + n * (n + 1) / 2;
            self.prefill_window_reads += n + c;
        } else {
            let w = u64::from(window);
            // Query i (1-based) attends to min(c + i, w) keys.
            let full = w.saturating_sub(c).min(n);
            self.prefill_window_pairs += full * c + full * (full + 1) / 2 + (n - full) * w;
            self.prefill_window_reads += (n + c).min(w);
        }
    }

    /// Tokens the iteration runs through the model.
    pub fn tokens(&self) -> u32 {
        self.prefill_tokens + self.decode_seqs
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.tokens() == 0
    }
}

/// Keys a windowed layer attends to out of `context` (`window` 0: no
/// window).
#[inline]
pub fn windowed(context: u32, window: u32) -> u32 {
    if window == 0 {
        context
    } else {
        context.min(window)
    }
}

/// Largest batch whose expected count of touched experts is tabulated; more
/// tokens touch practically every expert.
const EXPERT_TABLE: usize = 8192;

/// A replica's precomputed step-time model.
#[derive(Clone)]
pub struct ReplicaModel {
    // Seconds per unit of work, alone on the device.
    linear_per_token: f64,
    head_per_sample: f64,
    attention_per_pair_global: f64,
    attention_per_pair_local: f64,
    weights_dense: f64,
    weights_per_expert: f64,
    kv_per_token_read_global: f64,
    kv_per_token_read_local: f64,
    overlap_tokens: f64,
    experts: f64,
    /// Expected experts touched by T tokens, T < EXPERT_TABLE (MoE only).
    experts_touched: Vec<f32>,
    window: u32,
    fixed_overhead: f64,
    sequence_overhead: f64,
    allreduce_per_token: f64,
    weight_memory: f64,
    kv_memory: f64,
    kv_per_token_global: f64,
    kv_per_token_local: f64,
    limits: EngineLimits,
    co_tenants: u32,
    measured: Option<MeasuredTable>,
}

impl std::fmt::Debug for ReplicaModel {
    /// The memory figures and limits; the precomputed rates say little.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaModel")
            .field("weight_memory", &self.weight_memory)
            .field("kv_memory", &self.kv_memory)
            .field("limits", &self.limits)
            .field("co_tenants", &self.co_tenants)
            .field("measured", &self.measured.is_some())
            .finish_non_exhaustive()
    }
}

impl ReplicaModel {
    /// Precomputes the model of `spec`.
    pub fn new(spec: &ReplicaSpec) -> Result<ReplicaModel, ReplicaError> {
        let a = spec.arch;
        let tp = spec.tp;
        if !matches!(tp, 1 | 2 | 4 | 8)
            || (!a.kv_heads.is_multiple_of(tp) && !tp.is_multiple_of(a.kv_heads))
            || !a.attention_heads.is_multiple_of(tp)
        {
            return Err(ReplicaError::BadTp {
                tp,
                heads: a.attention_heads,
                kv_heads: a.kv_heads,
            });
        }
        if tp > 1 && !spec.device.whole_gpu {
            return Err(ReplicaError::TpNeedsWholeGpus(tp));
        }
        let device = &spec.device;
        let kind = device.kind;
        let tpf = f64::from(tp);
        let bpp = weight_bytes_per_parameter(spec.precision);
        let (linear_peak, linear_eff) = match spec.precision {
            Precision::Int8 => (device.peak_8bit(), efficiency::matrix_8bit(kind)),
            Precision::Fp16 | Precision::Int4 => {
                (device.peak_16bit(), efficiency::matrix_16bit(kind))
            }
        };
        let bandwidth = device.peak_bandwidth() * device.locality * tpf;
        let hidden = f64::from(a.hidden_size);
        let embed = f64::from(a.vocab_size) * hidden;
        let untied = a.tied_embeddings == 0;
        let total = a.total_params_b * 1e9;
        let active = a.active_params_b * 1e9;
        // The input embedding is a gather; the output head a matmul, once
        // per emitted token.
        let body_active = (active - embed * if untied { 2.0 } else { 1.0 }).max(0.0);
        let (routed, expert_params) = if a.is_moe() {
            let moe_layers = f64::from(a.layers - a.dense_layers);
            let one = moe_layers * 3.0 * hidden * f64::from(a.moe_ffn_size);
            (one * f64::from(a.experts), one)
        } else {
            (0.0, 0.0)
        };
        let read_always = (total - routed - if untied { embed } else { 0.0 }).max(0.0);
        let per_pair_per_layer = if a.kv_lora_rank > 0 {
            2.0 * f64::from(a.attention_heads) * f64::from(2 * a.kv_lora_rank + a.qk_rope_head_dim)
        } else {
            4.0 * f64::from(a.attention_heads) * f64::from(a.head_dim)
        };
        let global_layers = f64::from(a.kv_layers() - a.local_layers);
        let local_layers = f64::from(a.local_layers);
        let kv_per_layer = f64::from(a.kv_values_per_token_per_layer()) * spec.kv_cache.bytes();
        let experts_touched = if a.is_moe() {
            let (e, k) = (f64::from(a.experts), f64::from(a.active_experts));
            (0..EXPERT_TABLE)
                .map(|t| (e * (1.0 - (1.0 - k / e).powi(t as i32))) as f32)
                .collect()
        } else {
            Vec::new()
        };
        let eff = &spec.efficiency;
        let layers = f64::from(a.layers);
        let steps = f64::from(spec.limits.scheduler_steps.max(1));
        // Two all-reduces of the 16-bit hidden state per layer, at the bus
        // bandwidth of the peer links (their latency is in the per-layer
        // overhead).
        let allreduce_per_token = if tp > 1 {
            let one_way = kind.peer_link_gbps() / 2.0 * 1e9;
            let bus = (tpf - 1.0) * one_way * LINK_EFFICIENCY;
            let bytes_per_token = hidden * 2.0 * 2.0 * (tpf - 1.0) / tpf;
            2.0 * layers * bytes_per_token / bus
        } else {
            0.0
        };
        let weight_memory = total * bpp;
        let memory = device.memory.0 as f64 * (1u64 << 20) as f64 * tpf;
        let widest_mlp = f64::from(a.ffn_size)
            .max(f64::from(a.moe_ffn_size) * f64::from(a.active_experts + a.shared_experts));
        let activations =
            f64::from(spec.limits.max_batched_tokens) * (2.0 * widest_mlp + 4.0 * hidden) * 2.0
                + f64::from(spec.limits.max_seqs) * f64::from(a.vocab_size) * 4.0;
        let kv_memory = memory * spec.limits.memory_utilization - weight_memory - activations;
        if kv_memory <= 0.0 {
            return Err(ReplicaError::DoesNotFit {
                model: a.model_id.clone(),
                precision: spec.precision,
                weights_gib: weight_memory / (1u64 << 30) as f64,
                tp,
                memory_gib: device.memory.as_gib(),
                utilization: spec.limits.memory_utilization * 100.0,
            });
        }
        let linear_time_per_flop = 1.0 / (linear_peak * linear_eff * tpf);
        let attention_time_per_flop =
            1.0 / (device.peak_16bit() * efficiency::matrix_16bit(kind) * tpf);
        let weight_time_per_byte = 1.0 / (bandwidth * WEIGHT_BANDWIDTH);
        let kv_time_per_byte = 1.0 / (bandwidth * eff.kv_bandwidth);
        Ok(ReplicaModel {
            linear_per_token: 2.0 * body_active * linear_time_per_flop,
            head_per_sample: 2.0 * embed * linear_time_per_flop,
            attention_per_pair_global: per_pair_per_layer * global_layers * attention_time_per_flop,
            attention_per_pair_local: per_pair_per_layer * local_layers * attention_time_per_flop,
            weights_dense: read_always * bpp * weight_time_per_byte,
            weights_per_expert: expert_params * bpp * weight_time_per_byte,
            kv_per_token_read_global: kv_per_layer * global_layers * kv_time_per_byte,
            kv_per_token_read_local: kv_per_layer * local_layers * kv_time_per_byte,
            overlap_tokens: eff.overlap_tokens,
            experts: f64::from(a.experts),
            experts_touched,
            window: a.attention_window,
            fixed_overhead: eff.layer_overhead * layers,
            sequence_overhead: eff.sequence_overhead / steps,
            allreduce_per_token,
            weight_memory,
            kv_memory,
            kv_per_token_global: kv_per_layer * global_layers,
            kv_per_token_local: kv_per_layer * local_layers,
            limits: spec.limits,
            co_tenants: device.co_tenants,
            measured: None,
        })
    }

    /// Uses `table` instead of the roofline wherever its measurements apply.
    pub fn with_measurements(mut self, table: MeasuredTable) -> ReplicaModel {
        self.measured = Some(table);
        self
    }

    /// Seconds one iteration of `batch` takes when `busy` replicas (at least
    /// 1) share the device's compute and bandwidth.
    #[inline]
    pub fn step_time(&self, batch: &Batch, busy: u32) -> f64 {
        if let Some(table) = &self.measured {
            if let Some(seconds) = self.measured_step(table, batch) {
                return seconds;
            }
        }
        self.roofline_step(batch, busy)
    }

    /// The modelled time of `batch`, ignoring measured tables.
    #[inline]
    pub fn roofline_step(&self, batch: &Batch, busy: u32) -> f64 {
        let tokens = f64::from(batch.tokens());
        let linear =
            self.linear_per_token * tokens + self.head_per_sample * f64::from(batch.samples);
        let weights = self.weights_dense + self.weights_per_expert * self.experts_touched(tokens);
        let global_pairs = (batch.decode_context + batch.prefill_pairs) as f64;
        let global_reads = (batch.decode_context + batch.prefill_reads) as f64 + tokens;
        let (mut attention, mut kv) = (
            self.attention_per_pair_global * global_pairs,
            self.kv_per_token_read_global * global_reads,
        );
        if self.window > 0 {
            attention += self.attention_per_pair_local
                * (batch.decode_window_context + batch.prefill_window_pairs) as f64;
            kv += self.kv_per_token_read_local
                * ((batch.decode_window_context + batch.prefill_window_reads) as f64 + tokens);
        }
        // Two kinds of kernel, each bound by its own compute and memory:
        // the linear layers (weights) and attention (the cache). The lesser
        // of the two times hides under the greater as tokens grow.
        let hidden = self.overlap_tokens / (tokens + self.overlap_tokens);
        let combine =
            |compute: f64, memory: f64| compute.max(memory) + compute.min(memory) * hidden;
        let roofline = combine(linear, weights) + combine(attention, kv);
        roofline * f64::from(busy.max(1))
            + self.fixed_overhead
            + self.sequence_overhead * f64::from(batch.decode_seqs + batch.prefill_seqs)
            + self.allreduce_per_token * tokens
    }

    fn measured_step(&self, table: &MeasuredTable, batch: &Batch) -> Option<f64> {
        let decode = if batch.decode_seqs > 0 {
            let mean = batch.decode_context as f64 / f64::from(batch.decode_seqs);
            Some(table.decode_step(batch.decode_seqs, mean)?)
        } else {
            None
        };
        let prefill = if batch.prefill_tokens > 0 {
            Some(table.prefill(batch.prefill_tokens)?)
        } else {
            None
        };
        match (decode, prefill) {
            (Some(d), Some(p)) => Some(d + p - self.fixed_overhead.min(d.min(p))),
            (Some(t), None) | (None, Some(t)) => Some(t),
            (None, None) => Some(0.0),
        }
    }

    fn experts_touched(&self, tokens: f64) -> f64 {
        if self.experts_touched.is_empty() {
            return 0.0;
        }
        let t = tokens as usize;
        self.experts_touched
            .get(t)
            .map_or(self.experts, |&e| f64::from(e))
    }

    /// Bytes of weights.
    pub fn weight_memory(&self) -> f64 {
        self.weight_memory
    }

    /// Bytes left for the key/value cache.
    pub fn kv_memory(&self) -> f64 {
        self.kv_memory
    }

    /// Cache bytes one sequence of `context` tokens holds.
    pub fn kv_bytes_of_sequence(&self, context: u32) -> f64 {
        self.kv_per_token_global * f64::from(context)
            + self.kv_per_token_local * f64::from(windowed(context, self.window))
    }

    /// Tokens the cache holds (sequences of the longest context the window
    /// allows for windowed layers).
    pub fn kv_capacity_tokens(&self) -> u64 {
        (self.kv_memory / (self.kv_per_token_global + self.kv_per_token_local)) as u64
    }

    /// Sequences of `context` tokens that fit the cache together, capped by
    /// the engine's `max_seqs`.
    pub fn max_batch(&self, context: u32) -> u32 {
        let fit = (self.kv_memory / self.kv_bytes_of_sequence(context.max(1))) as u64;
        fit.min(u64::from(self.limits.max_seqs)) as u32
    }

    /// The attention window of windowed layers (0: none).
    pub fn window(&self) -> u32 {
        self.window
    }

    /// The engine's limits.
    pub fn limits(&self) -> EngineLimits {
        self.limits
    }

    /// Replicas that may share the device.
    pub fn co_tenants(&self) -> u32 {
        self.co_tenants
    }
}
