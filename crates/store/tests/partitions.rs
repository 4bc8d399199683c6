//! Partition fencing, sequences and checkpoints on the SQLite store (the shared tests), and
//! the migration of a version 1 store.
mod shared;

use logsieve_store::{open_sqlite, StoreWriter};

shared::partitions::partition_tests!(shared::Sqlite);

/// A store written by schema version 1 (before partitions) opens, keeps its data and gains
/// the partition tables.
#[test]
fn version_1_store_is_migrated_in_place() {
    use logsieve_store::{AlertQuery, CommitBatch, StoreReader, TemplateQuery};
    use shared::common::{alert, delta};

    let dir = tempfile::tempdir().unwrap();
    {
        let (mut w, _) = open_sqlite(dir.path()).unwrap();
        w.commit(&CommitBatch {
            templates: vec![delta("s", 1, "a <*>", &[(1, 2)])],
            alerts: vec![alert(5, "s", "r", "t", "low")],
            states: vec![("s".into(), b"miner".to_vec())],
            ..Default::default()
        })
        .unwrap();
    }
    // Turn it into exactly what version 1 wrote: the same tables less the partition ones.
    let path = dir.path().join(logsieve_store::DB_FILE);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE partitions; DROP TABLE partition_states;
         UPDATE meta SET value = '1' WHERE key = 'schema_version';",
    )
    .unwrap();
    drop(conn);

    let (mut w, readers) = open_sqlite(dir.path()).unwrap();
    let r = readers.reader().unwrap();
    assert_eq!(r.templates(&TemplateQuery::default()).unwrap()[0].count, 2);
    assert_eq!(r.alerts(&AlertQuery::default()).unwrap().len(), 1);
    assert_eq!(w.load_states().unwrap(), vec![("s".into(), b"miner".to_vec())]);
    assert!(r.partitions().unwrap().is_empty());
    assert_eq!(w.claim_partition(0, "w", 1).unwrap().applied_seq, 0);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let v: String = conn
        .query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(v, logsieve_store::SCHEMA_VERSION.to_string());
}

#[test]
fn backoff_grows_is_capped_and_jitters() {
    use logsieve_store::backoff;
    use std::time::Duration;
    for attempt in 0..40 {
        let step = Duration::from_millis((50u64 << attempt.min(20)).min(5_000));
        let d = backoff(attempt);
        assert!(
            d >= step / 2 && d <= step,
            "attempt {attempt}: {d:?} outside [{:?}, {step:?}]",
            step / 2
        );
    }
    let draws: std::collections::HashSet<_> = (0..50).map(|_| backoff(10)).collect();
    assert!(draws.len() > 1, "no jitter: {draws:?}");
}

#[test]
fn only_unavailable_and_busy_errors_are_transient() {
    use logsieve_store::StoreError;
    let unavailable = StoreError::Unavailable {
        what: "connecting to 127.0.0.1:1".into(),
        source: "connection refused".into(),
    };
    assert!(unavailable.is_transient());
    assert!(unavailable.to_string().contains("127.0.0.1:1"));
    let fenced = StoreError::Fenced {
        partition: 1,
        epoch: 2,
        why: "stored epoch 3 > 2".into(),
    };
    assert!(!fenced.is_transient());
    assert!(!StoreError::InvalidBatch("x".into()).is_transient());
    // A real busy database: a second writer while the first holds the write lock.
    let dir = tempfile::tempdir().unwrap();
    let (_w, _) = open_sqlite(dir.path()).unwrap();
    let conn = rusqlite::Connection::open(dir.path().join(logsieve_store::DB_FILE)).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    let other = rusqlite::Connection::open(dir.path().join(logsieve_store::DB_FILE)).unwrap();
    other.busy_timeout(std::time::Duration::ZERO).unwrap();
    let source = other.execute_batch("BEGIN IMMEDIATE").unwrap_err();
    let busy = StoreError::Db {
        path: dir.path().into(),
        what: "beginning".into(),
        source,
    };
    assert!(busy.is_transient(), "{busy:?}");
}
