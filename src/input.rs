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
                        format!("column `{}`", shown(name))
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
                .map(|name| format!("column `{}`: ", shown(name))),
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

/// A reader that fails on a CSV record longer than [`MAX_LINE_BYTES`], so
/// a streamed file without line breaks, or a quoted field running over
/// many lines, cannot grow a record without bound.
///
/// It follows CSV quoting as the `csv` crate reads it (RFC 4180): a field
/// that starts with `"` runs to the next lone `"`, over line breaks; `""`
/// inside it is a quote. A record ends at a line break outside quotes.
pub struct LineLimit<R> {
    inner: R,
    /// Physical line being read (one-based).
    line: u64,
    /// Line where the current record started.
    record_line: u64,
    record_bytes: usize,
    state: Quoting,
}

/// Where the reader is within a CSV field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    /// At the start of a field.
    FieldStart,
    /// Inside a field that did not start with a quote.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: it ends the field, or
    /// escapes a second quote.
    QuoteInQuoted,
}

impl<R> LineLimit<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> LineLimit<R> {
        LineLimit {
            inner,
            line: 1,
            record_line: 1,
            record_bytes: 0,
            state: Quoting::FieldStart,
        }
    }

    /// Follows `bytes`; `false` once the current record is too long.
    fn follow(&mut self, bytes: &[u8]) -> bool {
        for &b in bytes {
            self.record_bytes += 1;
            let ends_record = b == b'\n' && self.state != Quoting::Quoted;
            self.state = match (self.state, b) {
                (Quoting::Quoted, b'"') => Quoting::QuoteInQuoted,
                (Quoting::Quoted, _) => Quoting::Quoted,
                (Quoting::FieldStart, b'"') | (Quoting::QuoteInQuoted, b'"') => Quoting::Quoted,
                (_, b',') | (_, b'\n') => Quoting::FieldStart,
                _ => Quoting::Unquoted,
            };
            if b == b'\n' {
                self.line += 1;
            }
            if ends_record {
                self.record_line = self.line;
                self.record_bytes = 0;
            } else if self.record_bytes > MAX_LINE_BYTES {
                return false;
            }
        }
        true
    }
}

impl<R: std::io::Read> std::io::Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if !self.follow(&buf[..n]) {
            let lines = if self.line > self.record_line {
                format!(
                    "the record from line {} to line {}",
                    self.record_line, self.line
                )
            } else {
                format!("line {}", self.line)
            };
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{lines} is longer than {} MiB; is this a text file of the expected format?",
                    MAX_LINE_BYTES >> 20
                ),
            ));
        }
        Ok(n)
    }
}

/// Longest text of a user's field an error message quotes whole.
const MAX_SHOWN_CHARS: usize = 64;

/// `text` as an error message quotes it: whole when short, else its start
/// and its length (a field of a megabyte is not echoed back).
pub fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(MAX_SHOWN_CHARS) {
        None => text.into(),
        Some((cut, _)) => format!("{}... ({} bytes)", &text[..cut], text.len()).into(),
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
    fn a_quoted_field_over_many_short_lines_counts_as_one_record() {
        let mut text = b"a,b\n1,\"".to_vec();
        for _ in 0..(MAX_LINE_BYTES / 10 + 1) {
            text.extend(b"123456789\n");
        }
        text.extend(b"\"\n");
        let mut sink = Vec::new();
        let err = LineLimit::new(&text[..])
            .read_to_end(&mut sink)
            .unwrap_err();
        assert!(
            err.to_string().contains("the record from line 2 to line"),
            "{err}"
        );
        // Quotes that open no quoted field, escaped quotes and quoted
        // line breaks within the limit do not hold a record open.
        let fine = "a,b\nx\"y,\"q\"\"r\"\n\"multi\nline\",2\n".repeat(3 * MAX_LINE_BYTES / 20);
        let mut sink = Vec::new();
        LineLimit::new(fine.as_bytes())
            .read_to_end(&mut sink)
            .unwrap();
        let mut reader = csv::Reader::from_reader(fine.as_bytes());
        let records = reader.records().count();
        // Three records a repeat (its `a,b` too), less the header.
        assert_eq!(records, 3 * (3 * MAX_LINE_BYTES / 20) - 1);
    }

    #[test]
    fn a_long_field_is_shown_by_its_start_and_length() {
        assert_eq!(shown("short"), "short");
        let long = "é".repeat(1000);
        let quoted = shown(&long);
        assert_eq!(quoted, format!("{}... (2000 bytes)", "é".repeat(64)));
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
