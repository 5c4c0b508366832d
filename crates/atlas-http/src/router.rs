//! The path router, built once from the operation table.
//!
//! Why not `matchit`/axum routes: Atlas paths need things those routers do not do — matching on
//! the raw, still percent-encoded segment (an access-list entry `10.0.0.0%2F16` or an Azure
//! resource id must stay one segment), custom-method and file suffixes inside a segment
//! (`{clusterName}:pinFeatureCompatibilityVersion`, `{logName}.gz`), literal segments that must
//! beat parameters (`/groups/byName/{groupName}` vs `/groups/{groupId}`), and two parameter names
//! for one slot (`{clusterName}` vs `{hostName}`). This is a segment trie with backtracking:
//! literal children first, then suffixed parameters, then plain parameters.

use rustc_hash::FxHashMap;

use atlas_model::{Method, OPERATIONS, Operation};

use atlas_model::API_PREFIX;

/// What a request path resolved to.
#[derive(Debug)]
pub enum Routed {
    /// The operation and its raw (still encoded) path parameter values, by name.
    Operation(&'static Operation, Vec<(&'static str, String)>),
    /// The path exists, but not with this method.
    MethodNotAllowed(Vec<Method>),
    NotFound,
}

#[derive(Default)]
struct Node {
    literals: FxHashMap<String, Node>,
    /// Parameters followed by a literal suffix in the same segment (`:start`, `.gz`).
    suffixed: Vec<(String, Node)>,
    param: Option<Box<Node>>,
    /// Operations ending here, with the parameter names of their own template in order.
    ends: Vec<(&'static Operation, Vec<&'static str>)>,
}

/// The router over every operation of the spec.
pub struct Router {
    root: Node,
}

