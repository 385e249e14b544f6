//! Every function in `template.yaml` names, where `sam build` reads it, a
//! binary this workspace builds, and every binary under `functions/` is
//! deployed. A misplaced or misspelt key fails here in seconds; otherwise it
//! fails `sam build` after minutes of compiling (`unable to find function
//! binary`), and `cfn-lint` and `sam validate --lint` accept it.

use billing_e2e::sam_template::{
    build_binary, get, is_function, parse, repo_file, repo_root, resources,
};
use serde_json::Value as Json;
use serde_norway::Value as Yaml;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Binary name → the manifest of the package that builds it.
type WorkspaceBinaries = BTreeMap<String, PathBuf>;

/// The workspace's binaries, as `cargo metadata` reports them.
fn workspace_binaries() -> WorkspaceBinaries {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(repo_root())
        .output()
        .expect("running cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Json = serde_json::from_slice(&output.stdout).expect("cargo metadata is JSON");
    let mut binaries = WorkspaceBinaries::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let manifest = PathBuf::from(package["manifest_path"].as_str().expect("manifest_path"));
        for target in package["targets"].as_array().expect("targets") {
            let is_bin = target["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "bin"));
            if is_bin {
                let name = target["name"].as_str().expect("target name").to_owned();
                binaries.insert(name, manifest.clone());
            }
        }
    }
    binaries
}

/// One line per way the template and the workspace disagree; empty when
/// `sam build` will find every function's binary. `functions_dir` is where
/// the function crates live: a binary there must be deployed.
fn build_problems(
    template: &str,
    binaries: &WorkspaceBinaries,
    functions_dir: &Path,
) -> Vec<String> {
    let template = match parse(template) {
        Ok(template) => template,
        Err(e) => return vec![e],
    };
    let resources = match resources(&template) {
        Ok(resources) => resources,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    let mut deployed: BTreeMap<&str, &str> = BTreeMap::new();
    for (id, resource) in resources {
        if !is_function(resource) {
            continue;
        }
        let id = id.as_str().unwrap_or("?");
        let metadata = get(resource, "Metadata");
        let build_method = metadata
            .and_then(|m| get(m, "BuildMethod"))
            .and_then(Yaml::as_str);
        if build_method != Some("rust-cargolambda") {
            problems.push(format!(
                "{id}: Metadata.BuildMethod is {build_method:?}, not \"rust-cargolambda\""
            ));
            continue;
        }
        let Some(binary) = build_binary(resource) else {
            let misplaced = metadata.and_then(|m| get(m, "Binary")).is_some();
            problems.push(if misplaced {
                format!(
                    "{id}: `Binary` sits directly under Metadata, where sam build ignores it; \
                     move it to Metadata.BuildProperties.Binary"
                )
            } else {
                format!("{id}: no Metadata.BuildProperties.Binary naming the function's binary")
            });
            continue;
        };
        if !binaries.contains_key(binary) {
            problems.push(format!(
                "{id}: Metadata.BuildProperties.Binary {binary:?} is not a binary of the workspace \
                 (it builds {:?})",
                binaries.keys().collect::<Vec<_>>()
            ));
        }
        if let Some(other) = deployed.insert(binary, id) {
            problems.push(format!("{id} and {other} both deploy {binary:?}"));
        }
    }
    for (binary, manifest) in binaries {
        if manifest.starts_with(functions_dir) && !deployed.contains_key(binary.as_str()) {
            problems.push(format!(
                "{}: binary {binary:?} is under functions/ but no function in the template deploys it",
                manifest.display()
            ));
        }
    }
    problems
}

fn functions_dir() -> PathBuf {
    repo_root()
        .join("functions")
        .canonicalize()
        .expect("functions/ exists")
}

#[test]
fn every_template_function_builds_a_workspace_binary_and_every_function_crate_is_deployed() {
    let binaries = workspace_binaries();
    let template = repo_file("template.yaml");
    let functions = parse(&template)
        .map(|t| resources(&t).map(|r| r.values().filter(|r| is_function(r)).count()))
        .unwrap()
        .unwrap();
    assert!(functions >= 4, "template.yaml has {functions} functions");
    // Otherwise a path mismatch would silently skip the "every function crate
    // is deployed" half.
    let under_functions = binaries
        .values()
        .filter(|manifest| manifest.starts_with(functions_dir()))
        .count();
    assert!(
        under_functions >= 4,
        "cargo metadata shows {under_functions} binaries under {}",
        functions_dir().display()
    );
    let problems = build_problems(&template, &binaries, &functions_dir());
    assert!(
        problems.is_empty(),
        "sam build would not find every function's binary:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_workspace_builds_each_function_binary_and_the_local_server() {
    let binaries = workspace_binaries();
    for expected in [
        "create-session",
        "get-status",
        "webhook-receive",
        "webhook-process",
        "billing-local",
    ] {
        assert!(
            binaries.contains_key(expected),
            "{expected} missing from {binaries:?}"
        );
    }
}

/// A workspace of three binaries: two function crates and a local tool.
fn sample_binaries() -> WorkspaceBinaries {
    [
        ("create-session", "/ws/functions/create-session/Cargo.toml"),
        ("get-status", "/ws/functions/get-status/Cargo.toml"),
        ("billing-local", "/ws/local/server/Cargo.toml"),
    ]
    .into_iter()
    .map(|(name, manifest)| (name.to_owned(), PathBuf::from(manifest)))
    .collect()
}

fn sample_problems(functions: &str) -> Vec<String> {
    let template = format!("Resources:\n  Table:\n    Type: AWS::DynamoDB::Table\n{functions}");
    build_problems(&template, &sample_binaries(), Path::new("/ws/functions"))
}

const GET_STATUS: &str = "
  GetStatusFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: get-status
";

#[test]
fn a_template_naming_every_function_binary_under_build_properties_passes() {
    let create = "
  CreateSessionFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: rust-cargolambda, BuildProperties: {Binary: create-session}}
";
    assert_eq!(
        sample_problems(&format!("{create}{GET_STATUS}")),
        Vec::<String>::new()
    );
}

#[test]
fn binary_directly_under_metadata_is_reported_as_ignored_by_sam() {
    let misplaced = "
  CreateSessionFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      Binary: create-session
";
    assert_eq!(
        sample_problems(&format!("{misplaced}{GET_STATUS}")),
        [
            "CreateSessionFunction: `Binary` sits directly under Metadata, where sam build ignores it; \
             move it to Metadata.BuildProperties.Binary",
            "/ws/functions/create-session/Cargo.toml: binary \"create-session\" is under functions/ \
             but no function in the template deploys it",
        ]
    );
}

#[test]
fn missing_binary_unknown_binary_wrong_build_method_and_duplicates_are_reported() {
    let functions = "
  NoBinary:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: rust-cargolambda}
  Misspelt:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: rust-cargolambda, BuildProperties: {Binary: create-sesion}}
  NotCargoLambda:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: makefile, BuildProperties: {Binary: create-session}}
  NoMetadata:
    Type: AWS::Serverless::Function
  Twice:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: rust-cargolambda, BuildProperties: {Binary: get-status}}
