//! The fragmentation study reproduced: aimsim's allocation figures per pod
//! list and policy beside the study's published ones, as CSV, markdown and
//! charts.

use crate::cluster::published::{published, DEFAULT_CURVE, DEFAULT_CURVE_FROM, PUBLISHED_SEEDS};
use crate::cluster::study::{StudyRun, StudySpec, Variant};
use crate::cluster::{Cluster, StudyPolicy};
use crate::sweep::Estimate;

use super::chart::{render_stacked, LineChart, Series};
use super::csv_text;

/// A finished study and what it was run on.
#[derive(Debug, Clone, Copy)]
pub struct FragmentationReport<'a> {
    /// The command that ran it, for the summary.
    pub command: &'a str,
    /// The cluster.
    pub cluster: &'a Cluster,
    /// The pod lists.
    pub variants: &'a [Variant],
    /// What was run.
    pub spec: &'a StudySpec,
    /// Every run, ordered by variant, seed, policy.
    pub runs: &'a [StudyRun],
}

/// The arrival share (%) the study's headline figures are read at.
pub const HEADLINE_X: usize = 100;
/// The arrival share (%) the study's runs end at.
pub const END_X: usize = 130;
/// Within this many points of the study's mean, a figure is reproduced.
pub const TOLERANCE_POINTS: f64 = 1.0;

/// One pod list x policy over its seeds.
struct Cell<'a> {
    variant: &'a str,
    policy: StudyPolicy,
    runs: Vec<&'a StudyRun>,
}

impl Cell<'_> {
    /// The estimate of allocation at `x`% asked for, if every run reached it.
    fn at(&self, x: usize) -> Option<Estimate> {
        let values: Option<Vec<f64>> = self
            .runs
            .iter()
            .map(|r| r.result.curve.get(x).copied().flatten())
            .collect();
        values
            .filter(|v| !v.is_empty())
            .map(|v| Estimate::of_bounded(&v, 0.0, 100.0))
    }

    fn mean_of(&self, f: impl Fn(&StudyRun) -> u64) -> f64 {
        self.runs.iter().map(|r| f(r) as f64).sum::<f64>() / self.runs.len().max(1) as f64
    }
}

