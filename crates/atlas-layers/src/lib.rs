//! The layering guard: reads a crate's source, builds the graph of which module imports which,
//! and finds the cycles in it.
//!
//! The rule it checks (see `CONTRIBUTING.md`): among the top-level modules of a crate, and among
//! the children of any folder module, imports point one way — no two siblings reach each other,
//! directly or around a loop. Test code (`#[cfg(test)]` items and modules) is left out: tests
//! may look at anything.
//!
//! A module's dependencies are every path it names that resolves into the crate: `use` trees,
//! paths in code and types, and `crate::`/`super::`/`self::` paths inside macro invocations.
//! A path through a re-export (`crate::ApiError` for `pub use error::ApiError`) counts as a
//! dependency on the module the name comes from. An edge between a module and its own ancestor
//! is the parent–child relation, not an import between siblings, and is not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// A module's path inside its crate (`["families", "clusters"]`; the root is empty).
pub type ModulePath = Vec<String>;

/// One module's source, as the guard read it.
#[derive(Debug)]
struct Module {
    file: PathBuf,
    /// Re-exported names (`pub use x::Y` → `Y` → path `x::Y`, as written).
    reexports: BTreeMap<String, Vec<String>>,
    /// Paths this module names, as written, with where they were seen.
    paths: Vec<(Vec<String>, String)>,
}

/// Why a module depends on another: the file and the path as written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Evidence {
    pub file: PathBuf,
    pub path: String,
}

/// The module import graph of one crate.
#[derive(Debug, Default)]
pub struct Graph {
    modules: BTreeMap<ModulePath, Module>,
    /// `from → to → evidence`, between modules (not counting ancestors).
    edges: BTreeMap<ModulePath, BTreeMap<ModulePath, Vec<Evidence>>>,
}

/// A set of sibling modules that import each other around a loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// The folder module whose children they are (empty: the crate's top level).
    pub parent: ModulePath,
    /// The siblings in the loop, by name.
    pub members: Vec<String>,
    /// Each import among them: `from → to`, with one piece of evidence.
    pub edges: Vec<(String, String, Evidence)>,
}

/// Reading or parsing a crate's source failed.
#[derive(Debug)]
pub struct ReadError(pub String);

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parent = if self.parent.is_empty() {
            "crate root".to_owned()
        } else {
            self.parent.join("::")
        };
        writeln!(
            f,
            "cycle among the children of {parent}: {}",
            self.members.join(" ↔ ")
        )?;
        for (from, to, evidence) in &self.edges {
            writeln!(
                f,
                "  {from} → {to}  ({} names `{}`)",
                evidence.file.display(),
                evidence.path
            )?;
        }
        Ok(())
    }
}

impl Graph {
    /// Reads the crate whose manifest folder is `crate_dir` (from `src/lib.rs`, else `src/main.rs`).
    pub fn of_crate(crate_dir: &Path) -> Result<Graph, ReadError> {
        let src = crate_dir.join("src");
        let root = ["lib.rs", "main.rs"]
            .iter()
            .map(|name| src.join(name))
            .find(|file| file.is_file())
            .ok_or_else(|| {
                ReadError(format!(
                    "{}: no src/lib.rs or src/main.rs",
                    crate_dir.display()
                ))
            })?;
        let mut graph = Graph::default();
        graph.read_file(&root, &src, Vec::new())?;
        graph.resolve();
        Ok(graph)
    }

    /// Every module the crate declares (test modules left out).
    pub fn modules(&self) -> impl Iterator<Item = &ModulePath> {
        self.modules.keys()
    }

    /// The modules `from` depends on, with the evidence.
    pub fn dependencies(&self, from: &[String]) -> Option<&BTreeMap<ModulePath, Vec<Evidence>>> {
        self.edges.get(from)
    }

    /// The cycles among the top-level modules and among the children of every folder module.
    pub fn cycles(&self) -> Vec<Cycle> {
        let mut cycles = Vec::new();
        for parent in self.modules.keys() {
            let sibling_edges = self.sibling_edges(parent);
            if sibling_edges.is_empty() {
                continue;
            }
            for members in strongly_connected(&sibling_edges) {
                if members.len() < 2 {
                    continue;
                }
                let mut edges = Vec::new();
                for from in &members {
                    for (to, evidence) in &sibling_edges[from] {
                        if members.contains(to) {
                            edges.push((from.clone(), to.clone(), evidence.clone()));
                        }
                    }
                }
                cycles.push(Cycle {
                    parent: parent.clone(),
                    members: members.into_iter().collect(),
                    edges,
                });
            }
        }
        cycles
    }

