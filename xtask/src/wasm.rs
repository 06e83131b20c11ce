//! `cargo xtask wasm`: the app's wasm, split in two. Trunk runs it as its
//! `post_build` hook (Trunk.toml), so `trunk build` and `trunk serve` give
//! the whole app; trunk itself handles the page and the styles.
//!
//! Trunk's own Rust pipeline (cargo → wasm-bindgen → wasm-opt) cannot
//! split a module. This one puts the split between cargo and wasm-bindgen:
//!
//! 1. `cargo rustc` builds the app with its relocations kept
//!    (`--emit-relocs`, on the final link only: the dependencies' cache
//!    is the same as for any other build);
//! 2. `wasm_split_cli_support` (what `cargo leptos --split` runs) moves
//!    the code reachable only from a split point (`#[wasm_split]`, see
//!    `src/markdown/engine.rs`) into a module of its own, and writes the
//!    JS that fetches and instantiates it on the first call;
//! 3. wasm-bindgen makes the main module's JS glue;
//! 4. in release, wasm-opt `-Oz` (binaryen from npm) shrinks each module;
//! 5. the files go into trunk's staging directory under names that carry
//!    the input's hash (the server caches those for good), with a boot
//!    script and preload links added to `index.html`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd::{cargo, run, step};
use crate::{root, Result};

const TARGET: &str = "wasm32-unknown-unknown";
const BIN: &str = "chatwire";

/// Where the hook's files go and how they are built, from trunk's
/// environment.
pub struct Hook {
    pub staging: PathBuf,
    pub release: bool,
    /// The URL prefix of the app's files (trunk's `public_url`).
    pub public_url: String,
}

impl Hook {
    pub fn from_env() -> Result<Self> {
        let staging = std::env::var_os("TRUNK_STAGING_DIR")
            .map(PathBuf::from)
            .ok_or("`cargo xtask wasm` is trunk's post_build hook: run `trunk build` (or `cargo xtask build`)")?;
        Ok(Self {
            staging,
            release: std::env::var("TRUNK_PROFILE").is_ok_and(|p| p == "release"),
            public_url: std::env::var("TRUNK_PUBLIC_URL").unwrap_or_else(|_| "/".into()),
        })
    }
}

pub fn hook() -> Result {
    let hook = Hook::from_env()?;
    build(&hook)
}

