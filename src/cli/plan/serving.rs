//! `aimsim plan` on a serving scenario (one with `[traffic]`, `[slo]` and
//! `[plan]`): the fewest GPUs per kind, layout, precision and policy that
//! serve the traffic within the SLO, with the simulations that show it.

use std::path::PathBuf;

use aimsim::capacity::mixed::ModelSpace;
use aimsim::capacity::CellPlan;
use aimsim::capacity::{plan, Cell, PlanContext, RatedTraffic};
use aimsim::perf::FITTED;
use aimsim::profile::{ArchitectureTable, Catalog};
use aimsim::report::capacity::{
    capacity_chart, capacity_markdown, capacity_models_csv, capacity_plan_csv,
    capacity_searches_csv, CapacityReport,
};
use aimsim::report::deployment::deployment_json;
use aimsim::report::mixed::{mixed_csv, pareto_chart};
use aimsim::report::mixed_tables::{compositions_csv, configs_csv};
use aimsim::scenario::answer::{answer_scenario, Answer, AnswerDeployment, Origin};
use aimsim::scenario::{ServePlanSpec, ServeScenario};
use aimsim::serve::traffic::{Recorded, MAX_RECORDED};
use aimsim::serve::ReplicaMemory;
use aimsim::sim::GpuGroup;

use super::mixed::{mixed_answer, mixed_plans};
use crate::cli::inputs::{open_traffic, scenario_dir};
use crate::cli::output::{check_out, default_out, write_report};
use crate::cli::progress::{progress_bar, with_threads};
use crate::cli::study::StudyArgs;
use crate::cli::CliError;

/// Whether `text` is a serving scenario (it has a `[traffic]` table).
pub fn is_serving(text: &str) -> bool {
    text.parse::<toml::Table>()
        .is_ok_and(|t| t.contains_key("traffic"))
}

/// A serving plan's inputs, read and checked: the scenario, its grid and
/// its traffic recorded at every rate.
pub(super) struct Inputs {
    /// The scenario file, for errors.
    pub file: String,
    /// The scenario, at `--rate-scale` when given.
    pub scenario: ServeScenario,
    /// Its `[plan]`.
    pub spec: ServePlanSpec,
    /// Model architectures (the built-in table).
    pub architectures: ArchitectureTable,
    /// The trace read, if the traffic reads one.
    pub trace: Option<PathBuf>,
    /// The traffic at each of `plan.rate_scales`.
    pub traffic: Vec<RatedTraffic>,
    /// The models the traffic names, in its target order.
    pub models: Vec<String>,
}

impl Inputs {
    /// Reads the serving scenario `text` of `args.scenario`, its traffic at
    /// `rate_scale` times its rate when given.
    pub(super) fn read(
        args: &StudyArgs,
        rate_scale: Option<f64>,
        text: &str,
        catalog: &Catalog,
    ) -> Result<Inputs, CliError> {
        let file = args.scenario.display().to_string();
        let mut scenario = ServeScenario::parse(text, &file, &args.overrides)?;
        scenario.check_models(catalog, &file)?;
        if let Some(factor) = rate_scale {
            scenario
                .traffic
                .scale_rate(factor)
                .map_err(|e| CliError::Usage(format!("--rate-scale: {e}")))?;
        }
        let spec = scenario.plan.clone().ok_or_else(|| {
            CliError::Usage(format!(
                "{file}: no [plan] table; add one to say which kinds, layouts and precisions to plan (scenarios/README.md), or run `aimsim serve` on it"
            ))
        })?;
        let architectures = ArchitectureTable::builtin();
        let dir = scenario_dir(&args.scenario);
        let trace = scenario.trace_path(dir, args.trace.as_deref());
        let mut traffic: Vec<RatedTraffic> = Vec::with_capacity(spec.rate_scales.len());
        for &scale in &spec.rate_scales {
            let held: usize = traffic.iter().map(|t| t.recorded.len()).sum();
            let mut rated = scenario.traffic.clone();
            rated
                .scale_rate(scale)
                .map_err(|e| CliError::Usage(format!("{file}: plan.rate_scales: {e}")))?;
            let mut stream = open_traffic(&rated, trace.as_deref(), dir, &scenario)?;
            traffic.push(RatedTraffic {
                rate_scale: scale,
                recorded: Recorded::record(&mut stream, MAX_RECORDED - held)?,
            });
        }
        for target in traffic[0].recorded.targets() {
            catalog.model(&target.model).map_err(|e| {
                CliError::Found(format!("{file}: the trace names `{}`: {e}", target.model))
            })?;
            if architectures.get(&target.model).is_none() {
                return Err(CliError::Usage(format!(
                    "{file}: no architecture for `{}` in aim_profiles/architectures.csv",
                    target.model
                )));
            }
        }
        let models: Vec<String> = traffic[0]
            .recorded
            .targets()
            .iter()
            .map(|t| t.model.clone())
            .collect();
        too_long(
            &file,
            &scenario,
            &architectures,
            &models,
            &traffic[0].recorded,
        )?;
        Ok(Inputs {
            file,
            scenario,
            spec,
            architectures,
            trace,
            traffic,
            models,
        })
    }

