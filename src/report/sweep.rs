//! The reports of sweeps and plans: per-run and per-point CSV, a markdown
//! summary with the tables a reader wants first, and SVG charts.
//!
//! Everything here is a function of the rows (and a header), so the report
//! of merged shards is byte for byte the report of an unsharded run.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::hardware::{GpuKind, LayoutSpec};
use crate::profile::Precision;
use crate::schedule::Policy;
use crate::sweep::{mix_label, Cell, Estimate, FitCriterion, Mix, Needed, PlanRow, RunRow};

use super::svg::{LineChart, Series};
use super::{csv_text, decimal};

/// What a sweep or plan report says about where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyHeader {
    /// Scenario name.
    pub scenario: String,
    /// The command that reproduces it (without output or thread options).
    pub command: String,
    /// aimsim version.
    pub version: String,
    /// Seeds per grid point.
    pub seeds: u32,
    /// Fit rate counted as enough.
    pub target_fit: f64,
    /// Price per GPU-hour by kind.
    pub prices: BTreeMap<GpuKind, f64>,
}

const CELL_COLUMNS: [&str; 8] = [
    "cell", "mix_fp16", "mix_int8", "mix_int4", "kind", "layout", "policy", "gpus",
];

fn cell_cells(cell: &Cell, gpus: Option<u32>) -> Vec<String> {
    let (a, b, c) = match cell.mix {
        Some(m) => (m[0].to_string(), m[1].to_string(), m[2].to_string()),
        None => (String::new(), String::new(), String::new()),
    };
    vec![
        cell.index.to_string(),
        a,
        b,
        c,
        cell.kind.to_string(),
        cell.layout.to_string(),
        cell.policy.to_string(),
        gpus.map_or(String::new(), |g| g.to_string()),
    ]
}

const RUN_COLUMNS: [&str; 14] = [
    "replication",
    "seed",
    "arrivals",
    "placed",
    "rejected_no_capacity",
    "rejected_never_fits",
    "fit_rate",
    "gpus_busy_mean",
    "gpus_busy_peak",
    "gpus_online_peak",
    "utilisation_mean",
    "fragmentation_mean",
    "gpu_hours_online",
    "cost",
];

fn price(header: &StudyHeader, kind: GpuKind) -> Option<f64> {
    header.prices.get(&kind).copied()
}

/// `results.csv`: one row per grid point and seed, floats written exactly
/// (shortest round-trip form) so shards merge without loss.
pub fn results_csv(header: &StudyHeader, cells: &[Cell], rows: &[RunRow]) -> String {
    let columns: Vec<&str> = CELL_COLUMNS
        .iter()
        .chain(RUN_COLUMNS.iter())
        .copied()
        .collect();
    csv_text(
        &columns,
        rows.iter().map(|r| {
            let cell = &cells[r.cell];
            let mut out = cell_cells(cell, Some(r.gpus));
            out.extend([
                r.replication.to_string(),
                r.seed.to_string(),
                r.arrivals.to_string(),
                r.placed.to_string(),
                r.rejected_no_capacity.to_string(),
                r.rejected_never_fits.to_string(),
                r.fit_rate.to_string(),
                r.gpus_busy_mean.to_string(),
                r.gpus_busy_peak.to_string(),
                r.gpus_online_peak.to_string(),
                r.utilisation_mean.to_string(),
                r.fragmentation_mean.to_string(),
                r.gpu_hours_online.to_string(),
                price(header, cell.kind)
                    .map_or(String::new(), |p| (p * r.gpu_hours_online).to_string()),
            ]);
            out
        }),
    )
}

