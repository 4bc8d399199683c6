//! Settings: flags over a TOML file over defaults.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An opened store: its writer and its reader factory.
pub type Store = (
    Box<dyn logsieve_store::StoreWriter>,
    std::sync::Arc<dyn logsieve_store::ReaderFactory>,
);

/// Why the settings could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("reading config {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The config file is not valid TOML for these settings.
    #[error("config {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong and where (line and column).
        message: String,
    },
    /// A setting has a value it cannot have.
    #[error("{0}")]
    Invalid(String),
}

/// How log lines of the service itself are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `logsieve serve` flags. Every setting can also be set in the `--config`
/// file under the same name with `_` for `-` (flags win).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// TOML file with any of the settings below (names as the flags, with
    /// `_` for `-`, e.g. `data_dir = "/var/lib/logsieve"`); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// HTTP address: ingestion, the query API, /metrics. [default: 127.0.0.1:7470]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Where the store lives (created if missing). With --store it holds
    /// only the lock file that keeps one service per data dir. [default: ./logsieve-data]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep the store in PostgreSQL instead of SQLite in --data-dir:
    /// postgres://[USER@]HOST[:PORT]/DB[?schema=NAME] (schema `logsieve` by
    /// default, created with its tables if missing). Never point two services
    /// at one schema. [default: SQLite in --data-dir]
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Accept syslog over TCP here (RFC 6587 octet counting or newline
    /// framing; RFC 3164 and 5424 messages). [default: off]
    #[arg(long, value_name = "ADDR")]
    pub syslog_tcp: Option<String>,
    /// Accept syslog over UDP here (one message per datagram). [default: off]
    #[arg(long, value_name = "ADDR")]
    pub syslog_udp: Option<String>,
    /// Accept OTLP logs over gRPC here. [default: off]
    #[arg(long, value_name = "ADDR")]
    pub otlp_grpc: Option<String>,
    /// Accept newline-delimited lines on this Unix socket (source `unix`
    /// unless --unix-source). [default: off]
    #[arg(long, value_name = "PATH")]
    pub unix_socket: Option<PathBuf>,
    /// The source name of lines read from --unix-socket. [default: unix]
    #[arg(long, value_name = "NAME")]
    pub unix_source: Option<String>,
    /// Sigma rule files or folders, run on every line. [default: none]
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub rules: Vec<PathBuf>,
    /// How rule fields map onto events: windows, linux, webserver, none or a
    /// YAML file. [default: none]
    #[arg(long, value_name = "NAME|FILE")]
    pub mapping: Option<String>,
    /// A file holding a bearer token every request but /healthz and /readyz
    /// must carry (`Authorization: Bearer TOKEN`). [default: no auth]
    #[arg(long, value_name = "FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// The Loki stream label (or NDJSON label) that names a line's source;
    /// then `service_name`, `app`, `job`, `source`. OTLP lines are named by
    /// `service.name`, syslog lines by their app-name. [default: service_name]
    #[arg(long, value_name = "NAME")]
    pub source_label: Option<String>,
    /// Templates kept per source: past it, the least recently seen eighth
    /// is evicted from the miner (counted in
    /// logsieve_templates_evicted_total; the store keeps their history, and
    /// a line of an evicted template later mines it again). [default: 10000]
    #[arg(long, value_name = "N")]
    pub max_templates: Option<usize>,
    /// Sources kept; lines of a new source past it are refused (HTTP 422,
    /// counted drops on syslog). [default: 1000]
    #[arg(long, value_name = "N")]
    pub max_sources: Option<usize>,
    /// How long per-minute counts and alerts are kept, e.g. 7d, 12h, 90m;
    /// 0 keeps everything. [default: 7d]
    #[arg(long, value_name = "AGE")]
    pub retention: Option<String>,
    /// Largest request body, before and after decompression. [default: 16777216]
    #[arg(long, value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Longest line; longer ones are cut and flagged `truncated` (still
    /// counted). Also the largest syslog frame. [default: 65536]
    #[arg(long, value_name = "BYTES")]
    pub max_line_bytes: Option<usize>,
    /// Lines accepted but not yet committed, at most; past it HTTP answers
    /// 429 with Retry-After, TCP stops reading, UDP drops (counted). [default: 1000000]
    #[arg(long, value_name = "LINES")]
    pub queue_lines: Option<usize>,
    /// Longest wait before a group commit of what was accepted. [default: 20]
    #[arg(long, value_name = "MS")]
    pub commit_interval_ms: Option<u64>,
    /// Format of the service's own log lines (on standard error). [default: text]
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
}

