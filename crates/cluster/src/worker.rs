//! `logsieve worker`: owns partitions by lease, reads them through durable
//! consumers, runs the service's processor on them, and commits to the
//! shared store; see the crate documentation for the protocol.

use crate::lease::Leases;
use crate::{connect, wire, ClusterError, ClusterSettings};
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::Context;
use futures_util::StreamExt;
use logsieve_detect::Detector;
use logsieve_serve::metrics::Metrics;
use logsieve_serve::processor::{self, AckError, Commit, Job, PartitionCtl, Processor, ProcessorConfig};
use logsieve_store::{backoff, PartitionClaim, StoreError, StoreWriter};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// Opens a store writer (one per call: the worker keeps one for commits and
/// one for claims).
pub type OpenWriter = Arc<dyn Fn() -> Result<Box<dyn StoreWriter>, StoreError> + Send + Sync>;

/// Settings of one worker.
#[derive(Clone)]
pub struct WorkerConfig {
    /// The cluster.
    pub settings: ClusterSettings,
    /// This worker's name in leases (unique among live workers).
    pub id: String,
    /// Where `/metrics` and `/healthz` are served (None: nowhere).
    pub listen: Option<String>,
    /// How often a partition's miner states are checkpointed.
    pub checkpoint_every: Duration,
    /// Longest wait before a group commit.
    pub commit_interval: Duration,
    /// Templates kept per source.
    pub max_templates: usize,
    /// Longest line.
    pub max_line_bytes: usize,
    /// Messages a partition may hold between delivery and commit.
    pub max_in_flight: i64,
    /// Sigma rules.
    pub detector: Option<Arc<Detector>>,
}

/// Cluster-side metrics of a worker (the processor's own are in
/// [`Metrics`]).
#[derive(Default)]
pub struct WorkerMetrics {
    /// Partitions owned now.
    pub owned: AtomicU64,
    /// Messages delivered more than once.
    pub redeliveries: AtomicU64,
    /// Messages that could not be decoded (acked and counted, never learned).
    pub bad_messages: AtomicU64,
    /// Partition restarts (from the checkpoint), by any cause.
    pub restarts: AtomicU64,
    /// Takeovers (claims) done.
    pub claims: AtomicU64,
    /// Per owned partition: messages not yet delivered to its consumer.
    pub lag: Mutex<BTreeMap<u32, u64>>,
}

impl WorkerMetrics {
    fn render(&self, o: &mut String) {
        let c = |o: &mut String, name: &str, kind: &str, help: &str, v: u64| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        };
        c(
            o,
            "logsieve_worker_partitions_owned",
            "gauge",
            "Partitions this worker owns.",
            self.owned.load(Ordering::Relaxed),
        );
        c(
            o,
            "logsieve_worker_redeliveries_total",
            "counter",
            "Messages delivered more than once.",
            self.redeliveries.load(Ordering::Relaxed),
        );
        c(
            o,
            "logsieve_worker_bad_messages_total",
            "counter",
            "Messages that could not be decoded (acked, not learned).",
            self.bad_messages.load(Ordering::Relaxed),
        );
        c(
            o,
            "logsieve_worker_restarts_total",
            "counter",
            "Partition restarts from the checkpoint.",
            self.restarts.load(Ordering::Relaxed),
        );
        c(
            o,
            "logsieve_worker_claims_total",
            "counter",
            "Partitions claimed in the store.",
            self.claims.load(Ordering::Relaxed),
        );
        let _ = writeln!(o, "# HELP logsieve_worker_consumer_lag Messages of the partition not yet delivered to its consumer.\n# TYPE logsieve_worker_consumer_lag gauge");
        for (p, v) in self.lag.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(o, "logsieve_worker_consumer_lag{{partition=\"{p}\"}} {v}");
        }
    }
}

/// What the runners share.
struct Shared {
    cfg: WorkerConfig,
    /// The stream's name and incarnation (its creation time): partitions
    /// in the store are bound to it.
    stream_id: String,
    js: Context,
    leases: Leases,
    control: Arc<Mutex<Box<dyn StoreWriter>>>,
    commits: crossbeam_channel::Sender<Commit>,
    metrics: Arc<Metrics>,
    wm: Arc<WorkerMetrics>,
}

