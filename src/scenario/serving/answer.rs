//! A plan's answer written back as a serving scenario: the plan's own
//! scenario (its overrides applied) with the answer's fleet, policy,
//! deployments (memory and placement pinned) and rate, run until the
//! traffic drains as the plan simulated it. `aimsim serve` of that file
//! replays the plan's simulation and gives the same figures.

use std::path::{Component, Path, PathBuf};

use crate::profile::Precision;
use crate::schedule::PartitionRef;
use crate::serve::{EngineKnobs, ReplicaMemory, ServingPolicy};
use crate::sim::GpuGroup;

use super::super::check::ScenarioError;
use super::super::overrides;
use super::traffic_table::Pace;

/// One model's replicas in an answer.
#[derive(Debug, Clone)]
pub struct AnswerDeployment<'a> {
    /// Model id.
    pub model: &'a str,
    /// Replicas.
    pub replicas: u32,
    /// Precision of its replicas.
    pub precision: Precision,
    /// Tensor-parallel degree, when it is not the profile's.
    pub tp: Option<u32>,
    /// Engine settings of its own.
    pub knobs: EngineKnobs,
    /// Memory each was given.
    pub memory: ReplicaMemory,
    /// Each replica's partitions.
    pub placement: &'a [Vec<PartitionRef>],
}

/// What an answer fixes.
#[derive(Debug, Clone)]
pub struct Answer<'a> {
    /// The scenario name to give it.
    pub name: String,
    /// One line on where it came from.
    pub description: String,
    /// The fleet's GPU groups, in index order.
    pub groups: Vec<GpuGroup>,
    /// The policy the plan placed with.
    pub policy: ServingPolicy,
    /// The models with replicas.
    pub deployments: Vec<AnswerDeployment<'a>>,
    /// How fast the traffic runs (the scenario's pace times the cell's
    /// rate multiple).
    pub pace: Pace,
}

/// Where the plan's scenario came from, to rewrite its relative paths.
pub struct Origin<'a> {
    /// The scenario's text.
    pub text: &'a str,
    /// Its file, for errors.
    pub file: &'a str,
    /// `--set` overrides the plan applied.
    pub overrides: &'a [String],
    /// The folder its relative paths are read from.
    pub dir: &'a Path,
    /// A trace given on the command line instead of `traffic.path`.
    pub trace: Option<&'a Path>,
}

