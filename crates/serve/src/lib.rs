//! `logsieve serve`: the service edge of logsieve.
//!
//! Shippers send lines over HTTP (`/v1/ingest`, Loki push, OTLP/HTTP),
//! OTLP/gRPC, syslog (TCP and UDP) or a Unix socket; the lines are framed
//! into per-source batches and queued for one processing thread that runs
//! the engine's own per-line path (the one `logsieve parse` uses on a
//! stream) with one miner per source and Sigma detection as an observer. A
//! writer thread commits template counts, examples, variable values, merges
//! and alerts to the store in group commits and only then acknowledges.
//! A web page (`/`, module [`web`]), embedded in the binary, shows sources,
//! templates and alerts through the query API.
//!
//! Invariants:
//! * A 2xx (an OTLP/gRPC OK) is sent only after the group commit that holds
//!   the request's lines; every accepted line is counted under exactly one
//!   template of its source, so per source and time range the template
//!   counts add up to the lines accepted.
//! * Memory is bounded: the queue holds at most `queue_lines` lines (HTTP
//!   answers 429, TCP stops reading, UDP drops and counts), each source at
//!   most `max_templates` templates (least recently seen evicted, counted),
//!   at most `max_sources` sources.
//! * No line is lost unaccounted: each is committed, refused with an
//!   answer (an HTTP 4xx/5xx, a gRPC status: the sender knows), or, on a
//!   socket, which has no answer, counted in `logsieve_rejected_total`.
//!   No job holds more lines than the queue.
//! * A source name is 1 to 256 characters without control characters,
//!   whatever the protocol named it.
//! * SIGTERM/SIGINT stop accepting, drain the queue, commit and exit 0.
//! * Async (tokio) lives in this crate only; the engine, the store and the
//!   protocol decoders are synchronous.

pub mod config;
pub mod grpc;
pub mod http;
pub mod metrics;
pub mod openapi;
pub mod processor;
pub mod query;
pub mod sockets;
pub mod web;

use config::{Config, LogFormat};
use http::App;
use logsieve_detect::{Detector, Mapping};
use metrics::Metrics;
use processor::{Job, Processor, ProcessorConfig};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

pub use config::ServeArgs;

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The settings are wrong.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] logsieve_store::StoreError),
    /// The rules could not be loaded.
    #[error("rules: {0}")]
    Rules(String),
    /// An address could not be bound.
    #[error("{what} {addr}: {source}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// Something else of the machine failed (threads, the runtime, a file).
    #[error("{0}")]
    Io(String),
}

/// Loads the Sigma rules with the mapping.
pub fn load_rules(rules: &[PathBuf], mapping: Option<&str>) -> Result<Option<Detector>, String> {
    if rules.is_empty() {
        return Ok(None);
    }
    let mapping = match mapping {
        None | Some("none") => None,
        Some(m) => match Mapping::builtin(m) {
            Some(b) => Some(b),
            None if std::path::Path::new(m).exists() => {
                Some(Mapping::from_file(std::path::Path::new(m)).map_err(|e| e.to_string())?)
            }
            None => {
                return Err(format!(
                    "unknown mapping {:?}: use windows, linux, webserver, none or a YAML file",
                    config::clip(m)
                ))
            }
        },
    };
    let d = Detector::load(rules, mapping).map_err(|e| e.to_string())?;
    for r in d.rejections() {
        tracing::debug!(file = %r.file, title = ?r.title, reason = %r.reason, "rule rejected");
    }
    if !d.rejections().is_empty() {
        tracing::warn!(
            rejected = d.rejections().len(),
            "some rules were rejected (RUST_LOG=debug lists each with its reason; `logsieve detect --rules` too)"
        );
    }
    Ok(Some(d))
}

fn loaded_files(d: &Option<Detector>) -> std::collections::HashSet<String> {
    d.iter()
        .flat_map(|d| d.rules().iter().map(|r| r.file.clone()))
        .collect()
}

fn summary(d: &Option<Detector>) -> String {
    match d {
        None => "no rules".into(),
        Some(d) => format!(
            "{} rule files, {} rules and {} correlations loaded, {} rejected",
            d.files_read(),
            d.rules().len(),
            d.correlations().len(),
            d.rejections().len()
        ),
    }
}

/// Sends the process's own log lines to standard error (`RUST_LOG`
/// filters; `info` by default).
pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => b.json().try_init(),
        LogFormat::Text => b.try_init(),
    };
}

/// Runs the service until SIGTERM or SIGINT.
pub fn run(args: &ServeArgs) -> Result<(), ServeError> {
    run_with(args, None)
}

