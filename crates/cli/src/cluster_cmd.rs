//! `serve` (with `--nats`), `worker` and `cluster status`: the wiring
//! between the service, the cluster crate and the PostgreSQL store.

use anyhow::{bail, Context};
use logsieve_cluster::args::{parse_duration, NatsArgs, StatusArgs, WorkerArgs};
use std::sync::Arc;
use std::time::Duration;

/// `logsieve serve` flags: the service's own, and where to publish when it
/// is a scale-out front end.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeCmd {
    #[command(flatten)]
    pub serve: logsieve_serve::ServeArgs,
    #[command(flatten)]
    pub cluster: NatsArgs,
}

/// Scale-out cluster commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ClusterCmd {
    /// Partitions, lease owners, consumer lag, and (with --store) what the
    /// store applied and checkpointed per partition.
    Status(StatusArgs),
}

pub fn serve(a: &ServeCmd) -> anyhow::Result<i32> {
    let forward = a.cluster.settings()?.map(|s| {
        Arc::new(logsieve_cluster::publish::Publisher::new(s)) as Arc<dyn logsieve_serve::http::Forward>
    });
    logsieve_serve::run_with(&a.serve, forward)?;
    Ok(0)
}

fn open_store(url: &str) -> anyhow::Result<logsieve_cluster::worker::OpenWriter> {
    let cfg = logsieve_store_postgres::PgConfig::from_url(url).with_context(|| format!("--store {url}"))?;
    // Checked once now, so a bad URL fails at start.
    drop(logsieve_store_postgres::open_postgres(&cfg)?);
    Ok(Arc::new(move || {
        let (w, _) = logsieve_store_postgres::open_postgres(&cfg)?;
        Ok(Box::new(w) as Box<dyn logsieve_store::StoreWriter>)
    }))
}

pub fn worker(a: &WorkerArgs) -> anyhow::Result<i32> {
    let Some(settings) = a.nats.settings()? else {
        bail!("--nats is required: the NATS server the front ends publish to");
    };
    if !a.store.starts_with("postgres://") && !a.store.starts_with("postgresql://") {
        bail!(
            "--store {:?}: workers share a PostgreSQL store: give postgres://USER@HOST:PORT/DB?schema=NAME",
            a.store
        );
    }
    let open = open_store(&a.store)?;
    let detector = logsieve_serve::load_rules(&a.rules, a.mapping.as_deref()).map_err(anyhow::Error::msg)?;
    let id = a.id.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "worker".into());
        format!("{}-{}", host.trim(), std::process::id())
    });
    let cfg = logsieve_cluster::worker::WorkerConfig {
        settings,
        id,
        listen: Some(a.listen.clone()),
        checkpoint_every: parse_duration("checkpoint-interval", &a.checkpoint_interval)?,
        commit_interval: Duration::from_millis(a.commit_interval_ms.clamp(1, 10_000)),
        max_templates: a.max_templates,
        max_line_bytes: a.max_line_bytes,
        max_in_flight: a.max_in_flight.max(1),
        detector: detector.map(Arc::new),
    };
    logsieve_serve::init_tracing(logsieve_serve::config::LogFormat::Text);
    logsieve_cluster::worker::run(cfg, open, logsieve_cluster::worker::shutdown_signal())?;
    Ok(0)
}

pub fn cluster(c: &ClusterCmd) -> anyhow::Result<i32> {
    match c {
        ClusterCmd::Status(a) => {
            let Some(settings) = a.nats.settings()? else {
                bail!("--nats is required");
            };
            let reader = match &a.store {
                Some(url) => {
                    let cfg = logsieve_store_postgres::PgConfig::from_url(url)
                        .with_context(|| format!("--store {url}"))?;
                    let (_, readers) = logsieve_store_postgres::open_postgres(&cfg)?;
                    Some(logsieve_store::ReaderFactory::reader(&readers)?)
                }
                None => None,
            };
            let st = logsieve_cluster::status::status_blocking(&settings, reader.as_deref())?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&st)?);
            } else {
                print!("{}", logsieve_cluster::status::render(&st));
            }
            Ok(0)
        }
    }
}
