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
