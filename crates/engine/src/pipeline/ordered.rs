//! The several-thread pass over a file: a stream of batches, not groups.
//!
//! The reader frames batches and numbers them; `threads` workers take
//! them as they come, each with its own scratch, and do the per-line work
//! (`map`); the calling thread takes the results back in input order and
//! does the sequential step (`consume`: learning, writing). No worker waits
//! for the others at a group's end, and the sequential step of one batch
//! overlaps the parallel work of the next ones, so cores stay busy.
//!
//! Invariants: `consume` sees every batch read, in input order, once (up
//! to a failure or a stop, after which nothing more is consumed); at most
//! `IN_FLIGHT_PER_THREAD × threads` batches exist at once (the reader
//! reuses the batches `consume` is done with), so memory stays bounded
//! however far the workers run ahead of a slow sequential step.

use super::{Engine, EngineError, Scratch};
use crossbeam_channel::{bounded, unbounded, TryRecvError};
use logsieve_framing::{FramingError, LineBatch};
use logsieve_source::Input;
use std::collections::BTreeMap;
use std::time::Instant;

/// Batches that may exist at once, per worker: one being worked on, one
/// waiting for it, the rest covering a sequential step that is slower for
/// a while (many new templates) and the reorder buffer.
const IN_FLIGHT_PER_THREAD: usize = 4;

/// What the reader hands the workers.
enum Read {
    /// Batch `seq` (from 0), whose first entry is entry `first` of the
    /// input, read at `at`.
    Batch {
        seq: u64,
        first: u64,
        batch: LineBatch,
        at: Instant,
    },
    /// Reading failed after batch `seq - 1`.
    Fail { seq: u64, error: FramingError },
}

/// What a worker hands back.
enum Done<T> {
    Batch {
        batch: LineBatch,
        out: T,
        at: Instant,
    },
    Fail(FramingError),
    /// `map` panicked: the pass ends and the panic goes on after it.
    Panic(Box<dyn std::any::Any + Send>),
}

/// How a pass reads its input.
pub(super) struct Plan<'a> {
    /// The input's name, for a read failure.
    pub(super) name: &'a str,
    /// Longest line kept (see [`logsieve_framing::FramerConfig`]).
    pub(super) max_line_bytes: usize,
    /// Join lines into events as the engine's `--multiline` says (false:
    /// one entry per line).
    pub(super) join: bool,
    /// Stop after the batch being consumed once the stop flag is set.
    pub(super) honour_stop: bool,
}

impl Engine {
    /// Reads `input` and runs `map(first_entry, batch, scratch)` on every
    /// batch across `threads` workers, each with the engine's scratch of
    /// its own (kept warm across passes), then `consume(batch, result)` on
    /// the calling thread in input order. `consume` returns false to stop;
    /// with `honour_stop`, the stop flag stops the pass after the batch
    /// being consumed.
    pub(super) fn drive_ordered<T: Send>(
        &self,
        input: &Input,
        honour_stop: bool,
        map: impl Fn(u64, &LineBatch, &mut Scratch) -> T + Sync,
        consume: impl FnMut(&LineBatch, T) -> Result<bool, EngineError>,
    ) -> Result<(), EngineError> {
        let plan = Plan {
            name: &input.display_name(),
            max_line_bytes: self.opts.max_line_bytes,
            join: true,
            honour_stop,
        };
        let reader = logsieve_source::open(input)?;
        self.ordered(
            &plan,
            reader,
            |w, f| self.with_worker_scratch(w, |s| f(s)),
            map,
            consume,
        )
    }

    /// For callers with per-line work of their own (detection of JSON
    /// events): reads `reader` (named `name`) as plain lines of up to
    /// `max_line_bytes` (no joining, no header, no templates; this
    /// engine's batch size) and runs `map(batch, state)` on every batch
    /// across this engine's threads, each with a `S` of its own, then
    /// `consume(batch, result)` on the calling thread in input order
    /// (false: stop). A read failure part-way comes after the batches
    /// read before it were consumed.
    pub fn map_lines<S: Default, T: Send>(
        &self,
        name: &str,
        reader: Box<dyn std::io::Read + Send>,
        max_line_bytes: usize,
        map: impl Fn(&LineBatch, &mut S) -> T + Sync,
        consume: impl FnMut(&LineBatch, T) -> Result<bool, EngineError>,
    ) -> Result<(), EngineError> {
        let plan = Plan {
            name,
            max_line_bytes,
            join: false,
            honour_stop: false,
        };
        self.ordered(
            &plan,
            reader,
            |_, f| f(&mut S::default()),
            |_, b, s| map(b, s),
            consume,
        )
    }

