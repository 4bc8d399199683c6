//! `logsieve cluster status`: per partition, who holds the lease, how far
//! its consumer lags, and (with a store) what the store has applied and
//! checkpointed.

use crate::lease::Leases;
use crate::{connect_existing, nats, ClusterError, ClusterSettings};
use async_nats::jetstream::consumer::pull;
use logsieve_store::{PartitionInfo, StoreReader};
use serde::Serialize;
use std::fmt::Write as _;

/// One partition's state.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionStatus {
    /// Partition number.
    pub partition: u32,
    /// Lease holder (worker id), if any.
    pub owner: Option<String>,
    /// Lease revision.
    pub lease_revision: u64,
    /// Messages not yet delivered to the partition's consumer (None: no consumer).
    pub lag: Option<u64>,
    /// Messages delivered and not yet acked.
    pub ack_pending: Option<u64>,
    /// Messages redelivered.
    pub redelivered: Option<u64>,
    /// What the store says, when a store was given.
    pub store: Option<PartitionInfo>,
}

/// The cluster's state.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    /// Stream name.
    pub stream: String,
    /// Messages in the stream.
    pub messages: u64,
    /// Last stream sequence.
    pub last_seq: u64,
    /// Workers alive.
    pub workers: usize,
    /// Per partition.
    pub partitions: Vec<PartitionStatus>,
}

/// Reads the cluster's state; `from_store` is what the store says per
/// partition (read beforehand: the store's client is synchronous).
pub async fn status(
    settings: &ClusterSettings,
    from_store: Vec<PartitionInfo>,
) -> Result<ClusterStatus, ClusterError> {
    let (_c, js, n) = connect_existing(settings).await?;
    let leases = Leases::open(&js, settings, "status").await?;
    let mut stream = js
        .get_stream(&settings.stream)
        .await
        .map_err(|e| nats("opening the stream", e))?;
    let info = stream.info().await.map_err(|e| nats("reading the stream", e))?;
    let (messages, last_seq) = (info.state.messages, info.state.last_sequence);
    let mut partitions = Vec::new();
    for (p, owner, rev) in leases.owners(n).await? {
        let (mut lag, mut ack_pending, mut redelivered) = (None, None, None);
        if let Ok(mut c) = stream.get_consumer::<pull::Config>(&settings.consumer(p)).await {
            if let Ok(i) = c.info().await {
                lag = Some(i.num_pending);
                ack_pending = Some(i.num_ack_pending as u64);
                redelivered = Some(i.num_redelivered as u64);
            }
        }
        partitions.push(PartitionStatus {
            partition: p,
            owner,
            lease_revision: rev,
            lag,
            ack_pending,
            redelivered,
            store: from_store.iter().find(|s| s.partition == p).cloned(),
        });
    }
    Ok(ClusterStatus {
        stream: settings.stream.clone(),
        messages,
        last_seq,
        workers: leases.live_workers().await?,
        partitions,
    })
}

/// A table for people.
pub fn render(s: &ClusterStatus) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "stream {}: {} messages, last sequence {}; {} live worker(s)",
        s.stream, s.messages, s.last_seq, s.workers
    );
    let _ = writeln!(
        o,
        "{:>9}  {:<24} {:>8} {:>8} {:>11} {:>11} {:>11}",
        "partition", "owner", "lag", "unacked", "applied", "checkpoint", "sources"
    );
    let dash = || "-".to_string();
    for p in &s.partitions {
        let _ = writeln!(
            o,
            "{:>9}  {:<24} {:>8} {:>8} {:>11} {:>11} {:>11}",
            p.partition,
            p.owner.clone().unwrap_or_else(|| "(none)".into()),
            p.lag.map_or_else(dash, |v| v.to_string()),
            p.ack_pending.map_or_else(dash, |v| v.to_string()),
            p.store.as_ref().map_or_else(dash, |i| i.applied_seq.to_string()),
            p.store
                .as_ref()
                .map_or_else(dash, |i| i.checkpoint_seq.to_string()),
            p.store
                .as_ref()
                .map_or_else(dash, |i| i.checkpoint_sources.to_string()),
        );
    }
    o
}

/// [`status`] from synchronous code.
pub fn status_blocking(
    settings: &ClusterSettings,
    store: Option<&dyn StoreReader>,
) -> Result<ClusterStatus, ClusterError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ClusterError::Io(format!("starting the runtime: {e}")))?;
    let from_store = match store {
        Some(r) => r.partitions()?,
        None => Vec::new(),
    };
    rt.block_on(status(settings, from_store))
}