/// The settings in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// See [`ServeArgs::listen`].
    pub listen: String,
    /// See [`ServeArgs::data_dir`].
    pub data_dir: PathBuf,
    /// See [`ServeArgs::store`].
    pub store: Option<String>,
    /// See [`ServeArgs::syslog_tcp`].
    pub syslog_tcp: Option<String>,
    /// See [`ServeArgs::syslog_udp`].
    pub syslog_udp: Option<String>,
    /// See [`ServeArgs::otlp_grpc`].
    pub otlp_grpc: Option<String>,
    /// See [`ServeArgs::unix_socket`].
    pub unix_socket: Option<PathBuf>,
    /// See [`ServeArgs::unix_source`].
    pub unix_source: String,
    /// See [`ServeArgs::rules`].
    pub rules: Vec<PathBuf>,
    /// See [`ServeArgs::mapping`].
    pub mapping: Option<String>,
    /// See [`ServeArgs::auth_token_file`].
    pub auth_token_file: Option<PathBuf>,
    /// See [`ServeArgs::source_label`].
    pub source_label: String,
    /// See [`ServeArgs::max_templates`].
    pub max_templates: usize,
    /// See [`ServeArgs::max_sources`].
    pub max_sources: usize,
    /// See [`ServeArgs::retention`].
    pub retention: String,
    /// See [`ServeArgs::max_body_bytes`].
    pub max_body_bytes: usize,
    /// See [`ServeArgs::max_line_bytes`].
    pub max_line_bytes: usize,
    /// See [`ServeArgs::queue_lines`].
    pub queue_lines: usize,
    /// See [`ServeArgs::commit_interval_ms`].
    pub commit_interval_ms: u64,
    /// See [`ServeArgs::log_format`].
    pub log_format: LogFormat,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:7470".into(),
            data_dir: PathBuf::from("logsieve-data"),
            store: None,
            syslog_tcp: None,
            syslog_udp: None,
            otlp_grpc: None,
            unix_socket: None,
            unix_source: "unix".into(),
            rules: Vec::new(),
            mapping: None,
            auth_token_file: None,
            source_label: "service_name".into(),
            max_templates: 10_000,
            max_sources: 1_000,
            retention: "7d".into(),
            max_body_bytes: 16 << 20,
            max_line_bytes: 64 << 10,
            queue_lines: 1_000_000,
            commit_interval_ms: 20,
            log_format: LogFormat::Text,
        }
    }
}

impl Config {
    /// Defaults, then the `--config` file, then the flags.
    pub fn resolve(args: &ServeArgs) -> Result<Config, ConfigError> {
        let mut c = match &args.config {
            Some(p) => Config::from_file(p)?,
            None => Config::default(),
        };
        macro_rules! set {
            ($f:ident) => {
                if let Some(v) = &args.$f {
                    c.$f = v.clone();
                }
            };
            (opt $f:ident) => {
                if let Some(v) = &args.$f {
                    c.$f = Some(v.clone());
                }
            };
        }
        set!(listen);
        set!(data_dir);
        set!(opt store);
        set!(opt syslog_tcp);
        set!(opt syslog_udp);
        set!(opt otlp_grpc);
        set!(opt unix_socket);
        set!(unix_source);
        set!(opt mapping);
        set!(opt auth_token_file);
        set!(source_label);
        set!(max_templates);
        set!(max_sources);
        set!(retention);
        set!(max_body_bytes);
        set!(max_line_bytes);
        set!(queue_lines);
        set!(commit_interval_ms);
        set!(log_format);
        if !args.rules.is_empty() {
            c.rules = args.rules.clone();
        }
        c.check()?;
        Ok(c)
    }

