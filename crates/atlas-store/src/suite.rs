//! The behaviour every [`Store`] must have, written against `&dyn Store` only, so each backend
//! (SQLite file and memory, PostgreSQL) runs exactly the same checks through
//! [`run_all`]. Each check uses its own collections, so they can share one store.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use crate::{Access, Page, Store, StoreError, StoreResult, Tx};

pub(crate) fn run_all(store: &dyn Store) {
    crud(store);
    sequence_is_creation_order(store);
    paging(store);
    duplicate_insert_keeps_transaction_usable(store);
    rollback_on_error(store);
    read_transactions_cannot_write(store);
    claims(store);
    delete_releases_claims(store);
    delete_tree(store);
    collections_under(store);
    panic_rolls_back_and_store_stays_usable(store);
    concurrent_readers_and_writer(store);
    // Last: it empties the store.
    everything_then_clear(store);
}

fn get(store: &dyn Store, collection: &str, key: &str) -> Option<crate::Record> {
    store.read(|tx| tx.get(collection, key)).unwrap()
}

fn keys(store: &dyn Store, collection: &str, page: Page) -> (Vec<String>, u64) {
    let (records, total) = store.read(|tx| tx.list(collection, page)).unwrap();
    (records.into_iter().map(|r| r.key).collect(), total)
}

fn claimant(store: &dyn Store, scope: &str, value: &str) -> Option<String> {
    store.read(|tx| tx.claimant(scope, value)).unwrap()
}

fn crud(store: &dyn Store) {
    let c = "/groups/crud/clusters";
    let c1 = store
        .write(|tx| tx.insert(c, "c1", &json!({"name": "c1"})))
        .unwrap();
    assert_eq!((c1.collection.as_str(), c1.key.as_str()), (c, "c1"));
    assert_eq!(get(store, c, "c1"), Some(c1.clone()));
    assert_eq!(get(store, c, "c2"), None);
    assert_eq!(get(store, "/groups/crud/other", "c1"), None);

    assert!(
        store
            .write(|tx| tx.update(c, "c1", &json!({"n": 2})))
            .unwrap()
    );
    assert!(
        !store
            .write(|tx| tx.update(c, "absent", &json!({})))
            .unwrap()
    );
    assert_eq!(get(store, c, "absent"), None, "update must not create");
    let updated = get(store, c, "c1").unwrap();
    assert_eq!((updated.doc, updated.seq), (json!({"n": 2}), c1.seq));

    store
        .write(|tx| tx.upsert(c, "c2", &json!({"v": 1})))
        .unwrap();
    let c2 = get(store, c, "c2").unwrap();
    assert!(c2.seq > c1.seq);
    store
        .write(|tx| tx.upsert(c, "c2", &json!({"v": 2})))
        .unwrap();
    let c2b = get(store, c, "c2").unwrap();
    assert_eq!(
        (c2b.doc, c2b.seq),
        (json!({"v": 2}), c2.seq),
        "upsert keeps seq"
    );

    assert!(store.write(|tx| tx.delete(c, "c1")).unwrap());
    assert!(!store.write(|tx| tx.delete(c, "c1")).unwrap());
    assert_eq!(get(store, c, "c1"), None);
    let again = store.write(|tx| tx.insert(c, "c1", &json!(1))).unwrap();
    assert!(again.seq > c2.seq, "a re-inserted key goes to the end");
    assert_eq!(
        keys(store, c, Page::ALL),
        (vec!["c2".into(), "c1".into()], 2)
    );

    // Documents round-trip exactly, including member order, and keys may hold anything.
    let doc = json!({"z": 1, "a": [1, "two", null, {"x": 1.5}], "ü": "snow ☃", "big": i64::MAX});
    let odd = "odd key _%/ü'\"";
    store.write(|tx| tx.insert(c, odd, &doc)).unwrap();
    let back = get(store, c, odd).unwrap().doc;
    assert_eq!(back.to_string(), doc.to_string());
    for scalar in [json!(null), json!("text"), json!(-3), json!([])] {
        store
            .write(|tx| tx.upsert("__scalars", "k", &scalar))
            .unwrap();
        assert_eq!(get(store, "__scalars", "k").unwrap().doc, scalar);
    }
}

