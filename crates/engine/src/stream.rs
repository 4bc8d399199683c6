//! One pass over inputs that can be read once (pipes, standard input,
//! followed files): every line is learned and written with the template
//! known when it arrived, promptly.
//!
//! Each input gets a reader thread that frames its bytes into batches as
//! they arrive (a batch is handed on as soon as it holds a complete line, so
//! a slow producer's lines are not held back) and sends them on one bounded
//! channel. The calling thread processes batches in arrival order and
//! flushes the output and the observer whenever it has caught up (the
//! channel is empty), so a record and its alerts are written within
//! milliseconds of the line's arrival, while a fast producer still gets
//! large writes.
//!
//! Shutdown is an event: once the stop flag is set, the loop stops waiting
//! for new data, processes every batch already read (followers see the same
//! flag and end after handing out what they read), flushes everything and
//! returns. A reader blocked on a pipe whose writer is still alive is left
//! behind (its lines were not read yet, so none is lost from the output).

use crate::pipeline::{observe_record, render_with, Engine, EngineError, Observer, OutputFormat};
use crate::record::Stats;
use crossbeam_channel::{bounded, RecvTimeoutError};
use logsieve_framing::{FramerConfig, LineBatch, LineFramer};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One input of a stream run.
pub struct StreamInput {
    /// The name records carry as their `source`.
    pub name: String,
    /// The bytes (a pipe, standard input, a [`logsieve_source::Follower`]).
    pub reader: Box<dyn Read + Send>,
}

/// How a stream run waits and stops.
#[derive(Clone)]
pub struct StreamControl {
    /// Set to stop: stop waiting for input, finish what was read, return.
    pub stop: Arc<AtomicBool>,
    /// How often the loop wakes up without input to look at the stop flag.
    pub tick: Duration,
    /// After the stop flag is set, how long to wait for the readers to hand
    /// over what they already read (followers end within a poll interval).
    pub drain_grace: Duration,
}

impl Default for StreamControl {
    fn default() -> Self {
        StreamControl {
            stop: Arc::new(AtomicBool::new(false)),
            tick: Duration::from_millis(20),
            drain_grace: Duration::from_millis(500),
        }
    }
}

/// What a stream run did.
#[derive(Debug, Default)]
pub struct StreamOutcome {
    /// Counters over every input.
    pub stats: Stats,
    /// Inputs that failed part-way, in the order they failed; their lines
    /// before the failure were processed.
    pub errors: Vec<EngineError>,
    /// Whether the run ended because the stop flag was set.
    pub stopped: bool,
    /// Inputs whose reader had not finished when the run ended (blocked on a
    /// pipe whose writer was still alive when the stop came).
    pub abandoned: Vec<String>,
}

enum Msg {
    Batch(usize, LineBatch),
    End(usize, Option<logsieve_framing::FramingError>),
}

/// Reads one batch that holds what has arrived, without waiting for more.
fn prompt_batch<R: Read>(
    framer: &mut LineFramer<R>,
    batch: &mut LineBatch,
    lines: usize,
    bytes: usize,
) -> Result<usize, logsieve_framing::FramingError> {
    // TODO(merge wt/framing): next_batch_prompt
    let _ = lines;
    framer.next_batch(batch, 1, bytes)
}

impl Engine {
    /// One pass over `inputs` read concurrently (records carry their input's
    /// name and their line number in it). `on_error` is called once per
    /// input that fails part-way, as soon as it fails; the other inputs go
    /// on. Output is flushed whenever the run has caught up with its inputs.
    pub fn stream_inputs<O: Observer>(
        &mut self,
        inputs: Vec<StreamInput>,
        format: Option<OutputFormat>,
        out: &mut dyn Write,
        observer: Option<&O>,
        control: &StreamControl,
        on_error: &mut dyn FnMut(&EngineError),
    ) -> Result<StreamOutcome, EngineError> {
        let mut outcome = StreamOutcome::default();
        let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
        let cfg = FramerConfig {
            max_line_bytes: self.opts.max_line_bytes,
        };
        let (batch_lines, batch_bytes) = (self.opts.batch_lines, self.opts.batch_bytes);
        let (tx, rx) = bounded::<Msg>(4 + 2 * inputs.len());
        let (free_tx, free_rx) = crossbeam_channel::unbounded::<LineBatch>();
        let mut live = vec![true; inputs.len()];
        for (idx, input) in inputs.into_iter().enumerate() {
            let tx = tx.clone();
            let free_rx = free_rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("logsieve-read-{idx}"))
                .spawn(move || {
                    let mut framer = LineFramer::new(input.reader, cfg);
                    loop {
                        let mut b = free_rx.try_recv().unwrap_or_default();
                        match prompt_batch(&mut framer, &mut b, batch_lines, batch_bytes) {
                            Ok(0) => {
                                let _ = tx.send(Msg::End(idx, None));
                                return;
                            }
                            Ok(_) => {
                                if tx.send(Msg::Batch(idx, b)).is_err() {
                                    return;
                                }
                            }
                            Err(e) => {
                                if !b.is_empty() {
                                    let _ = tx.send(Msg::Batch(idx, b));
                                }
                                let _ = tx.send(Msg::End(idx, Some(e)));
                                return;
                            }
                        }
                    }
                });
            if let Err(e) = spawned {
                return Err(EngineError::Write(e));
            }
        }
        drop(tx);

