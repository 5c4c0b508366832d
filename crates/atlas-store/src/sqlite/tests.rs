//! Tests of the SQLite store itself: the shared suite on both flavours, durability across
//! reopen and `kill -9`, several stores on one file, WAL concurrency, migrations and corrupt
//! rows. (The behaviour common to every backend lives in `crate::suite`.)

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::json;

use super::SqliteStore;
use crate::{Page, Store, StoreError};

fn file_store(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(dir.path().join("atlas.db")).unwrap()
}

#[test]
fn suite_on_memory_store() {
    let store = SqliteStore::memory().unwrap();
    assert_eq!(store.describe(), "memory");
    crate::suite::run_all(&store);
}

#[test]
fn suite_on_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/state/atlas.db"); // parents are created
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.describe(), format!("sqlite:{}", path.display()));
    crate::suite::run_all(&store);
}

#[test]
fn reopen_keeps_every_commit() {
    let dir = tempfile::tempdir().unwrap();
    let last = {
        let store: &dyn Store = &file_store(&dir);
        for i in 0..10 {
            store
                .write(|tx| tx.insert("/groups", &format!("g{i}"), &json!({"i": i})))
                .unwrap();
        }
        store
            .write(|tx| tx.claim("names", "first", "/groups/g0"))
            .unwrap();
        store.write(|tx| tx.delete("/groups", "g9")).unwrap();
        store
            .write(|tx| tx.insert("/groups", "g10", &json!({})))
            .unwrap()
            .seq
    };
    // A clean close checkpoints the WAL into the main file.
    assert!(!dir.path().join("atlas.db-wal").exists());
    let store: &dyn Store = &file_store(&dir);
    let (records, total) = store.read(|tx| tx.list("/groups", Page::ALL)).unwrap();
    assert_eq!(total, 10);
    assert_eq!(records[3].doc, json!({"i": 3}));
    assert_eq!(records[9].key, "g10");
    let claimant = store.read(|tx| tx.claimant("names", "first")).unwrap();
    assert_eq!(claimant.as_deref(), Some("/groups/g0"));
    let next = store
        .write(|tx| tx.insert("/groups", "g11", &json!({})))
        .unwrap();
    assert!(next.seq > last, "the sequence survives reopening");
}

#[test]
fn two_stores_on_one_file_share_commits_and_uniqueness() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (file_store(&dir), file_store(&dir));
    let (a, b): (&dyn Store, &dyn Store) = (&a, &b);
    a.write(|tx| tx.insert("/groups", "p1", &json!({"name": "one"})))
        .unwrap();
    a.write(|tx| tx.claim("/orgs/o/names", "one", "/groups/p1"))
        .unwrap();
    assert!(b.read(|tx| tx.get("/groups", "p1")).unwrap().is_some());
    let dup = b.write(|tx| tx.claim("/orgs/o/names", "one", "/groups/p2"));
    assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{dup:?}");
    let dup = b.write(|tx| tx.insert("/groups", "p1", &json!({})));
    assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{dup:?}");
    b.write(|tx| tx.delete("/groups", "p1")).unwrap();
    assert!(a.read(|tx| tx.get("/groups", "p1")).unwrap().is_none());
    a.write(|tx| tx.claim("/orgs/o/names", "one", "/groups/p3"))
        .unwrap();

    // Both race for the same 40 names: each name has exactly one winner.
    let wins = std::thread::scope(|scope| {
        let race = |store: &'static str, db: &dyn Store| {
            (0..40)
                .filter(|i| {
                    db.write(|tx| tx.claim("race", &format!("n{i}"), &format!("/{store}/{i}")))
                        .is_ok()
                })
                .count()
        };
        let left = scope.spawn(move || race("a", a));
        let right = scope.spawn(move || race("b", b));
        left.join().unwrap() + right.join().unwrap()
    });
    assert_eq!(wins, 40);
}

