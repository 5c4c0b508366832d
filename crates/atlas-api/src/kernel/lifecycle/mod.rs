//! Lifecycles as data: how long-running resources move from a transitional state to a final one
//! (cluster `CREATING` → `IDLE`, `DELETING` → gone, archive `PENDING` → `ACTIVE` ...).
//!
//! A change starts a [`Transition`] stored inside the resource's document (`__transition`). When
//! the document is read, [`settle`] decides from the stored record, the injected clock and the
//! kind's [`Policy`] whether the transition has completed, and applies it. No background worker:
//! several instances sharing one store agree because everything is derived from stored data.
//!
//! Policies (semantics §8 for the realistic durations):
//! - `instant`: the answer to the change and the first read after it show the transitional state
//!   (the Atlas CLI's watchers abort unless their first poll sees `CREATING`/`DELETING`); every
//!   later read shows the final state;
//! - `realistic`: the transition lasts its realistic duration on the injected clock;
//! - `manual`: the transition completes only when the control API advances lifecycles or the
//!   clock.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

pub mod kinds;

use atlas_store::{Page, Record, StoreResult, Tx};

use crate::kernel::clock::Now;

pub use kinds::{KINDS, Step};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

/// The document key holding the transition in progress.
pub const TRANSITION: &str = "__transition";

const META: &str = "__meta";
const META_KEY: &str = "lifecycle";

/// How a kind of resource progresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Instant,
    Realistic,
    Manual,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Instant => "instant",
            Policy::Realistic => "realistic",
            Policy::Manual => "manual",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Policy, String> {
        match s {
            "instant" => Ok(Policy::Instant),
            "realistic" => Ok(Policy::Realistic),
            "manual" => Ok(Policy::Manual),
            other => Err(format!(
                "unknown lifecycle policy {other:?} (instant, realistic, manual)"
            )),
        }
    }
}

/// What happens when a transition completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// The state field takes the final value.
    Settle,
    /// The resource disappears (deletions: Atlas never shows a `DELETED` cluster).
    Delete,
}

/// One transition in progress, as stored in the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The resource kind (`cluster`, `flexCluster`, `onlineArchive` ...), for policy overrides.
    pub kind: String,
    /// The document field holding the state (`stateName`, `state`, `status`).
    pub field: String,
    /// The state once completed.
    pub to: String,
    pub then: Then,
    /// Start on the injected clock, epoch seconds.
    pub started_at: i64,
    /// Realistic duration in seconds.
    pub seconds: i64,
    /// Reads since the change (instant policy).
    pub reads: u64,
    /// Manual generation when the transition started (manual policy).
    pub generation: u64,
}

impl Transition {
    fn to_json(&self) -> Value {
        json!({
            "kind": self.kind, "field": self.field, "to": self.to,
            "then": match self.then { Then::Settle => "settle", Then::Delete => "delete" },
            "startedAt": self.started_at, "seconds": self.seconds,
            "reads": self.reads, "generation": self.generation,
        })
    }

    fn from_json(v: &Value) -> Option<Transition> {
        Some(Transition {
            kind: v.get("kind")?.as_str()?.to_owned(),
            field: v.get("field")?.as_str()?.to_owned(),
            to: v.get("to")?.as_str()?.to_owned(),
            then: if v.get("then")?.as_str()? == "delete" {
                Then::Delete
            } else {
                Then::Settle
            },
            started_at: v.get("startedAt")?.as_i64()?,
            seconds: v.get("seconds")?.as_i64()?,
            reads: v.get("reads")?.as_u64()?,
            generation: v.get("generation")?.as_u64()?,
        })
    }
}

/// Lifecycle settings: the default policy (from `--lifecycle`) plus what the control API stored.
#[derive(Debug, Clone)]
pub struct Settings {
    pub default: Policy,
}

/// The stored, instance-shared part: per-kind overrides and the manual generation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shared {
    pub default: Option<Policy>,
    pub kinds: BTreeMap<String, Policy>,
    pub generation: u64,
}

