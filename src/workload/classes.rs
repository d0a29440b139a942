//! Request classes: what per-class metrics are keyed by.

use std::collections::HashMap;

use crate::profile::Precision;

/// Index of a class in its [`ClassTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClassId(pub u32);

/// A kind of request: a model at a precision, or a raw memory demand.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestClass {
    /// Model id, or a description of a raw demand (`openb 470 milli-GPU`).
    pub name: String,
    /// The precision, for model classes.
    pub precision: Option<Precision>,
}

/// Classes in order of first appearance (deterministic for a given input).
#[derive(Debug, Clone, Default)]
pub struct ClassTable {
    classes: Vec<RequestClass>,
    index: HashMap<(String, Option<Precision>), ClassId>,
}

impl ClassTable {
    /// The id of `name` at `precision`, added if new.
    pub fn intern(&mut self, name: &str, precision: Option<Precision>) -> ClassId {
        if let Some(&id) = self.index.get(&(name.to_string(), precision)) {
            return id;
        }
        let id = ClassId(self.classes.len() as u32);
        self.classes.push(RequestClass {
            name: name.to_string(),
            precision,
        });
        self.index.insert((name.to_string(), precision), id);
        id
    }

    /// The class with this id.
    pub fn get(&self, id: ClassId) -> &RequestClass {
        &self.classes[id.0 as usize]
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        self.classes.len()
    }

    /// Whether there is no class.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// Every class, by id.
    pub fn iter(&self) -> impl Iterator<Item = (ClassId, &RequestClass)> {
        self.classes
            .iter()
            .enumerate()
            .map(|(i, c)| (ClassId(i as u32), c))
    }
}
