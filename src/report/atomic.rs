//! Writing a report folder all at once.

use std::fs;
use std::io;
use std::path::Path;

/// Writes `files` (name, contents) as the folder `dir`: first into a
/// temporary sibling, then renamed into place, replacing any earlier report.
/// A crash before the rename leaves the earlier report (or none), never a
/// mix; a leftover temporary folder is hidden (its name starts with `.`).
pub fn write_report_dir(dir: &Path, files: &[(String, String)]) -> io::Result<()> {
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
    if staging.exists() {
        fs::remove_dir_all(&staging)?;
    }
    fs::create_dir(&staging)?;
    let written = files
        .iter()
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
        assert!(
            !dir.join("b.csv").exists(),
            "files of the old report do not linger"
        );
        let names: Vec<String> = fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["report"], "no staging folder is left");
    }
}
