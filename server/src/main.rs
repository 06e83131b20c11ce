//! `chatwire-server`: serves the built app and the native protocol.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener as _;
use chatwire_server::debug::ReplyLog;
use chatwire_server::engine::embedded::EmbeddedEngine;
use chatwire_server::engine::scripted::{ScriptedConfig, ScriptedEngine};
use chatwire_server::engine::upstream::UpstreamEngine;
use chatwire_server::engine::Engine;
use chatwire_server::{router, AppState, Limits, Site};
use clap::{Parser, ValueEnum};
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum EngineKind {
    /// A GGUF model run on the CPU in this process (--model).
    Embedded,
    /// Deterministic generator for tests and benchmarks (not a model).
    Scripted,
    /// An OpenAI-compatible server (--upstream).
    Upstream,
}

/// chatwire's companion server: serves the app and speaks the native
/// protocol on /ws.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Directory of the built app (trunk's dist/); not served when absent.
    #[arg(long)]
    dist: Option<PathBuf>,
    /// Which engine answers chats.
    #[arg(long, value_enum, default_value = "embedded")]
    engine: EngineKind,
    /// embedded: the GGUF model (llama family with ChatML, e.g.
    /// SmolLM2-135M-Instruct; `cargo xtask setup` fetches it).
    #[arg(long, env = "CHATWIRE_MODEL", default_value = chatwire_server::engine::embedded::DEFAULT_MODEL)]
    model: PathBuf,
    /// upstream: the OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1.
    /// Giving it selects the upstream engine.
    #[arg(long)]
    upstream: Option<String>,
    /// upstream: the model to offer first (also when the upstream lists none).
    #[arg(long)]
    upstream_model: Option<String>,
    /// upstream: the environment variable holding the API key (never sent
    /// to browsers, never logged).
    #[arg(long, default_value = "CHATWIRE_UPSTREAM_API_KEY")]
    upstream_api_key_env: String,
    /// embedded: CPU threads for inference (0 = one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// scripted: reply with this text instead of synthetic tokens.
    #[arg(long)]
    scripted_reply: Option<String>,
    /// scripted: number of synthetic tokens per reply.
    #[arg(long, default_value_t = 48)]
    scripted_tokens: usize,
    /// scripted: tokens per second (0 = as fast as possible).
    #[arg(long, default_value_t = 25.0)]
    scripted_tps: f64,
    /// Largest client frame accepted, in bytes.
    #[arg(long, default_value_t = chatwire_protocol::DEFAULT_MAX_FRAME_BYTES)]
    max_frame_bytes: usize,
    /// Heartbeat interval in milliseconds.
    #[arg(long, default_value_t = chatwire_protocol::DEFAULT_HEARTBEAT_MS)]
    heartbeat_ms: u64,
    /// Close connections silent for this many seconds.
    #[arg(long, default_value_t = 60)]
    idle_timeout_secs: u64,
    /// Replies one connection may run at once.
    #[arg(long, default_value_t = 1)]
    max_replies_per_socket: usize,
    /// Replies the server runs at once (more are refused as `overloaded`).
    #[arg(long, default_value_t = 64)]
    max_replies_total: usize,
    /// Seconds a reply goes on after its connection drops, waiting for the
    /// client to resume it (and a finished reply stays resumable); 0
    /// stops replies with their connection.
    #[arg(long, default_value_t = 60)]
    resume_window_secs: u64,
    /// Tokens ready within this many milliseconds of the last `delta` go
    /// out together in the next one (0 = one frame per token).
    #[arg(long, default_value_t = chatwire_server::DEFAULT_DELTA_INTERVAL_MS)]
    delta_interval_ms: u64,
    /// An origin (e.g. https://wiki.corp) allowed to open /ws besides the
    /// server's own and localhost; repeatable; `*` allows any.
    #[arg(long = "allowed-origin")]
    allowed_origins: Vec<String>,
    /// A WebSocket backend the served app may connect to besides this
    /// server (CSP `connect-src`), e.g. `wss://llm.corp`; repeatable.
    #[arg(long = "connect-src")]
    connect_src: Vec<String>,
    /// Who may embed the app in a frame (CSP `frame-ancestors`), e.g.
    /// `https://wiki.corp`; repeatable; default `'self'`.
    #[arg(long = "frame-ancestor")]
    frame_ancestors: Vec<String>,
    /// Serve this file as the app's `/config.json` (runtime configuration:
    /// backend, protocol, defaults, title, theme…; see
    /// docs/configuration.md). Without it, `DIST/config.json` if present.
    #[arg(long, value_name = "FILE")]
    app_config: Option<PathBuf>,
    /// Serve an OpenAI-compatible API (/v1/models, /v1/chat/completions)
    /// over the engine, for other tools (no key: bind it to loopback).
    #[arg(long)]
    openai_api: bool,
    /// Serve /debug/replies: recent requests and replies as JSON (holds
    /// prompts; for tests and local debugging only).
    #[arg(long)]
    debug_api: bool,
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), String> {
    let kind = if args.upstream.is_some() {
        EngineKind::Upstream
    } else {
        args.engine
    };
    let engine: Arc<dyn Engine> = match kind {
        EngineKind::Upstream => {
            let base = args
                .upstream
                .clone()
                .ok_or("--engine upstream needs --upstream URL")?;
            let key = std::env::var(&args.upstream_api_key_env)
                .ok()
                .filter(|k| !k.is_empty());
            tracing::info!(upstream = %base, api_key = key.is_some(), "connecting to the upstream");
            Arc::new(UpstreamEngine::connect(&base, key, args.upstream_model.clone()).await?)
        }
        EngineKind::Embedded => {
            if !args.model.is_file() {
                return Err(format!(
                    "no model at {}: run `cargo xtask setup` (it fetches SmolLM2) or give --model PATH",
                    args.model.display()
                ));
            }
            let (path, threads) = (args.model.clone(), args.threads);
            Arc::new(
                tokio::task::spawn_blocking(move || EmbeddedEngine::load(&path, threads))
                    .await
                    .map_err(|e| e.to_string())??,
            )
        }
        EngineKind::Scripted => Arc::new(ScriptedEngine::new(ScriptedConfig {
            reply: args.scripted_reply.clone(),
            tokens: args.scripted_tokens,
            tokens_per_second: args.scripted_tps,
        })),
    };
    if let Some(dist) = &args.dist {
        if !dist.join("index.html").is_file() {
            return Err(format!(
                "{} has no index.html: build the app first (cargo xtask run does)",
                dist.display()
            ));
        }
    }
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let state = AppState {
        engine,
        limits: Limits {
            max_frame_bytes: args.max_frame_bytes,
            heartbeat: Duration::from_millis(args.heartbeat_ms.max(100)),
            idle_timeout: Duration::from_secs(args.idle_timeout_secs.max(1)),
            max_replies_per_socket: args.max_replies_per_socket.max(1),
            max_replies_total: args.max_replies_total.max(1),
            allowed_origins: args.allowed_origins.clone(),
            resume_window: Duration::from_secs(args.resume_window_secs),
            delta_interval: Duration::from_millis(args.delta_interval_ms),
        },
        replies: args.debug_api.then(ReplyLog::default),
        shutdown: shutdown_rx,
        replies_running: Default::default(),
        resume: Default::default(),
        openai_api: args.openai_api,
    };
    let site = args.dist.clone().map(|dist| Site {
        dist,
        connect_src: args.connect_src.clone(),
        frame_ancestors: args.frame_ancestors.clone(),
        app_config: args.app_config.clone(),
    });
    let app = router(state, site);
    let listener = chatwire_server::listen((args.host.as_str(), args.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    // Tests and scripts read this line to find the port.
    println!("chatwire-server listening on http://{addr}");
    tracing::info!(%addr, engine = ?kind, dist = ?args.dist, "serving");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            let _ = shutdown_tx.send(true);
        })
        .await
        .map_err(|e| e.to_string())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
