//! A read-only overview of the emulated Atlas for people watching it (the console): organizations
//! → projects → the resources stored under each, with their live lifecycle states, and the
//! events timeline across all of them.
//!
//! It runs in one read transaction and never settles a lifecycle ([`lifecycle::peek`] shows what
//! the next read would see), so watching never changes what a client observes — the Atlas CLI's
//! watcher, for one, insists on seeing `CREATING` on its first poll.
//!
//! Everything is named for a person: collections by words (`database users`, not
//! `databaseUsers`), items by what Atlas users know them by (an API key by its public key, an
//! access-list entry by its CIDR block), keys decoded (`203.0.113.7/32`, not `203.0.113.7%2F32`),
//! and a stored single document by what it is (`project settings`).

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use atlas_store::{Page, Record, Tx};
use serde_json::{Map, Value, json};

use crate::kernel::error::ApiError;
use crate::kernel::lifecycle::{self, Peek, Settings, Shared};

/// At most this many documents of one collection are listed (the overview is for eyes).
const PER_COLLECTION: usize = 100;
/// Fields that commonly hold a resource's state where no transition is pending.
const STATE_FIELDS: &[&str] = &["stateName", "state", "status"];

/// What naming an item needs besides its own document.
struct Names {
    /// Public keys by API key id: a project's key assignment stores only the id.
    public_keys: HashMap<String, String>,
}

/// `{"organizations": [{id, name, resources, projects: [{id, name, resources}]}]}`, each
/// `resources` entry `{collection, title, items: [{key, keyText, name, document?, state?,
/// stateField?, to?}], total}`: `key` as stored (the path segment), `keyText` decoded, `document`
/// for a stored single document (whose key is empty).
pub fn organizations(tx: &mut dyn Tx, settings: &Settings) -> Result<Value, ApiError> {
    let now = crate::kernel::clock::now(tx)?;
    let shared = Shared::load(tx)?;
    let (orgs, _) = tx.list("/orgs", Page::ALL)?;
    let (groups, _) = tx.list("/groups", Page::ALL)?;
    let mut public_keys = HashMap::new();
    for org in &orgs {
        let (keys, _) = tx.list(&format!("/orgs/{}/apiKeys", org.key), Page::ALL)?;
        for key in keys {
            if let Some(public) = key.doc.get("publicKey").and_then(Value::as_str) {
                public_keys.insert(key.key.clone(), public.to_owned());
            }
        }
    }
    let names = Names { public_keys };
    let context = Context {
        shared: &shared,
        settings,
        now,
        names: &names,
    };
    let describe = |tx: &mut dyn Tx, root: &str| resources(tx, root, &context);
    let mut out = Vec::with_capacity(orgs.len());
    for org in &orgs {
        let mut projects = Vec::new();
        for group in groups
            .iter()
            .filter(|g| g.doc.get("orgId").and_then(Value::as_str) == Some(&org.key))
        {
            projects.push(json!({
                "id": group.key,
                "name": group.doc.get("name"),
                "resources": describe(tx, &format!("/groups/{}", group.key))?,
            }));
        }
        out.push(json!({
            "id": org.key,
            "name": org.doc.get("name"),
            "resources": describe(tx, &format!("/orgs/{}", org.key))?,
            "projects": projects,
        }));
    }
    Ok(json!({"organizations": out, "now": crate::kernel::clock::atlas_timestamp(now)}))
}

