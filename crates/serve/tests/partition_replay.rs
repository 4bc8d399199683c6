//! A scale-out worker's processor (partition mode) against the real SQLite
//! store: a takeover in the middle — the first owner fenced out after some
//! commits, the next one loading the checkpoint and replaying — ends with
//! exactly the templates, ids and counts of one processor that read the
//! whole partition (the slow, obviously correct twin).

use logsieve_framing::LineFlags;
use logsieve_serve::metrics::Metrics;
use logsieve_serve::processor::{
    write_loop, AckError, FormatKey, Job, Part, PartitionCtl, Processor, ProcessorConfig,
};
use logsieve_store::{open_sqlite, ReaderFactory, StoreWriter, TemplateQuery};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Message `seq` of the partition: lines of two sources.
fn message(seq: u64) -> Vec<Part> {
    let users = [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
    ];
    let mut out = Vec::new();
    for source in ["api", "db"] {
        let mut p = Part::new(source.to_string(), FormatKey::Whole);
        // Words never seen before in every message: a miner that missed a
        // message ends with other templates (and merges at other times).
        let word = |n: u64| -> String {
            let mut n = n + 26 * 26;
            let mut w = String::new();
            while n > 0 {
                w.push((b'a' + (n % 26) as u8) as char);
                n /= 26;
            }
            w
        };
        for k in 0..5u64 {
            let line = format!(
                "task {} ran on node {} in pool {}",
                word(seq * 5 + k),
                word(seq * 3 + k),
                word(seq % 7)
            );
            p.batch.push(line.as_bytes(), LineFlags::default());
        }
        for i in 0..40u64 {
            let r = seq
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(i.wrapping_mul(1_442_695_040_888_963_407))
                >> 17;
            let line = match r % 5 {
                0 => format!(
                    "user {} logged in from 10.0.{}.{}",
                    users[(r >> 8) as usize % users.len()],
                    r % 256,
                    (r >> 3) % 256
                ),
                1 => format!("{source} request {} took {} ms", r >> 12, r % 700),
                2 => format!("Deleting block blk_{} file /data/{}/f", r >> 9, r % 31),
                3 if seq > 30 => format!("deploy {} rolled out to {} replicas", r % 90, r % 7),
                3 => format!("heartbeat ok seq {seq}"),
                _ => format!("cache miss for key k{} region r{}", r % 4000, r % 4),
            };
            p.batch.push(line.as_bytes(), LineFlags::default());
        }
        out.push(p);
    }
    out
}

/// Runs a processor owning partition 0 over messages `seqs`, committing
/// into `store`; waits for every ack (or its error) and returns how many
/// were acknowledged as committed.
fn run(
    store: Box<dyn StoreWriter>,
    ctl: PartitionCtl,
    states: Vec<(String, Vec<u8>)>,
    seqs: std::ops::RangeInclusive<u64>,
    stop: bool,
) -> (usize, std::thread::JoinHandle<()>, crossbeam_channel::Sender<Job>) {
    let metrics = Arc::new(Metrics::default());
    let processor = Processor::new(
        ProcessorConfig {
            max_templates: 10_000,
            max_sources: 100,
            max_line_bytes: 65_536,
            commit_interval: Duration::from_millis(5),
            partition: Some(ctl),
        },
        states,
        None,
        metrics.clone(),
    );
    let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded();
    let (commit_tx, commit_rx) = crossbeam_channel::bounded(1);
    let p = std::thread::spawn(move || processor.run(jobs_rx, commit_tx));
    let w = std::thread::spawn(move || write_loop(commit_rx, store, metrics, None));
    let mut acks = Vec::new();
    for seq in seqs {
        let (tx, rx) = oneshot::channel();
        jobs_tx
            .send(Job::Ingest {
                parts: message(seq),
                protocol: "http",
                received: Instant::now(),
                permit: None,
                ack: Some(tx),
                at_ms: Some(1_700_000_000_000 + seq as i64 * 1000),
                seq: Some(seq),
            })
            .unwrap();
        acks.push(rx);
        // Spread the messages over several group commits.
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut ok = 0;
    for rx in acks {
        match rx.blocking_recv() {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(AckError::Unavailable(_))) | Err(_) => {}
            Ok(Err(e)) => panic!("refused: {e:?}"),
        }
    }
    if stop {
        jobs_tx.send(Job::Stop).unwrap();
        p.join().unwrap();
        drop(jobs_tx);
        w.join().unwrap();
        return (ok, std::thread::spawn(|| {}), crossbeam_channel::unbounded().0);
    }
    let _ = w;
    (ok, p, jobs_tx)
}

fn snapshot(r: &dyn ReaderFactory) -> Vec<(String, String, String, u64)> {
    let mut v: Vec<_> = r
        .reader()
        .unwrap()
        .templates(&TemplateQuery::default())
        .unwrap()
        .into_iter()
        .map(|t| (t.source, t.template_id, t.template, t.count))
        .collect();
    v.sort();
    v
}

/// Per template and variable position: the occurrences counted (kept
/// values plus `other`), and the kept values themselves where nothing
/// overflowed the cap. (Which 64 values are kept past the cap depends on
/// when values are flushed, in one process too.)
type Values = Vec<(String, String, Vec<(u32, u64, Option<Vec<(String, u64)>>)>)>;

fn values(r: &dyn ReaderFactory) -> Values {
    let reader = r.reader().unwrap();
    let mut out = Vec::new();
    for t in reader.templates(&TemplateQuery::default()).unwrap() {
        for d in reader.template(&t.template_id, Some(&t.source)).unwrap() {
            let mut v: Vec<_> = d
                .values
                .into_iter()
                .map(|v| {
                    let n = v.top.iter().map(|(_, c)| c).sum::<u64>() + v.other;
                    (v.position, n, (v.other == 0).then_some(v.top))
                })
                .collect();
            v.sort();
            out.push((t.source.clone(), t.template_id.clone(), v));
        }
    }
    out.sort();
    out
}

