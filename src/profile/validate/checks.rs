//! Checks of one profile on its own: identity fields against the file
//! name, sizes, partition fields, and whether the memory can hold the
//! weights.

use crate::hardware::{ComputeMode, GpuKind, MemoryMode};
use std::sync::OnceLock;

use crate::profile::{
    parse_parameter_count, profile_file_name, weight_bytes_per_parameter, ArchitectureTable,
    Profile,
};

use super::FindingSink;

/// Equal up to float noise.
fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Largest memory figure a profile may give: far beyond any GPU fleet, and
/// well within exact MiB accounting.
const MAX_GB: f64 = 1_000_000.0;

/// Checks of one profile on its own.
pub(super) fn check_profile(file: &str, p: &Profile, sink: &mut FindingSink) {
    check_identity(file, p, sink);
    check_sizes(p, sink);
    check_partition_fields(p, sink);
    check_physical_plausibility(p, sink);
}

/// Names, ids and copies of the same fact must agree.
fn check_identity(file: &str, p: &Profile, sink: &mut FindingSink) {
    let expected_variant = format!("{}-{}", p.model_id, p.precision);
    if p.variant_id != expected_variant {
        sink.error(
            "variant_id",
            format!(
                "`{}` should be `{expected_variant}` (model_id-precision)",
                p.variant_id
            ),
        );
    }
    let expected_file = profile_file_name(&p.model_id, p.precision);
    if file != expected_file && p.variant_id == expected_variant {
        sink.error(
            "variant_id",
            format!(
                "the file for variant `{}` should be named `{expected_file}`",
                p.variant_id
            ),
        );
    }
    if !p.version.ends_with(&format!("-{}", p.precision)) {
        sink.error(
            "version",
            format!("`{}` should end in -{}", p.version, p.precision),
        );
    }
    // Metadata repeats top-level facts; each copy must agree.
    let copies = [
        (
            "metadata.quantization",
            p.metadata.quantization.to_string(),
            "precision",
            p.precision.to_string(),
        ),
        (
            "metadata.base_model",
            p.metadata.base_model.clone(),
            "model_id",
            p.model_id.clone(),
        ),
        (
            "metadata.parameters",
            p.metadata.parameters.clone(),
            "parameters",
            p.parameters.clone(),
        ),
    ];
    for (field, copy, original, value) in copies {
        if copy != value {
            sink.error(
                field,
                format!("`{copy}` disagrees with {original} `{value}`"),
            );
        }
    }
    if parse_parameter_count(&p.parameters).is_none() {
        sink.error(
            "parameters",
            format!(
                "`{}` is not a parameter count such as 8B or 500M",
                p.parameters
            ),
        );
    }
}

/// Memory figures: positive, finite and consistent.
fn check_sizes(p: &Profile, sink: &mut FindingSink) {
    let figures = [
        ("memory_requirement_gb", p.memory_requirement_gb),
        ("recommended_partition_gb", p.recommended_partition_gb),
        ("gpu_sharing.memory_limit_gb", p.gpu_sharing.memory_limit_gb),
        (
            "resource_requirements.gpu_memory_gb",
            p.resource_requirements.gpu_memory_gb,
        ),
    ];
    let mut all_positive = true;
    for (field, value) in figures {
        if !(value.is_finite() && value > 0.0 && value <= MAX_GB) {
            sink.error(
                field,
                format!("{value} GB; expected a positive size of at most {MAX_GB} GB"),
            );
            all_positive = false;
        }
    }
    if p.resource_requirements.gpu_count == 0 {
        sink.error(
            "resource_requirements.gpu_count",
            "0; a replica needs at least one GPU".into(),
        );
    }
    if !all_positive {
        return;
    }
    if !same(
        p.resource_requirements.gpu_memory_gb,
        p.memory_requirement_gb,
    ) {
        sink.error(
            "resource_requirements.gpu_memory_gb",
            format!(
                "{} GB disagrees with memory_requirement_gb {} GB",
                p.resource_requirements.gpu_memory_gb, p.memory_requirement_gb
            ),
        );
    }
    if !same(p.gpu_sharing.memory_limit_gb, p.recommended_partition_gb) {
        sink.error(
            "gpu_sharing.memory_limit_gb",
            format!(
                "{} GB disagrees with recommended_partition_gb {} GB",
                p.gpu_sharing.memory_limit_gb, p.recommended_partition_gb
            ),
        );
    }
    if p.recommended_partition_gb < p.memory_requirement_gb {
        sink.error(
            "recommended_partition_gb",
            format!(
                "{} GB is smaller than memory_requirement_gb {} GB",
                p.recommended_partition_gb, p.memory_requirement_gb
            ),
        );
    } else if !same(p.recommended_partition_gb, 1.25 * p.memory_requirement_gb) {
        sink.warn(
            "recommended_partition_gb",
            format!(
                "{} GB is not 1.25 x memory_requirement_gb ({} GB)",
                p.recommended_partition_gb,
                1.25 * p.memory_requirement_gb
            ),
        );
    }
}

