//! The spec's `pattern`s: which ones are asserted, how they are written for the validator, how a
//! string is checked against them, and how a matching string is generated.
//!
//! The spec writes ECMA-262 expressions. The validator (`jsonschema`, fancy-regex engine) accepts
//! most of them; three kinds of patterns need care:
//! - patterns no real value can match are dropped, like the acceptance probe does: the
//!   doubled-backslash ones (`mobileNumber`, `oplogTs`, where `\\d` means "a backslash then d")
//!   and the path template used as `DiskBackupExportJob.prefix`;
//! - `\p{L}` is widened to letters, numbers and `_`, because the probe (Python `re`) reads it as
//!   `\w` and we must accept at least what it accepts;
//! - a pattern that still fails to compile is dropped (never asserted) rather than failing.
//!
//! Generation uses `rand_regex` on a simplified copy: look-arounds removed (checked afterwards
//! against the real pattern), anchors removed, every class narrowed to printable ASCII so examples
//! stay readable.

use std::collections::HashMap;

use rand::{RngExt, SeedableRng, rngs::StdRng};
use regex_syntax::hir::{self, Class, ClassUnicode, ClassUnicodeRange, Hir, HirKind};
use serde_json::{Map, Value, json};

/// `x*`, `x+` and `x{n,}` grow by at most this much in generated strings.
const MAX_REPEAT: u32 = 3;

/// Whether a pattern is one of the spec's patterns that no real value can match.
pub(crate) fn is_broken(pattern: &str) -> bool {
    pattern.contains("\\\\") || pattern.contains("\\{ORG-NAME\\}")
}