/// Reads `results.csv` back: the grid points it covers and its rows.
pub fn parse_results_csv(text: &str, source: &str) -> Result<(Vec<Cell>, Vec<RunRow>), String> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("{source}: {e}"))?
        .clone();
    let expected: Vec<&str> = CELL_COLUMNS
        .iter()
        .chain(RUN_COLUMNS.iter())
        .copied()
        .collect();
    if headers.iter().collect::<Vec<_>>() != expected {
        return Err(format!(
            "{source}: line 1: not a results.csv of this aimsim version (columns differ)"
        ));
    }
    let mut cells: BTreeMap<usize, Cell> = BTreeMap::new();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| format!("{source}: line {line}: {e}"))?;
        let field = |name: &str| {
            &record[expected
                .iter()
                .position(|c| *c == name)
                .expect("known column")]
        };
        let fail = |name: &str| {
            format!(
                "{source}: line {line}: column `{name}`: `{}` is not valid",
                field(name)
            )
        };
        macro_rules! parse {
            ($name:expr) => {
                field($name).parse().map_err(|_| fail($name))?
            };
        }
        let mix = if field("mix_fp16").is_empty() {
            None
        } else {
            Some([parse!("mix_fp16"), parse!("mix_int8"), parse!("mix_int4")])
        };
        let cell = Cell {
            index: parse!("cell"),
            mix,
            kind: parse!("kind"),
            layout: field("layout")
                .parse::<LayoutSpec>()
                .map_err(|_| fail("layout"))?,
            policy: parse!("policy"),
            gpus: Some(parse!("gpus")),
        };
        rows.push(RunRow {
            cell: cell.index,
            gpus: parse!("gpus"),
            replication: parse!("replication"),
            seed: parse!("seed"),
            arrivals: parse!("arrivals"),
            placed: parse!("placed"),
            rejected_no_capacity: parse!("rejected_no_capacity"),
            rejected_never_fits: parse!("rejected_never_fits"),
            fit_rate: parse!("fit_rate"),
            gpus_busy_mean: parse!("gpus_busy_mean"),
            gpus_busy_peak: parse!("gpus_busy_peak"),
            gpus_online_peak: parse!("gpus_online_peak"),
            utilisation_mean: parse!("utilisation_mean"),
            fragmentation_mean: parse!("fragmentation_mean"),
            gpu_hours_online: parse!("gpu_hours_online"),
        });
        cells.entry(cell.index).or_insert(cell);
    }
    Ok((cells.into_values().collect(), rows))
}

/// A grid point's estimates over its seeds.
#[derive(Debug, Clone)]
pub struct PointSummary {
    /// The point.
    pub cell: Cell,
    /// Fit rate.
    pub fit: Estimate,
    /// Time-weighted mean of GPUs holding a replica.
    pub gpus_busy: Estimate,
    /// Memory utilisation.
    pub utilisation: Estimate,
    /// Fragmentation.
    pub fragmentation: Estimate,
    /// Mean cost of a run, if the kind has a price.
    pub cost: Option<f64>,
}

/// Summarises `rows` per grid point, in grid order.
pub fn summarise(header: &StudyHeader, cells: &[Cell], rows: &[RunRow]) -> Vec<PointSummary> {
    let mut by_cell: BTreeMap<usize, Vec<&RunRow>> = BTreeMap::new();
    for row in rows {
        by_cell.entry(row.cell).or_default().push(row);
    }
    by_cell
        .into_iter()
        .map(|(index, runs)| {
            let of = |f: fn(&RunRow) -> f64| {
                Estimate::of(&runs.iter().map(|r| f(r)).collect::<Vec<_>>())
            };
            let cell = cells
                .iter()
                .find(|c| c.index == index)
                .expect("rows refer to known cells")
                .clone();
            let hours = of(|r| r.gpu_hours_online).mean;
            PointSummary {
                cost: price(header, cell.kind).map(|p| p * hours),
                fit: of(|r| r.fit_rate),
                gpus_busy: of(|r| r.gpus_busy_mean),
                utilisation: of(|r| r.utilisation_mean),
                fragmentation: of(|r| r.fragmentation_mean),
                cell,
            }
        })
        .collect()
}

fn estimate_cells(e: &Estimate) -> [String; 4] {
    let opt = |v: Option<f64>| v.map_or(String::new(), decimal);
    [
        decimal(e.mean),
        opt(e.sd),
        opt(e.half_width.map(|_| e.lower())),
        opt(e.half_width.map(|_| e.upper())),
    ]
}