/// WAL: a reader gets the last committed snapshot while a write transaction is open, and
/// two read transactions can be open at once (neither waits for the other).
#[test]
fn file_store_readers_do_not_wait() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir);
    let store: &dyn Store = &store;
    store.write(|tx| tx.insert("/c", "old", &json!(0))).unwrap();
    let (opened, wait_open) = mpsc::channel();
    let (finished, wait_finished) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let holder = scope.spawn(move || {
            store.write(|tx| {
                tx.insert("/c", "uncommitted", &json!(1))?;
                opened.send(()).unwrap();
                // The reader below must finish while this transaction is still open.
                wait_finished
                    .recv_timeout(Duration::from_secs(10))
                    .map_err(|_| StoreError::Unavailable("reader blocked behind the writer".into()))
            })
        });
        wait_open.recv().unwrap();
        let (_, total) = store.read(|tx| tx.list("/c", Page::ALL)).unwrap();
        assert_eq!(total, 1, "uncommitted writes are invisible");
        finished.send(()).unwrap();
        holder.join().unwrap().unwrap();
    });

    let (opened, wait_open) = mpsc::channel();
    let (finished, wait_finished) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let holder = scope.spawn(move || {
            store.read(|tx| {
                tx.get("/c", "old")?;
                opened.send(()).unwrap();
                wait_finished
                    .recv_timeout(Duration::from_secs(10))
                    .map_err(|_| StoreError::Unavailable("reader blocked behind a reader".into()))
            })
        });
        wait_open.recv().unwrap();
        assert!(
            store
                .read(|tx| tx.get("/c", "uncommitted"))
                .unwrap()
                .is_some()
        );
        finished.send(()).unwrap();
        holder.join().unwrap().unwrap();
    });
}

const CRASH_DB: &str = "ATLAS_STORE_CRASH_TEST_DB";

/// Child half of `acknowledged_commits_survive_kill_9`: commits, reports each acknowledged
/// commit on stdout, then waits to be killed. A no-op in a normal test run.
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os(CRASH_DB) else {
        return;
    };
    let store = SqliteStore::open(path).unwrap();
    let store: &dyn Store = &store;
    for i in 0..20 {
        store
            .write(|tx| {
                tx.insert("/crash", &format!("k{i}"), &json!({"i": i}))?;
                tx.claim("crash", &format!("v{i}"), &format!("/crash/k{i}"))
            })
            .unwrap();
        println!("committed {i}");
    }
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn acknowledged_commits_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "sqlite::tests::crash_child", "--nocapture"])
        .env(CRASH_DB, &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut acknowledged = 0;
    for line in stdout.lines() {
        if line.unwrap().starts_with("committed ") {
            acknowledged += 1;
            if acknowledged == 20 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert_eq!(acknowledged, 20, "the child did not finish its commits");
    let store: &dyn Store = &SqliteStore::open(&path).unwrap();
    let (_, total) = store.read(|tx| tx.list("/crash", Page::ALL)).unwrap();
    assert_eq!(total, 20);
    let claimant = store.read(|tx| tx.claimant("crash", "v19")).unwrap();
    assert_eq!(claimant.as_deref(), Some("/crash/k19"));
}

/// The v1 schema exactly as released; never change it (that is the point of this test).
const V1_SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE docs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, collection TEXT NOT NULL, key TEXT NOT NULL,
    format INTEGER NOT NULL, doc TEXT NOT NULL, UNIQUE (collection, key));
CREATE INDEX docs_by_collection ON docs (collection, seq);
CREATE TABLE uniques (scope TEXT NOT NULL, value TEXT NOT NULL, owner TEXT NOT NULL,
    PRIMARY KEY (scope, value)) WITHOUT ROWID;
CREATE INDEX uniques_by_owner ON uniques (owner, scope);
INSERT INTO meta (key, value) VALUES ('schema_version', '1');
";

fn raw(path: &Path, sql: &str) {
    Connection::open(path).unwrap().execute_batch(sql).unwrap();
}

#[test]
fn opens_a_database_written_by_schema_v1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    raw(&path, V1_SCHEMA);
    raw(
        &path,
        r#"INSERT INTO docs (collection, key, format, doc) VALUES
             ('/groups', 'p1', 1, '{"name":"one","b":1,"a":2}'),
             ('/groups', 'p2', 1, '{"name":"two"}');
           INSERT INTO uniques VALUES ('/orgs/o/names', 'one', '/groups/p1');"#,
    );
    let store: &dyn Store = &SqliteStore::open(&path).unwrap();
    crate::suite::v1_fixture_reads(store);
}

