//! The resource index: which operations act on which stored collection, and how items are keyed.
//!
//! Built once from the generated operation table and the catalogue columns (`resource`,
//! `key_fields`). A *stored collection* is a resource with a create operation: its items are
//! documents in the store, and a path parameter naming one of them must exist (parent checks).

use atlas_model::API_PREFIX;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use atlas_model::{OPERATIONS, Operation, Shape};

/// How the items of a collection get their key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A new 24-hex ObjectId.
    ObjectId,
    /// A new UUID (project MCP configs).
    Uuid,
    /// `mdb_sa_id_` + 24 hex (service accounts).
    ServiceAccountId,
    /// A value the client gives in the body (names, enum keys, addresses).
    Named,
}

/// One collection or singleton and the operations on it.
#[derive(Debug, Default)]
pub struct Resource {
    /// Template relative to [`API_PREFIX`], e.g. `/groups/{groupId}/clusters`.
    pub template: &'static str,
    /// Names of the trailing path parameters of the item operations, e.g. `["clusterName"]`.
    pub item_params: Vec<&'static str>,
    /// Body field each item parameter maps to (first alternative of the catalogue mapping).
    pub key_fields: Vec<(&'static str, Vec<&'static str>)>,
    pub create: Option<&'static Operation>,
    pub key_kind: Option<KeyKind>,
}

impl Resource {
    /// Whether items are created through the API (and so parents named by it must exist).
    pub fn is_stored_collection(&self) -> bool {
        self.create.is_some() && !self.item_params.is_empty()
    }

    /// The body fields the key of an item maps to, for one item parameter.
    pub fn fields_of(&self, param: &str) -> &[&'static str] {
        self.key_fields
            .iter()
            .find(|(p, _)| *p == param)
            .map(|(_, f)| f.as_slice())
            .unwrap_or(&[])
    }
}

/// All resources by template.
#[derive(Debug, Default)]
pub struct ResourceIndex {
    pub by_template: BTreeMap<&'static str, Resource>,
}

impl ResourceIndex {
    pub fn global() -> &'static ResourceIndex {
        static INDEX: OnceLock<ResourceIndex> = OnceLock::new();
        INDEX.get_or_init(|| ResourceIndex::build(&OPERATIONS))
    }

    pub fn get(&self, template: &str) -> Option<&Resource> {
        self.by_template.get(template)
    }

    fn build(operations: &'static [Operation]) -> ResourceIndex {
        let mut index = ResourceIndex::default();
        for op in operations {
            let resource = index
                .by_template
                .entry(op.resource)
                .or_insert_with(|| Resource {
                    template: op.resource,
                    ..Resource::default()
                });
            if op.shape == Shape::CollectionCreate {
                // Prefer the create at the collection path itself over create-at-key variants.
                let at_collection = relative(op.path) == op.resource;
                if resource.create.is_none() || at_collection {
                    resource.create = Some(op);
                }
            }
            let is_item = matches!(
                op.shape,
                Shape::ItemGet | Shape::ItemUpdatePatch | Shape::ItemReplacePut | Shape::ItemDelete
            );
            let rel = relative(op.path);
            // Where a collection is addressed several ways (by id, or by database/collection/
            // name), its primary key is the generated id: prefer that addressing.
            let replaceable =
                resource.item_params.is_empty() || resource.key_kind != Some(KeyKind::ObjectId);
            if is_item
                && replaceable
                && let Some(rest) = rel.strip_prefix(op.resource)
                && rest.starts_with("/{")
                && (resource.item_params.is_empty()
                    || key_kind(
                        op,
                        rest.rsplit('/')
                            .next()
                            .and_then(|s| s.strip_prefix('{'))
                            .and_then(|s| s.strip_suffix('}')),
                    ) == KeyKind::ObjectId)
            {
                let params: Vec<&'static str> = rest
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                    .collect();
                if params.len() == rest.split('/').filter(|s| !s.is_empty()).count() {
                    resource.item_params = params;
                    resource.key_fields = parse_key_fields(op.key_fields);
                    resource.key_kind = Some(key_kind(op, resource.item_params.last().copied()));
                }
            }
        }
        index
    }
}

/// `/api/atlas/v2/groups/{groupId}` -> `/groups/{groupId}`.
pub fn relative(path: &'static str) -> &'static str {
    path.strip_prefix(API_PREFIX).unwrap_or(path)
}

/// `databaseName->database;collectionName->collectionName` -> pairs; `a->x|y` keeps both.
fn parse_key_fields(text: &'static str) -> Vec<(&'static str, Vec<&'static str>)> {
    text.split(';')
        .filter_map(|pair| pair.split_once("->"))
        .map(|(param, fields)| (param, fields.split('|').collect()))
        .collect()
}

fn key_kind(op: &Operation, last_param: Option<&str>) -> KeyKind {
    let pattern = last_param
        .and_then(|p| op.param(p))
        .and_then(|p| p.pattern)
        .unwrap_or_default();
    if pattern.contains("mdb_sa_id_") {
        KeyKind::ServiceAccountId
    } else if pattern.contains("{24}") {
        KeyKind::ObjectId
    } else if pattern.contains("{8}-") || pattern.contains("{12}") {
        KeyKind::Uuid
    } else {
        KeyKind::Named
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_and_clusters_are_stored_collections() {
        let index = ResourceIndex::global();
        let groups = index.get("/groups").unwrap();
        assert!(groups.is_stored_collection());
        assert_eq!(groups.item_params, ["groupId"]);
        assert_eq!(groups.key_kind, Some(KeyKind::ObjectId));
        let clusters = index.get("/groups/{groupId}/clusters").unwrap();
        assert_eq!(clusters.item_params, ["clusterName"]);
        assert_eq!(clusters.fields_of("clusterName"), ["name"]);
        assert_eq!(clusters.key_kind, Some(KeyKind::Named));
    }

    #[test]
    fn generated_ids_are_the_primary_key_of_collections_addressed_several_ways() {
        let index = ResourceIndex::global();
        let search = index
            .get("/groups/{groupId}/clusters/{clusterName}/search/indexes")
            .unwrap();
        assert_eq!(search.item_params, ["indexId"]);
        assert_eq!(search.fields_of("indexId"), ["indexID"]);
        assert_eq!(search.key_kind, Some(KeyKind::ObjectId));
    }

    #[test]
    fn composite_keys_keep_every_parameter() {
        let index = ResourceIndex::global();
        let users = index.get("/groups/{groupId}/databaseUsers").unwrap();
        assert_eq!(users.item_params, ["databaseName", "username"]);
        assert_eq!(users.fields_of("username"), ["username"]);
    }
}
