//! `cargo run -p atlas-codegen` regenerates `crates/atlas-model/src/generated/` from the spec and
//! the operation catalogue in `../shared/reference/` (paths can be overridden, see `--help`).

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut inputs = atlas_codegen::Inputs::default_from(&root);
    let mut check = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--spec" => inputs.spec = args.next().map(PathBuf::from).unwrap_or_default(),
            "--catalog" => inputs.catalog = args.next().map(PathBuf::from).unwrap_or_default(),
            "--check" => check = true,
            _ => {
                eprintln!("usage: atlas-codegen [--spec FILE] [--catalog FILE] [--check]");
                std::process::exit(2);
            }
        }
    }
    let generated = atlas_codegen::generate(&inputs)?;
    let out_dir = root.join(atlas_codegen::OUTPUT_DIR);
    if check {
        let stale = generated.differences(&out_dir);
        if !stale.is_empty() {
            anyhow::bail!("generated files are out of date: {}", stale.join(", "));
        }
        println!("generated model is up to date");
    } else {
        generated.write(&out_dir)?;
        println!(
            "wrote {} files to {}",
            generated.files.len(),
            atlas_codegen::OUTPUT_DIR
        );
    }
    Ok(())
}
