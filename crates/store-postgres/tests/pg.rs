//! The PostgreSQL store: the shared behavioural, partition and property tests of the SQLite
//! store (the same test bodies), and PostgreSQL-specific ones. Each test works in its own
//! fresh schema of database `postgres` on the server of `LOGSIEVE_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), dropped at the end.
#[path = "../../store/tests/shared/mod.rs"]
mod shared;

use std::sync::atomic::{AtomicU32, Ordering};

use logsieve_store::{CommitBatch, ReaderFactory, StoreError, StoreWriter};
use logsieve_store_postgres::{open_postgres, PgConfig};
use shared::common::delta;

fn server_url() -> String {
    std::env::var("LOGSIEVE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh schema name, unique across concurrent test processes.
fn fresh_schema() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "ls_test_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// One test's schema on the shared server; dropped with everything in it.
struct Pg {
    cfg: PgConfig,
}

impl Pg {
    fn with_url(url: &str) -> Self {
        Pg {
            cfg: PgConfig::new(url, fresh_schema()),
        }
    }
}

impl shared::Backend for Pg {
    fn fresh() -> Self {
        Pg::with_url(&server_url())
    }
    fn open(&self) -> (Box<dyn StoreWriter>, Box<dyn ReaderFactory>) {
        let (w, r) = open_postgres(&self.cfg).unwrap_or_else(|e| panic!("opening {}: {e}", self.cfg.url));
        (Box::new(w), Box::new(r))
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        // Best effort: a server already stopped by the test has nothing to drop.
        if let Ok(mut c) = postgres::Client::connect(&self.cfg.url, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.cfg.schema));
        }
    }
}

shared::behaviour::behaviour_tests!(Pg);
shared::partitions::partition_tests!(Pg);
shared::props::prop_tests!(Pg, 12);

fn sql(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap()
}

#[test]
fn schema_is_created_and_isolates_stores() {
    use shared::Backend;
    let a = Pg::fresh();
    let b = Pg::fresh();
    let (mut wa, ra) = a.open();
    let (_wb, rb) = b.open();
    wa.commit(&CommitBatch {
        templates: vec![delta("s", 1, "a", &[(1, 3)])],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(ra.reader().unwrap().lines(None, None, None).unwrap(), 3);
    assert_eq!(rb.reader().unwrap().lines(None, None, None).unwrap(), 0);
    let n: i64 = sql(&a.cfg.url)
        .query_one(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1",
            &[&a.cfg.schema],
        )
        .unwrap()
        .get(0);
    assert!(n >= 10, "{n} tables");
}

#[test]
fn other_schema_version_and_foreign_schema_are_refused() {
    use shared::Backend;
    let p = Pg::fresh();
    drop(p.open());
    sql(&p.cfg.url)
        .batch_execute(&format!(
            "UPDATE {}.meta SET value = '99' WHERE key = 'schema_version'",
            p.cfg.schema
        ))
        .unwrap();
    let err = open_postgres(&p.cfg).unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaVersion { ref found, .. } if found == "99"),
        "{err:?}"
    );
    assert!(err.to_string().contains(&p.cfg.schema), "{err}");

    let q = Pg::fresh();
    sql(&q.cfg.url)
        .batch_execute(&format!(
            "CREATE SCHEMA {0}; CREATE TABLE {0}.other(x int);",
            q.cfg.schema
        ))
        .unwrap();
    let err = open_postgres(&q.cfg).unwrap_err();
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err:?}");
    assert!(err.to_string().contains("other"), "{err}");
}

#[test]
fn unreachable_server_is_unavailable_and_transient() {
    // A port nothing listens on: bind one, then close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = PgConfig::new(format!("postgres://postgres@127.0.0.1:{port}/postgres"), "ls_x");
    let err = open_postgres(&cfg).unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    assert!(err.is_transient());
    let msg = err.to_string();
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    assert!(
        msg.to_lowercase().contains("refused"),
        "the cause is named: {msg}"
    );
}