fn sequence_is_creation_order(store: &dyn Store) {
    let (a, b) = ("/order/a", "/order/b");
    let mut seqs = Vec::new();
    for (collection, key) in [(a, "1"), (b, "x"), (a, "2"), (b, "y"), (a, "3")] {
        seqs.push(
            store
                .write(|tx| tx.insert(collection, key, &json!({})))
                .unwrap()
                .seq,
        );
    }
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seq is store-wide monotonic: {seqs:?}"
    );
    store
        .write(|tx| tx.update(a, "1", &json!({"changed": true})))
        .unwrap();
    store
        .write(|tx| tx.upsert(a, "2", &json!({"changed": true})))
        .unwrap();
    assert_eq!(keys(store, a, Page::ALL).0, ["1", "2", "3"]);
    // Deleting the newest document must not let its sequence be handed out again.
    let newest = seqs[4];
    store.write(|tx| tx.delete(a, "3")).unwrap();
    let next = store.write(|tx| tx.insert(a, "4", &json!({}))).unwrap();
    assert!(next.seq > newest);
}

fn paging(store: &dyn Store) {
    let c = "/paging/items";
    store
        .write(|tx| {
            for i in 0..7 {
                tx.insert(c, &format!("k{i}"), &json!(i))?;
            }
            tx.insert("/paging/items2", "other", &json!(0))?;
            tx.insert("/paging/items/sub", "other", &json!(0))?;
            Ok(())
        })
        .unwrap();
    let page = |offset, limit| keys(store, c, Page { offset, limit });
    let k = |r: std::ops::Range<usize>| r.map(|i| format!("k{i}")).collect::<Vec<_>>();
    assert_eq!(page(0, 3), (k(0..3), 7));
    assert_eq!(page(3, 3), (k(3..6), 7));
    assert_eq!(page(6, 3), (k(6..7), 7));
    assert_eq!(page(7, 3), (vec![], 7));
    assert_eq!(page(100, 5), (vec![], 7));
    assert_eq!(page(0, 0), (vec![], 7));
    assert_eq!(page(2, u64::MAX), (k(2..7), 7));
    assert_eq!(page(u64::MAX, u64::MAX), (vec![], 7));
    assert_eq!(keys(store, c, Page::ALL), (k(0..7), 7));
    assert_eq!(keys(store, "/paging/empty", Page::ALL), (vec![], 0));
}

fn duplicate_insert_keeps_transaction_usable(store: &dyn Store) {
    let (c, s) = ("/dup/items", "dup-scope");
    store
        .write(|tx| {
            tx.insert(c, "k", &json!(1))?;
            match tx.insert(c, "k", &json!(2)) {
                Err(StoreError::Duplicate(what)) => assert_eq!(what, c),
                other => panic!("expected Duplicate, got {other:?}"),
            }
            tx.insert(c, "k2", &json!(3))?;
            tx.claim(s, "v", "/dup/items/k")?;
            match tx.claim(s, "v", "/dup/items/k2") {
                Err(StoreError::Duplicate(what)) => assert_eq!(what, s),
                other => panic!("expected Duplicate, got {other:?}"),
            }
            tx.claim(s, "w", "/dup/items/k2")?;
            Ok(())
        })
        .unwrap();
    assert_eq!(get(store, c, "k").unwrap().doc, json!(1));
    assert_eq!(get(store, c, "k2").unwrap().doc, json!(3));
    assert_eq!(claimant(store, s, "v").as_deref(), Some("/dup/items/k"));
    assert_eq!(claimant(store, s, "w").as_deref(), Some("/dup/items/k2"));

    // Across transactions; and a Duplicate propagated with `?` rolls the whole work back.
    let err = store.write(|tx| {
        tx.insert(c, "fresh", &json!(0))?;
        tx.insert(c, "k", &json!(9))
    });
    assert!(matches!(err, Err(StoreError::Duplicate(_))), "{err:?}");
    assert_eq!(get(store, c, "fresh"), None);
    assert_eq!(get(store, c, "k").unwrap().doc, json!(1));
}