/// [`run`], with accepted lines handed to `forward` (a scale-out front end)
/// instead of this process's processor; `/v1/analyze` and the query API
/// stay local.
pub fn run_with(args: &ServeArgs, forward: Option<Arc<dyn http::Forward>>) -> Result<(), ServeError> {
    let cfg = Config::resolve(args)?;
    init_tracing(cfg.log_format);
    let retention = cfg.retention()?;
    let token = match &cfg.auth_token_file {
        None => None,
        Some(p) => {
            let t = std::fs::read_to_string(p)
                .map_err(|e| ServeError::Io(format!("auth token file {}: {e}", p.display())))?;
            let t = t.trim().to_string();
            if t.is_empty() {
                return Err(ServeError::Io(format!(
                    "auth token file {} is empty",
                    p.display()
                )));
            }
            Some(t)
        }
    };
    std::fs::create_dir_all(&cfg.data_dir)
        .map_err(|e| ServeError::Io(format!("data dir {}: {e}", cfg.data_dir.display())))?;
    // One service per data dir: two would each keep their own miners over
    // one store.
    let lock_path = cfg.data_dir.join("serve.lock");
    let lock = std::fs::File::create(&lock_path)
        .map_err(|e| ServeError::Io(format!("{}: {e}", lock_path.display())))?;
    match fs4::fs_std::FileExt::try_lock_exclusive(&lock) {
        Ok(true) => {}
        Ok(false) | Err(_) => {
            return Err(ServeError::Io(format!(
                "data dir {} is in use by another logsieve serve (lock {})",
                cfg.data_dir.display(),
                lock_path.display()
            )))
        }
    }
    let (mut writer, readers) = cfg.open_store()?;
    let states = writer.load_states()?;
    let detector = load_rules(&cfg.rules, cfg.mapping.as_deref()).map_err(ServeError::Rules)?;
    let loaded_now = loaded_files(&detector);
    tracing::info!(rules = %summary(&detector), data_dir = %cfg.data_dir.display(), "starting");
    let metrics = Arc::new(Metrics::default());
    metrics
        .queue_capacity
        .store(cfg.queue_lines as u64, Ordering::Relaxed);

    let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded::<Job>();
    let (commit_tx, commit_rx) = crossbeam_channel::bounded(1);
    let processor = Processor::new(
        ProcessorConfig {
            max_templates: cfg.max_templates,
            max_sources: cfg.max_sources,
            max_line_bytes: cfg.max_line_bytes,
            commit_interval: Duration::from_millis(cfg.commit_interval_ms),
            partition: None,
        },
        states,
        detector.map(Arc::new),
        metrics.clone(),
    );
    let proc_thread = std::thread::Builder::new()
        .name("logsieve-process".into())
        .spawn(move || processor.run(jobs_rx, commit_tx))
        .map_err(|e| ServeError::Io(format!("starting the processor: {e}")))?;
    let m2 = metrics.clone();
    let writer_thread = std::thread::Builder::new()
        .name("logsieve-store".into())
        .spawn(move || processor::write_loop(commit_rx, writer, m2, retention))
        .map_err(|e| ServeError::Io(format!("starting the store writer: {e}")))?;

    let reload_jobs = jobs_tx.clone();
    let (rules, mapping) = (cfg.rules.clone(), cfg.mapping.clone());
    let reload_metrics = metrics.clone();
    // The files whose rules are loaded now: a reload that would reject one
    // of them (a typo in an edited rule) is refused, so a detection is
    // never dropped without an error.
    let loaded = std::sync::Mutex::new(loaded_now);
    let reload = Box::new(move || -> Result<String, String> {
        let checked = load_rules(&rules, mapping.as_deref()).and_then(|d| {
            let before = loaded.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(d) = &d {
                if let Some(r) = d.rejections().iter().find(|r| before.contains(&r.file)) {
                    return Err(format!(
                        "{} no longer loads: {}",
                        config::clip(&r.file),
                        config::clip(&r.reason)
                    ));
                }
            }
            Ok(d)
        });
        match checked {
            Ok(d) => {
                *loaded.lock().unwrap_or_else(|e| e.into_inner()) = loaded_files(&d);
                let s = summary(&d);
                reload_jobs
                    .send(Job::Rules(d.map(Arc::new)))
                    .map_err(|_| "shutting down".to_string())?;
                reload_metrics.reloads.fetch_add(1, Ordering::Relaxed);
                tracing::info!(rules = %s, "rules reloaded");
                Ok(s)
            }
            Err(e) => {
                reload_metrics.reload_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "rule reload failed; the rules before stay");
                Err(e)
            }
        }
    });
    let app = Arc::new(App {
        jobs: jobs_tx.clone(),
        queue: Arc::new(Semaphore::new(cfg.queue_lines)),
        cfg: Arc::new(cfg),
        metrics,
        store: readers,
        token,
        ready: AtomicBool::new(false),
        reload,
        forward,
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("logsieve-io")
        .build()
        .map_err(|e| ServeError::Io(format!("starting the runtime: {e}")))?;
    let served = rt.block_on(serve(app.clone()));
    // Everything that was accepted is queued: stop the processor after it
    // has processed and committed it, then the writer.
    let _ = jobs_tx.send(Job::Stop);
    drop(jobs_tx);
    drop(app);
    let _ = proc_thread.join();
    let _ = writer_thread.join();
    rt.shutdown_timeout(Duration::from_secs(1));
    tracing::info!("stopped; everything accepted is committed");
    drop(lock);
    served
}

/// How long open requests may take to finish once a stop is asked.
const DRAIN_GRACE: Duration = Duration::from_secs(10);

async fn bind_tcp(what: &'static str, addr: &str) -> Result<tokio::net::TcpListener, ServeError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind {
            what,
            addr: addr.to_string(),
            source,
        })
}

