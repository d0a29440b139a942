//! Several runs writing the same report folder at once: each ends with a
//! complete report, none damages another's.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{aimsim, files};

fn simulate_into(out: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_aimsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["simulate", "scenarios/quickstart.toml", "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the aimsim binary runs")
}

#[test]
fn pairs_of_runs_into_one_folder_leave_one_complete_report() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("r");
    let alone = root.path().join("alone");
    aimsim(&[
        "simulate",
        "scenarios/quickstart.toml",
        "--out",
        alone.to_str().unwrap(),
    ])
    .expect_code(0);
    let expected = files(&alone);
    for pair in 0..12 {
        let children = [simulate_into(&out), simulate_into(&out)];
        for child in children {
            let finished = child.wait_with_output().unwrap();
            assert!(
                finished.status.success(),
                "pair {pair}: {}",
                String::from_utf8_lossy(&finished.stderr)
            );
        }
        assert_eq!(
            files(&out),
            expected,
            "pair {pair}: the report differs from a lone run's"
        );
    }
    let mut names: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [".alone.lock", ".r.lock", "alone", "r"],
        "no temporary folder is left"
    );
}
