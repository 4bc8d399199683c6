//! `logsieve serve --store postgres://...`: the real binary keeps its store in a fresh
//! schema of the PostgreSQL server of `LOGSIEVE_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), dropped at the end.

mod serve_common;

use serve_common::*;
use std::time::Duration;

fn server_url() -> String {
    std::env::var("LOGSIEVE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh schema, dropped when this goes out of scope.
struct Schema(String);

impl Schema {
    fn fresh() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Schema(format!("ls_serve_{}_{nanos}", std::process::id()))
    }
    fn store_url(&self) -> String {
        let base = server_url();
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}schema={}", self.0)
    }
    fn client(&self) -> postgres::Client {
        postgres::Client::connect(&server_url(), postgres::NoTls).unwrap()
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&server_url(), postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0));
        }
    }
}

#[test]
fn serve_ingests_and_queries_through_postgres_and_keeps_it_across_restarts() {
    let schema = Schema::fresh();
    let store = schema.store_url();
    let mut s = Server::start(&["--store", &store]);
    let mut sent = std::collections::HashMap::new();
    for (k, src) in ["api", "db", "api", "web"].iter().enumerate() {
        let l = lines(src, 120 + k * 31);
        assert_eq!(s.ingest(src, &l), 200);
        *sent.entry(*src).or_insert(0u64) += l.len() as u64;
    }
    for (src, n) in &sent {
        assert_eq!(s.counted(src), (*n, *n), "source {src}");
    }
    let (_, v) = s.get("/v1/sources");
    let names: Vec<&str> = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "db", "web"]);
    // The counts are in PostgreSQL, not in an SQLite file in the data dir.
    let total: i64 = schema
        .client()
        .query_one(
            &format!("SELECT SUM(total)::int8 FROM {}.templates", schema.0),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(total as u64, sent.values().sum::<u64>());
    assert!(!s.data.join(logsieve_store_file()).exists());

    // Stopped and started again (another data dir): the store and the miners' states are
    // there; new lines of known templates add to the same templates.
    let templates_before = s_templates(&s, "api");
    assert!(!templates_before.is_empty());
    s.signal("-TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(60)), Some(0));
    let s = Server::start(&["--store", &store]);
    assert_eq!(s.counted("api"), (sent["api"], sent["api"]));
    let more = lines("api", 40);
    assert_eq!(s.ingest("api", &more), 200);
    assert_eq!(s.counted("api"), (sent["api"] + 40, sent["api"] + 40));
    assert_eq!(s_templates(&s, "api"), templates_before);
}

fn logsieve_store_file() -> &'static str {
    "logsieve.db"
}

/// The template ids of `source`, sorted.
fn s_templates(s: &Server, source: &str) -> Vec<String> {
    let (code, v) = s.get(&format!("/v1/templates?source={source}&limit=1000"));
    assert_eq!(code, 200, "{v}");
    let mut ids: Vec<String> = v["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["template_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_bad_store_url_is_refused_at_start_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    for (url, says) in [
        ("mysql://u:secret@h/db", "postgres://"),
        ("postgres://127.0.0.1:5432/postgres?schema=Bad-Name", "Bad-Name"),
    ] {
        let out = std::process::Command::new(bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--store", url, "--data-dir"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{url} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{url}: {err}");
        assert!(!err.contains("secret"), "{err}");
    }
}
