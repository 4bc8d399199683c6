//! Scale-out for `logsieve serve` on NATS JetStream: front ends publish the
//! lines they accept, workers own partitions of the stream by lease, mine
//! templates per source with the service's own processor, and write to a
//! shared store (PostgreSQL) in batches.
//!
//! The design in one place (docs/SCALE-OUT.md has the long form and the
//! mapping onto Kafka):
//! - **Partitions.** A source always lands in partition
//!   [`partition_of`]`(source, N)` (xxh3 of the name, modulo N), subject
//!   `<stream>.p.<n>` of one stream. N is fixed when the cluster is first
//!   started and kept in the `<stream>-meta` KV bucket; a front end or worker
//!   started with another N refuses to start.
//! - **Front ends** ([`publish::Publisher`]) acknowledge a sender only after
//!   JetStream acknowledged every message of its request; when the broker
//!   does not answer they answer 429 and keep nothing.
//! - **Ownership.** Each partition has a lease: key `p<n>` in the
//!   `<stream>-leases` KV bucket, whose `max_age` is the lease TTL. A worker
//!   takes a partition with a create (it fails while another holds it),
//!   renews it with a compare-and-set update every TTL/3, and deletes it on a
//!   graceful stop. The revision of the update made just before a worker
//!   claims the partition in the store is its fencing token (epoch): the
//!   store refuses commits of an older epoch, so a worker that lost its lease
//!   without knowing it can never write again.
//! - **Exactly-once effects.** A worker acks a message only after the store
//!   transaction that holds its effects committed; the same transaction
//!   moves the partition's applied stream sequence by compare-and-set.
//!   Every few seconds it also holds a checkpoint: the complete miner states
//!   of the partition's sources and the sequence they cover. A new owner
//!   loads the checkpoint, reads the partition again from the sequence after
//!   it (a durable consumer recreated at that start), learns the messages up
//!   to the applied sequence without writing their effects, and goes on: its
//!   templates, ids and counts are those of one process reading the whole
//!   partition.
//! - **Order.** Messages of a partition are learned in stream order, each
//!   once: a redelivery of a sequence already learned is acked and skipped,
//!   and a gap in the consumer's delivery sequence (a delivery lost in
//!   transit) restarts the partition from its checkpoint.
//!
//! Async (tokio, async-nats) lives here and in the service crate only; the
//! store calls are synchronous and run on blocking threads.

pub mod args;
pub mod lease;
pub mod publish;
pub mod status;
pub mod wire;
pub mod worker;

use std::time::Duration;

/// Why the cluster could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// NATS or JetStream answered with an error, or not at all.
    #[error("NATS {what}: {message}")]
    Nats {
        /// What was being done.
        what: String,
        /// The client's error.
        message: String,
    },
    /// The settings disagree with the cluster's or with themselves.
    #[error("{0}")]
    Config(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] logsieve_store::StoreError),
    /// Anything else (threads, sockets).
    #[error("{0}")]
    Io(String),
}

/// A [`ClusterError::Nats`] from any client error.
pub(crate) fn nats(what: impl Into<String>, e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Nats {
        what: what.into(),
        message: e.to_string(),
    }
}

/// Where the cluster lives and how it is cut.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// NATS server URL(s), comma-separated.
    pub nats_url: String,
    /// Stream name; also the prefix of its subjects and KV buckets.
    pub stream: String,
    /// Number of partitions (fixed at the cluster's first start).
    pub partitions: u32,
    /// How long a lease lives without renewal.
    pub lease_ttl: Duration,
    /// How long the stream keeps messages (a new owner replays from its
    /// last checkpoint, so this must be far longer than a checkpoint
    /// interval).
    pub max_age: Duration,
}

impl ClusterSettings {
    /// Checks names and numbers.
    pub fn validate(&self) -> Result<(), ClusterError> {
        if self.stream.is_empty()
            || !self
                .stream
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(ClusterError::Config(format!(
                "stream name {:?} must be letters, digits, '_' or '-'",
                self.stream
            )));
        }
        if self.partitions == 0 || self.partitions > 1024 {
            return Err(ClusterError::Config(format!(
                "partitions must be 1..=1024, not {}",
                self.partitions
            )));
        }
        if self.lease_ttl < Duration::from_secs(1) {
            return Err(ClusterError::Config("lease TTL must be at least 1 s".into()));
        }
        Ok(())
    }

    /// Subject of partition `p`.
    pub fn subject(&self, p: u32) -> String {
        format!("{}.p.{p}", self.stream)
    }

    /// Durable consumer name of partition `p`.
    pub fn consumer(&self, p: u32) -> String {
        format!("{}-p{p}", self.stream)
    }

    /// Lease bucket.
    pub fn lease_bucket(&self) -> String {
        format!("{}-leases", self.stream)
    }

    /// Worker membership bucket.
    pub fn workers_bucket(&self) -> String {
        format!("{}-workers", self.stream)
    }

    /// Cluster settings bucket.
    pub fn meta_bucket(&self) -> String {
        format!("{}-meta", self.stream)
    }
}

