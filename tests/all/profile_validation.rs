//! Every class of bad profile is reported, naming the file and the field (or
//! line and column) and saying what was expected.

use serde_json::{json, Value};

use aimsim::profile::validate::{inspect_files, Finding, Severity};
use aimsim::profile::{generate_profiles, SizingTable};

const FILE: &str = "meta-llama_Llama-3.1-8B-Instruct-fp16.json";

/// A valid profile as a JSON value.
fn good() -> Value {
    let table = SizingTable::parse(
        "model_id,parameters,fp16_gb,int8_gb,int4_gb\nmeta-llama/Llama-3.1-8B-Instruct,8B,20,13,9\n",
        "test",
    )
    .unwrap();
    serde_json::from_str(&generate_profiles(&table)[0].contents).unwrap()
}

fn text(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap()
}

/// Sets a dotted field of `good()`; `Value::Null` as a marker removes it.
fn with(path: &str, new: Option<Value>) -> String {
    let mut value = good();
    let mut cursor = &mut value;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        cursor = cursor.get_mut(*part).unwrap();
    }
    let object = cursor.as_object_mut().unwrap();
    match new {
        Some(v) => object.insert(parts[parts.len() - 1].to_string(), v),
        None => object.remove(parts[parts.len() - 1]),
    };
    text(&value)
}

fn findings(files: &[(&str, String)]) -> Vec<Finding> {
    let owned: Vec<(String, String)> = files
        .iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect();
    inspect_files(&owned).findings
}

