//! `cargo xtask <command>`: everything needed to set up, build, run and test
//! chatwire on a fresh machine, with no downloads beyond the package
//! registries.
//!
//! - `setup`: installs what is missing (idempotent, quick when all is there)
//! - `build`: the app (trunk, release, precompressed) and the server
//! - `wasm`: trunk's post_build hook: the app's wasm, split in two
//! - `run [-- SERVER ARGS]`: setup + build + serve on http://127.0.0.1:8080
//! - `test`: setup + fmt + clippy (host and wasm) + unit/integration tests +
//!   build + Playwright e2e
//! - `bench load [N ...]`, `bench engine`: benchmarks that print tables

mod bench;
mod build;
mod cmd;
mod setup;
mod test;
mod wasm;

use std::path::PathBuf;
use std::process::ExitCode;

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

pub type Result<T = ()> = std::result::Result<T, String>;

fn usage() -> String {
    "usage: cargo xtask <setup|build|run|test|bench|wasm> [-- server args for run]".into()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((c, rest)) => (c.as_str(), rest.to_vec()),
        None => ("", Vec::new()),
    };
    let rest: Vec<String> = rest.into_iter().skip_while(|a| a == "--").collect();
    let result = match command {
        "setup" => setup::all(setup::Need::Test),
        "build" => setup::all(setup::Need::Build).and_then(|()| build::all()),
        "run" => setup::all(setup::Need::Build)
            .and_then(|()| build::all())
            .and_then(|()| build::serve(&rest)),
        "test" => test::all(),
        "wasm" => wasm::hook(),
        "bench" => bench::run_bench(&rest),
        _ => Err(usage()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
