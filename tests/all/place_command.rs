//! `aimsim place`, run as a user would.

use crate::support::aimsim;

const LLAMA: &str = "meta-llama/Llama-3.1-8B-Instruct";

#[test]
fn the_readme_example_goes_to_partition_zero_with_20_gib() {
    let run = aimsim(&[
        "place",
        "--gpu",
        "MI300X",
        "--partitions",
        "40,40,40,40",
        "meta-llama/Llama-3.1-8B-Instruct:fp16",
    ])
    .expect_code(0);
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains(LLAMA))
        .expect("a row for the request");
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cells[..4], ["1", LLAMA, "fp16", "20"], "{line}");
    assert!(line.ends_with("gpu 0 partition 0 (r0)"), "{line}");
    assert!(
        run.stdout
            .contains("placed 1/1 requests on 1 of 1 GPUs; memory utilisation 12.5%"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn json_output_describes_every_request_and_partition() {
    let run = aimsim(&[
        "place",
        "--partitions",
        "40,40,40,40",
        "--format",
        "json",
        &format!("{LLAMA}:int4"),
        &format!("{LLAMA}:fp16"),
    ])
    .expect_code(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["requests"].as_array().unwrap().len(), 2);
    // int4 (9 GiB) to p0; fp16 (20 GiB) to the most free: p1 (40, lowest id of the tie).
    assert_eq!(report["requests"][0]["size_gib"], 9.0);
    assert_eq!(report["requests"][0]["partitions"], serde_json::json!([0]));
    assert_eq!(report["requests"][1]["partitions"], serde_json::json!([1]));
    assert_eq!(report["partitions"][0]["used_gib"], 9.0);
    assert_eq!(report["partitions"][1]["used_gib"], 20.0);
    assert_eq!(report["placed"], 2);
}

#[test]
fn csv_output_has_a_header_and_one_row_per_request() {
    let run = aimsim(&[
        "place",
        "--mode",
        "CPX/NPS4",
        "--format",
        "csv",
        "--precision",
        "int4",
        "google/gemma-3-12B",
        "meta-llama/Llama-3.3-70B-Instruct",
    ])
    .expect_code(1);
    let mut reader = csv::Reader::from_reader(run.stdout.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "order");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][6], "placed");
    assert_eq!(&rows[1][6], "rejected");
    assert_eq!(&rows[1][10], "never-fits");
    assert_eq!(
        &rows[1][11],
        "never fits: needs 60 GiB, the largest partition is 24 GiB"
    );
    assert!(
        run.stderr
            .contains("1 of 2 requests rejected (1 can never fit MI300X CPX/NPS4 (8 x 24 GiB))"),
        "{}",
        run.stderr
    );
}

#[test]
fn all_models_at_int4_need_more_than_four_spx_gpus() {
    // The 38 int4 replicas need 822 GiB: more than 4 x 192 = 768, so four SPX
    // GPUs must reject some; six hold them all.
    let run = aimsim(&[
        "place",
        "--all-models",
        "--precision",
        "int4",
        "--gpus",
        "6",
        "--policy",
        "best-fit",
    ])
    .expect_code(0);
    assert!(
        run.stdout.contains("placed 38/38 requests"),
        "{}",
        run.stdout
    );
    let run = aimsim(&[
        "place",
        "--all-models",
        "--precision",
        "int4",
        "--gpus",
        "4",
    ])
    .expect_code(1);
    assert!(run.stderr.contains("requests rejected"), "{}", run.stderr);
}

#[test]
fn higher_priority_is_admitted_first() {
    // Runtime defect 5: priority was stored and never used. One SPX GPU has
    // room for one 165 GiB replica: the priority-9 request gets it although
    // it is listed second.
    let run = aimsim(&[
        "place",
        "--format",
        "csv",
        "mistralai/Mistral-Large^1",
        "meta-llama/Llama-3.3-70B-Instruct^9",
    ])
    .expect_code(1);
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(run.stdout.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        (&rows[0][1], &rows[0][6]),
        ("meta-llama/Llama-3.3-70B-Instruct", "placed")
    );
    assert_eq!(
        (&rows[1][1], &rows[1][6], &rows[1][10]),
        ("mistralai/Mistral-Large", "rejected", "no-capacity")
    );
}

