//! The catalog: profiles indexed by exact (model id, precision).

use std::collections::BTreeMap;
use std::path::Path;

use crate::hardware::HostDemand;
use crate::units::Mib;

use super::validate::{inspect_dir, Finding, FolderError, Severity};
use super::{generate_profiles, Precision, Profile, SizingTable};

/// Index of a variant in its catalog; cheap to copy and compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VariantId(pub u32);

/// A model at one precision, with its demand converted to exact units.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The profile as read or generated.
    pub profile: Profile,
    /// Memory one replica is charged on each GPU it spans.
    pub memory: Mib,
    /// GPUs one replica spans (all-or-nothing, on distinct GPUs of one
    /// node: a tensor-parallel gang when above one).
    pub gpu_count: u32,
    /// CPU and host memory one replica takes on its node
    /// (`resource_requirements.cpu_cores` and `system_memory_gb`).
    pub host: HostDemand,
}

/// Every variant, looked up by exact model id and precision.
#[derive(Debug, Clone)]
pub struct Catalog {
    source: String,
    variants: Vec<Variant>,
    by_model: BTreeMap<String, [Option<VariantId>; 3]>,
}

/// A catalog could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The folder could not be listed.
    #[error(transparent)]
    Folder(#[from] FolderError),
    /// Some profiles have errors; the first is shown, all are kept.
    #[error("{dir}: {count} profile error(s), first: {first}; run `aimsim profiles validate {dir}` for all", count = errors.len(), first = errors[0].describe())]
    Invalid {
        /// The folder.
        dir: String,
        /// Every error found.
        errors: Vec<Finding>,
    },
}

/// A lookup by model id and precision failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No model has exactly this id.
    #[error("unknown model `{id}`{}", suggest(suggestions))]
    UnknownModel {
        /// The id asked for.
        id: String,
        /// Close known ids, best first.
        suggestions: Vec<String>,
    },
    /// The model exists but not at this precision.
    #[error("model `{id}` has no {precision} profile; it has {}", available.join(", "))]
    NoSuchPrecision {
        /// The model id.
        id: String,
        /// The precision asked for.
        precision: Precision,
        /// Precisions it has.
        available: Vec<String>,
    },
}

fn suggest(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        "; `aimsim profiles list` shows the known ones".into()
    } else {
        format!(
            "; did you mean {}?",
            suggestions
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        )
    }
}

impl Catalog {
    /// Builds a catalog from profiles that passed validation (duplicates
    /// keep the first). `source` says where they came from, for messages.
    /// Panics on a memory figure validation would refuse.
    pub fn from_profiles(source: &str, profiles: impl IntoIterator<Item = Profile>) -> Catalog {
        let mut sorted: Vec<Profile> = profiles.into_iter().collect();
        sorted.sort_by(|a, b| {
            (a.model_id.as_str(), a.precision).cmp(&(b.model_id.as_str(), b.precision))
        });
        let mut catalog = Catalog {
            source: source.to_string(),
            variants: Vec::with_capacity(sorted.len()),
            by_model: BTreeMap::new(),
        };
        for profile in sorted {
            let slot = &mut catalog
                .by_model
                .entry(profile.model_id.clone())
                .or_default()[profile.precision.index()];
            if slot.is_some() {
                continue;
            }
            *slot = Some(VariantId(catalog.variants.len() as u32));
            catalog.variants.push(Variant {
                memory: Mib::from_gib_ceil(profile.memory_requirement_gb)
                    .expect("validation refuses sizes that do not convert to MiB"),
                gpu_count: profile.resource_requirements.gpu_count.max(1),
                host: HostDemand {
                    cpu_milli: profile.resource_requirements.cpu_cores.saturating_mul(1000),
                    memory: Mib::gib(u64::from(profile.resource_requirements.system_memory_gb)),
                },
                profile,
            });
        }
        catalog
    }

    /// The catalog compiled into the binary: the 114 profiles generated from
    /// `aim_profiles/sizing.csv` (identical to the committed files, which a
    /// test checks).
    pub fn builtin() -> Catalog {
        let files = generate_profiles(&SizingTable::builtin());
        Catalog::from_profiles("built-in catalog", files.into_iter().map(|f| f.profile))
    }

    /// Loads and checks every profile in `dir`; fails on any error.
    pub fn load(dir: &Path) -> Result<Catalog, CatalogError> {
        let inspection = inspect_dir(dir)?;
        let errors: Vec<Finding> = inspection
            .findings
            .into_iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        if !errors.is_empty() {
            return Err(CatalogError::Invalid {
                dir: dir.display().to_string(),
                errors,
            });
        }
        Ok(Catalog::from_profiles(
            &dir.display().to_string(),
            inspection.profiles.into_iter().map(|(_, p)| p),
        ))
    }

    /// Where the profiles came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every variant, by model id then precision.
    pub fn variants(&self) -> &[Variant] {
        &self.variants
    }

    /// The variant with this id.
    pub fn variant(&self, id: VariantId) -> &Variant {
        &self.variants[id.0 as usize]
    }

    /// Model ids, sorted.
    pub fn model_ids(&self) -> impl Iterator<Item = &str> {
        self.by_model.keys().map(String::as_str)
    }