fn rollback_on_error(store: &dyn Store) {
    let (c, s) = ("/rollback/items", "rollback-scope");
    store
        .write(|tx| {
            tx.insert(c, "keep", &json!("original"))?;
            tx.insert("/rollback/items/keep/sub", "child", &json!(0))?;
            tx.claim(s, "name", "/rollback/items/keep")
        })
        .unwrap();
    let mut work = |tx: &mut dyn Tx| -> StoreResult<()> {
        tx.update(c, "keep", &json!("changed"))?;
        tx.insert(c, "gone", &json!(0))?;
        tx.release(s, "/rollback/items/keep")?;
        tx.claim(s, "other", "/rollback/items/gone")?;
        tx.delete_tree("/rollback/items/keep")?;
        Err(StoreError::Unavailable("boom".into()))
    };
    match store.transaction(Access::Write, &mut work) {
        Err(StoreError::Unavailable(message)) => assert_eq!(message, "boom"),
        other => panic!("the error of work must come back unchanged, got {other:?}"),
    }
    assert_eq!(get(store, c, "keep").unwrap().doc, json!("original"));
    assert_eq!(get(store, c, "gone"), None);
    assert!(get(store, "/rollback/items/keep/sub", "child").is_some());
    assert_eq!(
        claimant(store, s, "name").as_deref(),
        Some("/rollback/items/keep")
    );
    assert_eq!(claimant(store, s, "other"), None);
}

fn read_transactions_cannot_write(store: &dyn Store) {
    let c = "/readonly/items";
    store.write(|tx| tx.insert(c, "k", &json!(1))).unwrap();
    store
        .read(|tx| {
            let doc = json!(2);
            let attempts = [
                tx.insert(c, "new", &doc).map(|_| ()),
                tx.update(c, "k", &doc).map(|_| ()),
                tx.upsert(c, "k", &doc),
                tx.delete(c, "k").map(|_| ()),
                tx.delete_tree("/readonly").map(|_| ()),
                tx.claim("s", "v", "o"),
                tx.release("s", "o"),
            ];
            for attempt in attempts {
                assert!(
                    matches!(attempt, Err(StoreError::Unavailable(_))),
                    "{attempt:?}"
                );
            }
            // Still usable for reading.
            assert_eq!(tx.get(c, "k")?.map(|r| r.doc), Some(json!(1)));
            Ok(())
        })
        .unwrap();
    assert_eq!(keys(store, c, Page::ALL), (vec!["k".into()], 1));
    assert_eq!(claimant(store, "s", "v"), None);
}

fn claims(store: &dyn Store) {
    let (s, s2) = ("/orgs/o1/projectNames", "/orgs/o2/projectNames");
    let (p1, p2, p3) = ("/groups/p1", "/groups/p2", "/groups/p3");
    store.write(|tx| tx.claim(s, "alpha", p1)).unwrap();
    store.write(|tx| tx.claim(s, "alpha", p1)).unwrap(); // again by the holder: no-op
    match store.write(|tx| tx.claim(s, "alpha", p2)) {
        Err(StoreError::Duplicate(scope)) => assert_eq!(scope, s),
        other => panic!("expected Duplicate, got {other:?}"),
    }
    assert_eq!(claimant(store, s, "alpha").as_deref(), Some(p1));
    store.write(|tx| tx.claim(s2, "alpha", p2)).unwrap(); // scopes are independent
    // `_` and `%` are plain characters in values.
    store.write(|tx| tx.claim(s, "a_c", p3)).unwrap();
    store.write(|tx| tx.claim(s, "abc", p2)).unwrap();
    store.write(|tx| tx.claim(s, "a%", p3)).unwrap();
    assert_eq!(claimant(store, s, "a%c"), None);

    // A rename: release the owner's claims in the scope, claim the new value.
    store
        .write(|tx| {
            tx.release(s, p1)?;
            tx.claim(s, "beta", p1)
        })
        .unwrap();
    assert_eq!(claimant(store, s, "alpha"), None);
    assert_eq!(claimant(store, s, "beta").as_deref(), Some(p1));
    store.write(|tx| tx.claim(s, "alpha", p2)).unwrap();

    // Release covers every value of the owner in that scope, and nothing else.
    store.write(|tx| tx.claim(s2, "gamma", p3)).unwrap();
    store.write(|tx| tx.release(s, p3)).unwrap();
    assert_eq!(claimant(store, s, "a_c"), None);
    assert_eq!(claimant(store, s, "a%"), None);
    assert_eq!(claimant(store, s, "abc").as_deref(), Some(p2));
    assert_eq!(claimant(store, s2, "gamma").as_deref(), Some(p3));
    assert_eq!(claimant(store, s2, "alpha").as_deref(), Some(p2));
}

fn delete_releases_claims(store: &dyn Store) {
    let (c, s, s2) = ("/drc", "drc-names", "drc-other");
    store
        .write(|tx| {
            tx.insert(c, "g1", &json!({}))?;
            tx.insert(c, "g10", &json!({}))?;
            tx.claim(s, "name1", "/drc/g1")?;
            tx.claim(s2, "x", "/drc/g1")?;
            tx.claim(s, "name10", "/drc/g10")
        })
        .unwrap();
    assert!(store.write(|tx| tx.delete(c, "g1")).unwrap());
    assert_eq!(claimant(store, s, "name1"), None);
    assert_eq!(claimant(store, s2, "x"), None);
    assert_eq!(claimant(store, s, "name10").as_deref(), Some("/drc/g10"));
    store.write(|tx| tx.claim(s, "name1", "/drc/g10")).unwrap();
}

