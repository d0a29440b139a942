//! AIM profiles: the schema, the sizing table they are generated from, the
//! catalog that indexes them, and the validator that checks a folder of them.
//!
//! Every model comes as one profile per [`Precision`]. The [`Catalog`] looks
//! variants up by exact model id and precision; an unknown id is an error
//! that suggests the closest known ids.

pub mod aliases;
mod architecture;
mod catalog;
mod generate;
pub mod physical;
mod precision;
mod schema;
mod sizing;
pub mod validate;

/// Longest model id accepted in any input (a Hugging Face repository name
/// is at most 96 characters, its owner fewer); a longer one is refused
/// before it is looked up or printed.
pub const MAX_MODEL_ID_BYTES: usize = 256;

/// Most distinct model ids one trace may name.
pub const MAX_DISTINCT_MODELS: usize = 4096;

pub use architecture::{
    weight_bytes_per_parameter, Architecture, ArchitectureError, ArchitectureTable,
};
pub use catalog::{Catalog, CatalogError, LookupError, Variant, VariantId};
pub use generate::{generate_profiles, render_profile, write_profiles, GeneratedFile};
pub use precision::{MixError, Precision, PrecisionMix};
pub use schema::{
    parse_parameter_count, GpuSharing, Metadata, PartitionConfig, Profile, QosPriority,
    ResourceRequirements,
};
pub use sizing::{SizingError, SizingRow, SizingTable};

/// The file name of a variant: `{model_id with / -> _}-{precision}.json`.
pub fn profile_file_name(model_id: &str, precision: Precision) -> String {
    format!("{}-{}.json", model_id.replace('/', "_"), precision)
}