#[test]
fn refuses_a_newer_schema_and_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    drop(SqliteStore::open(&path).unwrap());
    raw(
        &path,
        "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
    );
    match SqliteStore::open(&path) {
        Err(StoreError::Corrupt {
            collection, reason, ..
        }) => {
            assert_eq!(collection, "__meta");
            assert!(reason.contains("newer"), "{reason}");
        }
        other => panic!("expected a refusal, got {:?}", other.map(|s| s.describe())),
    }
    let foreign = dir.path().join("foreign.db");
    raw(&foreign, "CREATE TABLE users (id INTEGER)");
    assert!(matches!(
        SqliteStore::open(&foreign),
        Err(StoreError::Corrupt { .. })
    ));
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![7u8; 8192]).unwrap();
    assert!(matches!(
        SqliteStore::open(&garbage),
        Err(StoreError::Unavailable(_))
    ));
}

#[test]
fn corrupt_rows_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.db");
    drop(SqliteStore::open(&path).unwrap());
    raw(
        &path,
        r#"INSERT INTO docs (collection, key, format, doc) VALUES
             ('/bad', 'json', 1, '{not json'),
             ('/bad', 'future', 2, '{}'),
             ('/bad', 'blob', 1, x'7b7d'),
             ('/good', 'k', 1, '{}');"#,
    );
    let store: &dyn Store = &SqliteStore::open(&path).unwrap();
    for key in ["json", "future", "blob"] {
        match store.read(|tx| tx.get("/bad", key)) {
            Err(StoreError::Corrupt {
                collection, key: k, ..
            }) => {
                assert_eq!((collection.as_str(), k.as_str()), ("/bad", key));
            }
            other => panic!("{key}: expected Corrupt, got {other:?}"),
        }
    }
    assert!(matches!(
        store.read(|tx| tx.list("/bad", Page::ALL)),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(store.read(|tx| tx.get("/good", "k")).unwrap().is_some());
    assert_eq!(store.write(|tx| tx.delete_tree("/bad")).unwrap(), 3);
}

/// Throughput figures for the report, not a test of speed:
/// `cargo test -p atlas-store --release -- --ignored --nocapture measure`.
#[test]
#[ignore]
fn measure() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir);
    let store: &dyn Store = &store;
    let n = 5_000;
    let doc = json!({"name": "cluster", "stateName": "IDLE", "nested": {"a": [1, 2, 3]}});
    let start = Instant::now();
    for i in 0..n {
        store
            .write(|tx| tx.insert("/groups/g/clusters", &format!("c{i}"), &doc))
            .unwrap();
    }
    let inserts = f64::from(n) / start.elapsed().as_secs_f64();
    let start = Instant::now();
    for i in 0..n {
        store
            .read(|tx| tx.get("/groups/g/clusters", &format!("c{i}")))
            .unwrap();
    }
    let gets = f64::from(n) / start.elapsed().as_secs_f64();
    let start = Instant::now();
    for i in 0..500 {
        let page = Page {
            offset: i * 5,
            limit: 100,
        };
        store
            .read(|tx| tx.list("/groups/g/clusters", page))
            .unwrap();
    }
    let lists = 500.0 / start.elapsed().as_secs_f64();
    println!(
        "file store: {inserts:.0} durable inserts/s, {gets:.0} gets/s, {lists:.0} lists (100 of {n})/s"
    );
}

