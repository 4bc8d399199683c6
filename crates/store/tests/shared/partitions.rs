//! Partition fencing, sequences and checkpoints (scale-out workers), for any backend.

use logsieve_store::{
    AlertQuery, CommitBatch, PartitionAdvance, PartitionClaim, StoreError, StoreReader, StoreWriter,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::common::{alert, delta, merge};
use super::Backend;

/// Instantiates every test of this module for backend type `$b`.
macro_rules! partition_tests {
    ($b:ty) => {
        $crate::shared::partitions::partition_tests!(@each $b;
            claim_starts_at_zero_and_needs_a_larger_epoch,
            advance_applies_effects_and_sequence_together,
            stale_epoch_is_fenced_and_writes_nothing,
            wrong_from_seq_is_fenced_and_writes_nothing,
            unknown_partition_is_fenced,
            one_fenced_partition_rolls_back_the_whole_batch,
            checkpoint_replaces_the_previous_one,
            release_clears_the_owner_only_for_its_epoch,
            invalid_partition_advances_are_refused,
            interleaved_owners_never_double_apply,
            a_partition_is_bound_to_the_stream_it_was_read_from,
        );
    };
    (@each $b:ty; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::shared::partitions::$name::<$b>()
            }
        )*
    };
}
pub(crate) use partition_tests;

fn advance(partition: u32, epoch: u64, from_seq: u64, to_seq: u64) -> PartitionAdvance {
    PartitionAdvance {
        partition,
        epoch,
        from_seq,
        to_seq,
        checkpoint: None,
    }
}

/// A batch of `lines` lines of template 1 in `source` that advances `a`.
fn lines_batch(source: &str, lines: u64, a: PartitionAdvance) -> CommitBatch {
    CommitBatch {
        templates: vec![delta(source, 1, "t <*>", &[(1, lines)])],
        partitions: vec![a],
        ..Default::default()
    }
}

fn fenced(r: Result<impl std::fmt::Debug, StoreError>) -> (u32, u64, String) {
    match r {
        Err(StoreError::Fenced {
            partition,
            epoch,
            why,
        }) => (partition, epoch, why),
        other => panic!("expected Fenced, got {other:?}"),
    }
}

fn info(r: &dyn StoreReader, partition: u32) -> logsieve_store::PartitionInfo {
    r.partitions()
        .unwrap()
        .into_iter()
        .find(|p| p.partition == partition)
        .unwrap_or_else(|| panic!("partition {partition} not listed"))
}

pub fn claim_starts_at_zero_and_needs_a_larger_epoch<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    let r = readers.reader().unwrap();
    assert!(r.partitions().unwrap().is_empty());
    // Epoch 0 is the stored epoch of a new partition: not larger.
    let (p, e, why) = fenced(w.claim_partition(3, "w-a", 0));
    assert_eq!((p, e), (3, 0));
    assert!(why.contains("stored epoch 0"), "{why}");
    assert!(
        r.partitions().unwrap().is_empty(),
        "a refused claim creates nothing"
    );

    let c = w.claim_partition(3, "w-a", 5).unwrap();
    assert_eq!(c, PartitionClaim::default());
    w.claim_partition(1, "w-b", 1).unwrap();
    let (_, _, why) = fenced(w.claim_partition(3, "w-b", 5));
    assert!(why.contains("stored epoch 5"), "{why}");
    let (_, _, why) = fenced(w.claim_partition(3, "w-b", 4));
    assert!(why.contains("stored epoch 5 > 4"), "{why}");

    let list = r.partitions().unwrap();
    assert_eq!(
        list.iter()
            .map(|p| (
                p.partition,
                p.owner.clone(),
                p.epoch,
                p.applied_seq,
                p.checkpoint_seq
            ))
            .collect::<Vec<_>>(),
        vec![(1, Some("w-b".into()), 1, 0, 0), (3, Some("w-a".into()), 5, 0, 0)]
    );
    assert!(list.iter().all(|p| p.updated_ms > 0 && p.checkpoint_sources == 0));
    // A larger epoch takes over; the applied sequence stays.
    w.commit(&lines_batch("s", 4, advance(3, 5, 0, 4))).unwrap();
    let c = w.claim_partition(3, "w-b", 9).unwrap();
    assert_eq!((c.applied_seq, c.checkpoint_seq), (4, 0));
    let p = info(&*r, 3);
    assert_eq!((p.owner.as_deref(), p.epoch, p.applied_seq), (Some("w-b"), 9, 4));
}

