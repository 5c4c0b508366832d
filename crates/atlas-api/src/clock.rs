//! Time, injected: everything that depends on "now" (timestamps, token expiry, lifecycles) asks a
//! [`Clock`], so tests and the control API can control it.

use std::sync::Arc;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

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
}