impl Shared {
    pub fn load(tx: &mut dyn Tx) -> StoreResult<Shared> {
        let Some(record) = tx.get(META, META_KEY)? else {
            return Ok(Shared::default());
        };
        let doc = record.doc;
        let kinds = doc
            .get("kinds")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.parse().ok()?)))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Shared {
            default: doc
                .get("default")
                .and_then(Value::as_str)
                .and_then(|p| p.parse().ok()),
            kinds,
            generation: doc.get("generation").and_then(Value::as_u64).unwrap_or(0),
        })
    }

    pub fn save(&self, tx: &mut dyn Tx) -> StoreResult<()> {
        let kinds: Map<String, Value> = self
            .kinds
            .iter()
            .map(|(k, p)| (k.clone(), Value::String(p.as_str().to_owned())))
            .collect();
        tx.upsert(
            META,
            META_KEY,
            &json!({
                "default": self.default.map(Policy::as_str),
                "kinds": kinds,
                "generation": self.generation,
            }),
        )
    }

    /// Applies a control-API request (`{"default": .., "kinds": {kind: policy | null}}`).
    pub fn apply(&mut self, request: &Value) -> Result<(), ConfigError> {
        let parse = |v: &Value| -> Result<Option<Policy>, ConfigError> {
            match v {
                Value::Null => Ok(None),
                Value::String(s) => s.parse().map(Some).map_err(ConfigError::Invalid),
                _ => Err(ConfigError::Invalid("a policy is a string or null".into())),
            }
        };
        if let Some(default) = request.get("default") {
            self.default = parse(default)?;
        }
        if let Some(kinds) = request.get("kinds") {
            let kinds = kinds
                .as_object()
                .ok_or_else(|| ConfigError::Invalid("`kinds` is an object".into()))?;
            for (kind, policy) in kinds {
                if !KINDS.contains(&kind.as_str()) {
                    return Err(ConfigError::Invalid(format!(
                        "unknown lifecycle kind {kind:?} ({})",
                        KINDS.join(", ")
                    )));
                }
                match parse(policy)? {
                    Some(p) => self.kinds.insert(kind.clone(), p),
                    None => self.kinds.remove(kind),
                };
            }
        }
        Ok(())
    }

    /// The state the control API reports.
    pub fn describe(&self, settings: &Settings) -> Value {
        let kinds: Map<String, Value> = self
            .kinds
            .iter()
            .map(|(k, p)| (k.clone(), Value::String(p.as_str().to_owned())))
            .collect();
        json!({
            "default": self.default.unwrap_or(settings.default).as_str(),
            "kinds": kinds,
            "generation": self.generation,
        })
    }

    /// The policy in force for `kind`.
    pub fn policy(&self, settings: &Settings, kind: &str) -> Policy {
        self.kinds
            .get(kind)
            .copied()
            .or(self.default)
            .unwrap_or(settings.default)
    }
}

/// Why a lifecycle configuration request failed.
#[derive(Debug)]
pub enum ConfigError {
    Invalid(String),
    Api(crate::ApiError),
}

/// Starts `step` on `doc`: the state field shows `step.from` now and `step.to` once completed
/// (families call [`Step::begin`]).
fn begin(tx: &mut dyn Tx, doc: &mut Value, step: Step, now: OffsetDateTime) -> StoreResult<()> {
    let generation = Shared::load(tx)?.generation;
    if let Value::Object(map) = doc {
        map.insert(step.field.to_owned(), Value::String(step.from.to_owned()));
        let transition = Transition {
            kind: step.kind.to_owned(),
            field: step.field.to_owned(),
            to: step.to.to_owned(),
            then: step.then,
            started_at: now.unix_timestamp(),
            seconds: step.seconds,
            reads: 0,
            generation,
        };
        map.insert(TRANSITION.to_owned(), transition.to_json());
    }
    Ok(())
}

/// The transition in progress on a document, if any.
pub fn pending(doc: &Value) -> Option<Transition> {
    doc.get(TRANSITION).and_then(Transition::from_json)
}

/// What a read found after settling.
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    /// The document as it now reads (possibly still transitional).
    Present(Value),
    /// The transition removed the resource.
    Gone,
}

/// Evaluates the transition of the stored document `collection/key` for a read, applies it if it
/// has completed (persisting the result), counts the read for the instant policy, and returns
/// what the read sees.
pub fn settle(
    tx: &mut dyn Tx,
    settings: &Settings,
    collection: &str,
    key: &str,
    mut doc: Value,
    now: &Now,
) -> StoreResult<Settled> {
    let Some(mut transition) = pending(&doc) else {
        // Settled: what the read sees does not depend on the time.
        return Ok(Settled::Present(doc));
    };
    let shared = Shared::load(tx)?;
    if shared.completes(settings, &transition, now.get()) {
        return complete(tx, collection, key, doc, &transition);
    }
    transition.reads += 1;
    if let Value::Object(map) = &mut doc {
        map.insert(TRANSITION.to_owned(), transition.to_json());
    }
    tx.update(collection, key, &doc)?;
    Ok(Settled::Present(doc))
}

