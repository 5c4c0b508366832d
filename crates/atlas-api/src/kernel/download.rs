//! Downloads: the gzip and CSV bodies of the few binary operations (logs, invoices).

use std::io::Write as _;

use crate::kernel::call::{Payload, Reply};

/// A valid gzip stream of an empty file (what Atlas sends for a log with no lines).
pub fn empty_gzip() -> Vec<u8> {
    gzip(&[])
}

/// `data` compressed as one gzip member.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// A `+gzip` download answer: `data` compressed, offered as the attachment `filename`.
pub fn gzip_reply(status: u16, data: &[u8], filename: &str) -> Reply {
    Reply {
        status,
        payload: Payload::Binary {
            bytes: gzip(data),
            // Names come from user-chosen resource names: keep them header-safe.
            filename: Some(
                filename
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || "._-".contains(c) {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect(),
            ),
        },
        headers: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn gzip_round_trips() {
        let bytes = gzip(b"line\n");
        let mut out = String::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "line\n");
        assert_eq!(&empty_gzip()[..2], &[0x1f, 0x8b]);
    }
}
