//! Replays the fuzzers' seed corpus (and any crash they found, kept there)
//! through the same entry points the fuzz targets call: every input must be
//! handled without a panic. `cargo fuzz` itself runs outside CI.

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
