//! Other names of catalog models: the Hugging Face ids of models the AIM
//! catalog names differently (`Qwen/Qwen3-8B` for its
//! `Qwen/Qwen3-8B-Instruct`), from `aim_profiles/aliases.csv`, each row
//! with the model page it comes from. Every reader of a model id resolves
//! it through [`canonical`], so an alias and the catalog's id are the same
//! model everywhere (routing, reports, lookups).

use std::collections::BTreeMap;
use std::sync::OnceLock;

const ALIASES: &str = include_str!("../../aim_profiles/aliases.csv");

/// Every alias with the catalog id it stands for.
pub fn aliases() -> &'static BTreeMap<&'static str, &'static str> {
    static TABLE: OnceLock<BTreeMap<&'static str, &'static str>> = OnceLock::new();
    TABLE.get_or_init(|| {
        ALIASES
            .lines()
            .skip(1)
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let mut fields = line.split(',');
                let alias = fields.next().expect("an alias");
                let model = fields.next().expect("aliases.csv: alias,model_id,source");
                (alias, model)
            })
            .collect()
    })
}

/// The catalog's id for `id`: the model an alias stands for, else `id`.
pub fn canonical(id: &str) -> &str {
    aliases().get(id).copied().unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Catalog;

    #[test]
    fn every_alias_names_a_catalog_model_and_none_is_one_itself() {
        let catalog = Catalog::builtin();
        assert!(aliases().len() >= 10);
        for (alias, model) in aliases() {
            assert!(catalog.model(model).is_ok(), "{alias} -> {model}");
            assert_ne!(alias, model);
            assert!(!aliases().contains_key(model), "{model} is an alias too");
        }
        for line in ALIASES.lines().skip(1) {
            let source = line.split(',').nth(2).unwrap_or("");
            assert!(source.starts_with("https://huggingface.co/"), "{line}");
        }
        assert_eq!(canonical("Qwen/Qwen3-8B"), "Qwen/Qwen3-8B-Instruct");
        assert_eq!(
            canonical("Qwen/Qwen3-8B-Instruct"),
            "Qwen/Qwen3-8B-Instruct"
        );
        assert_eq!(canonical("acme/x"), "acme/x");
    }
}
