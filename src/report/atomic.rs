//! Writing a report folder all at once, safely against other runs writing
//! the same folder.

use std::fs::{self, File};
use std::io;
use std::path::Path;

/// The file that marks a folder as an aimsim report, so that only such a
/// folder is ever replaced.
pub const MARKER: &str = ".aimsim-report";

/// Writes `files` (name, contents) as the folder `dir`: first into a
/// temporary sibling, then renamed into place, replacing an earlier aimsim
/// report. An existing file, or a non-empty folder that is not an aimsim
/// report, is left alone and the write fails.
///
/// Runs writing the same folder take turns: each holds an exclusive lock on
/// the hidden sibling file `.NAME.lock` from its check of the folder to the
/// rename, so the last one to finish wins and every one of them leaves a
/// complete report. The lock is released when the run ends, however it
/// ends, so a temporary folder (`.NAME.tmp-PID`, `.NAME.old-PID`) found
/// while holding it belongs to a run that died, and is removed, if it is
/// one aimsim made (empty, or holding the marker; a user's folder of that
/// name is left alone). The lock file stays: removing it would let a run
/// waiting on it and a new one hold different locks. A crash leaves the
/// earlier report (or none), never a mix; a failed final rename removes
/// the temporary folder and says so. Every file is flushed to disk, and
/// the folder holding the report after the rename, so a report that is
/// in place survives a power cut.
pub fn write_report_dir(dir: &Path, files: &[(String, String)]) -> io::Result<()> {
    write_with_rename(dir, files, |from, to| fs::rename(from, to))
}

/// [`write_report_dir`] with the rename that moves the finished folder into
/// place given (tests make it fail).
fn write_with_rename(
    dir: &Path,
    files: &[(String, String)],
    rename_into_place: impl Fn(&Path, &Path) -> io::Result<()>,
) -> io::Result<()> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = dir
        .file_name()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the report folder needs a name",
            )
        })?
        .to_string_lossy()
        .into_owned();
    // Checked before the lock is made too, so that a file (`--out
    // /dev/null`) leaves no lock beside it.
    check_replaceable(dir)?;
    fs::create_dir_all(parent)?;
    let _turn = take_turn(&parent.join(format!(".{name}.lock")))?;
    check_replaceable(dir)?;
    remove_leftovers(parent, &name)?;
    let pid = std::process::id();
    let staging = parent.join(format!(".{name}.tmp-{pid}"));
    let retired = parent.join(format!(".{name}.old-{pid}"));
    fs::create_dir(&staging)?;
    let written = std::iter::once((
        MARKER,
        "written by aimsim; the whole folder is replaced by the next run\n",
    ))
    .chain(files.iter().map(|(f, c)| (f.as_str(), c.as_str())))
    .try_for_each(|(file, contents)| write_durably(&staging.join(file), contents))
    .and_then(|()| sync_folder(&staging));
    if let Err(err) = written {
        let _ = fs::remove_dir_all(&staging);
        return Err(err);
    }
    let had_old = dir.exists();
    if had_old {
        if let Err(err) = fs::rename(dir, &retired) {
            let _ = fs::remove_dir_all(&staging);
            return Err(err);
        }
    }
    if let Err(err) = rename_into_place(&staging, dir) {
        let _ = fs::remove_dir_all(&staging);
        let kept = if had_old && fs::rename(&retired, dir).is_ok() {
            "the earlier report is kept"
        } else if had_old {
            "the earlier report is in the hidden folder beside it"
        } else {
            "nothing was written"
        };
        return Err(io::Error::new(
            err.kind(),
            format!("the finished report could not be moved into place ({err}); its temporary folder was removed and {kept}"),
        ));
    }
    sync_folder(parent)?;
    if had_old {
        // The new report is in place; a retired folder that resists removal
        // is a leftover the next run clears.
        let _ = fs::remove_dir_all(&retired);
    }
    Ok(())
}

