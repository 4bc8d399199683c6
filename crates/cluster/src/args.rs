//! Command-line settings of the cluster's commands (`serve --nats`,
//! `worker`, `cluster status`).

use crate::{ClusterError, ClusterSettings};
use std::path::PathBuf;
use std::time::Duration;

/// Where the cluster is (shared by every cluster command).
#[derive(Debug, Clone, clap::Args)]
pub struct NatsArgs {
    /// NATS server URL (JetStream enabled), e.g. nats://127.0.0.1:4222.
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
    /// JetStream stream name; also the prefix of its subjects, consumers and
    /// KV buckets. [default: LOGSIEVE]
    #[arg(long, value_name = "NAME", default_value = "LOGSIEVE")]
    pub stream: String,
    /// Partitions of the stream: fixed when the cluster first starts; every
    /// front end and worker must give the same number. [default: 8]
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub partitions: u32,
    /// How long a partition lease lives without renewal (renewed every
    /// third of it); a killed worker's partitions move after this. [default: 10s]
    #[arg(long, value_name = "AGE", default_value = "10s")]
    pub lease_ttl: String,
    /// How long the stream keeps lines (a new owner replays from the last
    /// checkpoint, seconds old). [default: 24h]
    #[arg(long, value_name = "AGE", default_value = "24h")]
    pub stream_max_age: String,
}

/// `logsieve worker` settings.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    /// The shared store: postgres://USER@HOST:PORT/DB?schema=NAME.
    #[arg(long, value_name = "URL")]
    pub store: String,
    /// Serve /metrics and /healthz here. [default: 127.0.0.1:7471]
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7471")]
    pub listen: String,
    /// This worker's name in leases. [default: HOSTNAME-PID]
    #[arg(long, value_name = "NAME")]
    pub id: Option<String>,
    /// Sigma rule files or folders, run on every line.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub rules: Vec<PathBuf>,
    /// How rule fields map onto events: windows, linux, webserver, none or a YAML file.
    #[arg(long, value_name = "NAME|FILE")]
    pub mapping: Option<String>,
    /// How often each partition's miners (and the variable values seen
    /// since the last time) are checkpointed in the store. Shorter: less to
    /// replay after a worker dies; longer: less written (see
    /// docs/BENCHMARKS.md, "Scale-out"). [default: 30s]
    #[arg(long, value_name = "AGE", default_value = "30s")]
    pub checkpoint_interval: String,
    /// Longest wait before a group commit. [default: 20]
    #[arg(long, value_name = "MS", default_value_t = 20)]
    pub commit_interval_ms: u64,
    /// Templates kept per source (see `serve --max-templates`). [default: 10000]
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_templates: usize,
    /// Longest line. [default: 65536]
    #[arg(long, value_name = "BYTES", default_value_t = 65_536)]
    pub max_line_bytes: usize,
    /// Messages a partition may hold between delivery and commit (each up
    /// to NATS's payload limit, 1 MiB by default). [default: 64]
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_in_flight: i64,
}

/// `logsieve cluster status` settings.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Also show what the store applied and checkpointed per partition.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// An age such as `500ms`, `10s`, `5m`, `24h`, `7d`.
pub fn parse_duration(name: &str, s: &str) -> Result<Duration, ClusterError> {
    let t = s.trim();
    let bad = || {
        ClusterError::Config(format!(
            "--{name} {s:?}: give an age such as 500ms, 10s, 5m, 24h or 7d"
        ))
    };
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => return Err(bad()),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let ms = match unit {
        "ms" => n,
        "s" => n.saturating_mul(1000),
        "m" => n.saturating_mul(60_000),
        "h" => n.saturating_mul(3_600_000),
        "d" => n.saturating_mul(86_400_000),
        _ => return Err(bad()),
    };
    Ok(Duration::from_millis(ms))
}

impl NatsArgs {
    /// The settings, checked. `None` when `--nats` is not given.
    pub fn settings(&self) -> Result<Option<ClusterSettings>, ClusterError> {
        let Some(url) = &self.nats else { return Ok(None) };
        let s = ClusterSettings {
            nats_url: url.clone(),
            stream: self.stream.clone(),
            partitions: self.partitions,
            lease_ttl: parse_duration("lease-ttl", &self.lease_ttl)?,
            max_age: parse_duration("stream-max-age", &self.stream_max_age)?,
        };
        s.validate()?;
        Ok(Some(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_bad_ones_say_what_to_give() {
        assert_eq!(parse_duration("x", "500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("x", "10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("x", "24h").unwrap(), Duration::from_secs(86_400));
        for bad in ["", "10", "s", "10 parsecs", "-1s"] {
            let e = parse_duration("lease-ttl", bad).unwrap_err().to_string();
            assert!(e.contains("--lease-ttl") && e.contains("10s"), "{e}");
        }
    }
}
