//! The PostgreSQL backend of the logsieve store: [`StoreWriter`], [`StoreReader`] and
//! [`ReaderFactory`] over one PostgreSQL schema, with the same semantics and invariants as
//! the SQLite backend (see the `logsieve-store` crate doc: one transaction per commit, merge
//! flattening, counts that add up, range and bucket semantics, caps, retention, partition
//! fencing). Several writers (scale-out workers) may share one schema; the partition
//! protocol (epochs and applied sequences, checked first in each commit transaction under
//! the partition's row lock) keeps their effects exactly-once, provided each source is
//! written by the owner of its partition only.
//!
//! The API is synchronous: it uses the `postgres` crate, which runs its own small tokio
//! runtime per connection internally. Call it from plain threads or `spawn_blocking`, never
//! directly from async code.
//!
//! Invariants of this crate:
//! - Everything lives in [`PgConfig::schema`] (created when missing, migrated at open under
//!   an advisory lock, version in its `meta` table); nothing outside it is touched.
//! - Text columns use the "C" collation, so ties and orders are by bytes, as in SQLite.
//! - A lost or refused connection and server-side timeouts surface as
//!   [`StoreError::Unavailable`] (`is_transient()`); the writer and the readers reconnect on
//!   their next call, so a caller that retries with [`logsieve_store::backoff`] recovers
//!   after a server restart. A commit that failed this way wrote nothing, except when the
//!   connection was lost during the final `COMMIT` itself, whose outcome is then unknown: a
//!   partitioned batch retried after that is refused with [`StoreError::Fenced`]
//!   ("applied_seq is ...") if it had in fact committed.
//! - Writes are batched: one multi-row statement (`UNNEST` of arrays) per table and commit,
//!   not one statement per row.
#![deny(missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use logsieve_store::{ReaderFactory, StoreError, StoreReader};
use postgres::{Client, NoTls};

mod reader;
mod writer;

pub use reader::PgReader;
pub use writer::PgWriter;

/// Schema version this build reads and writes (`meta.schema_version` in the schema).
pub const PG_SCHEMA_VERSION: i64 = 1;

/// Where and how to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgConfig {
    /// libpq-style URL (`postgres://user@host:port/db?connect_timeout=...`) or key=value
    /// string, without the `schema` parameter.
    pub url: String,
    /// Schema holding the store: `[a-z_][a-z0-9_]*`, at most 63 bytes.
    pub schema: String,
    /// Idle reader connections kept for reuse.
    pub pool_size: usize,
    /// Limit on establishing a connection.
    pub connect_timeout: Duration,
    /// Server-side limit on one statement (`statement_timeout`); zero for none.
    pub statement_timeout: Duration,
}

/// Schema used when a URL names none.
pub const DEFAULT_SCHEMA: &str = "logsieve";

impl PgConfig {
    /// A config for `url` and `schema` with default pool size (8) and timeouts (connect 5 s,
    /// statement 30 s).
    pub fn new(url: impl Into<String>, schema: impl Into<String>) -> Self {
        PgConfig {
            url: url.into(),
            schema: schema.into(),
            pool_size: 8,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
        }
    }

    /// Parses `postgres://host[:port]/db?schema=x&...`: the `schema` query parameter (default
    /// [`DEFAULT_SCHEMA`]) is taken out, the rest is left to the driver.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(invalid(format!(
                "store URL {:?} does not start with postgres:// or postgresql://",
                redact(url)
            )));
        }
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, q),
            None => (url, ""),
        };
        let mut schema = None;
        let mut rest = Vec::new();
        for kv in query.split('&').filter(|kv| !kv.is_empty()) {
            match kv.split_once('=') {
                Some(("schema", v)) => schema = Some(v.to_string()),
                _ => rest.push(kv),
            }
        }
        let url = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let cfg = PgConfig::new(url, schema.unwrap_or_else(|| DEFAULT_SCHEMA.to_string()));
        check_schema_name(&cfg.schema)?;
        Ok(cfg)
    }
}

fn invalid(msg: String) -> StoreError {
    StoreError::Backend {
        what: "configuration".into(),
        source: msg.into(),
    }
}

fn check_schema_name(s: &str) -> Result<(), StoreError> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "schema name {s:?} must match [a-z_][a-z0-9_]* (at most 63 bytes)"
        )))
    }
}

