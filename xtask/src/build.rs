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

/// `trunk build --release` with binaryen 132 first on PATH, then
/// precompressed copies for static hosts and the companion server.
pub fn app() -> Result {
    step("build: app (trunk --release)");
    let root = root();
    run(Command::new("trunk")
        .args(["build", "--release"])
        .current_dir(&root)
        .env("PATH", path_with_npm_bin(&root))
        .env("TRUNK_SKIP_VERSION_CHECK", "true"))?;
    externalize_loader(&dist())?;
    precompress(&dist())
}

/// Trunk writes the wasm loader as an inline `<script type="module">`,
/// which `script-src 'self'` forbids. Moves it to `boot-<hash>.js` and
/// references it, so the app runs under the strict policy everywhere.
pub fn externalize_loader(dir: &Path) -> Result {
    let index = dir.join("index.html");
    let html = std::fs::read_to_string(&index).map_err(|e| format!("{}: {e}", index.display()))?;
    let (html, loader) = split_inline_loader(&html)?;
    let name = format!("boot-{:016x}.js", fnv1a(loader.as_bytes()));
    std::fs::write(dir.join(&name), loader).map_err(|e| e.to_string())?;
    let html = html.replace(
        BOOT_PLACEHOLDER,
        &format!("<script type=\"module\" src=\"/{name}\"></script>"),
    );
    std::fs::write(&index, html).map_err(|e| e.to_string())
}

const BOOT_PLACEHOLDER: &str = "<!--chatwire-boot-->";

/// The page with its one inline module script replaced by a placeholder,
/// and that script's text. Any other inline script is an error.
fn split_inline_loader(html: &str) -> std::result::Result<(String, String), String> {
    const OPEN: &str = "<script type=\"module\">";
    let start = html
        .find(OPEN)
        .ok_or("dist/index.html has no inline loader script (did trunk change?)")?;
    let body_start = start + OPEN.len();
    let end = body_start
        + html[body_start..]
            .find("</script>")
            .ok_or("unterminated loader script in dist/index.html")?;
    let loader = html[body_start..end].trim().to_owned() + "\n";
    let rest = format!(
        "{}{BOOT_PLACEHOLDER}{}",
        &html[..start],
        &html[end + "</script>".len()..]
    );
    if rest.contains("<script>")
        || rest.contains(OPEN)
        || rest.contains(" style=")
        || rest.contains("<style")
    {
        return Err(
            "dist/index.html still has inline script or style, which the CSP forbids".into(),
        );
    }
    Ok((rest, loader))
}

/// A stable content hash for file names (FNV-1a, 64 bits).
fn fnv1a(data: &[u8]) -> u64 {
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
    fn the_inline_loader_moves_out() {
        let html = "<head><link rel=\"stylesheet\" href=\"/a.css\">\n<script type=\"module\">\nimport init from '/x.js';\nawait init();\n</script><link rel=\"modulepreload\" href=\"/x.js\"></head>";
        let (rest, loader) = split_inline_loader(html).unwrap();
        assert_eq!(loader, "import init from '/x.js';\nawait init();\n");
        assert_eq!(rest, "<head><link rel=\"stylesheet\" href=\"/a.css\">\n<!--chatwire-boot--><link rel=\"modulepreload\" href=\"/x.js\"></head>");
        assert!(split_inline_loader("<head></head>").is_err());
        let two = "<script type=\"module\">a</script><script>evil()</script>";
        assert!(split_inline_loader(two).is_err());
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
    }
}