#[test]
fn a_preferred_partition_is_honoured_and_a_missing_one_rejected() {
    let run = aimsim(&[
        "place",
        "--partitions",
        "40,40,40,40",
        "--format",
        "csv",
        &format!("{LLAMA}@3"),
        &format!("{LLAMA}@0.7"),
    ])
    .expect_code(1);
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(run.stdout.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(&rows[0][9], "3");
    assert_eq!(&rows[1][10], "invalid");
    assert_eq!(
        &rows[1][11],
        "invalid: preferred gpu 0 partition 7 does not exist"
    );
}

#[test]
fn an_unknown_model_is_an_error_with_suggestions() {
    // Runtime defect 2: bare-suffix matching and a silent 40 GB default.
    let run = aimsim(&["place", "acme/TinyLlama-3.2-1B-Instruct:fp16"]).expect_code(1);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr
            .starts_with("error: unknown model `acme/TinyLlama-3.2-1B-Instruct`; did you mean"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

#[test]
fn usage_errors_exit_2_and_say_what_was_expected() {
    // A name no policy will take, and the registry's names as clap lists
    // them (adding a policy breaks neither).
    let policies = aimsim::schedule::Policy::ALL.map(|p| p.name()).join(", ");
    let unknown_policy = format!(
        "invalid value 'no-such-policy' for '--policy <POLICY>'\n  [possible values: {policies}]"
    );
    let cases: &[(&[&str], &str)] = &[
        (&["place", "--mode", "SPX/NPS4", LLAMA], "MI300X does not support SPX/NPS4; valid modes are SPX/NPS1, DPX/NPS1, DPX/NPS2, QPX/NPS1, QPX/NPS4, CPX/NPS1, CPX/NPS4"),
        (&["place", "--gpu", "MI355X", "--mode", "CPX/NPS4", LLAMA], "MI355X does not support CPX/NPS4"),
        (&["place", "--partitions", "40,-4", LLAMA], "bad layout `40,-4`: size 1: `-4` must be a positive number of GiB"),
        (&["place", "--partitions", "100,100", LLAMA], "partitions add up to 200 GiB but MI300X offers 188 GiB"),
        (&["place", "--partitions", "40,4", LLAMA], "partition 1 is 4 GiB; every partition needs at least 8 GiB"),
        (&["place", "--partitions", "SPX", LLAMA], "--partitions takes sizes, not `SPX`"),
        (&["place", "--mode", "TPX", LLAMA], "unknown compute mode `TPX`"),
        (&["place", "--gpu", "H100", LLAMA], "unknown GPU kind `H100`"),
        (&["place", "--policy", "no-such-policy", LLAMA], &unknown_policy),
        (&["place", &format!("{LLAMA}:fp4")], "unknown precision `fp4`"),
        (&["place", "--gpus", "0", LLAMA], "0 is not in 1..=1000000"),
        (&["place"], "required"),
    ];
    for (args, message) in cases {
        let run = aimsim(args).expect_code(2);
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
}

#[test]
fn a_broken_profile_folder_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.json"), "{ \"model_id\": 3 ").unwrap();
    let run = aimsim(&["place", "--profiles", dir.path().to_str().unwrap(), LLAMA]).expect_code(1);
    assert!(
        run.stderr.contains("bad.json") && run.stderr.contains("line 1 column"),
        "{}",
        run.stderr
    );
    let missing = dir.path().join("nowhere");
    let run = aimsim(&["place", "--profiles", missing.to_str().unwrap(), LLAMA]).expect_code(1);
    assert!(
        run.stderr.contains("cannot read profile folder") && run.stderr.contains("nowhere"),
        "{}",
        run.stderr
    );
}
