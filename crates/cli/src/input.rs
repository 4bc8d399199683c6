//! Flags shared by every command that reads logs, and building an engine
//! from them.

use anyhow::{bail, Context, Result};
use clap::Args;
use logsieve_engine::{Engine, Options};
use logsieve_header::{HeaderParser, Preset};
use logsieve_template::{Miner, MinerConfig, StateContext};
use std::path::PathBuf;
use std::time::Instant;

/// How input lines are read and split into header and content.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Header format in Loghub notation: `<Field>` names a field, the rest is
    /// a regular-expression fragment, `<Content>` is the message mined for
    /// templates (e.g. '<Date> <Time> <Level> <Component>: <Content>').
    /// Without --format or --preset the whole line is the content. Lines
    /// that do not match are kept, parsed as content only, and flagged.
    #[arg(long, value_name = "FORMAT", conflicts_with = "preset")]
    pub format: Option<String>,

    /// A built-in header format: syslog (RFC 3164), rfc5424, combined
    /// (Apache/Nginx access log), json (JSON lines), logfmt
    /// (`key=value …`), cef (ArcSight Common Event Format, with or without
    /// a syslog prefix).
    #[arg(
        long,
        value_name = "PRESET",
        ignore_case = true,
        value_parser = clap::builder::PossibleValuesParser::new(["syslog", "rfc5424", "combined", "json", "logfmt", "cef"])
    )]
    pub preset: Option<String>,

    /// With --preset json or logfmt: the field holding the message
    /// (default: the first of message, msg, log).
    #[arg(long, value_name = "FIELD")]
    pub message_field: Option<String>,

    /// Joins lines into multi-line events (stack traces): `auto` (a line
    /// that does not match the header format continues the previous event,
    /// as do indented lines, `Caused by:`, Python tracebacks and Go
    /// goroutine dumps), `none`, or a REGEX that matches the first line of
    /// every event. Default: auto with --format or a text --preset, none
    /// otherwise. The template is mined from the event's first line; the
    /// record keeps the rest as `continuation` and names its `line` and
    /// `last_line`.
    #[arg(long, value_name = "auto|none|REGEX")]
    pub multiline: Option<String>,

    /// On a stream, a multi-line event is complete when the next one starts
    /// or after this many milliseconds without a new line (its record then
    /// waits that long). A trace whose lines arrive further apart is split
    /// (the rest flagged `continued`).
    #[arg(long, value_name = "MS", default_value_t = 80)]
    pub multiline_wait: u64,

    /// Worker threads (default: all cores). Output is identical for any value.
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,

    /// Longest line kept, in bytes; longer lines are cut there and flagged
    /// `truncated` (default 1 MiB). `detect` counts a longer JSON event
    /// line as malformed.
    #[arg(long, value_name = "BYTES", default_value_t = logsieve_framing::DEFAULT_MAX_LINE_BYTES)]
    pub max_line_bytes: usize,

    /// Load saved templates from FILE before the run (if it exists) and
    /// save them there after.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Use a --state saved under another --format/--preset, --multiline or
    /// miner setting anyway (its templates may then match nothing).
    #[arg(long, requires = "state")]
    pub force: bool,

    /// Only assign lines to known templates (from --state); lines matching
    /// none are reported with a null template and flagged `no_template`.
    #[arg(long, requires = "state")]
    pub match_only: bool,

    /// Keep reading the FILEs as they grow, like tail -F: several at once,
    /// files that do not exist yet are waited for, rename and copytruncate
    /// rotation are followed (lines appended just before a copytruncate are
    /// read back from the rotated copy). Lines are reported as they arrive.
    /// Stop with Ctrl-C or SIGTERM.
    #[arg(long, short = 'f')]
    pub follow: bool,

    /// Lines per batch (tuning and tests; output does not depend on it).
    #[arg(long, value_name = "N", default_value_t = 2048, hide = true)]
    pub batch_lines: usize,

    /// No progress display, summary or warnings on stderr (errors are
    /// still reported).
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Log files to read: `-` for standard input, a directory (every file
    /// below it, skipping hidden and .gitignore'd ones), or a quoted glob;
    /// .gz and .zst are decompressed. Default: standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<String>,
}