impl Shared {
    /// Whether a read at `now` completes `transition` under the policy in force.
    fn completes(&self, settings: &Settings, transition: &Transition, now: OffsetDateTime) -> bool {
        match self.policy(settings, &transition.kind) {
            Policy::Instant => transition.reads >= 1,
            Policy::Realistic => now.unix_timestamp() - transition.started_at >= transition.seconds,
            Policy::Manual => self.generation > transition.generation,
        }
    }
}

/// What the next read of a document would show of its lifecycle.
#[derive(Debug, Clone, PartialEq)]
pub enum Peek {
    /// No transition in progress, or one the next read completes: the state field's value.
    Settled { field: String, state: Value },
    /// In transition: the state now and the one it is heading to.
    Moving {
        field: String,
        state: Value,
        to: String,
    },
    /// A deletion the next read completes: the resource is gone.
    Gone,
}

/// What the next read of `doc` would show of its lifecycle, without reading it (so without
/// counting a read or completing anything); `None` for a document without a transition. An
/// observer (the console) uses this so that watching never changes what clients see.
pub fn peek(
    shared: &Shared,
    settings: &Settings,
    doc: &Value,
    now: OffsetDateTime,
) -> Option<Peek> {
    let transition = pending(doc)?;
    if !shared.completes(settings, &transition, now) {
        let state = doc.get(&transition.field).cloned().unwrap_or(Value::Null);
        return Some(Peek::Moving {
            field: transition.field,
            state,
            to: transition.to,
        });
    }
    Some(match transition.then {
        Then::Delete => Peek::Gone,
        Then::Settle => Peek::Settled {
            field: transition.field,
            state: Value::String(transition.to),
        },
    })
}

/// The document `collection`/`key` as a read sees it: `None` when it does not exist or its
/// deletion has completed. Settling may write, so a caller answering 404 for `None` keeps the
/// transaction's writes (`ApiError::keeping_writes`).
pub fn get_settled(
    tx: &mut dyn Tx,
    settings: &Settings,
    collection: &str,
    key: &str,
    now: &Now,
) -> StoreResult<Option<Record>> {
    match tx.get(collection, key)? {
        Some(record) => present(tx, settings, record, now),
        None => Ok(None),
    }
}

/// `record` settled for this read, or `None` once its deletion completed.
pub fn present(
    tx: &mut dyn Tx,
    settings: &Settings,
    record: Record,
    now: &Now,
) -> StoreResult<Option<Record>> {
    let Record {
        collection,
        key,
        doc,
        seq,
    } = record;
    Ok(match settle(tx, settings, &collection, &key, doc, now)? {
        Settled::Present(doc) => Some(Record {
            collection,
            key,
            doc,
            seq,
        }),
        Settled::Gone => None,
    })
}

/// Every document of `collection` as a read sees it (transitions settled, completed deletions
/// gone), in creation order.
pub fn settle_all(
    tx: &mut dyn Tx,
    settings: &Settings,
    collection: &str,
    now: &Now,
) -> StoreResult<Vec<Record>> {
    let (records, _) = tx.list(collection, Page::ALL)?;
    let mut visible = Vec::with_capacity(records.len());
    for record in records {
        visible.extend(present(tx, settings, record, now)?);
    }
    Ok(visible)
}

/// Applies a completed transition.
fn complete(
    tx: &mut dyn Tx,
    collection: &str,
    key: &str,
    mut doc: Value,
    t: &Transition,
) -> StoreResult<Settled> {
    match t.then {
        Then::Delete => {
            tx.delete(collection, key)?;
            tx.delete_tree(&format!("{collection}/{key}"))?;
            Ok(Settled::Gone)
        }
        Then::Settle => {
            if let Value::Object(map) = &mut doc {
                map.remove(TRANSITION);
                map.insert(t.field.clone(), Value::String(t.to.clone()));
            }
            tx.update(collection, key, &doc)?;
            Ok(Settled::Present(doc))
        }
    }
}