    /// Reads a TOML config file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string().trim_end().replace('\n', " "),
        })
    }

    fn check(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.max_templates == 0 {
            return bad("max-templates must be at least 1".into());
        }
        if self.max_sources == 0 {
            return bad("max-sources must be at least 1".into());
        }
        if self.queue_lines == 0 {
            return bad("queue-lines must be at least 1".into());
        }
        if self.max_line_bytes < 16 {
            return bad("max-line-bytes must be at least 16".into());
        }
        if self.max_body_bytes < 1024 {
            return bad("max-body-bytes must be at least 1024".into());
        }
        if self.commit_interval_ms == 0 || self.commit_interval_ms > 10_000 {
            return bad("commit-interval-ms must be between 1 and 10000".into());
        }
        if self.source_label.is_empty() {
            return bad("source-label must not be empty".into());
        }
        self.retention()?;
        self.postgres()?;
        Ok(())
    }

    /// The PostgreSQL store settings of `store`, if one is set.
    pub fn postgres(&self) -> Result<Option<logsieve_store_postgres::PgConfig>, ConfigError> {
        self.store
            .as_deref()
            .map(|url| {
                logsieve_store_postgres::PgConfig::from_url(url)
                    .map_err(|e| ConfigError::Invalid(format!("store: {e}")))
            })
            .transpose()
    }

    /// Opens the store: PostgreSQL when `store` is set, else SQLite in `data_dir`.
    pub fn open_store(&self) -> Result<Store, crate::ServeError> {
        match self.postgres()? {
            Some(pg) => {
                let (w, r) = logsieve_store_postgres::open_postgres(&pg)?;
                Ok((Box::new(w), std::sync::Arc::new(r)))
            }
            None => {
                let (w, r) = logsieve_store::open_sqlite(&self.data_dir)?;
                Ok((Box::new(w), std::sync::Arc::new(r)))
            }
        }
    }

    /// The retention as a duration; `None` keeps everything.
    pub fn retention(&self) -> Result<Option<Duration>, ConfigError> {
        parse_age(&self.retention)
            .map_err(|m| ConfigError::Invalid(format!("retention {:?}: {m}", clip(&self.retention))))
    }
}

/// `7d`, `12h`, `90m`, `30s` or `0` (forever).
pub fn parse_age(s: &str) -> Result<Option<Duration>, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(None);
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| "expected a number and a unit: s, m, h or d (e.g. 7d), or 0".to_string())?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(format!("unknown unit {unit:?}: use s, m, h or d")),
    };
    if secs == 0 {
        return Ok(None);
    }
    Ok(Some(Duration::from_secs(secs)))
}

/// At most 200 characters of user input, for messages (the CLI's rule).
pub(crate) use logsieve_source::clip;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("7d").unwrap(), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_age("90m").unwrap(), Some(Duration::from_secs(5400)));
        assert_eq!(parse_age("0").unwrap(), None);
        assert!(parse_age("7").is_err());
        assert!(parse_age("7w").unwrap_err().contains("unknown unit"));
        assert!(parse_age("d").is_err());
    }

    #[test]
    fn flags_override_the_file_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "listen = \"127.0.0.1:1\"\nmax_templates = 5\n").unwrap();
        let args = ServeArgs {
            config: Some(p.clone()),
            max_templates: Some(7),
            ..Default::default()
        };
        let c = Config::resolve(&args).unwrap();
        assert_eq!(c.listen, "127.0.0.1:1");
        assert_eq!(c.max_templates, 7);
        std::fs::write(&p, "listen = \"x\"\nmax_templatez = 5\n").unwrap();
        let e = Config::resolve(&args).unwrap_err().to_string();
        assert!(e.contains("max_templatez") && e.contains("line 2"), "{e}");
    }

    #[test]
    fn bad_values_say_which() {
        let args = ServeArgs {
            queue_lines: Some(0),
            ..Default::default()
        };
        assert!(Config::resolve(&args)
            .unwrap_err()
            .to_string()
            .contains("queue-lines"));
    }
}