    /// What every search of the plan shares.
    pub(super) fn context<'a>(&'a self, catalog: &'a Catalog) -> PlanContext<'a> {
        PlanContext {
            catalog,
            architectures: &self.architectures,
            measured: None,
            efficiency: FITTED,
            engine: self.scenario.engine,
            routing: self.scenario.routing,
            slo: self.scenario.slo,
            seed: self.scenario.seed,
            warmup: self.scenario.warmup,
            max_in_system: self.scenario.max_in_system,
            max_gpus: self.spec.max_gpus,
            node: self.scenario.fleet.node,
        }
    }
}

/// Requests longer than their model's context are refused by every engine:
/// an error when more of them are measured than the SLO's percentile
/// allows to miss (no fleet can meet it), a warning otherwise.
fn too_long(
    file: &str,
    scenario: &ServeScenario,
    architectures: &ArchitectureTable,
    models: &[String],
    recorded: &Recorded,
) -> Result<(), CliError> {
    for (m, model) in models.iter().enumerate() {
        let context = architectures.get(model).map_or(u32::MAX, |a| a.max_context);
        let measured = recorded
            .requests()
            .iter()
            .filter(|r| r.target as usize == m && r.arrival >= scenario.warmup);
        let (mut count, mut long, mut longest) = (0u64, 0u64, 0u64);
        for r in measured {
            count += 1;
            let tokens = u64::from(r.prompt) + u64::from(r.output);
            if tokens > u64::from(context) {
                long += 1;
                longest = longest.max(tokens);
            }
        }
        if long == 0 {
            continue;
        }
        let what = format!(
            "{long} of {count} measured requests for {model} ask for more tokens than its context of {context} (the longest {longest}), and every engine refuses them"
        );
        if long as f64 > (1.0 - scenario.slo.percentile) * count as f64 {
            return Err(CliError::Usage(format!(
                "{file}: {what}: no fleet can meet the SLO for {} of requests; cap the traffic's lengths (`max` of its distributions) or serve a model with a longer context",
                scenario.slo.percentile
            )));
        }
        eprintln!("warning: {what}; they count as misses");
    }
    Ok(())
}

