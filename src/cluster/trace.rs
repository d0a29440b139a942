//! The study's cluster and pods as its CSV files give them: the node list
//! (`sn,cpu_milli,memory_mib,gpu,model`) and a pod list
//! (`cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec]`, other columns
//! ignored), with every field bounded and every error naming the file, line
//! and column.

use std::io::Read;
use std::path::Path;

use crate::hardware::NodeShape;
use crate::workload::csv_rows::CsvRows;
use crate::workload::WorkloadError;

/// Thousandths of a GPU in one whole GPU: a pod's `gpu_milli` is its share
/// of one GPU in these units.
pub const MILLI_PER_GPU: u16 = 1000;
/// Most GPUs a node may have.
pub const MAX_GPUS_PER_NODE: usize = NodeShape::MAX_GPUS as usize;
/// Most nodes a node list may have.
pub const MAX_NODES: usize = 100_000;
/// Most distinct GPU models in a node list (a pod's allowed models are a
/// 64-bit set).
pub const MAX_GPU_MODELS: usize = 64;
/// Most pods a pod list may have.
pub const MAX_PODS: usize = 2_000_000;
/// Most CPU a node or pod may have, in thousandths of a core (100,000 cores).
pub const MAX_CPU_MILLI: u32 = 100_000_000;
/// Most memory a node or pod may have, in MiB (4 PiB).
pub const MAX_MEMORY_MIB: u32 = u32::MAX;
/// Longest GPU model name or `gpu_spec` field, in bytes.
pub const MAX_NAME_BYTES: usize = 256;

/// Index of a GPU model in a [`Cluster`]'s model list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GpuModel(pub u8);

/// The GPU models a pod may run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModelSet(u64);

impl ModelSet {
    /// Any model (an empty `gpu_spec`).
    pub const ANY: ModelSet = ModelSet(u64::MAX);
    /// No model of the cluster (a `gpu_spec` naming only models it lacks).
    pub const NONE: ModelSet = ModelSet(0);

    /// Whether `model` is allowed.
    #[inline]
    pub fn allows(self, model: GpuModel) -> bool {
        self.0 >> model.0 & 1 == 1
    }

    /// This set with `model` added.
    pub fn with(self, model: GpuModel) -> ModelSet {
        ModelSet(self.0 | 1 << model.0)
    }
}

/// One node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// Its name (`sn`), or `node-LINE` when the list has no names.
    pub name: String,
    /// CPU, in thousandths of a core.
    pub cpu_milli: u32,
    /// Host memory, in MiB.
    pub memory_mib: u32,
    /// GPUs, each of [`MILLI_PER_GPU`].
    pub gpus: u8,
    /// Their model.
    pub model: GpuModel,
}

/// The cluster: its nodes and the names of their GPU models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Nodes, in file order.
    pub nodes: Vec<NodeSpec>,
    /// GPU model names, indexed by [`GpuModel`].
    pub models: Vec<String>,
}

impl Cluster {
    /// Reads a node list from `path`.
    pub fn open(path: &Path) -> Result<Cluster, WorkloadError> {
        Cluster::read(CsvRows::open(path, &[], &NODE_COLUMNS, false)?)
    }

    /// Reads a node list from any reader; `source_name` names it in errors.
    pub fn from_reader(reader: Box<dyn Read>, source_name: &str) -> Result<Cluster, WorkloadError> {
        Cluster::read(CsvRows::from_reader(
            reader,
            source_name,
            &[],
            &NODE_COLUMNS,
            false,
        )?)
    }

    fn read(mut rows: CsvRows) -> Result<Cluster, WorkloadError> {
        let [cpu, memory, gpus, model] = NODE_COLUMNS.map(|c| rows.column(c).expect("required"));
        let name = rows.column("sn");
        let mut cluster = Cluster {
            nodes: Vec::new(),
            models: Vec::new(),
        };
        while rows.advance()? {
            if cluster.nodes.len() == MAX_NODES {
                return Err(rows.error(format!("more than {MAX_NODES} nodes")));
            }
            let gpu_count = bounded(&rows, gpus, 0, MAX_GPUS_PER_NODE as u32, "a GPU count")? as u8;
            let model_name = rows.field(model);
            let model = if gpu_count == 0 && model_name.is_empty() {
                GpuModel(0)
            } else {
                cluster.model(&rows, model_name)?
            };
            cluster.nodes.push(NodeSpec {
                name: name.map_or_else(
                    || format!("node-{}", rows.line()),
                    |c| rows.field(c).to_string(),
                ),
                cpu_milli: bounded(&rows, cpu, 0, MAX_CPU_MILLI, "thousandths of a core")?,
                memory_mib: bounded(&rows, memory, 0, MAX_MEMORY_MIB, "MiB")?,
                gpus: gpu_count,
                model,
            });
        }
        if cluster.gpus() == 0 {
            return Err(WorkloadError {
                source_name: rows.source_name().to_string(),
                line: None,
                message: "no GPUs: the experiment fills a cluster's GPUs, so the node list needs a node with `gpu` above 0".to_string(),
            });
        }
        Ok(cluster)
    }

