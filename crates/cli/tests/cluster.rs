//! Scale-out against the real NATS server (JetStream) and the real
//! PostgreSQL: front ends publish, workers own partitions by lease, and the
//! store ends up with exactly the templates, ids and counts of a single
//! `logsieve serve` given the same lines — with a worker killed, PostgreSQL
//! restarted, or NATS restarted in the middle.
//!
//! Each test has its own nats-server (own port and store dir) and its own
//! PostgreSQL schema (or private server).

mod cluster_common;
mod serve_common;

use cluster_common::*;
use serve_common::Server;
use std::sync::Mutex;
use std::time::Duration;

/// The tests of this file run one at a time: each starts a cluster of
/// processes, and two at once on a small machine only measure contention.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a single `logsieve serve` (SQLite) makes of the same requests.
fn reference(reqs: &[(String, Vec<String>)]) -> Vec<(String, String, String, u64)> {
    let single = Server::start(&[]);
    send_all(&single, reqs);
    let total: u64 = reqs.iter().map(|(_, l)| l.len() as u64).sum();
    wait_for_lines(&single, total, Duration::from_secs(60), &[]);
    snapshot(&single)
}

fn total(reqs: &[(String, Vec<String>)]) -> u64 {
    reqs.iter().map(|(_, l)| l.len() as u64).sum()
}

fn assert_same(got: &[(String, String, String, u64)], want: &[(String, String, String, u64)]) {
    if got != want {
        let missing: Vec<_> = want.iter().filter(|w| !got.contains(w)).take(10).collect();
        let extra: Vec<_> = got.iter().filter(|g| !want.contains(g)).take(10).collect();
        panic!(
            "the cluster's templates differ from a single service's ({} vs {} templates)\nonly in the single service: {missing:#?}\nonly in the cluster: {extra:#?}",
            got.len(),
            want.len()
        );
    }
}

#[test]
fn three_workers_on_eight_partitions_equal_a_single_service_exactly() {
    let _serial = serial();
    let reqs = requests(20, 1_000_000, 2_500);
    let want = reference(&reqs);
    let nats = Nats::start();
    let pg = Pg::shared("exact");
    let stream = "EXACT";
    let workers: Vec<Worker> = (0..3)
        .map(|i| Worker::start(&format!("w{i}"), &nats.url(), stream, &pg.url(), &[]))
        .collect();
    let fe = front_end(&nats.url(), stream, &pg.url());
    send_all(&fe, &reqs);
    let refs: Vec<&Worker> = workers.iter().collect();
    wait_for_lines(&fe, total(&reqs), Duration::from_secs(300), &refs);
    assert_same(&snapshot(&fe), &want);
    // All eight partitions were owned, spread over the three workers.
    let owned: f64 = workers
        .iter()
        .map(|w| w.metric("logsieve_worker_partitions_owned"))
        .sum();
    assert_eq!(owned, 8.0);
    assert!(workers
        .iter()
        .all(|w| w.metric("logsieve_worker_partitions_owned") >= 1.0));
}

#[test]
fn a_worker_killed_in_the_middle_loses_nothing_and_counts_nothing_twice() {
    let _serial = serial();
    let reqs = requests(12, 240_000, 2_000);
    let want = reference(&reqs);
    let nats = Nats::start();
    let pg = Pg::shared("kill");
    let stream = "KILL";
    let mut workers: Vec<Worker> = (0..3)
        .map(|i| Worker::start(&format!("k{i}"), &nats.url(), stream, &pg.url(), &[]))
        .collect();
    let fe = front_end(&nats.url(), stream, &pg.url());
    let half = reqs.len() / 2;
    send_all(&fe, &reqs[..half]);
    // Wait until the victim has committed something, then kill it mid-stream.
    let t = std::time::Instant::now();
    while workers[0].metric("logsieve_lines_committed_total") == 0.0 && t.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let owned_by_victim = workers[0].metric("logsieve_worker_partitions_owned");
    assert!(owned_by_victim >= 1.0, "the victim owned no partition");
    workers[0].kill9();
    send_all(&fe, &reqs[half..]);
    let refs: Vec<&Worker> = workers.iter().skip(1).collect();
    wait_for_lines(&fe, total(&reqs), Duration::from_secs(300), &refs);
    assert_same(&snapshot(&fe), &want);
    let owned: f64 = workers[1..]
        .iter()
        .map(|w| w.metric("logsieve_worker_partitions_owned"))
        .sum();
    assert_eq!(owned, 8.0, "the survivors took every partition over");
}

