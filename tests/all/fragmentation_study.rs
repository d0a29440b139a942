//! The fragmentation study reproduced (`aimsim fragmentation`): a reduced
//! rerun on small fixtures (one node in twenty and one pod in twenty of the
//! study's own lists), the committed full reproduction checked against the
//! study's published figures, bad inputs, and a property test of the
//! study's cluster under random pods.

use std::fs;
use std::path::Path;

use proptest::prelude::*;

use aimsim::cluster::experiment::{NodesNow, Placed};
use aimsim::cluster::node::Pod;
use aimsim::cluster::published::published;
use aimsim::cluster::{Cluster, Experiment, PodList, StudyPolicy};

use super::support::aimsim;

const NODES: &str = "tests/fixtures/openb_nodes_small.csv";
const DEFAULT_PODS: &str = "tests/fixtures/openb_pod_list_small_default.csv";
const SPEC_PODS: &str = "tests/fixtures/openb_pod_list_small_gpuspec33.csv";

fn reduced_run(out: &Path, threads: &str) {
    let out = out.to_str().expect("a UTF-8 path");
    aimsim(&[
        "fragmentation",
        "--nodes",
        NODES,
        DEFAULT_PODS,
        SPEC_PODS,
        "--seeds",
        "10",
        "--threads",
        threads,
        "--out",
        out,
    ])
    .expect_code(0);
}

/// (variant, policy) -> allocation at 100% from an `at-100.csv`.
fn headline(csv_text: &str) -> Vec<(String, String, f64, Option<f64>)> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers().expect("a header").clone();
    let col = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let (v, p, a, s) = (
        col("variant"),
        col("policy"),
        col("alloc_at_100"),
        col("study_alloc_at_100"),
    );
    reader
        .records()
        .map(|r| {
            let r = r.expect("a record");
            (
                r[v].to_string(),
                r[p].to_string(),
                r[a].parse().expect("a number"),
                r[s].parse().ok(),
            )
        })
        .collect()
}

#[test]
fn a_reduced_rerun_ranks_the_policies_as_the_study_and_is_the_same_at_any_thread_count() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    reduced_run(&one, "1");
    reduced_run(&two, "2");
    for file in ["summary.md", "at-100.csv", "allocation.csv", "seeds.csv"] {
        let a = fs::read(one.join(file)).expect("written");
        assert_eq!(
            a,
            fs::read(two.join(file)).expect("written"),
            "{file} differs by thread count"
        );
    }
    let rows = headline(&fs::read_to_string(one.join("at-100.csv")).expect("written"));
    assert_eq!(rows.len(), 12, "2 pod lists x 6 policies");
    let at = |variant: &str, policy: &str| {
        rows.iter()
            .find(|r| r.0 == variant && r.1 == policy)
            .map(|r| r.2)
            .expect("a row")
    };
    // The study's order on `default` (FGD > BestFit > GpuPacking >
    // GpuClustering > DotProd > Random) holds on a twentieth of its cluster.
    let order = [
        "fgd",
        "best-fit",
        "gpu-packing",
        "gpu-clustering",
        "dot-product",
        "random",
    ];
    for pair in order.windows(2) {
        assert!(
            at("small_default", pair[0]) > at("small_default", pair[1]),
            "{} should allocate more than {} on the reduced default list: {rows:?}",
            pair[0],
            pair[1]
        );
    }
    // With GPU models constrained FGD still leads, by more than a point.
    for policy in &order[1..] {
        assert!(
            at("small_gpuspec33", "fgd") > at("small_gpuspec33", policy) + 1.0,
            "{rows:?}"
        );
    }
    // Small lists have no published figures: nothing to compare, said so.
    assert!(rows.iter().all(|r| r.3.is_none()));
    let summary = fs::read_to_string(one.join("summary.md")).expect("written");
    assert!(summary.contains("62 nodes, 319 GPUs"), "{summary}");
    assert!(summary.contains("## Where the setup differs"), "{summary}");
}

