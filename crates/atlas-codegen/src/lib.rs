//! The model generator: spec + operation catalogue in, `atlas-model/src/generated/` out.
//!
//! The spec's prose is under a non-commercial licence, so the output keeps structure only:
//! operations, parameters with their constraints, schemas with names, types, enums, patterns,
//! bounds, `readOnly`/`writeOnly`, discriminators and defaults. Descriptions, titles, summaries
//! and examples are dropped (see [`schema::strip`]). Output is deterministic, so a test can
//! regenerate it and fail on any difference.

mod catalog;
mod emit;
mod overlay;
mod schema;
mod spec;

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Where the generated files live, relative to the workspace root.
pub const OUTPUT_DIR: &str = "crates/atlas-model/src/generated";

/// Input files of the generator.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub spec: PathBuf,
    pub catalog: PathBuf,
}

impl Inputs {
    /// The inputs as laid out next to the repository (`../shared/reference/`).
    pub fn default_from(workspace_root: &Path) -> Inputs {
        let reference = workspace_root.join("../shared/reference");
        Inputs {
            spec: reference.join("atlas-admin-api-v2.openapi.yaml"),
            catalog: reference.join("operation-catalog.csv"),
        }
    }

    pub fn exist(&self) -> bool {
        self.spec.is_file() && self.catalog.is_file()
    }
}

/// The generated files, as (file name, content).
#[derive(Debug)]
pub struct Generated {
    pub files: Vec<(String, String)>,
}

impl Generated {
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, content) in &self.files {
            std::fs::write(dir.join(name), content).with_context(|| format!("writing {name}"))?;
        }
        Ok(())
    }

    /// Names of the files whose committed content differs from what the generator produces now.
    pub fn differences(&self, dir: &Path) -> Vec<String> {
        self.files
            .iter()
            .filter(|(name, content)| {
                std::fs::read_to_string(dir.join(name)).ok().as_deref() != Some(content.as_str())
            })
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// Runs the generator.
pub fn generate(inputs: &Inputs) -> anyhow::Result<Generated> {
    let spec_bytes = std::fs::read(&inputs.spec)
        .with_context(|| format!("reading spec {}", inputs.spec.display()))?;
    let catalog = catalog::load(&inputs.catalog)?;
    let mut model = spec::Model::from_yaml(&spec_bytes, &catalog)?;
    overlay::apply(&mut model.schemas, overlay::OVERLAYS)?;
    Ok(Generated {
        files: vec![
            ("mod.rs".to_owned(), emit::module(&model)),
            ("operation_ids.rs".to_owned(), emit::operation_ids(&model)),
            ("operations.rs".to_owned(), emit::operations(&model)),
            ("schemas.json".to_owned(), emit::schemas(&model)),
        ],
    })
}
