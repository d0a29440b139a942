//! `aimsim profiles generate | validate | list | show`, run as a user would.

use crate::support::{aimsim, aimsim_in, shipped_profiles};

#[test]
fn validate_reports_errors_with_file_and_field_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/aim_profiles/google_gemma-3-1B-fp16.json"
    ))
    .unwrap();
    std::fs::write(
        dir.path().join("google_gemma-3-1B-fp16.json"),
        good.replace("\"fp16\",\n  \"memory", "\"fp12\",\n  \"memory"),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a profile").unwrap();
    let run = aimsim(&["profiles", "validate", dir.path().to_str().unwrap()]).expect_code(1);
    assert!(
        run.stdout.contains("error: google_gemma-3-1B-fp16.json: precision: unknown variant `fp12`, expected one of `fp16`, `int8`, `int4` at line 6 column"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("1 profile files, 0 models: 1 errors"),
        "{}",
        run.stderr
    );
}

#[test]
fn validate_of_the_shipped_set_passes_with_warnings() {
    let folder = shipped_profiles().to_str().unwrap();
    let run = aimsim(&["profiles", "validate", folder]).expect_code(0);
    assert!(
        run.stdout.lines().all(|l| l.starts_with("warning: ")),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("aim_profiles: 114 profile files, 38 models: 0 errors"),
        "{}",
        run.stderr
    );
    // With no folder, outside any checkout (as after `cargo install`): the
    // built-in catalog, which is the shipped folder compiled in.
    let elsewhere = tempfile::tempdir().unwrap();
    let builtin = aimsim_in(Some(elsewhere.path()), &["profiles", "validate"]).expect_code(0);
    assert_eq!(builtin.stdout, run.stdout);
    assert!(
        builtin
            .stderr
            .contains("built-in catalog: 114 profile files, 38 models: 0 errors"),
        "{}",
        builtin.stderr
    );
}

#[test]
fn generate_refuses_a_bad_table_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("sizing.csv");
    std::fs::write(
        &table,
        "model_id,parameters,fp16_gb,int8_gb,int4_gb\na/b,8B,20,13,9\nc/d,8B,20,thirteen,9\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = aimsim(&[
        "profiles",
        "generate",
        "--table",
        table.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .expect_code(1);
    assert!(
        run.stderr
            .contains("sizing.csv: line 3, column `int8_gb`: invalid float literal"),
        "{}",
        run.stderr
    );
    assert!(!out.exists(), "nothing may be written from a bad table");
}

#[test]
fn list_filters_by_model_and_precision() {
    let filters = [
        "profiles",
        "list",
        "--model",
        "gemma",
        "--precision",
        "int4",
    ];
    let run = aimsim(&filters).expect_code(0);
    let rows: Vec<&str> = run.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 4, "{}", run.stdout);
    assert!(rows
        .iter()
        .all(|r| r.starts_with("google/gemma-3-") && r.contains(" int4 ")));
    aimsim(&["profiles", "list", "--model", "no-such-model"]).expect_code(1);
    // The same rows as CSV and JSON, memory exact in GiB.
    let csv = aimsim(&[&filters[..], &["--format", "csv"]].concat()).expect_code(0);
    let mut lines = csv.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("model,precision,parameters,memory_gib,recommended_gib,gpus")
    );
    assert_eq!(lines.count(), 4, "{}", csv.stdout);
    let json = aimsim(&[&filters[..], &["--format", "json"]].concat()).expect_code(0);
    let rows: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for row in rows {
        assert_eq!(row["precision"], "int4");
        assert!(row["memory_gib"].as_f64().unwrap() > 0.0, "{row}");
        assert!(row["model"]
            .as_str()
            .unwrap()
            .starts_with("google/gemma-3-"));
    }
}

#[test]
fn show_counts_replicas_per_gpu_in_each_mode() {
    // Llama-3.1-8B: fp16 20 GiB -> SPX 9 (192/20), DPX 2x4, QPX 4x2, CPX 8x1.
    let run = aimsim(&["profiles", "show", "meta-llama/Llama-3.1-8B-Instruct"]).expect_code(0);
    let fp16 = run.stdout.lines().find(|l| l.starts_with("fp16")).unwrap();
    let cells: Vec<&str> = fp16.split_whitespace().collect();
    assert_eq!(
        cells[cells.len() - 4..],
        ["9", "8", "8", "8"],
        "{}",
        run.stdout
    );
    let run = aimsim(&["profiles", "show", "meta-llama/Llama-3.1-8B"]).expect_code(1);
    assert!(
        run.stderr
            .contains("did you mean `meta-llama/Llama-3.1-8B-Instruct`"),
        "{}",
        run.stderr
    );
}
