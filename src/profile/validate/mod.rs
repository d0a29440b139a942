//! Checks a folder of AIM profiles and reports every problem it finds.
//!
//! Errors make a profile unusable (malformed JSON, a missing or mistyped
//! field, fields that contradict each other, duplicates). Warnings are what
//! a sizing study must see but the runtime accepts: a partition larger than
//! the GPU, less memory than the weights need, quantised sizes far from the
//! documented ratios.

use std::fmt;
use std::fs;
use std::path::Path;

use serde_json::Value;

mod across;
mod checks;

use super::{profile_file_name, render_profile, Profile};

use across::check_across_files;
use checks::check_profile;
pub use checks::profile_outgrown;

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
        match crate::input::read_text(&dir.join(&name)) {
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
pub(super) struct FindingSink {
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

    pub(super) fn push(&mut self, severity: Severity, field: Option<&str>, message: String) {
        self.findings.push(Finding {
            severity,
            file: self.file.clone(),
            field: field.map(str::to_string),
            message,
        });
    }

    pub(super) fn error(&mut self, field: &str, message: String) {
        self.push(Severity::Error, Some(field), message);
    }

    pub(super) fn warn(&mut self, field: &str, message: String) {
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
