//! Writing a report folder all at once.

use std::fs;
use std::io;
use std::path::Path;

/// The file that marks a folder as an aimsim report, so that only such a
/// folder is ever replaced.
pub const MARKER: &str = ".aimsim-report";

/// Writes `files` (name, contents) as the folder `dir`: first into a
/// temporary sibling, then renamed into place, replacing an earlier aimsim
/// report. A crash before the rename leaves the earlier report (or none),
/// never a mix; a leftover temporary folder is hidden (its name starts with
/// `.`). An existing file, or a non-empty folder that is not an aimsim
/// report, is left alone and the write fails.
pub fn write_report_dir(dir: &Path, files: &[(String, String)]) -> io::Result<()> {
    let refuse = |what: &str| {
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} {what}; choose another --out", dir.display()),
        ))
    };
    if dir.exists() {
        if !dir.is_dir() {
            return refuse("is a file, not a report folder");
        }
        let is_report = dir.join(MARKER).is_file();
        if !is_report && fs::read_dir(dir)?.next().is_some() {
            return refuse("is a folder aimsim did not write, and it is not empty");
        }
    }
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent)?;
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
    let pid = std::process::id();
    let staging = parent.join(format!(".{name}.tmp-{pid}"));
    let retired = parent.join(format!(".{name}.old-{pid}"));
    // Staging folders of runs that were killed before their rename.
    for entry in fs::read_dir(parent)?.filter_map(Result::ok) {
        let leftover = entry
            .file_name()
            .to_string_lossy()
            .starts_with(&format!(".{name}.tmp-"));
        if leftover && entry.path().is_dir() {
            fs::remove_dir_all(entry.path())?;
        }
    }
    fs::create_dir(&staging)?;
    let written = std::iter::once((
        MARKER,
        "written by aimsim; the whole folder is replaced by the next run\n",
    ))
    .chain(files.iter().map(|(f, c)| (f.as_str(), c.as_str())))
    .try_for_each(|(file, contents)| fs::write(staging.join(file), contents));
    if let Err(err) = written {
        let _ = fs::remove_dir_all(&staging);
        return Err(err);
    }
    let had_old = dir.exists();
    if had_old {
        fs::rename(dir, &retired)?;
    }
    if let Err(err) = fs::rename(&staging, dir) {
        if had_old {
            let _ = fs::rename(&retired, dir);
        }
        return Err(err);
    }
    if had_old {
        fs::remove_dir_all(&retired)?;
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
        assert_eq!(names(root.path()), ["report"], "no staging folder is left");
        // A killed run's staging folder is cleared by the next run.
        fs::create_dir(root.path().join(".report.tmp-1")).unwrap();
        write_report_dir(&dir, &[("a.csv".into(), "4".into())]).unwrap();
        assert_eq!(names(root.path()), ["report"]);
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
        assert!(write_report_dir(&file, &[]).is_err());
        assert_eq!(fs::read_to_string(&file).unwrap(), "x");
        // An empty folder is fine to fill.
        let empty = root.path().join("empty");
        fs::create_dir(&empty).unwrap();
        write_report_dir(&empty, &[("a.csv".into(), "1".into())]).unwrap();
        assert_eq!(names(&empty), [MARKER, "a.csv"]);
    }
}