    /// The id of the model named `name`, added if new.
    fn model(&mut self, rows: &CsvRows, name: &str) -> Result<GpuModel, WorkloadError> {
        if name.is_empty() || name.len() > MAX_NAME_BYTES || name.contains('|') {
            return Err(rows.error(format!(
                "column `{}`: expected a GPU model name of 1 to {MAX_NAME_BYTES} bytes without `|`",
                NODE_COLUMNS[3]
            )));
        }
        if let Some(i) = self.models.iter().position(|m| m == name) {
            return Ok(GpuModel(i as u8));
        }
        if self.models.len() == MAX_GPU_MODELS {
            return Err(rows.error(format!(
                "more than {MAX_GPU_MODELS} GPU models in one node list"
            )));
        }
        self.models.push(name.to_string());
        Ok(GpuModel((self.models.len() - 1) as u8))
    }

    /// GPUs in the cluster.
    pub fn gpus(&self) -> u64 {
        self.nodes.iter().map(|n| u64::from(n.gpus)).sum()
    }

    /// The allowed models a `gpu_spec` names (`|`-separated, empty tokens
    /// ignored; empty: any model). Models the cluster lacks match nothing.
    pub fn allowed(&self, spec: &str) -> ModelSet {
        if spec.is_empty() {
            return ModelSet::ANY;
        }
        spec.split('|')
            .filter_map(|token| self.models.iter().position(|m| m == token))
            .fold(ModelSet::NONE, |set, i| set.with(GpuModel(i as u8)))
    }
}

/// Columns a node list must have (`sn`, the node's name, is optional).
pub const NODE_COLUMNS: [&str; 4] = ["cpu_milli", "memory_mib", "gpu", "model"];

/// Columns a pod list must have (`gpu_spec` is optional).
pub const POD_COLUMNS: [&str; 4] = ["cpu_milli", "memory_mib", "num_gpu", "gpu_milli"];

/// One pod of a pod list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PodSpec {
    /// CPU, in thousandths of a core.
    pub cpu_milli: u32,
    /// Host memory, in MiB.
    pub memory_mib: u32,
    /// GPUs: 0 (CPU only), 1 (a share or a whole GPU), or several whole GPUs.
    pub gpus: u8,
    /// Share of each GPU, 1 to [`MILLI_PER_GPU`] (0 for a CPU-only pod);
    /// [`MILLI_PER_GPU`] when the pod has several GPUs.
    pub gpu_milli: u16,
    /// Index of its `gpu_spec` in [`PodList::specs`].
    pub spec: u16,
}

impl PodSpec {
    /// GPU thousandths the pod asks for in all.
    pub fn total_milli(&self) -> u64 {
        u64::from(self.gpu_milli) * u64::from(self.gpus)
    }

    /// Whether it asks for part of one GPU.
    pub fn is_share(&self) -> bool {
        self.gpus == 1 && self.gpu_milli < MILLI_PER_GPU
    }
}

/// A pod list: the pods in file order and their distinct `gpu_spec`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodList {
    /// Pods, in file order.
    pub pods: Vec<PodSpec>,
    /// Distinct `gpu_spec` texts (the first is empty: any model), each with
    /// the models it allows in the cluster it was read for.
    pub specs: Vec<(String, ModelSet)>,
}

/// Most distinct `gpu_spec` texts in one pod list.
pub const MAX_SPECS: usize = 4096;

impl PodList {
    /// Reads a pod list from `path`, resolving GPU models against `cluster`.
    pub fn open(path: &Path, cluster: &Cluster) -> Result<PodList, WorkloadError> {
        PodList::read(CsvRows::open(path, &[], &POD_COLUMNS, false)?, cluster)
    }

