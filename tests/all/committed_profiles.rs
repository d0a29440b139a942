//! The committed profiles are exactly what the generator writes from the
//! committed sizing table, and carry the real set's figures.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use aimsim::profile::validate::{inspect_dir, Severity};
use aimsim::profile::{generate_profiles, SizingTable};

use crate::support::{aimsim, shipped_profiles};

fn json_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn regenerating_reproduces_the_committed_files_byte_for_byte() {
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("profiles");
    aimsim(&[
        "profiles",
        "generate",
        "--table",
        "aim_profiles/sizing.csv",
        "--out",
        target.to_str().unwrap(),
    ])
    .expect_code(0);
    let generated = json_files(&target);
    let committed = json_files(shipped_profiles());
    assert_eq!(generated.len(), 114);
    let generated_names: Vec<&String> = generated.keys().collect();
    let committed_names: Vec<&String> = committed.keys().collect();
    assert_eq!(generated_names, committed_names);
    for (name, bytes) in &generated {
        assert!(
            bytes == &committed[name],
            "aim_profiles/{name} differs from what `aimsim profiles generate` writes"
        );
    }
    // No temporary file is left behind.
    assert!(fs::read_dir(&target).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with('.')));
}

#[test]
fn the_builtin_catalog_is_the_committed_folder() {
    let builtin: Vec<String> = generate_profiles(&SizingTable::builtin())
        .into_iter()
        .map(|f| f.file_name)
        .collect();
    let committed: Vec<String> = json_files(shipped_profiles()).into_keys().collect();
    let mut builtin_sorted = builtin.clone();
    builtin_sorted.sort();
    assert_eq!(builtin_sorted, committed);
}

#[test]
fn the_shipped_set_validates_with_the_expected_warnings() {
    let inspection = inspect_dir(shipped_profiles()).unwrap();
    assert_eq!(inspection.error_count(), 0, "{:#?}", inspection.findings);
    let warned = |file: &str, text: &str| {
        inspection
            .findings
            .iter()
            .any(|f| f.severity == Severity::Warning && f.file == file && f.message.contains(text))
    };
    for file in [
        "deepseek-ai_DeepSeek-R1-Distill-Llama-70B-fp16.json",
        "deepseek-ai_DeepSeek-R1-Zero-fp16.json",
        "meta-llama_Llama-3.3-70B-Instruct-fp16.json",
        "mistralai_Mistral-Large-fp16.json",
    ] {
        assert!(
            warned(file, "206.25 GB is more than one 192 GB MI300X"),
            "{file}"
        );
    }
    assert!(warned(
        "Qwen_Qwen3-235B-A22B-fp16.json",
        "fewer bytes than 235.1B parameters need at fp16"
    ));
    assert!(warned(
        "Qwen_Qwen3-235B-A22B-int4.json",
        "documented int4 share is ~40%"
    ));
    assert!(warned(
        "deepseek-ai_DeepSeek-V3-fp16.json",
        "fewer bytes than 671.0B parameters need"
    ));
    assert!(warned(
        "deepseek-ai_DeepSeek-V3-fp16.json",
        "`37B` understates the model"
    ));
    // A plausible model draws no warning.
    assert!(!inspection
        .findings
        .iter()
        .any(|f| f.file.starts_with("meta-llama_Llama-3.1-8B")));
}

/// The real set the AIM runtime generated, when this checkout has it beside
/// it (developers and CI do; a user's clone need not).
fn reference_set() -> Option<&'static Path> {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/reference/aim_profiles"
    ));
    path.is_dir().then_some(path)
}

#[test]
fn committed_figures_equal_the_real_set_when_it_is_present() {
    let Some(reference) = reference_set() else {
        eprintln!("skipped: ../shared/reference/aim_profiles is not beside this checkout");
        return;
    };
    let real = json_files(reference);
    let ours = json_files(shipped_profiles());
    assert_eq!(
        real.keys().collect::<Vec<_>>(),
        ours.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &ours {
        let a: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        let b: serde_json::Value = serde_json::from_slice(&real[name]).unwrap();
        assert_eq!(a, b, "{name}");
    }
}

#[test]
fn validate_gives_identical_findings_on_the_real_set_when_it_is_present() {
    let Some(reference) = reference_set() else {
        eprintln!("skipped: ../shared/reference/aim_profiles is not beside this checkout");
        return;
    };
    let ours = aimsim(&["profiles", "validate", "aim_profiles"]).expect_code(0);
    let real = aimsim(&["profiles", "validate", reference.to_str().unwrap()]).expect_code(0);
    assert!(!ours.stdout.is_empty());
    assert_eq!(ours.stdout, real.stdout);
}