fn build(hook: &Hook) -> Result {
    let root = root();
    // Cargo's profile, and the directory it builds into.
    let (profile, profile_dir) = if hook.release {
        ("wasm-release", "wasm-release")
    } else {
        ("dev", "debug")
    };
    step(&format!("wasm: cargo rustc ({profile}, relocations kept)"));
    run(cargo()
        .args([
            "rustc",
            "--bin",
            BIN,
            "--target",
            TARGET,
            "--profile",
            profile,
        ])
        .args(["--", "-C", "link-args=--emit-relocs"])
        .current_dir(&root))?;
    let input = root.join(format!("target/{TARGET}/{profile_dir}/{BIN}.wasm"));
    let wasm = std::fs::read(&input).map_err(|e| format!("{}: {e}", input.display()))?;
    let hash = format!("{:016x}", crate::build::fnv1a(&wasm));
    let names = Names::new(&hash);

    step("wasm: split (wasm_split_cli_support)");
    let work = root.join("target/wasm-split");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let main_raw = work.join("main.wasm");
    let link_name = format!("./{}", names.link_js);
    let main_module = format!("./{}", names.main_js);
    let split = wasm_split_cli_support::transform({
        let mut o = wasm_split_cli_support::Options::new(&wasm);
        o.output_dir = &work;
        o.main_out_path = &main_raw;
        o.link_name = &link_name;
        o.main_module = &main_module;
        o
    })
    .map_err(|e| format!("splitting {}: {e:#}", input.display()))?;
    if split.split_modules.is_empty() {
        return Err("the app has no split point left: are `markdown::engine::load` and `ui::settings_panel::load` gone?".into());
    }

    step("wasm: wasm-bindgen");
    let out = &hook.staging;
    run(Command::new("wasm-bindgen")
        .args(["--target", "web", "--no-typescript"])
        // The split modules import the main module's functions and table
        // by the linker's names.
        .args(["--keep-lld-exports", "--no-demangle"])
        .arg("--out-name")
        .arg(&names.stem)
        .arg("--out-dir")
        .arg(out)
        .arg(&main_raw))?;

    // The JS that loads the split modules asks for them by their new names,
    // and copes with a static host that serves wasm with another type.
    let mut link_js = robust_instantiate(&read(&work.join(&names.link_js))?)?;
    let mut modules = Vec::new();
    for path in &split.split_modules {
        let file = file_name(path)?;
        let hashed = hashed_name(&file, &hash);
        let old = format!("\"./{file}\"");
        if link_js.matches(&old).count() != 1 {
            return Err(format!("{}: no single reference to {file}", names.link_js));
        }
        link_js = link_js.replace(&old, &format!("\"./{hashed}\""));
        modules.push((path.clone(), out.join(hashed)));
    }
    write(&out.join(&names.link_js), &link_js)?;

    let main_wasm = out.join(&names.main_wasm);
    if hook.release {
        step("wasm: wasm-opt -Oz (each module)");
        optimize(&main_wasm, &main_wasm)?;
        for (from, to) in &modules {
            optimize(from, to)?;
        }
    } else {
        for (from, to) in &modules {
            std::fs::copy(from, to).map_err(|e| format!("{}: {e}", from.display()))?;
        }
    }

    // The boot script, and what the page should fetch at once. The boot
    // script finds the app's files beside itself, wherever that is.
    let url = |f: &str| format!("{}{f}", hook.public_url);
    let boot = format!(
        "import init from './{js}';\n\
         const wasm = await init({{ module_or_path: new URL('./{wasm}', import.meta.url) }});\n\
         dispatchEvent(new CustomEvent('TrunkApplicationStarted', {{ detail: {{ wasm }} }}));\n",
        js = names.main_js,
        wasm = names.main_wasm,
    );
    let boot_name = format!("boot-{:016x}.js", crate::build::fnv1a(boot.as_bytes()));
    write(&out.join(&boot_name), &boot)?;
    let mut head = format!(
        "  <script type=\"module\" src=\"{}\"></script>\n",
        url(&boot_name)
    );
    // The main JS imports the split loader and the snippets: fetched with
    // it rather than after it.
    for js in [&names.main_js, &names.link_js] {
        head.push_str(&format!(
            "    <link rel=\"modulepreload\" href=\"{}\" crossorigin=\"anonymous\">\n",
            url(js)
        ));
    }
    for snippet in files_under(&out.join("snippets"))? {
        let rel = snippet
            .strip_prefix(out)
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .replace('\\', "/");
        head.push_str(&format!(
            "    <link rel=\"modulepreload\" href=\"{}\" crossorigin=\"anonymous\">\n",
            url(&rel)
        ));
    }
    head.push_str(&format!(
        "    <link rel=\"preload\" href=\"{}\" as=\"fetch\" type=\"application/wasm\" crossorigin=\"anonymous\">\n  ",
        url(&names.main_wasm)
    ));
    let index = out.join("index.html");
    let html = read(&index)?;
    write(&index, &with_head_end(&html, &head)?)?;
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "wasm: main {} B, split {} B",
        size(&main_wasm),
        modules.iter().map(|(_, to)| size(to)).sum::<u64>()
    );
    Ok(())
}

/// The file names of one build, all carrying the input's hash.
struct Names {
    /// wasm-bindgen's `--out-name`.
    stem: String,
    main_js: String,
    main_wasm: String,
    /// The JS that loads the split modules.
    link_js: String,
}

impl Names {
    fn new(hash: &str) -> Self {
        let stem = format!("{BIN}-{hash}");
        Self {
            main_js: format!("{stem}.js"),
            main_wasm: format!("{stem}_bg.wasm"),
            link_js: format!("__wasm_split-{hash}.js"),
            stem,
        }
    }
}

/// The split loader compiles a module with `instantiateStreaming`, which
/// fails unless the host serves it as `application/wasm` (many static
/// hosts and wiki attachments do not), and reads an error page as wasm.
/// This makes it check the status and fall back to compiling the bytes,
/// as wasm-bindgen's own loader does for the main module.
fn robust_instantiate(js: &str) -> Result<String> {
    const STREAMING: &str = "WebAssembly.instantiateStreaming(src, imports)";
    if js.matches(STREAMING).count() == 0 {
        return Err(format!(
            "the split loader no longer calls `{STREAMING}`: check xtask/src/wasm.rs"
        ));
    }
    Ok(js.replace(STREAMING, "chatwireInstantiate(src, imports)") + INSTANTIATE_JS)
}