impl InputArgs {
    pub fn header(&self) -> Result<HeaderParser> {
        if let Some(f) = &self.format {
            return HeaderParser::from_format(f)
                .with_context(|| format!("invalid --format {:?}", crate::run::clip(f)));
        }
        if let Some(p) = &self.preset {
            let preset: Preset = p.parse().map_err(|_| {
                anyhow::anyhow!(
                    "unknown --preset {:?}: use syslog, rfc5424, combined, json, logfmt or cef",
                    crate::run::clip(p)
                )
            })?;
            return Ok(HeaderParser::preset(preset, self.message_field.as_deref()));
        }
        if self.message_field.is_some() {
            bail!("--message-field needs --preset json or logfmt");
        }
        Ok(whole_line())
    }

    pub fn miner(&self) -> Result<Miner> {
        match &self.state {
            Some(p) if self.match_only && !p.exists() => bail!(
                "--match-only needs a saved state, but {} does not exist; run once without --match-only to create it",
                crate::run::clip(&p.display().to_string())
            ),
            Some(p) if p.exists() => {
                let f = std::fs::File::open(p).with_context(|| format!("opening state {}", crate::run::clip(&p.display().to_string())))?;
                Miner::load_checked(
                    std::io::BufReader::new(f),
                    &self.state_context()?,
                    &MinerConfig::default(),
                    self.force,
                )
                .with_context(|| format!("reading state {}", crate::run::clip(&p.display().to_string())))
            }
            _ => Ok(Miner::new(MinerConfig::default())),
        }
    }

    /// What a saved state records about how lines were read: a state made
    /// under another header or multi-line mode is refused (`--force`).
    pub fn state_context(&self) -> Result<StateContext> {
        let header = match (&self.format, &self.preset) {
            (Some(f), _) => format!("format:{f}"),
            (None, Some(p)) => match &self.message_field {
                Some(m) => format!("preset:{}; message-field:{m}", p.to_ascii_lowercase()),
                None => format!("preset:{}", p.to_ascii_lowercase()),
            },
            (None, None) => "whole-line".to_string(),
        };
        Ok(StateContext::new(format!(
            "{header}; multiline:{}",
            self.multiline()?
        )))
    }

    pub fn save_state(&self, engine: &Engine) -> Result<()> {
        let miner = &engine.miner;
        if let (Some(p), false) = (&self.state, self.match_only) {
            let tmp = p.with_extension("tmp");
            let f = std::fs::File::create(&tmp)
                .with_context(|| format!("writing state {}", crate::run::clip(&tmp.display().to_string())))?;
            let mut w = std::io::BufWriter::new(f);
            miner.save_with_context(&mut w, &self.state_context()?)?;
            std::io::Write::flush(&mut w)?;
            drop(w);
            std::fs::rename(&tmp, p)
                .with_context(|| format!("saving state {}", crate::run::clip(&p.display().to_string())))?;
        }
        Ok(())
    }

    pub fn engine(&self) -> Result<Engine> {
        let mut engine = Engine::new(self.header()?, self.miner()?, self.engine_options()?);
        crate::progress::attach(&mut engine, self);
        Ok(engine)
    }

    /// The engine settings these arguments give (threads, line and batch
    /// sizes, multi-line mode), checked.
    pub fn engine_options(&self) -> Result<Options> {
        let mut opts = Options::default();
        if let Some(t) = self.threads {
            if t == 0 {
                bail!("--threads must be at least 1");
            }
            opts.threads = t;
        }
        if self.max_line_bytes == 0 {
            bail!("--max-line-bytes must be at least 1");
        }
        opts.max_line_bytes = self.max_line_bytes;
        opts.match_only = self.match_only;
        opts.batch_lines = self.batch_lines.max(1);
        opts.multiline = self.multiline()?;
        Ok(opts)
    }

    /// The multi-line mode in force (see `--multiline`).
    pub fn multiline(&self) -> Result<logsieve_framing::Multiline> {
        match &self.multiline {
            Some(m) => m.parse().map_err(|e| anyhow::anyhow!("invalid --multiline: {e}")),
            None => {
                // One event per line for the key-value presets (like
                // JSON lines); the text presets join continuation lines.
                let text_preset = self.preset.as_deref().is_some_and(|p| {
                    !["json", "logfmt", "cef"]
                        .iter()
                        .any(|k| p.eq_ignore_ascii_case(k))
                });
                Ok(if self.format.is_some() || text_preset {
                    logsieve_framing::Multiline::Auto
                } else {
                    logsieve_framing::Multiline::None
                })
            }
        }
    }