enum Segment {
    Literal(&'static str),
    Param(&'static str),
    Suffixed(&'static str, &'static str),
}

fn parse_segment(seg: &'static str) -> Segment {
    match seg.strip_prefix('{').and_then(|s| s.split_once('}')) {
        Some((name, "")) => Segment::Param(name),
        Some((name, suffix)) => Segment::Suffixed(name, suffix),
        None => Segment::Literal(seg),
    }
}

impl Router {
    pub fn new() -> Router {
        Router::from_operations(&OPERATIONS)
    }

    pub fn from_operations(operations: &'static [Operation]) -> Router {
        let mut root = Node::default();
        for op in operations {
            let rel = op.path.strip_prefix(API_PREFIX).unwrap_or(op.path);
            let mut node = &mut root;
            let mut names = Vec::new();
            for seg in rel.split('/').filter(|s| !s.is_empty()) {
                node = match parse_segment(seg) {
                    Segment::Literal(lit) => node.literals.entry(lit.to_owned()).or_default(),
                    Segment::Param(name) => {
                        names.push(name);
                        node.param.get_or_insert_with(Box::default)
                    }
                    Segment::Suffixed(name, suffix) => {
                        names.push(name);
                        let at = match node.suffixed.iter().position(|(s, _)| s == suffix) {
                            Some(at) => at,
                            None => {
                                node.suffixed.push((suffix.to_owned(), Node::default()));
                                // Longest suffix first, so `.tar.gz`-like suffixes win over `.gz`.
                                node.suffixed.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
                                node.suffixed
                                    .iter()
                                    .position(|(s, _)| s == suffix)
                                    .unwrap_or_default()
                            }
                        };
                        &mut node.suffixed[at].1
                    }
                };
            }
            node.ends.push((op, names));
        }
        Router { root }
    }

    /// Resolves `method` and the path relative to `/api/atlas/v2` (raw, percent-encoded).
    pub fn route(&self, method: Method, rel_path: &str) -> Routed {
        let segments: Vec<&str> = if rel_path.is_empty() || rel_path == "/" {
            Vec::new()
        } else {
            match rel_path.strip_prefix('/') {
                Some(rest) => rest.split('/').collect(),
                None => return Routed::NotFound,
            }
        };
        let mut values = Vec::new();
        let mut allowed = Vec::new();
        if let Some((op, names, values)) =
            walk(&self.root, &segments, method, &mut values, &mut allowed)
        {
            let params = names.iter().copied().zip(values).collect();
            return Routed::Operation(op, params);
        }
        if allowed.is_empty() {
            Routed::NotFound
        } else {
            allowed.sort();
            allowed.dedup();
            Routed::MethodNotAllowed(allowed)
        }
    }
}

impl Default for Router {
    fn default() -> Self {
        Router::new()
    }
}

type Found = (&'static Operation, Vec<&'static str>, Vec<String>);

fn walk(
    node: &Node,
    segments: &[&str],
    method: Method,
    values: &mut Vec<String>,
    allowed: &mut Vec<Method>,
) -> Option<Found> {
    let Some((first, rest)) = segments.split_first() else {
        if let Some((op, names)) = node.ends.iter().find(|(op, _)| op.method == method) {
            return Some((op, names.clone(), values.clone()));
        }
        allowed.extend(node.ends.iter().map(|(op, _)| op.method));
        return None;
    };
    if first.is_empty() {
        return None;
    }
    if let Some(child) = node.literals.get(*first)
        && let Some(found) = walk(child, rest, method, values, allowed)
    {
        return Some(found);
    }
    for (suffix, child) in &node.suffixed {
        if let Some(value) = first.strip_suffix(suffix.as_str())
            && !value.is_empty()
        {
            values.push(value.to_owned());
            if let Some(found) = walk(child, rest, method, values, allowed) {
                return Some(found);
            }
            values.pop();
        }
    }
    if let Some(child) = &node.param {
        values.push((*first).to_owned());
        if let Some(found) = walk(child, rest, method, values, allowed) {
            return Some(found);
        }
        values.pop();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: Method, path: &str) -> (String, Vec<(&'static str, String)>) {
        match Router::new().route(method, path) {
            Routed::Operation(op, params) => (op.name.to_owned(), params),
            other => panic!("{method} {path}: {other:?}"),
        }
    }

    #[test]
    fn every_operation_routes_to_itself() {
        let router = Router::new();
        for op in &OPERATIONS {
            let rel = op.path.strip_prefix(API_PREFIX).unwrap_or(op.path);
            // Fill each parameter with a value that cannot collide with a literal.
            let path: String = rel
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|seg| match parse_segment(seg) {
                    Segment::Literal(l) => format!("/{l}"),
                    Segment::Param(_) => "/p0123456789abcdef0123456".to_owned(),
                    Segment::Suffixed(_, suffix) => format!("/p0123456789abcdef0123456{suffix}"),
                })
                .collect();
            match router.route(op.method, &path) {
                Routed::Operation(found, _) => assert_eq!(found.name, op.name, "{path}"),
                other => panic!("{} {path}: {other:?}", op.method),
            }
        }
    }

    #[test]
    fn literals_beat_parameters() {
        assert_eq!(
            route(Method::Get, "/groups/byName/my-project").0,
            "getGroupByName"
        );
        assert_eq!(
            route(Method::Get, "/groups/5f0000000000000000000001").0,
            "getGroup"
        );
        let (name, params) = route(
            Method::Get,
            "/groups/5f0000000000000000000001/clusters/c1/onlineArchives/queryLogs.gz",
        );
        assert_eq!(name, "downloadGroupClusterOnlineArchiveQueryLogs");
        assert_eq!(params[1], ("clusterName", "c1".to_owned()));
    }

    #[test]
    fn custom_methods_and_suffixes_split_inside_a_segment() {
        let (name, params) = route(
            Method::Post,
            "/groups/5f0000000000000000000001/clusters/Cluster0:pinFeatureCompatibilityVersion",
        );
        assert_eq!(name, "pinGroupClusterFeatureCompatibilityVersion");
        assert_eq!(params[1], ("clusterName", "Cluster0".to_owned()));
        let (name, params) = route(
            Method::Get,
            "/groups/5f0000000000000000000001/clusters/host.example.net/logs/mongodb.gz",
        );
        assert_eq!(name, "downloadGroupClusterLog");
        assert_eq!(params[1], ("hostName", "host.example.net".to_owned()));
        assert_eq!(params[2], ("logName", "mongodb".to_owned()));
    }

    #[test]
    fn encoded_slashes_stay_in_one_segment() {
        let (name, params) = route(
            Method::Get,
            "/groups/5f0000000000000000000001/accessList/10.0.0.0%2F16",
        );
        assert_eq!(name, "getGroupAccessListEntry");
        assert_eq!(params[1], ("entryValue", "10.0.0.0%2F16".to_owned()));
    }

    #[test]
    fn two_names_for_one_slot_keep_each_operation_s_names() {
        let (name, params) = route(
            Method::Get,
            "/groups/5f0000000000000000000001/databaseUsers/admin/alice",
        );
        assert_eq!(name, "getGroupDatabaseUser");
        assert_eq!(params[1].0, "databaseName");
        let (name, params) = route(
            Method::Get,
            "/groups/5f0000000000000000000001/databaseUsers/alice/certs",
        );
        assert_eq!(name, "listGroupDatabaseUserCerts");
        assert_eq!(params[1].0, "username");
    }

    #[test]
    fn unknown_paths_and_methods() {
        let router = Router::new();
        assert!(matches!(
            router.route(Method::Get, "/nothingHere"),
            Routed::NotFound
        ));
        assert!(matches!(
            router.route(Method::Get, "/groups//clusters"),
            Routed::NotFound
        ));
        match router.route(Method::Put, "/orgs") {
            Routed::MethodNotAllowed(methods) => {
                assert_eq!(methods, vec![Method::Get, Method::Post])
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            router.route(Method::Get, ""),
            Routed::Operation(..)
        ));
    }
}
