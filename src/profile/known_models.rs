//! Published parameter counts of models whose profiles understate them.
//!
//! Mixture-of-experts models are often listed by their *active* parameters,
//! but every expert must sit in GPU memory, so sizing needs the total. The
//! figures come from the models' own cards.

/// A model whose published total parameter count the validator knows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublishedSize {
    /// Exact model id.
    pub model_id: &'static str,
    /// Total parameters, in billions.
    pub total_billions: f64,
    /// What the figure is, for the warning text.
    pub note: &'static str,
}

/// The table. Only models whose shipped `parameters` field disagrees with the
/// card by a wide margin are listed.
const PUBLISHED: &[PublishedSize] = &[
    PublishedSize {
        model_id: "deepseek-ai/DeepSeek-V3",
        total_billions: 671.0,
        note: "MoE: 671B total, 37B active per token (model card)",
    },
    PublishedSize {
        model_id: "deepseek-ai/DeepSeek-V3-0324",
        total_billions: 671.0,
        note: "MoE: 671B total, 37B active per token (model card)",
    },
    PublishedSize {
        model_id: "deepseek-ai/DeepSeek-R1-0528",
        total_billions: 671.0,
        note: "MoE: 671B total, 37B active per token (model card)",
    },
    PublishedSize {
        model_id: "deepseek-ai/DeepSeek-R1-Zero",
        total_billions: 671.0,
        note: "MoE: 671B total, 37B active per token (model card)",
    },
    PublishedSize {
        model_id: "meta-llama/Llama-4-Scout-17B",
        total_billions: 109.0,
        note: "MoE: 109B total, 17B active per token, 16 experts (model card)",
    },
    PublishedSize {
        model_id: "mistralai/Mistral-Large",
        total_billions: 123.0,
        note: "dense, 123B (Mistral-Large-Instruct-2407 model card)",
    },
];

/// The published size of `model_id`, if the table has it.
pub fn published_size(model_id: &str) -> Option<&'static PublishedSize> {
    PUBLISHED.iter().find(|p| p.model_id == model_id)
}
