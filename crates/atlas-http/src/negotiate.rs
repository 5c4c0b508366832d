//! Version negotiation by date (semantics §1.2–§1.4).
//!
//! The `Accept` header names a date (`application/vnd.atlas.2025-03-12+json`); the operation is
//! served in its newest declared version dated on or before it — MongoDB's MCP server sends
//! `2025-03-12` everywhere and relies on this. No version, or a date older than every declared
//! version, is 406 `INVALID_VERSION_DATE`. `preview` must be asked for by name.

use atlas_api::{ApiError, api_error};
use atlas_model::{Format, Media, Operation};

/// The header of a 406 listing the media types the operation serves, newest first, as an
/// `Accept` value a client can send. Atlas's 406 body ("Invalid accept header or version date.")
/// is recorded exactly and kept; this header and the log line say what was expected.
pub const EXPECTED_ACCEPT: &str = "X-Localatlas-Expected-Accept";

/// The version an operation is served in, and its media type.
#[derive(Debug, Clone, Copy)]
pub struct Served {
    pub version: &'static str,
    pub media: &'static Media,
}

impl Served {
    /// `application/vnd.atlas.<version>+<format>` (plus `;charset=utf-8` for JSON, as Atlas sends).
    pub fn content_type(&self) -> String {
        match self.media.format {
            Format::Json => format!("application/vnd.atlas.{}+json;charset=utf-8", self.version),
            other => format!("application/vnd.atlas.{}+{}", self.version, other.suffix()),
        }
    }
}

/// One requested vendor media type.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    version: String,
    format: Option<Format>,
}

