//! [`Tx`] over one PostgreSQL transaction: the prepared SQL of every store operation, the
//! decoding of rows (which never panics on bad data), and one attempt at running `work`
//! ([`attempt`]) with the failure classified for the retry loop in `postgres.rs`.
//!
//! Conflicts are detected with `INSERT … ON CONFLICT DO NOTHING` and the row count, never by
//! catching a unique violation: a failed statement aborts a PostgreSQL transaction, while a
//! statement that inserted nothing leaves it usable, which `Duplicate` promises. Under
//! `SERIALIZABLE`, a conflicting row that another transaction committed after this one's
//! snapshot makes PostgreSQL raise a serialization failure instead; the retry then sees the row
//! and answers `Duplicate` as SQLite would.

use postgres::types::ToSql;
use postgres::{Client, IsolationLevel, Row, Statement, Transaction};
use serde_json::Value;

use super::{Attempt, Conn, Failure, classify, detail, unavailable};
use crate::tx::{RECORD_FORMAT, Tree, clamp, corrupt, encode};
use crate::{Access, Claim, Page, Record, StoreError, StoreResult, Tx};

/// The statements of one connection, prepared once.
pub(crate) struct Statements {
    get: Statement,
    count: Statement,
    list: Statement,
    insert: Statement,
    update: Statement,
    upsert: Statement,
    delete: Statement,
    release_owner: Statement,
    tree_claims: Statement,
    tree_docs: Statement,
    claim: Statement,
    release: Statement,
    claimant: Statement,
    collections_under: Statement,
    collections: Statement,
    claims: Statement,
}

/// The subtree condition of `delete_tree` (parameters `$1`..`$5`, see `Tree`).
const SUBTREE: &str = "(collection = $1 OR (collection >= $2 AND collection < $3) \
                       OR (collection = $4 AND key = $5))";

impl Statements {
    pub(crate) fn prepare(client: &mut Client) -> StoreResult<Statements> {
        let mut prepare = |sql: &str| {
            client
                .prepare(sql)
                .map_err(|e| unavailable("preparing statements", &e))
        };
        Ok(Statements {
            get: prepare(
                "SELECT seq, format, doc FROM localatlas.docs WHERE collection = $1 AND key = $2",
            )?,
            count: prepare("SELECT COUNT(*) FROM localatlas.docs WHERE collection = $1")?,
            list: prepare(
                "SELECT key, seq, format, doc FROM localatlas.docs WHERE collection = $1 \
                 ORDER BY seq LIMIT $2 OFFSET $3",
            )?,
            insert: prepare(
                "INSERT INTO localatlas.docs (collection, key, format, doc) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (collection, key) DO NOTHING RETURNING seq",
            )?,
            update: prepare(
                "UPDATE localatlas.docs SET format = $3, doc = $4 \
                 WHERE collection = $1 AND key = $2",
            )?,
            upsert: prepare(
                "INSERT INTO localatlas.docs (collection, key, format, doc) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (collection, key) \
                 DO UPDATE SET format = excluded.format, doc = excluded.doc",
            )?,
            delete: prepare("DELETE FROM localatlas.docs WHERE collection = $1 AND key = $2")?,
            release_owner: prepare("DELETE FROM localatlas.uniques WHERE owner = $1")?,
            tree_claims: prepare(&format!(
                "DELETE FROM localatlas.uniques WHERE owner IN \
                 (SELECT collection || '\\x2f'::bytea || key FROM localatlas.docs WHERE {SUBTREE})"
            ))?,
            tree_docs: prepare(&format!("DELETE FROM localatlas.docs WHERE {SUBTREE}"))?,
            claim: prepare(
                "INSERT INTO localatlas.uniques (scope, value, owner) VALUES ($1, $2, $3) \
                 ON CONFLICT (scope, value) DO NOTHING",
            )?,
            release: prepare("DELETE FROM localatlas.uniques WHERE owner = $1 AND scope = $2")?,
            claimant: prepare(
                "SELECT owner FROM localatlas.uniques WHERE scope = $1 AND value = $2",
            )?,
            collections_under: prepare(
                "SELECT DISTINCT collection FROM localatlas.docs \
                 WHERE collection = $1 OR (collection >= $2 AND collection < $3) \
                 ORDER BY collection",
            )?,
            collections: prepare(
                "SELECT DISTINCT collection FROM localatlas.docs ORDER BY collection",
            )?,
            claims: prepare(
                "SELECT scope, value, owner FROM localatlas.uniques ORDER BY scope, value",
            )?,
        })
    }
}