/// The partition of `source` among `n`: xxh3-64 of its UTF-8 bytes modulo
/// `n`. Stable across processes, hosts and versions (part of the format).
pub fn partition_of(source: &str, n: u32) -> u32 {
    (xxhash_rust::xxh3::xxh3_64(source.as_bytes()) % u64::from(n)) as u32
}

/// A client (5 s timeouts) and its JetStream context.
async fn client(
    settings: &ClusterSettings,
) -> Result<(async_nats::Client, async_nats::jetstream::Context), ClusterError> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .request_timeout(Some(Duration::from_secs(5)))
        .connect(settings.nats_url.as_str())
        .await
        .map_err(|e| nats(format!("connecting to {}", settings.nats_url), e))?;
    let js = async_nats::jetstream::new(client.clone());
    Ok((client, js))
}

/// Connects, creates the stream and the buckets if missing, and checks that
/// the cluster's partition count is `settings.partitions`.
pub async fn connect(
    settings: &ClusterSettings,
) -> Result<(async_nats::Client, async_nats::jetstream::Context), ClusterError> {
    use async_nats::jetstream::{kv, stream};
    settings.validate()?;
    let (client, js) = client(settings).await?;
    js.get_or_create_stream(stream::Config {
        name: settings.stream.clone(),
        subjects: vec![format!("{}.p.*", settings.stream)],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        max_age: settings.max_age,
        ..Default::default()
    })
    .await
    .map_err(|e| nats(format!("creating stream {}", settings.stream), e))?;
    let meta = get_or_create_kv(
        &js,
        kv::Config {
            bucket: settings.meta_bucket(),
            history: 1,
            ..Default::default()
        },
    )
    .await?;
    let want = settings.partitions.to_string();
    match meta.create("partitions", want.clone().into()).await {
        Ok(_) => {}
        Err(_) => {
            let have = meta
                .get("partitions")
                .await
                .map_err(|e| nats("reading the partition count", e))?
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            if have != want {
                return Err(ClusterError::Config(format!(
                    "the cluster on stream {} has {have} partitions; this process was started with {want} (--partitions must match)",
                    settings.stream
                )));
            }
        }
    }
    for (bucket, ttl) in [
        (settings.lease_bucket(), settings.lease_ttl),
        (settings.workers_bucket(), settings.lease_ttl),
    ] {
        get_or_create_kv(
            &js,
            kv::Config {
                bucket,
                history: 1,
                max_age: ttl,
                ..Default::default()
            },
        )
        .await?;
    }
    Ok((client, js))
}

/// Connects to a cluster that exists, creating nothing (for `cluster
/// status`); returns its partition count as the cluster keeps it.
pub async fn connect_existing(
    settings: &ClusterSettings,
) -> Result<(async_nats::Client, async_nats::jetstream::Context, u32), ClusterError> {
    let (client, js) = client(settings).await?;
    let missing = || {
        ClusterError::Config(format!(
            "no logsieve cluster on stream {} at {} (no front end or worker ever started there; check --stream)",
            settings.stream, settings.nats_url
        ))
    };
    js.get_stream(&settings.stream).await.map_err(|_| missing())?;
    let meta = js
        .get_key_value(settings.meta_bucket())
        .await
        .map_err(|_| missing())?;
    let n = meta
        .get("partitions")
        .await
        .map_err(|e| nats("reading the partition count", e))?
        .and_then(|b| String::from_utf8_lossy(&b).parse::<u32>().ok())
        .ok_or_else(missing)?;
    Ok((client, js, n))
}

async fn get_or_create_kv(
    js: &async_nats::jetstream::Context,
    cfg: async_nats::jetstream::kv::Config,
) -> Result<async_nats::jetstream::kv::Store, ClusterError> {
    use async_nats::jetstream::stream;
    if let Ok(kv) = js.get_key_value(cfg.bucket.as_str()).await {
        return Ok(kv);
    }
    // The bucket's stream, made by the KV conventions (ADR-8) directly: the
    // client's create_key_value first asks for account details that NATS
    // 2.9 answers in a shape this client version does not parse.
    let name = cfg.bucket.clone();
    js.get_or_create_stream(stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: cfg.history.max(1),
        max_age: cfg.max_age,
        storage: stream::StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        num_replicas: 1,
        ..Default::default()
    })
    .await
    .map_err(|e| nats(format!("creating KV bucket {name}"), e))?;
    js.get_key_value(name.as_str())
        .await
        .map_err(|e| nats(format!("opening KV bucket {name}"), e))
}
