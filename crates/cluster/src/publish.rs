//! The front end's half: `logsieve serve --nats URL` publishes each accepted
//! request to JetStream, one message per partition it touches (split further
//! when a message would exceed the server's payload limit), and the service
//! acknowledges the sender only once every message was acknowledged by
//! JetStream. A broker that does not answer makes the request fail with
//! 429: nothing is kept, and the sender retries.
//!
//! A request whose messages were not all acknowledged fails as a whole, but
//! a message may still have been stored (its acknowledgement lost, or a
//! publish buffered by the client while disconnected and sent on
//! reconnect). A retry carrying the same `Idempotency-Key` header is kept
//! once: each message gets the JetStream message id
//! `<key>/<partition>/<n>/<hash of its lines>`, and JetStream drops a
//! repeated id within the stream's duplicate window (2 minutes). The hash
//! makes another request that reuses a key count as itself.
//! Without the header a retry may count such lines twice (deduplicating by
//! content would drop legitimate repeats).

use crate::{connect, partition_of, wire, ClusterError, ClusterSettings};
use logsieve_serve::http::{BoxFuture, Forward};
use logsieve_serve::processor::{AckError, Part};
use std::sync::OnceLock;
use std::time::Duration;

/// How long one publish may wait for JetStream's acknowledgement.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

/// Publishes accepted lines; see the module documentation.
pub struct Publisher {
    settings: ClusterSettings,
    js: OnceLock<async_nats::jetstream::Context>,
    client: OnceLock<async_nats::Client>,
    max_payload: OnceLock<usize>,
}

impl Publisher {
    /// A publisher that connects in [`Forward::start`].
    pub fn new(settings: ClusterSettings) -> Publisher {
        Publisher {
            settings,
            js: OnceLock::new(),
            client: OnceLock::new(),
            max_payload: OnceLock::new(),
        }
    }

    async fn publish_all(
        &self,
        parts: Vec<Part>,
        protocol: &'static str,
        at_ms: i64,
        key: Option<String>,
    ) -> Result<u64, AckError> {
        let js = self
            .js
            .get()
            .ok_or_else(|| AckError::Unavailable("not connected to NATS yet".into()))?;
        if let Some(c) = self.client.get() {
            // Publishing while disconnected would buffer the message in the
            // client and send it after we answered 429.
            if c.connection_state() != async_nats::connection::State::Connected {
                return Err(AckError::Unavailable("not connected to NATS".into()));
            }
        }
        // Room for the envelope around the lines.
        let limit = self
            .max_payload
            .get()
            .copied()
            .unwrap_or(1 << 20)
            .saturating_sub(4096)
            .max(4096);
        let lines: u64 = parts.iter().map(|p| p.batch.lines_covered()).sum();
        let n = self.settings.partitions;
        let mut by_partition: Vec<(u32, Vec<Part>)> = Vec::new();
        for p in parts {
            let k = partition_of(&p.source, n);
            for piece in split(p, limit) {
                match by_partition.iter_mut().find(|(q, _)| *q == k) {
                    Some((_, v)) => v.push(piece),
                    None => by_partition.push((k, vec![piece])),
                }
            }
        }
        let mut acks = Vec::new();
        for (k, parts) in &by_partition {
            let subject = self.settings.subject(*k);
            // Pack parts into messages under the limit, in order.
            let mut group: Vec<&Part> = Vec::new();
            let mut size = 0usize;
            let mut n = 0u32;
            for p in parts {
                let s = p.batch.data_len() + 64 * p.batch.len() + 256;
                if !group.is_empty() && size + s > limit {
                    let msg_id = key.as_ref().map(|kk| msg_id(kk, *k, n, &group, protocol));
                    acks.push(
                        self.send(js, subject.clone(), wire::encode(&group, protocol, at_ms), msg_id)
                            .await?,
                    );
                    n += 1;
                    group.clear();
                    size = 0;
                }
                group.push(p);
                size += s;
            }
            if !group.is_empty() {
                let msg_id = key.as_ref().map(|kk| msg_id(kk, *k, n, &group, protocol));
                acks.push(
                    self.send(js, subject.clone(), wire::encode(&group, protocol, at_ms), msg_id)
                        .await?,
                );
            }
        }
        for ack in acks {
            match tokio::time::timeout(PUBLISH_TIMEOUT, ack).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    return Err(AckError::Unavailable(format!(
                        "JetStream did not store the lines: {e}"
                    )))
                }
                Err(_) => {
                    return Err(AckError::Unavailable(
                        "JetStream did not acknowledge within 5 s".into(),
                    ))
                }
            }
        }
        Ok(lines)
    }

    async fn send(
        &self,
        js: &async_nats::jetstream::Context,
        subject: String,
        payload: Vec<u8>,
        msg_id: Option<String>,
    ) -> Result<async_nats::jetstream::context::PublishAckFuture, AckError> {
        let mut headers = async_nats::HeaderMap::new();
        if let Some(id) = msg_id {
            headers.insert("Nats-Msg-Id", id.as_str());
        }
        match tokio::time::timeout(
            PUBLISH_TIMEOUT,
            js.publish_with_headers(subject, headers, payload.into()),
        )
        .await
        {
            Ok(Ok(f)) => Ok(f),
            Ok(Err(e)) => Err(AckError::Unavailable(format!("publishing to JetStream: {e}"))),
            Err(_) => Err(AckError::Unavailable("publishing to JetStream timed out".into())),
        }
    }
}

