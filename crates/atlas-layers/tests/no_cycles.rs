//! Every crate of the workspace keeps its imports pointing one way: no module cycle among its
//! top-level modules, nor among the children of any folder module (see `CONTRIBUTING.md`).

use std::path::Path;

use atlas_layers::Graph;

#[test]
fn no_crate_of_the_workspace_has_a_module_cycle() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut report = String::new();
    let mut read = 0;
    let mut dirs: Vec<_> = std::fs::read_dir(&crates)
        .expect("crates folder")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let graph = Graph::of_crate(&dir).unwrap_or_else(|e| panic!("{e}"));
        read += graph.modules().count();
        for cycle in graph.cycles() {
            report.push_str(&format!(
                "{}: {cycle}",
                dir.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(
        read > 50,
        "only {read} modules read: is the workspace where the guard looks?"
    );
    assert!(report.is_empty(), "module cycles:\n{report}");
}