#[test]
fn statement_timeout_is_unavailable() {
    use shared::Backend;
    let p = Pg::fresh();
    let (mut setup, readers) = p.open();
    setup.claim_partition(0, "w", 1).unwrap();
    // A writer whose statements may take 2 s at most (ample for a one-row commit).
    let mut short = p.cfg.clone();
    short.statement_timeout = std::time::Duration::from_secs(2);
    let (mut w, _) = open_postgres(&short).unwrap();
    // Another session holds the partition row: the commit waits on its lock until the timeout.
    let mut other = sql(&p.cfg.url);
    let mut tx = other.transaction().unwrap();
    tx.batch_execute(&format!(
        "SELECT * FROM {}.partitions WHERE part = 0 FOR UPDATE",
        p.cfg.schema
    ))
    .unwrap();
    let batch = CommitBatch {
        templates: vec![delta("s", 1, "a", &[(1, 1)])],
        partitions: vec![logsieve_store::PartitionAdvance {
            partition: 0,
            epoch: 1,
            from_seq: 0,
            to_seq: 1,
            checkpoint: None,
        }],
        ..Default::default()
    };
    let err = w.commit(&batch).unwrap_err();
    assert!(
        matches!(err, StoreError::Unavailable { .. }) && err.is_transient(),
        "{err:?}"
    );
    assert!(err.to_string().contains("statement timeout"), "{err}");
    assert_eq!(readers.reader().unwrap().lines(None, None, None).unwrap(), 0);
    tx.rollback().unwrap();
    // The writer reconnects and the same batch then goes through, once.
    w.commit(&batch).unwrap();
    assert_eq!(readers.reader().unwrap().lines(None, None, None).unwrap(), 1);
    assert_eq!(readers.reader().unwrap().partitions().unwrap()[0].applied_seq, 1);
}

#[test]
fn a_large_batch_is_written_in_one_commit() {
    use shared::Backend;
    let p = Pg::fresh();
    let (mut w, readers) = p.open();
    let templates: Vec<_> = (0..2000u64)
        .map(|t| {
            let mut d = delta(&format!("s{}", t % 7), t, "x <*>", &[(t as i64 % 30, 2), (40, 1)]);
            d.values = vec![(0, format!("v{}", t % 100), 1), (1, "same".into(), 2)];
            d.examples = vec![format!("x {t}")];
            d
        })
        .collect();
    // The same template twice in one batch adds up, as with one delta after the other.
    let mut batch = CommitBatch {
        templates,
        ..Default::default()
    };
    batch.templates.push(delta("s0", 0, "", &[(40, 5)]));
    w.commit(&batch).unwrap();
    let r = readers.reader().unwrap();
    assert_eq!(r.lines(None, None, None).unwrap(), 2000 * 3 + 5);
    let d = r.template(&shared::common::id(0), Some("s0")).unwrap();
    assert_eq!(d[0].row.count, 8);
    assert_eq!(d[0].row.template, "x <*>");
    assert_eq!(d[0].examples, vec!["x 0"]);
}

