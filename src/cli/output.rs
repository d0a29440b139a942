//! Where reports go: checked before a run, written whole after it, and
//! printed as the user asked.

use std::path::{Path, PathBuf};

use aimsim::report;

use super::{CliError, Format};

/// Checks before a run that its report could be written to `out`, so that
/// a long run is not lost to a folder it cannot write.
pub(super) fn check_out(out: &Path) -> Result<(), CliError> {
    report::check_report_dir(out).map_err(|error| CliError::Write {
        what: "the report",
        path: out.to_path_buf(),
        error,
    })
}

/// Writes a report folder atomically and says where it went.
pub(super) fn write_report(out: &Path, files: &[(String, String)]) -> Result<(), CliError> {
    report::write_report_dir(out, files).map_err(|error| CliError::Write {
        what: "the report",
        path: out.to_path_buf(),
        error,
    })?;
    eprintln!("report written to {}", out.display());
    Ok(())
}

/// Where a report goes by default: `reports/<name>/<leaf>`.
pub(super) fn default_out(name: &str, leaf: &str) -> PathBuf {
    Path::new("reports").join(name).join(leaf)
}

/// Prints a study report in `format` (nothing when `quiet`): its
/// `summary.md`, its main CSV (`table_file`), or that CSV as JSON records.
pub(super) fn print_report(
    format: Format,
    quiet: bool,
    files: &[(String, String)],
    table_file: &str,
) {
    let file = |name: &str| {
        files
            .iter()
            .find(|f| f.0 == name)
            .map_or("", |f| f.1.as_str())
    };
    if quiet {
        return;
    }
    match format {
        Format::Table => print!("{}", file("summary.md")),
        Format::Csv => print!("{}", file(table_file)),
        Format::Json => println!("{}", report::csv_records_json(file(table_file))),
    }
}
