//! Recorded ids and the server's: learning which recorded value stands for which value the
//! server under test assigned, and putting the server's values into later requests.
//!
//! A recording is full of ids (projects, clusters, snapshots, users) that the server being
//! measured cannot know; it assigns its own. They are learnt by walking a recorded answer and the
//! server's answer side by side: the same key path, list elements paired by a name-like field or
//! by position. Names a client chose (a cluster's name, an IP address) are the same on both sides
//! once the server accepted them. What a skipped exchange would have produced is remembered as
//! unavailable, so a later exchange that needs it is skipped with the reason rather than sent
//! with an id the server never issued.

use std::collections::{HashMap, HashSet};

use super::json::Json;

/// Keys whose string values name resources (besides `id` and `…Id` keys).
const NAME_KEYS: &[&str] = &[
    "name",
    "clusterName",
    "username",
    "userName",
    "tenantName",
    "connectionName",
    "processorName",
    "roleName",
    "teamName",
    "bucketName",
    "indexName",
    "hostname",
    "displayName",
    "emailAddress",
];

/// Fields that pair the elements of a recorded list with the server's, tried in this order.
const PAIR_KEYS: &[&str] = &[
    "name",
    "username",
    "clusterName",
    "roleName",
    "ipAddress",
    "cidrBlock",
    "hostname",
    "teamId",
    "typeName",
    "eventTypeName",
    "emailAddress",
    "bucketName",
    "id",
];

/// Fields of a request body whose values a client picks (besides the name keys).
const CLIENT_KEYS: &[&str] = &[
    "ipAddress",
    "cidrBlock",
    "awsSecurityGroup",
    "endpointId",
    "dbName",
    "collName",
    "database",
    "collectionName",
];

/// Where an unmatched list element's ids went: the server's list did not hold it.
pub const NOT_LISTED: &str = "a list the emulator did not return it in";

/// The text a regular expression anchored with `$` sees: one trailing newline is allowed.
fn anchored(s: &str) -> &str {
    s.strip_suffix('\n').unwrap_or(s)
}

fn hex(s: &str, len: usize, lower_only: bool) -> bool {
    s.len() == len
        && s.bytes().all(|b| {
            b.is_ascii_digit()
                || (b'a'..=b'f').contains(&b)
                || (!lower_only && (b'A'..=b'F').contains(&b))
        })
}

/// 24 hexadecimal digits: an ObjectId.
pub fn is_hex24(s: &str) -> bool {
    hex(anchored(s), 24, false)
}

/// Hexadecimal 8-4-4-4-12.
fn is_uuid(s: &str) -> bool {
    let s = anchored(s);
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| hex(p, n, false))
}

/// A 24-digit lower-case hexadecimal key, as maps keyed by ObjectId have (shape comparison).
pub fn is_lower_hex24(s: &str) -> bool {
    hex(s, 24, true)
}

pub fn looks_like_id(s: &str) -> bool {
    is_hex24(s) || is_uuid(s)
}

pub fn is_id_key(key: Option<&str>) -> bool {
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return false;
    };
    key == "id"
        || key == "_id"
        || NAME_KEYS.contains(&key)
        || key.ends_with("Id")
        || key.ends_with("ID")
        || key.ends_with("Ids")
}

/// The string values under `value` (with `ids_only`, those under id keys or shaped like ids).
pub fn collect_values(value: &Json, out: &mut HashSet<String>, key: Option<&str>, ids_only: bool) {
    match value {
        Json::Object(fields) => {
            for (k, v) in fields {
                collect_values(v, out, Some(k), ids_only);
            }
        }
        Json::Array(items) => {
            for item in items {
                collect_values(item, out, key, ids_only);
            }
        }
        Json::String(s) if !ids_only || is_id_key(key) || looks_like_id(s) => {
            out.insert(s.clone());
        }
        _ => {}
    }
}

/// The values a client picked in a create or update body: top-level fields of the body (or of
/// each element of a list body) under a name or client key. Once the server accepted the
/// request they exist there under the same spelling.
pub fn client_chosen_names(body: &Json) -> Vec<String> {
    let mut out = Vec::new();
    match body {
        Json::Object(fields) => {
            for (k, v) in fields {
                if let Json::String(s) = v
                    && (NAME_KEYS.contains(&k.as_str()) || CLIENT_KEYS.contains(&k.as_str()))
                {
                    out.push(s.clone());
                }
            }
        }
        Json::Array(items) => {
            for item in items {
                out.extend(client_chosen_names(item));
            }
        }
        _ => {}
    }
    out
}