/// The optional mode fields must name a real mode and agree with their copy
/// in `metadata.partition_config`.
fn check_partition_fields(p: &Profile, sink: &mut FindingSink) {
    let sharing = &p.gpu_sharing;
    let compute = sharing.compute_mode.as_deref().map(|text| {
        text.parse::<ComputeMode>()
            .map_err(|err| sink.error("gpu_sharing.compute_mode", err.to_string()))
            .ok()
    });
    let memory = sharing.memory_mode.as_deref().map(|text| {
        text.parse::<MemoryMode>()
            .map_err(|err| sink.error("gpu_sharing.memory_mode", err.to_string()))
            .ok()
    });
    if let (Some(Some(c)), Some(Some(m))) = (compute, memory) {
        if !GpuKind::ALL.iter().any(|k| k.supports(c, m)) {
            sink.error(
                "gpu_sharing.memory_mode",
                format!("{c}/{m} is valid on no GPU kind"),
            );
        }
    }
    if let (Some(Some(c)), Some(count)) = (compute, sharing.partition_count) {
        if count != c.devices() {
            sink.error(
                "gpu_sharing.partition_count",
                format!(
                    "{count} disagrees with compute_mode {c} ({} partitions)",
                    c.devices()
                ),
            );
        }
    }
    if let Some(size) = sharing.partition_size_gb {
        if !(size.is_finite() && size > 0.0) {
            sink.error(
                "gpu_sharing.partition_size_gb",
                format!("{size}; expected a positive size"),
            );
        }
    }
    if let Some(config) = &p.metadata.partition_config {
        let copies = [
            (
                "compute_mode",
                sharing.compute_mode.as_deref() == Some(config.compute_mode.as_str()),
            ),
            (
                "memory_mode",
                sharing.memory_mode.as_deref() == Some(config.memory_mode.as_str()),
            ),
            (
                "partition_count",
                sharing.partition_count == Some(config.partition_count),
            ),
            (
                "partition_size_gb",
                sharing
                    .partition_size_gb
                    .is_some_and(|s| same(s, config.partition_size_gb)),
            ),
        ];
        for (field, agrees) in copies {
            if !agrees {
                sink.error(
                    &format!("metadata.partition_config.{field}"),
                    format!("disagrees with gpu_sharing.{field}"),
                );
            }
        }
    }
}