const INSTANTIATE_JS: &str = r#"
async function chatwireInstantiate(src, imports) {
    const response = await src;
    if (!response.ok) {
        throw new Error(`${response.url}: HTTP ${response.status}`);
    }
    const type = response.headers.get("Content-Type") || "";
    if (type.split(";")[0].trim() === "application/wasm") {
        return WebAssembly.instantiateStreaming(response, imports);
    }
    return WebAssembly.instantiate(await response.arrayBuffer(), imports);
}
"#;

/// `split_markdown.wasm` → `split_markdown-<hash>.wasm`.
fn hashed_name(file: &str, hash: &str) -> String {
    match file.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}-{hash}.{ext}"),
        None => format!("{file}-{hash}"),
    }
}

/// `html` with `head` put just before `</head>`, and without the Rust
/// link trunk was told to skip (`data-trunk-skip`: without that link
/// trunk would build the crate itself). Trunk makes no script of its own
/// here; any inline script or style would break the CSP.
fn with_head_end(html: &str, head: &str) -> std::result::Result<String, String> {
    const SKIPPED: &str = "<link data-trunk rel=\"rust\" data-trunk-skip";
    let html = match html.find(SKIPPED) {
        Some(start) => {
            let len = html[start..]
                .find('>')
                .ok_or("unterminated link in index.html")?
                + 1;
            let end = start + len;
            // With the line it stood on.
            let start = html[..start].trim_end_matches([' ', '\t']).len();
            let end = end + usize::from(html[end..].starts_with('\n'));
            format!("{}{}", &html[..start], &html[end..])
        }
        None => html.to_owned(),
    };
    let at = html.find("</head>").ok_or("index.html has no </head>")?;
    if html.contains("<script") || html.contains("<style") || html.contains(" style=") {
        return Err(
            "index.html has a script or style of its own: the CSP forbids inline ones, and \
             the app's loader is added here"
                .into(),
        );
    }
    Ok(format!("{}{head}{}", &html[..at], &html[at..]))
}

fn optimize(from: &Path, to: &Path) -> Result {
    let root = root();
    run(Command::new("wasm-opt")
        .env("PATH", crate::cmd::path_with_npm_bin(&root))
        .args([
            "-Oz",
            "--enable-bulk-memory",
            "--enable-nontrapping-float-to-int",
        ])
        .arg(from)
        .arg("-o")
        .arg(to))
}

fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(files);
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path)?);
        } else {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn file_name(path: &Path) -> Result<String> {
    path.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .ok_or_else(|| format!("{}: no file name", path.display()))
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(path: &Path, text: &str) -> Result {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_hash() {
        let n = Names::new("0123456789abcdef");
        assert_eq!(n.main_js, "chatwire-0123456789abcdef.js");
        assert_eq!(n.main_wasm, "chatwire-0123456789abcdef_bg.wasm");
        assert_eq!(n.link_js, "__wasm_split-0123456789abcdef.js");
        assert_eq!(
            hashed_name("split_markdown.wasm", "0123456789abcdef"),
            "split_markdown-0123456789abcdef.wasm"
        );
    }

    #[test]
    fn the_split_loader_compiles_whatever_the_content_type() {
        let js = "return async (imports) => (WebAssembly.instantiateStreaming(src, imports));";
        let out = robust_instantiate(js).unwrap();
        assert!(out.starts_with("return async (imports) => (chatwireInstantiate(src, imports));"));
        assert!(out.contains("async function chatwireInstantiate(src, imports)"));
        assert!(robust_instantiate("fetch(x)").is_err());
    }

    #[test]
    fn the_loader_goes_at_the_end_of_the_head_and_inline_code_is_refused() {
        let html =
            "<html><head><link rel=\"stylesheet\" href=\"/a.css\"></head><body></body></html>";
        assert_eq!(
            with_head_end(html, "<script type=\"module\" src=\"/b.js\"></script>").unwrap(),
            "<html><head><link rel=\"stylesheet\" href=\"/a.css\"><script type=\"module\" src=\"/b.js\"></script></head><body></body></html>"
        );
        let skipped = "<head>\n    <link rel=\"icon\">\n    <link data-trunk rel=\"rust\" data-trunk-skip data-trunk-id=\"1\">\n  </head>";
        assert_eq!(
            with_head_end(skipped, "<x>").unwrap(),
            "<head>\n    <link rel=\"icon\">\n  <x></head>"
        );
        assert!(with_head_end("<html></html>", "").is_err());
        assert!(with_head_end("<head><script>x()</script></head>", "").is_err());
        assert!(with_head_end("<head><style>p{}</style></head>", "").is_err());
        assert!(with_head_end("<head></head><p style=\"x\">", "").is_err());
    }
}
