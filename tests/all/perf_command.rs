//! `aimsim perf` as a user runs it: the documented examples, JSON with
//! numbers as numbers, models from an architecture file, measured tables,
//! and refusals that say what was expected.

use serde_json::Value;

use super::support::aimsim;

const LLAMA70: &str = "meta-llama/Llama-3.3-70B-Instruct";
const LLAMA8: &str = "meta-llama/Llama-3.1-8B-Instruct";

fn json(args: &[&str]) -> Value {
    let mut all = vec!["perf"];
    all.extend_from_slice(args);
    all.extend(["--format", "json"]);
    let run = aimsim(&all).expect_code(0);
    serde_json::from_str(&run.stdout).unwrap()
}

fn row(report: &Value, device: usize, batch: u64) -> &Value {
    report["devices"][device]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["batch"] == batch)
        .unwrap()
}

#[test]
fn the_documented_example_gives_numbers_and_int4_decodes_faster() {
    let args = |p: &str| {
        [
            format!("{LLAMA70}:{p}"),
            "--gpu".into(),
            "MI300X".into(),
            "--input".into(),
            "1024".into(),
            "--output".into(),
            "1024".into(),
            "--batch".into(),
            "1".into(),
            "--batch".into(),
            "64".into(),
        ]
    };
    let report = |p: &str| {
        let a = args(p);
        json(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (fp16, int4) = (report("fp16"), report("int4"));
    for r in [&fp16, &int4] {
        assert!(
            r["devices"][0]["rows"][0]["tpot_ms"].is_f64(),
            "numbers, not strings"
        );
        assert!(r["devices"][0]["kv_cache_tokens"].is_u64());
    }
    let tpot = |r: &Value| row(r, 0, 1)["tpot_ms"].as_f64().unwrap();
    assert!(
        tpot(&int4) < tpot(&fp16) * 0.6,
        "{} vs {}",
        tpot(&int4),
        tpot(&fp16)
    );
    // FP16 70B leaves room for fewer than 64 such requests; INT4 for more.
    assert_eq!(row(&fp16, 0, 64)["fits"], false);
    assert_eq!(row(&int4, 0, 64)["fits"], true);
}

#[test]
fn a_cpx_partition_is_shown_beside_the_whole_gpu() {
    let report = json(&[
        &format!("{LLAMA8}:int4"),
        "--mode",
        "CPX/NPS4",
        "--input",
        "1024",
        "--output",
        "256",
        "--batch",
        "1",
    ]);
    let devices = report["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2);
    assert!(devices[0]["device"]
        .as_str()
        .unwrap()
        .contains("CPX/NPS4 partition: 38 CUs"));
    assert!(devices[1]["device"]
        .as_str()
        .unwrap()
        .contains("SPX/NPS1: 304 CUs"));
    assert_eq!(devices[0]["replicas_per_gpu"], 8);
    let tpot = |d: usize| row(&report, d, 1)["tpot_ms"].as_f64().unwrap();
    assert!(tpot(0) > 2.0 * tpot(1));
}

#[test]
fn a_model_from_an_architecture_file_and_a_measured_table() {
    let dir = tempfile::tempdir().unwrap();
    let header = include_str!("../../aim_profiles/architectures.csv")
        .lines()
        .next()
        .unwrap();
    let arch = dir.path().join("arch.csv");
    std::fs::write(
        &arch,
        format!("{header}\nacme/Tiny-2B,acme/Tiny-2B,24,2048,16,8,128,8192,32000,2.1,2.1,0,0,0,0,0,0,0,0,0,0,8192,1,https://example.org/config.json\n"),
    )
    .unwrap();
    let base = [
        "acme/Tiny-2B:fp16",
        "--arch",
        arch.to_str().unwrap(),
        "--input",
        "1000",
        "--output",
        "200",
        "--batch",
        "1",
        "--batch",
        "4",
    ];
    let modelled = json(&base);
    assert!(row(&modelled, 0, 1)["tpot_ms"].as_f64().unwrap() > 0.0);
    // Measured: 10 ms at batch 1 and 30 ms at batch 8, context 1100.
    let measured = dir.path().join("measured.csv");
    std::fs::write(
        &measured,
        "model,precision,gpu,layout,tp,batch,input_tokens,output_tokens,ttft_ms,tpot_ms\n\
         acme/Tiny-2B,fp16,MI300X,SPX,1,1,900,0,50,10\n\
         acme/Tiny-2B,fp16,MI300X,SPX,1,1,1300,0,90,10\n\
         acme/Tiny-2B,fp16,MI300X,SPX,1,8,900,0,,30\n\
         acme/Tiny-2B,fp16,MI300X,SPX,1,8,1300,0,,30\n",
    )
    .unwrap();
    let mut with_table = base.to_vec();
    with_table.extend(["--measured", measured.to_str().unwrap()]);
    let table = json(&with_table);
    let tpot = |r: &Value, b| row(r, 0, b)["tpot_ms"].as_f64().unwrap();
    assert!((tpot(&table, 1) - 10.0).abs() < 1e-6, "{}", tpot(&table, 1));
    // Batch 4 lies 3/7 of the way from batch 1 to batch 8.
    assert!((tpot(&table, 4) - (10.0 + 20.0 * 3.0 / 7.0)).abs() < 1e-6);
    // The prompt of 1000 tokens is measured at 50 + 100/400 x 40 ms.
    assert!((row(&table, 0, 1)["ttft_ms"].as_f64().unwrap() - 60.0).abs() < 1e-6);
}

#[test]
fn bad_requests_say_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let bad_arch = dir.path().join("bad.csv");
    std::fs::write(&bad_arch, "model_id,layers\nx,notanumber\n").unwrap();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["acme/Unknown-7B"], 1, "unknown model `acme/Unknown-7B`"),
        // A lower-case id gets the catalog's closest ids, as `place` does.
        (
            &["meta-llama/llama-3.1-8b-instruct"],
            1,
            "did you mean `meta-llama/Llama-3.1-8B-Instruct`",
        ),
        (&[&format!("{LLAMA8}:fp4")], 2, "unknown precision `fp4`"),
        (
            &[LLAMA8, "--input", "500000", "--output", "10"],
            2,
            "500010 tokens is longer than meta-llama/Llama-3.1-8B-Instruct's context of 131072",
        ),
        (
            &[LLAMA8, "--tp", "3"],
            1,
            "tensor parallelism 3 must be 1, 2, 4 or 8",
        ),
        (
            &[LLAMA8, "--mode", "CPX/NPS4", "--tp", "2"],
            1,
            "tensor parallelism spans whole GPUs",
        ),
        (
            &[LLAMA8, "--mode", "SPX/NPS4"],
            2,
            "MI300X does not support SPX/NPS4",
        ),
        (
            &["deepseek-ai/DeepSeek-V3:fp16"],
            1,
            "no room for a key/value cache",
        ),
        (
            &[LLAMA8, "--arch", bad_arch.to_str().unwrap()],
            1,
            "bad.csv: line 2",
        ),
        (
            &[LLAMA8, "--memory-utilization", "1.5"],
            2,
            "must be in (0, 1]",
        ),
        (
            &[LLAMA8, "--partitions", "40,40", "--partition", "2"],
            2,
            "--partition 2 does not exist",
        ),
    ];
    for (args, code, message) in cases {
        let run = aimsim(&[&["perf"][..], args].concat()).expect_code(*code);
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
}

#[test]
fn the_calibration_table_prints() {
    let run = aimsim(&["perf", "--calibration"]).expect_code(0);
    assert!(run.stdout.contains("### Fitted to:"));
    assert!(run.stdout.contains("### Validation (never fitted to):"));
}

#[test]
fn fp8_names_the_8_bit_profile() {
    let fp8 = aimsim(&["perf", &format!("{LLAMA8}:fp8"), "--format", "csv"]).expect_code(0);
    let int8 = aimsim(&["perf", &format!("{LLAMA8}:INT8"), "--format", "csv"]).expect_code(0);
    assert_eq!(fp8.stdout, int8.stdout);
    assert!(fp8.stdout.contains("int8"), "{}", fp8.stdout);
}