/// Runs `scripts/pg-private.sh` with `args`; panics with its output on failure.
fn private(args: &[&str]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg-private.sh");
    let out = std::process::Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg-private.sh {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private server, stopped when dropped.
struct Private {
    _dir: tempfile::TempDir,
    data: String,
    port: u16,
}

impl Private {
    fn start() -> Self {
        let dir = tempfile::Builder::new().prefix("ls-pg-").tempdir().unwrap();
        // The server runs as user postgres: it must reach the data directory.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let data = dir.path().join("data").display().to_string();
        private(&["start", &data, &port.to_string()]);
        Private {
            _dir: dir,
            data,
            port,
        }
    }
    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg-private.sh");
        let _ = std::process::Command::new("bash")
            .arg(script)
            .args(["stop", &self.data])
            .output();
    }
}

/// Commits with retries on transient errors (backoff), as a service's writer does.
fn commit_retrying(w: &mut dyn StoreWriter, batch: &CommitBatch, failures: &mut u32) {
    for attempt in 0..200 {
        match w.commit(batch) {
            Ok(_) => return,
            Err(e) if e.is_transient() => {
                *failures += 1;
                std::thread::sleep(logsieve_store::backoff(attempt.min(4)));
            }
            Err(e) => panic!("commit failed for good: {e}"),
        }
    }
    panic!("commit still failing after 200 attempts");
}

#[test]
fn server_restart_fails_commits_with_unavailable_then_recovers_with_exact_counts() {
    let server = Private::start();
    let pg = Pg::with_url(&server.url());
    let (mut w, readers) = shared::Backend::open(&pg);
    let r = readers.reader().unwrap();
    let batch = |i: i64| CommitBatch {
        templates: vec![delta("s", 1, "a <*>", &[(i, 1)])],
        ..Default::default()
    };
    for i in 0..10 {
        w.commit(&batch(i)).unwrap();
    }
    assert_eq!(r.lines(None, None, None).unwrap(), 10);

    private(&["stop", &server.data]);
    let err = w.commit(&batch(10)).unwrap_err();
    assert!(
        matches!(err, StoreError::Unavailable { .. }) && err.is_transient(),
        "{err:?}"
    );
    let err = r.lines(None, None, None).unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    // Still down: the writer's reconnect fails the same way, and nothing was written.
    let err = w.commit(&batch(10)).unwrap_err();
    assert!(err.is_transient(), "{err:?}");

    private(&["start", &server.data, &server.port.to_string()]);
    let mut failures = 0;
    for i in 10..20 {
        commit_retrying(&mut *w, &batch(i), &mut failures);
    }
    // A reader from the pool (its connection died with the server) recovers too.
    let r = readers.reader().unwrap();
    assert_eq!(r.lines(None, None, None).unwrap(), 20);
    assert_eq!(r.templates(&Default::default()).unwrap()[0].count, 20);

    // An immediate shutdown (a crash) in the middle of a run: committed batches survive,
    // failed ones are retried; the count stays exact.
    private(&["crash", &server.data]);
    assert!(w.commit(&batch(20)).unwrap_err().is_transient());
    private(&["start", &server.data, &server.port.to_string()]);
    for i in 20..25 {
        commit_retrying(&mut *w, &batch(i), &mut failures);
    }
    assert_eq!(readers.reader().unwrap().lines(None, None, None).unwrap(), 25);
}

#[test]
fn concurrent_writers_with_partitions_never_double_apply() {
    use shared::Backend;
    // Two workers on two connections hand one partition back and forth; each commits from
    // what its claim returned. Whatever the interleaving, lines == applied_seq.
    let p = Pg::fresh();
    let (mut setup, readers) = p.open();
    drop(setup.claim_partition(0, "init", 1).unwrap());
    let epoch = std::sync::Arc::new(AtomicU32::new(1));
    let handles: Vec<_> = (0..2)
        .map(|wi| {
            let (mut w, _) = p.open();
            let epoch = epoch.clone();
            std::thread::spawn(move || {
                let mut applied = 0u64;
                for _ in 0..15 {
                    let e = u64::from(epoch.fetch_add(1, Ordering::SeqCst) + 1);
                    let Ok(c) = w.claim_partition(0, &format!("w{wi}"), e) else {
                        continue;
                    };
                    let mut seq = c.applied_seq;
                    for _ in 0..3 {
                        let r = w.commit(&CommitBatch {
                            templates: vec![delta("s", 1, "a", &[(1, 2)])],
                            partitions: vec![logsieve_store::PartitionAdvance {
                                partition: 0,
                                epoch: e,
                                from_seq: seq,
                                to_seq: seq + 2,
                                checkpoint: None,
                            }],
                            ..Default::default()
                        });
                        match r {
                            Ok(_) => {
                                seq += 2;
                                applied += 2;
                            }
                            Err(StoreError::Fenced { .. }) => break,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
                applied
            })
        })
        .collect();
    let applied: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let r = readers.reader().unwrap();
    let stored = r.partitions().unwrap()[0].applied_seq;
    assert_eq!(stored, applied);
    assert_eq!(r.lines(None, None, None).unwrap(), applied);
    assert!(applied > 0);
}

#[test]
fn concurrent_opens_of_a_new_schema_all_succeed() {
    // Workers starting together race to create the schema: the advisory lock serialises them.
    let p = <Pg as shared::Backend>::fresh();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let cfg = p.cfg.clone();
            std::thread::spawn(move || open_postgres(&cfg).map(|_| ()))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let n: i64 = sql(&p.cfg.url)
        .query_one(&format!("SELECT COUNT(*) FROM {}.meta", p.cfg.schema), &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "one schema_version row");
}
