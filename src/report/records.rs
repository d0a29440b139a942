//! A report's CSV tables as JSON records (`--format json`).

/// Columns of a plan's CSVs that pack `key=value` pairs separated by `;`
/// into one cell (`replicas`: model=count;...), given as objects in JSON.
pub const MAP_COLUMNS: [&str; 4] = [
    "replicas",
    "isolated_replicas",
    "gpus_by_mode",
    "configurations",
];

/// A report's CSV table as a JSON array of records: a cell that reads as a
/// number is a number, an empty cell `null`, a packed column
/// ([`MAP_COLUMNS`]) an object, any other a string.
pub fn csv_records_json(csv_text: &str) -> String {
    use serde_json::{Map, Value};
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers().expect("a report's own CSV").clone();
    let records: Vec<Value> = reader
        .records()
        .map(|record| {
            let record = record.expect("a report's own CSV");
            let cells = headers.iter().zip(record.iter()).map(|(name, cell)| {
                let value = if MAP_COLUMNS.contains(&name) && !cell.is_empty() {
                    let pairs = cell.split(';').map(|pair| {
                        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                        (key.trim().to_string(), json_scalar(value.trim()))
                    });
                    Value::Object(pairs.collect::<Map<_, _>>())
                } else {
                    json_scalar(cell)
                };
                (name.to_string(), value)
            });
            Value::Object(cells.collect::<Map<_, _>>())
        })
        .collect();
    serde_json::to_string_pretty(&records).expect("serialises")
}

/// A CSV cell as JSON: null when empty, else a number where it reads as
/// one, else text.
fn json_scalar(cell: &str) -> serde_json::Value {
    use serde_json::{Number, Value};
    if cell.is_empty() {
        Value::Null
    } else if let Ok(n) = cell.parse::<i64>() {
        Value::from(n)
    } else {
        cell.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or_else(|| Value::from(cell), Value::Number)
    }
}