/// How a partition run ended.
enum Outcome {
    /// Asked to stop (shutdown or rebalance): release the partition.
    Stopped,
    /// The lease is gone: another worker may own the partition.
    Lost,
    /// Something failed: claim again and replay from the checkpoint.
    Restart(String),
}

/// Runs a worker until `shutdown` resolves, then stops its partitions in
/// order (final commit and checkpoint, store and lease released).
pub fn run(
    cfg: WorkerConfig,
    open: OpenWriter,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ClusterError> {
    cfg.settings.validate()?;
    let metrics = Arc::new(Metrics::default());
    let commit_writer = open()?;
    let control = Arc::new(Mutex::new(open()?));
    let (commit_tx, commit_rx) = crossbeam_channel::bounded::<Commit>(1);
    let m2 = metrics.clone();
    let writer_thread = std::thread::Builder::new()
        .name("logsieve-store".into())
        .spawn(move || processor::write_loop(commit_rx, commit_writer, m2, None))
        .map_err(|e| ClusterError::Io(format!("starting the store writer: {e}")))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("logsieve-worker")
        .build()
        .map_err(|e| ClusterError::Io(format!("starting the runtime: {e}")))?;
    // The store's synchronous clients must not be dropped inside the
    // runtime: the last reference stays here.
    let control_keep = control.clone();
    let result = rt.block_on(async move {
        let (_client, js) = connect(&cfg.settings).await?;
        let leases = Leases::open(&js, &cfg.settings, &cfg.id).await?;
        let mut stream = js
            .get_stream(&cfg.settings.stream)
            .await
            .map_err(|e| crate::nats("opening the stream", e))?;
        let created = stream
            .info()
            .await
            .map_err(|e| crate::nats("reading the stream", e))?
            .created;
        let stream_id = format!("{}@{}", cfg.settings.stream, created.unix_timestamp_nanos());
        let shared = Arc::new(Shared {
            stream_id,
            cfg: cfg.clone(),
            js,
            leases,
            control,
            commits: commit_tx,
            metrics,
            wm: Arc::new(WorkerMetrics::default()),
        });
        if let Some(addr) = &cfg.listen {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| ClusterError::Io(format!("--listen {addr}: {e}")))?;
            let local = l.local_addr().map_err(|e| ClusterError::Io(e.to_string()))?;
            tracing::info!("listening: http {local}");
            let s = shared.clone();
            let app = axum::Router::new()
                .route(
                    "/metrics",
                    axum::routing::get(move || {
                        let s = s.clone();
                        async move {
                            let mut o = s.metrics.render();
                            s.wm.render(&mut o);
                            o
                        }
                    }),
                )
                .route("/healthz", axum::routing::get(|| async { "ok" }));
            tokio::spawn(async move {
                let _ = axum::serve(l, app).await;
            });
        }
        coordinate(shared, shutdown).await
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    drop(control_keep);
    // The runners dropped their senders; the writer ends after the last commit.
    let _ = writer_thread.join();
    result
}

struct Runner {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// How long a stop may take to commit, checkpoint and release.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// Membership, fair share and the runners.
async fn coordinate(
    shared: Arc<Shared>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ClusterError> {
    let s = &shared.cfg.settings;
    let tick = s.lease_ttl / 3;
    let n = s.partitions;
    let mut runners: BTreeMap<u32, Runner> = BTreeMap::new();
    tokio::pin!(shutdown);
    // Start looking at partitions from a place of our own, so that workers
    // starting together do not all race for partition 0.
    let offset = (xxhash_rust::xxh3::xxh3_64(shared.cfg.id.as_bytes()) % u64::from(n)) as u32;
    let info = shared.cfg.listen.clone().unwrap_or_default();
    loop {
        // One round of membership and ownership; a stop cuts it short (each
        // step waits on NATS, seconds each while NATS is away).
        let round = async {
            if let Err(e) = shared.leases.heartbeat(&info).await {
                tracing::warn!(error = %e, "heartbeat failed");
            }
            runners.retain(|_, r| !r.task.is_finished());
            let live = shared.leases.live_workers().await.unwrap_or(1).max(1);
            let share = n.div_ceil(live as u32) as usize;
            if runners.len() < share {
                for i in 0..n {
                    let p = (offset + i) % n;
                    if runners.len() >= share {
                        break;
                    }
                    if runners.contains_key(&p) {
                        continue;
                    }
                    if let Some(rev) = shared.leases.acquire(p).await {
                        tracing::info!(partition = p, revision = rev, "lease taken");
                        let (stop_tx, stop_rx) = watch::channel(false);
                        let task = tokio::spawn(own(shared.clone(), p, rev, stop_rx));
                        runners.insert(p, Runner { stop: stop_tx, task });
                    }
                }
            } else if runners.len() > share {
                // Hand the extra partitions over, the last taken first.
                let extra: Vec<u32> = runners
                    .keys()
                    .rev()
                    .take(runners.len() - share)
                    .copied()
                    .collect();
                for p in extra {
                    if let Some(r) = runners.get(&p) {
                        tracing::info!(partition = p, live, "rebalancing: handing the partition over");
                        let _ = r.stop.send(true);
                    }
                }
            }
            shared.wm.owned.store(runners.len() as u64, Ordering::Relaxed);
            tokio::time::sleep(tick).await;
        };
        tokio::select! {
            _ = round => {}
            _ = &mut shutdown => break,
        }
    }
    tracing::info!(
        partitions = runners.len(),
        "stopping: committing and releasing partitions"
    );
    for r in runners.values() {
        let _ = r.stop.send(true);
    }
    let stopping = async {
        for (_, r) in runners {
            let _ = r.task.await;
        }
        shared.leases.leave().await;
    };
    // Bounded: with NATS or the store gone, releasing could wait forever;
    // what is committed is safe either way, and leases expire.
    if tokio::time::timeout(STOP_GRACE, stopping).await.is_err() {
        tracing::warn!(grace = ?STOP_GRACE, "partitions not all released in time; their leases will expire");
    }
    Ok(())
}

/// Owns partition `p` from lease revision `rev` until it is stopped or lost.
async fn own(shared: Arc<Shared>, p: u32, mut rev: u64, mut stop: watch::Receiver<bool>) {
    let tick = shared.cfg.settings.lease_ttl / 3;
    let mut attempt = 0u32;
    loop {
        if *stop.borrow() {
            shared.leases.release(p, rev).await;
            return;
        }
        // A fresh revision is a fresh epoch, above every one used before.
        rev = match shared.leases.renew(p, rev).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(partition = p, error = %e, "lease lost");
                return;
            }
        };
        let control = shared.control.clone();
        let id = shared.cfg.id.clone();
        let stream_id = shared.stream_id.clone();
        let claim = tokio::task::spawn_blocking(move || {
            let mut w = control.lock().unwrap_or_else(|e| e.into_inner());
            w.bind_partition_stream(p, &stream_id)?;
            w.claim_partition(p, &id, rev)
        })
        .await
        .unwrap_or_else(|e| Err(StoreError::InvalidBatch(format!("claim task failed: {e}"))));
        let claim = match claim {
            Ok(c) => c,
            Err(StoreError::Fenced { why, .. }) => {
                // Its lease expires; whoever takes it next is told the same.
                tracing::error!(partition = p, why, "fenced out of the partition");
                return;
            }
            Err(e) => {
                let wait = backoff(attempt).min(tick);
                attempt += 1;
                tracing::warn!(partition = p, error = %e, retry_in = ?wait, "claiming the partition failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        };
        shared.wm.claims.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            partition = p,
            epoch = rev,
            applied = claim.applied_seq,
            checkpoint = claim.checkpoint_seq,
            "partition claimed"
        );
        let epoch = rev;
        let (outcome, last_rev) = run_owned(&shared, p, epoch, claim, &mut stop).await;
        rev = last_rev;
        match outcome {
            Outcome::Stopped => {
                let control = shared.control.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    let mut w = control.lock().unwrap_or_else(|e| e.into_inner());
                    w.release_partition(p, epoch)
                })
                .await;
                shared.leases.release(p, rev).await;
                tracing::info!(partition = p, "partition released");
                return;
            }
            Outcome::Lost => {
                tracing::warn!(partition = p, "lease lost; partition left to its next owner");
                return;
            }
            Outcome::Restart(why) => {
                shared.wm.restarts.fetch_add(1, Ordering::Relaxed);
                let wait = backoff(attempt).min(tick);
                attempt += 1;
                tracing::warn!(partition = p, why, retry_in = ?wait, "partition restarts from its checkpoint");
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// The instant `at_ms` (ms since the epoch) was, on this host's clock.
fn since_ms(at_ms: i64) -> Instant {
    let now = Instant::now();
    let age = (processor::now_ms() - at_ms).max(0) as u64;
    now.checked_sub(Duration::from_millis(age)).unwrap_or(now)
}

/// The protocol names the service uses, as the processor wants them.
fn protocol_name(s: &str) -> &'static str {
    const KNOWN: [&str; 7] = [
        "http",
        "loki",
        "otlp_http",
        "otlp_grpc",
        "syslog_tcp",
        "syslog_udp",
        "unix",
    ];
    KNOWN.iter().find(|k| **k == s).copied().unwrap_or("other")
}

/// Reads and processes partition `p` under `epoch` until stopped, lost or
/// failed. Returns how it ended and the lease revision last held.
async fn run_owned(
    shared: &Arc<Shared>,
    p: u32,
    epoch: u64,
    claim: PartitionClaim,
    stop: &mut watch::Receiver<bool>,
) -> (Outcome, u64) {
    let cfg = &shared.cfg;
    let s = &cfg.settings;
    let mut rev = epoch;
    let stream = match shared.js.get_stream(&s.stream).await {
        Ok(st) => st,
        Err(e) => return (Outcome::Restart(format!("opening the stream: {e}")), rev),
    };
    let name = s.consumer(p);
    // The durable consumer starts where the checkpoint ends: recreate it.
    let _ = stream.delete_consumer(&name).await;
    let consumer = match stream
        .create_consumer(pull::Config {
            durable_name: Some(name.clone()),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: claim.checkpoint_seq + 1,
            },
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(60),
            filter_subject: s.subject(p),
            max_ack_pending: cfg.max_in_flight,
            ..Default::default()
        })
        .await
    {
        Ok(c) => c,
        Err(e) => return (Outcome::Restart(format!("creating consumer {name}: {e}")), rev),
    };
    let mut messages = match consumer.messages().await {
        Ok(m) => m,
        Err(e) => return (Outcome::Restart(format!("reading consumer {name}: {e}")), rev),
    };
    let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded::<Job>();
    let processor = Processor::new(
        ProcessorConfig {
            max_templates: cfg.max_templates,
            // Not enforced in partition mode (see the processor).
            max_sources: usize::MAX,
            max_line_bytes: cfg.max_line_bytes,
            commit_interval: cfg.commit_interval,
            partition: Some(PartitionCtl {
                partition: p,
                epoch,
                applied_seq: claim.applied_seq,
                checkpoint_seq: claim.checkpoint_seq,
                checkpoint_every: cfg.checkpoint_every,
            }),
        },
        claim.states,
        cfg.detector.clone(),
        shared.metrics.clone(),
    );
    let commits = shared.commits.clone();
    let proc_thread = match std::thread::Builder::new()
        .name(format!("logsieve-p{p}"))
        .spawn(move || processor.run(jobs_rx, commits))
    {
        Ok(t) => t,
        Err(e) => return (Outcome::Restart(format!("starting the processor: {e}")), rev),
    };
    // Acks in delivery order, each after its commit.
    type Pending = (
        oneshot::Receiver<Result<u64, AckError>>,
        async_nats::jetstream::Message,
        u64,
    );
    let (ack_tx, mut ack_rx) = mpsc::unbounded_channel::<Pending>();
    let (fail_tx, mut fail_rx) = mpsc::unbounded_channel::<String>();
    let metrics = shared.metrics.clone();
    let acker = tokio::spawn(async move {
        while let Some((rx, msg, lines)) = ack_rx.recv().await {
            match rx.await {
                Ok(Ok(_)) => {}
                Ok(Err(AckError::Refused(m))) => {
                    // The front end checked what could be refused; this is
                    // not expected. Counted and reported, the message done.
                    tracing::error!(reason = %m, lines, "lines refused by the processor after the front end took them");
                    metrics.rejected("refused", lines);
                }
                Ok(Err(AckError::Unavailable(m))) => {
                    let _ = fail_tx.send(format!("commit failed: {m}"));
                    return;
                }
                Err(_) => {
                    let _ = fail_tx.send("the processor stopped".into());
                    return;
                }
            }
            if let Err(e) = msg.ack().await {
                tracing::debug!(error = %e, "ack failed; the message will be redelivered and skipped");
            }
        }
    });
    let tick = s.lease_ttl / 3;
    let mut renew = tokio::time::interval(tick);
    renew.tick().await;
    let mut lag = tokio::time::interval(Duration::from_secs(1));
    let mut last_consumer_seq = 0u64;
    let outcome = loop {
        tokio::select! {
            m = messages.next() => {
                let msg = match m {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => {
                        // Heartbeat misses and the like: the stream goes on;
                        // a lost delivery shows as a gap below.
                        tracing::debug!(partition = p, error = %e, "consumer");
                        continue;
                    }
                    None => break Outcome::Restart("the consumer's message stream ended".into()),
                };
                let (seq, cseq, delivered) = match msg.info() {
                    Ok(i) => (i.stream_sequence, i.consumer_sequence, i.delivered),
                    Err(e) => break Outcome::Restart(format!("message without metadata: {e}")),
                };
                if delivered > 1 {
                    shared.wm.redeliveries.fetch_add(1, Ordering::Relaxed);
                } else if cseq != last_consumer_seq + 1 {
                    break Outcome::Restart(format!(
                        "delivery gap: consumer sequence {cseq} after {last_consumer_seq}"
                    ));
                }
                last_consumer_seq = last_consumer_seq.max(cseq);
                let batch = match wire::decode(&msg.payload) {
                    Ok(b) => b,
                    Err(e) => {
                        shared.wm.bad_messages.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(partition = p, seq, error = %e, "undecodable message acked and skipped");
                        let _ = msg.ack().await;
                        continue;
                    }
                };
                let (tx, rx) = oneshot::channel();
                let lines = Job::lines(&batch.parts);
                let job = Job::Ingest {
                    parts: batch.parts,
                    protocol: protocol_name(&batch.protocol),
                    // The front end's acceptance: the worker's
                    // logsieve_ingest_to_commit_seconds is then end to end
                    // (publish to committed in the store).
                    received: since_ms(batch.at_ms),
                    permit: None,
                    ack: Some(tx),
                    at_ms: Some(batch.at_ms),
                    seq: Some(seq),
                };
                if jobs_tx.send(job).is_err() {
                    break Outcome::Restart("the processor stopped".into());
                }
                let _ = ack_tx.send((rx, msg, lines));
            }
            Some(why) = fail_rx.recv() => break Outcome::Restart(why),
            _ = renew.tick() => {
                match shared.leases.renew(p, rev).await {
                    Ok(r) => rev = r,
                    Err(e) => {
                        tracing::warn!(partition = p, error = %e, "lease renewal failed");
                        break Outcome::Lost;
                    }
                }
            }
            _ = lag.tick() => {
                if let Ok(mut c) = stream.get_consumer::<pull::Config>(&name).await {
                    if let Ok(i) = c.info().await {
                        shared.wm.lag.lock().unwrap_or_else(|e| e.into_inner()).insert(p, i.num_pending);
                    }
                }
            }
            _ = stop.changed() => break Outcome::Stopped,
        }
    };
    drop(messages);
    // What was fed is committed (fenced if someone else owns the partition
    // by now) with a last checkpoint, then acked; the lease is renewed all
    // the while, so a slow drain does not hand the partition over midway.
    let commits = shared.commits.clone();
    let teardown = async move {
        let _ = jobs_tx.send(Job::Stop);
        drop(jobs_tx);
        let _ = tokio::task::spawn_blocking(move || proc_thread.join()).await;
        // The processor's last commit is in the writer's queue: wait for it.
        let (tx, rx) = oneshot::channel();
        let _ = tokio::task::spawn_blocking(move || commits.send(Commit::barrier(tx)).is_ok()).await;
        let _ = rx.await;
        drop(ack_tx);
        let _ = acker.await;
    };
    tokio::pin!(teardown);
    loop {
        tokio::select! {
            _ = &mut teardown => break,
            _ = renew.tick() => {
                if let Ok(r) = shared.leases.renew(p, rev).await {
                    rev = r;
                }
            }
        }
    }
    shared.wm.lag.lock().unwrap_or_else(|e| e.into_inner()).remove(&p);
    (outcome, rev)
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let int = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(t) => t,
            Err(_) => {
                let _ = int.await;
                return;
            }
        };
        tokio::select! {
            _ = int => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = int.await;
    }
}