/// The pattern as given to the validator (see the module note for `\p{L}`).
pub(crate) fn for_validation(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let rest: String = chars.clone().take(4).collect();
                if rest == "p{L}" {
                    for _ in 0..4 {
                        chars.next();
                    }
                    out.push_str(if in_class {
                        "\\p{L}\\p{N}_"
                    } else {
                        "[\\p{L}\\p{N}_]"
                    });
                } else {
                    out.push('\\');
                    if let Some(next) = chars.next() {
                        out.push(next);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` right after `[` or `[^` is a literal in ECMA as well as here.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Removes look-around groups (`(?=`, `(?!`, `(?<=`, `(?<!`), which the generator cannot use.
fn strip_lookarounds(pattern: &str) -> String {
    let bytes: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len());
    let mut i = 0;
    let mut in_class = false;
    while i < bytes.len() {
        let c = bytes[i];
        if c == '\\' {
            out.push(c);
            if let Some(n) = bytes.get(i + 1) {
                out.push(*n);
            }
            i += 2;
            continue;
        }
        if in_class {
            if c == ']' {
                in_class = false;
            }
            out.push(c);
            i += 1;
            continue;
        }
        if c == '[' {
            in_class = true;
            out.push(c);
            i += 1;
            continue;
        }
        let lookaround = c == '('
            && bytes.get(i + 1) == Some(&'?')
            && (matches!(bytes.get(i + 2), Some('=') | Some('!'))
                || (bytes.get(i + 2) == Some(&'<')
                    && matches!(bytes.get(i + 3), Some('=') | Some('!'))));
        if lookaround {
            i = skip_group(&bytes, i);
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The index just past the group opening at `start` (balanced, escape- and class-aware).
fn skip_group(chars: &[char], start: usize) -> usize {
    let mut depth = 0usize;
    let mut in_class = false;
    let mut i = start;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    chars.len()
}

/// Printable ASCII, what generated strings are made of when the pattern allows it.
fn printable() -> ClassUnicode {
    ClassUnicode::new([ClassUnicodeRange::new(' ', '~')])
}

/// The pattern tree made usable by `rand_regex`: anchors and word boundaries removed, classes
/// narrowed to printable ASCII where they allow any of it.
fn simplify(h: &Hir) -> Hir {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => Hir::empty(),
        HirKind::Literal(lit) => Hir::literal(lit.0.clone()),
        HirKind::Class(Class::Unicode(class)) => {
            let mut narrowed = class.clone();
            narrowed.intersect(&printable());
            if narrowed.ranges().is_empty() {
                Hir::class(Class::Unicode(class.clone()))
            } else {
                Hir::class(Class::Unicode(narrowed))
            }
        }
        HirKind::Class(Class::Bytes(class)) => Hir::class(Class::Bytes(class.clone())),
        HirKind::Repetition(rep) => Hir::repetition(hir::Repetition {
            min: rep.min,
            max: rep.max,
            greedy: rep.greedy,
            sub: Box::new(simplify(&rep.sub)),
        }),
        HirKind::Capture(cap) => simplify(&cap.sub),
        HirKind::Concat(parts) => Hir::concat(parts.iter().map(simplify).collect()),
        HirKind::Alternation(parts) => Hir::alternation(parts.iter().map(simplify).collect()),
    }
}

fn generator_for(pattern: &str) -> Option<rand_regex::Regex> {
    let stripped = strip_lookarounds(pattern);
    let parsed = regex_syntax::ParserBuilder::new()
        .build()
        .parse(&stripped)
        .ok()?;
    rand_regex::Regex::with_hir(simplify(&parsed), MAX_REPEAT).ok()
}

/// One asserted pattern.
struct Compiled {
    /// What the converted schemas carry.
    translated: String,
    /// `{"pattern": translated}` compiled by the validator itself, so checks here agree with it.
    matcher: jsonschema::Validator,
    generator: Option<rand_regex::Regex>,
}

/// Every pattern of the document, compiled once.
pub(crate) struct Patterns {
    /// Raw pattern -> compiled form; `None` when the pattern is not asserted.
    table: HashMap<String, Option<Compiled>>,
}

impl Patterns {
    /// Compiles every distinct pattern found in the schemas.
    pub(crate) fn collect(schemas: &Map<String, Value>) -> Patterns {
        let mut raw = Vec::new();
        for node in schemas.values() {
            gather(node, &mut raw);
        }
        let mut table = HashMap::new();
        for p in raw {
            if !table.contains_key(p) {
                table.insert(p.to_owned(), compile(p));
            }
        }
        Patterns { table }
    }

    /// The pattern the validator asserts for a raw spec pattern, if any.
    pub(crate) fn asserted(&self, raw: &str) -> Option<&str> {
        self.table
            .get(raw)
            .and_then(Option::as_ref)
            .map(|c| c.translated.as_str())
    }

    /// Whether `s` satisfies a raw spec pattern as the validator applies it (a dropped pattern
    /// accepts everything).
    pub(crate) fn matches(&self, raw: &str, s: &str) -> bool {
        match self.table.get(raw) {
            Some(Some(c)) => c.matcher.is_valid(&Value::String(s.to_owned())),
            Some(None) => true,
            // Not collected (a pattern from outside the document): compile it on the spot.
            None => compile(raw).is_none_or(|c| c.matcher.is_valid(&Value::String(s.to_owned()))),
        }
    }

    /// A string matching a raw spec pattern, deterministic for a given seed, within the length
    /// bounds when possible.
    pub(crate) fn sample(
        &self,
        raw: &str,
        seed: u64,
        min: Option<u64>,
        max: Option<u64>,
    ) -> Option<String> {
        let compiled = self.table.get(raw)?.as_ref()?;
        let generator = compiled.generator.as_ref()?;
        let mut rng = StdRng::seed_from_u64(seed);
        for _ in 0..64 {
            let s: String = rng.sample(generator);
            let len = s.chars().count() as u64;
            if min.is_some_and(|m| len < m) || max.is_some_and(|m| len > m) {
                continue;
            }
            if compiled.matcher.is_valid(&Value::String(s.clone())) {
                return Some(s);
            }
        }
        None
    }
}

fn gather<'a>(node: &'a Value, out: &mut Vec<&'a str>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(p)) = map.get("pattern") {
                out.push(p);
            }
            for (k, v) in map {
                if k != "enum" && k != "default" {
                    gather(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| gather(v, out)),
        _ => {}
    }
}

fn compile(raw: &str) -> Option<Compiled> {
    if is_broken(raw) {
        return None;
    }
    let translated = for_validation(raw);
    let matcher = crate::validator_options()
        .build(&json!({"pattern": translated}))
        .ok()?;
    Some(Compiled {
        generator: generator_for(raw),
        translated,
        matcher,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(list: &[&str]) -> Patterns {
        let mut schemas = Map::new();
        for (i, p) in list.iter().enumerate() {
            schemas.insert(format!("S{i}"), json!({"type": "string", "pattern": p}));
        }
        Patterns::collect(&schemas)
    }

    #[test]
    fn broken_patterns_are_not_asserted() {
        let mobile = r"(?:(?:\\+?1\\s*(?:[.-]\\s*)?)?([0-9]{4})$";
        let prefix = r"/exported_snapshots/\{ORG-NAME\}/\{PROJECT-NAME\}";
        let p = patterns(&[mobile, prefix, "(unclosed"]);
        for raw in [mobile, prefix, "(unclosed"] {
            assert_eq!(p.asserted(raw), None, "{raw}");
            assert!(p.matches(raw, "anything"));
        }
    }

    #[test]
    fn ecma_patterns_compile_and_match() {
        let ip =
            r"^((25[0-5]|(2[0-4]|1\d|[1-9]|)\d)(\.(?!$)|$)){4}|([0-9a-f]{1,4}:){7}[0-9a-f]{1,4}$";
        let name = r"^[\p{L}\p{N}\-_.(),:&@+']{1,64}$";
        let dn = r"^(?:(?<cn>CN=(?<name>[^,]*)),)?(?:(?<path>(?:(?:CN|OU)=[^,]+,?)+),)?(?<domain>(?:DC=[^,]+,?)+)$";
        let p = patterns(&[ip, name, dn]);
        assert!(p.matches(ip, "192.0.2.10"));
        assert!(!p.matches(ip, "192.0.2."));
        assert!(p.matches(name, "Équipe_1"));
        assert!(!p.matches(name, "a/b"));
        assert!(p.matches(dn, "CN=x,DC=example,DC=com"));
        for raw in [ip, name, dn] {
            let s = p.sample(raw, 7, None, None);
            assert!(
                s.as_deref().is_some_and(|s| p.matches(raw, s)),
                "{raw}: {s:?}"
            );
            assert_eq!(s, p.sample(raw, 7, None, None), "deterministic");
        }
    }

    #[test]
    fn validation_form_widens_letter_classes_only() {
        assert_eq!(for_validation(r"^[\p{L}\p{N}]$"), r"^[\p{L}\p{N}_\p{N}]$");
        assert_eq!(for_validation(r"^\p{L}+$"), r"^[\p{L}\p{N}_]+$");
        assert_eq!(for_validation(r"^\d\.x$"), r"^\d\.x$");
    }

    #[test]
    fn lookarounds_are_stripped_for_generation() {
        assert_eq!(strip_lookarounds(r"a(\.(?!$)|$)b"), r"a(\.|$)b");
        assert_eq!(strip_lookarounds(r"(?<=x)y(?<n>z)"), r"y(?<n>z)");
        assert_eq!(strip_lookarounds(r"[(?=]"), r"[(?=]");
    }
}