#[test]
fn postgres_restarted_in_the_middle_pauses_workers_and_counts_stay_exact() {
    let _serial = serial();
    let reqs = requests(8, 160_000, 2_000);
    let want = reference(&reqs);
    let nats = Nats::start();
    let pg = Pg::private("pgrestart");
    let stream = "PGRESTART";
    let workers: Vec<Worker> = (0..2)
        .map(|i| Worker::start(&format!("p{i}"), &nats.url(), stream, &pg.url(), &[]))
        .collect();
    // The front end only publishes; its queries are read after the restart.
    let fe = front_end(&nats.url(), stream, &pg.url());
    let half = reqs.len() / 2;
    send_all(&fe, &reqs[..half]);
    pg.stop();
    // Front ends keep taking lines: they only need NATS.
    send_all(&fe, &reqs[half..]);
    std::thread::sleep(Duration::from_secs(3));
    pg.start_again();
    let refs: Vec<&Worker> = workers.iter().collect();
    wait_for_lines(&fe, total(&reqs), Duration::from_secs(300), &refs);
    assert_same(&snapshot(&fe), &want);
    let retried: f64 = workers
        .iter()
        .map(|w| w.metric("logsieve_worker_restarts_total"))
        .sum();
    assert!(retried >= 1.0, "no worker noticed the store going away");
}

#[test]
fn nats_restarted_in_the_middle_front_ends_push_back_and_counts_stay_exact() {
    let _serial = serial();
    let reqs = requests(8, 120_000, 2_000);
    let want = reference(&reqs);
    let mut nats = Nats::start();
    let pg = Pg::shared("natsrestart");
    let stream = "NATSRESTART";
    let workers: Vec<Worker> = (0..2)
        .map(|i| Worker::start(&format!("n{i}"), &nats.url(), stream, &pg.url(), &[]))
        .collect();
    let fe = front_end(&nats.url(), stream, &pg.url());
    let half = reqs.len() / 2;
    send_all(&fe, &reqs[..half]);
    nats.stop();
    // While NATS is down, the front end refuses with 429 rather than drop.
    let (source, lines) = &reqs[half];
    let code = fe.ingest(source, lines);
    assert_eq!(code, 429, "a front end without its broker must push back");
    let restarter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        nats.start_again();
        nats
    });
    // The client retries on 429 until acknowledged.
    let pushed_back = send_all(&fe, &reqs[half..]);
    let _nats = restarter.join().unwrap();
    assert!(pushed_back >= 1, "no 429 while NATS was down");
    let refs: Vec<&Worker> = workers.iter().collect();
    wait_for_lines(&fe, total(&reqs), Duration::from_secs(300), &refs);
    assert_same(&snapshot(&fe), &want);
}