fn delete_tree(store: &dyn Store) {
    let s = "tree-names";
    let docs = [
        ("/groups", "a_c"),
        ("/groups", "abc"),
        ("/groups", "a_cd"),
        ("/groups", "a%c"),
        ("/groups/a_c", "settings"),
        ("/groups/a_c/clusters", "c1"),
        ("/groups/a_c/clusters", "c2"),
        ("/groups/a_c/clusters/c1/onlineArchives", "oa1"),
        ("/groups/abc/clusters", "c1"),
        ("/groups/a_cd/clusters", "c1"),
        ("/groups/a%c/clusters", "c1"),
        ("/groups/a_c-x/clusters", "c1"),
        ("/groups/a_c.x", "k"),
        ("/groups/a_c0/clusters", "c1"),
        ("__groups/a_c", "internal"),
    ];
    store
        .write(|tx| {
            for (collection, key) in docs {
                tx.insert(collection, key, &json!({}))?;
                tx.claim(
                    s,
                    &format!("{collection}/{key}"),
                    &format!("{collection}/{key}"),
                )?;
            }
            Ok(())
        })
        .unwrap();
    let present = |collection: &str, key: &str| get(store, collection, key).is_some();
    assert_eq!(store.write(|tx| tx.delete_tree("/groups/a_c")).unwrap(), 5);
    for (collection, key) in docs {
        let path = format!("{collection}/{key}");
        let gone = path == "/groups/a_c" || path.starts_with("/groups/a_c/");
        assert_eq!(present(collection, key), !gone, "{path}");
        assert_eq!(claimant(store, s, &path).is_none(), gone, "claim of {path}");
    }
    assert_eq!(store.write(|tx| tx.delete_tree("/groups/a%")).unwrap(), 0);
    assert_eq!(store.write(|tx| tx.delete_tree("/groups/a_c")).unwrap(), 0);
    assert_eq!(store.write(|tx| tx.delete_tree("/groups/a%c/")).unwrap(), 2);
    assert!(!present("/groups", "a%c") && !present("/groups/a%c/clusters", "c1"));
    assert!(present("/groups", "abc") && present("/groups/abc/clusters", "c1"));
}

fn collections_under(store: &dyn Store) {
    let collections = [
        "/cu/a_b",
        "/cu/a_b/x",
        "/cu/a_b/x/y",
        "/cu/aXb/z",
        "/cu/a_b-z",
        "/cu/a_bc",
    ];
    store
        .write(|tx| {
            for collection in collections {
                tx.insert(collection, "k", &json!({}))?;
            }
            Ok(())
        })
        .unwrap();
    let under = |prefix: &str| store.read(|tx| tx.collections_under(prefix)).unwrap();
    assert_eq!(under("/cu/a_b"), ["/cu/a_b", "/cu/a_b/x", "/cu/a_b/x/y"]);
    assert_eq!(under("/cu/a_b/"), under("/cu/a_b"));
    let mut all = collections.to_vec();
    all.sort();
    assert_eq!(under("/cu"), all);
    assert!(under("/nothing").is_empty());
    store.write(|tx| tx.delete("/cu/a_b/x", "k")).unwrap();
    assert_eq!(under("/cu/a_b"), ["/cu/a_b", "/cu/a_b/x/y"]);
}

fn panic_rolls_back_and_store_stays_usable(store: &dyn Store) {
    let (c, s) = ("/panic/items", "panic-scope");
    for access in [Access::Write, Access::Read, Access::Write] {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let _ = store.transaction(access, &mut |tx| {
                if access == Access::Write {
                    tx.insert(c, "p", &json!(1))?;
                    tx.claim(s, "v", "/panic/items/p")?;
                }
                panic!("work panicked (expected by the test)");
            });
        }));
        assert!(outcome.is_err());
        assert_eq!(get(store, c, "p"), None);
        assert_eq!(claimant(store, s, "v"), None);
    }
    store.write(|tx| tx.insert(c, "p", &json!(2))).unwrap();
    assert_eq!(get(store, c, "p").unwrap().doc, json!(2));
}