pub fn advance_applies_effects_and_sequence_together<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    w.claim_partition(0, "w", 1).unwrap();
    w.commit(&lines_batch("s", 3, advance(0, 1, 0, 10))).unwrap();
    w.commit(&lines_batch("s", 2, advance(0, 1, 10, 15))).unwrap();
    // A batch with only progress (e.g. messages that had no effect) is fine too.
    let only = CommitBatch {
        partitions: vec![advance(0, 1, 15, 16)],
        ..Default::default()
    };
    assert!(!only.is_empty());
    w.commit(&only).unwrap();
    let r = readers.reader().unwrap();
    assert_eq!(r.lines(Some("s"), None, None).unwrap(), 5);
    assert_eq!(info(&*r, 0).applied_seq, 16);
    // Reopening keeps the progress.
    drop((w, r, readers));
    let (mut w, readers) = b.open();
    assert_eq!(info(&*readers.reader().unwrap(), 0).applied_seq, 16);
    let c = w.claim_partition(0, "w2", 2).unwrap();
    assert_eq!(c.applied_seq, 16);
}

pub fn stale_epoch_is_fenced_and_writes_nothing<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    w.claim_partition(7, "old", 1).unwrap();
    w.commit(&lines_batch("s", 5, advance(7, 1, 0, 5))).unwrap();
    let c = w.claim_partition(7, "new", 2).unwrap();
    assert_eq!(c.applied_seq, 5);
    // The old owner still believes it owns the partition: everything of its batch is refused.
    let mut batch = lines_batch("s", 3, advance(7, 1, 5, 8));
    batch.templates.push(delta("s", 2, "u <*>", &[(2, 1)]));
    batch.merges = vec![merge("s", 2, 1, 0)];
    batch.alerts = vec![alert(1000, "s", "r", "t", "high")];
    batch.states = vec![("s".into(), vec![1])];
    batch.partitions[0].checkpoint = Some(vec![("s".into(), vec![2])]);
    let (p, e, why) = fenced(w.commit(&batch));
    assert_eq!((p, e), (7, 1));
    assert!(why.contains("stored epoch 2 > 1"), "{why}");
    let r = readers.reader().unwrap();
    assert_eq!(r.lines(None, None, None).unwrap(), 5);
    assert_eq!(r.templates(&Default::default()).unwrap().len(), 1);
    assert!(r.template(&super::common::id(2), None).unwrap().is_empty());
    assert!(r.alerts(&AlertQuery::default()).unwrap().is_empty());
    assert!(w.load_states().unwrap().is_empty());
    let p = info(&*r, 7);
    assert_eq!(
        (
            p.owner.as_deref(),
            p.epoch,
            p.applied_seq,
            p.checkpoint_seq,
            p.checkpoint_sources
        ),
        (Some("new"), 2, 5, 0, 0)
    );
    // The new owner continues from 5.
    w.commit(&lines_batch("s", 3, advance(7, 2, 5, 8))).unwrap();
    assert_eq!(r.lines(None, None, None).unwrap(), 8);
    assert_eq!(info(&*r, 7).applied_seq, 8);
}