        let mut miner = std::mem::take(&mut self.miner);
        let mut s = self.scratch();
        let mut buf = Vec::new();
        if format == Some(OutputFormat::Csv) {
            self.csv_header(&mut buf);
        }
        let mut stop_seen: Option<Instant> = None;
        let result = (|| -> Result<(), EngineError> {
            while live.iter().any(|&l| l) {
                if stop_seen.is_none() && control.stop.load(Ordering::Acquire) {
                    stop_seen = Some(Instant::now());
                    outcome.stopped = true;
                }
                if stop_seen.is_some_and(|t| t.elapsed() >= control.drain_grace) {
                    // Take what is already queued, then leave the rest.
                    while let Ok(m) = rx.try_recv() {
                        self.stream_msg(
                            m,
                            &mut miner,
                            &names,
                            format,
                            observer,
                            &mut s,
                            &mut buf,
                            &mut live,
                            &mut outcome,
                            on_error,
                            &free_tx,
                        )?;
                    }
                    break;
                }
                let m = match rx.recv_timeout(control.tick) {
                    Ok(m) => m,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => break,
                };
                self.stream_msg(
                    m,
                    &mut miner,
                    &names,
                    format,
                    observer,
                    &mut s,
                    &mut buf,
                    &mut live,
                    &mut outcome,
                    on_error,
                    &free_tx,
                )?;
                out.write_all(&buf)?;
                buf.clear();
                if rx.is_empty() {
                    // Caught up: make everything so far visible.
                    out.flush()?;
                    if let Some(o) = observer {
                        o.flush()?;
                    }
                }
            }
            Ok(())
        })();
        miner.finalize();
        self.miner = miner;
        result?;
        out.write_all(&buf)?;
        out.flush()?;
        if let Some(o) = observer {
            o.flush()?;
        }
        outcome.abandoned = names
            .iter()
            .zip(&live)
            .filter(|(_, &l)| l)
            .map(|(n, _)| n.clone())
            .collect();
        Ok(outcome)
    }

    #[allow(clippy::too_many_arguments)]
    fn stream_msg<O: Observer>(
        &self,
        m: Msg,
        miner: &mut logsieve_template::Miner,
        names: &[String],
        format: Option<OutputFormat>,
        observer: Option<&O>,
        s: &mut crate::pipeline::Scratch,
        buf: &mut Vec<u8>,
        live: &mut [bool],
        outcome: &mut StreamOutcome,
        on_error: &mut dyn FnMut(&EngineError),
        free_tx: &crossbeam_channel::Sender<LineBatch>,
    ) -> Result<(), EngineError> {
        match m {
            Msg::Batch(idx, b) => {
                let source = names[idx].as_str();
                let mut ob = O::Batch::default();
                for i in 0..b.len() {
                    let line = b.line_no(i);
                    let mut f = self.prepare(b.line(i), b.flags(i).truncated(), s);
                    let c = if self.opts.match_only {
                        miner.lookup(&s.masked)
                    } else {
                        Some(miner.learn(&s.masked, &s.header.content))
                    };
                    f.no_template = c.is_none();
                    outcome.stats.count(&f, b.line(i).len(), b.line(i).is_empty());
                    if let Some(o) = observer {
                        observe_record(o, miner, &self.header, line, source, b.line(i), c, s, &mut ob);
                    }
                    if let Some(format) = format {
                        render_with(miner, &self.header, format, line, source, c, &f, s, buf);
                    }
                }
                if let Some(o) = observer {
                    o.collect(ob)?;
                }
                if let Some(p) = &self.progress {
                    p(b.len() as u64, (b.data_len() + b.len()) as u64);
                }
                let _ = free_tx.send(b);
            }
            Msg::End(idx, err) => {
                live[idx] = false;
                if let Some(source) = err {
                    let e = EngineError::Read {
                        input: names[idx].clone(),
                        source,
                    };
                    on_error(&e);
                    outcome.errors.push(e);
                }
            }
        }
        Ok(())
    }
}
