//! Serving one request: admission and the operation, in as few store transactions as the
//! counters allow (see [`crate::stages::admission`] for what admission decides).

use atlas_store::{Access, Tx};
use time::OffsetDateTime;

use crate::kernel::call::{Call, Reply};
use crate::kernel::clock::Now;
use crate::kernel::error::ApiError;
use crate::stages::admission::{self, Admission, Request, address_check};

use super::Atlas;
use super::answers::Key;

impl Atlas {
    /// Admits or refuses one request (blocking: runs store transactions).
    pub fn admit(&self, request: &Request<'_>) -> Result<Admission, ApiError> {
        let (admission, used, now) = self.transaction(self.counters.access(), |tx| {
            let now = crate::kernel::clock::now(tx)?;
            let (admission, used) = admission::admit(tx, &self.counters, request, now)?;
            Ok((admission, used, now))
        })?;
        if let Some(used) = used {
            self.transaction(Access::Write, |tx| {
                address_check::record_use(tx, &used, request.client_ip, now)
            })?;
        }
        Ok(admission)
    }
}

impl Atlas {
    /// Admits a request and runs the call `prepare` makes of the verdict, both in one
    /// transaction when admission writes nothing to the store (counters in memory): a GET is
    /// then one read transaction. `prepare` answers early (`Err`) for a refusal, a challenge, or
    /// a request that cannot become a call (unknown route, version, malformed input). What the
    /// call writes is rolled back when it fails; what admission spent never is.
    pub fn serve<R>(
        &self,
        request: &Request<'_>,
        prepare: impl FnOnce(Result<Admission, ApiError>) -> Result<Call, R>,
    ) -> Result<Result<Reply, ApiError>, R> {
        let Some((op, _)) = request
            .op
            .filter(|_| self.counters.access() == Access::Read)
        else {
            // Admission writes (shared counters): its own transaction commits what it spent.
            let call = prepare(self.admit(request))?;
            return Ok(self.execute(&call));
        };
        let mut prepare = Some(prepare);
        let mut early = None;
        let mut used = None;
        let mut deferred = None;
        let mut at = None;
        let answered = self.transaction(self.access_of(op), |tx| {
            let now = crate::kernel::clock::now(tx)?;
            at = Some(now);
            let verdict =
                admission::admit(tx, &self.counters, request, now).map(|(admission, entry)| {
                    used = entry;
                    admission
                });
            let prepare = prepare
                .take()
                .ok_or_else(|| ApiError::internal("served twice"))?;
            match prepare(verdict) {
                Ok(call) if used.is_none() => self.answer(tx, &call, now).map(Some),
                // The call sees its own use of the access-list entry (the entry's count includes
                // the request that lists it), so it runs after that use is recorded.
                Ok(call) => {
                    deferred = Some(call);
                    Ok(None)
                }
                Err(response) => {
                    early = Some(response);
                    Ok(None)
                }
            }
        });
        if let (Some(used), Some(now)) = (used, at)
            && let Err(e) = self.transaction(Access::Write, |tx| {
                address_check::record_use(tx, &used, request.client_ip, now)
            })
        {
            return Ok(Err(e));
        }
        if let Some(call) = deferred {
            return Ok(self.execute(&call));
        }
        match (answered, early) {
            (_, Some(response)) => Err(response),
            (Ok(Some(reply)), None) => Ok(Ok(reply)),
            (Err(e), None) => Ok(Err(e)),
            (Ok(None), None) => Ok(Err(ApiError::internal("no answer"))),
        }
    }
}

impl Atlas {
    /// The answer to `call` in `tx`: one kept for the same call under the same state, else the
    /// engine's, kept when it wrote nothing and did not read the time (`answers.rs`).
    fn answer(&self, tx: &mut dyn Tx, call: &Call, now: OffsetDateTime) -> Result<Reply, ApiError> {
        // Nothing is kept where the store cannot tag its state (PostgreSQL): no key is made.
        let answers = self.answers.as_deref().filter(|_| tx.snapshot().is_some());
        let key = answers.and_then(|_| Key::of(call));
        if let (Some(answers), Some(key), Some(snapshot)) = (answers, &key, tx.snapshot())
            && let Some(kept) = answers.get(snapshot, key)
        {
            return Ok(kept);
        }
        let now = Now::at(now);
        let reply = self.engine.execute(tx, call, &now)?;
        match (answers, key, tx.snapshot()) {
            (Some(answers), Some(key), Some(snapshot)) if !now.was_read() => {
                Ok(answers.keep(snapshot, key, reply))
            }
            _ => Ok(reply),
        }
    }
}
