//! The `aimsim` command line: parses arguments, runs one command, and maps
//! its outcome to an exit code (0 success, 1 failure, 2 usage).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    end_quietly_on_a_closed_pipe();
    let args = cli::Args::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", one_line(&err.to_string()));
            ExitCode::from(err.exit_code())
        }
    }
}

/// An error message on one line: the lines of a multi-line message (a TOML
/// parser's, an I/O error's) joined with `; `.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Output piped into a reader that stops early (`| head`) ends the process
/// as other command-line tools end, instead of a panic on the next print.
fn end_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any other thread exists;
    // setting a signal's action to its default has no other precondition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