/// Plans `inputs` whole and writes its report; `measured`, when given,
/// holds every model's measured space at every rate (from shards), which
/// the mixed plan then does not measure again.
pub(super) fn report(
    args: &StudyArgs,
    rate_scale: Option<f64>,
    text: &str,
    inputs: &Inputs,
    catalog: &Catalog,
    measured: Option<Vec<Vec<ModelSpace>>>,
) -> Result<(), CliError> {
    let Inputs {
        file,
        scenario,
        spec,
        trace,
        traffic,
        models,
        ..
    } = inputs;
    let file = file.as_str();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&scenario.name, "plan"));
    check_out(&out)?;
    let dir = scenario_dir(&args.scenario);
    let cells = grid(spec, traffic.len());
    let context = inputs.context(catalog);
    let bar = progress_bar(cells.len() as u64, "cells");
    let plans = with_threads(args.threads, || {
        plan(&context, &cells, traffic, |_| bar.inc(1))
    })?
    .map_err(|e| CliError::Usage(format!("{file}: {e}")))?;
    bar.finish_and_clear();
    let mixed = if spec.mixed {
        mixed_plans(
            &context,
            spec,
            scenario,
            traffic,
            models,
            args.threads,
            measured,
        )?
    } else {
        Vec::new()
    };
    let (mixed_plans_only, held): (Vec<_>, Vec<_>) =
        mixed.into_iter().map(|m| (m.plan, m.held)).unzip();
    let mixed = &mixed_plans_only;
    let rates: Vec<f64> = traffic
        .iter()
        .map(|t| measured_rate(&t.recorded, scenario))
        .collect();
    let mut command = format!("aimsim plan {file}");
    for set in &args.overrides {
        command.push_str(&format!(" --set '{set}'"));
    }
    if let Some(trace) = &args.trace {
        command.push_str(&format!(" --trace {}", trace.display()));
    }
    if let Some(factor) = rate_scale {
        command.push_str(&format!(" --rate-scale {factor}"));
    }
    let setup = format!(
        "engine: max_seqs {}, max_batched_tokens {}, chunked prefill {}, {}-bit KV cache; each replica given `{}` memory ({}); replicas placed by each cell's policy; routing {}; {}. Each answer is written beside this file as a serving scenario (`answer-KIND-LAYOUT-PRECISION-POLICY-xSCALE.toml`) that `aimsim serve` replays to the same figures",
        scenario.engine.limits.max_seqs,
        scenario.engine.limits.max_batched_tokens,
        if scenario.engine.chunked_prefill { "on" } else { "off" },
        scenario.engine.kv_cache.bytes() * 8.0,
        scenario.engine.memory,
        match scenario.engine.memory {
            ReplicaMemory::Partition => format!(
                "its whole partition, {:.0}% taken by the engine",
                scenario.engine.limits.memory_utilization * 100.0
            ),
            ReplicaMemory::Profile => {
                "the catalog profile's quota; a model missing the SLO beside co-tenants reserves more".to_string()
            }
            ReplicaMemory::Fixed(_) => "that much on each GPU".to_string(),
        },
        scenario.routing,
        window_text(scenario),
    );
    let traffic_text = scenario.traffic.describe(trace.as_deref());
    let report = CapacityReport {
        scenario: &scenario.name,
        description: scenario.description.as_deref(),
        command: &command,
        traffic: &traffic_text,
        models,
        rates: &rates,
        rate_scales: &spec.rate_scales,
        slo: &scenario.slo,
        setup: &setup,
        prices: &scenario.prices,
        plans: &plans,
        mixed: &mixed_plans_only,
        held: &held,
        node_gpus: scenario.fleet.node.gpus,
        limits: scenario.engine.limits,
    };
    let mut files = vec![
        ("plan.csv".to_string(), capacity_plan_csv(&report)),
        ("models.csv".to_string(), capacity_models_csv(&report)),
        ("searches.csv".to_string(), capacity_searches_csv(&report)),
        ("summary.md".to_string(), capacity_markdown(&report)),
    ];
    files.extend(capacity_chart(&report).map(|c| ("gpus-vs-rate.svg".to_string(), c)));
    if !mixed.is_empty() {
        files.push(("mixed.csv".to_string(), mixed_csv(&report)));
        files.push(("configs.csv".to_string(), configs_csv(&report)));
        files.push(("compositions.csv".to_string(), compositions_csv(&report)));
    }
    let origin = Origin {
        text,
        file,
        overrides: &args.overrides,
        dir,
        trace: args.trace.as_deref(),
    };
    for plan in &plans {
        if let Some(answer) = answer_of(scenario, spec, models, plan) {
            let name = answer.name.clone();
            files.push((
                format!("{name}.toml"),
                answer_scenario(&origin, &answer, &out)?,
            ));
        }
    }
    for (r, plan) in mixed.iter().enumerate() {
        let scale = spec.rate_scales[r];
        files.extend(pareto_chart(&report, r).map(|c| (format!("pareto-x{scale}.svg"), c)));
        if let (Some(answer), Some(step)) = (mixed_answer(scenario, plan, scale), plan.answer()) {
            files.push((
                format!("{}.toml", answer.name),
                answer_scenario(&origin, &answer, &out)?,
            ));
            files.push((
                format!("deployment-mixed-x{scale}.json"),
                deployment_json(plan, step, &scenario.engine, catalog),
            ));
        }
    }
    write_report(&out, &files)?;
    args.print_report(
        &files,
        if mixed.is_empty() {
            "plan.csv"
        } else {
            "mixed.csv"
        },
    );
    match unmet(&report) {
        Some(why) => Err(CliError::Found(format!(
            "{why} (the report is written to {})",
            out.display()
        ))),
        None => Ok(()),
    }
}