/// Completes every manual transition that started before now (the control API's "advance").
pub fn advance(tx: &mut dyn Tx) -> StoreResult<u64> {
    let mut shared = Shared::load(tx)?;
    shared.generation += 1;
    shared.save(tx)?;
    Ok(shared.generation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_store::Store;
    use atlas_store::sqlite::SqliteStore;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).unwrap()
    }

    fn run(policy: Policy, reads: usize, elapsed: i64, advance_first: bool) -> Vec<String> {
        let store: Box<dyn Store> = Box::new(SqliteStore::memory().unwrap());
        let settings = Settings { default: policy };
        store
            .write(|tx| {
                let mut doc = json!({"name": "c"});
                kinds::cluster::CREATE.begin(tx, &mut doc, at(0))?;
                tx.insert("/c", "c", &doc)?;
                if advance_first {
                    advance(tx)?;
                }
                let mut seen = Vec::new();
                for _ in 0..reads {
                    let doc = tx.get("/c", "c")?.unwrap().doc;
                    match settle(tx, &settings, "/c", "c", doc, &Now::at(at(elapsed)))? {
                        Settled::Present(d) => {
                            seen.push(d["stateName"].as_str().unwrap().to_owned())
                        }
                        Settled::Gone => seen.push("gone".into()),
                    }
                }
                Ok(seen)
            })
            .unwrap()
    }

    #[test]
    fn instant_shows_the_transition_to_the_first_read_only() {
        assert_eq!(
            run(Policy::Instant, 3, 0, false),
            ["CREATING", "IDLE", "IDLE"]
        );
    }

    #[test]
    fn realistic_follows_the_clock() {
        assert_eq!(
            run(Policy::Realistic, 2, 599, false),
            ["CREATING", "CREATING"]
        );
        assert_eq!(run(Policy::Realistic, 1, 600, false), ["IDLE"]);
    }

    /// A settled document looks the same at any time, so reading it must not count as reading
    /// the time (kept answers rely on it); a transition in progress does read it.
    #[test]
    fn only_a_transition_in_progress_reads_the_time() {
        let store: Box<dyn Store> = Box::new(SqliteStore::memory().unwrap());
        let settings = Settings {
            default: Policy::Realistic,
        };
        let (settled, moving) = store
            .write(|tx| {
                let settled = Now::at(at(0));
                settle(
                    tx,
                    &settings,
                    "/c",
                    "s",
                    json!({"stateName": "IDLE"}),
                    &settled,
                )?;
                let mut doc = json!({"name": "c"});
                kinds::cluster::CREATE.begin(tx, &mut doc, at(0))?;
                tx.insert("/c", "c", &doc)?;
                let moving = Now::at(at(1));
                settle(tx, &settings, "/c", "c", doc, &moving)?;
                Ok((settled.was_read(), moving.was_read()))
            })
            .unwrap();
        assert!(!settled);
        assert!(moving);
    }

    #[test]
    fn manual_waits_for_an_advance() {
        assert_eq!(
            run(Policy::Manual, 3, 100_000, false),
            ["CREATING", "CREATING", "CREATING"]
        );
        assert_eq!(run(Policy::Manual, 1, 0, true), ["IDLE"]);
    }

    #[test]
    fn deletions_end_in_nothing() {
        let store: Box<dyn Store> = Box::new(SqliteStore::memory().unwrap());
        let settings = Settings {
            default: Policy::Instant,
        };
        let seen = store
            .write(|tx| {
                let mut doc = json!({"name": "c", "stateName": "IDLE"});
                kinds::cluster::DELETE
                    .lasting(60)
                    .begin(tx, &mut doc, at(0))?;
                tx.insert("/c", "c", &doc)?;
                tx.insert("/c/c/child", "x", &json!({}))?;
                let doc = tx.get("/c", "c")?.unwrap().doc;
                let first = settle(tx, &settings, "/c", "c", doc, &Now::at(at(0)))?;
                let doc = tx.get("/c", "c")?.unwrap().doc;
                let second = settle(tx, &settings, "/c", "c", doc, &Now::at(at(0)))?;
                Ok((
                    first,
                    second,
                    tx.get("/c", "c")?,
                    tx.get("/c/c/child", "x")?,
                ))
            })
            .unwrap();
        assert!(matches!(seen.0, Settled::Present(ref d) if d["stateName"] == "DELETING"));
        assert_eq!(seen.1, Settled::Gone);
        assert!(seen.2.is_none() && seen.3.is_none());
    }

    #[test]
    fn overrides_beat_the_default() {
        let shared = Shared {
            default: None,
            kinds: [("cluster".to_owned(), Policy::Manual)].into(),
            generation: 0,
        };
        let settings = Settings {
            default: Policy::Instant,
        };
        assert_eq!(shared.policy(&settings, "cluster"), Policy::Manual);
        assert_eq!(shared.policy(&settings, "flexCluster"), Policy::Instant);
    }
}