/// The document cache (`sqlite/cache.rs`) never answers with something the transaction's own
/// snapshot does not hold: writes through the store, through another store on the same file,
/// through a raw connection (another process), rolled-back writes, a write transaction reading
/// its own writes, and a reader whose snapshot began before a commit.
#[test]
fn cached_documents_follow_every_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store: &dyn Store = &file_store(&dir);
    let other: &dyn Store = &file_store(&dir);
    let doc = |s: &dyn Store| {
        s.read(|tx| tx.get("/c", "k"))
            .unwrap()
            .map(|r| r.doc["v"].clone())
    };
    assert_eq!(doc(store), None);
    assert_eq!(doc(store), None);
    store
        .write(|tx| tx.upsert("/c", "k", &json!({"v": 1})))
        .unwrap();
    for _ in 0..3 {
        assert_eq!(doc(store), Some(json!(1)));
    }
    // Another store on the file (another process is the same to SQLite).
    other
        .write(|tx| tx.upsert("/c", "k", &json!({"v": 2})))
        .unwrap();
    assert_eq!(doc(store), Some(json!(2)));
    assert_eq!(doc(store), Some(json!(2)));
    raw(
        &dir.path().join("atlas.db"),
        "UPDATE docs SET doc = '{\"v\":3}' WHERE key = 'k'",
    );
    assert_eq!(doc(store), Some(json!(3)));
    // The writer's own reads, before and after its write; a write that rolls back.
    store
        .write(|tx| {
            assert_eq!(
                tx.get("/c", "k")?.map(|r| r.doc["v"].clone()),
                Some(json!(3))
            );
            tx.upsert("/c", "k", &json!({"v": 4}))?;
            assert_eq!(
                tx.get("/c", "k")?.map(|r| r.doc["v"].clone()),
                Some(json!(4))
            );
            Ok(())
        })
        .unwrap();
    assert_eq!(doc(store), Some(json!(4)));
    let failed = store.write(|tx| {
        tx.upsert("/c", "k", &json!({"v": 5}))?;
        assert_eq!(
            tx.get("/c", "k")?.map(|r| r.doc["v"].clone()),
            Some(json!(5))
        );
        Err::<(), _>(StoreError::Unavailable("rolled back".into()))
    });
    assert!(failed.is_err());
    assert_eq!(doc(store), Some(json!(4)));
    // A reader whose snapshot began before another store's commit keeps seeing its snapshot,
    // and the next reader sees the commit.
    store
        .read(|tx| {
            assert_eq!(
                tx.get("/c", "k")?.map(|r| r.doc["v"].clone()),
                Some(json!(4))
            );
            other.write(|tx| tx.upsert("/c", "k", &json!({"v": 6})))?;
            assert_eq!(
                tx.get("/c", "k")?.map(|r| r.doc["v"].clone()),
                Some(json!(4))
            );
            Ok(())
        })
        .unwrap();
    assert_eq!(doc(store), Some(json!(6)));
    // Deleting, clearing (state import, reset).
    store.write(|tx| tx.delete("/c", "k")).unwrap();
    assert_eq!(doc(store), None);
    store
        .write(|tx| tx.upsert("/c", "k", &json!({"v": 7})))
        .unwrap();
    assert_eq!(doc(store), Some(json!(7)));
    store.write(|tx| tx.clear()).unwrap();
    assert_eq!(doc(store), None);
}

#[test]
fn the_memory_store_cache_follows_its_writes() {
    let store = SqliteStore::memory().unwrap();
    let s: &dyn Store = &store;
    let doc = || {
        s.read(|tx| tx.get("/c", "k"))
            .unwrap()
            .map(|r| r.doc["v"].clone())
    };
    assert_eq!(doc(), None);
    s.write(|tx| tx.upsert("/c", "k", &json!({"v": 1})))
        .unwrap();
    assert_eq!(doc(), Some(json!(1)));
    assert_eq!(doc(), Some(json!(1)));
    assert_eq!(store.cache.len(), 1);
    s.write(|tx| tx.delete_tree("/c")).unwrap();
    assert_eq!(doc(), None);
}

#[test]
fn the_cache_is_bounded() {
    let store = SqliteStore::memory().unwrap();
    let s: &dyn Store = &store;
    let n = super::cache::MAX_ENTRIES + 10;
    s.write(|tx| {
        for i in 0..n {
            tx.insert("/c", &i.to_string(), &json!({"i": i}))?;
        }
        Ok(())
    })
    .unwrap();
    for i in 0..n {
        let r = s.read(|tx| tx.get("/c", &i.to_string())).unwrap().unwrap();
        assert_eq!(r.doc["i"], json!(i));
        assert!(store.cache.len() <= super::cache::MAX_ENTRIES);
    }
    let big = "x".repeat(super::cache::MAX_TEXT_BYTES / 8);
    s.write(|tx| tx.upsert("/c", "big", &json!({ "big": big })))
        .unwrap();
    s.read(|tx| tx.get("/c", "big")).unwrap().unwrap();
    assert!(store.cache.len() <= super::cache::MAX_ENTRIES);
}

/// What the cache's protocol relies on: in WAL mode `PRAGMA data_version` begins the read
/// transaction's snapshot, so a commit after it is neither in the snapshot nor in the version.
#[test]
fn data_version_begins_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("atlas.db");
    drop(file_store(&dir));
    let reader = Connection::open(&path).unwrap();
    let writer = Connection::open(&path).unwrap();
    writer
        .execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1);")
        .unwrap();
    let version = |c: &Connection| -> i64 {
        c.query_row("PRAGMA data_version", [], |r| r.get(0))
            .unwrap()
    };
    let before = version(&reader);
    reader.execute_batch("BEGIN").unwrap();
    assert_eq!(version(&reader), before);
    writer.execute_batch("UPDATE t SET v = 2").unwrap();
    let seen: i64 = reader
        .query_row("SELECT v FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(seen, 1, "the snapshot began at data_version");
    assert_eq!(version(&reader), before);
    reader.execute_batch("COMMIT").unwrap();
    assert_ne!(version(&reader), before);
}