/// What one sequence has learnt so far.
#[derive(Default)]
pub struct IdMap {
    /// Recorded value → the server's.
    map: HashMap<String, String>,
    /// The recorded values of `map`, in the order they were learnt (substitution order).
    order: Vec<String>,
    /// Recorded value → what would have produced it (a skipped exchange's id, or
    /// [`NOT_LISTED`]).
    pub unavailable: HashMap<String, String>,
    /// Values seen in earlier recorded exchanges of the sequence.
    pub seen: HashSet<String>,
}

impl IdMap {
    pub fn get(&self, recorded: &str) -> Option<&str> {
        self.map.get(recorded).map(String::as_str)
    }

    pub fn contains(&self, recorded: &str) -> bool {
        self.map.contains_key(recorded)
    }

    /// The server's value for `recorded`, or `recorded` itself.
    pub fn mapped<'a>(&'a self, recorded: &'a str) -> &'a str {
        self.get(recorded).unwrap_or(recorded)
    }

    /// Binds a recorded value to the server's; the first binding stays.
    pub fn bind(&mut self, recorded: &str, actual: &str) {
        if recorded.is_empty() || self.map.contains_key(recorded) {
            return;
        }
        self.map.insert(recorded.to_owned(), actual.to_owned());
        self.order.push(recorded.to_owned());
        self.unavailable.remove(recorded);
    }

    /// A string with the server's values: the whole string when it is a recorded value, else
    /// every learnt id (one that changed) inside it, e.g. in a URL or a description.
    pub fn sub_str(&self, s: &str) -> String {
        if let Some(v) = self.map.get(s) {
            return v.clone();
        }
        let mut out = s.to_owned();
        for k in &self.order {
            let v = &self.map[k];
            if k.len() >= 20 && looks_like_id(k) && v != k && out.contains(k.as_str()) {
                out = out.replace(k.as_str(), v);
            }
        }
        out
    }

