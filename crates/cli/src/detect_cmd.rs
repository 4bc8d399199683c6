//! `logsieve detect`, and detection in the same pass as `parse`.

use crate::input::InputArgs;
use anyhow::{bail, Context, Result};
use clap::Args;
use logsieve_detect::{Alert, Correlator, Detector, FlatEvent, Hit, JsonEvent, Mapping, Scratch};
use logsieve_engine::{Observer, RecordView};
use logsieve_source::Input;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Rule loading flags shared by `detect` and `parse --rules`.
#[derive(Args, Debug, Clone)]
pub struct RuleArgs {
    /// Sigma rule file or folder (searched recursively for .yml/.yaml);
    /// repeat --rules for more.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,

    /// Field mapping: a built-in (windows, linux, webserver) or a YAML file
    /// (see docs/DETECTION.md). Without one, rule field names are event
    /// paths as written and logsources are not checked.
    #[arg(long, value_name = "NAME|FILE")]
    pub mapping: Option<String>,

    /// Fail (exit 2) if any rule is rejected.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Args, Debug)]
pub struct DetectArgs {
    #[command(flatten)]
    pub rules: RuleArgs,

    #[command(flatten)]
    pub input: InputArgs,

    /// Write alerts to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<PathBuf>,
}

/// Loads the rules and prints what loaded and what was rejected.
pub fn load_detector(args: &RuleArgs, quiet: bool) -> Result<Detector> {
    if args.rules.is_empty() {
        bail!("--rules needs at least one file or folder");
    }
    let mapping = match &args.mapping {
        None => None,
        Some(m) => match Mapping::builtin(m) {
            Some(b) => Some(b),
            None if std::path::Path::new(m).exists() => Some(Mapping::from_file(std::path::Path::new(m))?),
            None => bail!("unknown --mapping {m:?}: use windows, linux, webserver or a YAML file"),
        },
    };
    let d = Detector::load(&args.rules, mapping)?;
    if !quiet || args.strict {
        for r in d.rejections() {
            eprintln!(
                "logsieve: rule rejected: {}{}: {}",
                r.file,
                r.title.as_ref().map(|t| format!(" ({t})")).unwrap_or_default(),
                r.reason
            );
        }
    }
    if !quiet {
        eprintln!(
            "logsieve: {} rule files, {} rules and {} correlations loaded, {} rejected",
            d.files_read(),
            d.rules().len(),
            d.correlations().len(),
            d.rejections().len()
        );
    }
    if args.strict && !d.rejections().is_empty() {
        bail!("{} rules rejected (--strict)", d.rejections().len());
    }
    Ok(d)
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs detection on records from the parse pipeline and writes alerts.
pub struct DetectionSink<'a> {
    detector: &'a Detector,
    correlator: Mutex<Correlator>,
    out: Mutex<Box<dyn Write + Send + 'a>>,
    levels: Mutex<BTreeMap<String, u64>>,
    events: AtomicU64,
}

impl<'a> DetectionSink<'a> {
    pub fn new(detector: &'a Detector, out: Box<dyn Write + Send + 'a>) -> Self {
        DetectionSink {
            detector,
            correlator: Mutex::new(Correlator::new(detector)),
            out: Mutex::new(out),
            levels: Mutex::new(BTreeMap::new()),
            events: AtomicU64::new(0),
        }
    }

    fn write(&self, a: &Alert) -> std::io::Result<()> {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        serde_json::to_writer(&mut *out, a)?;
        out.write_all(b"\n")?;
        *self
            .levels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(a.level.clone())
            .or_default() += 1;
        Ok(())
    }

    /// Handles one event's hits, in input order.
    pub fn handle(&self, line: u64, source: &str, hits: &[Hit]) -> std::io::Result<()> {
        for h in hits {
            if let Some(a) = &h.alert {
                self.write(a)?;
            }
            let more = self.correlator.lock().unwrap_or_else(|e| e.into_inner()).feed(
                self.detector,
                h,
                line,
                source,
            );
            for a in &more {
                self.write(a)?;
            }
        }
        Ok(())
    }

    /// Counts an event.
    pub fn count_event(&self) {
        self.events.fetch_add(1, Ordering::Relaxed);
    }

    /// Flushes and prints the summary.
    pub fn finish(&self, quiet: bool, malformed: u64) -> std::io::Result<()> {
        self.out.lock().unwrap_or_else(|e| e.into_inner()).flush()?;
        if !quiet {
            let levels = self.levels.lock().unwrap_or_else(|e| e.into_inner());
            let total: u64 = levels.values().sum();
            let per: Vec<String> = ["critical", "high", "medium", "low", "informational"]
                .iter()
                .map(|l| format!("{l} {}", levels.get(*l).copied().unwrap_or(0)))
                .chain(
                    levels
                        .iter()
                        .filter(|(k, _)| {
                            !["critical", "high", "medium", "low", "informational"].contains(&k.as_str())
                        })
                        .map(|(k, v)| format!("{k} {v}")),
                )
                .collect();
            let c = self.correlator.lock().unwrap_or_else(|e| e.into_inner());
            eprintln!(
                "logsieve: {} events ({} malformed), {} alerts: {}{}{}",
                self.events.load(Ordering::Relaxed),
                malformed,
                total,
                per.join(", "),
                if c.untimed > 0 {
                    format!("; {} correlation hits without a timestamp", c.untimed)
                } else {
                    String::new()
                },
                if c.evicted > 0 {
                    format!("; {} correlation groups evicted", c.evicted)
                } else {
                    String::new()
                },
            );
        }
        Ok(())
    }
}

impl Observer for DetectionSink<'_> {
    type Batch = Vec<(u64, String, Vec<Hit>)>;