/// Parses the vendor media types of an `Accept` header, in order.
fn wanted(accept: &str) -> Vec<Wanted> {
    accept
        .split(',')
        .filter_map(|range| {
            let media = range.split(';').next()?.trim().to_ascii_lowercase();
            let rest = media.strip_prefix("application/vnd.atlas.")?;
            let (version, format) = match rest.split_once('+') {
                Some((v, f)) => (v.to_owned(), Some(Format::parse(f)?)),
                None => (rest.to_owned(), None),
            };
            let valid = version == "preview" || is_date(&version);
            valid.then_some(Wanted { version, format })
        })
        .collect()
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// The media types an operation can be served in.
fn candidates(op: &'static Operation) -> Vec<&'static Media> {
    let media: Vec<&'static Media> = op.success.iter().flat_map(|s| s.media.iter()).collect();
    // Operations that answer without a body still declare their versions on the status (204s
    // carry a media type without a schema); a few declare versions only on the request body.
    if media.is_empty() {
        op.request.iter().collect()
    } else {
        media
    }
}

/// Chooses the served version for `accept`, or `None` (406).
pub fn negotiate(op: &'static Operation, accept: Option<&str>) -> Option<Served> {
    let candidates = candidates(op);
    for want in wanted(accept?) {
        let matches_format = |m: &&&'static Media| want.format.is_none_or(|f| f == m.format);
        let chosen = if want.version == "preview" {
            candidates
                .iter()
                .filter(matches_format)
                .find(|m| m.version == "preview")
        } else {
            candidates
                .iter()
                .filter(matches_format)
                .filter(|m| m.version != "preview" && m.version <= want.version.as_str())
                .max_by_key(|m| m.version)
        };
        if let Some(media) = chosen {
            return Some(Served {
                version: media.version,
                media,
            });
        }
    }
    None
}

/// The media types `op` serves, dated ones newest first, then `preview`: `[("2024-08-05", "json")]`.
fn offered(op: &'static Operation) -> Vec<(&'static str, &'static str)> {
    let mut offered: Vec<(&'static str, &'static str)> = candidates(op)
        .iter()
        .map(|m| (m.version, m.format.suffix()))
        .collect();
    offered.sort_unstable_by(|a, b| {
        let preview = |v: &str| v == "preview";
        preview(a.0)
            .cmp(&preview(b.0))
            .then_with(|| b.0.cmp(a.0))
            .then_with(|| a.1.cmp(b.1))
    });
    offered.dedup();
    offered
}

/// The versions `op` serves as JSON, dated ones newest first, then `preview`: what the console's
/// version picker offers (a download-only operation has none).
pub fn json_versions(op: &'static Operation) -> Vec<&'static str> {
    offered(op)
        .into_iter()
        .filter(|(_, format)| *format == Format::Json.suffix())
        .map(|(version, _)| version)
        .collect()
}

/// Why `accept` served no version of `op`, in words for the log.
fn refusal_reason(op: &'static Operation, accept: Option<&str>) -> String {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return "no Accept header".to_owned();
    };
    let asked = wanted(accept);
    if asked.is_empty() {
        return format!(
            "Accept {accept:?} names no version (application/json and */* are not enough; \
             a date must be given)"
        );
    }
    let oldest = offered(op)
        .into_iter()
        .map(|(v, _)| v)
        .filter(|v| *v != "preview")
        .min();
    match (asked.iter().find(|w| w.version != "preview"), oldest) {
        (Some(w), Some(oldest)) if w.version.as_str() < oldest => format!(
            "Accept {accept:?} asks for {}, older than this operation's first version {oldest}",
            w.version
        ),
        _ => format!("Accept {accept:?} matches no version or format this operation serves"),
    }
}

/// Atlas's 406 for a request to `op` with `accept`: the body as recorded, plus the
/// [`EXPECTED_ACCEPT`] header, and an `info` log line saying what was wrong and what to send.
pub fn not_acceptable(op: &'static Operation, accept: Option<&str>) -> ApiError {
    let offered = offered(op);
    let expected: Vec<String> = offered
        .iter()
        .map(|(version, format)| format!("application/vnd.atlas.{version}+{format}"))
        .collect();
    let expected = expected.join(", ");
    let (oldest, format) = offered
        .iter()
        .rev()
        .find(|(v, _)| *v != "preview")
        .map_or(("preview", "json"), |(v, f)| (*v, *f));
    tracing::info!(
        operation = op.name,
        "not acceptable: {}; send Accept: application/vnd.atlas.YYYY-MM-DD+{format} with a date on \
         or after {oldest} (the newest version dated on or before it is served); this operation \
         serves {expected}",
        refusal_reason(op, accept)
    );
    let e = api_error!(INVALID_VERSION_DATE);
    if expected.is_empty() {
        e
    } else {
        e.with_header(EXPECTED_ACCEPT, expected)
    }
}

/// `Deprecation`/`Sunset` headers for the served version (semantics §1.4).
pub fn lifecycle_headers(op: &'static Operation, served: &Served) -> Vec<(&'static str, String)> {
    let mut headers = Vec::new();
    let newer = op
        .versions()
        .into_iter()
        .filter(|v| *v != "preview" && *v > served.version)
        .min();
    let deprecated_on = newer.or_else(|| whole_operation_deprecation(op));
    if let Some(date) = deprecated_on.and_then(http_date) {
        headers.push(("Deprecation", date));
    }
    if let Some(date) = served.media.sunset.and_then(http_date) {
        headers.push(("Sunset", date));
    }
    headers
}

/// Dates of operations deprecated as a whole, which the spec does not carry (observed in
/// recorded Atlas traffic, semantics §1.4).
fn whole_operation_deprecation(op: &Operation) -> Option<&'static str> {
    if !op.deprecated {
        return None;
    }
    let rel = op
        .path
        .strip_prefix(atlas_model::API_PREFIX)
        .unwrap_or(op.path);
    let parts: Vec<&str> = rel.split('/').collect();
    match parts.as_slice() {
        ["", "groups", _, "invites", ..] => Some("2023-10-04"),
        ["", "orgs", _, "invites", ..] | ["", "users", ..] => Some("2025-02-19"),
        ["", "orgs", _, "teams", _, "users", _] => Some("2025-02-19"),
        [.., "autoScalingConfiguration"] => Some("2024-10-23"),
        _ => None,
    }
}

/// `2024-08-05` -> `Mon, 5 Aug 2024 00:00:00 GMT`: Java's RFC 1123 form, day not zero-padded.
pub fn http_date(date: &str) -> Option<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(date, &format).ok()?;
    let weekday = &format!("{}", day.weekday())[..3];
    let month = &format!("{}", day.month())[..3];
    Some(format!(
        "{weekday}, {} {month} {} 00:00:00 GMT",
        day.day(),
        day.year()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_model::OperationId;

    fn served(op: OperationId, accept: &str) -> Option<&'static str> {
        negotiate(op.op(), Some(accept)).map(|s| s.version)
    }

    #[test]
    fn exact_newer_and_between_dates() {
        let json = |d: &str| format!("application/vnd.atlas.{d}+json");
        assert_eq!(
            served(OperationId::ListOrgs, &json("2023-01-01")),
            Some("2023-01-01")
        );
        // The MCP server sends 2025-03-12 everywhere and gets the newest version before it.
        assert_eq!(
            served(OperationId::ListOrgs, &json("2025-03-12")),
            Some("2023-01-01")
        );
        assert_eq!(
            served(OperationId::ListGroupClusters, &json("2024-01-01")),
            Some("2023-02-01")
        );
        assert_eq!(
            served(OperationId::ListGroupClusters, &json("2024-08-05")),
            Some("2024-08-05")
        );
        assert_eq!(served(OperationId::ListOrgs, &json("2022-01-01")), None);
        assert_eq!(
            served(OperationId::ListGroupFlexClusters, &json("2024-11-12")),
            None
        );
        assert_eq!(served(OperationId::ListOrgs, "application/json"), None);
        assert_eq!(served(OperationId::ListOrgs, "*/*"), None);
        assert!(negotiate(OperationId::ListOrgs.op(), None).is_none());
    }

    #[test]
    fn formats_select_the_representation() {
        let op = OperationId::DownloadGroupClusterLog;
        assert_eq!(
            served(op, "application/vnd.atlas.2023-02-01+gzip"),
            Some("2023-02-01")
        );
        assert_eq!(served(op, "application/vnd.atlas.2023-02-01+json"), None);
        let invoice = OperationId::GetOrgInvoice;
        assert_eq!(
            negotiate(invoice.op(), Some("application/vnd.atlas.2023-01-01+csv"))
                .map(|s| s.media.format),
            Some(Format::Csv)
        );
    }

    #[test]
    fn deprecation_names_the_next_version_and_sunset_the_media_type() {
        // Recorded: clusters list in 2023-02-01 carries `Deprecation: Mon, 5 Aug 2024 00:00:00 GMT`
        // and `Sunset: Thu, 1 Jul 2027 00:00:00 GMT` (semantics §1.4).
        let op = OperationId::ListGroupClusters.op();
        let s = negotiate(op, Some("application/vnd.atlas.2024-01-01+json")).unwrap();
        assert_eq!(
            lifecycle_headers(op, &s),
            vec![
                ("Deprecation", "Mon, 5 Aug 2024 00:00:00 GMT".to_owned()),
                ("Sunset", "Thu, 1 Jul 2027 00:00:00 GMT".to_owned()),
            ]
        );
        let s = negotiate(op, Some("application/vnd.atlas.2024-08-05+json")).unwrap();
        assert!(lifecycle_headers(op, &s).is_empty());
    }

    #[test]
    fn whole_operation_deprecations_use_the_observed_dates() {
        let op = OperationId::UpdateOrgInvites.op();
        let s = negotiate(op, Some("application/vnd.atlas.2023-01-01+json")).unwrap();
        assert_eq!(
            lifecycle_headers(op, &s)[0].1,
            "Wed, 19 Feb 2025 00:00:00 GMT"
        );
        let op = OperationId::UpdateGroupInviteById.op();
        let s = negotiate(op, Some("application/vnd.atlas.2023-01-01+json")).unwrap();
        assert_eq!(
            lifecycle_headers(op, &s)[0].1,
            "Wed, 4 Oct 2023 00:00:00 GMT"
        );
    }

    #[test]
    fn json_content_type_carries_the_charset() {
        let s = negotiate(
            OperationId::ListOrgs.op(),
            Some("application/vnd.atlas.2023-01-01+json"),
        )
        .unwrap();
        assert_eq!(
            s.content_type(),
            "application/vnd.atlas.2023-01-01+json;charset=utf-8"
        );
    }
}