/// Readers run while a writer commits pairs of documents: every read transaction sees whole
/// commits only, and the same snapshot for all its statements.
fn concurrent_readers_and_writer(store: &dyn Store) {
    const ROUNDS: usize = 100;
    let c = "/concurrent/items";
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for i in 0..ROUNDS {
                store
                    .write(|tx| {
                        tx.insert(c, &format!("a{i}"), &json!(i))?;
                        tx.insert(c, &format!("b{i}"), &json!(i))
                    })
                    .unwrap();
            }
            done.store(true, Ordering::Release);
        });
        for _ in 0..3 {
            scope.spawn(|| {
                loop {
                    let finished = done.load(Ordering::Acquire);
                    store
                        .read(|tx| {
                            let (items, total) = tx.list(c, Page::ALL)?;
                            assert_eq!(total % 2, 0, "a reader saw half a commit");
                            assert_eq!(u64::try_from(items.len()).unwrap(), total);
                            assert!(items.windows(2).all(|w| w[0].seq < w[1].seq));
                            std::thread::yield_now();
                            let (_, again) = tx.list(
                                c,
                                Page {
                                    offset: 0,
                                    limit: 1,
                                },
                            )?;
                            assert_eq!(again, total, "one snapshot per read transaction");
                            Ok(())
                        })
                        .unwrap();
                    if finished {
                        break;
                    }
                }
            });
        }
    });
    assert_eq!(keys(store, c, Page::ALL).1, 2 * ROUNDS as u64);
}

/// `collections` and `claims` see everything (internal collections too), `clear` removes it all
/// and the sequence goes on.
fn everything_then_clear(store: &dyn Store) {
    let (c, s) = ("__everything", "everything-scope");
    let last = store
        .write(|tx| {
            tx.claim(s, "v", "__everything/k")?;
            tx.insert(c, "k", &json!({}))
        })
        .unwrap()
        .seq;
    let collections = store.read(|tx| tx.collections()).unwrap();
    assert!(
        collections.windows(2).all(|w| w[0] < w[1]),
        "{collections:?}"
    );
    for expected in [c, "/groups/crud/clusters", "__scalars", "/cu/a_b/x/y"] {
        assert!(collections.iter().any(|x| x == expected), "{expected}");
    }
    let claims = store.read(|tx| tx.claims()).unwrap();
    assert!(claims.windows(2).all(|w| w[0] < w[1]));
    assert!(claims.contains(&crate::Claim {
        scope: s.into(),
        value: "v".into(),
        owner: "__everything/k".into()
    }));
    let refused = store.read(|tx| tx.clear());
    assert!(
        matches!(refused, Err(StoreError::Unavailable(_))),
        "{refused:?}"
    );
    store.write(|tx| tx.clear()).unwrap();
    assert!(store.read(|tx| tx.collections()).unwrap().is_empty());
    assert!(store.read(|tx| tx.claims()).unwrap().is_empty());
    let next = store.write(|tx| tx.insert(c, "k", &json!({}))).unwrap();
    assert!(next.seq > last, "clear does not reset the sequence");
}

/// What a store opened on the v1 fixture (written by hand in each backend's own v1 layout: two
/// projects `/groups/p1` `{"name":"one","b":1,"a":2}` and `p2`, `p1` holding the claim `one` in
/// `/orgs/o/names`) must show: the documents, the claim, a sequence that goes on after the
/// fixture's, and claims released with their owner.
pub(crate) fn v1_fixture_reads(store: &dyn Store) {
    let (records, total) = store.read(|tx| tx.list("/groups", Page::ALL)).unwrap();
    assert_eq!(total, 2);
    assert_eq!(records[0].doc, json!({"name": "one", "b": 1, "a": 2}));
    let claimant = store
        .read(|tx| tx.claimant("/orgs/o/names", "one"))
        .unwrap();
    assert_eq!(claimant.as_deref(), Some("/groups/p1"));
    let next = store
        .write(|tx| tx.insert("/groups", "p3", &json!({})))
        .unwrap();
    assert!(next.seq > records[1].seq);
    assert!(store.write(|tx| tx.delete("/groups", "p1")).unwrap());
    assert_eq!(
        store
            .read(|tx| tx.claimant("/orgs/o/names", "one"))
            .unwrap(),
        None
    );
    // Totals counted after the migration follow inserts and deletes.
    let (_, total) = store.read(|tx| tx.list("/groups", Page::ALL)).unwrap();
    assert_eq!(total, 2);
}