    fn observe(&self, rec: &RecordView<'_>, batch: &mut Self::Batch) {
        self.count_event();
        let mut ev = FlatEvent::default();
        for &(k, v) in &rec.fields {
            ev.push(k, v);
        }
        ev.push("message", rec.content);
        ev.push("raw", rec.raw);
        if let Some(t) = rec.template {
            ev.push("template", t);
        }
        if let Some(t) = rec.template_id {
            ev.push("template_id", t);
        }
        ev.params = rec.params.clone();
        let hits = SCRATCH.with(|s| {
            self.detector
                .evaluate(&ev, rec.line, rec.source, &mut s.borrow_mut())
        });
        if !hits.is_empty() {
            batch.push((rec.line, rec.source.to_string(), hits));
        }
    }

    fn collect(&self, batch: Self::Batch) -> std::io::Result<()> {
        for (line, source, hits) in batch {
            self.handle(line, &source, &hits)?;
        }
        Ok(())
    }
}

/// Whether a file holds JSON events (first non-space byte `{` or `[`).
fn looks_like_json(input: &Input) -> Result<bool> {
    let mut r = logsieve_source::open(input)?;
    let mut head = vec![0u8; 4096];
    let n = read_some(&mut r, &mut head)?;
    Ok(head[..n]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{' || b == b'['))
}

fn read_some(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// JSON events: one JSON value per line (JSON lines), or a file holding
/// one or more (pretty-printed) JSON values. Returns malformed events.
fn detect_json(input: &Input, d: &Detector, sink: &DetectionSink<'_>) -> Result<u64> {
    let source = input.display_name();
    let mut scratch = Scratch::default();
    let mut malformed = 0u64;
    let mut text = String::new();
    logsieve_source::open(input)?
        .read_to_string(&mut text)
        .with_context(|| format!("reading {source}"))?;
    let first_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
    let jsonl = serde_json::from_str::<serde_json::Value>(first_line).is_ok()
        && text.lines().filter(|l| !l.trim().is_empty()).count() > 1;
    let mut handle = |v: &serde_json::Value, line: u64| -> Result<()> {
        let items: Vec<&serde_json::Value> = match v {
            serde_json::Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        for item in items {
            sink.count_event();
            let hits = d.evaluate(&JsonEvent(item), line, &source, &mut scratch);
            sink.handle(line, &source, &hits)?;
        }
        Ok(())
    };
    if jsonl {
        for (i, l) in text.lines().enumerate() {
            if l.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<serde_json::Value>(l) {
                Ok(v) => handle(&v, i as u64 + 1)?,
                Err(e) => {
                    malformed += 1;
                    eprintln!("logsieve: {source}:{}: malformed JSON event: {e}", i + 1);
                }
            }
        }
    } else {
        let mut stream = serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>();
        loop {
            // The event's line is where its first byte is.
            let at = stream.byte_offset();
            let skip = text[at..].len() - text[at..].trim_start().len();
            let line = text[..at + skip].bytes().filter(|&b| b == b'\n').count() as u64 + 1;
            match stream.next() {
                None => break,
                Some(Ok(v)) => handle(&v, line)?,
                Some(Err(e)) => {
                    malformed += 1;
                    eprintln!(
                        "logsieve: {source}:{}: malformed JSON, the rest of the file is skipped: {e}",
                        e.line()
                    );
                    break;
                }
            }
        }
    }
    Ok(malformed)
}

pub fn run(args: &DetectArgs) -> Result<i32> {
    let d = load_detector(&args.rules, args.input.quiet)?;
    let out: Box<dyn Write + Send> = match &args.alerts {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let sink = DetectionSink::new(&d, out);
    let text_mode = args.input.format.is_some() || args.input.preset.is_some();
    let mut malformed = 0;
    let inputs = args.input.inputs();
    let mut text_inputs = Vec::new();
    for input in &inputs {
        if !text_mode && !matches!(input, Input::Stdin) && !args.input.follow && looks_like_json(input)? {
            malformed += detect_json(input, &d, &sink)?;
        } else {
            text_inputs.push(input.clone());
        }
    }
    if !text_inputs.is_empty() {
        let mut engine = args.input.engine()?;
        let streaming = args.input.follow || text_inputs.iter().any(|i| matches!(i, Input::Stdin));
        for input in &text_inputs {
            if streaming {
                let reader = crate::parse_cmd::open_stream(&args.input, input)?;
                engine.stream_observed(
                    input,
                    reader,
                    None,
                    &mut std::io::sink(),
                    args.input.follow,
                    Some(&sink),
                )?;
            } else {
                if !args.input.match_only {
                    engine.mine(input)?;
                }
                engine.report_observed(input, None, &mut std::io::sink(), Some(&sink))?;
            }
        }
    }
    sink.finish(args.input.quiet, malformed)?;
    Ok(0)
}