/// The URL with any password replaced, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.split_once('@') {
        Some((a, h)) => (a, h),
        None => return url.to_string(),
    };
    let user = auth.split_once(':').map_or(auth, |(u, _)| u);
    format!("{scheme}://{user}:***@{host}")
}

/// Connection settings shared by the writer and the readers.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) pg: postgres::Config,
    /// "postgres://user@host:port/db schema s": where, for messages.
    pub(crate) place: String,
    pub(crate) schema: String,
}

impl Settings {
    fn new(cfg: &PgConfig) -> Result<Self, StoreError> {
        check_schema_name(&cfg.schema)?;
        let mut pg: postgres::Config = cfg.url.parse().map_err(|e| StoreError::Backend {
            what: format!("parsing the store URL {:?}", redact(&cfg.url)),
            source: Box::new(e),
        })?;
        pg.connect_timeout(cfg.connect_timeout);
        pg.keepalives(true);
        pg.keepalives_idle(Duration::from_secs(30));
        pg.application_name("logsieve");
        let mut options = format!("-c search_path={}", cfg.schema);
        if !cfg.statement_timeout.is_zero() {
            options.push_str(&format!(
                " -c statement_timeout={}",
                cfg.statement_timeout.as_millis().max(1)
            ));
        }
        pg.options(&options);
        let hosts: Vec<String> = pg
            .get_hosts()
            .iter()
            .map(|h| match h {
                postgres::config::Host::Tcp(h) => h.clone(),
                postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .collect();
        let ports: Vec<String> = pg.get_ports().iter().map(u16::to_string).collect();
        let place = format!(
            "postgres://{}@{}:{}/{} schema {}",
            pg.get_user().unwrap_or(""),
            hosts.join(","),
            ports.join(","),
            pg.get_dbname().unwrap_or(""),
            cfg.schema
        );
        Ok(Settings {
            pg,
            place,
            schema: cfg.schema.clone(),
        })
    }

    /// A new connection (search_path and statement_timeout set).
    pub(crate) fn connect(&self) -> Result<Client, StoreError> {
        self.pg.connect(NoTls).map_err(pg_err(self, "connecting"))
    }
}

/// Whether `e` means the server could not be reached or gave up for now (retry later).
fn is_unavailable(e: &postgres::Error) -> bool {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        // connection exceptions, operator intervention (shutdown, cannot connect now),
        // too many connections, statement timeout, serialization failure, deadlock.
        return code.starts_with("08")
            || code.starts_with("57P")
            || code == "53300"
            || code == "57014"
            || code == "40001"
            || code == "40P01";
    }
    if e.is_closed() {
        return true;
    }
    let msg = e.to_string();
    msg.starts_with("error communicating with the server")
        || msg.starts_with("error connecting to server")
        || msg.starts_with("timeout waiting for server")
}

/// A driver error whose message includes the server's message or the underlying cause (the
/// driver's own says only "db error" or "error connecting to server").
#[derive(Debug)]
pub struct PgError(pub postgres::Error);

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_db_error() {
            Some(db) => {
                write!(f, "{} {}: {}", db.severity(), db.code().code(), db.message())?;
                if let Some(d) = db.detail() {
                    write!(f, " ({d})")?;
                }
                Ok(())
            }
            None => {
                write!(f, "{}", self.0)?;
                match std::error::Error::source(&self.0) {
                    Some(cause) => write!(f, ": {cause}"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for PgError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Maps a driver error to [`StoreError::Unavailable`] or [`StoreError::Backend`], naming the
/// place and the operation.
pub(crate) fn pg_err(
    s: &Settings,
    what: impl Into<String>,
) -> impl FnOnce(postgres::Error) -> StoreError + '_ {
    let what = what.into();
    move |e| {
        let what = format!("{}: {what}", s.place);
        if is_unavailable(&e) {
            StoreError::Unavailable {
                what,
                source: Box::new(PgError(e)),
            }
        } else {
            StoreError::Backend {
                what,
                source: Box::new(PgError(e)),
            }
        }
    }
}

pub(crate) fn corrupt(s: &Settings, what: String) -> StoreError {
    StoreError::Corrupt {
        path: s.place.clone().into(),
        what,
    }
}

/// Reads a stored count (a bigint that must not be negative).
pub(crate) fn count_u64(s: &Settings, v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| corrupt(s, format!("{what} is negative ({v})")))
}

const SCHEMA_V1: &str = r#"
CREATE TABLE meta(key text COLLATE "C" PRIMARY KEY, value text NOT NULL);
CREATE TABLE sources(name text COLLATE "C" PRIMARY KEY, first_seen bigint NOT NULL, last_seen bigint NOT NULL);
CREATE TABLE templates(
    id bigserial PRIMARY KEY,
    source text COLLATE "C" NOT NULL,
    template_id text COLLATE "C" NOT NULL,
    template text COLLATE "C" NOT NULL,
    first_seen bigint,
    last_seen bigint,
    total bigint NOT NULL DEFAULT 0,
    n_examples integer NOT NULL DEFAULT 0,
    merged_into text COLLATE "C",
    UNIQUE(source, template_id)
);
CREATE INDEX templates_merged ON templates(source, merged_into);
CREATE INDEX templates_id ON templates(template_id);
CREATE TABLE examples(tid bigint NOT NULL, seq integer NOT NULL, line text COLLATE "C" NOT NULL,
    PRIMARY KEY(tid, seq));
CREATE TABLE var_values(tid bigint NOT NULL, position bigint NOT NULL, value text COLLATE "C" NOT NULL,
    count bigint NOT NULL, PRIMARY KEY(tid, position, value));
CREATE TABLE var_slots(tid bigint NOT NULL, position bigint NOT NULL, kept integer NOT NULL,
    other bigint NOT NULL, PRIMARY KEY(tid, position));
CREATE TABLE buckets(tid bigint NOT NULL, minute bigint NOT NULL, count bigint NOT NULL,
    PRIMARY KEY(minute, tid));
CREATE INDEX buckets_tid ON buckets(tid, minute);
CREATE TABLE merges(id bigserial PRIMARY KEY, source text COLLATE "C" NOT NULL, from_id text COLLATE "C" NOT NULL,
    to_id text COLLATE "C" NOT NULL, at_ms bigint NOT NULL);
CREATE INDEX merges_from ON merges(source, from_id);
CREATE TABLE alerts(id bigserial PRIMARY KEY, at_ms bigint NOT NULL, source text COLLATE "C" NOT NULL,
    rule_id text COLLATE "C" NOT NULL, title text COLLATE "C" NOT NULL, level text COLLATE "C" NOT NULL,
    line text NOT NULL, template_id text COLLATE "C", fields text NOT NULL, alert text NOT NULL);
CREATE INDEX alerts_at ON alerts(at_ms);
CREATE TABLE states(source text COLLATE "C" PRIMARY KEY, state bytea NOT NULL);
CREATE TABLE partitions(part bigint PRIMARY KEY, owner text, epoch bigint NOT NULL,
    applied_seq bigint NOT NULL, checkpoint_seq bigint NOT NULL, updated_ms bigint NOT NULL,
    stream text COLLATE "C" NOT NULL DEFAULT '');
CREATE TABLE partition_states(part bigint NOT NULL, source text COLLATE "C" NOT NULL, state bytea NOT NULL,
    PRIMARY KEY(part, source));
INSERT INTO meta(key, value) VALUES ('schema_version', '1');
"#;

/// Creates the schema and its tables when missing; checks the version otherwise. Runs in one
/// transaction under an advisory lock, so concurrent opens (several workers) are safe.
fn migrate(s: &Settings, client: &mut Client) -> Result<(), StoreError> {
    let e = |what: &str| pg_err(s, format!("checking the schema: {what}"));
    let mut tx = client.transaction().map_err(e("beginning"))?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('logsieve store ' || $1, 0))",
        &[&s.schema],
    )
    .map_err(e("taking the migration lock"))?;
    // Created only when missing: a user without CREATE on the database can still open a
    // schema made for it.
    let exists = tx
        .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&s.schema])
        .map_err(e("looking for the schema"))?
        .is_some();
    if !exists {
        tx.batch_execute(&format!("CREATE SCHEMA {}", s.schema))
            .map_err(e("creating the schema"))?;
    }
    let tables: Vec<String> = tx
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
            &[&s.schema],
        )
        .map_err(e("listing tables"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if tables.is_empty() {
        tx.batch_execute(&format!("SET LOCAL search_path TO {}; {SCHEMA_V1}", s.schema))
            .map_err(e("creating the tables"))?;
    } else if !tables.iter().any(|t| t == "meta") {
        return Err(StoreError::NotAStore {
            path: s.place.clone().into(),
            why: format!(
                "schema {} holds tables ({}) but no meta table",
                s.schema,
                tables.join(", ")
            ),
        });
    } else {
        let found: Option<String> = tx
            .query_opt(
                &format!("SELECT value FROM {}.meta WHERE key = 'schema_version'", s.schema),
                &[],
            )
            .map_err(e("reading the schema version"))?
            .map(|r| r.get(0));
        let found = found.unwrap_or_else(|| "(none)".into());
        if found.trim().parse::<i64>().ok() != Some(PG_SCHEMA_VERSION) {
            return Err(StoreError::SchemaVersion {
                path: s.place.clone().into(),
                found,
                supported: PG_SCHEMA_VERSION,
            });
        }
    }
    tx.commit().map_err(e("committing"))
}

/// Opens (creating the schema and tables when missing) the store of `cfg`: its writer and a
/// pool of readers. Fails with [`StoreError::Unavailable`] when the server cannot be reached,
/// [`StoreError::SchemaVersion`] or [`StoreError::NotAStore`] when the schema holds something
/// else.
pub fn open_postgres(cfg: &PgConfig) -> Result<(PgWriter, PgReaders), StoreError> {
    let settings = Arc::new(Settings::new(cfg)?);
    let mut client = settings.connect()?;
    migrate(&settings, &mut client)?;
    let readers = PgReaders {
        pool: Arc::new(Pool {
            settings: Arc::clone(&settings),
            idle: Mutex::new(Vec::new()),
            max_idle: cfg.pool_size,
        }),
    };
    Ok((PgWriter::new(settings, client), readers))
}

/// Idle reader connections.
pub(crate) struct Pool {
    pub(crate) settings: Arc<Settings>,
    idle: Mutex<Vec<Client>>,
    max_idle: usize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("place", &self.settings.place)
            .field("max_idle", &self.max_idle)
            .finish()
    }
}

