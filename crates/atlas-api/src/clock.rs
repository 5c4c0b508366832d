//! Time, injected: everything that depends on "now" (timestamps, token expiry, lifecycles) asks
//! the [`ControlledClock`], so tests and the control API can move it.

use std::sync::atomic::{AtomicI64, Ordering};

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// The machine's clock plus an offset the control API can move (set or advance). Tests and
/// users drive token expiry, lifecycles and snapshot schedules with it. Tests that count exact
/// seconds (token lifetimes, rate-limit refills) [`freeze`](ControlledClock::freeze) it first, so
/// only `advance`/`set` move it.
#[derive(Debug)]
pub struct ControlledClock {
    offset_ms: AtomicI64,
    /// The machine time (epoch ms) the clock stands still at, or `RUNNING`.
    frozen_ms: AtomicI64,
}

const RUNNING: i64 = i64::MIN;

impl Default for ControlledClock {
    fn default() -> Self {
        ControlledClock {
            offset_ms: AtomicI64::new(0),
            frozen_ms: AtomicI64::new(RUNNING),
        }
    }
}

impl ControlledClock {
    pub fn new() -> ControlledClock {
        ControlledClock::default()
    }

    /// Stops the clock at the current machine time: from now on only `advance` and `set` move it.
    pub fn freeze(&self) {
        let now = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let now = i64::try_from(now).unwrap_or(0);
        let _ = self
            .frozen_ms
            .compare_exchange(RUNNING, now, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// The machine's time, or where it was frozen.
    fn base(&self) -> OffsetDateTime {
        match self.frozen_ms.load(Ordering::SeqCst) {
            RUNNING => OffsetDateTime::now_utc(),
            ms => OffsetDateTime::UNIX_EPOCH + Duration::milliseconds(ms),
        }
    }

    /// Moves the clock forward (or back, with a negative amount).
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.whole_milliseconds()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Makes `now()` return `at` (and move on from there).
    pub fn set(&self, at: OffsetDateTime) {
        let delta = at - self.base();
        let ms = i64::try_from(delta.whole_milliseconds()).unwrap_or(0);
        self.offset_ms.store(ms, Ordering::SeqCst);
    }

    /// The current time on this clock.
    pub fn now(&self) -> OffsetDateTime {
        self.base() + self.offset()
    }

    /// How far the clock is from the machine's.
    pub fn offset(&self) -> Duration {
        Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }
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

    #[test]
    fn controlled_clock_moves_only_when_told() {
        let clock = ControlledClock::new();
        let before = clock.now();
        clock.advance(Duration::hours(2));
        let after = clock.now();
        assert!(after - before >= Duration::hours(2));
        let target = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        clock.set(target);
        assert!((clock.now() - target).abs() < Duration::seconds(1));
    }

    #[test]
    fn a_frozen_clock_moves_only_when_told() {
        let clock = ControlledClock::new();
        clock.freeze();
        let frozen = clock.now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(clock.now(), frozen);
        clock.advance(Duration::seconds(3600));
        assert_eq!(clock.now(), frozen + Duration::hours(1));
        let target = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        clock.set(target);
        assert_eq!(clock.now(), target);
    }

    #[test]
    fn timestamps_have_second_precision_and_z() {
        let t = OffsetDateTime::from_unix_timestamp(1_786_330_000).unwrap()
            + time::Duration::milliseconds(250);
        assert_eq!(atlas_timestamp(t), "2026-08-10T02:46:40Z");
    }
}
