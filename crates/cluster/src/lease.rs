//! Partition leases and worker membership in JetStream KV buckets whose
//! `max_age` is the lease TTL: an entry not renewed within the TTL expires,
//! and another worker's create then succeeds.

use crate::{nats, ClusterError, ClusterSettings};
use async_nats::jetstream::kv::Store;
use async_nats::jetstream::Context;

/// The lease bucket, seen by one worker.
#[derive(Clone)]
pub struct Leases {
    kv: Store,
    workers: Store,
    owner: String,
}

fn key(p: u32) -> String {
    format!("p{p}")
}

impl Leases {
    /// Opens the buckets ([`crate::connect`] created them).
    pub async fn open(js: &Context, settings: &ClusterSettings, owner: &str) -> Result<Leases, ClusterError> {
        let kv = js
            .get_key_value(settings.lease_bucket())
            .await
            .map_err(|e| nats("opening the lease bucket", e))?;
        let workers = js
            .get_key_value(settings.workers_bucket())
            .await
            .map_err(|e| nats("opening the worker bucket", e))?;
        Ok(Leases {
            kv,
            workers,
            owner: owner.to_string(),
        })
    }

    /// Takes partition `p` if nobody holds it: `Some(revision)`.
    pub async fn acquire(&self, p: u32) -> Option<u64> {
        self.kv.create(key(p), self.owner.clone().into()).await.ok()
    }

    /// Renews a lease held at `revision`: the new revision, or an error when
    /// it was lost (expired and maybe taken) or NATS did not answer.
    pub async fn renew(&self, p: u32, revision: u64) -> Result<u64, ClusterError> {
        self.kv
            .update(key(p), self.owner.clone().into(), revision)
            .await
            .map_err(|e| nats(format!("renewing the lease of partition {p}"), e))
    }

    /// Gives the lease back if it is still ours at `revision`.
    pub async fn release(&self, p: u32, revision: u64) {
        if let Err(e) = self.kv.delete_expect_revision(key(p), Some(revision)).await {
            tracing::debug!(partition = p, error = %e, "lease release");
        }
    }

    /// Announces this worker (renewed like a lease).
    pub async fn heartbeat(&self, info: &str) -> Result<(), ClusterError> {
        self.workers
            .put(self.owner.as_str(), info.to_string().into())
            .await
            .map(|_| ())
            .map_err(|e| nats("announcing the worker", e))
    }

    /// Removes this worker's announcement.
    pub async fn leave(&self) {
        let _ = self.workers.delete(self.owner.as_str()).await;
    }

    /// Workers alive now (including this one once it has announced itself).
    pub async fn live_workers(&self) -> Result<usize, ClusterError> {
        use futures_util::StreamExt;
        let mut keys = self
            .workers
            .keys()
            .await
            .map_err(|e| nats("listing workers", e))?;
        let mut n = 0;
        while let Some(k) = keys.next().await {
            if k.is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Owner of each partition's lease now: (partition, owner, revision).
    pub async fn owners(&self, partitions: u32) -> Result<Vec<(u32, Option<String>, u64)>, ClusterError> {
        let mut out = Vec::with_capacity(partitions as usize);
        for p in 0..partitions {
            let e = self
                .kv
                .entry(key(p))
                .await
                .map_err(|e| nats("reading leases", e))?;
            out.push(match e {
                Some(e) if e.operation == async_nats::jetstream::kv::Operation::Put => (
                    p,
                    Some(String::from_utf8_lossy(&e.value).into_owned()),
                    e.revision,
                ),
                _ => (p, None, 0),
            });
        }
        Ok(out)
    }
}
