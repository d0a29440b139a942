//! `--set key=value` overrides applied to a scenario's TOML before it is
//! checked.

use super::ScenarioError;

/// Parses `text`, applies each `key=value` and returns the edited document.
pub fn apply(text: &str, file: &str, overrides: &[String]) -> Result<toml::Value, ScenarioError> {
    let fail = |key: Option<&str>, message: String| ScenarioError {
        file: file.to_string(),
        position: None,
        key: key.map(str::to_string),
        message,
    };
    let mut document: toml::Value = text
        .parse::<toml::Table>()
        .map(toml::Value::Table)
        .map_err(|e| fail(None, e.message().to_string()))?;
    for item in overrides {
        let (key, raw) = item
            .split_once('=')
            .ok_or_else(|| fail(None, format!("override `{item}` is not KEY=VALUE")))?;
        let key = key.trim();
        let value = parse_value(raw.trim());
        let mut cursor = &mut document;
        let parts: Vec<&str> = key.split('.').collect();
        for (depth, part) in parts.iter().enumerate() {
            let last = depth + 1 == parts.len();
            cursor = match cursor {
                toml::Value::Table(table) => {
                    if last {
                        table.insert(part.to_string(), value.clone());
                        break;
                    }
                    table
                        .entry(part.to_string())
                        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                }
                toml::Value::Array(items) => {
                    let index: usize = part.parse().map_err(|_| {
                        fail(Some(key), format!("`{part}` is not an index into an array"))
                    })?;
                    let len = items.len();
                    let slot = items.get_mut(index).ok_or_else(|| {
                        fail(
                            Some(key),
                            format!("index {index} is past the {len} entries"),
                        )
                    })?;
                    if last {
                        *slot = value.clone();
                        break;
                    }
                    slot
                }
                _ => {
                    return Err(fail(
                        Some(key),
                        format!("`{part}` is inside a value that is not a table"),
                    ))
                }
            };
        }
    }
    Ok(document)
}

/// A TOML value (`7`, `"x"`, `[1, 2]`, `{ fp16 = 1.0 }`), or the text as a
/// string when it is not one.
fn parse_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}