/// Runs `work` once in a new transaction on `conn` and commits it.
pub(crate) fn attempt(
    conn: &mut Conn,
    access: Access,
    work: &mut dyn FnMut(&mut dyn Tx) -> StoreResult<()>,
) -> Attempt {
    if let Err(e) = conn.prepare() {
        return Attempt::Broken {
            committing: false,
            error: e.to_string(),
        };
    }
    let Conn {
        client,
        statements: Some(statements),
    } = conn
    else {
        return Attempt::Done(Err(StoreError::Unavailable(
            "postgres: statements not prepared".into(),
        )));
    };
    let builder = match access {
        Access::Read => client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true),
        Access::Write => client
            .build_transaction()
            .isolation_level(IsolationLevel::Serializable),
    };
    let mut txn = match builder.start() {
        Ok(txn) => txn,
        Err(e) => return failed(&e, false),
    };
    let mut pg = PgTx {
        txn: &mut txn,
        statements,
        writable: access == Access::Write,
        failure: None,
    };
    let outcome = work(&mut pg);
    let failure = pg.failure;
    match (failure, outcome) {
        // Whatever `work` made of it, a conflict or a lost connection decides.
        (Some((Failure::Conflict, _)), _) => Attempt::Conflict,
        (Some((Failure::Broken, error)), _) => Attempt::Broken {
            committing: false,
            error,
        },
        // A statement failed and `work` went on: PostgreSQL has aborted the transaction, and
        // `COMMIT` would quietly roll it back, so this must not be reported as committed.
        (Some((Failure::Statement, error)), Ok(())) => {
            drop(txn);
            Attempt::Done(Err(StoreError::Unavailable(error)))
        }
        (_, Err(e)) => {
            // Dropping `txn` rolls back; a failed rollback shows on the connection's next use.
            drop(txn);
            Attempt::Done(Err(e))
        }
        (_, Ok(())) => match txn.commit() {
            Ok(()) => Attempt::Done(Ok(())),
            Err(e) => failed(&e, true),
        },
    }
}

fn failed(e: &postgres::Error, committing: bool) -> Attempt {
    match classify(e) {
        Failure::Conflict => Attempt::Conflict,
        Failure::Broken => Attempt::Broken {
            committing,
            error: detail(e),
        },
        Failure::Statement => Attempt::Done(Err(unavailable(
            if committing { "commit" } else { "begin" },
            e,
        ))),
    }
}

pub(crate) struct PgTx<'t, 'c> {
    txn: &'t mut Transaction<'c>,
    statements: &'t Statements,
    writable: bool,
    /// The first failure that dooms the transaction (PostgreSQL refuses every later statement).
    failure: Option<(Failure, String)>,
}

impl PgTx<'_, '_> {
    fn writing(&self, op: &str) -> StoreResult<()> {
        crate::tx::writable(self.writable, op)
    }

    fn note(&mut self, op: &str, e: &postgres::Error) -> StoreError {
        let error = unavailable(op, e);
        if self.failure.is_none() {
            self.failure = Some((classify(e), error.to_string()));
        }
        error
    }