/// Checks, before a long run, that its report could be written to `dir`:
/// it is absent, empty or an aimsim report, and its nearest existing
/// ancestor is a folder that is not read-only. (The write checks again.)
pub fn check_report_dir(dir: &Path) -> io::Result<()> {
    check_replaceable(dir)?;
    let existing = dir
        .ancestors()
        .skip(1)
        .map(|a| {
            if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            }
        })
        .find(|a| a.exists())
        .unwrap_or(Path::new("."));
    let metadata = fs::metadata(existing)?;
    if !metadata.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!(
                "{} is a file: {} cannot be made in it",
                existing.display(),
                dir.display()
            ),
        ));
    }
    if metadata.permissions().readonly() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is read-only: {} cannot be made in it",
                existing.display(),
                dir.display()
            ),
        ));
    }
    Ok(())
}

/// Writes `contents` to `path` and flushes it to disk.
fn write_durably(path: &Path, contents: &str) -> io::Result<()> {
    use std::io::Write;
    let mut file = File::create(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// Flushes a folder's entries to disk (where the platform can).
fn sync_folder(dir: &Path) -> io::Result<()> {
    match File::open(dir).and_then(|f| f.sync_all()) {
        Err(err) if err.kind() != io::ErrorKind::PermissionDenied && cfg!(unix) => Err(err),
        _ => Ok(()),
    }
}

/// Waits for this run's turn to write the folder: an exclusive lock on
/// `lock_path`, held until the returned file is dropped. On a file system
/// without locks, runs do not wait for each other.
fn take_turn(lock_path: &Path) -> io::Result<Option<File>> {
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path)?;
    match lock.lock() {
        Ok(()) => Ok(Some(lock)),
        Err(err) if err.kind() == io::ErrorKind::Unsupported => Ok(None),
        Err(err) => Err(err),
    }
}

/// Fails unless `dir` is absent, empty, or an aimsim report.
fn check_replaceable(dir: &Path) -> io::Result<()> {
    let refuse = |what: &str| {
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} {what}; choose another --out", dir.display()),
        ))
    };
    if !dir.exists() {
        return Ok(());
    }
    if !dir.is_dir() {
        return refuse("is a file, not a report folder");
    }
    let is_report = dir.join(MARKER).is_file();
    if !is_report && fs::read_dir(dir)?.next().is_some() {
        return refuse("is a folder aimsim did not write, and it is not empty");
    }
    Ok(())
}