impl Pool {
    /// An idle connection (`true`: reused, it may have died since) or a new one.
    pub(crate) fn get(&self) -> Result<(Client, bool), StoreError> {
        let reused = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match reused {
            Some(c) if !c.is_closed() => Ok((c, true)),
            _ => Ok((self.settings.connect()?, false)),
        }
    }

    /// Gives a healthy connection back (closed ones and those past the pool size are dropped).
    pub(crate) fn put(&self, c: Client) {
        if c.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.max_idle {
            idle.push(c);
        }
    }
}

/// Opens readers over pooled connections; cheap to clone.
#[derive(Debug, Clone)]
pub struct PgReaders {
    pool: Arc<Pool>,
}

impl PgReaders {
    /// A reader over a pooled connection (returned to the pool when the reader drops).
    pub fn reader(&self) -> Result<PgReader, StoreError> {
        PgReader::new(Arc::clone(&self.pool))
    }

    /// Where the store is ("postgres://user@host:port/db schema s").
    pub fn place(&self) -> &str {
        &self.pool.settings.place
    }
}

impl ReaderFactory for PgReaders {
    fn reader(&self) -> Result<Box<dyn StoreReader>, StoreError> {
        Ok(Box::new(PgReaders::reader(self)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_url_takes_the_schema_out() {
        let c = PgConfig::from_url("postgres://u:pw@h:5433/db?schema=ls_1&connect_timeout=3").unwrap();
        assert_eq!(c.schema, "ls_1");
        assert_eq!(c.url, "postgres://u:pw@h:5433/db?connect_timeout=3");
        let c = PgConfig::from_url("postgresql://h/db").unwrap();
        assert_eq!(
            (c.schema.as_str(), c.url.as_str()),
            (DEFAULT_SCHEMA, "postgresql://h/db")
        );
        let e = PgConfig::from_url("postgres://h/db?schema=Bad-Name").unwrap_err();
        assert!(e.to_string().contains("Bad-Name"), "{e}");
        let e = PgConfig::from_url("mysql://u:secret@h/db").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[test]
    fn settings_name_the_place_without_the_password() {
        let s = Settings::new(&PgConfig::new("postgres://bob:secret@db1:6000/logs", "s1")).unwrap();
        assert_eq!(s.place, "postgres://bob@db1:6000/logs schema s1");
    }
}