/// `logsieve cluster status --json` of a cluster, checked to succeed.
fn status_json(nats: &str, stream: &str, store: &str) -> serde_json::Value {
    let out = std::process::Command::new(serve_common::bin())
        .args([
            "cluster", "status", "--nats", nats, "--stream", stream, "--store", store, "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn cluster_status_names_owners_lag_and_store_progress() {
    let _serial = serial();
    let nats = Nats::start();
    let pg = Pg::shared("status");
    let stream = "STATUS";
    let mut w = Worker::start("s0", &nats.url(), stream, &pg.url(), &["--partitions", "4"]);
    let fe = Server::start(&[
        "--nats",
        &nats.url(),
        "--stream",
        stream,
        "--partitions",
        "4",
        "--store",
        &pg.url(),
    ]);
    let reqs = requests(4, 4_000, 1_000);
    send_all(&fe, &reqs);
    wait_for_lines(&fe, 4_000, Duration::from_secs(60), &[&w]);
    let v = status_json(&nats.url(), stream, &pg.url());
    let parts = v["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 4);
    let fed: std::collections::BTreeSet<u32> = reqs
        .iter()
        .map(|(s, _)| logsieve_cluster::partition_of(s, 4))
        .collect();
    for p in parts {
        assert_eq!(p["owner"], "s0", "{p}");
        assert_eq!(p["lag"], 0, "{p}");
        let applied = p["store"]["applied_seq"].as_u64().unwrap();
        let n = p["partition"].as_u64().unwrap() as u32;
        assert_eq!(
            applied > 0,
            fed.contains(&n),
            "applied sequence of a partition with(out) lines: {p}"
        );
    }
    // A graceful stop releases every partition, in NATS and in the store.
    assert_eq!(w.stop(), Some(0));
    let v = status_json(&nats.url(), stream, &pg.url());
    for p in v["partitions"].as_array().unwrap() {
        assert!(
            p["owner"].is_null(),
            "lease still held after a graceful stop: {p}"
        );
        assert!(p["store"]["owner"].is_null(), "store still names an owner: {p}");
        assert_eq!(
            p["store"]["checkpoint_seq"], p["store"]["applied_seq"],
            "final checkpoint missing: {p}"
        );
    }
}

#[test]
fn a_process_with_another_partition_count_refuses_to_start() {
    let _serial = serial();
    let nats = Nats::start();
    let pg = Pg::shared("mismatch");
    let _w = Worker::start("m0", &nats.url(), "MISMATCH", &pg.url(), &["--partitions", "4"]);
    let out = std::process::Command::new(serve_common::bin())
        .args([
            "worker",
            "--nats",
            &nats.url(),
            "--stream",
            "MISMATCH",
            "--partitions",
            "8",
            "--store",
            &pg.url(),
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has 4 partitions") && err.contains("--partitions"),
        "{err}"
    );
}

/// Regression (review D3): a key reused for other lines must not drop them;
/// the same lines retried under the same key count once.
#[test]
fn an_idempotency_key_dedups_a_retry_but_not_other_lines() {
    let _serial = serial();
    let nats = Nats::start();
    let pg = Pg::shared("idem");
    let stream = "IDEM";
    let w = Worker::start("i0", &nats.url(), stream, &pg.url(), &[]);
    let fe = front_end(&nats.url(), stream, &pg.url());
    let post = |source: &str, body: &str| {
        fe.post_with(
            &format!("/v1/ingest?source={source}"),
            &[("Content-Type", "text/plain"), ("Idempotency-Key", "batch-1")],
            body.as_bytes(),
        )
        .0
    };
    assert_eq!(post("idem", "alpha 1\nalpha 2\n"), 200);
    assert_eq!(post("idem", "alpha 1\nalpha 2\n"), 200, "a retry is answered 2xx");
    assert_eq!(post("idem", "beta 1\nbeta 2\nbeta 3\n"), 200);
    assert_eq!(post("other", "gamma 1\n"), 200);
    wait_for_lines(&fe, 6, Duration::from_secs(60), &[&w]);
}

/// Regression (review D8): `cluster status` reads; it never creates a
/// stream or fixes a partition count.
#[test]
fn cluster_status_of_a_stream_that_does_not_exist_creates_nothing() {
    let _serial = serial();
    let nats = Nats::start();
    let status = |extra: &[&str]| {
        std::process::Command::new(serve_common::bin())
            .args(["cluster", "status", "--nats", &nats.url(), "--stream", "TYPO"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = status(&["--partitions", "3"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no logsieve cluster on stream TYPO"), "{err}");
    // Nothing was made: a worker can still start TYPO with 8 partitions.
    let pg = Pg::shared("typo");
    let _w = Worker::start("t0", &nats.url(), "TYPO", &pg.url(), &["--partitions", "8"]);
    let out = status(&["--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["partitions"].as_array().unwrap().len(), 8);
}

/// Regression (review D5, and D4's recreated stream): a worker of another
/// stream on the same store takes no partition, and says why.
#[test]
fn a_second_cluster_on_the_same_store_is_refused_with_a_reason() {
    let _serial = serial();
    let nats = Nats::start();
    let pg = Pg::shared("shared");
    let a = Worker::start("a0", &nats.url(), "SHAREA", &pg.url(), &[]);
    let fe_a = front_end(&nats.url(), "SHAREA", &pg.url());
    let reqs = requests(4, 2_000, 500);
    send_all(&fe_a, &reqs);
    wait_for_lines(&fe_a, 2_000, Duration::from_secs(60), &[&a]);
    // Every partition is bound to SHAREA once a worker of it claimed it.
    let b = Worker::start("b0", &nats.url(), "SHAREB", &pg.url(), &[]);
    let fe_b = front_end(&nats.url(), "SHAREB", &pg.url());
    send_all(&fe_b, &requests(4, 1_000, 500));
    let t = std::time::Instant::now();
    while !b.log_text().contains("was applied from stream") {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "worker b0 never said why it was refused:\n{}",
            b.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        stored_lines(&fe_a),
        2_000,
        "SHAREB's worker wrote into SHAREA's partitions"
    );
    assert_eq!(b.metric("logsieve_lines_committed_total"), 0.0);
}
