//! The AIM profile JSON schema, field for field and in file order.

use serde::{Deserialize, Serialize};

use super::Precision;

/// One AIM profile: a model at one precision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Hugging Face model id, e.g. `meta-llama/Llama-3.1-8B-Instruct`.
    pub model_id: String,
    /// `{model_id}-{precision}`.
    pub variant_id: String,
    /// `1.0.0-{precision}`.
    pub version: String,
    /// Parameter count as written by the runtime: `8B`, `1.5B`.
    pub parameters: String,
    /// Weight precision.
    pub precision: Precision,
    /// GPU memory the model needs, in GiB (the file says GB; the runtime
    /// converts with 1024^3).
    pub memory_requirement_gb: f64,
    /// Partition size the runtime recommends: 1.25 x memory.
    pub recommended_partition_gb: f64,
    /// GPU-sharing settings.
    pub gpu_sharing: GpuSharing,
    /// Resources one replica needs.
    pub resource_requirements: ResourceRequirements,
    /// Descriptive metadata.
    pub metadata: Metadata,
}

/// The `gpu_sharing` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuSharing {
    /// Whether the model may share a GPU.
    pub enabled: bool,
    /// Memory limit the runtime enforces, equal to the recommended partition.
    pub memory_limit_gb: f64,
    /// A pinned partition, if any.
    pub partition_id: Option<u32>,
    /// The runtime's QoS class.
    pub qos_priority: QosPriority,
    /// Compute mode the profile was made for (`SPX`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_mode: Option<String>,
    /// Memory mode the profile was made for (`NPS1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mode: Option<String>,
    /// Partitions in that mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_count: Option<u32>,
    /// Size of one partition in that mode, GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_size_gb: Option<f64>,
}

/// QoS classes of the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QosPriority {
    /// Low.
    Low,
    /// Medium (what every shipped profile says).
    Medium,
    /// High.
    High,
}

/// The `resource_requirements` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRequirements {
    /// GPU memory per GPU, GiB; equals `memory_requirement_gb`.
    pub gpu_memory_gb: f64,
    /// GPUs one replica spans.
    pub gpu_count: u32,
    /// CPU cores per replica.
    pub cpu_cores: u32,
    /// Host memory per replica, GiB.
    pub system_memory_gb: u32,
}

/// The `metadata` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Equals `precision`.
    pub quantization: Precision,
    /// Equals `model_id`.
    pub base_model: String,
    /// Equals the top-level `parameters`.
    pub parameters: String,
    /// Copy of the partition fields of `gpu_sharing`, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_config: Option<PartitionConfig>,
}

/// The `metadata.partition_config` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionConfig {
    /// Compute mode.
    pub compute_mode: String,
    /// Memory mode.
    pub memory_mode: String,
    /// Partitions.
    pub partition_count: u32,
    /// Size of one partition, GiB.
    pub partition_size_gb: f64,
}

/// Parses a parameter count as profiles write it (`8B`, `1.5B`, `500M`)
/// into a number of parameters.
pub fn parse_parameter_count(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, scale) = match text.char_indices().last()? {
        (i, 'B' | 'b') => (&text[..i], 1e9),
        (i, 'M' | 'm') => (&text[..i], 1e6),
        _ => return None,
    };
    let value: f64 = number.parse().ok()?;
    (value.is_finite() && value > 0.0).then_some(value * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts_parse() {
        assert_eq!(parse_parameter_count("8B"), Some(8e9));
        assert_eq!(parse_parameter_count("1.5B"), Some(1.5e9));
        assert_eq!(parse_parameter_count("500M"), Some(5e8));
        for bad in ["", "B", "8", "-8B", "eightB", "8T"] {
            assert_eq!(parse_parameter_count(bad), None, "{bad}");
        }
    }
}
