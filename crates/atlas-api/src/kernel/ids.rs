//! Identifiers in Atlas's formats.
//!
//! ObjectIds are 24 lowercase hex digits whose first 8 are the creation time in epoch seconds
//! (semantics §7.1); the rest is random so several instances sharing one database never collide.

use rand::RngExt as _;
use time::OffsetDateTime;

/// A new ObjectId for `now`.
pub fn object_id(now: OffsetDateTime) -> String {
    let seconds = u32::try_from(now.unix_timestamp()).unwrap_or(u32::MAX);
    let tail: [u8; 8] = rand::rng().random();
    format!("{seconds:08x}{}", hex::encode(tail))
}

/// A stable ObjectId for something the platform produces at `at` (a scheduled snapshot):
/// its time, then a hash of `salt`, so every read and every instance names it the same.
pub fn derived(at: OffsetDateTime, salt: &[&[u8]]) -> String {
    let seconds = u32::try_from(at.unix_timestamp()).unwrap_or(u32::MAX);
    let hash = salt
        .iter()
        .flat_map(|part| part.iter().copied())
        .chain(seconds.to_be_bytes())
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("{seconds:08x}{hash:016x}")
}

/// Whether `s` is a 24-hex ObjectId (lower case, as Atlas emits them).
pub fn is_object_id(s: &str) -> bool {
    s.len() == 24
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `s` is a UUID in canonical text form (any version, either case).
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A random lowercase string of `len` letters (API key public keys are 8 of them).
pub fn lowercase_letters(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect()
}

/// A random UUID v4 in its canonical text form.
pub fn uuid() -> String {
    uuid_from(rand::rng().random())
}

/// A UUID that is always the same for `seed` (derived names such as a subscription id).
pub fn stable_uuid(seed: &str) -> String {
    let mut bytes = [0u8; 16];
    for (slot, b) in bytes.iter_mut().zip(seed.bytes().cycle()) {
        *slot = b;
    }
    uuid_from(bytes)
}

/// A UUID v4 made of `bytes` (version and variant bits set), in canonical text form.
pub fn uuid_from(mut bytes: [u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    // Written digit by digit: every request gets one (its request id), and formatting through
    // `format!` cost ten times as much.
    let mut text = String::with_capacity(36);
    for (i, b) in bytes.into_iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push(char::from(HEX[usize::from(b >> 4)]));
        text.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_object_ids() {
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let id = derived(at, &[b"cluster-a"]);
        assert!(is_object_id(&id), "{id}");
        assert_eq!(id, derived(at, &[b"cluster-a"]));
        assert_ne!(id, derived(at, &[b"cluster-b"]));
    }

    #[test]
    fn uuids_are_recognized() {
        assert!(is_uuid(&uuid()));
        assert!(is_uuid("CBA6D9C6-1d3f-3c11-03cb-c705d895e636"));
        assert!(!is_uuid("cba6d9c6-1d3f-3c11-03cb"));
        // Version 4, RFC 4122 variant, lowercase, grouped 8-4-4-4-12.
        let bytes: [u8; 16] = std::array::from_fn(|i| (i as u8) * 17);
        assert_eq!(uuid_from(bytes), "00112233-4455-4677-8899-aabbccddeeff");
    }

    #[test]
    fn object_ids_start_with_the_creation_time() {
        let now = OffsetDateTime::from_unix_timestamp(0x6a79_3f7f).unwrap();
        let id = object_id(now);
        assert!(is_object_id(&id), "{id}");
        assert!(id.starts_with("6a793f7f"));
        assert_ne!(object_id(now), id);
    }
}
