//! Behaviour of the SQLite store through its public traits, on real files: the shared
//! behavioural tests (`shared/behaviour.rs`, run on every backend) and SQLite-specific ones.
mod shared;

use logsieve_store::{open_sqlite, CommitBatch, StoreError, StoreReader, StoreWriter};
use shared::common::delta;

shared::behaviour::behaviour_tests!(shared::Sqlite);

#[test]
fn newer_schema_version_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    drop(open_sqlite(dir.path()).unwrap());
    let path = dir.path().join("logsieve.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'", [])
        .unwrap();
    drop(conn);
    let err = open_sqlite(dir.path()).unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaVersion { ref found, .. } if found == "99"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("schema version 99") && msg.contains(&path.display().to_string()),
        "{msg}"
    );
}

#[test]
fn non_sqlite_file_gives_a_clear_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logsieve.db");
    std::fs::write(&path, b"this is a plain text file, not a database\n".repeat(200)).unwrap();
    let err = open_sqlite(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains("not an SQLite database"),
        "{msg}"
    );
    // The file is left as it was.
    assert!(std::fs::read(&path).unwrap().starts_with(b"this is a plain"));
}

#[test]
fn foreign_sqlite_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logsieve.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE other(x); INSERT INTO other VALUES (1);")
        .unwrap();
    drop(conn);
    let err = open_sqlite(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err:?}");
    assert!(err.to_string().contains("application_id"), "{err}");
}

#[test]
fn store_dir_that_is_a_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").unwrap();
    let err = open_sqlite(&file).unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains(&file.display().to_string()));
}

/// The child half of `commit_survives_abort`: commits, then aborts without any cleanup.
#[test]
fn abort_child() {
    let Ok(dir) = std::env::var("LOGSIEVE_STORE_ABORT_DIR") else {
        return;
    };
    let (mut w, _) = open_sqlite(std::path::Path::new(&dir)).unwrap();
    for i in 0..10 {
        w.commit(&CommitBatch {
            templates: vec![delta("s", 1, "a", &[(i, 1)])],
            states: vec![("s".into(), vec![i as u8])],
            ..Default::default()
        })
        .unwrap();
    }
    std::process::abort();
}

#[test]
fn commit_survives_abort() {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "abort_child", "--nocapture", "--test-threads=1"])
        .env("LOGSIEVE_STORE_ABORT_DIR", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child must abort");
    let (mut w, readers) = open_sqlite(dir.path()).unwrap();
    assert_eq!(readers.reader().unwrap().lines(None, None, None).unwrap(), 10);
    assert_eq!(w.load_states().unwrap(), vec![("s".into(), vec![9])]);
}