/// Removes the temporary folders of runs that died writing `name` (only
/// called while holding the turn, when no live run has one).
fn remove_leftovers(parent: &Path, name: &str) -> io::Result<()> {
    let staging = format!(".{name}.tmp-");
    let retired = format!(".{name}.old-");
    for entry in fs::read_dir(parent)?.filter_map(Result::ok) {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        let pid = file_name
            .strip_prefix(&staging)
            .or_else(|| file_name.strip_prefix(&retired));
        let named_so = pid.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        let path = entry.path();
        // Only folders aimsim made: a staging folder gets the marker first,
        // a retired one was a report.
        let ours =
            path.is_dir() && (path.join(MARKER).is_file() || fs::read_dir(&path)?.next().is_none());
        if named_so && ours {
            fs::remove_dir_all(&path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_an_old_report_whole() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("report");
        write_report_dir(
            &dir,
            &[("a.csv".into(), "1".into()), ("b.csv".into(), "2".into())],
        )
        .unwrap();
        write_report_dir(&dir, &[("a.csv".into(), "3".into())]).unwrap();
        assert_eq!(fs::read_to_string(dir.join("a.csv")).unwrap(), "3");
        assert_eq!(
            names(&dir),
            [MARKER, "a.csv"],
            "files of the old report do not linger"
        );
        assert_eq!(
            names(root.path()),
            [".report.lock", "report"],
            "no staging folder is left"
        );
        // The folders of a run killed mid-write are cleared by the next run.
        fs::create_dir(root.path().join(".report.tmp-1")).unwrap();
        fs::create_dir(root.path().join(".report.old-1")).unwrap();
        fs::write(root.path().join(".report.old-1").join(MARKER), "").unwrap();
        // A user's folders named like them are not.
        for mine in [".report.tmp-2", ".report.old-notes"] {
            fs::create_dir(root.path().join(mine)).unwrap();
            fs::write(root.path().join(mine).join("notes.txt"), "mine").unwrap();
        }
        write_report_dir(&dir, &[("a.csv".into(), "4".into())]).unwrap();
        assert_eq!(
            names(root.path()),
            [
                ".report.lock",
                ".report.old-notes",
                ".report.tmp-2",
                "report"
            ]
        );
    }

    #[test]
    fn a_failed_final_rename_leaves_no_temporary_folder_and_says_so() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("report");
        let busy = |_: &Path, _: &Path| Err(io::Error::from_raw_os_error(16));
        let err = write_with_rename(&dir, &[("a.csv".into(), "1".into())], busy).unwrap_err();
        assert!(
            err.to_string().contains("could not be moved into place")
                && err.to_string().contains("nothing was written"),
            "{err}"
        );
        assert_eq!(names(root.path()), [".report.lock"]);
        // Over an earlier report: that report stays, whole.
        write_report_dir(&dir, &[("a.csv".into(), "1".into())]).unwrap();
        let err = write_with_rename(&dir, &[("a.csv".into(), "2".into())], busy).unwrap_err();
        assert!(err.to_string().contains("earlier report is kept"), "{err}");
        assert_eq!(names(root.path()), [".report.lock", "report"]);
        assert_eq!(fs::read_to_string(dir.join("a.csv")).unwrap(), "1");
    }

    #[test]
    fn writers_of_one_folder_take_turns_and_leave_a_whole_report() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("report");
        std::thread::scope(|scope| {
            for writer in 0..8 {
                let dir = &dir;
                scope.spawn(move || {
                    for round in 0..10 {
                        let text = format!("{writer}-{round}");
                        let files = [("a.csv".into(), text.clone()), ("b.csv".into(), text)];
                        write_report_dir(dir, &files).unwrap();
                    }
                });
            }
        });
        assert_eq!(names(&dir), [MARKER, "a.csv", "b.csv"]);
        assert_eq!(
            fs::read_to_string(dir.join("a.csv")).unwrap(),
            fs::read_to_string(dir.join("b.csv")).unwrap(),
            "both files come from the same run"
        );
        assert_eq!(names(root.path()), [".report.lock", "report"]);
    }

    #[test]
    fn never_replaces_what_aimsim_did_not_write() {
        let root = tempfile::tempdir().unwrap();
        let precious = root.path().join("precious");
        fs::create_dir(&precious).unwrap();
        fs::write(precious.join("notes.txt"), "mine").unwrap();
        let err = write_report_dir(&precious, &[("a.csv".into(), "1".into())]).unwrap_err();
        assert!(err.to_string().contains("did not write"), "{err}");
        assert_eq!(names(&precious), ["notes.txt"]);
        let file = root.path().join("file");
        fs::write(&file, "x").unwrap();
        assert!(check_report_dir(&file).is_err());
        assert!(write_report_dir(&file, &[]).is_err());
        assert_eq!(fs::read_to_string(&file).unwrap(), "x");
        assert!(
            !root.path().join(".file.lock").exists(),
            "a file refused leaves no lock beside it"
        );
        assert!(check_report_dir(&file.join("inside")).is_err());
        assert!(check_report_dir(&root.path().join("new/deeper")).is_ok());
        // An empty folder is fine to fill.
        let empty = root.path().join("empty");
        fs::create_dir(&empty).unwrap();
        write_report_dir(&empty, &[("a.csv".into(), "1".into())]).unwrap();
        assert_eq!(names(&empty), [MARKER, "a.csv"]);
    }
}
