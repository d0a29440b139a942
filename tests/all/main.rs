//! Integration tests: the library's public API and the built binary, run as
//! a user would run it. One test binary, topical modules.

mod command_line;
mod committed_profiles;
mod concurrent_reports;
mod documentation;
mod fragmentation_study;
mod fuzz_corpus;
mod index_properties;
mod mixed_plans;
mod node_properties;
mod partition_properties;
mod perf_command;
mod perf_model;
mod place_command;
mod plan_shards;
mod precision_fallback;
mod profile_commands;
mod profile_validation;
mod replica_placement;
mod scheduler_properties;
mod serve_command;
mod serving;
mod serving_plans;
mod simulate_command;
mod simulation;
mod simulation_properties;
mod static_sets;
mod structure;
mod study_commands;
mod support;
mod vllm_reference;
