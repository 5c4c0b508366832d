//! Answers kept for reuse. A GET's answer is a function of the stored state, the call (operation,
//! version, representation, path, query, principal, the URL the client addressed, its address)
//! and the time. When the operation neither wrote nor read the time (`clock::Now`, whose reads
//! the hints share), its answer is kept under the state it was built from (`Tx::snapshot`), and
//! an identical call in a transaction that sees the same state is answered with it, without
//! running the operation again: polling a cluster or listing a project's clusters repeatedly
//! costs one render per change of state, not one per request.
//!
//! Nothing else is skipped: admission (credentials, access lists, rate limits), fault rules and
//! coverage run for every request as before. Any write moves the state's tag, so no kept answer
//! outlives one; a backend that cannot tag its state (PostgreSQL) keeps nothing.
//!
//! Bounded like the store's document cache: at most [`MAX_ANSWERS`] answers and
//! [`MAX_BYTES`] of their compact text (answers are held serialized; the pretty-printed form of
//! an answer some client asked `pretty=true` comes on top); when either would be exceeded the cache is
//! emptied and refills with what is hot. An answer larger than a sixteenth of that is not kept.

use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex, PoisonError};

use atlas_model::{Format, Method};

use crate::kernel::call::{Call, Kept, Payload, Reply};
use crate::kernel::principal::Principal;

/// Most answers held at once.
pub const MAX_ANSWERS: usize = 1024;

/// Most compact answer text held, summed.
pub const MAX_BYTES: usize = 8 << 20;

/// Everything a GET's answer depends on besides the stored state and the time.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Key {
    op: &'static str,
    version: &'static str,
    format: Format,
    principal: Principal,
    base_url: String,
    path: String,
    query: String,
    client_ip: String,
}

impl Key {
    /// The key of `call`, if its answer may be kept: a GET without a body (one with a body may
    /// be refused for it, so it never shares another's answer).
    pub fn of(call: &Call) -> Option<Key> {
        if call.op.method != Method::Get || call.body.is_some() {
            return None;
        }
        Some(Key {
            op: call.op.name,
            version: call.version,
            format: call.format,
            principal: call.principal.clone(),
            base_url: call.origin.base_url.clone(),
            path: call.origin.path.clone(),
            query: call.origin.query.clone(),
            client_ip: call.origin.client_ip.clone(),
        })
    }
}

/// A kept answer: its status, headers and shared body.
struct Entry {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Arc<Kept>,
}

impl Entry {
    fn reply(&self) -> Reply {
        Reply {
            status: self.status,
            payload: Payload::Kept(Arc::clone(&self.body)),
            headers: self.headers.clone(),
        }
    }
}

#[derive(Default)]
struct Held {
    snapshot: u64,
    /// FxHash: hashed on every GET, and bounded (see the store's document cache).
    answers: FxHashMap<Key, Entry>,
    bytes: usize,
}

/// The answers kept for one store.
#[derive(Default)]
pub struct Answers {
    held: Mutex<Held>,
}

impl Answers {
    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer kept for `key` under `snapshot`, if any.
    pub fn get(&self, snapshot: u64, key: &Key) -> Option<Reply> {
        let held = self.held();
        if held.snapshot != snapshot {
            return None;
        }
        held.answers.get(key).map(Entry::reply)
    }

