//! Building the app and the server, and serving them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd::{cargo, path_with_npm_bin, run, step};
use crate::{root, Result};

pub fn dist() -> PathBuf {
    root().join("dist")
}

pub fn server_binary() -> PathBuf {
    root().join("target/release/chatwire-server")
}

pub fn all() -> Result {
    app()?;
    server()
}

/// `trunk build --release` (its post_build hook, `cargo xtask wasm`,
/// builds and splits the wasm), then precompressed copies for static
/// hosts and the companion server.
pub fn app() -> Result {
    step("build: app (trunk --release)");
    let root = root();
    run(Command::new("trunk")
        .args(["build", "--release"])
        .current_dir(&root)
        .env("PATH", path_with_npm_bin(&root))
        .env("TRUNK_SKIP_VERSION_CHECK", "true"))?;
    precompress(&dist())
}

/// A stable content hash for file names (FNV-1a, 64 bits).
pub fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

pub fn server() -> Result {
    step("build: server (release)");
    run(cargo()
        .args(["build", "--release", "-p", "chatwire-server"])
        .current_dir(root()))
}

/// Writes `.gz` and `.br` beside every text and wasm file of `dir` and
/// its subdirectories (wasm-bindgen puts JS snippets in `snippets/`).
pub fn precompress(dir: &Path) -> Result {
    use std::io::Write;
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            precompress(&path)?;
            continue;
        }
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "html" | "js" | "wasm" | "css" | "json" | "svg") {
            continue;
        }
        let data = std::fs::read(&path).map_err(|e| e.to_string())?;
        // Zopfli: a standard gzip stream 4-5% smaller than `gzip -9`
        // (the wasm: 380,011 -> 362,928 B), for ~3 s of build time.
        let mut gz = Vec::new();
        let options = zopfli::Options {
            iteration_count: std::num::NonZeroU64::new(5).expect("5 > 0"),
            ..zopfli::Options::default()
        };
        zopfli::compress(options, zopfli::Format::Gzip, &data[..], &mut gz)
            .map_err(|e| e.to_string())?;
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 11, 22);
            w.write_all(&data).map_err(|e| e.to_string())?;
        }
        let name = path.display().to_string();
        std::fs::write(format!("{name}.gz"), gz).map_err(|e| e.to_string())?;
        std::fs::write(format!("{name}.br"), br).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Runs the companion server on the built app until it is stopped.
pub fn serve(extra: &[String]) -> Result {
    step("run: http://127.0.0.1:8080 (Ctrl+C stops)");
    let has = |flag: &str| {
        extra
            .iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    let mut cmd = Command::new(server_binary());
    if !has("--dist") {
        cmd.arg("--dist").arg(dist());
    }
    if !has("--host") {
        cmd.args(["--host", "127.0.0.1"]);
    }
    if !has("--port") {
        cmd.args(["--port", "8080"]);
    }
    if !has("--model") && !has("--engine") {
        cmd.arg("--model").arg(crate::setup::model_path(&root()));
    }
    cmd.args(extra);
    run(&mut cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_hash_tells_contents_apart() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
    }
}
