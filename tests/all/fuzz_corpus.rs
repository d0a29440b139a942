//! Replays the fuzzers' seed corpus (and any crash they found, kept there)
//! through the same entry points the fuzz targets call: every input must be
//! handled without a panic. `cargo fuzz` itself runs outside CI. Every
//! target of `fuzz/` has its test here.

use std::fs;
use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut inputs = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        run(&fs::read(&path).unwrap());
        inputs += 1;
    }
    assert!(inputs > 0, "{} has no seed", dir.display());
}

#[test]
fn profile_json_corpus() {
    replay("profile_json", aimsim::fuzzing::profile_json);
}

#[test]
fn scenario_toml_corpus() {
    replay("scenario_toml", aimsim::fuzzing::scenario_toml);
}

#[test]
fn trace_csv_corpus() {
    replay("trace_csv", aimsim::fuzzing::trace_csv);
}

#[test]
fn alibaba_csv_corpus() {
    replay("alibaba_csv", aimsim::fuzzing::alibaba_csv);
}

#[test]
fn azure_csv_corpus() {
    replay("azure_csv", aimsim::fuzzing::azure_csv);
}

#[test]
fn request_csv_corpus() {
    replay("request_csv", aimsim::fuzzing::request_csv);
}

#[test]
fn serving_toml_corpus() {
    replay("serving_toml", aimsim::fuzzing::serving_toml);
}

#[test]
fn node_csv_corpus() {
    replay("node_csv", aimsim::fuzzing::node_csv);
}

#[test]
fn pod_csv_corpus() {
    replay("pod_csv", aimsim::fuzzing::pod_csv);
}

#[test]
fn measured_csv_corpus() {
    replay("measured_csv", aimsim::fuzzing::measured_csv);
}

#[test]
fn architecture_csv_corpus() {
    replay("architecture_csv", aimsim::fuzzing::architecture_csv);
}

#[test]
fn sizing_csv_corpus() {
    replay("sizing_csv", aimsim::fuzzing::sizing_csv);
}

#[test]
fn results_csv_corpus() {
    replay("results_csv", aimsim::fuzzing::results_csv);
}

#[test]
fn every_fuzz_target_has_a_corpus_and_a_test_here() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let this = include_str!("fuzz_corpus.rs");
    for entry in fs::read_dir(root.join("fuzz_targets")).unwrap() {
        let path = entry.unwrap().path();
        let target = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(
            root.join("corpus").join(&target).is_dir(),
            "{target} has no corpus"
        );
        assert!(
            this.contains(&format!("fn {target}_corpus()")),
            "{target} has no replay test"
        );
    }
}