/// Why the plan found no fleet at some rate, if it did not: neither the
/// mixed plan nor any cell met the SLO there (the mixed plan's reason when
/// it ran).
fn unmet(report: &CapacityReport) -> Option<String> {
    (0..report.rates.len())
        .find(|&r| {
            let cell_met = report
                .plans
                .iter()
                .any(|p| p.cell.traffic == r && p.answer.is_some());
            let mixed_met = report.mixed.get(r).is_some_and(|m| m.answer.is_some());
            !cell_met && !mixed_met
        })
        .map(|r| {
            let why = report
                .mixed
                .get(r)
                .map(|m| format!(": {}: {}", m.verdict.label(), m.verdict.reason()))
                .unwrap_or_default();
            format!(
                "no fleet meets the SLO at {:.1} requests/s ({}x){why}",
                report.rates[r], report.rate_scales[r]
            )
        })
}

/// The serving scenario of a cell's answer, if it has one.
fn answer_of<'a>(
    scenario: &ServeScenario,
    spec: &ServePlanSpec,
    models: &'a [String],
    plan: &'a CellPlan,
) -> Option<Answer<'a>> {
    let evaluation = plan.answer.as_ref()?;
    let cell = &plan.cell;
    let scale = spec.rate_scales[cell.traffic];
    let layout_name: String = cell
        .layout
        .to_string()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let name = format!(
        "answer-{}-{layout_name}-{}-{}-x{scale}",
        cell.kind, cell.precision, cell.policy
    );
    let deployments = models
        .iter()
        .enumerate()
        .filter(|&(m, _)| evaluation.replicas[m] > 0)
        .map(|(m, model)| AnswerDeployment {
            model,
            precision: cell.precision,
            tp: None,
            knobs: Default::default(),
            replicas: evaluation.replicas[m],
            memory: evaluation.memory[m],
            placement: &evaluation.placements[m],
        })
        .collect();
    Some(Answer {
        description: format!(
            "{}: the answer of `aimsim plan` for {} x {} {} at {}, placed {}, traffic x{scale}",
            scenario.name, evaluation.gpus, cell.kind, cell.layout, cell.precision, cell.policy
        ),
        name,
        groups: vec![GpuGroup {
            kind: cell.kind,
            count: evaluation.gpus,
            layout: cell.layout.clone(),
        }],
        policy: cell.policy,
        deployments,
        pace: scenario.traffic.pace().times(scale),
    })
}

/// Every cell: kinds x layouts x precisions x policies x rates, in that
/// nesting (rates innermost).
fn grid(spec: &ServePlanSpec, rates: usize) -> Vec<Cell> {
    let mut cells = Vec::with_capacity(spec.cells());
    for &kind in &spec.kinds {
        for layout in &spec.layouts {
            for &precision in &spec.precisions {
                for &policy in &spec.policies {
                    for traffic in 0..rates {
                        cells.push(Cell {
                            kind,
                            layout: layout.clone(),
                            precision,
                            policy,
                            traffic,
                        });
                    }
                }
            }
        }
    }
    cells
}

/// Requests per second arriving in the measured window.
fn measured_rate(recorded: &Recorded, scenario: &ServeScenario) -> f64 {
    let warmup = scenario.warmup.0;
    let requests = recorded.requests();
    let measured = requests.iter().filter(|r| r.arrival.0 >= warmup).count();
    let end = scenario
        .horizon
        .map_or_else(|| requests.last().map_or(0, |r| r.arrival.0), |h| h.0);
    let seconds = end.saturating_sub(warmup) as f64 / 1e9;
    if seconds > 0.0 {
        measured as f64 / seconds
    } else {
        0.0
    }
}

fn window_text(scenario: &ServeScenario) -> String {
    let secs = |n: u64| n as f64 / 1e9;
    match scenario.horizon {
        Some(h) => format!(
            "arrivals over {} s, each simulation run until every request has finished, the first {} s of arrivals not measured",
            secs(h.0),
            secs(scenario.warmup.0)
        ),
        None => format!(
            "each simulation runs until the traffic drains, the first {} s not measured",
            secs(scenario.warmup.0)
        ),
    }
}