pub fn wrong_from_seq_is_fenced_and_writes_nothing<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    w.claim_partition(0, "w", 1).unwrap();
    w.commit(&lines_batch("s", 5, advance(0, 1, 0, 5))).unwrap();
    // The same messages again (a redelivery the worker did not discard).
    let (_, _, why) = fenced(w.commit(&lines_batch("s", 5, advance(0, 1, 0, 5))));
    assert!(why.contains("applied_seq is 5, batch continues from 0"), "{why}");
    // A gap is refused too.
    let (_, _, why) = fenced(w.commit(&lines_batch("s", 1, advance(0, 1, 6, 7))));
    assert!(why.contains("applied_seq is 5, batch continues from 6"), "{why}");
    let r = readers.reader().unwrap();
    assert_eq!(r.lines(None, None, None).unwrap(), 5);
    assert_eq!(info(&*r, 0).applied_seq, 5);
}

pub fn unknown_partition_is_fenced<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    let (p, _, why) = fenced(w.commit(&lines_batch("s", 1, advance(9, 1, 0, 1))));
    assert_eq!(p, 9);
    assert!(why.contains("unknown partition"), "{why}");
    let r = readers.reader().unwrap();
    assert_eq!(r.lines(None, None, None).unwrap(), 0);
    assert!(r.partitions().unwrap().is_empty());
}

pub fn one_fenced_partition_rolls_back_the_whole_batch<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    w.claim_partition(0, "w", 1).unwrap();
    w.claim_partition(1, "w", 1).unwrap();
    w.claim_partition(1, "other", 2).unwrap();
    let mut batch = lines_batch("s", 4, advance(0, 1, 0, 4));
    batch.partitions.push(advance(1, 1, 0, 2));
    let (p, _, _) = fenced(w.commit(&batch));
    assert_eq!(p, 1);
    let r = readers.reader().unwrap();
    assert_eq!(r.lines(None, None, None).unwrap(), 0);
    assert_eq!(
        r.partitions()
            .unwrap()
            .iter()
            .map(|p| p.applied_seq)
            .collect::<Vec<_>>(),
        vec![0, 0]
    );
    batch.partitions[1].epoch = 2;
    w.commit(&batch).unwrap();
    assert_eq!(r.lines(None, None, None).unwrap(), 4);
    assert_eq!(
        r.partitions()
            .unwrap()
            .iter()
            .map(|p| p.applied_seq)
            .collect::<Vec<_>>(),
        vec![4, 2]
    );
}