    /// Keeps `reply` (a 2xx JSON answer; anything else is returned as it is) for `key` under
    /// `snapshot`, and returns it in its kept form (serialized here, once).
    pub fn keep(&self, snapshot: u64, key: Key, reply: Reply) -> Reply {
        let Reply {
            status,
            payload: Payload::Json(value),
            headers,
        } = reply
        else {
            return reply;
        };
        let unkept = |value| Reply {
            status,
            payload: Payload::Json(value),
            headers: headers.clone(),
        };
        if !(200..300).contains(&status) {
            return unkept(value);
        }
        let Some(body) = Kept::new(&value) else {
            return unkept(value);
        };
        let size = body.compact.len();
        let entry = Entry {
            status,
            headers,
            body: Arc::new(body),
        };
        let reply = entry.reply();
        let mut held = self.held();
        if snapshot > held.snapshot {
            *held = Held {
                snapshot,
                ..Held::default()
            };
        }
        if snapshot != held.snapshot || size > MAX_BYTES / 16 {
            return reply;
        }
        if held.answers.len() >= MAX_ANSWERS || held.bytes + size > MAX_BYTES {
            held.answers.clear();
            held.bytes = 0;
        }
        held.bytes += size;
        if let Some(replaced) = held.answers.insert(key, entry) {
            held.bytes -= replaced.body.compact.len();
        }
        reply
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key(path: &str) -> Key {
        Key {
            op: "getGroup",
            version: "2023-01-01",
            format: Format::Json,
            principal: Principal::Anonymous,
            base_url: "http://localhost".into(),
            path: path.into(),
            query: String::new(),
            client_ip: "127.0.0.1".into(),
        }
    }

    fn body(reply: &Reply) -> serde_json::Value {
        match &reply.payload {
            Payload::Kept(kept) => kept.value(),
            Payload::Json(value) => value.clone(),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn call(op: atlas_model::OperationId, principal: Principal) -> Call {
        Call {
            op: op.op(),
            version: "2023-01-01",
            format: Format::Json,
            path: vec![],
            query: vec![],
            body: None,
            principal,
            origin: crate::kernel::call::Origin {
                base_url: "http://localhost:8080".into(),
                path: "/api/atlas/v2/groups".into(),
                query: String::new(),
                client_ip: "127.0.0.1".into(),
            },
        }
    }

    /// What a GET's answer depends on besides the state is in its key: another principal, URL
    /// or address is another key; a write or a GET with a body has none.
    #[test]
    fn keys_tell_calls_apart() {
        use atlas_model::OperationId::{CreateGroup, ListGroups};
        let anonymous = call(ListGroups, Principal::Anonymous);
        let key = Key::of(&anonymous).expect("a GET");
        assert_eq!(Key::of(&anonymous.clone()), Some(key));
        let user = Principal::User {
            id: "u".into(),
            username: "u@example.com".into(),
        };
        let others = [
            call(ListGroups, user),
            Call {
                version: "2025-03-12",
                ..anonymous.clone()
            },
            {
                let mut c = anonymous.clone();
                c.origin.base_url = "https://localhost:8443".into();
                c
            },
            {
                let mut c = anonymous.clone();
                c.origin.query = "pageNum=2".into();
                c
            },
            {
                let mut c = anonymous.clone();
                c.origin.client_ip = "192.0.2.1".into();
                c
            },
        ];
        let key = Key::of(&anonymous).unwrap();
        for other in &others {
            assert_ne!(Key::of(other).as_ref(), Some(&key), "{other:?}");
        }
        assert!(Key::of(&call(CreateGroup, Principal::Anonymous)).is_none());
        let with_body = Call {
            body: Some(json!({})),
            ..anonymous
        };
        assert!(Key::of(&with_body).is_none());
    }

    #[test]
    fn kept_under_one_state_only() {
        let answers = Answers::default();
        let kept = answers.keep(3, key("/a"), Reply::json(200, json!({"n": 1})));
        assert!(matches!(kept.payload, Payload::Kept(_)));
        assert_eq!(body(&answers.get(3, &key("/a")).unwrap()), json!({"n": 1}));
        assert!(answers.get(3, &key("/b")).is_none());
        assert!(answers.get(4, &key("/a")).is_none(), "another state");
        // A newer state empties the cache; an answer built from an older one is not kept.
        answers.keep(5, key("/b"), Reply::json(200, json!({"n": 2})));
        assert!(answers.get(3, &key("/a")).is_none());
        answers.keep(4, key("/a"), Reply::json(200, json!({"n": 3})));
        assert!(answers.get(4, &key("/a")).is_none());
        assert!(answers.get(5, &key("/b")).is_some());
    }

    #[test]
    fn only_successful_json_answers_are_kept() {
        let answers = Answers::default();
        let refused = answers.keep(1, key("/a"), Reply::json(404, json!({"error": 404})));
        assert!(matches!(refused.payload, Payload::Json(_)));
        let empty = answers.keep(1, key("/b"), Reply::empty(204));
        assert_eq!(empty.payload, Payload::Empty);
        assert!(answers.get(1, &key("/a")).is_none());
        assert!(answers.get(1, &key("/b")).is_none());
    }

    #[test]
    fn bounded_in_count_and_size() {
        let answers = Answers::default();
        for i in 0..=MAX_ANSWERS {
            answers.keep(1, key(&format!("/{i}")), Reply::json(200, json!(i)));
        }
        assert!(answers.held().answers.len() <= MAX_ANSWERS);
        assert!(answers.get(1, &key(&format!("/{MAX_ANSWERS}"))).is_some());
        let big = "x".repeat(MAX_BYTES / 16 + 1);
        let reply = answers.keep(1, key("/big"), Reply::json(200, json!(big)));
        assert_eq!(body(&reply), json!(big), "answered all the same");
        assert!(answers.get(1, &key("/big")).is_none());
        let held = answers.held();
        assert!(held.bytes <= MAX_BYTES);
    }
}