/// `summary.csv`: one row per grid point with mean, standard deviation and
/// 95% confidence interval of each metric.
pub fn summary_csv(points: &[PointSummary]) -> String {
    let mut columns: Vec<String> = CELL_COLUMNS.iter().map(|c| c.to_string()).collect();
    columns.push("seeds".into());
    for metric in ["fit_rate", "gpus_busy", "utilisation", "fragmentation"] {
        for stat in ["mean", "sd", "ci95_low", "ci95_high"] {
            columns.push(format!("{metric}_{stat}"));
        }
    }
    columns.push("cost_per_run_mean".into());
    let refs: Vec<&str> = columns.iter().map(String::as_str).collect();
    csv_text(
        &refs,
        points.iter().map(|p| {
            let mut row = cell_cells(&p.cell, p.cell.gpus);
            row.push(p.fit.n.to_string());
            for e in [&p.fit, &p.gpus_busy, &p.utilisation, &p.fragmentation] {
                row.extend(estimate_cells(e));
            }
            row.push(p.cost.map_or(String::new(), decimal));
            row
        }),
    )
}

/// A (kind, layout, policy) combination: a row of the "GPUs needed" tables.
type Setup = (GpuKind, String, Policy);

fn setup(cell: &Cell) -> Setup {
    (cell.kind, cell.layout.to_string(), cell.policy)
}

/// The pure mix of `precision`.
fn pure(precision: Precision) -> Mix {
    let mut mix = [0.0; 3];
    mix[precision.index()] = 1.0;
    mix
}

/// What a sweep says of the fleet a setup needs at a mix: the smallest
/// swept size whose mean fit reaches the target, and the largest swept size
/// below it (the answer lies between).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SweptNeed {
    /// Reached at `gpus`; `below` is the next smaller swept size, if any.
    Within { below: Option<u32>, gpus: u32 },
    /// Not reached at any swept size up to this one.
    Beyond(u32),
}

impl SweptNeed {
    fn text(self) -> String {
        match self {
            SweptNeed::Within { below: None, gpus } => format!("<= {gpus}"),
            SweptNeed::Within {
                below: Some(b),
                gpus,
            } => format!("{}-{gpus}", b + 1),
            SweptNeed::Beyond(max) => format!("> {max}"),
        }
    }
}

/// For each setup and mix (in grid order), what the sweep says it needs.
fn needed_from_sweep(points: &[PointSummary], target: f64) -> Vec<(Setup, Option<Mix>, SweptNeed)> {
    // Per setup and mix, the swept sizes and whether each reached the target.
    type Swept = (Setup, Option<Mix>, Vec<(u32, bool)>);
    let mut found: Vec<Swept> = Vec::new();
    for p in points {
        let (s, mix) = (setup(&p.cell), p.cell.mix);
        let size = (
            p.cell.gpus.expect("sweep points have a size"),
            p.fit.mean >= target,
        );
        match found.iter_mut().find(|(fs, fm, _)| *fs == s && *fm == mix) {
            Some(entry) => entry.2.push(size),
            None => found.push((s, mix, vec![size])),
        }
    }
    found
        .into_iter()
        .map(|(s, mix, mut swept)| {
            swept.sort_unstable();
            let need = match swept.iter().position(|&(_, ok)| ok) {
                Some(i) => SweptNeed::Within {
                    below: i.checked_sub(1).map(|j| swept[j].0),
                    gpus: swept[i].0,
                },
                None => SweptNeed::Beyond(swept.last().map_or(0, |l| l.0)),
            };
            (s, mix, need)
        })
        .collect()
}