#[track_caller]
fn assert_finding(
    files: &[(&str, String)],
    severity: Severity,
    file: &str,
    field: Option<&str>,
    text: &str,
) {
    let all = findings(files);
    assert!(
        all.iter().any(|f| f.severity == severity
            && f.file == file
            && f.field.as_deref() == field
            && f.message.contains(text)),
        "expected {severity:?} in {file} at {field:?} containing {text:?}; got:\n{}",
        all.iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn a_good_profile_has_no_finding() {
    assert_eq!(
        findings(&[(FILE, text(&good()))])
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count(),
        0
    );
}

#[test]
fn schema_errors_name_the_field_and_what_was_expected() {
    use Severity::Error;
    let cases: Vec<(String, Option<&str>, &str)> = vec![
        (with("precision", None), None, "missing field `precision`"),
        (
            with("memory_requirement_gb", Some(json!("20"))),
            Some("memory_requirement_gb"),
            "invalid type: string \"20\", expected f64",
        ),
        (
            with("gpu_sharing.memory_limit_gb", Some(json!(true))),
            Some("gpu_sharing.memory_limit_gb"),
            "invalid type: boolean",
        ),
        (
            with("precision", Some(json!("fp8"))),
            Some("precision"),
            "unknown variant `fp8`, expected one of `fp16`, `int8`, `int4`",
        ),
        (
            with("gpu_sharing.qos_priority", Some(json!("urgent"))),
            Some("gpu_sharing.qos_priority"),
            "unknown variant `urgent`",
        ),
        (
            with("resource_requirements.gpu_count", Some(json!(-1))),
            Some("resource_requirements.gpu_count"),
            "invalid value: integer `-1`",
        ),
        (
            with("resource_requirements", None),
            None,
            "missing field `resource_requirements`",
        ),
        (
            with("gpu_sharing.enabled", None),
            Some("gpu_sharing"),
            "missing field `enabled`",
        ),
    ];
    for (contents, field, message) in cases {
        assert_finding(&[(FILE, contents)], Error, FILE, field, message);
    }
}

#[test]
fn malformed_json_names_line_and_column() {
    let broken = text(&good()).replacen(": \"1.0.0-fp16\"", " \"1.0.0-fp16\"", 1);
    // `  "version" "1.0.0-fp16"`: the unexpected `"` is at column 13.
    let line = broken
        .lines()
        .position(|l| l.contains("\"version\""))
        .unwrap()
        + 1;
    let all = findings(&[(FILE, broken)]);
    assert_eq!(all.len(), 1, "{all:?}");
    let expected = format!("malformed JSON: expected `:` at line {line} column 13");
    assert_eq!(all[0].message, expected);
    let truncated = text(&good())[..100].to_string();
    assert_finding(
        &[(FILE, truncated)],
        Severity::Error,
        FILE,
        None,
        "EOF while parsing",
    );
}

#[test]
fn contradictory_fields_are_errors() {
    use Severity::Error;
    let cases: Vec<(String, &str, &str)> = vec![
        (
            with(
                "variant_id",
                Some(json!("meta-llama/Llama-3.1-8B-Instruct-int4")),
            ),
            "variant_id",
            "should be `meta-llama/Llama-3.1-8B-Instruct-fp16`",
        ),
        (
            with("metadata.quantization", Some(json!("int4"))),
            "metadata.quantization",
            "disagrees with precision `fp16`",
        ),
        (
            with("metadata.base_model", Some(json!("other/model"))),
            "metadata.base_model",
            "disagrees with model_id",
        ),
        (
            with("resource_requirements.gpu_memory_gb", Some(json!(21.0))),
            "resource_requirements.gpu_memory_gb",
            "disagrees with memory_requirement_gb 20",
        ),
        (
            with("gpu_sharing.memory_limit_gb", Some(json!(30.0))),
            "gpu_sharing.memory_limit_gb",
            "disagrees with recommended_partition_gb 25",
        ),
        (
            with("version", Some(json!("1.0.0-int8"))),
            "version",
            "should end in -fp16",
        ),
        (
            with("memory_requirement_gb", Some(json!(-5.0))),
            "memory_requirement_gb",
            "expected a positive size of at most 1000000 GB",
        ),
        (
            with("memory_requirement_gb", Some(json!(0.0))),
            "memory_requirement_gb",
            "expected a positive size of at most 1000000 GB",
        ),
        (
            with("resource_requirements.gpu_count", Some(json!(0))),
            "resource_requirements.gpu_count",
            "at least one GPU",
        ),
        (
            with("parameters", Some(json!("eight"))),
            "parameters",
            "not a parameter count",
        ),
        (
            with("gpu_sharing.compute_mode", Some(json!("XPX"))),
            "gpu_sharing.compute_mode",
            "unknown compute mode `XPX`",
        ),
        (
            with("gpu_sharing.partition_count", Some(json!(2))),
            "gpu_sharing.partition_count",
            "disagrees with compute_mode SPX",
        ),
        (
            with("gpu_sharing.memory_mode", Some(json!("NPS4"))),
            "metadata.partition_config.memory_mode",
            "disagrees with gpu_sharing.memory_mode",
        ),
    ];
    for (contents, field, message) in cases {
        assert_finding(&[(FILE, contents)], Error, FILE, Some(field), message);
    }
    // Recommended below the memory it must hold.
    let mut small = good();
    small["recommended_partition_gb"] = json!(10.0);
    small["gpu_sharing"]["memory_limit_gb"] = json!(10.0);
    assert_finding(
        &[(FILE, text(&small))],
        Error,
        FILE,
        Some("recommended_partition_gb"),
        "smaller than memory_requirement_gb 20",
    );
}

#[test]
fn file_name_must_match_the_variant() {
    assert_finding(
        &[("llama.json", text(&good()))],
        Severity::Error,
        "llama.json",
        Some("variant_id"),
        &format!("should be named `{FILE}`"),
    );
}

#[test]
fn a_duplicate_variant_names_both_files() {
    let files = [(FILE, text(&good())), ("zz-copy.json", text(&good()))];
    assert_finding(
        &files,
        Severity::Error,
        "zz-copy.json",
        Some("variant_id"),
        &format!("duplicate variant `meta-llama/Llama-3.1-8B-Instruct-fp16`, also in {FILE}"),
    );
}

#[test]
fn an_empty_folder_is_an_error() {
    let all = inspect_files(&[]).findings;
    assert_eq!(all.len(), 1);
    assert!(all[0].message.contains("no *.json profile files"));
}

#[test]
fn sizing_warnings() {
    use Severity::Warning;
    assert_finding(
        &[(FILE, with("surprise", Some(json!(1))))],
        Warning,
        FILE,
        Some("surprise"),
        "unknown field",
    );
    let mut odd = good();
    odd["recommended_partition_gb"] = json!(30.0);
    odd["gpu_sharing"]["memory_limit_gb"] = json!(30.0);
    assert_finding(
        &[(FILE, text(&odd))],
        Warning,
        FILE,
        Some("recommended_partition_gb"),
        "is not 1.25 x memory_requirement_gb (25 GB)",
    );
    // The model's real size comes from aim_profiles/architectures.csv.
    assert_finding(
        &[(
            FILE,
            with("parameters", Some(json!("80B"))).replace("\"8B\"", "\"80B\""),
        )],
        Warning,
        FILE,
        Some("parameters"),
        "`80B` overstates the model: meta-llama/Llama-3.1-8B-Instruct has 8.0B parameters",
    );
    let mut small = good();
    small["memory_requirement_gb"] = json!(12.0);
    small["recommended_partition_gb"] = json!(15.0);
    small["resource_requirements"]["gpu_memory_gb"] = json!(12.0);
    small["gpu_sharing"]["memory_limit_gb"] = json!(15.0);
    assert_finding(
        &[(FILE, text(&small))],
        Warning,
        FILE,
        Some("memory_requirement_gb"),
        "12 GB holds fewer bytes than 8.0B parameters need at fp16 (2 bytes each: 15.0 GiB of weights)",
    );
    let mut huge = good();
    for (path, v) in [
        ("memory_requirement_gb", 240.0),
        ("recommended_partition_gb", 300.0),
    ] {
        huge[path] = json!(v);
    }
    huge["resource_requirements"]["gpu_memory_gb"] = json!(240.0);
    huge["gpu_sharing"]["memory_limit_gb"] = json!(300.0);
    assert_finding(
        &[(FILE, text(&huge))],
        Warning,
        FILE,
        Some("recommended_partition_gb"),
        "larger than every GPU kind (largest: 288 GiB)",
    );
    assert_finding(
        &[(FILE, text(&good()))],
        Warning,
        FILE,
        None,
        "has no int8 or int4 profile",
    );
}