fn ctl(epoch: u64, applied: u64, checkpoint: u64) -> PartitionCtl {
    PartitionCtl {
        partition: 0,
        epoch,
        applied_seq: applied,
        checkpoint_seq: checkpoint,
        checkpoint_every: Duration::from_millis(20),
    }
}

/// An owner that never checkpoints before it stops.
fn ctl_no_checkpoint(epoch: u64, applied: u64, checkpoint: u64) -> PartitionCtl {
    PartitionCtl {
        checkpoint_every: Duration::from_secs(3600),
        ..ctl(epoch, applied, checkpoint)
    }
}

#[test]
fn takeover_after_a_fenced_owner_equals_one_owner_reading_everything() {
    takeover(false);
}

/// Regression (review D1): a checkpoint taken while jobs kept arriving was
/// labelled with the sequence of the commit that carried it, later than
/// the states it held; the next owner then never learned the messages in
/// between.
#[test]
fn checkpoint_taken_while_messages_keep_arriving_covers_exactly_its_sequence() {
    for _ in 0..5 {
        takeover(true);
    }
}

/// Owner A0 commits 1..=25 and stops; A takes 26..=50 (checkpointing every
/// 20 ms when `a_checkpoints`) and is fenced out by B, which replays from
/// the stored checkpoint and reads to the end. B's store must equal one
/// owner's that read everything.
fn takeover(a_checkpoints: bool) {
    const N: u64 = 80;
    // The twin: one owner, every message.
    let one = tempfile::tempdir().unwrap();
    let (mut w1, r1) = open_sqlite(one.path()).unwrap();
    let c = w1.claim_partition(0, "one", 1).unwrap();
    assert_eq!((c.applied_seq, c.checkpoint_seq), (0, 0));
    let (ok, ..) = run(Box::new(w1), ctl(1, 0, 0), Vec::new(), 1..=N, true);
    assert_eq!(ok as u64, N);
    let want = snapshot(&r1);
    let want_values = values(&r1);
    assert!(
        want_values
            .iter()
            .any(|(_, _, v)| v.iter().any(|p| p.2.is_some())),
        "the twin kept variable values"
    );
    assert_eq!(want.iter().map(|t| t.3).sum::<u64>(), N * 90);

    // Owner A0 takes messages 1..=25 and stops gracefully (checkpoint at
    // 25); owner A takes 26..=50 and never checkpoints; then B claims with
    // a higher epoch while A is still running (A's later commits are
    // fenced): B must learn 26..=50 again without counting them.
    let two = tempfile::tempdir().unwrap();
    let (mut wa0, r2) = open_sqlite(two.path()).unwrap();
    wa0.claim_partition(0, "a0", 1).unwrap();
    let (ok_a0, ..) = run(Box::new(wa0), ctl(1, 0, 0), Vec::new(), 1..=25, true);
    assert_eq!(ok_a0, 25);
    let (mut wa, _) = open_sqlite(two.path()).unwrap();
    let c = wa.claim_partition(0, "a", 2).unwrap();
    assert_eq!(
        (c.applied_seq, c.checkpoint_seq),
        (25, 25),
        "a graceful stop checkpoints what it applied"
    );
    let (ok_a, a_thread, a_jobs) = run(
        Box::new(wa),
        if a_checkpoints {
            ctl(2, 25, 25)
        } else {
            ctl_no_checkpoint(2, 25, 25)
        },
        c.states,
        26..=50,
        false,
    );
    assert_eq!(ok_a, 25);
    let (mut wb, _) = open_sqlite(two.path()).unwrap();
    let claim = wb.claim_partition(0, "b", 3).unwrap();
    assert_eq!(claim.applied_seq, 50);
    if !a_checkpoints {
        assert_eq!(claim.checkpoint_seq, 25);
    }
    // The checkpoint's miners hold exactly the lines of messages up to its
    // sequence: 45 lines per source per message.
    for (source, state) in &claim.states {
        let miner = logsieve_template::Miner::load(&state[..]).unwrap();
        let learned: u64 = miner.summaries().iter().map(|t| t.count).sum();
        assert_eq!(
            learned,
            claim.checkpoint_seq * 45,
            "source {source}: the checkpoint at sequence {} holds {learned} lines",
            claim.checkpoint_seq
        );
    }
    // A goes on for a while (its commits are refused), then stops.
    let (tx, rx) = oneshot::channel();
    a_jobs
        .send(Job::Ingest {
            parts: message(51),
            protocol: "http",
            received: Instant::now(),
            permit: None,
            ack: Some(tx),
            at_ms: Some(0),
            seq: Some(51),
        })
        .unwrap();
    assert!(
        matches!(rx.blocking_recv(), Ok(Err(AckError::Unavailable(m))) if m.contains("epoch") || m.contains("fenced") || m.contains("Fenced")),
        "a fenced owner's commit must fail"
    );
    a_jobs.send(Job::Stop).unwrap();
    a_thread.join().unwrap();
    // B replays from the checkpoint: messages up to 50 rebuild its miners
    // without effects, the rest count.
    let from = claim.checkpoint_seq + 1;
    let (ok_b, ..) = run(
        Box::new(wb),
        ctl(3, claim.applied_seq, claim.checkpoint_seq),
        claim.states,
        from..=N,
        true,
    );
    assert_eq!(ok_b as u64, N - from + 1);
    let got = snapshot(&r2);
    assert_eq!(got, want, "takeover must equal one owner reading everything");
    assert_eq!(
        values(&r2),
        want_values,
        "variable values must survive the takeover exactly"
    );
}
