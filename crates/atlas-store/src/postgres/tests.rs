//! Tests of the PostgreSQL store itself: the shared suite, several stores on one database
//! (uniqueness, no lost updates under serialization conflicts), migrations from the v1 layout,
//! reconnecting after the server dropped every connection. They run when
//! `LOCALATLAS_TEST_POSTGRES` names a server (`.ci/run` starts one) and pass trivially otherwise.

use postgres::{Client, NoTls};
use serde_json::json;

use super::{PostgresStore, test_database, with_database};
use crate::{Page, Store, StoreError};

/// A store on a new database named after the test, or `None` (skip) without a server.
fn store(test: &str) -> Option<(PostgresStore, String)> {
    let url = test_database(&format!("localatlas_store_{test}"))?;
    Some((PostgresStore::open(&url).expect("opens"), url))
}

#[test]
fn suite_on_postgres() {
    let Some((store, url)) = store("suite") else {
        return;
    };
    assert!(store.describe().starts_with("postgres://"), "{url}");
    assert!(
        !store.describe().contains('@'),
        "no credentials in the description"
    );
    crate::suite::run_all(&store);
    store.check().unwrap();
}

#[test]
fn urls_keep_parameters_and_pool_size_is_ours() {
    assert_eq!(
        with_database("postgres://u:p@h:5/old?sslmode=disable", "new"),
        "postgres://u:p@h:5/new?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "new"), "postgres://h/new");
    let (url, size) = super::take_pool_size("postgres://h/db?pool_size=3&x=1").unwrap();
    assert_eq!((url.as_str(), size), ("postgres://h/db?x=1", 3));
    assert!(super::take_pool_size("postgres://h/db?pool_size=0").is_err());
    assert!(matches!(
        PostgresStore::open("postgres://127.0.0.1:1/none?connect_timeout=1"),
        Err(StoreError::Unavailable(_))
    ));
}

#[test]
fn two_stores_on_one_database_share_commits_and_uniqueness() {
    let Some((a, url)) = store("two") else {
        return;
    };
    let b = PostgresStore::open(&url).unwrap();
    let (a, b): (&dyn Store, &dyn Store) = (&a, &b);
    a.write(|tx| tx.insert("/groups", "p1", &json!({"name": "one"})))
        .unwrap();
    assert!(b.read(|tx| tx.get("/groups", "p1")).unwrap().is_some());
    let dup = b.write(|tx| tx.insert("/groups", "p1", &json!({})));
    assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{dup:?}");

    // Both race for the same 60 names, 3 threads each: every name has exactly one winner.
    let wins = std::thread::scope(|scope| {
        let race = |name: String, db: &dyn Store| {
            (0..60)
                .filter(|i| {
                    let owner = format!("/{name}/{i}");
                    db.write(|tx| {
                        tx.insert(&format!("/{name}"), &i.to_string(), &json!({}))?;
                        tx.claim("race", &format!("n{i}"), &owner)
                    })
                    .is_ok()
                })
                .count()
        };
        let handles: Vec<_> = (0..6)
            .map(|t| {
                let db = if t % 2 == 0 { a } else { b };
                scope.spawn(move || race(format!("racer{t}"), db))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum::<usize>()
    });
    assert_eq!(wins, 60);
    let all: u64 = (0..6)
        .map(|t| {
            a.read(|tx| tx.list(&format!("/racer{t}"), Page::ALL))
                .unwrap()
                .1
        })
        .sum();
    assert_eq!(all, 60, "a losing claim rolls back its insert");
}

/// Read-modify-write of one document from 8 threads on two stores: serialization conflicts are
/// retried, so no increment is lost.
#[test]
fn concurrent_read_modify_write_loses_no_update() {
    let Some((a, url)) = store("rmw") else {
        return;
    };
    let b = PostgresStore::open(&url).unwrap();
    let (a, b): (&dyn Store, &dyn Store) = (&a, &b);
    a.write(|tx| tx.insert("/counter", "c", &json!({"n": 0})))
        .unwrap();
    const PER_THREAD: i64 = 25;
    std::thread::scope(|scope| {
        for t in 0..8 {
            let db = if t % 2 == 0 { a } else { b };
            scope.spawn(move || {
                for _ in 0..PER_THREAD {
                    db.write(|tx| {
                        let n = tx.get("/counter", "c")?.unwrap().doc["n"].as_i64().unwrap();
                        tx.update("/counter", "c", &json!({"n": n + 1}))?;
                        Ok(())
                    })
                    .unwrap();
                }
            });
        }
    });
    let n = a.read(|tx| tx.get("/counter", "c")).unwrap().unwrap().doc["n"].clone();
    assert_eq!(n, json!(8 * PER_THREAD));
}

/// Keys and values may hold any character a percent-decoded path can (NUL included).
#[test]
fn nul_and_non_ascii_in_keys() {
    let Some((store, _)) = store("nul") else {
        return;
    };
    let store: &dyn Store = &store;
    let key = "a\u{0}b/ü";
    store
        .write(|tx| tx.insert("/c\u{0}", key, &json!({"v": "\u{0}"})))
        .unwrap();
    store
        .write(|tx| tx.claim("s\u{0}", "v\u{0}", "/c\u{0}/x"))
        .unwrap();
    let record = store.read(|tx| tx.get("/c\u{0}", key)).unwrap().unwrap();
    assert_eq!(record.doc, json!({"v": "\u{0}"}));
    let (records, _) = store.read(|tx| tx.list("/c\u{0}", Page::ALL)).unwrap();
    assert_eq!(records[0].key, key);
}

/// The v1 layout exactly as released; never change it (that is the point of this test).
const V1_SCHEMA: &str = "
CREATE SCHEMA localatlas;
CREATE TABLE localatlas.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE localatlas.docs (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, collection BYTEA NOT NULL,
    key BYTEA NOT NULL, format INTEGER NOT NULL, doc TEXT NOT NULL, UNIQUE (collection, key));
CREATE INDEX docs_by_collection ON localatlas.docs (collection, seq);
CREATE TABLE localatlas.uniques (scope BYTEA NOT NULL, value BYTEA NOT NULL,
    owner BYTEA NOT NULL, PRIMARY KEY (scope, value));
CREATE INDEX uniques_by_owner ON localatlas.uniques (owner, scope);
INSERT INTO localatlas.meta (key, value) VALUES ('schema_version', '1');
INSERT INTO localatlas.docs (collection, key, format, doc) VALUES
    ('/groups', 'p1', 1, '{\"name\":\"one\",\"b\":1,\"a\":2}'),
    ('/groups', 'p2', 1, '{\"name\":\"two\"}');
INSERT INTO localatlas.uniques VALUES ('/orgs/o/names', 'one', '/groups/p1');
";

#[test]
fn opens_a_database_written_by_schema_v1() {
    let Some(url) = test_database("localatlas_store_v1") else {
        return;
    };
    Client::connect(&url, NoTls)
        .unwrap()
        .batch_execute(V1_SCHEMA)
        .unwrap();
    let store = PostgresStore::open(&url).unwrap();
    let store: &dyn Store = &store;
    crate::suite::v1_fixture_reads(store);

    // A newer schema is refused, not misread.
    Client::connect(&url, NoTls)
        .unwrap()
        .batch_execute("UPDATE localatlas.meta SET value = '99' WHERE key = 'schema_version'")
        .unwrap();
    match PostgresStore::open(&url) {
        Err(StoreError::Corrupt { reason, .. }) => assert!(reason.contains("newer"), "{reason}"),
        other => panic!("expected a refusal, got {:?}", other.map(|s| s.describe())),
    }
}

/// Every pooled connection killed by the server (as a restart does): the next transactions
/// reconnect by themselves.
#[test]
fn reconnects_after_the_server_dropped_its_connections() {
    let Some((store, url)) = store("reconnect") else {
        return;
    };
    let store: &dyn Store = &store;
    // Fill the pool with several connections.
    std::thread::scope(|scope| {
        for i in 0..4 {
            scope.spawn(move || {
                store
                    .write(|tx| tx.insert("/r", &format!("k{i}"), &json!(i)))
                    .unwrap();
            });
        }
    });
    let mut admin = Client::connect(&url, NoTls).unwrap();
    let killed: i64 = admin
        .query_one(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(killed >= 1, "no pooled connection to kill");
    for i in 0..8 {
        store
            .write(|tx| tx.insert("/r", &format!("after{i}"), &json!(i)))
            .unwrap();
    }
    assert_eq!(store.read(|tx| tx.list("/r", Page::ALL)).unwrap().1, 12);
}