    /// [`InputArgs::inputs`] one argument at a time: an argument that
    /// cannot be expanded (a glob with no match, a missing directory) is
    /// reported once and the others are still read; returns the inputs and
    /// how many arguments failed. Standard input named twice is an error
    /// (two readers would split its bytes between them).
    pub fn inputs_checked(&self) -> Result<(Vec<logsieve_source::Input>, usize)> {
        if self.files.is_empty() {
            return Ok((vec![logsieve_source::Input::Stdin], 0));
        }
        let mut all = Vec::new();
        let mut failed = 0;
        for arg in &self.files {
            match self.expand(std::slice::from_ref(arg)) {
                Ok(v) => all.extend(v),
                Err(e) => {
                    crate::run::report_error(&e);
                    failed += 1;
                }
            }
        }
        let stdin_like = all
            .iter()
            .filter(|i| match i {
                logsieve_source::Input::Stdin => true,
                logsieve_source::Input::File(p) => {
                    let p = p.to_string_lossy();
                    p == "/dev/stdin" || p == "/dev/fd/0" || p == "/proc/self/fd/0"
                }
            })
            .count();
        if stdin_like > 1 {
            bail!("standard input is named {stdin_like} times (`-`, /dev/stdin); name it once: it can be read only once");
        }
        Ok((all, failed))
    }

    /// The inputs: `-` is standard input, a directory is every file below
    /// it (hidden files and .gitignore/.ignore'd ones skipped, sorted), a
    /// glob is its matches (sorted). With --follow, a missing file is kept
    /// (it is waited for) and rotated or compressed copies are left out.
    pub fn inputs(&self) -> Result<Vec<logsieve_source::Input>> {
        if self.files.is_empty() {
            return Ok(vec![logsieve_source::Input::Stdin]);
        }
        Ok(self.expand(&self.files)?)
    }

    fn expand(&self, args: &[String]) -> Result<Vec<logsieve_source::Input>, logsieve_source::SourceError> {
        if self.follow {
            logsieve_source::expand_follow_inputs(args)
        } else {
            logsieve_source::expand_inputs(args)
        }
    }
}

/// The end-of-run summary on stderr.
pub fn summary(engine: &Engine, res: &crate::run::RunResult, started: Instant) {
    let stats = &res.stats;
    crate::progress::finish();
    let templates = engine.miner.distinct_templates();
    let secs = started.elapsed().as_secs_f64();
    let rate = if secs > 0.0 {
        stats.lines as f64 / secs
    } else {
        0.0
    };
    eprintln!(
        "logsieve: {} lines read{}, {} parsed, {} flagged (header mismatch {}, invalid UTF-8 {}, NUL {}, truncated {}, no template {}), {} empty; {} templates; {:.2}s, {:.0} lines/s",
        stats.lines,
        if stats.joined > 0 {
            format!(
                " ({} records: {} continuation lines joined into multi-line events)",
                stats.records, stats.joined
            )
        } else {
            String::new()
        },
        stats.parsed,
        stats.flagged,
        stats.header_mismatch,
        stats.invalid_utf8,
        stats.nul,
        stats.truncated,
        stats.no_template,
        stats.empty,
        templates,
        secs,
        rate
    );
    crate::run::print_follow_reports();
    if res.stopped {
        eprintln!(
            "logsieve: stopped by a signal: every line read was processed and written; the rest was not read"
        );
    }
    if res.failed > 0 {
        eprintln!(
            "logsieve: {} input{} failed (see the errors above); exit status 2",
            res.failed,
            if res.failed == 1 { "" } else { "s" }
        );
    }
    if let Some(l) = engine.batch_latency() {
        eprintln!(
            "logsieve: batch latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} batches of up to {} lines",
            l.p50,
            l.p99,
            l.max,
            l.count,
            engine.options().batch_lines
        );
    }
}

/// The parser used without --format or --preset: the whole line is content.
pub fn whole_line() -> HeaderParser {
    HeaderParser::from_format("<Content>").expect("the one-field format is valid")
}