    /// Reads a pod list from any reader; `source_name` names it in errors.
    pub fn from_reader(
        reader: Box<dyn Read>,
        source_name: &str,
        cluster: &Cluster,
    ) -> Result<PodList, WorkloadError> {
        PodList::read(
            CsvRows::from_reader(reader, source_name, &[], &POD_COLUMNS, false)?,
            cluster,
        )
    }

    fn read(mut rows: CsvRows, cluster: &Cluster) -> Result<PodList, WorkloadError> {
        let [cpu, memory, gpus, milli] = POD_COLUMNS.map(|c| rows.column(c).expect("required"));
        let spec_column = rows.column("gpu_spec");
        let mut list = PodList {
            pods: Vec::new(),
            specs: vec![(String::new(), ModelSet::ANY)],
        };
        while rows.advance()? {
            if list.pods.len() == MAX_PODS {
                return Err(rows.error(format!("more than {MAX_PODS} pods")));
            }
            let gpu_count = bounded(&rows, gpus, 0, MAX_GPUS_PER_NODE as u32, "a GPU count")? as u8;
            let (gpu_milli, spec) = if gpu_count == 0 {
                // A CPU-only pod: the study gives it no GPU share and no
                // GPU model constraint, whatever the row says.
                (0, 0)
            } else {
                let low = if gpu_count == 1 {
                    1
                } else {
                    u32::from(MILLI_PER_GPU)
                };
                let what = if gpu_count == 1 {
                    "thousandths of one GPU"
                } else {
                    "1000: a pod with several GPUs takes them whole"
                };
                let gpu_milli = bounded(&rows, milli, low, u32::from(MILLI_PER_GPU), what)? as u16;
                let text = spec_column.map_or("", |c| rows.field(c));
                (gpu_milli, list.spec(&rows, text, cluster)?)
            };
            list.pods.push(PodSpec {
                cpu_milli: bounded(&rows, cpu, 0, MAX_CPU_MILLI, "thousandths of a core")?,
                memory_mib: bounded(&rows, memory, 0, MAX_MEMORY_MIB, "MiB")?,
                gpus: gpu_count,
                gpu_milli,
                spec,
            });
        }
        if list.total_milli() == 0 {
            return Err(WorkloadError {
                source_name: rows.source_name().to_string(),
                line: None,
                message: "no pod asks for a GPU: the experiment draws pods until the GPUs asked for reach a share of the cluster's, so the list needs a row with `num_gpu` above 0".to_string(),
            });
        }
        Ok(list)
    }

    /// The index of `gpu_spec` text `text`, as the study keys it: empty
    /// tokens dropped, the rest joined by `|` in their order.
    fn spec(
        &mut self,
        rows: &CsvRows,
        text: &str,
        cluster: &Cluster,
    ) -> Result<u16, WorkloadError> {
        if text.len() > MAX_NAME_BYTES {
            return Err(rows.error(format!(
                "column `gpu_spec`: longer than {MAX_NAME_BYTES} bytes"
            )));
        }
        let key: Vec<&str> = text
            .split('|')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        let key = key.join("|");
        if let Some(i) = self.specs.iter().position(|s| s.0 == key) {
            return Ok(i as u16);
        }
        if self.specs.len() == MAX_SPECS {
            return Err(rows.error(format!("more than {MAX_SPECS} distinct gpu_spec values")));
        }
        let allowed = cluster.allowed(&key);
        self.specs.push((key, allowed));
        Ok((self.specs.len() - 1) as u16)
    }

    /// The models pod `pod` may run on.
    pub fn allowed(&self, pod: &PodSpec) -> ModelSet {
        self.specs[usize::from(pod.spec)].1
    }

    /// GPU thousandths all pods ask for.
    pub fn total_milli(&self) -> u64 {
        self.pods.iter().map(PodSpec::total_milli).sum()
    }
}

/// Parses `column` as a whole number in `low..=high`, naming the column,
/// the range and what the number counts when it is not.
fn bounded(
    rows: &CsvRows,
    column: usize,
    low: u32,
    high: u32,
    what: &str,
) -> Result<u32, WorkloadError> {
    let value: u64 = rows.parse(
        column,
        &format!("a whole number ({what}) from {low} to {high}"),
    )?;
    if value < u64::from(low) || value > u64::from(high) {
        return Err(rows.error(format!(
            "column `{}`: {value} is out of range; expected {what} from {low} to {high}",
            rows.header(column)
        )));
    }
    Ok(value as u32)
}
