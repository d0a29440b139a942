//! The library's modules depend on each other one way: reading every
//! `crate::module` path in `src/` (tests left out) gives a graph without a
//! cycle. The command line is glue: its command files import the shared
//! helpers of `src/cli/` and the library, never one another.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module -> the top-level modules its code names.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap();
            let top = relative.components().next().unwrap().as_os_str();
            let module = top.to_string_lossy().trim_end_matches(".rs").to_string();
            if ["lib", "main", "cli"].contains(&module.as_str())
                || path.file_name().is_some_and(|n| n == "tests.rs")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            let uses = graph.entry(module.clone()).or_default();
            for (i, _) in code.match_indices("crate::") {
                let name: String = code[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    uses.insert(name);
                }
            }
        }
    }
    graph
}

/// Panics on a cycle in `graph`, naming it.
fn assert_acyclic(graph: &BTreeMap<String, BTreeSet<String>>) {
    // Depth-first search for a back edge.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if let Some(start) = path.iter().position(|&n| n == node) {
            panic!("import cycle: {} -> {node}", path[start..].join(" -> "));
        }
        if !done.insert(node) {
            return;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, path, done);
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, graph, &mut Vec::new(), &mut done);
    }
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let graph = dependencies();
    assert!(graph.len() >= 10, "{graph:?}");
    assert_acyclic(&graph);
}

/// The modules of `src/cli/` that run a command (each `aimsim` command's
/// file or folder); the others are shared helpers.
const COMMANDS: [&str; 9] = [
    "fragmentation",
    "merge",
    "perf",
    "place",
    "plan",
    "profiles",
    "serve",
    "simulate",
    "sweep",
];

/// The one import between commands left: `merge` finishes a sharded
/// serving plan with the plan's own code (issue 32: the serving plan's
/// driver moves into the library).
const ALLOWED: [(&str, &str); 1] = [("merge", "plan")];

/// `src/cli/` module -> the `src/cli/` modules its code names (a folder's
/// files count as the folder's module; its files may use each other).
fn cli_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
    let modules: Vec<String> = std::fs::read_dir(&cli)
        .unwrap()
        .map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.trim_end_matches(".rs").to_string()
        })
        .filter(|m| m != "mod")
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files: Vec<(String, std::path::PathBuf)> = Vec::new();
    for module in &modules {
        let path = cli.join(module);
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                files.push((module.clone(), entry.unwrap().path()));
            }
        } else {
            files.push((module.clone(), cli.join(format!("{module}.rs"))));
        }
    }
    for (module, path) in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let uses = graph.entry(module.clone()).or_default();
        for prefix in ["super::", "crate::cli::", "super::super::"] {
            for (i, _) in code.match_indices(prefix) {
                let name: String = code[i + prefix.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if modules.contains(&name) && name != module {
                    uses.insert(name);
                }
            }
        }
    }
    graph
}

#[test]
fn command_files_import_helpers_not_each_other_and_the_cli_has_no_cycle() {
    let graph = cli_dependencies();
    for command in COMMANDS {
        assert!(graph.contains_key(command), "src/cli/ has no `{command}`");
    }
    for (module, uses) in &graph {
        if !COMMANDS.contains(&module.as_str()) {
            continue;
        }
        for used in uses {
            assert!(
                !COMMANDS.contains(&used.as_str()) || ALLOWED.contains(&(module.as_str(), used.as_str())),
                "the `{module}` command imports the `{used}` command; move what they share into a helper of src/cli/ or into the library"
            );
        }
    }
    assert_acyclic(&graph);
}
