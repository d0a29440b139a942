//! Helpers: run the real `aimsim` binary and capture what it prints.

use std::path::Path;
use std::process::Command;

/// What one run of the binary printed, and its exit code.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with both streams unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// Runs `aimsim ARGS` in `dir` (the crate root if `None`).
pub fn aimsim_in(dir: Option<&Path>, args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aimsim"));
    command.args(args);
    command.current_dir(dir.unwrap_or(Path::new(env!("CARGO_MANIFEST_DIR"))));
    let output = command.output().expect("the aimsim binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `aimsim ARGS` from the crate root.
pub fn aimsim(args: &[&str]) -> Run {
    aimsim_in(None, args)
}

/// The crate's `aim_profiles/` folder.
pub fn shipped_profiles() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/aim_profiles"))
}

/// Every file of `dir` (hidden ones too) with its bytes, by name.
pub fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// The rows of a CSV text, each a map from column name to cell.
pub fn csv_records(text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|record| {
            headers
                .iter()
                .zip(record.unwrap().iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Runs `aimsim plan ARGS --out OUT` on a static workload, checks that the
/// summary says so, and returns the rows of `plan.csv`.
pub fn static_plan(args: &[&str], out: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut all = vec!["plan"];
    all.extend(args);
    all.extend(["--out", out.to_str().unwrap()]);
    let run = aimsim(&all).expect_code(0);
    assert!(
        run.stdout.contains("The workload is static"),
        "{}",
        run.stdout
    );
    csv_records(&std::fs::read_to_string(out.join("plan.csv")).unwrap())
}
