//! Checks a folder of AIM profiles and reports every problem it finds.
//!
//! Errors make a profile unusable (malformed JSON, a missing or mistyped
//! field, fields that contradict each other, duplicates). Warnings are what
//! a sizing study must see but the runtime accepts: a partition larger than
//! the GPU, less memory than the weights need, quantised sizes far from the
//! documented ratios.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::hardware::{ComputeMode, GpuKind, MemoryMode};

use super::known_models::published_size;
use super::{parse_parameter_count, profile_file_name, render_profile, Precision, Profile};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The profile cannot be used.
    Error,
    /// The profile loads but a sizing study should know this.
    Warning,
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// File name inside the folder.
    pub file: String,
    /// Dotted path of the field concerned, if one field is.
    pub field: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl Finding {
    /// `FILE: FIELD: MESSAGE`, without the severity.
    pub fn describe(&self) -> String {
        match &self.field {
            Some(field) => format!("{}: {field}: {}", self.file, self.message),
            None => format!("{}: {}", self.file, self.message),
        }
    }
}

impl fmt::Display for Finding {
    /// `error: FILE: FIELD: MESSAGE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{severity}: {}", self.describe())
    }
}

/// What a folder holds: the profiles that parsed, and every finding.
#[derive(Debug, Clone, Default)]
pub struct Inspection {
    /// `(file name, profile)` for every file that parsed, in file-name order.
    pub profiles: Vec<(String, Profile)>,
    /// Findings in file-name order.
    pub findings: Vec<Finding>,
    /// Profile files read.
    pub files_read: usize,
}

impl Inspection {
    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }

    /// Number of warnings.
    pub fn warning_count(&self) -> usize {
        self.findings.len() - self.error_count()
    }
}

/// The folder could not be listed at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot read profile folder {path}: {source}")]
pub struct FolderError {
    /// The folder.
    pub path: String,
    /// The I/O error.
    pub source: std::io::Error,
}

/// Reads every `*.json` file of `dir` (other files are ignored) and inspects
/// them. Unreadable files become findings; only an unreadable folder fails.
pub fn inspect_dir(dir: &Path) -> Result<Inspection, FolderError> {
    let folder_error = |source| FolderError {
        path: dir.display().to_string(),
        source,
    };
    let mut names: Vec<String> = fs::read_dir(dir)
        .map_err(folder_error)?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json") && !name.starts_with('.'))
        .collect();
    names.sort();
    let mut files = Vec::with_capacity(names.len());
    let mut unreadable = Vec::new();
    for name in names {
        match fs::read_to_string(dir.join(&name)) {
            Ok(text) => files.push((name, text)),
            Err(err) => unreadable.push(Finding {
                severity: Severity::Error,
                file: name,
                field: None,
                message: format!("cannot read: {err}"),
            }),
        }
    }
    let mut inspection = inspect_files(&files);
    inspection.files_read += unreadable.len();
    inspection.findings.extend(unreadable);
    inspection.findings.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(inspection)
}

/// Inspects profiles already in memory (the built-in catalog, say) as if each
/// were written to its canonical file name.
pub fn inspect_profiles<'a>(profiles: impl IntoIterator<Item = &'a Profile>) -> Inspection {
    let files: Vec<(String, String)> = profiles
        .into_iter()
        .map(|p| {
            (
                profile_file_name(&p.model_id, p.precision),
                render_profile(p),
            )
        })
        .collect();
    inspect_files(&files)
}

/// Inspects `(file name, contents)` pairs; the pure core of [`inspect_dir`].
pub fn inspect_files(files: &[(String, String)]) -> Inspection {
    let mut inspection = Inspection {
        files_read: files.len(),
        ..Inspection::default()
    };
    if files.is_empty() {
        inspection.findings.push(Finding {
            severity: Severity::Error,
            file: "(folder)".into(),
            field: None,
            message: "no *.json profile files found".into(),
        });
        return inspection;
    }
    for (name, text) in files {
        let mut sink = FindingSink::new(name);
        if let Some(profile) = parse(text, &mut sink) {
            check_profile(name, &profile, &mut sink);
            inspection.profiles.push((name.clone(), profile));
        }
        inspection.findings.extend(sink.findings);
    }
    let cross = check_across_files(&inspection.profiles);
    inspection.findings.extend(cross);
    inspection.findings.sort_by(|a, b| a.file.cmp(&b.file));
    inspection
}

/// Collects the findings of one file.
struct FindingSink {
    file: String,
    findings: Vec<Finding>,
}

impl FindingSink {
    fn new(file: &str) -> FindingSink {
        FindingSink {
            file: file.to_string(),
            findings: Vec::new(),
        }
    }

    fn push(&mut self, severity: Severity, field: Option<&str>, message: String) {
        self.findings.push(Finding {
            severity,
            file: self.file.clone(),
            field: field.map(str::to_string),
            message,
        });
    }

    fn error(&mut self, field: &str, message: String) {
        self.push(Severity::Error, Some(field), message);
    }

    fn warn(&mut self, field: &str, message: String) {
        self.push(Severity::Warning, Some(field), message);
    }
}