    /// The variants of one model, FP16 first; an unknown id is an error with
    /// suggestions.
    pub fn model(&self, model_id: &str) -> Result<Vec<VariantId>, LookupError> {
        self.slots(model_id)
            .map(|slots| slots.iter().flatten().copied().collect())
            .ok_or_else(|| self.unknown(model_id))
    }

    /// The variant of `model_id` at `precision`, matched exactly.
    pub fn find(&self, model_id: &str, precision: Precision) -> Result<VariantId, LookupError> {
        let slots = self.slots(model_id).ok_or_else(|| self.unknown(model_id))?;
        slots[precision.index()].ok_or_else(|| LookupError::NoSuchPrecision {
            id: model_id.to_string(),
            precision,
            available: Precision::ALL
                .iter()
                .filter(|p| slots[p.index()].is_some())
                .map(|p| p.name().to_string())
                .collect(),
        })
    }

    /// The variants of `model_id`, or of the model it is an alias of
    /// ([`super::aliases`]).
    fn slots(&self, model_id: &str) -> Option<&[Option<VariantId>; 3]> {
        self.by_model
            .get(model_id)
            .or_else(|| self.by_model.get(super::aliases::canonical(model_id)))
    }

    /// Up to three known ids closest to `id`: ids containing it (ignoring
    /// case) first, then by normalised edit distance.
    /// An id longer than any model id gets no suggestions and is shown
    /// cut short.
    fn unknown(&self, id: &str) -> LookupError {
        if id.len() > super::MAX_MODEL_ID_BYTES {
            let mut cut = 64;
            while !id.is_char_boundary(cut) {
                cut -= 1;
            }
            return LookupError::UnknownModel {
                id: format!(
                    "{}... ({} bytes, longer than any model id)",
                    &id[..cut],
                    id.len()
                ),
                suggestions: Vec::new(),
            };
        }
        let wanted = id.to_ascii_lowercase();
        let mut scored: Vec<(u8, f64, &str)> = self
            .model_ids()
            .map(|known| {
                let lower = known.to_ascii_lowercase();
                let contains = lower.contains(&wanted) || wanted.contains(&lower);
                let tail_match = lower.rsplit('/').next() == wanted.rsplit('/').next();
                let rank = if tail_match {
                    0
                } else if contains {
                    1
                } else {
                    2
                };
                (rank, strsim::normalized_levenshtein(&wanted, &lower), known)
            })
            .filter(|&(rank, similarity, _)| rank < 2 || similarity >= 0.5)
            .collect();
        scored.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)).then(a.2.cmp(b.2)));
        LookupError::UnknownModel {
            id: id.to_string(),
            suggestions: scored
                .into_iter()
                .take(3)
                .map(|(_, _, s)| s.to_string())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_has_114_variants_of_38_models() {
        let catalog = Catalog::builtin();
        assert_eq!(catalog.variants().len(), 114);
        assert_eq!(catalog.model_ids().count(), 38);
    }

    #[test]
    fn lookup_is_exact_and_charges_the_precision_size() {
        let catalog = Catalog::builtin();
        let fp16 = catalog
            .find("meta-llama/Llama-3.1-8B-Instruct", Precision::Fp16)
            .unwrap();
        let int4 = catalog
            .find("meta-llama/Llama-3.1-8B-Instruct", Precision::Int4)
            .unwrap();
        assert_eq!(catalog.variant(fp16).memory, Mib::gib(20));
        assert_eq!(catalog.variant(int4).memory, Mib::gib(9));
    }

    #[test]
    fn suffix_lookalikes_do_not_match() {
        // Runtime defect 2: a bare-suffix match made this resolve to
        // meta-llama/Llama-3.2-1B-Instruct and unknown ids got 40 GB.
        let catalog = Catalog::builtin();
        let err = catalog
            .find("acme/TinyLlama-3.2-1B-Instruct", Precision::Fp16)
            .unwrap_err();
        let LookupError::UnknownModel { suggestions, .. } = &err else {
            panic!("expected UnknownModel, got {err:?}");
        };
        assert!(!suggestions.is_empty(), "{err}");
        assert!(err.to_string().contains("did you mean"), "{err}");
        // A field of megabytes is neither compared nor printed back whole.
        let huge = "m".repeat(16 << 20);
        let err = catalog
            .find(&huge, Precision::Fp16)
            .unwrap_err()
            .to_string();
        assert!(
            err.len() < 300 && err.contains("longer than any model id"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_organisation_suggests_the_full_id_first() {
        let err = Catalog::builtin()
            .find("Llama-3.1-8B-Instruct", Precision::Fp16)
            .unwrap_err();
        let LookupError::UnknownModel { suggestions, .. } = err else {
            panic!()
        };
        assert_eq!(suggestions[0], "meta-llama/Llama-3.1-8B-Instruct");
    }

    #[test]
    fn a_model_without_the_precision_names_the_ones_it_has() {
        let mut profiles: Vec<Profile> = Catalog::builtin()
            .variants()
            .iter()
            .map(|v| v.profile.clone())
            .collect();
        profiles.retain(|p| !(p.model_id == "google/gemma-3-1B" && p.precision == Precision::Int4));
        let catalog = Catalog::from_profiles("test", profiles);
        let err = catalog
            .find("google/gemma-3-1B", Precision::Int4)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "model `google/gemma-3-1B` has no int4 profile; it has fp16, int8"
        );
    }
}