/// The TOML text of `answer`, to be written into `folder`: paths in the
/// traffic table are rewritten to be read from there.
pub fn answer_scenario(
    origin: &Origin,
    answer: &Answer,
    folder: &Path,
) -> Result<String, ScenarioError> {
    let mut root = match overrides::apply(origin.text, origin.file, origin.overrides)? {
        toml::Value::Table(t) => t,
        _ => unreachable!("a scenario parses to a table"),
    };
    root.remove("plan");
    root.insert("name".into(), answer.name.clone().into());
    root.insert("description".into(), answer.description.clone().into());
    if let Some(toml::Value::Table(run)) = root.get_mut("run") {
        run.insert("drain".into(), true.into());
    }
    let mut fleet = toml::Table::new();
    fleet.insert("policy".into(), answer.policy.to_string().into());
    if let Some(node) = root.get("fleet").and_then(|f| f.get("node")).cloned() {
        fleet.insert("node".into(), node);
    }
    let groups: Vec<toml::Value> = answer
        .groups
        .iter()
        .map(|g| {
            let mut group = toml::Table::new();
            group.insert("kind".into(), g.kind.to_string().into());
            group.insert("count".into(), i64::from(g.count).into());
            group.insert("layout".into(), g.layout.to_string().into());
            group.into()
        })
        .collect();
    fleet.insert("gpus".into(), groups.into());
    root.insert("fleet".into(), fleet.into());
    let deployments: Vec<toml::Value> = answer
        .deployments
        .iter()
        .map(|d| {
            let mut t = toml::Table::new();
            t.insert("model".into(), d.model.into());
            t.insert("precision".into(), d.precision.to_string().into());
            t.insert("replicas".into(), i64::from(d.replicas).into());
            if let Some(tp) = d.tp {
                t.insert("tp".into(), i64::from(tp).into());
            }
            if let Some(n) = d.knobs.max_seqs {
                t.insert("max_seqs".into(), i64::from(n).into());
            }
            if let Some(n) = d.knobs.max_batched_tokens {
                t.insert("max_batched_tokens".into(), i64::from(n).into());
            }
            t.insert("memory".into(), d.memory.to_string().into());
            let placement: Vec<toml::Value> =
                d.placement.iter().map(|at| location(at).into()).collect();
            t.insert("placement".into(), placement.into());
            t.into()
        })
        .collect();
    root.insert("deployments".into(), deployments.into());
    if let Some(toml::Value::Table(traffic)) = root.get_mut("traffic") {
        match answer.pace {
            Pace::Scale(x) => traffic.insert("rate_scale".into(), x.into()),
            Pace::Rate(r) => traffic.insert("rate".into(), r.into()),
        };
        if let Some(trace) = origin.trace {
            traffic.insert(
                "path".into(),
                relative(trace, Path::new("."), folder).into(),
            );
        } else if let Some(toml::Value::String(path)) = traffic.get_mut("path") {
            *path = relative(Path::new(path.as_str()), origin.dir, folder);
        }
        if let Some(toml::Value::Array(streams)) = traffic.get_mut("streams") {
            for stream in streams {
                for side in ["prompt", "output"] {
                    if let Some(toml::Value::String(path)) =
                        stream.get_mut(side).and_then(|l| l.get_mut("path"))
                    {
                        *path = relative(Path::new(path.as_str()), origin.dir, folder);
                    }
                }
            }
        }
    }
    let body = toml::to_string(&root).expect("a TOML table serialises");
    Ok(format!(
        "# {}\n#\n#   aimsim serve <this file>\n#\n# replays the plan's simulation of this answer (the fleet, policy, memory\n# and placement it chose, the traffic at its rate, run until it drains).\n{body}",
        answer.description
    ))
}

/// `0.0+1.0`: a replica's partitions as a scenario pins them.
pub fn location(at: &[PartitionRef]) -> String {
    at.iter()
        .map(|s| format!("{}.{}", s.gpu, s.partition))
        .collect::<Vec<_>>()
        .join("+")
}

/// `path` (relative to `from` unless absolute) as read from `folder`:
/// relative when both are under one current directory, absolute otherwise.
fn relative(path: &Path, from: &Path, folder: &Path) -> String {
    let absolute = |p: &Path| -> PathBuf {
        let joined = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        normalise(&joined)
    };
    let target = absolute(&if path.is_absolute() {
        path.to_path_buf()
    } else {
        from.join(path)
    });
    let base = absolute(folder);
    let common = target
        .components()
        .zip(base.components())
        .take_while(|(a, b)| a == b)
        .count();
    if common <= 1 {
        return target.display().to_string();
    }
    let mut out = PathBuf::new();
    for _ in base.components().skip(common) {
        out.push("..");
    }
    for part in target.components().skip(common) {
        out.push(part);
    }
    out.display().to_string()
}

/// `a/b/../c` as `a/c`, without touching the file system.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_rewritten_to_be_read_from_the_answer_folder() {
        assert_eq!(
            relative(
                Path::new("traces/a.csv"),
                Path::new("/w/scenarios"),
                Path::new("/w/reports/x/plan/answers")
            ),
            "../../../../scenarios/traces/a.csv"
        );
        assert_eq!(
            relative(Path::new("/data/a.csv"), Path::new("/w"), Path::new("/w/r")),
            "/data/a.csv"
        );
    }

    #[test]
    fn locations_read_as_gpu_dot_partition_joined_by_plus() {
        let at = [
            PartitionRef {
                gpu: 0,
                partition: 0,
            },
            PartitionRef {
                gpu: 1,
                partition: 3,
            },
        ];
        assert_eq!(location(&at), "0.0+1.3");
    }
}