/// The JetStream message id of message `n` of partition `k` of a request
/// with Idempotency-Key `key`: the same for a retry of the same lines, and
/// different for other lines under the same key (the arrival time, which
/// differs between retries, is left out of the hash).
fn msg_id(key: &str, k: u32, n: u32, group: &[&Part], protocol: &str) -> String {
    let h = xxhash_rust::xxh3::xxh3_128(&wire::encode(group, protocol, 0));
    format!("{key}/{k}/{n}/{h:032x}")
}

/// Splits a part into parts of at most about `limit` bytes of lines each
/// (a single longer line stays whole: the service's line limit is far below
/// NATS's payload limit).
fn split(p: Part, limit: usize) -> Vec<Part> {
    if p.batch.data_len() + 64 * p.batch.len() <= limit {
        return vec![p];
    }
    let mut out = Vec::new();
    let mut cur = Part::new(p.source.clone(), p.format.clone());
    let mut size = 0;
    for i in 0..p.batch.len() {
        let s = p.batch.line(i).len() + 64;
        if !cur.batch.is_empty() && size + s > limit {
            let next = Part::new(p.source.clone(), p.format.clone());
            out.push(std::mem::replace(&mut cur, next));
            size = 0;
        }
        cur.batch.push_lines(
            p.batch.line(i),
            p.batch.flags(i),
            p.batch.line_no(i),
            p.batch.line_count(i),
        );
        if !p.fields.is_empty() {
            cur.fields.push(p.fields[i].clone());
        }
        size += s;
    }
    if !cur.batch.is_empty() {
        out.push(cur);
    }
    out
}

impl Forward for Publisher {
    fn start(&self) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let (client, js) = connect(&self.settings)
                .await
                .map_err(|e: ClusterError| e.to_string())?;
            let _ = self.max_payload.set(client.server_info().max_payload);
            let _ = self.client.set(client);
            let _ = self.js.set(js);
            Ok(format!(
                "NATS JetStream {} stream {} ({} partitions)",
                self.settings.nats_url, self.settings.stream, self.settings.partitions
            ))
        })
    }

    fn forward(
        &self,
        parts: Vec<Part>,
        protocol: &'static str,
        at_ms: i64,
        key: Option<String>,
    ) -> BoxFuture<'_, Result<u64, AckError>> {
        Box::pin(self.publish_all(parts, protocol, at_ms, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logsieve_framing::LineFlags;
    use logsieve_serve::processor::FormatKey;

    #[test]
    fn split_keeps_every_line_in_order_with_its_number_and_fields() {
        let mut p = Part::new("s".into(), FormatKey::Whole);
        for i in 0..1000u64 {
            p.batch.push_lines(
                format!("line {i} {}", "x".repeat(50)).as_bytes(),
                LineFlags::default(),
                1 + 2 * i,
                2,
            );
            p.fields.push(vec![("k".into(), i.to_string())]);
        }
        let pieces = split(p, 4096);
        assert!(pieces.len() > 10);
        let mut i = 0u64;
        for q in &pieces {
            assert!(q.batch.data_len() <= 4096);
            for j in 0..q.batch.len() {
                assert!(q.batch.line(j).starts_with(format!("line {i} ").as_bytes()));
                assert_eq!(q.batch.line_no(j), 1 + 2 * i);
                assert_eq!(q.batch.line_count(j), 2);
                assert_eq!(q.fields[j][0].1, i.to_string());
                i += 1;
            }
        }
        assert_eq!(i, 1000);
    }
}
