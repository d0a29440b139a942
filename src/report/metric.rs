//! The value of one summary metric: the `metric,value` rows of `metrics.csv`
//! and `summary.csv`, the table on stdout and the JSON of `--format json`.

use std::fmt;

use serde::Serialize;

use super::decimal;

/// One metric's value. In JSON a count or measure is a number and a text a
/// string; in CSV and tables a measure has six decimals.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum MetricValue {
    /// A name or description.
    Text(String),
    /// Something counted.
    Count(u64),
    /// A ratio, mean or duration.
    Measure(f64),
    /// Yes or no.
    Flag(bool),
}

/// `(metric, value)` rows in report order.
pub type MetricRows = Vec<(String, MetricValue)>;

/// A ratio, mean or duration.
pub fn measure(value: f64) -> MetricValue {
    MetricValue::Measure(value)
}

/// Something counted.
pub fn count(value: impl TryInto<u64>) -> MetricValue {
    MetricValue::Count(value.try_into().unwrap_or(u64::MAX))
}

/// A name or description.
pub fn text(value: impl fmt::Display) -> MetricValue {
    MetricValue::Text(value.to_string())
}

impl fmt::Display for MetricValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricValue::Text(text) => f.write_str(text),
            MetricValue::Count(n) => write!(f, "{n}"),
            MetricValue::Measure(x) => f.write_str(&decimal(*x)),
            MetricValue::Flag(b) => write!(f, "{b}"),
        }
    }
}

/// The rows as one JSON object keyed by name: `--format json` carries
/// every figure the table prints, under the same names.
pub fn rows_json(rows: &MetricRows) -> serde_json::Value {
    serde_json::Value::Object(
        rows.iter()
            .map(|(name, value)| {
                (
                    name.clone(),
                    serde_json::to_value(value).expect("a metric serialises"),
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_numbers_in_json_and_fixed_decimals_in_text() {
        let rows: MetricRows = vec![
            ("name".into(), text("quickstart")),
            ("placed".into(), count(1177u64)),
            ("fit_rate".into(), measure(0.913111)),
            ("met".into(), MetricValue::Flag(true)),
        ];
        let json = serde_json::to_string(&rows).unwrap();
        assert_eq!(
            json,
            r#"[["name","quickstart"],["placed",1177],["fit_rate",0.913111],["met",true]]"#
        );
        let shown: Vec<String> = rows.iter().map(|(_, v)| v.to_string()).collect();
        assert_eq!(shown, ["quickstart", "1177", "0.913111", "true"]);
    }
}
