//! Time, injected: everything that depends on "now" (timestamps, token expiry, lifecycles,
//! rate-limit refills, nonce ages) asks the controlled clock, so tests and the control API can
//! move it.
//!
//! The clock is the machine's time plus an offset, or a frozen instant plus an offset, and both
//! are stored (`__meta/clock`), never held in memory: every instance sharing a store reads the
//! same clock inside the transaction that uses it, so a clock moved through one instance's
//! control API moves for all of them at once, atomically with what the transaction does.

use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use atlas_schema::TimeUse;
use atlas_store::{StoreResult, Tx};

const COLLECTION: &str = "__meta";
const KEY: &str = "clock";

/// The stored state of the clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    /// How far the clock is from its base, in milliseconds.
    pub offset_ms: i64,
    /// The machine time (epoch ms) the clock stands still at, if frozen.
    pub frozen_at_ms: Option<i64>,
}

fn machine_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + Duration::milliseconds(ms)
}

impl Clock {
    /// The stored clock (the machine's, unmoved, when nothing is stored).
    pub fn load(tx: &mut dyn Tx) -> StoreResult<Clock> {
        let Some(record) = tx.get(COLLECTION, KEY)? else {
            return Ok(Clock::default());
        };
        Ok(Clock {
            offset_ms: record
                .doc
                .get("offsetMs")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            frozen_at_ms: record.doc.get("frozenAtMs").and_then(Value::as_i64),
        })
    }

    fn save(self, tx: &mut dyn Tx) -> StoreResult<()> {
        tx.upsert(
            COLLECTION,
            KEY,
            &json!({"offsetMs": self.offset_ms, "frozenAtMs": self.frozen_at_ms}),
        )
    }

    fn base_ms(self) -> i64 {
        self.frozen_at_ms.unwrap_or_else(machine_ms)
    }

    /// The current time on this clock.
    pub fn now(self) -> OffsetDateTime {
        from_ms(self.base_ms().saturating_add(self.offset_ms))
    }

    /// How far the clock is from the machine's.
    pub fn offset(self) -> Duration {
        Duration::milliseconds(self.offset_ms)
    }
}

/// The instant a call runs at, as its handlers read it. Every read is noted in the call's
/// [`TimeUse`] (which its hints share): an answer built without reading the time is the same at
/// any other instant for the same stored state, so it may be kept and served again
/// (`service/answers.rs`).
#[derive(Debug, Clone)]
pub struct Now {
    at: OffsetDateTime,
    time_use: TimeUse,
}

impl Now {
    /// `at`, with reads noted in `time_use`.
    pub fn new(at: OffsetDateTime, time_use: TimeUse) -> Now {
        Now { at, time_use }
    }

    /// `at`, with reads noted in a note of its own.
    pub fn at(at: OffsetDateTime) -> Now {
        Now::new(at, TimeUse::default())
    }

    /// The instant, noting the read.
    pub fn get(&self) -> OffsetDateTime {
        self.time_use.note();
        self.at
    }

    /// Where reads are noted.
    pub fn time_use(&self) -> &TimeUse {
        &self.time_use
    }

    /// Whether the instant was read (here or through hints sharing the note).
    pub fn was_read(&self) -> bool {
        self.time_use.noted()
    }

    /// The instant as Atlas writes it, for hints: not a read until the hints' own
    /// `Hints::now` is called, which notes it in the same place.
    pub(crate) fn hint_text(&self) -> String {
        atlas_timestamp(self.at)
    }
}

/// The current time on the stored clock.
pub fn now(tx: &mut dyn Tx) -> StoreResult<OffsetDateTime> {
    Clock::load(tx).map(Clock::now)
}

/// Moves the clock forward (or back, with a negative amount).
pub fn advance(tx: &mut dyn Tx, by: Duration) -> StoreResult<Clock> {
    let mut clock = Clock::load(tx)?;
    let ms = i64::try_from(by.whole_milliseconds()).unwrap_or(i64::MAX);
    clock.offset_ms = clock.offset_ms.saturating_add(ms);
    clock.save(tx)?;
    Ok(clock)
}

/// Makes the clock read `at` now (and move on from there unless frozen).
pub fn set(tx: &mut dyn Tx, at: OffsetDateTime) -> StoreResult<Clock> {
    let mut clock = Clock::load(tx)?;
    let at_ms = i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    clock.offset_ms = at_ms.saturating_sub(clock.base_ms());
    clock.save(tx)?;
    Ok(clock)
}

/// Stops the clock where it stands: from now on only `advance` and `set` move it. Tests that
/// count exact seconds (token lifetimes, rate-limit refills) freeze it first.
pub fn freeze(tx: &mut dyn Tx) -> StoreResult<Clock> {
    let mut clock = Clock::load(tx)?;
    if clock.frozen_at_ms.is_none() {
        clock.frozen_at_ms = Some(machine_ms());
        clock.save(tx)?;
    }
    Ok(clock)
}

/// A move of the clock requested through the control API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Advance(Duration),
    Set(OffsetDateTime),
}

/// Applies a [`Change`].
pub fn change(tx: &mut dyn Tx, change: Change) -> StoreResult<Clock> {
    match change {
        Change::Advance(by) => advance(tx, by),
        Change::Set(at) => set(tx, at),
    }
}

/// The control API's view: `{"now", "offsetSeconds", "frozen"}`.
pub fn describe(clock: Clock) -> Value {
    json!({
        "now": atlas_timestamp(clock.now()),
        "offsetSeconds": clock.offset().whole_seconds(),
        "frozen": clock.frozen_at_ms.is_some(),
    })
}

/// Atlas's timestamp form: UTC, second precision, `Z` (`2026-08-10T03:03:30Z`, semantics §7.3).
pub fn atlas_timestamp(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_store::Store;
    use atlas_store::sqlite::SqliteStore;

    #[test]
    fn the_clock_moves_only_when_told_and_is_shared_through_the_store() {
        let store = SqliteStore::memory().unwrap();
        let store: &dyn Store = &store;
        let before = store.read(now).unwrap();
        store.write(|tx| advance(tx, Duration::hours(2))).unwrap();
        let after = store.read(now).unwrap();
        assert!(after - before >= Duration::hours(2));
        let target = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        store.write(|tx| set(tx, target)).unwrap();
        assert!((store.read(now).unwrap() - target).abs() < Duration::seconds(1));
    }

    #[test]
    fn a_frozen_clock_moves_only_when_told() {
        let store = SqliteStore::memory().unwrap();
        let store: &dyn Store = &store;
        store.write(freeze).unwrap();
        let frozen = store.read(now).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(store.read(now).unwrap(), frozen);
        store
            .write(|tx| advance(tx, Duration::seconds(3600)))
            .unwrap();
        assert_eq!(store.read(now).unwrap(), frozen + Duration::hours(1));
        let target = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        store.write(|tx| set(tx, target)).unwrap();
        assert_eq!(store.read(now).unwrap(), target);
        // Freezing again keeps the instant it was frozen at.
        store.write(freeze).unwrap();
        assert_eq!(store.read(now).unwrap(), target);
    }

    #[test]
    fn timestamps_have_second_precision_and_z() {
        let t = OffsetDateTime::from_unix_timestamp(1_786_330_000).unwrap()
            + time::Duration::milliseconds(250);
        assert_eq!(atlas_timestamp(t), "2026-08-10T02:46:40Z");
    }
}