pub fn checkpoint_replaces_the_previous_one<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    w.claim_partition(2, "w", 1).unwrap();
    let mut a = advance(2, 1, 0, 10);
    a.checkpoint = Some(vec![("b".into(), vec![2, 2]), ("a".into(), vec![1])]);
    w.commit(&lines_batch("a", 1, a)).unwrap();
    let c = w.claim_partition(2, "w", 2).unwrap();
    assert_eq!(
        c,
        PartitionClaim {
            applied_seq: 10,
            checkpoint_seq: 10,
            states: vec![("a".into(), vec![1]), ("b".into(), vec![2, 2])],
        }
    );
    // Checkpoints are apart from the single-node states.
    assert!(w.load_states().unwrap().is_empty());
    // Progress without a checkpoint keeps the old one.
    w.commit(&lines_batch("a", 1, advance(2, 2, 10, 12))).unwrap();
    let r = readers.reader().unwrap();
    let p = info(&*r, 2);
    assert_eq!(
        (p.applied_seq, p.checkpoint_seq, p.checkpoint_sources),
        (12, 10, 2)
    );
    // A new checkpoint replaces all of the old one (source b is gone).
    let mut a = advance(2, 2, 12, 20);
    a.checkpoint = Some(vec![("c".into(), vec![3])]);
    w.commit(&CommitBatch {
        partitions: vec![a],
        ..Default::default()
    })
    .unwrap();
    let c = w.claim_partition(2, "w", 3).unwrap();
    assert_eq!((c.applied_seq, c.checkpoint_seq), (20, 20));
    assert_eq!(c.states, vec![("c".to_string(), vec![3u8])]);
    // Another partition's checkpoint is its own.
    w.claim_partition(5, "w", 1).unwrap();
    let mut a = advance(5, 1, 0, 0);
    a.checkpoint = Some(vec![("z".into(), vec![])]);
    w.commit(&CommitBatch {
        partitions: vec![a],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(info(&*r, 2).checkpoint_sources, 1);
    let c = w.claim_partition(5, "w", 2).unwrap();
    assert_eq!(c.states, vec![("z".to_string(), vec![])]);
    // An empty checkpoint clears it.
    let mut a = advance(5, 2, 0, 3);
    a.checkpoint = Some(Vec::new());
    w.commit(&CommitBatch {
        partitions: vec![a],
        ..Default::default()
    })
    .unwrap();
    let c = w.claim_partition(5, "w", 3).unwrap();
    assert_eq!((c.applied_seq, c.checkpoint_seq, c.states.len()), (3, 3, 0));
}

pub fn release_clears_the_owner_only_for_its_epoch<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    let r = readers.reader().unwrap();
    // Releasing an unknown partition is a no-op.
    w.release_partition(4, 1).unwrap();
    assert!(r.partitions().unwrap().is_empty());
    w.claim_partition(4, "a", 1).unwrap();
    w.claim_partition(4, "b", 2).unwrap();
    // The old owner's release does not touch the new owner.
    w.release_partition(4, 1).unwrap();
    assert_eq!(info(&*r, 4).owner.as_deref(), Some("b"));
    w.commit(&lines_batch("s", 1, advance(4, 2, 0, 1))).unwrap();
    w.release_partition(4, 2).unwrap();
    let p = info(&*r, 4);
    assert_eq!((p.owner, p.epoch, p.applied_seq), (None, 2, 1));
    // The next owner still needs a larger epoch and resumes from the stored sequence.
    fenced(w.claim_partition(4, "c", 2));
    let c = w.claim_partition(4, "c", 3).unwrap();
    assert_eq!(c.applied_seq, 1);
    assert_eq!(info(&*r, 4).owner.as_deref(), Some("c"));
}

pub fn invalid_partition_advances_are_refused<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    w.claim_partition(0, "w", 1).unwrap();
    let refused = |w: &mut Box<dyn StoreWriter>, parts: Vec<PartitionAdvance>, needle: &str| {
        let err = w
            .commit(&CommitBatch {
                templates: vec![delta("s", 1, "t", &[(1, 1)])],
                partitions: parts,
                ..Default::default()
            })
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidBatch(_)), "{err:?}");
        assert!(err.to_string().contains(needle), "{err}");
    };
    refused(
        &mut w,
        vec![advance(0, 1, 0, 1), advance(0, 1, 1, 2)],
        "partition 0 appears twice",
    );
    refused(&mut w, vec![advance(0, 1, 5, 4)], "to_seq 4 is before from_seq 5");
    let mut a = advance(0, 1, 0, 1);
    a.checkpoint = Some(vec![("".into(), vec![1])]);
    refused(&mut w, vec![a], "checkpoint[0] source is empty");
    let r = readers.reader().unwrap();
    assert_eq!(r.lines(None, None, None).unwrap(), 0);
    assert_eq!(info(&*r, 0).applied_seq, 0);
}

#[derive(Debug, Clone)]
enum Op {
    /// Worker claims with the next epoch (or, when `stale`, the current stored one).
    Claim { worker: usize, stale: bool },
    /// Worker commits `k` messages (one line each) from its cursor, maybe with a checkpoint.
    Process { worker: usize, k: u64, checkpoint: bool },
    /// Worker commits `k` messages again from `back` before its cursor (a redelivery).
    Redeliver { worker: usize, back: u64, k: u64 },
    /// Worker releases the partition and stops.
    Release { worker: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..2usize, prop::bool::weighted(0.2)).prop_map(|(worker, stale)| Op::Claim { worker, stale }),
        4 => (0..2usize, 1..5u64, any::<bool>()).prop_map(|(worker, k, checkpoint)| Op::Process {
            worker,
            k,
            checkpoint
        }),
        1 => (0..2usize, 1..4u64, 1..4u64).prop_map(|(worker, back, k)| Op::Redeliver { worker, back, k }),
        1 => (0..2usize).prop_map(|worker| Op::Release { worker }),
    ]
}

