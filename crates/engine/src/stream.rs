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

use crate::pipeline::{Engine, EngineError, Observer, OutputFormat};
use crate::record::Stats;
use crossbeam_channel::{bounded, RecvTimeoutError};
use logsieve_framing::{FramerConfig, LineBatch, LineFramer};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Opens a stream input; runs on that input's reader thread, so a FIFO
/// whose writer has not come yet blocks only that input, never the run.
/// The error is the whole message (it names the input).
pub type Opener = Box<dyn FnOnce() -> Result<Box<dyn Read + Send>, String> + Send>;

/// One input of a stream run.
pub struct StreamInput {
    /// The name records carry as their `source`.
    pub name: String,
    /// Gives the bytes (a pipe, standard input, a
    /// [`logsieve_source::Follower`]).
    pub open: Opener,
}

impl StreamInput {
    /// An input that is already open.
    pub fn reader(name: String, reader: Box<dyn Read + Send>) -> StreamInput {
        StreamInput {
            name,
            open: Box::new(move || Ok(reader)),
        }
    }
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
    /// A multi-line event whose input has been quiet this long is complete
    /// (`--multiline`): it is written without waiting for the next event.
    pub multiline_quiet: Duration,
}

impl Default for StreamControl {
    fn default() -> Self {
        StreamControl {
            stop: Arc::new(AtomicBool::new(false)),
            tick: Duration::from_millis(20),
            drain_grace: Duration::from_millis(500),
            multiline_quiet: Duration::from_millis(80),
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
}

enum Msg {
    Batch(usize, LineBatch),
    End(usize, Option<logsieve_framing::FramingError>),
    OpenFailed(usize, String),
}

/// Reads one batch that holds what has arrived, without waiting for more.
fn prompt_batch<R: Read>(
    framer: &mut LineFramer<R>,
    batch: &mut LineBatch,
    lines: usize,
    bytes: usize,
) -> Result<usize, logsieve_framing::FramingError> {
    framer.next_batch_prompt(batch, lines, bytes)
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
        let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
        let n_inputs = inputs.len();
        let cfg = FramerConfig {
            max_line_bytes: self.opts.max_line_bytes,
        };
        let (batch_lines, batch_bytes) = (self.opts.batch_lines, self.opts.batch_bytes);
        let (tx, rx) = bounded::<Msg>(4 + 2 * inputs.len());
        let (free_tx, free_rx) = crossbeam_channel::unbounded::<LineBatch>();
        for (idx, input) in inputs.into_iter().enumerate() {
            let tx = tx.clone();
            let free_rx = free_rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("logsieve-read-{idx}"))
                .spawn(move || {
                    let reader = match (input.open)() {
                        Ok(r) => r,
                        Err(e) => {
                            let _ = tx.send(Msg::OpenFailed(idx, e));
                            return;
                        }
                    };
                    let mut framer = LineFramer::new(reader, cfg);
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
        let mut cx = Ctx {
            names,
            format,
            observer,
            s: self.scratch(),
            buf: Vec::new(),
            live: vec![true; n_inputs],
            outcome: StreamOutcome::default(),
            inputs: (0..n_inputs)
                .map(|_| InputState {
                    joiner: self.joiner(),
                    last_data: Instant::now(),
                })
                .collect(),
            events: LineBatch::default(),
            free_tx,
        };
        if format == Some(OutputFormat::Csv) {
            self.csv_header(&mut cx.buf);
        }
        let mut stop_seen: Option<Instant> = None;
        let result = (|| -> Result<(), EngineError> {
            while cx.live.iter().any(|&l| l) {
                if stop_seen.is_none() && control.stop.load(Ordering::Acquire) {
                    stop_seen = Some(Instant::now());
                    cx.outcome.stopped = true;
                }
                if stop_seen.is_some_and(|t| t.elapsed() >= control.drain_grace) {
                    // Take what is already queued, then leave the rest.
                    while let Ok(m) = rx.try_recv() {
                        self.stream_msg(m, &mut miner, &mut cx, on_error)?;
                    }
                    break;
                }
                let m = match rx.recv_timeout(control.tick) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                };
                let got = m.is_some();
                if let Some(m) = m {
                    self.stream_msg(m, &mut miner, &mut cx, on_error)?;
                }
                let caught_up = rx.is_empty();
                let mut flushed_events = false;
                if caught_up {
                    // An event whose input went quiet is complete.
                    for idx in 0..cx.inputs.len() {
                        let quiet = cx.inputs[idx].last_data.elapsed() >= control.multiline_quiet;
                        if let Some(j) = &mut cx.inputs[idx].joiner {
                            if quiet && j.has_pending() {
                                cx.events.clear();
                                j.flush(&mut cx.events);
                                flushed_events |= !cx.events.is_empty();
                                self.stream_events(idx, &mut miner, &mut cx)?;
                            }
                        }
                    }
                }
                out.write_all(&cx.buf)?;
                cx.buf.clear();
                if caught_up && (got || flushed_events) {
                    // Caught up: make everything so far visible.
                    out.flush()?;
                    if let Some(o) = observer {
                        o.flush()?;
                    }
                }
            }
            Ok(())
        })();
        // What the joiners still hold was read: it is written too.
        let mut tail = Ok(());
        for idx in 0..cx.inputs.len() {
            if let Some(j) = &mut cx.inputs[idx].joiner {
                cx.events.clear();
                j.finish(&mut cx.events);
                if tail.is_ok() {
                    tail = self.stream_events(idx, &mut miner, &mut cx);
                }
            }
        }
        miner.finalize();
        self.miner = miner;
        result?;
        tail?;
        out.write_all(&cx.buf)?;
        out.flush()?;
        if let Some(o) = observer {
            o.flush()?;
        }
        Ok(std::mem::take(&mut cx.outcome))
    }

    fn stream_msg<O: Observer>(
        &self,
        m: Msg,
        miner: &mut logsieve_template::Miner,
        cx: &mut Ctx<'_, O>,
        on_error: &mut dyn FnMut(&EngineError),
    ) -> Result<(), EngineError> {
        match m {
            Msg::Batch(idx, b) => {
                cx.inputs[idx].last_data = Instant::now();
                if let Some(p) = &self.progress {
                    p(b.lines_covered(), b.data_len() as u64);
                }
                match &mut cx.inputs[idx].joiner {
                    None => self.stream_entries(&b, idx, miner, cx)?,
                    Some(j) => {
                        cx.events.clear();
                        j.push(&b, &mut cx.events);
                        self.stream_events(idx, miner, cx)?;
                    }
                }
                let _ = cx.free_tx.send(b);
            }
            Msg::OpenFailed(idx, message) => {
                cx.live[idx] = false;
                let e = EngineError::Input {
                    input: cx.names[idx].clone(),
                    message,
                };
                on_error(&e);
                cx.outcome.errors.push(e);
            }
            Msg::End(idx, err) => {
                cx.live[idx] = false;
                if let Some(j) = &mut cx.inputs[idx].joiner {
                    cx.events.clear();
                    j.finish(&mut cx.events);
                    self.stream_events(idx, miner, cx)?;
                }
                if let Some(source) = err {
                    let e = EngineError::Read {
                        input: cx.names[idx].clone(),
                        source,
                    };
                    on_error(&e);
                    cx.outcome.errors.push(e);
                }
            }
        }
        Ok(())
    }

    /// Processes the joined events in `cx.events`.
    fn stream_events<O: Observer>(
        &self,
        idx: usize,
        miner: &mut logsieve_template::Miner,
        cx: &mut Ctx<'_, O>,
    ) -> Result<(), EngineError> {
        let events = std::mem::take(&mut cx.events);
        let r = self.stream_entries(&events, idx, miner, cx);
        cx.events = events;
        r
    }

    /// Learns, observes and renders every entry of `b` (from input `idx`).
    fn stream_entries<O: Observer>(
        &self,
        b: &LineBatch,
        idx: usize,
        miner: &mut logsieve_template::Miner,
        cx: &mut Ctx<'_, O>,
    ) -> Result<(), EngineError> {
        let source = cx.names[idx].as_str();
        let stats = self.one_pass(miner, b, source, cx.observer, cx.format, &mut cx.s, &mut cx.buf)?;
        cx.outcome.stats += stats;
        // The records carry their merges (`merged`); drop the queue so a
        // long-running stream does not hold one entry per merge.
        drop(miner.take_merges());
        Ok(())
    }
}

/// The state of one stream run, shared by its steps.
struct Ctx<'o, O: Observer> {
    names: Vec<String>,
    format: Option<OutputFormat>,
    observer: Option<&'o O>,
    s: crate::pipeline::Scratch,
    buf: Vec<u8>,
    live: Vec<bool>,
    outcome: StreamOutcome,
    inputs: Vec<InputState>,
    events: LineBatch,
    free_tx: crossbeam_channel::Sender<LineBatch>,
}

/// Per-input state of a stream run.
struct InputState {
    joiner: Option<logsieve_framing::Joiner>,
    last_data: Instant,
}