    /// Imports between the children of `parent`: `child → child → one evidence`.
    fn sibling_edges(&self, parent: &[String]) -> BTreeMap<String, BTreeMap<String, Evidence>> {
        let depth = parent.len();
        let mut out: BTreeMap<String, BTreeMap<String, Evidence>> = BTreeMap::new();
        for (from, targets) in &self.edges {
            if from.len() <= depth || !from.starts_with(parent) {
                continue;
            }
            for (to, evidence) in targets {
                if to.len() <= depth || !to.starts_with(parent) || from[depth] == to[depth] {
                    continue;
                }
                out.entry(from[depth].clone())
                    .or_default()
                    .entry(to[depth].clone())
                    .or_insert_with(|| evidence[0].clone());
            }
        }
        out
    }

    fn read_file(&mut self, file: &Path, dir: &Path, path: ModulePath) -> Result<(), ReadError> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| ReadError(format!("{}: {e}", file.display())))?;
        let parsed =
            syn::parse_file(&text).map_err(|e| ReadError(format!("{}: {e}", file.display())))?;
        // Children of `a.rs` live in `a/`; children of `mod.rs`, `lib.rs`, `main.rs` beside it.
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let child_dir = if matches!(stem, "mod" | "lib" | "main") {
            dir.to_path_buf()
        } else {
            dir.join(stem)
        };
        self.read_items(&parsed.items, file, &child_dir, path)
    }

    fn read_items(
        &mut self,
        items: &[syn::Item],
        file: &Path,
        child_dir: &Path,
        path: ModulePath,
    ) -> Result<(), ReadError> {
        let mut collector = Collector::default();
        for item in items {
            if is_test_only(item_attrs(item)) {
                continue;
            }
            if let syn::Item::Mod(module) = item {
                let mut child = path.clone();
                child.push(module.ident.to_string());
                match &module.content {
                    Some((_, inner)) => self.read_items(
                        inner,
                        file,
                        &child_dir.join(module.ident.to_string()),
                        child,
                    )?,
                    None => {
                        let file = child_file(child_dir, module)?;
                        let dir = file.parent().unwrap_or(child_dir).to_path_buf();
                        self.read_file(&file, &dir, child)?;
                    }
                }
                continue;
            }
            collector.visit_item(item);
        }
        self.modules.insert(
            path,
            Module {
                file: file.to_path_buf(),
                reexports: collector.reexports,
                paths: collector.paths,
            },
        );
        Ok(())
    }

    /// Turns every module's written paths into edges to the modules they name.
    fn resolve(&mut self) {
        let mut edges: BTreeMap<ModulePath, BTreeMap<ModulePath, Vec<Evidence>>> = BTreeMap::new();
        for (from, module) in &self.modules {
            for (written, shown) in &module.paths {
                let Some(target) = self.resolve_path(from, written) else {
                    continue;
                };
                if target.starts_with(from) || from.starts_with(&target) {
                    continue;
                }
                edges
                    .entry(from.clone())
                    .or_default()
                    .entry(target)
                    .or_default()
                    .push(Evidence {
                        file: module.file.clone(),
                        path: shown.clone(),
                    });
            }
        }
        self.edges = edges;
    }

    /// The module a path written in `from` names, if it names one of the crate's.
    fn resolve_path(&self, from: &[String], written: &[String]) -> Option<ModulePath> {
        let (mut at, rest): (ModulePath, &[String]) = match written.first().map(String::as_str) {
            Some("crate") => (Vec::new(), &written[1..]),
            Some("self") => (from.to_vec(), &written[1..]),
            Some("super") => {
                let mut at = from.to_vec();
                let mut rest = written;
                while rest.first().map(String::as_str) == Some("super") {
                    at.pop()?;
                    rest = &rest[1..];
                }
                (at, rest)
            }
            Some(first) => {
                let mut child = from.to_vec();
                child.push(first.to_owned());
                if !self.modules.contains_key(&child) {
                    return None;
                }
                (from.to_vec(), written)
            }
            None => return None,
        };
        let mut rest = rest.to_vec();
        // Follow modules, then a re-export (whose own path is resolved the same way).
        while let Some(next) = rest.first() {
            let mut child = at.clone();
            child.push(next.clone());
            if !self.modules.contains_key(&child) {
                break;
            }
            at = child;
            rest.remove(0);
        }
        if let Some(name) = rest.first()
            && let Some(target) = self.modules.get(&at).and_then(|m| m.reexports.get(name))
        {
            let mut followed = target.clone();
            followed.extend(rest[1..].iter().cloned());
            if followed != written
                && let Some(resolved) = self.resolve_path(&at, &followed)
                && resolved != at
            {
                return Some(resolved);
            }
        }
        Some(at)
    }
}

