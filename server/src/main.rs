//! `chatwire-server`: serves the built app and the native protocol.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chatwire_server::debug::ReplyLog;
use chatwire_server::engine::scripted::{ScriptedConfig, ScriptedEngine};
use chatwire_server::engine::Engine;
use chatwire_server::{router, AppState, Limits};
use clap::{Parser, ValueEnum};
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum EngineKind {
    /// Deterministic generator for tests and benchmarks (not a model).
    Scripted,
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
    #[arg(long, value_enum, default_value = "scripted")]
    engine: EngineKind,
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
    /// Serve /debug/replies: recent requests and replies as JSON (holds
    /// prompts; for tests and local debugging only).
    #[arg(long)]
    debug_api: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match serve(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), String> {
    let engine: Arc<dyn Engine> = match args.engine {
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
        },
        replies: args.debug_api.then(ReplyLog::default),
        shutdown: shutdown_rx,
    };
    let app = router(state, args.dist.clone());
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    // Tests and scripts read this line to find the port.
    println!("chatwire-server listening on http://{addr}");
    tracing::info!(%addr, engine = ?args.engine, dist = ?args.dist, "serving");
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
