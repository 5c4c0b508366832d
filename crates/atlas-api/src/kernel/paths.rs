//! Concrete store paths from path templates, and the one encoding both store keys and link hrefs
//! use for a path segment.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::kernel::call::Call;

/// Characters escaped inside one path segment: everything that would change how the path reads
/// (`/`, `%`, `?`, `#`) or is not allowed in a URL. `$`, `:`, `@` stay literal as Atlas writes
/// them (`$external`, `host:27017`).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// One value as a path segment (`10.0.0.0/16` -> `10.0.0.0%2F16`).
pub fn segment(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

/// Substitutes a template's `{param}` segments with the call's path parameters, falling back to
/// `fallback` for parameters the path does not carry (e.g. the provider of a resource created
/// at a provider-less path). `None` when a parameter has no value.
pub fn concrete(
    template: &str,
    call: &Call,
    fallback: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let mut out = String::with_capacity(template.len() + 32);
    for part in template.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => {
                let value = call
                    .path_param(name)
                    .map(str::to_owned)
                    .or_else(|| fallback(name))?;
                out.push_str(&segment(&value));
            }
            None => out.push_str(part),
        }
    }
    Some(out)
}

/// The key of an item addressed by several trailing parameters (`databaseName/username`).
pub fn composite_key<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    values
        .into_iter()
        .map(segment)
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slashes_and_percent_are_escaped_but_atlas_literals_kept() {
        assert_eq!(segment("10.0.0.0/16"), "10.0.0.0%2F16");
        assert_eq!(segment("$external"), "$external");
        assert_eq!(segment("host:27017"), "host:27017");
        assert_eq!(segment("a%b c"), "a%25b%20c");
        assert_eq!(composite_key(["admin", "CN=x/y"]), "admin/CN=x%2Fy");
    }
}