/// The "GPUs needed at FP16 / INT8 / INT4" table. `cell(setup, mix)` gives
/// a cell's text and, when exact, its GPU count (for the savings and cost
/// columns, shown when `exact`).
fn needed_table(
    header: &StudyHeader,
    setups: &[Setup],
    cell: impl Fn(&Setup, &Mix) -> Option<(String, Option<u32>)>,
    exact: bool,
) -> String {
    let priced = exact && !header.prices.is_empty();
    let mut md = String::from("| kind | layout | policy | FP16 | INT8 | INT4 |");
    let mut rule = String::from("|---|---|---|---:|---:|---:|");
    if exact {
        md.push_str(" INT8 vs FP16 | INT4 vs FP16 |");
        rule.push_str("---:|---:|");
    }
    if priced {
        md.push_str(" cost/h FP16 | cost/h INT4 |");
        rule.push_str("---:|---:|");
    }
    md.push('\n');
    md.push_str(&rule);
    md.push('\n');
    for s in setups {
        let at = |p: Precision| cell(s, &pure(p));
        let text = |p: Precision| at(p).map_or("-".to_string(), |c| c.0);
        let gpus = |p: Precision| at(p).and_then(|c| c.1);
        let _ = write!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            s.0,
            s.1,
            s.2,
            text(Precision::Fp16),
            text(Precision::Int8),
            text(Precision::Int4)
        );
        if exact {
            for p in [Precision::Int8, Precision::Int4] {
                let saving = match (gpus(Precision::Fp16), gpus(p)) {
                    (Some(f), Some(q)) if f > 0 => {
                        format!("{:+.0}%", (f64::from(q) / f64::from(f) - 1.0) * 100.0)
                    }
                    _ => "-".into(),
                };
                let _ = write!(md, " {saving} |");
            }
        }
        if priced {
            for p in [Precision::Fp16, Precision::Int4] {
                let cost = match (price(header, s.0), gpus(p)) {
                    (Some(unit), Some(g)) => format!("{:.2}", unit * f64::from(g)),
                    _ => "-".into(),
                };
                let _ = write!(md, " {cost} |");
            }
        }
        md.push('\n');
    }
    md
}

fn distinct_setups<'a>(cells: impl Iterator<Item = &'a Cell>) -> Vec<Setup> {
    let mut setups: Vec<Setup> = Vec::new();
    for cell in cells {
        let s = setup(cell);
        if !setups.contains(&s) {
            setups.push(s);
        }
    }
    setups
}

/// The title and provenance line of a summary.
fn heading(kind: &str, header: &StudyHeader) -> String {
    format!(
        "# {kind}: {}\n\nGenerated by `{}` (aimsim {}).\n",
        header.scenario, header.command, header.version
    )
}

/// `summary.md` of a sweep.
pub fn sweep_markdown(header: &StudyHeader, points: &[PointSummary], runs: usize) -> String {
    let mut md = heading("Sweep", header);
    let _ = writeln!(
        md,
        "{} grid points x {} seeds = {runs} runs. Fit rates are means over seeds; `summary.csv` has every point with 95% confidence intervals, `results.csv` every run.\n",
        points.len(),
        header.seeds
    );
    let needed = needed_from_sweep(points, header.target_fit);
    let setups = distinct_setups(points.iter().map(|p| &p.cell));
    let has_pure = needed
        .iter()
        .any(|(_, m, _)| m.is_some_and(|m| m.contains(&1.0)));
    if has_pure {
        let _ = writeln!(
            md,
            "## GPUs needed for a fit rate of at least {}\n",
            header.target_fit
        );
        md.push_str("Between the largest swept fleet that falls short and the smallest whose mean fit rate reaches the target (`<= N`: the smallest swept already does; `> N`: not even the largest swept). `aimsim plan` finds the exact count.\n\n");
        md.push_str(&needed_table(
            header,
            &setups,
            |s, mix| {
                needed
                    .iter()
                    .find(|(ns, m, _)| ns == s && *m == Some(*mix))
                    .map(|(_, _, n)| (n.text(), None))
            },
            false,
        ));
        md.push('\n');
    }
    md.push_str("## Fit rate by grid point\n\n| mix | kind | layout | policy | GPUs | fit rate | 95% CI | GPUs busy | utilisation | fragmentation |\n|---|---|---|---|---:|---:|---|---:|---:|---:|\n");
    for p in points {
        let ci = p.fit.half_width.map_or("-".to_string(), |_| {
            format!("{:.4} - {:.4}", p.fit.lower(), p.fit.upper())
        });
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {:.4} | {} | {:.2} | {:.3} | {:.3} |",
            p.cell
                .mix
                .map_or("as in the workload".into(), |m| mix_label(&m)),
            p.cell.kind,
            p.cell.layout,
            p.cell.policy,
            p.cell.gpus.unwrap_or(0),
            p.fit.mean,
            ci,
            p.gpus_busy.mean,
            p.utilisation.mean,
            p.fragmentation.mean
        );
    }
    md
}

