//! Helpers shared by the readers of user files (sizing tables, traces).

/// Describes a csv error as `line N, column `NAME`: what`, naming the column
/// by its header when the error points at one field.
pub fn describe_csv_error(error: &csv::Error, headers: Option<&csv::StringRecord>) -> String {
    match error.kind() {
        csv::ErrorKind::Deserialize { pos, err } => {
            let line = pos
                .as_ref()
                .map_or("?".to_string(), |p| p.line().to_string());
            let column = err.field().map(|index| {
                headers
                    .and_then(|h| h.get(index as usize))
                    .map_or(format!("column {}", index + 1), |name| {
                        format!("column `{name}`")
                    })
            });
            match column {
                Some(column) => format!("line {line}, {column}: {}", err.kind()),
                None => format!("line {line}: {}", err.kind()),
            }
        }
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => format!(
            "line {}: {len} fields, expected {expected_len} like the header",
            pos.as_ref()
                .map_or("?".to_string(), |p| p.line().to_string())
        ),
        _ => error.to_string(),
    }
}

/// A CSV reader over `text`, with its header row read.
pub fn csv_table(text: &str) -> Result<(csv::Reader<&[u8]>, csv::StringRecord), csv::Error> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers()?.clone();
    Ok((reader, headers))
}

/// Deserializes one record of a table with `headers`; an error names the
/// column when it concerns one (`column `tp`: invalid digit...`).
pub fn deserialize_record<T: serde::de::DeserializeOwned>(
    record: &csv::StringRecord,
    headers: &csv::StringRecord,
) -> Result<T, String> {
    record.deserialize(Some(headers)).map_err(|e| {
        let column = match e.kind() {
            csv::ErrorKind::Deserialize { err, .. } => err
                .field()
                .and_then(|i| headers.get(i as usize))
                .map(|name| format!("column `{name}`: ")),
            _ => None,
        };
        format!("{}{e}", column.unwrap_or_default())
    })
}

/// Largest text file read whole: scenarios, profiles, sizing, architecture
/// and measured tables, shard results (a real one is a few hundred KiB at
/// most).
pub const MAX_TEXT_FILE_BYTES: u64 = 64 << 20;

/// Longest line of a streamed trace; a longer one is not a trace line (a
/// binary file, `/dev/zero`) and is refused before it fills memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Reads a whole text file of at most [`MAX_TEXT_FILE_BYTES`]; a larger one
/// is refused without being read.
pub fn read_text(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let too_large = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "larger than {} MiB, too large for this kind of file",
                MAX_TEXT_FILE_BYTES >> 20
            ),
        )
    };
    let file = std::fs::File::open(path)?;
    if file.metadata()?.len() > MAX_TEXT_FILE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(MAX_TEXT_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_TEXT_FILE_BYTES {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = valid.len() - valid.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "line {line}, column {column} (byte {}): not UTF-8 text",
                valid.len()
            ),
        )
    })
}

/// A reader that fails on a line longer than [`MAX_LINE_BYTES`], so a
/// streamed file without line breaks cannot grow a record without bound.
pub struct LineLimit<R> {
    inner: R,
    line: u64,
    line_bytes: usize,
}

impl<R> LineLimit<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> LineLimit<R> {
        LineLimit {
            inner,
            line: 1,
            line_bytes: 0,
        }
    }
}

impl<R: std::io::Read> std::io::Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = &buf[..n];
        match read.iter().rposition(|&b| b == b'\n') {
            Some(last) => {
                self.line += read.iter().filter(|&&b| b == b'\n').count() as u64;
                self.line_bytes = n - last - 1;
            }
            None => self.line_bytes += n,
        }
        if self.line_bytes > MAX_LINE_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "line {} is longer than {} MiB; is this a text file of the expected format?",
                    self.line,
                    MAX_LINE_BYTES >> 20
                ),
            ));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn text_that_is_not_utf8_is_refused_at_its_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, b"name = \"a\"\nseed = \"\xff\"\n").unwrap();
        let err = read_text(&path).unwrap_err().to_string();
        assert_eq!(err, "line 2, column 9 (byte 19): not UTF-8 text");
    }

    #[test]
    fn a_line_past_the_limit_fails_and_names_its_line() {
        let mut text = b"a,b\n1,2\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 1));
        let mut sink = Vec::new();
        let err = LineLimit::new(&text[..])
            .read_to_end(&mut sink)
            .unwrap_err();
        assert!(err.to_string().contains("line 3 is longer"), "{err}");
        // Many lines each under the limit pass whole.
        let lines = "x".repeat(1000) + "\n";
        let many = lines.repeat(3 * MAX_LINE_BYTES / 1000);
        let mut sink = Vec::new();
        LineLimit::new(many.as_bytes())
            .read_to_end(&mut sink)
            .unwrap();
        assert_eq!(sink.len(), many.len());
    }

    #[test]
    fn a_text_file_past_the_limit_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.toml");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_TEXT_FILE_BYTES + 1).unwrap();
        let err = read_text(&path).unwrap_err();
        assert!(err.to_string().contains("larger than 64 MiB"), "{err}");
        std::fs::write(&path, "name = \"x\"\n").unwrap();
        assert_eq!(read_text(&path).unwrap(), "name = \"x\"\n");
    }
}
