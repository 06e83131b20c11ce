//! `cargo xtask bench <load|codec|engine|render|soak>`: benchmarks that print tables.

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
        Some("codec") => {
            step("bench: server frame decoding (native)");
            run(cargo()
                .args([
                    "run",
                    "--release",
                    "-p",
                    "chatwire-bench",
                    "--bin",
                    "codec",
                    "--",
                ])
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
        Some("render") => {
            setup::all(setup::Need::Test)?;
            build::all()?;
            step("bench: rendering in headless Chromium (release build, scripted engine)");
            render(&args[1..])
        }
        Some("soak") => {
            setup::all(setup::Need::Test)?;
            build::all()?;
            step("bench: soak (kill -9 / network cuts during replies)");
            soak(&args[1..])
        }
        _ => Err(
            "usage: cargo xtask bench <load [N ...] | codec [--frames N] | engine [--threads N ...] | render [--reps N] [--sizes 1000,5000,20000] [--only load,stream,blocks,history] [--block-lines N] [--delta-interval-ms N] | soak [--cycles 20]>"
                .into(),
        ),
    }
}

/// The soak script against the release build; fails when a message was
/// lost or a reply's text is wrong.
pub fn soak(args: &[String]) -> Result {
    let root = root();
    run(Command::new("node")
        .arg(root.join("bench/soak/soak.cjs"))
        .arg("--server")
        .arg(build::server_binary())
        .arg("--dist")
        .arg(build::dist())
        .args(args)
        .env("NODE_PATH", root.join("e2e/node_modules"))
        .current_dir(&root))
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

/// Starts the companion server (scripted engine) on a free port, runs the
/// rendering benchmark against it in Chromium, and stops the server.
fn render(args: &[String]) -> Result {
    use std::io::{BufRead, BufReader};
    let root = root();
    // `--delta-interval-ms N` is the server's (0: one frame per token, as
    // most backends send); the rest is the benchmark script's.
    let mut args = args.to_vec();
    let mut server_args = Vec::new();
    if let Some(i) = args.iter().position(|a| a == "--delta-interval-ms") {
        server_args = args.drain(i..(i + 2).min(args.len())).collect();
    }
    let args = &args[..];
    let mut server = Command::new(build::server_binary())
        .args(&server_args)
        .args([
            "--engine",
            "scripted",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--dist",
        ])
        .arg(build::dist())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let stdout = server.stdout.take().ok_or("no server stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .filter(|u| u.starts_with("http://"))
        .map(str::to_owned);
    let result = match url {
        Some(url) => run(Command::new("node")
            .arg(root.join("bench/render/render.cjs"))
            .args(["--url", &url])
            .args(args)
            .env("NODE_PATH", root.join("e2e/node_modules"))
            .current_dir(&root)),
        None => Err(format!("the server did not say where it listens: {line:?}")),
    };
    let _ = server.kill();
    let _ = server.wait();
    result
}