/// The sweep's charts: fit rate against fleet size for each policy (one
/// line per layout and pure precision), and GPUs needed against the INT4
/// share on the FP16-INT4 edge. Empty when the grid has one fleet size.
pub fn sweep_charts(header: &StudyHeader, points: &[PointSummary]) -> Vec<(String, String)> {
    let entries: Vec<(&Cell, u32, f64)> = points
        .iter()
        .map(|p| (&p.cell, p.cell.gpus.unwrap_or(0), p.fit.mean))
        .collect();
    let mut charts = fit_vs_gpus_charts(header, &entries);
    if charts.is_empty() {
        // One fleet size: how the fit rate moves with the INT4 share instead.
        return fit_vs_int4_chart(header, points)
            .map(|c| vec![("fit-vs-int4.svg".to_string(), c)])
            .unwrap_or_default();
    }
    let needed = needed_from_sweep(points, header.target_fit);
    let edge: Vec<(Setup, f64, u32)> = needed
        .iter()
        .filter_map(|(s, m, n)| match (m, n) {
            (Some(m), SweptNeed::Within { gpus, .. }) if m[1] == 0.0 => {
                Some((s.clone(), m[2], *gpus))
            }
            _ => None,
        })
        .collect();
    if let Some(chart) = gpus_vs_int4_chart(header, &edge) {
        charts.push(("gpus-vs-int4.svg".into(), chart));
    }
    charts
}

/// Fit rate against fleet size, one chart per policy, one line per layout
/// and pure precision (or per layout when the workload's mix is not swept).
/// `entries` are (point, fleet size, mean fit rate); none without at least
/// two fleet sizes.
fn fit_vs_gpus_charts(
    header: &StudyHeader,
    entries: &[(&Cell, u32, f64)],
) -> Vec<(String, String)> {
    let first_size = entries.first().map(|e| e.1);
    if entries.iter().all(|e| Some(e.1) == first_size) {
        return Vec::new();
    }
    let mut policies: Vec<Policy> = Vec::new();
    for (cell, _, _) in entries {
        if !policies.contains(&cell.policy) {
            policies.push(cell.policy);
        }
    }
    let mut charts = Vec::new();
    for policy in policies {
        let series = Series::group(entries.iter().filter(|e| e.0.policy == policy).filter_map(
            |&(cell, gpus, fit)| {
                // Pure precisions only (or the workload's own mix).
                let precision = match cell.mix {
                    None => String::new(),
                    Some(m) => format!(" {}", Precision::ALL.into_iter().find(|&q| m == pure(q))?),
                };
                Some((
                    format!("{} {}{precision}", cell.kind, cell.layout),
                    (f64::from(gpus), fit),
                ))
            },
        ));
        if !series.is_empty() {
            let chart = LineChart {
                title: format!(
                    "{}: fit rate against fleet size ({policy})",
                    header.scenario
                ),
                x_label: "GPUs".into(),
                y_label: "fit rate (mean over seeds)".into(),
                series,
                reference: Some((header.target_fit, format!("target {}", header.target_fit))),
            };
            charts.push((format!("fit-vs-gpus-{policy}.svg"), chart.render()));
        }
    }
    charts
}

