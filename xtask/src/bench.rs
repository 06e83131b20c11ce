//! `cargo xtask bench <load|engine>`: benchmarks that print tables.

use std::process::Command;

use crate::cmd::{cargo, output, run, step};
use crate::{build, root, setup, Result};

pub fn run_bench(args: &[String]) -> Result {
    let root = root();
    match args.first().map(String::as_str) {
        Some("load") => {
            build::server()?;
            step("bench: load");
            run(cargo()
                .args([
                    "build",
                    "--release",
                    "-p",
                    "chatwire-bench",
                    "--bin",
                    "load",
                ])
                .current_dir(&root))?;
            run(Command::new(root.join("target/release/load"))
                .arg("--server")
                .arg(build::server_binary())
                .args(&args[1..])
                .current_dir(&root))
        }
        Some("engine") => {
            setup::all(setup::Need::Build)?;
            build::server()?;
            let python = llama_venv()?;
            step("bench: embedded engine vs llama.cpp");
            run(Command::new(python)
                .arg(root.join("bench/engine.py"))
                .arg("--server")
                .arg(build::server_binary())
                .arg("--model")
                .arg(setup::model_path(&root))
                .args(&args[1..])
                .current_dir(&root))
        }
        _ => Err("usage: cargo xtask bench <load [N ...] | engine [--threads N ...]>".into()),
    }
}

/// A virtualenv with llama-cpp-python (it compiles llama.cpp: 20-40 minutes
/// on 2 cores the first time) and websockets, for the engine comparison.
fn llama_venv() -> Result<std::path::PathBuf> {
    let venv = root().join(".cache/llama-venv");
    let python = venv.join("bin/python");
    let ready =
        output(Command::new(&python).args(["-c", "import llama_cpp, websockets"])).is_some();
    if ready {
        return Ok(python);
    }
    if !python.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    step("bench: installing llama-cpp-python (compiles llama.cpp; slow)");
    run(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "llama-cpp-python[server]",
        "websockets",
    ]))?;
    Ok(python)
}