#[test]
fn the_committed_reproduction_is_within_a_point_of_every_published_figure() {
    let text = fs::read_to_string("reports/fragmentation-study/at-100.csv").expect("committed");
    let rows = headline(&text);
    let mut compared = 0;
    for (variant, policy, ours, study) in &rows {
        let policy: StudyPolicy = policy.parse().expect("a policy name");
        let published = published(variant, policy);
        // The report's study column is the library's published table.
        assert_eq!(*study, published.map(|p| p.at_100), "{variant} {policy}");
        if let Some(p) = published {
            assert!(
                (ours - p.at_100).abs() <= 1.0,
                "{variant} {policy}: {ours} vs {}",
                p.at_100
            );
            compared += 1;
        }
    }
    assert_eq!(
        compared,
        17 * 6,
        "every published pod list and policy is in the report"
    );
    // The Done criterion's pair on `default`, and the study's ranking there.
    let at = |policy: &str| {
        rows.iter()
            .find(|r| r.0 == "default" && r.1 == policy)
            .expect("a row")
            .2
    };
    let mut ranked: Vec<StudyPolicy> = StudyPolicy::ALL.to_vec();
    ranked.sort_by(|a, b| at(b.name()).total_cmp(&at(a.name())));
    let mut study: Vec<StudyPolicy> = StudyPolicy::ALL.to_vec();
    let published_at = |p: StudyPolicy| published("default", p).expect("published").at_100;
    study.sort_by(|a, b| published_at(*b).total_cmp(&published_at(*a)));
    assert_eq!(ranked, study);
}

#[test]
fn bad_node_and_pod_lists_name_the_file_line_and_column_and_write_nothing() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        fs::write(&path, text).expect("written");
        path.to_str().expect("UTF-8").to_string()
    };
    let nodes = write(
        "nodes.csv",
        "sn,cpu_milli,memory_mib,gpu,model\na,8000,1000,2,T4\n",
    );
    let pods = write(
        "pods.csv",
        "cpu_milli,memory_mib,num_gpu,gpu_milli\n1000,10,1,500\n",
    );
    let out = dir.path().join("report");
    let out_text = out.to_str().expect("UTF-8");
    let cases = [
        (write("n1.csv", "sn,cpu_milli,memory_mib,gpu,model\na,8000,1000,17,T4\n"), pods.clone(), "n1.csv: line 2: column `gpu`: 17 is out of range"),
        (write("n2.csv", "sn,cpu_milli,memory_mib,model\na,8000,1000,T4\n"), pods.clone(), "n2.csv: line 1: missing column `gpu`"),
        (write("n3.csv", "sn,cpu_milli,memory_mib,gpu,model\na,lots,1000,1,T4\n"), pods.clone(), "column `cpu_milli`: `lots` is not a whole number"),
        (nodes.clone(), write("p1.csv", "cpu_milli,memory_mib,num_gpu,gpu_milli\n1,1,2,500\n"), "p1.csv: line 2: column `gpu_milli`: 500 is out of range; expected 1000: a pod with several GPUs takes them whole"),
        (nodes.clone(), write("p2.csv", "cpu_milli,memory_mib,num_gpu,gpu_milli\n1,1,1,1001\n"), "column `gpu_milli`: 1001 is out of range"),
        (nodes.clone(), write("p3.csv", "cpu_milli,memory_mib,num_gpu,gpu_milli\n"), "p3.csv: no pod asks for a GPU"),
        (nodes.clone(), write("p4.csv", "cpu_milli,memory_mib,num_gpu,gpu_milli\n1000,1,0,0\n"), "p4.csv: no pod asks for a GPU"),
        (write("n4.csv", "sn,cpu_milli,memory_mib,gpu,model\na,8000,1000,0,\n"), pods.clone(), "n4.csv: no GPUs"),
    ];
    for (nodes, pods, expected) in cases {
        let run =
            aimsim(&["fragmentation", "--nodes", &nodes, &pods, "--out", out_text]).expect_code(1);
        assert!(
            run.stderr.contains(expected),
            "expected `{expected}` in:\n{}",
            run.stderr
        );
        assert!(!out.exists(), "nothing is written on bad input");
    }
    let run = aimsim(&["fragmentation", "--nodes", &nodes, &pods, "--load", "4"]).expect_code(2);
    assert!(run.stderr.contains("at most 3"), "{}", run.stderr);
}

/// A node as the oracle keeps it: CPU, memory and each GPU's share left.
#[derive(Debug, Clone, PartialEq)]
struct Books {
    cpu: u32,
    memory: u32,
    left: Vec<u16>,
    model: usize,
}

fn oracle_fits(b: &Books, pod: &Pod) -> bool {
    let gpu_ok = pod.gpus == 0
        || (pod
            .allowed
            .allows(aimsim::cluster::trace::GpuModel(b.model as u8))
            && if pod.gpus == 1 {
                b.left.iter().any(|&l| l >= pod.gpu_milli)
            } else {
                b.left.iter().filter(|&&l| l == 1000).count() >= usize::from(pod.gpus)
            });
    b.cpu >= pod.cpu_milli && b.memory >= pod.memory_mib && gpu_ok
}