    fn query(
        &mut self,
        op: &str,
        statement: fn(&Statements) -> &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<Row>> {
        let result = self.txn.query(statement(self.statements), params);
        result.map_err(|e| self.note(op, &e))
    }

    fn execute(
        &mut self,
        op: &str,
        statement: fn(&Statements) -> &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<u64> {
        let result = self.txn.execute(statement(self.statements), params);
        result.map_err(|e| self.note(op, &e))
    }
}

/// A `bytea` column as text.
fn text(row: &Row, at: usize, collection: &str, what: &str) -> StoreResult<String> {
    let bytes: Vec<u8> = row
        .try_get(at)
        .map_err(|e| corrupt(collection, "", format!("{what}: {e}")))?;
    String::from_utf8(bytes).map_err(|_| corrupt(collection, "", format!("{what} is not UTF-8")))
}

/// Decodes `seq, format, doc` at columns `at..at+3` of a row of `collection`/`key`.
fn decode(row: &Row, at: usize, collection: &str, key: String) -> StoreResult<Record> {
    let seq: i64 = row
        .try_get(at)
        .map_err(|e| corrupt(collection, &key, format!("seq: {e}")))?;
    let format: i32 = row
        .try_get(at + 1)
        .map_err(|e| corrupt(collection, &key, format!("format: {e}")))?;
    let doc: &str = row
        .try_get(at + 2)
        .map_err(|e| corrupt(collection, &key, format!("document: {e}")))?;
    crate::tx::record(collection, key, seq, i64::from(format), doc.as_bytes())
}

/// The record format as the `INTEGER` column wants it.
const FORMAT: i32 = RECORD_FORMAT as i32;

impl Tx for PgTx<'_, '_> {
    fn get(&mut self, collection: &str, key: &str) -> StoreResult<Option<Record>> {
        let rows = self.query(
            "get",
            |s| &s.get,
            &[&collection.as_bytes(), &key.as_bytes()],
        )?;
        match rows.first() {
            Some(row) => decode(row, 0, collection, key.to_owned()).map(Some),
            None => Ok(None),
        }
    }

    fn list(&mut self, collection: &str, page: Page) -> StoreResult<(Vec<Record>, u64)> {
        let rows = self.query("count", |s| &s.count, &[&collection.as_bytes()])?;
        let total: i64 = rows.first().map_or(0, |r| r.get(0));
        let total = u64::try_from(total).unwrap_or(0);
        let mut out = Vec::new();
        if page.limit == 0 || page.offset >= total {
            return Ok((out, total));
        }
        let rows = self.query(
            "list",
            |s| &s.list,
            &[
                &collection.as_bytes(),
                &clamp(page.limit),
                &clamp(page.offset),
            ],
        )?;
        for row in &rows {
            let key = text(row, 0, collection, "key")?;
            out.push(decode(row, 1, collection, key)?);
        }
        Ok((out, total))
    }

    fn insert(&mut self, collection: &str, key: &str, doc: &Value) -> StoreResult<Record> {
        self.writing("insert")?;
        let rows = self.query(
            "insert",
            |s| &s.insert,
            &[
                &collection.as_bytes(),
                &key.as_bytes(),
                &FORMAT,
                &encode(doc)?,
            ],
        )?;
        let Some(row) = rows.first() else {
            return Err(StoreError::Duplicate(collection.to_owned()));
        };
        Ok(Record {
            collection: collection.to_owned(),
            key: key.to_owned(),
            doc: doc.clone(),
            seq: row.get(0),
        })
    }

    fn update(&mut self, collection: &str, key: &str, doc: &Value) -> StoreResult<bool> {
        self.writing("update")?;
        let changed = self.execute(
            "update",
            |s| &s.update,
            &[
                &collection.as_bytes(),
                &key.as_bytes(),
                &FORMAT,
                &encode(doc)?,
            ],
        )?;
        Ok(changed > 0)
    }

    fn upsert(&mut self, collection: &str, key: &str, doc: &Value) -> StoreResult<()> {
        self.writing("upsert")?;
        self.execute(
            "upsert",
            |s| &s.upsert,
            &[
                &collection.as_bytes(),
                &key.as_bytes(),
                &FORMAT,
                &encode(doc)?,
            ],
        )?;
        Ok(())
    }

    fn delete(&mut self, collection: &str, key: &str) -> StoreResult<bool> {
        self.writing("delete")?;
        let deleted = self.execute(
            "delete",
            |s| &s.delete,
            &[&collection.as_bytes(), &key.as_bytes()],
        )?;
        let owner = format!("{collection}/{key}");
        self.execute("delete", |s| &s.release_owner, &[&owner.as_bytes()])?;
        Ok(deleted > 0)
    }

    fn delete_tree(&mut self, prefix: &str) -> StoreResult<u64> {
        self.writing("delete_tree")?;
        let tree = Tree::new(prefix);
        // `$4`/`$5` NULL when the path has no parent: `collection = NULL` matches nothing.
        let (parent, last) = tree.node.unzip();
        let (parent, last) = (parent.map(str::as_bytes), last.map(str::as_bytes));
        let params: [&(dyn ToSql + Sync); 5] = [
            &tree.root.as_bytes(),
            &tree.lower.as_bytes(),
            &tree.upper.as_bytes(),
            &parent,
            &last,
        ];
        // Claims first, while the owners are still there to be named.
        self.execute("delete_tree", |s| &s.tree_claims, &params)?;
        self.execute("delete_tree", |s| &s.tree_docs, &params)
    }

    fn claim(&mut self, scope: &str, value: &str, owner: &str) -> StoreResult<()> {
        self.writing("claim")?;
        let claimed = self.execute(
            "claim",
            |s| &s.claim,
            &[&scope.as_bytes(), &value.as_bytes(), &owner.as_bytes()],
        )?;
        if claimed > 0 || self.claimant(scope, value)?.as_deref() == Some(owner) {
            Ok(())
        } else {
            Err(StoreError::Duplicate(scope.to_owned()))
        }
    }

    fn release(&mut self, scope: &str, owner: &str) -> StoreResult<()> {
        self.writing("release")?;
        self.execute(
            "release",
            |s| &s.release,
            &[&owner.as_bytes(), &scope.as_bytes()],
        )?;
        Ok(())
    }

    fn claimant(&mut self, scope: &str, value: &str) -> StoreResult<Option<String>> {
        let rows = self.query(
            "claimant",
            |s| &s.claimant,
            &[&scope.as_bytes(), &value.as_bytes()],
        )?;
        match rows.first() {
            Some(row) => text(row, 0, "__uniques", "owner").map(Some),
            None => Ok(None),
        }
    }

    fn collections_under(&mut self, prefix: &str) -> StoreResult<Vec<String>> {
        let tree = Tree::new(prefix);
        let rows = self.query(
            "collections_under",
            |s| &s.collections_under,
            &[
                &tree.root.as_bytes(),
                &tree.lower.as_bytes(),
                &tree.upper.as_bytes(),
            ],
        )?;
        rows.iter()
            .map(|row| text(row, 0, tree.root, "collection"))
            .collect()
    }

    fn collections(&mut self) -> StoreResult<Vec<String>> {
        let rows = self.query("collections", |s| &s.collections, &[])?;
        rows.iter()
            .map(|row| text(row, 0, "", "collection"))
            .collect()
    }

    fn claims(&mut self) -> StoreResult<Vec<Claim>> {
        let rows = self.query("claims", |s| &s.claims, &[])?;
        rows.iter()
            .map(|row| {
                Ok(Claim {
                    scope: text(row, 0, "__uniques", "scope")?,
                    value: text(row, 1, "__uniques", "value")?,
                    owner: text(row, 2, "__uniques", "owner")?,
                })
            })
            .collect()
    }

    fn clear(&mut self) -> StoreResult<()> {
        self.writing("clear")?;
        let result = self
            .txn
            .batch_execute("DELETE FROM localatlas.uniques; DELETE FROM localatlas.docs;");
        result.map_err(|e| self.note("clear", &e))
    }
}
