//! Model architectures: the facts a performance model needs (layers, widths,
//! attention heads, experts, context), one row per model.
//!
//! The 38 catalog models' rows are `aim_profiles/architectures.csv`,
//! compiled in; each names the public `config.json` it was read from
//! (`source_url`), and `aim_profiles/README.md` says which model was taken
//! for each ambiguous catalog id. Users evaluate other models with a file in
//! the same format.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::input::{csv_table, deserialize_record};

use super::Precision;

/// The architecture table compiled into the binary.
const BUILTIN: &str = include_str!("../../aim_profiles/architectures.csv");

/// How a model attends and what it stores per token.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Architecture {
    /// The id the catalog knows the model by.
    pub model_id: String,
    /// The repository whose `config.json` the figures come from.
    pub source_repo: String,
    /// Decoder layers (cross-attention layers included).
    pub layers: u32,
    /// Width of the residual stream.
    pub hidden_size: u32,
    /// Query heads.
    pub attention_heads: u32,
    /// Key/value heads (grouped-query attention when fewer than the query
    /// heads).
    pub kv_heads: u32,
    /// Width of one head.
    pub head_dim: u32,
    /// Intermediate size of a dense MLP.
    pub ffn_size: u32,
    /// Embedding rows.
    pub vocab_size: u32,
    /// Parameters of the language model, in billions (vision towers and
    /// multi-token-prediction modules left out).
    pub total_params_b: f64,
    /// Parameters one token uses, in billions (the total for dense models).
    pub active_params_b: f64,
    /// Routed experts per MoE layer (0 for dense models).
    pub experts: u32,
    /// Routed experts each token uses.
    pub active_experts: u32,
    /// Experts every token uses.
    pub shared_experts: u32,
    /// Intermediate size of one expert.
    pub moe_ffn_size: u32,
    /// Leading dense layers of a MoE model.
    pub dense_layers: u32,
    /// Latent width of multi-head latent attention (DeepSeek; 0 otherwise):
    /// the KV cache holds `kv_lora_rank + qk_rope_head_dim` values per token
    /// and layer.
    pub kv_lora_rank: u32,
    /// Rotary part of an MLA key (0 without MLA).
    pub qk_rope_head_dim: u32,
    /// Layers that attend within a window (sliding or chunked) only.
    pub local_layers: u32,
    /// Tokens a local layer attends to.
    pub attention_window: u32,
    /// Cross-attention layers (vision models): no key/value cache for text.
    pub cross_attention_layers: u32,
    /// Longest context the configuration supports.
    pub max_context: u32,
    /// Whether the output head shares the embedding matrix (1) or not (0).
    pub tied_embeddings: u8,
    /// Where the figures were read.
    pub source_url: String,
}

/// Bytes the weights of one parameter take at each precision. INT4 weights
/// carry a 16-bit scale per group of 128 (GPTQ/AWQ layout): 0.5 + 2/128.
pub fn weight_bytes_per_parameter(precision: Precision) -> f64 {
    match precision {
        Precision::Fp16 => 2.0,
        Precision::Int8 => 1.0,
        Precision::Int4 => 0.5 + 2.0 / 128.0,
    }
}

impl Architecture {
    /// Bytes of all weights at `precision`.
    pub fn weight_bytes(&self, precision: Precision) -> f64 {
        self.total_params_b * 1e9 * weight_bytes_per_parameter(precision)
    }

    /// Layers that keep a key/value cache of text tokens.
    pub fn kv_layers(&self) -> u32 {
        self.layers - self.cross_attention_layers
    }

    /// Values a layer stores per token in its key/value cache: keys and
    /// values of every KV head, or MLA's one latent vector.
    pub fn kv_values_per_token_per_layer(&self) -> u32 {
        if self.kv_lora_rank > 0 {
            self.kv_lora_rank + self.qk_rope_head_dim
        } else {
            2 * self.kv_heads * self.head_dim
        }
    }

    /// Whether the model routes tokens to experts.
    pub fn is_moe(&self) -> bool {
        self.experts > 0
    }