/// Parses JSON, then the schema; reports syntax errors with line and column
/// and schema errors with the field path.
fn parse(text: &str, sink: &mut FindingSink) -> Option<Profile> {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(err) => {
            sink.push(Severity::Error, None, format!("malformed JSON: {err}"));
            return None;
        }
    };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let profile: Profile = match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(profile) => profile,
        Err(err) => {
            let path = err.path().to_string();
            let field = (path != ".").then_some(path);
            sink.push(
                Severity::Error,
                field.as_deref(),
                err.into_inner().to_string(),
            );
            return None;
        }
    };
    let known = serde_json::to_value(&profile).expect("a profile always serialises");
    for path in unknown_fields(&value, &known, "") {
        sink.warn(&path, "unknown field, ignored".into());
    }
    Some(profile)
}

/// Dotted paths of object keys in `given` that the schema (`known`) lacks.
fn unknown_fields(given: &Value, known: &Value, prefix: &str) -> Vec<String> {
    let (Value::Object(given), Value::Object(known)) = (given, known) else {
        return Vec::new();
    };
    let mut paths = Vec::new();
    for (key, value) in given {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match known.get(key) {
            Some(inner) => paths.extend(unknown_fields(value, inner, &path)),
            None if value.is_null() => {}
            None => paths.push(path),
        }
    }
    paths
}

/// Equal up to float noise.
fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Largest memory figure a profile may give: far beyond any GPU fleet, and
/// well within exact MiB accounting.
const MAX_GB: f64 = 1_000_000.0;

/// Checks of one profile on its own.
fn check_profile(file: &str, p: &Profile, sink: &mut FindingSink) {
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
    let published = published_size(&p.model_id);
    if let Some(published) = published {
        if published.total_billions * 1e9 > 1.5 * declared {
            sink.warn(
                "parameters",
                format!(
                    "`{}` understates the model: {}",
                    p.parameters, published.note
                ),
            );
        }
    }
    let total = published.map_or(declared, |pub_| declared.max(pub_.total_billions * 1e9));
    let weight_bytes = total * p.precision.bytes_per_parameter();
    let memory_bytes = p.memory_requirement_gb * (1u64 << 30) as f64;
    if memory_bytes < weight_bytes {
        sink.warn(
            "memory_requirement_gb",
            format!(
                "{} GB holds fewer bytes than {:.0}B parameters need at {} ({} each: {:.1} GiB)",
                p.memory_requirement_gb,
                total / 1e9,
                p.precision,
                match p.precision.bytes_per_parameter() {
                    1.0 => "1 byte".to_string(),
                    bytes => format!("{bytes} bytes"),
                },
                weight_bytes / (1u64 << 30) as f64
            ),
        );
    }
}

/// Largest distance, in share of FP16, a quantised size may stray from the
/// documented ratio before it is flagged (15 percentage points).
const SHARE_TOLERANCE: f64 = 0.15;

/// Checks that need several files: duplicate variants, missing precisions,
/// and quantised sizes far from the documented share of FP16.
fn check_across_files(profiles: &[(String, Profile)]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut by_model: BTreeMap<&str, [Option<(&str, &Profile)>; 3]> = BTreeMap::new();
    for (file, profile) in profiles {
        let slot =
            &mut by_model.entry(profile.model_id.as_str()).or_default()[profile.precision.index()];
        match slot {
            Some((first, _)) => findings.push(Finding {
                severity: Severity::Error,
                file: file.clone(),
                field: Some("variant_id".into()),
                message: format!(
                    "duplicate variant `{}`, also in {first}",
                    profile.variant_id
                ),
            }),
            None => *slot = Some((file, profile)),
        }
    }
    for (model, variants) in &by_model {
        let present: Vec<(&str, &Profile)> = variants.iter().flatten().copied().collect();
        let anchor = present[0].0;
        let missing: Vec<&str> = Precision::ALL
            .iter()
            .filter(|p| variants[p.index()].is_none())
            .map(|p| p.name())
            .collect();
        if !missing.is_empty() {
            findings.push(Finding {
                severity: Severity::Warning,
                file: anchor.to_string(),
                field: None,
                message: format!("model `{model}` has no {} profile", missing.join(" or ")),
            });
        }
        let Some((_, fp16)) = variants[Precision::Fp16.index()] else {
            continue;
        };
        for precision in [Precision::Int8, Precision::Int4] {
            let Some((file, quantised)) = variants[precision.index()] else {
                continue;
            };
            let share = quantised.memory_requirement_gb / fp16.memory_requirement_gb;
            let documented = precision.documented_share_of_fp16();
            if (share - documented).abs() > SHARE_TOLERANCE {
                findings.push(Finding {
                    severity: Severity::Warning,
                    file: file.to_string(),
                    field: Some("memory_requirement_gb".into()),
                    message: format!(
                        "{} GB is {:.0}% of the FP16 {} GB; the documented {precision} share is ~{:.0}%",
                        quantised.memory_requirement_gb,
                        share * 100.0,
                        fp16.memory_requirement_gb,
                        documented * 100.0
                    ),
                });
            }
        }
        if let (Some((_, int8)), Some((file, int4))) = (
            variants[Precision::Int8.index()],
            variants[Precision::Int4.index()],
        ) {
            if int4.memory_requirement_gb > int8.memory_requirement_gb {
                findings.push(Finding {
                    severity: Severity::Warning,
                    file: file.to_string(),
                    field: Some("memory_requirement_gb".into()),
                    message: format!(
                        "int4 needs more memory ({} GB) than int8 ({} GB)",
                        int4.memory_requirement_gb, int8.memory_requirement_gb
                    ),
                });
            }
        }
    }
    findings
}
