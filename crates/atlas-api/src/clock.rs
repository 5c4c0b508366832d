//! Time, injected: everything that depends on "now" (timestamps, token expiry, lifecycles) asks a
//! [`Clock`], so tests and the control API can control it.

use std::sync::{Arc, Mutex, PoisonError};

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

/// The machine's clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// A clock that only moves when told to: tests (and a control endpoint, if one is added) set or
/// advance it to cross token expiry, nonce lifetimes and rate-limit refills without waiting.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> ManualClock {
        ManualClock(Mutex::new(start))
    }

    /// Starts at the machine's current time, second precision.
    pub fn starting_now() -> ManualClock {
        let now = OffsetDateTime::now_utc();
        ManualClock::new(now.replace_nanosecond(0).unwrap_or(now))
    }

    pub fn set(&self, to: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
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
    fn timestamps_have_second_precision_and_z() {
        let t = OffsetDateTime::from_unix_timestamp(1_786_330_000).unwrap()
            + time::Duration::milliseconds(250);
        assert_eq!(atlas_timestamp(t), "2026-08-10T02:46:40Z");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = OffsetDateTime::from_unix_timestamp(1_786_330_000).unwrap();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::seconds(3600));
        assert_eq!(clock.now(), start + Duration::hours(1));
        clock.set(start);
        assert_eq!(clock.now(), start);
    }
}