";
    assert_eq!(
        sample_problems(&format!("{functions}{GET_STATUS}")),
        [
            "NoBinary: no Metadata.BuildProperties.Binary naming the function's binary",
            "Misspelt: Metadata.BuildProperties.Binary \"create-sesion\" is not a binary of the \
             workspace (it builds [\"billing-local\", \"create-session\", \"get-status\"])",
            "NotCargoLambda: Metadata.BuildMethod is Some(\"makefile\"), not \"rust-cargolambda\"",
            "NoMetadata: Metadata.BuildMethod is None, not \"rust-cargolambda\"",
            "GetStatusFunction and Twice both deploy \"get-status\"",
            "/ws/functions/create-session/Cargo.toml: binary \"create-session\" is under functions/ \
             but no function in the template deploys it",
        ]
    );
}

#[test]
fn a_binary_outside_functions_need_not_be_deployed() {
    let problems = sample_problems(GET_STATUS);
    assert_eq!(
        problems,
        ["/ws/functions/create-session/Cargo.toml: binary \"create-session\" is under functions/ \
          but no function in the template deploys it"]
    );
}

#[test]
fn a_template_that_is_not_yaml_or_has_no_resources_is_reported() {
    let binaries = sample_binaries();
    let dir = Path::new("/ws/functions");
    assert_eq!(build_problems("Resources: [", &binaries, dir).len(), 1);
    assert_eq!(
        build_problems("Outputs: {}", &binaries, dir),
        ["template has no Resources"]
    );
}