impl<'a> FragmentationReport<'a> {
    fn cells(&self) -> Vec<Cell<'a>> {
        let mut cells = Vec::new();
        for (v, variant) in self.variants.iter().enumerate() {
            for &policy in &self.spec.policies {
                cells.push(Cell {
                    variant: &variant.name,
                    policy,
                    runs: self
                        .runs
                        .iter()
                        .filter(|r| r.variant == v && r.policy == policy)
                        .collect(),
                });
            }
        }
        cells
    }

    /// Every file of the report folder: `summary.md`, `at-100.csv`,
    /// `allocation.csv`, `seeds.csv` and the two charts.
    pub fn files(&self) -> Vec<(String, String)> {
        let mut files = vec![
            ("summary.md".to_string(), self.markdown()),
            ("at-100.csv".to_string(), self.headline_csv()),
            ("allocation.csv".to_string(), self.curves_csv()),
            ("seeds.csv".to_string(), self.seeds_csv()),
        ];
        if let Some(svg) = self.default_chart() {
            files.push(("default-allocation.svg".to_string(), svg));
        }
        if let Some(svg) = self.variants_chart() {
            files.push(("variants-unallocated.svg".to_string(), svg));
        }
        files
    }

    /// Per pod list and policy: allocation at 100% asked for (mean, sd,
    /// 95% interval over seeds) beside the study's, and at the end.
    pub fn headline_csv(&self) -> String {
        let rows = self.cells().into_iter().map(|cell| {
            let at = cell.at(HEADLINE_X);
            let study = published(cell.variant, cell.policy);
            let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.3}"));
            vec![
                cell.variant.to_string(),
                cell.policy.name().to_string(),
                cell.runs.len().to_string(),
                opt(at.map(|e| e.mean)),
                opt(at.and_then(|e| e.sd)),
                opt(at.and_then(|e| e.half_width)),
                opt(study.map(|s| s.at_100)),
                opt(study.map(|s| s.sd_100)),
                opt(at.zip(study).map(|(a, s)| a.mean - s.at_100)),
                opt(cell.at(END_X).map(|e| e.mean)),
                opt(study.map(|s| s.at_130)),
                format!("{:.1}", cell.mean_of(|r| r.result.pods)),
                format!("{:.1}", cell.mean_of(|r| r.result.failed)),
            ]
        });
        csv_text(
            &[
                "variant",
                "policy",
                "seeds",
                "alloc_at_100",
                "alloc_at_100_sd",
                "alloc_at_100_ci95",
                "study_alloc_at_100",
                "study_alloc_at_100_sd",
                "difference",
                "alloc_at_130",
                "study_alloc_at_130",
                "pods",
                "failed_pods",
            ],
            rows,
        )
    }

    /// The allocation curve: mean and sd over seeds at every whole percent
    /// asked for.
    pub fn curves_csv(&self) -> String {
        let last = (self.spec.load * 100.0).ceil() as usize;
        let mut rows = Vec::new();
        for cell in self.cells() {
            for x in 0..=last {
                if let Some(e) = cell.at(x) {
                    rows.push(vec![
                        cell.variant.to_string(),
                        cell.policy.name().to_string(),
                        x.to_string(),
                        format!("{:.3}", e.mean),
                        e.sd.map_or(String::new(), |sd| format!("{sd:.3}")),
                    ]);
                }
            }
        }
        csv_text(
            &[
                "variant",
                "policy",
                "arrived_percent",
                "alloc_mean",
                "alloc_sd",
            ],
            rows,
        )
    }

    /// One row per run.
    pub fn seeds_csv(&self) -> String {
        let rows = self.runs.iter().map(|r| {
            let at = r.result.curve.get(HEADLINE_X).copied().flatten();
            vec![
                self.variants[r.variant].name.clone(),
                r.policy.name().to_string(),
                r.seed.to_string(),
                r.result.pods.to_string(),
                r.result.failed.to_string(),
                at.map_or(String::new(), |v| format!("{v:.3}")),
                format!(
                    "{:.3}",
                    100.0 * r.result.allocated_milli as f64 / self.capacity_milli()
                ),
            ]
        });
        csv_text(
            &[
                "variant",
                "policy",
                "seed",
                "pods",
                "failed_pods",
                "alloc_at_100",
                "alloc_at_end",
            ],
            rows,
        )
    }

    fn capacity_milli(&self) -> f64 {
        self.cluster.gpus().max(1) as f64 * 1000.0
    }

    /// The summary for people: the headline (`default`), every pod list at
    /// 100% asked for with the rankings compared, and where the setup
    /// differs from the study's.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        md.push_str("# The fragmentation study, reproduced\n\n");
        md.push_str(&format!("Command: `{}`\n\n", self.command));
        md.push_str(&format!(
            "Cluster: {} nodes, {} GPUs ({}). Policies: {}. Seeds: {} ({}). Arrivals tuned to {}x the cluster's GPUs.\n\n",
            self.cluster.nodes.len(),
            self.cluster.gpus(),
            self.models_line(),
            self.spec.policies.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "),
            self.spec.seeds.len(),
            seeds_line(&self.spec.seeds),
            self.spec.load,
        ));
        md.push_str(&format!(
            "Figures: GPU allocation (% of the cluster's GPUs) when the GPUs asked for reach {HEADLINE_X}% of the cluster's, mean over seeds; the study's are the means over its {PUBLISHED_SEEDS} seeds in its artifact (`analysis_allo_discrete.csv`).\n\n"
        ));
        if self.variants.iter().any(|v| v.name == "default") {
            md.push_str(&self.variant_table("default"));
        }
        md.push_str(&self.all_variants_table());
        md.push_str(SETUP_DIFFERENCES);
        md
    }

    fn models_line(&self) -> String {
        self.cluster
            .models
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let gpus: u64 = self
                    .cluster
                    .nodes
                    .iter()
                    .filter(|n| usize::from(n.model.0) == i && n.gpus > 0)
                    .map(|n| u64::from(n.gpus))
                    .sum();
                format!("{gpus} {name}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One pod list in full: each policy with its interval, the study's
    /// figure and the difference, and both rankings.
    fn variant_table(&self, variant: &str) -> String {
        let all = self.cells();
        let cells: Vec<&Cell> = all.iter().filter(|c| c.variant == variant).collect();
        let mut md = format!(
            "## `{variant}` at {HEADLINE_X}%\n\n| policy | aimsim (95% interval) | study (sd) | difference | within {TOLERANCE_POINTS} point |\n|---|---:|---:|---:|---|\n"
        );
        for cell in &cells {
            let at = cell.at(HEADLINE_X);
            let study = published(variant, cell.policy);
            let ours = at.map_or("not reached".to_string(), |e| {
                format!("{:.2} ({:.2} to {:.2})", e.mean, e.lower(), e.upper())
            });
            let theirs = study.map_or("not published".to_string(), |s| {
                format!("{:.2} ({:.2})", s.at_100, s.sd_100)
            });
            let (diff, within) = match (at, study) {
                (Some(a), Some(s)) => {
                    let d = a.mean - s.at_100;
                    (
                        format!("{d:+.2}"),
                        if d.abs() <= TOLERANCE_POINTS {
                            "yes"
                        } else {
                            "no"
                        },
                    )
                }
                _ => (String::new(), ""),
            };
            md.push_str(&format!(
                "| {} | {ours} | {theirs} | {diff} | {within} |\n",
                cell.policy.study_name()
            ));
        }
        let (ours, theirs) = rankings(&cells, variant);
        md.push_str(&format!(
            "\nRanking, aimsim: {ours}  \nRanking, study: {theirs}\n\n"
        ));
        md
    }

    /// Every pod list: aimsim / study per policy, the largest difference,
    /// and whether the rankings agree.
    fn all_variants_table(&self) -> String {
        let policies = &self.spec.policies;
        let mut md = format!("## Every pod list at {HEADLINE_X}%: aimsim / study\n\n| pod list |");
        for p in policies {
            md.push_str(&format!(" {} |", p.study_name()));
        }
        md.push_str(" largest difference | ranking |\n|---|");
        md.push_str(&"---:|".repeat(policies.len()));
        md.push_str("---:|---|\n");
        let cells = self.cells();
        for variant in self.variants {
            let row: Vec<&Cell> = cells.iter().filter(|c| c.variant == variant.name).collect();
            md.push_str(&format!("| {} |", variant.name));
            let mut largest: Option<f64> = None;
            for cell in &row {
                let at = cell.at(HEADLINE_X).map(|e| e.mean);
                let study = published(cell.variant, cell.policy).map(|s| s.at_100);
                if let (Some(a), Some(s)) = (at, study) {
                    largest = Some(largest.unwrap_or(0.0).max((a - s).abs()));
                }
                let text = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
                md.push_str(&format!(" {} / {} |", text(at), text(study)));
            }
            let (ours, theirs) = rankings(&row, &variant.name);
            let agreement = if theirs == "not published" {
                "not published".to_string()
            } else if ours == theirs {
                "same".to_string()
            } else {
                format!("differs: {ours}")
            };
            md.push_str(&format!(
                " {} | {agreement} |\n",
                largest.map_or("-".to_string(), |d| format!("{d:.2}"))
            ));
        }
        md.push_str("\nA ranking that differs is written out (aimsim's); the study's follows from its figures beside. Policies closer than their spread over seeds may swap between runs of either simulator.\n\n");
        md
    }

    /// Allocation against GPUs asked for on `default`, aimsim above, the
    /// study below, from 75% asked for.
    fn default_chart(&self) -> Option<String> {
        self.variants.iter().find(|v| v.name == "default")?;
        let last = (self.spec.load * 100.0).ceil() as usize;
        let cells: Vec<Cell> = self
            .cells()
            .into_iter()
            .filter(|c| c.variant == "default")
            .collect();
        let ours = cells
            .iter()
            .map(|cell| Series {
                name: cell.policy.study_name().to_string(),
                points: (DEFAULT_CURVE_FROM..=last)
                    .filter_map(|x| cell.at(x).map(|e| (x as f64, e.mean)))
                    .collect(),
            })
            .collect();
        let study = self
            .spec
            .policies
            .iter()
            .map(|&p| {
                let row = StudyPolicy::ALL
                    .iter()
                    .position(|&q| q == p)
                    .expect("a policy");
                Series {
                    name: p.study_name().to_string(),
                    points: DEFAULT_CURVE[row]
                        .iter()
                        .enumerate()
                        .map(|(i, &y)| ((DEFAULT_CURVE_FROM + i) as f64, y))
                        .collect(),
                }
            })
            .collect();
        let panel = |title: &str, series| LineChart {
            title: title.to_string(),
            x_label: "GPUs asked for (% of the cluster's)".to_string(),
            y_label: "GPUs allocated (%)".to_string(),
            series,
            ..LineChart::default()
        };
        Some(render_stacked(&[
            panel(
                &format!(
                    "default pod list: aimsim, mean of {} seeds",
                    self.spec.seeds.len()
                ),
                ours,
            ),
            panel(
                "default pod list: the study (published), mean of 10 seeds",
                study,
            ),
        ]))
    }

    /// Unallocated GPUs at 100% asked for, per family of pod lists (the
    /// study's figures 11 to 14), aimsim solid beside the study.
    fn variants_chart(&self) -> Option<String> {
        let families = ["cpu", "gpushare", "gpuspec", "multigpu"];
        let cells = self.cells();
        let mut panels = Vec::new();
        for family in families {
            // Per policy, aimsim's series then the study's, in every panel in
            // the same order (so a series keeps its style from panel to panel).
            let mut series = Vec::new();
            for &policy in &self.spec.policies {
                let mut ours = Vec::new();
                let mut theirs = Vec::new();
                for cell in cells
                    .iter()
                    .filter(|c| c.policy == policy && c.variant.starts_with(family))
                {
                    let Ok(x) = cell.variant[family.len()..].parse::<f64>() else {
                        continue;
                    };
                    if let Some(e) = cell.at(HEADLINE_X) {
                        ours.push((x, 100.0 - e.mean));
                    }
                    if let Some(s) = published(cell.variant, policy) {
                        theirs.push((x, 100.0 - s.at_100));
                    }
                }
                for (who, mut points) in [("aimsim", ours), ("study", theirs)] {
                    if !points.is_empty() {
                        points.sort_by(|a, b| a.0.total_cmp(&b.0));
                        series.push(Series {
                            name: format!("{} {who}", policy.study_name()),
                            points,
                        });
                    }
                }
            }
            if series.is_empty() {
                continue;
            }
            panels.push(LineChart {
                title: format!("{family}* pod lists: unallocated GPUs at {HEADLINE_X}% asked for"),
                x_label: format!("{family} variant (number in its name)"),
                y_label: "GPUs unallocated (%)".to_string(),
                series,
                ..LineChart::default()
            });
        }
        (!panels.is_empty()).then(|| render_stacked(&panels))
    }
}

/// The policies of `cells` from the highest allocation at 100% down, by
/// aimsim and by the study (`not published` when it has no figures).
fn rankings(cells: &[&Cell], variant: &str) -> (String, String) {
    let order = |mut v: Vec<(StudyPolicy, f64)>| {
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v.iter()
            .map(|p| p.0.study_name())
            .collect::<Vec<_>>()
            .join(" > ")
    };
    let ours: Vec<_> = cells
        .iter()
        .filter_map(|c| c.at(HEADLINE_X).map(|e| (c.policy, e.mean)))
        .collect();
    let theirs: Option<Vec<_>> = cells
        .iter()
        .map(|c| published(variant, c.policy).map(|s| (c.policy, s.at_100)))
        .collect();
    (
        order(ours),
        theirs.map_or("not published".to_string(), order),
    )
}

/// Where aimsim's run of the experiment differs from the study's, and why.
const SETUP_DIFFERENCES: &str = "## Where the setup differs from the study's

- **Random numbers.** The seeds drive aimsim's generator (ChaCha8), not Go's `math/rand`: the shuffle, the tuning draws and the node tie-break order are other draws of the same distributions, so runs agree with the study's over seeds, not pod for pod. The random policy draws from its own stream, so every policy of a seed sees the same arrivals (as in the study, where the seed fixes them before scheduling).
- **Ties.** The study breaks score ties by node name after renaming nodes with a seeded permutation; aimsim draws a permutation per seed and breaks ties by it: the same rule.
- **BestFit's normalisation** (min-max over the feasible nodes, integer) is left out: its raw scores lie in 0 to 100, where the normalisation is strictly increasing, so the chosen node is the same.
- **Random's node list.** The study's random policy picks uniformly from a feasible list whose order depends on its 16 filter goroutines; aimsim picks uniformly from the feasible nodes in its seeded tie-breaking order: the same distribution.
- **Bad rows are errors.** The study clamps a `gpu_milli` above 1000 to 1000 and panics on a multi-GPU pod with a share below 1000; aimsim refuses both with the file, line and column. No published pod list has either.
- **Floating point.** FGD's fragmentation is summed typical pod by typical pod; the study sums per quadrant first. Results can differ in the last bits, which can move a truncated integer score only at exact boundaries.
- **Not modelled:** the study's Kubernetes machinery (fake API server, informers), its pod-count limit per node (1001, never reached here), its deschedule and inflation steps (off in its published runs).
- **Unpublished pod lists** (cpu037, cpu072, cpu235, cpu300, gpushare20, gpuspec05) are in its repository but not in its artifact results: aimsim's figures for them have nothing to compare with.
";

/// `42 to 51` for consecutive seeds, else the list.
fn seeds_line(seeds: &[u64]) -> String {
    match (seeds.first(), seeds.last()) {
        (Some(&a), Some(&b)) if seeds.windows(2).all(|w| w[1] == w[0] + 1) && seeds.len() > 1 => {
            format!("{a} to {b}")
        }
        _ => seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}