    /// A body with the server's values in every string.
    pub fn sub(&self, value: &Json) -> Json {
        match value {
            Json::String(s) => Json::String(self.sub_str(s)),
            Json::Array(items) => Json::Array(items.iter().map(|v| self.sub(v)).collect()),
            Json::Object(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), self.sub(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Walks a recorded answer and the server's side by side and binds id-like values.
    pub fn learn(&mut self, recorded: &Json, actual: &Json, key: Option<&str>) {
        match (recorded, actual) {
            (Json::Object(fields), Json::Object(_)) => {
                for (k, rv) in fields {
                    if let Some(av) = actual.get(k) {
                        self.learn(rv, av, Some(k));
                    }
                }
            }
            (Json::Array(rec), Json::Array(act)) => {
                let (pairs, unmatched) = self.pair_lists(rec, act);
                for (rv, av) in pairs {
                    self.learn(rv, av, key);
                }
                for rv in unmatched {
                    // Listed by the recorded service (made by another test, say), not by the
                    // server under test.
                    let mut values = HashSet::new();
                    collect_values(rv, &mut values, key, true);
                    for v in values {
                        if !self.map.contains_key(&v) {
                            self.unavailable
                                .entry(v)
                                .or_insert_with(|| NOT_LISTED.to_owned());
                        }
                    }
                }
            }
            (Json::String(r), Json::String(a)) => {
                let id_key = is_id_key(key);
                if id_key || looks_like_id(r) {
                    if looks_like_id(r) != looks_like_id(a) && r != a && !id_key {
                        return;
                    }
                    self.bind(r, a);
                }
            }
            _ => {}
        }
    }

    /// Pairs list elements: by an equal name-like field (after mapping) where the recorded
    /// element has one, else by position among the elements left. Returns the pairs (keyed
    /// ones first) and the recorded elements left without a partner.
    fn pair_lists<'a>(
        &self,
        rec: &'a [Json],
        act: &'a [Json],
    ) -> (Vec<(&'a Json, &'a Json)>, Vec<&'a Json>) {
        let objects = |l: &[Json]| l.iter().all(|x| matches!(x, Json::Object(_)));
        if !(objects(rec) && objects(act)) {
            let n = rec.len().min(act.len());
            return (
                rec[..n].iter().zip(&act[..n]).collect(),
                rec[n..].iter().collect(),
            );
        }
        let mut pairs = Vec::new();
        let mut used = vec![false; act.len()];
        let (mut unmatched, mut positional) = (Vec::new(), Vec::new());
        for r in rec {
            let mut keyed = false;
            let mut paired = false;
            for key in PAIR_KEYS {
                let Some(Json::String(rv)) = r.get(key) else {
                    continue;
                };
                if *key == "id" && !self.map.contains_key(rv) {
                    continue;
                }
                keyed = true;
                let want = self.mapped(rv);
                let hit = (0..act.len())
                    .find(|&j| !used[j] && act[j].get(key).and_then(Json::as_str) == Some(want));
                if let Some(j) = hit {
                    pairs.push((r, &act[j]));
                    used[j] = true;
                    paired = true;
                    break;
                }
            }
            if !paired {
                if keyed {
                    unmatched.push(r);
                } else {
                    positional.push(r);
                }
            }
        }
        let mut free = (0..act.len()).filter(|&j| !used[j]);
        for r in positional {
            match free.next() {
                Some(j) => pairs.push((r, &act[j])),
                None => unmatched.push(r),
            }
        }
        (pairs, unmatched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(text: &str) -> Json {
        Json::parse(text.as_bytes()).unwrap()
    }

    const REC_G: &str = "6a793f6cc0eb9e7a17715916";
    const ACT_G: &str = "6b1195f9bdb32bb69984a3f2";

    #[test]
    fn ids_are_learnt_side_by_side_and_substituted_inside_strings() {
        let mut ids = IdMap::default();
        ids.learn(
            &j(&format!(r#"{{"id":"{REC_G}","name":"p1","links":[{{"href":"x/{REC_G}"}}],"created":"2024-01-01T00:00:00Z"}}"#)),
            &j(&format!(r#"{{"id":"{ACT_G}","name":"p1","links":[{{"href":"y/{ACT_G}"}}],"created":"2025-01-01T00:00:00Z"}}"#)),
            None,
        );
        assert_eq!(ids.get(REC_G), Some(ACT_G));
        assert_eq!(ids.get("p1"), Some("p1"));
        assert_eq!(ids.get("2024-01-01T00:00:00Z"), None, "not an id");
        assert_eq!(
            ids.sub_str(&format!("/groups/{REC_G}/clusters")),
            format!("/groups/{ACT_G}/clusters")
        );
        let body = ids.sub(&j(&format!(r#"{{"groupId":"{REC_G}","n":1}}"#)));
        assert_eq!(body.get("groupId").and_then(Json::as_str), Some(ACT_G));
    }

    #[test]
    fn the_first_binding_stays() {
        let mut ids = IdMap::default();
        ids.bind("a", "1");
        ids.bind("a", "2");
        assert_eq!(ids.mapped("a"), "1");
        assert_eq!(ids.mapped("b"), "b");
    }

    #[test]
    fn list_elements_pair_by_name_then_position_and_the_rest_is_unavailable() {
        let mut ids = IdMap::default();
        let rec = j(&format!(
            r#"[{{"name":"b","id":"{REC_G}"}},{{"name":"gone","id":"aaaaaaaaaaaaaaaaaaaaaaaa"}},{{"x":"cccccccccccccccccccccccc"}}]"#
        ));
        let act = j(&format!(
            r#"[{{"name":"a","id":"bbbbbbbbbbbbbbbbbbbbbbbb"}},{{"name":"b","id":"{ACT_G}"}}]"#
        ));
        ids.learn(&rec, &act, Some("results"));
        assert_eq!(ids.get(REC_G), Some(ACT_G), "paired by name");
        assert_eq!(
            ids.unavailable
                .get("aaaaaaaaaaaaaaaaaaaaaaaa")
                .map(String::as_str),
            Some(NOT_LISTED)
        );
        assert_eq!(
            ids.unavailable.get("gone").map(String::as_str),
            Some(NOT_LISTED)
        );
        // The element without a name-like field took the first free position.
        assert!(!ids.contains("cccccccccccccccccccccccc"));
    }

    #[test]
    fn id_shapes_and_keys() {
        assert!(looks_like_id(REC_G));
        assert!(looks_like_id("0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(!looks_like_id("Cluster0"));
        assert!(is_id_key(Some("clusterName")));
        assert!(is_id_key(Some("roleIds")));
        assert!(!is_id_key(Some("created")));
        assert!(!is_id_key(None));
        let names = client_chosen_names(&j(
            r#"[{"ipAddress":"192.0.2.1","comment":"c"},{"cidrBlock":"10.0.0.0/16","nested":{"name":"x"}}]"#,
        ));
        assert_eq!(names, ["192.0.2.1", "10.0.0.0/16"]);
    }
}