/// The file a `mod name;` declaration loads: `#[path]`, else `name.rs`, else `name/mod.rs`.
fn child_file(dir: &Path, module: &syn::ItemMod) -> Result<PathBuf, ReadError> {
    for attr in &module.attrs {
        if attr.path().is_ident("path")
            && let syn::Meta::NameValue(nv) = &attr.meta
            && let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
        {
            return Ok(dir.join(s.value()));
        }
    }
    let name = module.ident.to_string();
    let flat = dir.join(format!("{name}.rs"));
    if flat.is_file() {
        return Ok(flat);
    }
    let folder = dir.join(&name).join("mod.rs");
    if folder.is_file() {
        return Ok(folder);
    }
    Err(ReadError(format!(
        "module {name} declared in {} has no file",
        dir.display()
    )))
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::ExternCrate(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::ForeignMod(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::TraitAlias(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Union(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// `#[cfg(test)]` (also inside `all(...)`).
fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .meta
                .require_list()
                .map(|list| {
                    let tokens = list.tokens.to_string();
                    tokens == "test" || tokens.starts_with("all (test") || tokens.contains("(test,")
                })
                .unwrap_or(false)
    })
}

/// Collects the paths one module names.
#[derive(Default)]
struct Collector {
    reexports: BTreeMap<String, Vec<String>>,
    paths: Vec<(Vec<String>, String)>,
}

impl Collector {
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree, public: bool) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree, public);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let name = n.ident.to_string();
                let mut full = prefix.clone();
                if name != "self" {
                    full.push(name.clone());
                }
                if public {
                    self.reexports.insert(name, full.clone());
                }
                self.record(full);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                full.push(r.ident.to_string());
                if public {
                    self.reexports.insert(r.rename.to_string(), full.clone());
                }
                self.record(full);
            }
            syn::UseTree::Glob(_) => self.record(prefix.clone()),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(prefix, tree, public);
                }
            }
        }
    }

    fn record(&mut self, path: Vec<String>) {
        if path.is_empty() {
            return;
        }
        let shown = path.join("::");
        self.paths.push((path, shown));
    }

    /// `crate::a::b`, `super::a`, `self::a` sequences inside a macro's tokens.
    fn macro_tokens(&mut self, tokens: TokenStream) {
        let flat: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < flat.len() {
            match &flat[i] {
                TokenTree::Group(group) => self.macro_tokens(group.stream()),
                TokenTree::Ident(ident)
                    if matches!(ident.to_string().as_str(), "crate" | "super" | "self") =>
                {
                    let mut path = vec![ident.to_string()];
                    let mut j = i + 1;
                    while let (
                        Some(TokenTree::Punct(a)),
                        Some(TokenTree::Punct(b)),
                        Some(TokenTree::Ident(next)),
                    ) = (flat.get(j), flat.get(j + 1), flat.get(j + 2))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        path.push(next.to_string());
                        j += 3;
                    }
                    if path.len() > 1 {
                        self.record(path);
                    }
                    i = j;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_test_only(item_attrs(item)) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        if !is_test_only(&item.attrs) {
            syn::visit::visit_impl_item_fn(self, item);
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let public = !matches!(item.vis, syn::Visibility::Inherited);
        self.use_tree(&mut Vec::new(), &item.tree, public);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if segments.len() > 1 {
            self.record(segments);
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.macro_tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }
}

/// Tarjan's strongly connected components of a small graph.
fn strongly_connected(
    edges: &BTreeMap<String, BTreeMap<String, Evidence>>,
) -> Vec<BTreeSet<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeMap<String, Evidence>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        out: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, node: &'a str) {
        s.index.insert(node, s.next);
        s.low.insert(node, s.next);
        s.next += 1;
        s.stack.push(node);
        s.on_stack.insert(node);
        let edges = s.edges;
        if let Some(targets) = edges.get(node) {
            for target in targets.keys() {
                let target = target.as_str();
                if !s.index.contains_key(target) {
                    visit(s, target);
                    let low = s.low[target].min(s.low[node]);
                    s.low.insert(node, low);
                } else if s.on_stack.contains(target) {
                    let low = s.index[target].min(s.low[node]);
                    s.low.insert(node, low);
                }
            }
        }
        if s.low[node] == s.index[node] {
            let mut component = BTreeSet::new();
            while let Some(member) = s.stack.pop() {
                s.on_stack.remove(member);
                component.insert(member.to_owned());
                if member == node {
                    break;
                }
            }
            s.out.push(component);
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    let nodes: BTreeSet<&str> = edges
        .iter()
        .flat_map(|(from, to)| std::iter::once(from.as_str()).chain(to.keys().map(String::as_str)))
        .collect();
    for node in nodes {
        if !state.index.contains_key(node) {
            visit(&mut state, node);
        }
    }
    state.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Graph) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join("src").join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let graph = Graph::of_crate(dir.path()).unwrap();
        (dir, graph)
    }

    #[test]
    fn finds_a_cycle_between_top_level_modules() {
        let (_dir, graph) = crate_with(&[
            ("lib.rs", "mod a; mod b; mod c;"),
            ("a.rs", "use crate::b::B; pub struct A;"),
            (
                "b.rs",
                "pub struct B; fn f() -> crate::a::A { crate::a::A }",
            ),
            ("c.rs", "use crate::a::A;"),
        ]);
        let cycles = graph.cycles();
        assert_eq!(cycles.len(), 1, "{cycles:?}");
        assert_eq!(cycles[0].parent, Vec::<String>::new());
        assert_eq!(cycles[0].members, ["a", "b"]);
    }

    #[test]
    fn finds_a_cycle_among_children_of_a_folder_through_super_and_reexports() {
        let (_dir, graph) = crate_with(&[
            ("lib.rs", "pub mod family; pub use family::one::One;"),
            ("family/mod.rs", "pub mod one; pub mod two; pub trait T {}"),
            (
                "family/one.rs",
                "pub struct One; fn f() { super::two::g() }",
            ),
            ("family/two.rs", "pub fn g() { let _ = crate::One; }"),
        ]);
        let cycles = graph.cycles();
        assert_eq!(cycles.len(), 1, "{cycles:?}");
        assert_eq!(cycles[0].parent, ["family"]);
        assert_eq!(cycles[0].members, ["one", "two"]);
    }

    #[test]
    fn parent_child_imports_tests_and_macros_are_judged_as_documented() {
        let (_dir, graph) = crate_with(&[
            ("lib.rs", "mod a; mod b; pub struct Root;"),
            // A child naming its parent's items is not a sibling import.
            ("a.rs", "use crate::Root; pub fn f() {}"),
            // Test code may import anything.
            (
                "b.rs",
                "pub fn g() { crate::a::f() } #[cfg(test)] mod tests { use crate::a; }",
            ),
        ]);
        assert!(graph.cycles().is_empty());
        let (_dir, graph) = crate_with(&[
            ("lib.rs", "mod a; mod b;"),
            ("a.rs", "pub fn f() { crate::b::g() }"),
            // A path inside a macro counts.
            ("b.rs", "pub fn g() { println!(\"{}\", crate::a::f()) }"),
        ]);
        assert_eq!(graph.cycles().len(), 1);
    }

    #[test]
    fn a_child_module_named_without_crate_prefix_resolves() {
        let (_dir, graph) = crate_with(&[
            ("lib.rs", "mod a; mod b;"),
            ("a/mod.rs", "mod inner; pub fn f() { inner::h() }"),
            ("a/inner.rs", "pub fn h() { crate::b::g() }"),
            ("b.rs", "pub fn g() { crate::a::f() }"),
        ]);
        let cycles = graph.cycles();
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].members, ["a", "b"]);
    }
}