fn cluster_text(nodes: &[(u32, u32, u8, usize)]) -> String {
    let mut text = String::from("sn,cpu_milli,memory_mib,gpu,model\n");
    for (i, (cpu, mem, gpus, model)) in nodes.iter().enumerate() {
        text.push_str(&format!("n{i},{cpu},{mem},{gpus},{}\n", ["A", "B"][*model]));
    }
    text
}

fn pods_text(pods: &[(u32, u32, u8, u16, usize)]) -> String {
    let mut text = String::from("cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n");
    for (cpu, mem, gpus, milli, spec) in pods {
        let milli = if *gpus > 1 { 1000 } else { *milli };
        text.push_str(&format!(
            "{cpu},{mem},{gpus},{milli},{}\n",
            ["", "A", "B", "A|B"][*spec]
        ));
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Under every policy, on random small clusters and pods: a pod is
    /// placed only on a node an oracle says it fits, whole GPUs only on
    /// free ones, a share on one GPU with room; it fails only when no node
    /// fits it; no node's CPU, memory or GPU is ever over-committed; the
    /// GPU share allocated equals the sum over placed pods.
    #[test]
    fn pods_land_only_where_they_fit_and_nothing_is_over_committed(
        nodes in prop::collection::vec((1u32..=16, 1u32..=64, 0u8..=4, 0usize..2), 1..6),
        pods in prop::collection::vec((0u32..=6, 0u32..=24, 0u8..=4, 1u16..=1000, 0usize..4), 1..40),
        seed in 0u64..1000,
        load in 0.5f64..2.0,
    ) {
        let nodes: Vec<_> = nodes.into_iter().map(|(c, m, g, model)| (c * 1000, m * 1024, g, model)).collect();
        let pods: Vec<_> = pods.into_iter().map(|(c, m, g, milli, s)| (c * 500, m * 512, g, milli, s)).collect();
        // A cluster without GPUs, or pods that ask none, are refused on reading.
        prop_assume!(nodes.iter().any(|n| n.2 > 0) && pods.iter().any(|p| p.2 > 0));
        let cluster = Cluster::from_reader(Box::new(std::io::Cursor::new(cluster_text(&nodes))), "nodes").unwrap();
        let list = PodList::from_reader(Box::new(std::io::Cursor::new(pods_text(&pods))), "pods", &cluster).unwrap();
        let experiment = Experiment::new(&cluster, &list);
        let arrivals = experiment.arrivals(seed, load);
        for policy in StudyPolicy::ALL {
            let mut books: Vec<Books> = cluster.nodes.iter().map(|n| Books {
                cpu: n.cpu_milli,
                memory: n.memory_mib,
                left: vec![1000; usize::from(n.gpus)],
                model: usize::from(n.model.0),
            }).collect();
            let mut placed_milli = 0u64;
            let result = experiment.run(&arrivals, policy, seed, load, |pod: &Pod, placed: Option<Placed>, after: NodesNow| {
                match placed {
                    None => assert!(books.iter().all(|b| !oracle_fits(b, pod)), "{policy}: refused a pod that fits"),
                    Some(p) => {
                        let b = &mut books[p.node as usize];
                        assert!(oracle_fits(b, pod), "{policy}: placed where it does not fit");
                        let taken: Vec<usize> = (0..b.left.len()).filter(|g| p.gpus >> g & 1 == 1).collect();
                        assert_eq!(taken.len(), usize::from(pod.gpus));
                        for &g in &taken {
                            if pod.is_share() {
                                assert!(b.left[g] >= pod.gpu_milli);
                            } else {
                                assert_eq!(b.left[g], 1000, "{policy}: a whole GPU that was not free");
                            }
                            b.left[g] -= pod.gpu_milli;
                        }
                        b.cpu -= pod.cpu_milli;
                        b.memory -= pod.memory_mib;
                        placed_milli += u64::from(pod.total_milli());
                    }
                }
                for (b, node) in books.iter().zip(after.iter()) {
                    assert_eq!((b.cpu, b.memory, b.left.as_slice()), (node.cpu_left(), node.memory_left(), node.left()));
                }
            });
            prop_assert_eq!(result.allocated_milli, placed_milli);
            let used: u64 = books.iter().flat_map(|b| b.left.iter()).map(|&l| u64::from(1000 - l)).sum();
            prop_assert_eq!(used, placed_milli);
            prop_assert!(result.curve.iter().flatten().all(|&a| (0.0..=100.0).contains(&a)));
        }
    }
}
