//! `cargo xtask test`: every check, in order, with a counted summary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::cmd::{cargo, run, step};
use crate::{build, root, setup, Result};

#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    failures: Vec<String>,
}

impl Tally {
    fn stage(&mut self, name: &str, result: Result) {
        if let Err(e) = result {
            eprintln!("xtask: {name} failed: {e}");
            self.failures.push(name.to_owned());
        }
    }
}

pub fn all() -> Result {
    setup::all(setup::Need::Test)?;
    let root = root();
    let mut t = Tally::default();

    step("check: cargo fmt");
    t.stage(
        "fmt",
        run(cargo()
            .args(["fmt", "--all", "--", "--check"])
            .current_dir(&root)),
    );

    step("check: clippy (host)");
    t.stage(
        "clippy (host)",
        run(cargo()
            .args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ])
            .current_dir(&root)),
    );

    step("check: clippy (wasm32)");
    t.stage(
        "clippy (wasm32)",
        run(cargo()
            .args([
                "clippy",
                "-p",
                "chatwire",
                "--target",
                "wasm32-unknown-unknown",
                "--",
                "-D",
                "warnings",
            ])
            .current_dir(&root)),
    );

    step("test: unit and integration (cargo test --workspace)");
    let r = cargo_test(&mut t);
    t.stage("cargo test", r);

    let built = build::all();
    let build_ok = built.is_ok();
    t.stage("build", built);

    if build_ok {
        step("test: e2e (Playwright, Chromium)");
        let r = e2e(&mut t);
        t.stage("e2e", r);
        // The soak script itself, shortened: one kill -9 and one network
        // cut (`cargo xtask bench soak` runs the full 20 cycles).
        step("test: soak, 2 cycles (bench/soak)");
        let r = crate::bench::soak(&["--cycles".into(), "2".into()]);
        if r.is_ok() {
            t.passed += 1;
        } else {
            t.failed += 1;
        }
        t.stage("soak", r);
    } else {
        eprintln!("xtask: e2e skipped: the build failed");
        t.failures.push("e2e (not run)".into());
    }

    eprintln!();
    if !t.failures.is_empty() {
        eprintln!("xtask test: FAILED stages: {}", t.failures.join(", "));
    }
    // The one closing line CI reads.
    println!("total: {} passed, {} failed", t.passed, t.failed);
    if t.failures.is_empty() && t.failed == 0 {
        Ok(())
    } else {
        Err("some checks failed".into())
    }
}

/// `cargo test --workspace`, streamed, adding up the harness' result lines.
fn cargo_test(t: &mut Tally) -> Result {
    let mut child = cargo()
        .args(["test", "--workspace"])
        .current_dir(root())
        .env("CHATWIRE_MODEL", setup::model_path(&root()))
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo test: {e}"))?;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out)
            .lines()
            .map_while(std::result::Result::ok)
        {
            println!("{line}");
            if let Some((p, f)) = parse_test_result(&line) {
                t.passed += p;
                t.failed += f;
            }
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo test exited with {status}"))
    }
}

/// `test result: ok. 12 passed; 0 failed; ...` -> (12, 0)
fn parse_test_result(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let num = |word: &str| -> Option<u64> {
        rest.split(';').find_map(|part| {
            let words: Vec<&str> = part.split_whitespace().collect();
            let at = words.iter().position(|w| *w == word)?;
            words.get(at.checked_sub(1)?)?.parse().ok()
        })
    };
    Some((num("passed")?, num("failed")?))
}

fn e2e(t: &mut Tally) -> Result {
    let root = root();
    let dir = root.join("e2e");
    let report = dir.join("test-results/results.json");
    let _ = std::fs::remove_file(&report);
    let result = run(Command::new("npx")
        .args(["playwright", "test"])
        .current_dir(&dir)
        .env("CHATWIRE_SERVER_BIN", build::server_binary())
        .env("CHATWIRE_DIST", build::dist())
        .env("CHATWIRE_PEERS_PYTHON", setup::peers_python(&root))
        .env("CHATWIRE_MODEL", setup::model_path(&root))
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1"));
    let json = std::fs::read_to_string(&report).unwrap_or_default();
    let stat = |key: &str| json_number(&json, key).unwrap_or(0);
    let (expected, unexpected, flaky) = (stat("expected"), stat("unexpected"), stat("flaky"));
    t.passed += expected;
    t.failed += unexpected + flaky;
    println!(
        "e2e: {expected} passed, {} failed, {} skipped",
        unexpected + flaky,
        stat("skipped")
    );
    if result.is_ok() && expected == 0 {
        return Err("the e2e suite ran no test".into());
    }
    result
}

/// The number after `"key":` in Playwright's JSON report (its `stats`).
fn json_number(json: &str, key: &str) -> Option<u64> {
    let stats = &json[json.rfind("\"stats\"")?..];
    let at = stats.find(&format!("\"{key}\""))? + key.len() + 2;
    let tail = stats[at..].trim_start().strip_prefix(':')?.trim_start();
    let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cargo_test_result_lines() {
        assert_eq!(
            parse_test_result("test result: ok. 15 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.23s"),
            Some((15, 0))
        );
        assert_eq!(
            parse_test_result("test result: FAILED. 10 passed; 1 failed; 0 ignored"),
            Some((10, 1))
        );
        assert_eq!(parse_test_result("running 3 tests"), None);
    }

    #[test]
    fn reads_playwright_stats() {
        let json = r#"{"suites":[],"stats":{"startTime":"x","duration":1.5,"expected":7,"skipped":1,"unexpected":2,"flaky":0}}"#;
        assert_eq!(json_number(json, "expected"), Some(7));
        assert_eq!(json_number(json, "unexpected"), Some(2));
        assert_eq!(json_number(json, "flaky"), Some(0));
        assert_eq!(json_number("{}", "expected"), None);
    }
}
