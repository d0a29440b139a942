//! The documentation reads the policy registry: every registered policy,
//! and no other, has its row in the README's policy table (with the
//! registry's own summary) and its name in the scenario key reference;
//! every shipped scenario is listed and valid.

use aimsim::schedule::Policy;

const README: &str = include_str!("../../README.md");
const SCENARIOS: &str = include_str!("../../scenarios/README.md");

#[test]
fn the_readme_policy_table_is_the_registry() {
    let mut table = String::from("| policy | rule |\n|---|---|\n");
    for policy in Policy::ALL {
        table.push_str(&format!("| `{}` | {} |\n", policy.name(), policy.summary()));
    }
    assert!(
        README.contains(&table),
        "README.md must hold exactly this policy table:\n{table}"
    );
}

#[test]
fn the_scenario_reference_names_every_policy() {
    let line = SCENARIOS
        .lines()
        .find(|l| l.starts_with("| `policy` |"))
        .expect("scenarios/README.md documents fleet.policy");
    let listed = line.matches("`\"").count();
    assert_eq!(listed, Policy::ALL.len(), "{line}");
    for policy in Policy::ALL {
        assert!(line.contains(&format!("`\"{}\"`", policy.name())), "{line}");
    }
}

/// Every shipped scenario has its row in the scenario reference's table
/// and is a valid scenario (a serving one for `aimsim serve`, with its
/// `[traffic]`; a fleet one otherwise), its models in the catalog.
#[test]
fn every_shipped_scenario_is_listed_and_valid() {
    let catalog = aimsim::profile::Catalog::builtin();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            SCENARIOS.contains(&format!("| `{file}` |")),
            "scenarios/README.md's table of shipped scenarios lacks `{file}`"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains("[traffic]") {
            aimsim::scenario::ServeScenario::parse(&text, &file, &[])
                .unwrap_or_else(|e| panic!("{e}"));
        } else {
            let scenario = aimsim::scenario::Scenario::parse(&text, &file, &[])
                .unwrap_or_else(|e| panic!("{e}"));
            scenario
                .check_models(&catalog, &file)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        checked += 1;
    }
    assert!(checked >= 10, "{checked} scenarios");
}
