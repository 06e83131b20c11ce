//! Running commands with clear logging and errors.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::Result;

pub fn step(title: &str) {
    eprintln!("\n==> {title}");
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd`, inheriting stdio; Err when it cannot start or fails.
pub fn run(cmd: &mut Command) -> Result {
    let what = describe(cmd);
    eprintln!("$ {what}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run `{what}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{what}` failed ({status})"))
    }
}

/// Runs `cmd` quietly and returns its stdout, or None if it fails.
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

pub fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// PATH with the npm tools (binaryen's wasm-opt) first.
pub fn path_with_npm_bin(root: &Path) -> String {
    let bin = root.join("e2e/node_modules/.bin");
    match std::env::var("PATH") {
        Ok(p) => format!("{}:{p}", bin.display()),
        Err(_) => bin.display().to_string(),
    }
}