/// Fit rate against the INT4 share (mixes without INT8), one line per
/// setup and fleet size; `None` without two such mixes.
fn fit_vs_int4_chart(header: &StudyHeader, points: &[PointSummary]) -> Option<String> {
    let mut series = Series::group(points.iter().filter_map(|p| {
        let mix = p.cell.mix.filter(|m| m[1] == 0.0)?;
        let name = format!(
            "{} {} {} x {}",
            p.cell.kind,
            p.cell.layout,
            p.cell.policy,
            p.cell.gpus.unwrap_or(0)
        );
        Some((name, (mix[2], p.fit.mean)))
    }));
    series.retain(|s| s.points.len() >= 2);
    if series.is_empty() {
        return None;
    }
    Some(
        LineChart {
            title: format!("{}: fit rate against INT4 share", header.scenario),
            x_label: "INT4 share of deployments (rest FP16)".into(),
            y_label: "fit rate (mean over seeds)".into(),
            series,
            reference: Some((header.target_fit, format!("target {}", header.target_fit))),
        }
        .render(),
    )
}

/// GPUs needed against INT4 share, one line per setup; `None` without at
/// least two mixes on the FP16-INT4 edge.
fn gpus_vs_int4_chart(header: &StudyHeader, edge: &[(Setup, f64, u32)]) -> Option<String> {
    let mut series = Series::group(edge.iter().map(|(s, int4, gpus)| {
        (
            format!("{} {} {}", s.0, s.1, s.2),
            (*int4, f64::from(*gpus)),
        )
    }));
    series.retain(|s| s.points.len() >= 2);
    if series.is_empty() {
        return None;
    }
    Some(
        LineChart {
            title: format!(
                "{}: GPUs needed for fit rate {} against INT4 share",
                header.scenario, header.target_fit
            ),
            x_label: "INT4 share of deployments (rest FP16)".into(),
            y_label: "GPUs needed".into(),
            series,
            reference: None,
        }
        .render(),
    )
}

/// `plan.csv`: one row per grid point.
pub fn plan_csv(header: &StudyHeader, criterion: FitCriterion, rows: &[PlanRow]) -> String {
    let mut columns: Vec<&str> = CELL_COLUMNS[..7].to_vec();
    columns.extend([
        "criterion",
        "target_fit",
        "gpus_needed",
        "fit_mean_at_needed",
        "fit_ci95_low_at_needed",
        "reachable_fit",
        "elastic_peak_mean",
        "elastic_peak_sd",
        "l1_bound",
        "l2_bound",
        "price_per_gpu_hour",
        "cost_per_hour",
        "runs",
    ]);
    csv_text(
        &columns,
        rows.iter().map(|r| {
            let mut row = cell_cells(&r.cell, None);
            row.pop();
            let p = price(header, r.cell.kind);
            row.extend([
                criterion.name().to_string(),
                header.target_fit.to_string(),
                r.needed.gpus().map_or(String::new(), |g| g.to_string()),
                r.fit.map_or(String::new(), |f| decimal(f.mean)),
                r.fit.map_or(String::new(), |f| decimal(f.lower())),
                decimal(r.reachable.mean),
                decimal(r.elastic_peak.mean),
                r.elastic_peak.sd.map_or(String::new(), decimal),
                r.bounds.map_or(String::new(), |b| decimal(b.l1)),
                r.bounds.and_then(|b| b.l2).map_or(String::new(), decimal),
                p.map_or(String::new(), |p| p.to_string()),
                match (p, r.needed.gpus()) {
                    (Some(p), Some(g)) => decimal(p * f64::from(g)),
                    _ => String::new(),
                },
                r.runs.to_string(),
            ]);
            row
        }),
    )
}

/// `searches.csv`: every fleet size a plan's search ran, with its fit rate,
/// so the answer can be checked (the size below it falls short).
pub fn plan_searches_csv(rows: &[PlanRow]) -> String {
    let mut columns: Vec<&str> = CELL_COLUMNS[..7].to_vec();
    columns.extend(["gpus", "fit_mean", "fit_ci95_low", "fit_ci95_high"]);
    csv_text(
        &columns,
        rows.iter().flat_map(|r| {
            r.evaluated.iter().map(move |(gpus, e)| {
                let mut row = cell_cells(&r.cell, None);
                row.pop();
                row.extend([
                    gpus.to_string(),
                    decimal(e.mean),
                    decimal(e.lower()),
                    decimal(e.upper()),
                ]);
                row
            })
        }),
    )
}

