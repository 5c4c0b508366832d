//! Reads the operation catalogue (`operation-catalog.csv`): the team's classification of every
//! operation (shape, canonical resource, key fields) that the generic engine dispatches on.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

/// The catalogue columns the generator carries into the model.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub shape: String,
    pub resource: String,
    pub key_fields: String,
    pub shape_detail: String,
    pub state_kind: String,
}

/// Catalogue rows by (method, full path).
pub type Catalog = BTreeMap<(String, String), Row>;

pub fn load(path: &Path) -> anyhow::Result<Catalog> {
    let mut reader = csv::Reader::from_path(path)
        .with_context(|| format!("reading catalogue {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("catalogue has no column {name}"))
    };
    let (method, path_col) = (column("method")?, column("path")?);
    let (shape, resource, key_fields) =
        (column("shape")?, column("resource")?, column("key_fields")?);
    let (shape_detail, state_kind) = (column("shape_detail")?, column("state_kind")?);
    let mut out = Catalog::new();
    for record in reader.records() {
        let record = record?;
        let get = |i: usize| record.get(i).unwrap_or_default().to_owned();
        out.insert(
            (get(method), get(path_col)),
            Row {
                shape: get(shape),
                resource: get(resource),
                key_fields: get(key_fields),
                shape_detail: get(shape_detail),
                state_kind: get(state_kind),
            },
        );
    }
    Ok(out)
}