    /// Checks that the figures make one coherent model.
    fn check(&self) -> Result<(), String> {
        let positive = [
            ("layers", self.layers),
            ("hidden_size", self.hidden_size),
            ("attention_heads", self.attention_heads),
            ("kv_heads", self.kv_heads),
            ("head_dim", self.head_dim),
            ("ffn_size", self.ffn_size),
            ("vocab_size", self.vocab_size),
            ("max_context", self.max_context),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{name} must be at least 1"));
        }
        // Far above any published model (Llama-3.1-405B: 126 layers, hidden
        // 16,384, 128 heads of 128, FFN 53,248; vocabularies to 262,144;
        // contexts to 10M), and low enough that products such as a
        // token's KV values cannot overflow.
        let largest = [
            ("layers", self.layers, 4096),
            ("hidden_size", self.hidden_size, 1 << 20),
            ("attention_heads", self.attention_heads, 1 << 14),
            ("head_dim", self.head_dim, 1 << 14),
            ("ffn_size", self.ffn_size, 1 << 22),
            ("moe_ffn_size", self.moe_ffn_size, 1 << 22),
            ("vocab_size", self.vocab_size, 1 << 24),
            ("max_context", self.max_context, 1 << 27),
            ("experts", self.experts, 1 << 16),
            ("kv_lora_rank", self.kv_lora_rank, 1 << 16),
            ("qk_rope_head_dim", self.qk_rope_head_dim, 1 << 14),
            ("attention_window", self.attention_window, 1 << 27),
        ];
        if let Some((name, value, most)) = largest.iter().find(|(_, v, most)| v > most) {
            return Err(format!(
                "{name} {value} is beyond any model (at most {most})"
            ));
        }
        if !self.attention_heads.is_multiple_of(self.kv_heads) {
            return Err(format!(
                "kv_heads {} must divide attention_heads {}",
                self.kv_heads, self.attention_heads
            ));
        }
        if !(self.total_params_b.is_finite() && self.total_params_b > 0.0) {
            return Err(format!(
                "total_params_b must be a positive number, got {}",
                self.total_params_b
            ));
        }
        if !(self.active_params_b > 0.0 && self.active_params_b <= self.total_params_b) {
            return Err(format!(
                "active_params_b {} must be positive and at most total_params_b {}",
                self.active_params_b, self.total_params_b
            ));
        }
        if self.total_params_b > 100_000.0 {
            return Err(format!(
                "total_params_b {} is beyond any model (at most 100000 billion)",
                self.total_params_b
            ));
        }
        if self.is_moe() {
            if self.active_experts == 0 || self.active_experts > self.experts {
                return Err(format!(
                    "active_experts {} must be between 1 and experts {}",
                    self.active_experts, self.experts
                ));
            }
            if self.moe_ffn_size == 0 || self.dense_layers >= self.layers {
                return Err(
                    "a MoE model needs moe_ffn_size and fewer dense_layers than layers".into(),
                );
            }
        } else if self.active_experts + self.shared_experts + self.dense_layers > 0 {
            return Err(
                "a dense model (experts 0) has no active, shared experts or dense_layers".into(),
            );
        }
        if self.local_layers + self.cross_attention_layers >= self.layers {
            return Err(format!(
                "local_layers {} and cross_attention_layers {} leave no global layer of {}",
                self.local_layers, self.cross_attention_layers, self.layers
            ));
        }
        if (self.local_layers > 0) != (self.attention_window > 0) {
            return Err("local_layers and attention_window go together".into());
        }
        if (self.kv_lora_rank > 0) != (self.qk_rope_head_dim > 0) {
            return Err("kv_lora_rank and qk_rope_head_dim go together (MLA)".into());
        }
        if self.tied_embeddings > 1 {
            return Err(format!(
                "tied_embeddings is 0 or 1, got {}",
                self.tied_embeddings
            ));
        }
        Ok(())
    }
}

/// A table that cannot be read: the file, the line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: line {line}: {problem}")]
pub struct ArchitectureError {
    /// The file.
    pub source_name: String,
    /// One-based line (1 is the header).
    pub line: u64,
    /// What is wrong and what was expected.
    pub problem: String,
}

/// Architectures by model id.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ArchitectureTable {
    rows: BTreeMap<String, Architecture>,
    source: String,
}

/// Longest architecture table read.
const MAX_ROWS: usize = 10_000;