/// Listed pages are cached like documents and follow every writer too.
#[test]
fn cached_pages_follow_every_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store: &dyn Store = &file_store(&dir);
    let other: &dyn Store = &file_store(&dir);
    let page = Page {
        offset: 0,
        limit: 10,
    };
    let keys = |s: &dyn Store| {
        let (records, total) = s.read(|tx| tx.list("/l", page)).unwrap();
        let keys: Vec<String> = records.into_iter().map(|r| r.key).collect();
        (keys, total)
    };
    assert_eq!(keys(store), (vec![], 0));
    assert_eq!(keys(store), (vec![], 0));
    store.write(|tx| tx.insert("/l", "a", &json!({}))).unwrap();
    assert_eq!(keys(store), (vec!["a".to_owned()], 1));
    assert_eq!(keys(store), (vec!["a".to_owned()], 1));
    other.write(|tx| tx.insert("/l", "b", &json!({}))).unwrap();
    assert_eq!(keys(store), (vec!["a".to_owned(), "b".to_owned()], 2));
    raw(
        &dir.path().join("atlas.db"),
        "DELETE FROM docs WHERE collection = '/l' AND key = 'a'",
    );
    assert_eq!(keys(store), (vec!["b".to_owned()], 1));
    store
        .write(|tx| {
            assert_eq!(tx.list("/l", page)?.1, 1);
            tx.insert("/l", "c", &json!({}))?;
            assert_eq!(tx.list("/l", page)?.1, 2);
            Ok(())
        })
        .unwrap();
    assert_eq!(keys(store), (vec!["b".to_owned(), "c".to_owned()], 2));
    store.write(|tx| tx.delete_tree("/l")).unwrap();
    assert_eq!(keys(store), (vec![], 0));
}

/// `Tx::snapshot` (what atlas-api keeps GET answers under) is equal in two transactions only
/// when no write can lie between them: a write through the store, through another store on the
/// file or through a raw connection (another process) moves it, and a transaction that wrote
/// has none.
#[test]
fn snapshots_move_with_every_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store: &dyn Store = &file_store(&dir);
    let other: &dyn Store = &file_store(&dir);
    let tag = |s: &dyn Store| {
        // A connection's first transaction cannot know what changed before it: no tag.
        s.read(|tx| Ok(tx.snapshot())).unwrap()
    };
    let settled = |s: &dyn Store| {
        (0..4)
            .filter_map(|_| tag(s))
            .last()
            .expect("a tag once the readers have seen the database")
    };
    let first = settled(store);
    assert_eq!(tag(store), Some(first), "nothing was written");
    store
        .write(|tx| {
            tx.upsert("/c", "k", &json!({"v": 1}))?;
            assert_eq!(tx.snapshot(), None, "a transaction that wrote has no tag");
            Ok(())
        })
        .unwrap();
    let after_own = settled(store);
    assert_ne!(after_own, first);
    other
        .write(|tx| tx.upsert("/c", "k", &json!({"v": 2})))
        .unwrap();
    assert_ne!(tag(store), Some(after_own), "another store's commit");
    let after_other = settled(store);
    raw(
        &dir.path().join("atlas.db"),
        "UPDATE docs SET doc = '{\"v\":3}' WHERE key = 'k'",
    );
    assert_ne!(tag(store), Some(after_other), "another process's commit");
    // A rolled-back write moves it too: nothing may outlive a write.
    let before = settled(store);
    let failed = store.write(|tx| {
        tx.upsert("/c", "k", &json!({"v": 5}))?;
        Err::<(), _>(StoreError::Unavailable("rolled back".into()))
    });
    assert!(failed.is_err());
    assert_ne!(tag(store), Some(before));
    // The memory store tags its reads the same way.
    let memory = SqliteStore::memory().unwrap();
    let memory: &dyn Store = &memory;
    let m = memory.read(|tx| Ok(tx.snapshot())).unwrap();
    assert!(m.is_some());
    assert_eq!(memory.read(|tx| Ok(tx.snapshot())).unwrap(), m);
    memory
        .write(|tx| tx.upsert("/c", "k", &json!({"v": 1})))
        .unwrap();
    assert_ne!(memory.read(|tx| Ok(tx.snapshot())).unwrap(), m);
}