/// The newest `limit` events of every organization and project, newest first.
pub fn timeline(tx: &mut dyn Tx, limit: usize) -> Result<Value, ApiError> {
    let mut events: Vec<Value> = Vec::new();
    for root in ["/orgs", "/groups"] {
        let (owners, _) = tx.list(root, Page::ALL)?;
        for owner in owners {
            let (records, _) = tx.list(&format!("{root}/{}/events", owner.key), Page::ALL)?;
            events.extend(records.into_iter().map(|r| r.doc));
        }
    }
    let created = |e: &Value| {
        e.get("created")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    // Ids are ObjectIds (time first), so they order events within one second.
    let id = |e: &Value| {
        e.get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    events.sort_by_key(|e| std::cmp::Reverse((created(e), id(e))));
    events.truncate(limit);
    Ok(json!({"events": events}))
}

/// What every item of one overview is read with.
struct Context<'a> {
    shared: &'a Shared,
    settings: &'a lifecycle::Settings,
    now: time::OffsetDateTime,
    names: &'a Names,
}

/// Every collection under `root` (the events aside: the timeline shows them) with its items.
fn resources(tx: &mut dyn Tx, root: &str, cx: &Context<'_>) -> Result<Vec<Value>, ApiError> {
    let owner = if root.starts_with("/orgs/") {
        "organization"
    } else {
        "project"
    };
    let mut out = Vec::new();
    for collection in tx.collections_under(root)? {
        let relative = collection
            .strip_prefix(root)
            .unwrap_or(&collection)
            .trim_start_matches('/')
            .to_owned();
        if relative.is_empty() || relative == "events" {
            continue;
        }
        let title = title(&relative);
        let (records, total) = tx.list(&collection, Page::ALL)?;
        let items: Vec<Value> = records
            .iter()
            .filter_map(|r| item(r, &relative, &title, owner, cx))
            .take(PER_COLLECTION)
            .collect();
        if items.is_empty() {
            continue;
        }
        out.push(json!({"collection": relative, "title": title, "items": items, "total": total}));
    }
    Ok(out)
}

/// Fields that name a document, in the order they are tried. A CIDR block before an address: an
/// access-list entry made from an address has both, and Atlas lists it as `203.0.113.7/32`.
const NAME_FIELDS: &[&str] = &[
    "name",
    "clusterName",
    "username",
    "roleName",
    "cidrBlock",
    "ipAddress",
    "publicKey",
    "id",
];

/// One document as the overview shows it; `None` for one whose deletion has completed.
fn item(
    record: &Record,
    collection: &str,
    title: &str,
    owner: &str,
    cx: &Context<'_>,
) -> Option<Value> {
    let doc = &record.doc;
    let mut shown = Map::new();
    shown.insert("key".into(), json!(record.key));
    let key_text = decode_key(&record.key);
    let name = if record.key.is_empty() {
        // A single document stored at its collection's own path (project settings).
        shown.insert("document".into(), json!(true));
        format!("{owner} {title}")
    } else if collection.ends_with("apiKeys")
        && let Some(public) = doc
            .get("publicKey")
            .and_then(Value::as_str)
            .or_else(|| cx.names.public_keys.get(&record.key).map(String::as_str))
    {
        public.to_owned()
    } else {
        NAME_FIELDS
            .iter()
            .find_map(|f| doc.get(*f).and_then(Value::as_str))
            .map_or_else(|| key_text.clone(), str::to_owned)
    };
    shown.insert("keyText".into(), json!(key_text));
    shown.insert("name".into(), json!(name));
    let (shared, settings, now) = (cx.shared, cx.settings, cx.now);
    match lifecycle::peek(shared, settings, doc, now) {
        Some(Peek::Gone) => return None,
        Some(Peek::Moving { field, state, to }) => {
            shown.insert("stateField".into(), json!(field));
            shown.insert("state".into(), state);
            shown.insert("to".into(), json!(to));
        }
        Some(Peek::Settled { field, state }) => {
            shown.insert("stateField".into(), json!(field));
            shown.insert("state".into(), state);
        }
        None => {
            if let Some((field, state)) = STATE_FIELDS
                .iter()
                .find_map(|f| doc.get(*f).filter(|v| v.is_string()).map(|v| (*f, v)))
            {
                shown.insert("stateField".into(), json!(field));
                shown.insert("state".into(), state.clone());
            }
        }
    }
    Some(Value::Object(shown))
}

/// A stored key as people read it: each path segment percent-decoded (`203.0.113.7%2F32` ->
/// `203.0.113.7/32`, `admin/CN=x%2Fy` -> `admin/CN=x/y`).
fn decode_key(key: &str) -> String {
    key.split('/')
        .map(|segment| percent_encoding::percent_decode_str(segment).decode_utf8_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every literal segment of the operations' paths (`accessList`, `databaseUsers`): what tells a
/// collection's name apart from an item key in a nested collection path.
fn literals() -> &'static HashSet<&'static str> {
    static LITERALS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    LITERALS.get_or_init(|| {
        atlas_model::OPERATIONS
            .iter()
            .flat_map(|op| op.path.split('/'))
            .filter(|s| !s.is_empty() && !s.contains('{'))
            .collect()
    })
}

/// A collection path in words: `databaseUsers` -> `database users`,
/// `clusters/c1/backup/snapshots` -> `clusters › c1 › backup › snapshots`; item keys decoded
/// and kept as they are.
fn title(relative: &str) -> String {
    relative
        .split('/')
        .map(|segment| {
            if literals().contains(segment) {
                words(segment)
            } else {
                decode_key(segment)
            }
        })
        .collect::<Vec<_>>()
        .join(" › ")
}

/// `customDBRoles` -> `custom DB roles`, `apiKeys` -> `API keys`: camel case split into words,
/// acronyms kept in capitals.
fn words(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let prev_lower = i > 0 && chars[i - 1].is_lowercase();
        let acronym_ends = i > 0
            && chars[i - 1].is_uppercase()
            && chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        if c.is_uppercase() && (prev_lower || acronym_ends) && !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    parts.push(current);
    parts
        .iter()
        .map(|word| match word.as_str() {
            "api" | "Api" => "API".to_owned(),
            w if w.len() > 1 && w.chars().all(|c| c.is_uppercase() || c.is_ascii_digit()) => {
                w.to_owned()
            }
            w => w.to_lowercase(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collections_and_keys_read_as_words() {
        assert_eq!(title("databaseUsers"), "database users");
        assert_eq!(title("apiKeys"), "API keys");
        assert_eq!(title("accessList"), "access list");
        assert_eq!(words("customDBRoles"), "custom DB roles");
        assert_eq!(
            title("clusters/my%2Fcluster/backup"),
            "clusters › my/cluster › backup"
        );
        assert_eq!(decode_key("203.0.113.7%2F32"), "203.0.113.7/32");
        assert_eq!(decode_key("admin/CN=x%2Fy"), "admin/CN=x/y");
    }
}