    /// The pass itself: `state(w, f)` calls `f` with worker `w`'s state.
    fn ordered<S, T: Send>(
        &self,
        plan: &Plan<'_>,
        reader: Box<dyn std::io::Read + Send>,
        state: impl Fn(usize, &mut dyn FnMut(&mut S)) + Sync,
        map: impl Fn(u64, &LineBatch, &mut S) -> T + Sync,
        mut consume: impl FnMut(&LineBatch, T) -> Result<bool, EngineError>,
    ) -> Result<(), EngineError> {
        let threads = self.opts.threads.max(1);
        let in_flight = IN_FLIGHT_PER_THREAD * threads;
        let mut panic = None;
        let r: Result<Option<FramingError>, EngineError> = std::thread::scope(|sc| {
            let (read_tx, read_rx) = bounded::<Read>(in_flight);
            let (done_tx, done_rx) = unbounded::<(u64, Done<T>)>();
            let (free_tx, free_rx) = unbounded::<LineBatch>();
            sc.spawn(move || {
                let (mut seq, mut first, mut made) = (0u64, 0u64, 0usize);
                // A fresh batch while fewer than `in_flight` exist; then
                // one `consume` is done with (none: the pass has ended).
                let next = || match free_rx.try_recv() {
                    Ok(b) => Some(b),
                    Err(TryRecvError::Empty) if made < in_flight => {
                        made += 1;
                        Some(LineBatch::default())
                    }
                    Err(TryRecvError::Empty) => free_rx.recv().ok(),
                    Err(TryRecvError::Disconnected) => None,
                };
                self.read_batches(reader, plan.max_line_bytes, plan.join, next, |r| {
                    let msg = match r {
                        Ok(batch) => {
                            first += batch.len() as u64;
                            Read::Batch {
                                seq,
                                first: first - batch.len() as u64,
                                batch,
                                at: Instant::now(),
                            }
                        }
                        Err(error) => Read::Fail { seq, error },
                    };
                    seq += 1;
                    read_tx.send(msg).is_ok()
                });
            });
            for w in 0..threads {
                let (rx, tx, map, state) = (read_rx.clone(), done_tx.clone(), &map, &state);
                sc.spawn(move || {
                    state(w, &mut |s| {
                        while let Ok(msg) = rx.recv() {
                            let (seq, done) = match msg {
                                Read::Batch {
                                    seq,
                                    first,
                                    batch,
                                    at,
                                } => {
                                    let run = std::panic::AssertUnwindSafe(|| map(first, &batch, s));
                                    match std::panic::catch_unwind(run) {
                                        Ok(out) => (seq, Done::Batch { batch, out, at }),
                                        Err(p) => (seq, Done::Panic(p)),
                                    }
                                }
                                Read::Fail { seq, error } => (seq, Done::Fail(error)),
                            };
                            let stop = matches!(done, Done::Panic(_));
                            if tx.send((seq, done)).is_err() || stop {
                                break;
                            }
                        }
                    })
                });
            }
            // Only the workers hold these now: when they are gone, so
            // are the results to come.
            drop((read_rx, done_tx));
            let mut waiting: BTreeMap<u64, Done<T>> = BTreeMap::new();
            let mut next = 0u64;
            let mut failure = None;
            'pass: while let Ok((seq, done)) = done_rx.recv() {
                waiting.insert(seq, done);
                while let Some(done) = waiting.remove(&next) {
                    next += 1;
                    let (batch, out, at) = match done {
                        Done::Batch { batch, out, at } => (batch, out, at),
                        Done::Fail(e) => {
                            failure = Some(e);
                            break 'pass;
                        }
                        Done::Panic(p) => {
                            panic = Some(p);
                            break 'pass;
                        }
                    };
                    let (lines, bytes) = (batch.lines_covered(), batch.data_len() as u64);
                    let go_on = consume(&batch, out)?;
                    self.record_latency(at);
                    if let Some(p) = &self.progress {
                        p(lines, bytes);
                    }
                    let _ = free_tx.send(batch);
                    if !go_on || (plan.honour_stop && self.stop_requested()) {
                        break 'pass;
                    }
                }
            }
            // Dropping the receivers ends the reader and the workers.
            Ok(failure)
        });
        if let Some(p) = panic {
            std::panic::resume_unwind(p);
        }
        match r? {
            Some(source) => Err(EngineError::Read {
                input: plan.name.to_string(),
                source,
            }),
            None => Ok(()),
        }
    }
}
