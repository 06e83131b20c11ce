//! Load: N concurrent sockets streaming from the companion server's
//! `scripted` engine, on loopback, for a bounded time. Prints, per N, the
//! inter-token gap (p50/p99/max) beside its floor (the engine's own
//! interval), errors, and the server's CPU and peak RSS.
//!
//! `cargo run --release -p chatwire-bench --bin load -- [--server PATH] [--tps F] [N ...]`
//! (default N: 10 100 1000; `cargo xtask bench load` builds and runs it).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chatwire_protocol::{ChatMessage, ChatRequest, ClientFrame, Params, Role, ServerFrame};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

const TOKENS: u32 = 200;
/// Default rate per socket; `--tps` changes it.
const DEFAULT_TPS: f64 = 40.0;
/// Connections are opened over this long, as real clients arrive.
const RAMP: Duration = Duration::from_secs(2);

#[derive(Default)]
struct SocketResult {
    gaps_ms: Vec<f64>,
    tokens: u32,
    error: Option<String>,
}

fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max.min(65_536);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn proc_cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 (11 and 12 after the name).
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz.max(1.0)
}

fn proc_status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn one_socket(addr: String, i: usize, start_at: Instant, tps: f64) -> SocketResult {
    tokio::time::sleep_until(start_at.into()).await;
    let mut r = SocketResult::default();
    let (mut ws, _) = match tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await {
        Ok(x) => x,
        Err(e) => {
            r.error = Some(format!("connect: {e}"));
            return r;
        }
    };
    let chat = ClientFrame::Chat(ChatRequest {
        id: format!("load-{i}"),
        model: None,
        messages: vec![ChatMessage {
            role: Role::User,
            content: format!("!tokens={TOKENS} !tps={tps}"),
        }],
        params: Params::default(),
    });
    if let Err(e) = ws.send(Message::Text(chat.encode().into())).await {
        r.error = Some(format!("send: {e}"));
        return r;
    }
    let mut last: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs_f64(f64::from(TOKENS) / tps + 30.0);
    loop {
        let next = tokio::time::timeout_at(deadline.into(), ws.next()).await;
        let msg = match next {
            Ok(Some(Ok(m))) => m,
            Ok(other) => {
                r.error = Some(format!("stream ended: {:?}", other.map(|x| x.map(|_| ()))));
                return r;
            }
            Err(_) => {
                r.error = Some("timed out".into());
                return r;
            }
        };
        let Message::Text(t) = msg else { continue };
        match ServerFrame::decode(t.as_str()) {
            Ok(ServerFrame::Delta { .. }) => {
                let now = Instant::now();
                if let Some(prev) = last {
                    r.gaps_ms.push((now - prev).as_secs_f64() * 1000.0);
                }
                last = Some(now);
                r.tokens += 1;
            }
            Ok(ServerFrame::End { .. }) => return r,
            Ok(ServerFrame::Error { message, .. }) => {
                r.error = Some(message);
                return r;
            }
            _ => {}
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    raise_fd_limit();
    let mut args = std::env::args().skip(1).peekable();
    let mut server = PathBuf::from("target/release/chatwire-server");
    let mut counts = Vec::new();
    let mut tps = DEFAULT_TPS;
    while let Some(a) = args.next() {
        if a == "--tps" {
            tps = args
                .next()
                .and_then(|v| v.parse().ok())
                .filter(|v: &f64| *v > 0.0)
                .unwrap_or(tps);
        } else if a == "--server" {
            server = args.next().map(PathBuf::from).unwrap_or(server);
        } else if let Ok(n) = a.parse::<usize>() {
            counts.push(n);
        }
    }
    if counts.is_empty() {
        counts = vec![10, 100, 1000];
    }
    let floor = 1000.0 / tps;
    println!(
        "load: N sockets x {TOKENS} tokens at {tps} tok/s each (scripted engine, loopback, {} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("| sockets | tokens recv | gap p50 ms | gap p99 ms | gap max ms | floor ms | errors | server CPU | server RSS peak |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in counts {
        let mut child = tokio::process::Command::new(&server)
            .args(["--engine", "scripted", "--port", "0", "--max-replies-total"])
            .arg((n + 10).to_string())
            .args(["--idle-timeout-secs", "120"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
        let pid = child.id().unwrap_or(0);
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let addr = loop {
            let line = lines
                .next_line()
                .await
                .ok()
                .flatten()
                .expect("server printed its address");
            if let Some(a) = line.split("http://").nth(1) {
                break a.trim().to_owned();
            }
        };
        let cpu0 = proc_cpu_secs(pid);
        let t0 = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let at = t0 + RAMP.mul_f64(i as f64 / n as f64);
                tokio::spawn(one_socket(addr.clone(), i, at, tps))
            })
            .collect();
        let mut gaps = Vec::new();
        let mut tokens = 0u64;
        let mut errors = Vec::new();
        for t in tasks {
            match t.await {
                Ok(r) => {
                    gaps.extend(r.gaps_ms);
                    tokens += u64::from(r.tokens);
                    if let Some(e) = r.error {
                        errors.push(e);
                    }
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        let wall = t0.elapsed().as_secs_f64();
        let cpu = (proc_cpu_secs(pid) - cpu0) / wall * 100.0;
        let rss_mb = proc_status_kb(pid, "VmHWM") as f64 / 1024.0;
        gaps.sort_by(f64::total_cmp);
        println!(
            "| {n} | {tokens} | {:.1} | {:.1} | {:.1} | {floor:.1} | {} | {cpu:.0}% | {rss_mb:.1} MB |",
            percentile(&gaps, 0.5),
            percentile(&gaps, 0.99),
            gaps.last().copied().unwrap_or(f64::NAN),
            errors.len(),
        );
        if let Some(e) = errors.first() {
            eprintln!("  first error: {e}");
        }
        let _ = child.kill().await;
    }
}
