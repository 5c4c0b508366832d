//! `cargo run -p atlas-layers -- crates/atlas-api [module]`: prints a crate's module cycles, or
//! what one module depends on, for working on the layering.

use std::path::Path;
use std::process::ExitCode;

use atlas_layers::Graph;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: atlas-layers CRATE_DIR [module::path]");
        return ExitCode::from(2);
    };
    let graph = match Graph::of_crate(Path::new(dir)) {
        Ok(graph) => graph,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(module) = args.get(1) {
        let path: Vec<String> = module.split("::").map(str::to_owned).collect();
        for (to, evidence) in graph.dependencies(&path).into_iter().flatten() {
            println!("{} ({} uses)", to.join("::"), evidence.len());
            for e in evidence {
                println!("    {}", e.path);
            }
        }
        return ExitCode::SUCCESS;
    }
    let cycles = graph.cycles();
    for cycle in &cycles {
        print!("{cycle}");
    }
    println!(
        "{} modules, {} cycles",
        graph.modules().count(),
        cycles.len()
    );
    if cycles.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
