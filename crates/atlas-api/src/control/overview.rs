//! A read-only overview of the emulated Atlas for people watching it (the console): organizations
//! → projects → the resources stored under each, with their live lifecycle states, and the
//! events timeline across all of them.
//!
//! It runs in one read transaction and never settles a lifecycle ([`lifecycle::peek`] shows what
//! the next read would see), so watching never changes what a client observes — the Atlas CLI's
//! watcher, for one, insists on seeing `CREATING` on its first poll.

use atlas_store::{Page, Record, Tx};
use serde_json::{Map, Value, json};

use crate::kernel::error::ApiError;
use crate::kernel::lifecycle::{self, Peek, Settings, Shared};

/// At most this many documents of one collection are listed (the overview is for eyes).
const PER_COLLECTION: usize = 100;
/// Fields that commonly hold a resource's state where no transition is pending.
const STATE_FIELDS: &[&str] = &["stateName", "state", "status"];

/// `{"organizations": [{id, name, resources, projects: [{id, name, resources}]}]}`, each
/// `resources` entry `{collection, items: [{key, name, state?, stateField?, to?}], total}`.
pub fn organizations(tx: &mut dyn Tx, settings: &Settings) -> Result<Value, ApiError> {
    let now = crate::kernel::clock::now(tx)?;
    let shared = Shared::load(tx)?;
    let describe = |tx: &mut dyn Tx, root: &str| resources(tx, root, &shared, settings, now);
    let (orgs, _) = tx.list("/orgs", Page::ALL)?;
    let (groups, _) = tx.list("/groups", Page::ALL)?;
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

/// Every collection under `root` (the events aside: the timeline shows them) with its items.
fn resources(
    tx: &mut dyn Tx,
    root: &str,
    shared: &Shared,
    settings: &lifecycle::Settings,
    now: time::OffsetDateTime,
) -> Result<Vec<Value>, ApiError> {
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
        let (records, total) = tx.list(&collection, Page::ALL)?;
        let items: Vec<Value> = records
            .iter()
            .filter_map(|r| item(r, shared, settings, now))
            .take(PER_COLLECTION)
            .collect();
        if items.is_empty() {
            continue;
        }
        out.push(json!({"collection": relative, "items": items, "total": total}));
    }
    Ok(out)
}

/// One document as the overview shows it; `None` for one whose deletion has completed.
fn item(
    record: &Record,
    shared: &Shared,
    settings: &lifecycle::Settings,
    now: time::OffsetDateTime,
) -> Option<Value> {
    let doc = &record.doc;
    let mut shown = Map::new();
    shown.insert("key".into(), json!(record.key));
    let name = [
        "name",
        "clusterName",
        "username",
        "roleName",
        "ipAddress",
        "cidrBlock",
        "id",
    ]
    .iter()
    .find_map(|f| doc.get(*f).and_then(Value::as_str));
    shown.insert("name".into(), json!(name.unwrap_or(&record.key)));
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