/// `summary.md` of a plan.
pub fn plan_markdown(header: &StudyHeader, criterion: FitCriterion, rows: &[PlanRow]) -> String {
    let mut md = heading("Capacity plan", header);
    md.push('\n');
    let _ = writeln!(
        md,
        "GPUs needed: the smallest fixed fleet whose fit rate ({} over {} seeds) reaches {}, found by bisection on the fleet size. `unreachable`: some requests can never fit this GPU kind and layout, so no fleet reaches the target.\n",
        match criterion {
            FitCriterion::Mean => "the mean",
            FitCriterion::LowerBound => "the lower end of the 95% confidence interval",
        },
        header.seeds,
        header.target_fit
    );
    let setups = distinct_setups(rows.iter().map(|r| &r.cell));
    let has_pure = rows
        .iter()
        .any(|r| r.cell.mix.is_some_and(|m| m.contains(&1.0)));
    if has_pure {
        md.push_str("## GPUs needed at FP16, INT8 and INT4\n\n");
        md.push_str(&needed_table(
            header,
            &setups,
            |s, mix| {
                let r = rows
                    .iter()
                    .find(|r| &setup(&r.cell) == s && r.cell.mix == Some(*mix))?;
                let text = match r.needed {
                    Needed::Unreachable => {
                        format!("unreachable ({:.1}% can fit)", r.reachable.mean * 100.0)
                    }
                    other => other.to_string(),
                };
                Some((text, r.needed.gpus()))
            },
            true,
        ));
        md.push('\n');
    }
    md.push_str("## Every grid point\n\n| mix | kind | layout | policy | GPUs needed | fit at that size | reachable fit | elastic peak | L1 | L2 | cost per hour |\n|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        let price = price(header, r.cell.kind);
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {:.4} | {:.1} | {} | {} | {} |",
            r.cell
                .mix
                .map_or("as in the workload".into(), |m| mix_label(&m)),
            r.cell.kind,
            r.cell.layout,
            r.cell.policy,
            r.needed,
            r.fit.map_or("-".into(), |f| format!("{:.4}", f.mean)),
            r.reachable.mean,
            r.elastic_peak.mean,
            r.bounds.map_or("-".into(), |b| format!("{:.1}", b.l1)),
            r.bounds
                .and_then(|b| b.l2)
                .map_or("-".into(), |l| format!("{l:.1}")),
            match (price, r.needed.gpus()) {
                (Some(p), Some(g)) => format!("{:.2}", p * f64::from(g)),
                _ => "-".into(),
            }
        );
    }
    md.push_str("\nReachable fit: the fit rate of an unbounded elastic fleet, the share of requests that can fit this GPU kind and layout at all. Elastic peak: the GPUs that fleet brings online when it adds one whenever nothing fits and never releases one.\n");
    if rows.iter().any(|r| r.bounds.is_some()) {
        md.push_str("\nThe workload is static (everything arrives at once): L1 = ceil(total memory / memory of one GPU) and L2 = the Martello-Toth bound on partitions, per GPU, are lower bounds on the GPUs any placement needs; the elastic peak is what the policy used.\n");
    }
    md
}

/// The plan's charts: GPUs needed against the INT4 share, and the fit rate
/// at every fleet size the search ran.
pub fn plan_charts(header: &StudyHeader, rows: &[PlanRow]) -> Vec<(String, String)> {
    let edge: Vec<(Setup, f64, u32)> = rows
        .iter()
        .filter_map(|r| match (r.cell.mix, r.needed) {
            (Some(m), Needed::Gpus(g)) if m[1] == 0.0 => Some((setup(&r.cell), m[2], g)),
            _ => None,
        })
        .collect();
    let mut charts: Vec<(String, String)> = gpus_vs_int4_chart(header, &edge)
        .map(|c| vec![("gpus-vs-int4.svg".to_string(), c)])
        .unwrap_or_default();
    let entries: Vec<(&Cell, u32, f64)> = rows
        .iter()
        .flat_map(|r| r.evaluated.iter().map(move |(g, e)| (&r.cell, *g, e.mean)))
        .collect();
    charts.extend(fit_vs_gpus_charts(header, &entries));
    charts
}