async fn serve(app: Arc<App>) -> Result<(), ServeError> {
    let cfg = app.cfg.clone();
    if let Some(fw) = &app.forward {
        let what = fw.start().await.map_err(ServeError::Io)?;
        tracing::info!("forwarding accepted lines to {what}");
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();

    let http = bind_tcp("--listen", &cfg.listen).await?;
    let http_addr = http.local_addr().map_err(|e| ServeError::Io(e.to_string()))?;
    if let Some(a) = &cfg.syslog_tcp {
        let l = bind_tcp("--syslog-tcp", a).await?;
        tracing::info!(
            "listening: syslog-tcp {}",
            l.local_addr().map_err(|e| ServeError::Io(e.to_string()))?
        );
        tasks.spawn(sockets::syslog_tcp(app.clone(), l, stop_rx.clone()));
    }
    if let Some(a) = &cfg.syslog_udp {
        let s = tokio::net::UdpSocket::bind(a)
            .await
            .map_err(|source| ServeError::Bind {
                what: "--syslog-udp",
                addr: a.clone(),
                source,
            })?;
        tracing::info!(
            "listening: syslog-udp {}",
            s.local_addr().map_err(|e| ServeError::Io(e.to_string()))?
        );
        tasks.spawn(sockets::syslog_udp(app.clone(), s, stop_rx.clone()));
    }
    if let Some(p) = &cfg.unix_socket {
        if let Ok(meta) = std::fs::symlink_metadata(p) {
            use std::os::unix::fs::FileTypeExt;
            if !meta.file_type().is_socket() {
                return Err(ServeError::Bind {
                    what: "--unix-socket",
                    addr: p.display().to_string(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "exists and is not a socket (not removed)",
                    ),
                });
            }
            if std::os::unix::net::UnixStream::connect(p).is_err() {
                // A socket left by a process that is gone.
                let _ = std::fs::remove_file(p);
            }
        }
        let l = tokio::net::UnixListener::bind(p).map_err(|source| ServeError::Bind {
            what: "--unix-socket",
            addr: p.display().to_string(),
            source,
        })?;
        tracing::info!("listening: unix-socket {}", p.display());
        tasks.spawn(sockets::unix(app.clone(), l, stop_rx.clone()));
    }
    if let Some(a) = &cfg.otlp_grpc {
        let l = bind_tcp("--otlp-grpc", a).await?;
        tracing::info!(
            "listening: otlp-grpc {}",
            l.local_addr().map_err(|e| ServeError::Io(e.to_string()))?
        );
        tasks.spawn(grpc::serve(app.clone(), l, stop_rx.clone()));
    }
    tracing::info!("listening: http {http_addr}");
    http::set_ready(&app);

    // Signals: the first SIGTERM/SIGINT stops; SIGHUP reloads the rules.
    let signals = {
        let app = app.clone();
        let stop_tx = stop_tx.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
                signal(SignalKind::hangup()),
            ) else {
                tracing::error!("could not install signal handlers");
                return;
            };
            loop {
                tokio::select! {
                    _ = term.recv() => break,
                    _ = int.recv() => break,
                    _ = hup.recv() => {
                        let app = app.clone();
                        let _ = tokio::task::spawn_blocking(move || (app.reload)()).await;
                    }
                }
            }
            tracing::info!("stopping: no new connections; draining what was accepted");
            let _ = stop_tx.send(true);
        })
    };

    let mut http_stop = stop_rx.clone();
    let mut deadline = stop_rx.clone();
    let router = http::router(app.clone());
    let server = axum::serve(http, router).with_graceful_shutdown(async move {
        let _ = http_stop.wait_for(|s| *s).await;
    });
    // Requests in flight get DRAIN_GRACE to finish; a client that stalls
    // mid-body does not hold the shutdown (its lines were never
    // acknowledged).
    let served = tokio::select! {
        r = server => r,
        _ = async move {
            let _ = deadline.wait_for(|s| *s).await;
            tokio::time::sleep(DRAIN_GRACE).await;
        } => {
            tracing::warn!("connections still open after {DRAIN_GRACE:?}: closed; their requests were not acknowledged");
            Ok(())
        }
    };
    let _ = stop_tx.send(true);
    let drained =
        tokio::time::timeout(DRAIN_GRACE, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("listeners still busy after {DRAIN_GRACE:?}: closed");
        tasks.abort_all();
    }
    signals.abort();
    served.map_err(|e| ServeError::Io(format!("http: {e}")))
}
