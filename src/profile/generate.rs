//! Generates the AIM profiles from the sizing table, byte for byte stable.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{
    profile_file_name, GpuSharing, Metadata, PartitionConfig, Precision, Profile, QosPriority,
    ResourceRequirements, SizingRow, SizingTable,
};

/// Recommended partition = this x memory requirement (AIM runtime rule).
pub const RECOMMENDED_PARTITION_FACTOR: f64 = 1.25;

/// One generated profile: its file name and exact contents.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedFile {
    /// `{model_id with / -> _}-{precision}.json`.
    pub file_name: String,
    /// The profile it holds.
    pub profile: Profile,
    /// The bytes to write.
    pub contents: String,
}

/// The profile the AIM runtime generates for one row at one precision: SPX /
/// NPS1 on one MI300X, medium QoS, one GPU, 2 CPU cores, 16 GiB host memory.
pub fn profile_for(row: &SizingRow, precision: Precision) -> Profile {
    let memory = row.memory_gb(precision);
    let recommended = memory * RECOMMENDED_PARTITION_FACTOR;
    let partition = PartitionConfig {
        compute_mode: "SPX".into(),
        memory_mode: "NPS1".into(),
        partition_count: 1,
        partition_size_gb: 192.0,
    };
    Profile {
        model_id: row.model_id.clone(),
        variant_id: format!("{}-{}", row.model_id, precision),
        version: format!("1.0.0-{precision}"),
        parameters: row.parameters.clone(),
        precision,
        memory_requirement_gb: memory,
        recommended_partition_gb: recommended,
        gpu_sharing: GpuSharing {
            enabled: true,
            memory_limit_gb: recommended,
            partition_id: None,
            qos_priority: QosPriority::Medium,
            compute_mode: Some(partition.compute_mode.clone()),
            memory_mode: Some(partition.memory_mode.clone()),
            partition_count: Some(partition.partition_count),
            partition_size_gb: Some(partition.partition_size_gb),
        },
        resource_requirements: ResourceRequirements {
            gpu_memory_gb: memory,
            gpu_count: 1,
            cpu_cores: 2,
            system_memory_gb: 16,
        },
        metadata: Metadata {
            quantization: precision,
            base_model: row.model_id.clone(),
            parameters: row.parameters.clone(),
            partition_config: Some(partition),
        },
    }
}

/// A profile as JSON: two-space indent, keys in schema order, floats as the
/// runtime writes them (`20.0`), and a final newline.
pub fn render_profile(profile: &Profile) -> String {
    let mut text = serde_json::to_string_pretty(profile).expect("a profile always serialises");
    text.push('\n');
    text
}

/// Every profile of the table, in table order then FP16, INT8, INT4.
pub fn generate_profiles(table: &SizingTable) -> Vec<GeneratedFile> {
    table
        .rows()
        .iter()
        .flat_map(|row| Precision::ALL.into_iter().map(move |p| (row, p)))
        .map(|(row, precision)| {
            let profile = profile_for(row, precision);
            GeneratedFile {
                file_name: profile_file_name(&row.model_id, precision),
                contents: render_profile(&profile),
                profile,
            }
        })
        .collect()
}

/// Writes `files` into `dir` (created if missing). Each file is written to a
/// temporary name and renamed, so a reader never sees half a profile.
/// Returns the paths written.
pub fn write_profiles(files: &[GeneratedFile], dir: &Path) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let mut written = Vec::with_capacity(files.len());
    for file in files {
        let path = dir.join(&file.file_name);
        let temporary = dir.join(format!(".{}.tmp", file.file_name));
        fs::write(&temporary, &file.contents)?;
        fs::rename(&temporary, &path)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_profile_matches_the_runtime_layout() {
        let table = SizingTable::parse(
            "model_id,parameters,fp16_gb,int8_gb,int4_gb\nmeta-llama/Llama-3.1-8B-Instruct,8B,20,13,9\n",
            "t",
        )
        .unwrap();
        let files = generate_profiles(&table);
        assert_eq!(files.len(), 3);
        assert_eq!(
            files[2].file_name,
            "meta-llama_Llama-3.1-8B-Instruct-int4.json"
        );
        let int4 = &files[2].contents;
        assert!(int4.starts_with("{\n  \"model_id\": \"meta-llama/Llama-3.1-8B-Instruct\",\n  \"variant_id\": \"meta-llama/Llama-3.1-8B-Instruct-int4\",\n"), "{int4}");
        assert!(
            int4.contains(
                "\"memory_requirement_gb\": 9.0,\n  \"recommended_partition_gb\": 11.25,"
            ),
            "{int4}"
        );
        assert!(int4.contains("\"partition_id\": null,"), "{int4}");
        assert!(int4.ends_with("  }\n}\n"), "{int4}");
    }
}