/// What the store must hold for one partition.
#[derive(Debug, Default)]
struct Model {
    epoch: u64,
    owner: Option<String>,
    applied: u64,
    checkpoint_seq: u64,
    states: Vec<(String, Vec<u8>)>,
}

/// Two workers, random claims (increasing epochs, some stale), commits, redeliveries and
/// releases on one partition: each message (one line) is counted exactly once, i.e. the
/// source's lines always equal the stored applied sequence, and a commit succeeds exactly
/// when its epoch and from_seq match the store.
pub fn interleaved_owners_never_double_apply<B: Backend>() {
    let b = B::fresh();
    let (w, readers) = b.open();
    let w = std::cell::RefCell::new(w);
    let r = readers.reader().unwrap();
    let case = std::cell::Cell::new(0u32);
    // (commits applied, commits fenced) over all cases: both outcomes must be exercised.
    let outcomes = std::cell::Cell::new((0u32, 0u32));
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&prop::collection::vec(op(), 10..40), |ops| {
        // Each case gets its own partition and source in the same store.
        let partition = case.get();
        case.set(partition + 1);
        let source = format!("p{partition}");
        let mut w = w.borrow_mut();
        let mut m = Model::default();
        let mut workers: [Option<(u64, u64)>; 2] = [None, None]; // (epoch, cursor)
        let mut next_epoch = 1;
        for op in ops {
            match op {
                Op::Claim { worker, stale } => {
                    let name = format!("w{worker}");
                    if stale {
                        let got = w.claim_partition(partition, &name, m.epoch);
                        prop_assert!(matches!(got, Err(StoreError::Fenced { .. })), "{got:?}");
                    } else {
                        let c = w.claim_partition(partition, &name, next_epoch).unwrap();
                        prop_assert_eq!(c.applied_seq, m.applied);
                        prop_assert_eq!(c.checkpoint_seq, m.checkpoint_seq);
                        prop_assert_eq!(&c.states, &m.states);
                        m.epoch = next_epoch;
                        m.owner = Some(name);
                        workers[worker] = Some((next_epoch, c.applied_seq));
                        next_epoch += 1;
                    }
                }
                Op::Process {
                    worker,
                    k,
                    checkpoint,
                } => {
                    let ok = commit_op(
                        &mut **w,
                        &*r,
                        &source,
                        partition,
                        &mut m,
                        &mut workers[worker],
                        0,
                        k,
                        checkpoint,
                    )?;
                    count(&outcomes, ok);
                }
                Op::Redeliver { worker, back, k } => {
                    let ok = commit_op(
                        &mut **w,
                        &*r,
                        &source,
                        partition,
                        &mut m,
                        &mut workers[worker],
                        back,
                        k,
                        false,
                    )?;
                    count(&outcomes, ok);
                }
                Op::Release { worker } => {
                    if let Some((epoch, _)) = workers[worker].take() {
                        w.release_partition(partition, epoch).unwrap();
                        if epoch == m.epoch {
                            m.owner = None;
                        }
                    }
                }
            }
        }
        prop_assert_eq!(r.lines(Some(&source), None, None).unwrap(), m.applied);
        let listed = r
            .partitions()
            .unwrap()
            .into_iter()
            .find(|p| p.partition == partition);
        match listed {
            None => prop_assert_eq!(m.epoch, 0, "a claimed partition is not listed"),
            Some(p) => prop_assert_eq!(
                (p.owner, p.epoch, p.applied_seq, p.checkpoint_seq),
                (m.owner.clone(), m.epoch, m.applied, m.checkpoint_seq)
            ),
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (applied, fenced) = outcomes.get();
    assert!(
        applied > 10 && fenced > 10,
        "too few outcomes exercised: {applied} applied, {fenced} fenced"
    );
}

fn count(outcomes: &std::cell::Cell<(u32, u32)>, ok: Option<bool>) {
    let (a, f) = outcomes.get();
    match ok {
        Some(true) => outcomes.set((a + 1, f)),
        Some(false) => outcomes.set((a, f + 1)),
        None => {}
    }
}

/// One worker commit of `k` messages starting `back` messages before its cursor; checks the
/// outcome against the model and updates both.
#[allow(clippy::too_many_arguments)]
fn commit_op(
    w: &mut dyn StoreWriter,
    r: &dyn StoreReader,
    source: &str,
    partition: u32,
    m: &mut Model,
    worker: &mut Option<(u64, u64)>,
    back: u64,
    k: u64,
    checkpoint: bool,
) -> Result<Option<bool>, TestCaseError> {
    let Some((epoch, cursor)) = *worker else {
        return Ok(None);
    };
    let Some(from) = cursor.checked_sub(back) else {
        return Ok(None);
    };
    let to = from + k;
    let mut a = advance(partition, epoch, from, to);
    if checkpoint {
        a.checkpoint = Some(vec![(source.to_string(), to.to_le_bytes().to_vec())]);
    }
    let expect_ok = epoch == m.epoch && from == m.applied;
    let got = w.commit(&lines_batch(source, k, a));
    let ok = got.is_ok();
    match got {
        Ok(_) => {
            prop_assert!(
                expect_ok,
                "commit {from}..{to} at epoch {epoch} succeeded against {m:?}"
            );
            m.applied = to;
            if checkpoint {
                m.checkpoint_seq = to;
                m.states = vec![(source.to_string(), to.to_le_bytes().to_vec())];
            }
            *worker = Some((epoch, to));
        }
        Err(StoreError::Fenced { .. }) => {
            prop_assert!(
                !expect_ok,
                "commit {from}..{to} at epoch {epoch} fenced against {m:?}"
            );
            // A fenced worker stops; it must claim again.
            *worker = None;
        }
        Err(e) => return Err(TestCaseError::fail(format!("commit failed: {e}"))),
    }
    // Exactly once: every message is one line.
    prop_assert_eq!(r.lines(Some(source), None, None).unwrap(), m.applied);
    Ok(Some(ok))
}

/// Regression (review D4/D5): progress applied from one stream is never
/// taken by a worker of another (a second cluster on the same store, or a
/// stream recreated with fresh sequence numbers).
pub fn a_partition_is_bound_to_the_stream_it_was_read_from<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    w.bind_partition_stream(3, "LOGSIEVE@1").unwrap();
    w.bind_partition_stream(3, "LOGSIEVE@1").unwrap();
    let c = w.claim_partition(3, "a", 5).unwrap();
    assert_eq!(c.applied_seq, 0);
    w.commit(&CommitBatch {
        templates: vec![delta("s", 1, "x", &[(1, 2)])],
        partitions: vec![advance(3, 5, 0, 9)],
        ..Default::default()
    })
    .unwrap();
    for other in ["OTHER@1", "LOGSIEVE@2"] {
        match w.bind_partition_stream(3, other) {
            Err(StoreError::Fenced {
                partition: 3, why, ..
            }) => {
                assert!(why.contains("LOGSIEVE@1") && why.contains(other), "{why}")
            }
            r => panic!("binding partition 3 to {other}: {r:?}"),
        }
    }
    // Refusals changed nothing; other partitions bind freely.
    let info = readers.reader().unwrap().partitions().unwrap();
    let p3 = info.iter().find(|p| p.partition == 3).unwrap();
    assert_eq!((p3.epoch, p3.applied_seq, p3.owner.as_deref()), (5, 9, Some("a")));
    w.bind_partition_stream(4, "OTHER@1").unwrap();
}