impl ArchitectureTable {
    /// The 38 catalog models, compiled in.
    pub fn builtin() -> ArchitectureTable {
        ArchitectureTable::parse(BUILTIN, "aim_profiles/architectures.csv")
            .expect("the shipped architecture table is valid")
    }

    /// Reads a table in the format of `aim_profiles/architectures.csv`;
    /// `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<ArchitectureTable, ArchitectureError> {
        let fail = |line: u64, problem: String| ArchitectureError {
            source_name: source.to_string(),
            line,
            problem,
        };
        let (mut reader, headers) = csv_table(text).map_err(|e| fail(1, e.to_string()))?;
        let mut rows = BTreeMap::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                fail(line, e.to_string())
            })?;
            let line = record.position().map_or(0, |p| p.line());
            if rows.len() >= MAX_ROWS {
                return Err(fail(line, format!("more than {MAX_ROWS} rows")));
            }
            let arch: Architecture =
                deserialize_record(&record, &headers).map_err(|e| fail(line, e))?;
            arch.check()
                .map_err(|problem| fail(line, format!("`{}`: {problem}", arch.model_id)))?;
            if rows.contains_key(&arch.model_id) {
                return Err(fail(line, format!("`{}` is listed twice", arch.model_id)));
            }
            rows.insert(arch.model_id.clone(), arch);
        }
        if rows.is_empty() {
            return Err(fail(1, "the table has no model".into()));
        }
        Ok(ArchitectureTable {
            rows,
            source: source.to_string(),
        })
    }

    /// The architecture of `model_id` (or of the model it is an alias of,
    /// [`super::aliases`]), if listed.
    pub fn get(&self, model_id: &str) -> Option<&Architecture> {
        self.rows
            .get(model_id)
            .or_else(|| self.rows.get(super::aliases::canonical(model_id)))
    }

    /// Every architecture, by model id.
    pub fn iter(&self) -> impl Iterator<Item = &Architecture> {
        self.rows.values()
    }

    /// Where the table was read.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Adds the rows of `other`, which win over rows of the same id.
    pub fn extend(&mut self, other: ArchitectureTable) {
        self.rows.extend(other.rows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::SizingTable;

    #[test]
    fn every_catalog_model_has_an_architecture() {
        let table = ArchitectureTable::builtin();
        let sizing = SizingTable::builtin();
        assert_eq!(table.iter().count(), sizing.rows().len());
        for row in sizing.rows() {
            assert!(table.get(&row.model_id).is_some(), "{}", row.model_id);
        }
    }

    #[test]
    fn published_figures_come_out() {
        let table = ArchitectureTable::builtin();
        let llama = table.get("meta-llama/Llama-3.1-8B-Instruct").unwrap();
        // 32 layers x 2 x 8 KV heads x 128 = 65,536 values per token (128 KiB at 16 bits).
        assert_eq!(
            llama.kv_layers() * llama.kv_values_per_token_per_layer(),
            65_536
        );
        let deepseek = table.get("deepseek-ai/DeepSeek-V3").unwrap();
        assert_eq!(deepseek.kv_values_per_token_per_layer(), 576);
        assert!(deepseek.is_moe() && deepseek.total_params_b > 670.0);
        let vision = table.get("meta-llama/Llama-3.2-11B-Instruct").unwrap();
        assert_eq!(vision.kv_layers(), 32);
    }

    #[test]
    fn malformed_rows_name_the_line_and_the_column() {
        let header = BUILTIN.lines().next().unwrap();
        let good = BUILTIN.lines().nth(1).unwrap();
        let cases = [
            (good.replacen(",40,8192,", ",x,8192,", 1), "column `layers`"),
            (
                good.replacen(",64,8,128,", ",64,7,128,", 1),
                "must divide attention_heads",
            ),
            (format!("{good}\n{good}"), "listed twice"),
            // Heads of 65,536 values would wrap a token's KV values.
            (
                good.replacen(",64,8,128,", ",65536,65536,65536,", 1),
                "attention_heads 65536 is beyond any model",
            ),
        ];
        for (body, expected) in cases {
            let err = ArchitectureTable::parse(&format!("{header}\n{body}\n"), "a.csv")
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("a.csv: line "), "{err}");
            assert!(err.contains(expected), "{err}");
        }
    }
}