/// Warnings a sizing study needs: partitions larger than the GPU, and less
/// memory than the weights take at this precision.
fn check_physical_plausibility(p: &Profile, sink: &mut FindingSink) {
    let target = p
        .gpu_sharing
        .partition_size_gb
        .unwrap_or(GpuKind::Mi300x.memory().as_gib());
    let largest = GpuKind::ALL
        .iter()
        .map(|k| k.memory())
        .max()
        .expect("kinds exist");
    if p.recommended_partition_gb > largest.as_gib() {
        sink.warn(
            "recommended_partition_gb",
            format!(
                "{} GB is larger than every GPU kind (largest: {} GiB)",
                p.recommended_partition_gb, largest
            ),
        );
    } else if p.recommended_partition_gb > target {
        let fits_on: Vec<&str> = GpuKind::ALL
            .iter()
            .filter(|k| k.memory().as_gib() >= p.recommended_partition_gb)
            .map(|k| k.name())
            .collect();
        sink.warn(
            "recommended_partition_gb",
            format!(
                "{} GB is more than one {target} GB MI300X partition (gpu_sharing.partition_size_gb); it fits whole only on {}",
                p.recommended_partition_gb,
                fits_on.join(", ")
            ),
        );
    }
    let Some(declared) = parse_parameter_count(&p.parameters) else {
        return;
    };
    // The model's real size, from its published configuration.
    let architecture = architectures().get(&p.model_id);
    if let Some(arch) = architecture {
        if declared > 1.5 * arch.total_params_b * 1e9 {
            sink.warn(
                "parameters",
                format!(
                    "`{}` overstates the model: {} has {:.1}B parameters (aim_profiles/architectures.csv)",
                    p.parameters, arch.source_repo, arch.total_params_b
                ),
            );
        }
        if arch.total_params_b * 1e9 > 1.5 * declared {
            let moe = if arch.is_moe() {
                format!(
                    "MoE, {:.1}B total and {:.1}B active per token",
                    arch.total_params_b, arch.active_params_b
                )
            } else {
                format!("{:.1}B parameters", arch.total_params_b)
            };
            sink.warn(
                "parameters",
                format!(
                    "`{}` understates the model: {} has {moe} (aim_profiles/architectures.csv)",
                    p.parameters, arch.source_repo
                ),
            );
        }
    }
    if let Some(message) = weights_outgrow(p, declared) {
        sink.warn("memory_requirement_gb", message);
    }
}

/// Why a profile's memory cannot hold its model's weights at its precision
/// (from the real parameter count when the architecture table has the
/// model, else the declared `parameters`), or `None` if it can.
fn weights_outgrow(p: &Profile, declared: f64) -> Option<String> {
    let total = architectures()
        .get(&p.model_id)
        .map_or(declared, |arch| arch.total_params_b * 1e9);
    let bytes_each = weight_bytes_per_parameter(p.precision);
    let weight_bytes = total * bytes_each;
    // Memory over every GPU the replica spans.
    let gpus = p.resource_requirements.gpu_count.max(1);
    let memory_bytes = p.memory_requirement_gb * f64::from(gpus) * (1u64 << 30) as f64;
    (memory_bytes < weight_bytes).then(|| {
        format!(
            "{}{} GB holds fewer bytes than {:.1}B parameters need at {} ({}: {:.1} GiB of weights)",
            if gpus > 1 { format!("{gpus} x ") } else { String::new() },
            p.memory_requirement_gb,
            total / 1e9,
            p.precision,
            match bytes_each {
                1.0 => "1 byte each".to_string(),
                b if b.fract() == 0.0 => format!("{b} bytes each"),
                b => format!("{b:.3} bytes each with group scales"),
            },
            weight_bytes / (1u64 << 30) as f64
        )
    })
}

/// Why `profile` cannot hold its model's weights, if it cannot: what a run
/// that uses it says once on stderr (the run still charges the profile's
/// size: the real profiles are the contract).
pub fn profile_outgrown(profile: &Profile) -> Option<String> {
    weights_outgrow(profile, parse_parameter_count(&profile.parameters)?)
}

/// The compiled-in architecture table, read once.
fn architectures() -> &'static ArchitectureTable {
    static TABLE: OnceLock<ArchitectureTable> = OnceLock::new();
    TABLE.get_or_init(ArchitectureTable::builtin)
}
