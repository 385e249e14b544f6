//! `template.yaml` read the way the SAM CLI reads it, for the tests that hold
//! the template to the workspace (`sam build`) and to `infra/openapi.json`.
//! CloudFormation tags (`!Ref`, `!GetAtt`, `!Sub`, ...) parse as tagged
//! values; only `!Ref` is ever looked into.

use serde_norway::{Mapping, Value as Yaml};
use std::path::PathBuf;

/// The repository's root, two levels above this crate.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file of the repository, by its path from the root.
pub fn repo_file(relative: &str) -> String {
    let path = repo_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// `value[key]` when `value` is a mapping.
pub fn get<'a>(value: &'a Yaml, key: &str) -> Option<&'a Yaml> {
    value.as_mapping()?.get(key)
}

/// The logical id a `!Ref X` (or `{Ref: X}`) points at.
pub fn ref_target(value: &Yaml) -> Option<&str> {
    match value {
        Yaml::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
        Yaml::Mapping(_) => get(value, "Ref")?.as_str(),
        _ => None,
    }
}

/// A parsed template's `Resources`.
pub fn resources(template: &Yaml) -> Result<&Mapping, String> {
    get(template, "Resources")
        .and_then(Yaml::as_mapping)
        .ok_or_else(|| "template has no Resources".to_owned())
}

/// Parses a template's text.
pub fn parse(template: &str) -> Result<Yaml, String> {
    serde_norway::from_str(template).map_err(|e| format!("template is not YAML: {e}"))
}

/// The binary `sam build` builds for a `rust-cargolambda` function. SAM reads
/// it from `Metadata.BuildProperties.Binary` and nowhere else: a `Binary`
/// directly under `Metadata` is silently ignored, and SAM then builds every
/// binary of the workspace and cannot tell which one is the function.
pub fn build_binary(resource: &Yaml) -> Option<&str> {
    get(resource, "Metadata")
        .and_then(|m| get(m, "BuildProperties"))
        .and_then(|b| get(b, "Binary"))
        .and_then(Yaml::as_str)
}

/// Whether a resource is a SAM function.
pub fn is_function(resource: &Yaml) -> bool {
    get(resource, "Type").and_then(Yaml::as_str) == Some("AWS::Serverless::Function")
}
