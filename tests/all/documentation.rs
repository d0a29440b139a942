//! The documentation reads the policy registry: every registered policy,
//! and no other, has its row in the README's policy table (with the
//! registry's own summary) and its name in the scenario key reference.

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
