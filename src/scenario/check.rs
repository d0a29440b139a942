//! Errors that name the scenario file, the key (and line and column where
//! the TOML parser knows them), and the checks that build them.

use std::fmt;

use crate::hardware::{GpuKind, LayoutSpec};
use crate::profile::PrecisionMix;
use crate::time::SimTime;

use super::schema::LayoutValue;

/// A scenario that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// The file.
    pub file: String,
    /// Line and column, when the TOML parser knows them.
    pub position: Option<(usize, usize)>,
    /// The dotted key concerned.
    pub key: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some((line, column)) = self.position {
            write!(f, ": line {line}, column {column}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Checks values and builds errors that name the key.
pub(super) struct Checker<'a> {
    pub file: &'a str,
}

impl Checker<'_> {
    pub fn fail(&self, key: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.to_string(),
            position: None,
            key: Some(key.to_string()),
            message: message.into(),
        }
    }

    pub fn duration(&self, key: &str, text: &str) -> Result<SimTime, ScenarioError> {
        text.parse::<SimTime>()
            .map_err(|e| self.fail(key, e.to_string()))
    }

    pub fn positive_duration(&self, key: &str, text: &str) -> Result<SimTime, ScenarioError> {
        let value = self.duration(key, text)?;
        if value == SimTime::ZERO {
            return Err(self.fail(key, format!("must be longer than zero, got `{text}`")));
        }
        Ok(value)
    }

    pub fn positive(&self, key: &str, value: f64) -> Result<f64, ScenarioError> {
        if value.is_finite() && value > 0.0 {
            Ok(value)
        } else {
            Err(self.fail(key, format!("must be a positive number, got {value:?}")))
        }
    }

    /// A number in [min, max].
    pub fn within(&self, key: &str, value: f64, min: f64, max: f64) -> Result<f64, ScenarioError> {
        if value.is_finite() && (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(self.fail(
                key,
                format!("must be between {min} and {max}, got {value:?}"),
            ))
        }
    }

    pub fn parsed<T: std::str::FromStr>(&self, key: &str, text: &str) -> Result<T, ScenarioError>
    where
        T::Err: fmt::Display,
    {
        text.parse::<T>().map_err(|e| self.fail(key, e.to_string()))
    }

    /// A layout, checked on `kind`.
    pub fn layout(
        &self,
        key: &str,
        value: &LayoutValue,
        kind: GpuKind,
    ) -> Result<LayoutSpec, ScenarioError> {
        let spec = match value {
            LayoutValue::Mode(text) => self.parsed::<LayoutSpec>(key, text)?,
            LayoutValue::Sizes(sizes) => {
                let text: Vec<String> = sizes.iter().map(f64::to_string).collect();
                self.parsed::<LayoutSpec>(key, &text.join(","))?
            }
        };
        spec.build(kind)
            .map_err(|e| self.fail(key, e.to_string()))?;
        Ok(spec)
    }

    /// A precision mix written as a table of names and shares at `key`.
    pub fn mix<'a>(
        &self,
        key: &str,
        shares: impl IntoIterator<Item = (&'a String, &'a f64)>,
    ) -> Result<PrecisionMix, ScenarioError> {
        PrecisionMix::from_named(
            shares
                .into_iter()
                .map(|(name, &share)| (name.as_str(), share)),
        )
        .map_err(|(name, error)| match name {
            Some(name) => self.fail(&format!("{key}.{name}"), error.to_string()),
            None => self.fail(key, error.to_string()),
        })
    }

    /// Shares that must each be in [0, 1] and sum to 1.
    pub fn shares(&self, key: &str, shares: &[f64]) -> Result<(), ScenarioError> {
        if let Some(bad) = shares
            .iter()
            .find(|s| !(s.is_finite() && (0.0..=1.0).contains(*s)))
        {
            return Err(self.fail(
                key,
                format!("every share must be between 0 and 1, got {bad:?}"),
            ));
        }
        let sum: f64 = shares.iter().sum();
        if (sum - 1.0).abs() > 1e-9 {
            return Err(self.fail(key, format!("shares must sum to 1, they sum to {sum}")));
        }
        Ok(())
    }
}

/// Reads a scenario file's TOML into its schema `T`, applying `key=value`
/// overrides first; errors name the key (and the line and column where the
/// parser knows them).
pub(super) fn deserialize<T: serde::de::DeserializeOwned>(
    text: &str,
    file: &str,
    overrides: &[String],
) -> Result<T, ScenarioError> {
    if overrides.is_empty() {
        let deserializer = toml::Deserializer::new(text);
        return serde_path_to_error::deserialize(deserializer)
            .map_err(|e| toml_error(text, file, e));
    }
    let value = super::overrides::apply(text, file, overrides)?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let key = e.path().to_string();
        ScenarioError {
            file: file.to_string(),
            position: None,
            key: (key != ".").then_some(key),
            message: e.into_inner().message().to_string(),
        }
    })
}

/// A TOML or schema error from the parser, with its position and key.
fn toml_error(
    text: &str,
    file: &str,
    error: serde_path_to_error::Error<toml::de::Error>,
) -> ScenarioError {
    let key = error.path().to_string();
    let inner = error.into_inner();
    let position = inner.span().map(|span| line_column(text, span.start));
    ScenarioError {
        file: file.to_string(),
        position,
        key: (key != ".").then_some(key),
        message: inner.message().trim().to_string(),
    }
}

/// One-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
