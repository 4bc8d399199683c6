//! The per-line path for callers that bring their own batches (the
//! service): one miner per caller-chosen stream, batches that already sit in
//! memory. Stream inputs of the CLI go through the same
//! [`Engine::one_pass`], so `logsieve serve` and `logsieve parse` give a
//! line the same template, id and params.

use crate::pipeline::{observe_record, render_with, Engine, EngineError, Observer, OutputFormat, Scratch};
use crate::record::Stats;
use logsieve_framing::LineBatch;
use logsieve_template::{ClusterId, Miner};

/// Reusable per-caller buffers for [`Engine::learn_batch`] and
/// [`Engine::analyze_batch`] (one per thread that calls them).
pub struct BatchScratch(pub(crate) Scratch);

impl Engine {
    /// Buffers for the batch calls; keep one and reuse it.
    pub fn batch_scratch(&self) -> BatchScratch {
        BatchScratch(self.scratch())
    }

    /// One pass over `b` with `miner`: each entry is learned (unless the
    /// engine is match-only) and reported with the template known when it
    /// arrives — what the CLI does for a stream. The observer sees every
    /// record and collects once, at the end; records are appended to `out`
    /// in `format` when given.
    #[allow(clippy::too_many_arguments)]
    pub fn learn_batch<O: Observer>(
        &self,
        miner: &mut Miner,
        b: &LineBatch,
        source: &str,
        observer: Option<&O>,
        format: Option<OutputFormat>,
        s: &mut BatchScratch,
        out: &mut Vec<u8>,
    ) -> Result<Stats, EngineError> {
        self.one_pass(miner, b, source, observer, format, &mut s.0, out)
    }

    /// Two passes over `b` with `miner`: every entry is learned first, then
    /// each is reported with the templates as they stand after the whole
    /// batch — what `logsieve parse` does for a file, so a fresh miner gives
    /// exactly `parse`'s templates and params for the same lines.
    #[allow(clippy::too_many_arguments)]
    pub fn analyze_batch<O: Observer>(
        &self,
        miner: &mut Miner,
        b: &LineBatch,
        source: &str,
        observer: Option<&O>,
        format: Option<OutputFormat>,
        s: &mut BatchScratch,
        out: &mut Vec<u8>,
    ) -> Result<Stats, EngineError> {
        let s = &mut s.0;
        let templates = self.opts.templates;
        if !self.opts.match_only && templates {
            let text = b.text();
            for i in 0..b.len() {
                self.prepare_entry(b, text, i, s);
                miner.learn(&s.masked, &s.header.content);
            }
        }
        self.report_entries(miner, b, source, observer, format, s, out, |miner, s| {
            templates.then(|| miner.lookup(&s.masked)).flatten()
        })
    }

    /// Learns, observes and renders every entry of `b` in one pass (the
    /// stream path of the CLI and the service's ingest path).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn one_pass<O: Observer>(
        &self,
        miner: &mut Miner,
        b: &LineBatch,
        source: &str,
        observer: Option<&O>,
        format: Option<OutputFormat>,
        s: &mut Scratch,
        out: &mut Vec<u8>,
    ) -> Result<Stats, EngineError> {
        if b.is_empty() {
            return Ok(Stats::default());
        }
        let match_only = self.opts.match_only;
        let templates = self.opts.templates;
        self.report_entries(miner, b, source, observer, format, s, out, |miner, s| {
            if !templates {
                None
            } else if match_only {
                miner.lookup(&s.masked)
            } else {
                Some(miner.learn(&s.masked, &s.header.content))
            }
        })
    }

    /// Prepares every entry of `b`, gives it the template `template`
    /// chooses, counts, observes and renders it: the loop both passes share.
    #[allow(clippy::too_many_arguments)]
    fn report_entries<O: Observer>(
        &self,
        miner: &mut Miner,
        b: &LineBatch,
        source: &str,
        observer: Option<&O>,
        format: Option<OutputFormat>,
        s: &mut Scratch,
        out: &mut Vec<u8>,
        mut template: impl FnMut(&mut Miner, &Scratch) -> Option<ClusterId>,
    ) -> Result<Stats, EngineError> {
        let mut stats = Stats::default();
        let mut ob = O::Batch::default();
        let text = b.text();
        for i in 0..b.len() {
            let line = b.line_no(i);
            let mut f = self.prepare_entry(b, text, i, s);
            let mark = miner.pending_merges().len();
            let c = template(miner, s);
            f.no_template = c.is_none() && self.opts.templates;
            stats.count(&f, b.line(i).len(), b.line(i).is_empty(), b.line_count(i));
            if let Some(o) = observer {
                observe_record(o, miner, &self.header, line, source, (b, text, i), c, s, &mut ob);
            }
            if let Some(format) = format {
                render_with(
                    miner,
                    &self.header,
                    format,
                    line,
                    b.last_line_no(i),
                    source,
                    c,
                    miner.pending_merges().get(mark..).unwrap_or_default(),
                    &f,
                    s,
                    out,
                );
            }
        }
        if let Some(o) = observer {
            o.collect(ob)?;
        }
        Ok(stats)
    }
}
