//! `logsieve parse` and `logsieve templates`.

use crate::input::{summary, InputArgs};
use anyhow::Result;
use clap::{Args, ValueEnum};
use logsieve_engine::OutputFormat;
use std::io::Write;
use std::time::Instant;

/// Record encodings of `parse`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseOutput {
    /// One JSON object per line: line, source, template_id, template, params, param_types, fields, message, flags.
    Jsonl,
    /// Loghub structured CSV: LineId,<header fields>,Content,EventId,EventTemplate.
    Csv,
}

#[derive(Args, Debug)]
pub struct ParseArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Run detection in the same pass: Sigma rules (files or folders).
    /// Needs --alerts.
    #[arg(long = "rules", value_name = "PATH", requires = "alerts")]
    pub rules: Vec<std::path::PathBuf>,

    /// With --rules: the field mapping (windows, linux, webserver, a YAML
    /// file, or none). Default: linux for --preset syslog/rfc5424, webserver
    /// for --preset combined; other inputs need one.
    #[arg(long, value_name = "NAME|FILE", requires = "rules")]
    pub mapping: Option<String>,

    /// With --rules: fail if any rule is rejected.
    #[arg(long, requires = "rules")]
    pub strict: bool,

    /// With --rules: values for `%name%` placeholders of the `expand`
    /// modifier (a YAML map from name to values).
    #[arg(long, value_name = "FILE", requires = "rules")]
    pub placeholders: Option<std::path::PathBuf>,

    /// With --rules: a pySigma processing pipeline (YAML) applied to
    /// every rule (see `detect --help`); repeat for more.
    #[arg(long = "pipeline", value_name = "FILE", requires = "rules")]
    pub pipelines: Vec<std::path::PathBuf>,

    /// With --rules: write alerts (JSON lines) to FILE.
    #[arg(long, value_name = "FILE", requires = "rules")]
    pub alerts: Option<std::path::PathBuf>,

    /// Output encoding.
    #[arg(long, short = 'o', value_enum, default_value_t = ParseOutput::Jsonl)]
    pub output: ParseOutput,

    /// Write the records to FILE instead of standard output (as FILE.tmp,
    /// renamed to FILE when the run ends without error; with --follow,
    /// FILE directly).
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<std::path::PathBuf>,
}

/// Encodings of `templates`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplatesOutput {
    /// Aligned columns: count, id, template.
    Table,
    /// One JSON object per template: template_id, template, count, example.
    Jsonl,
    /// CSV: EventId,EventTemplate,Occurrences,Example.
    Csv,
}

#[derive(Args, Debug)]
pub struct TemplatesArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Output encoding.
    #[arg(long, short = 'o', value_enum, default_value_t = TemplatesOutput::Table)]
    pub output: TemplatesOutput,

    /// Print at most N templates.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    /// Write the list to FILE instead of standard output (as FILE.tmp,
    /// renamed to FILE when the run ends without error).
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<std::path::PathBuf>,
}

pub fn run_parse(args: &ParseArgs) -> Result<i32> {
    let started = Instant::now();
    let mut engine = args.input.engine()?;
    let mut out = crate::output::writer_for(&args.input, args.output_file.as_deref())?;
    let format = match args.output {
        ParseOutput::Jsonl => OutputFormat::Jsonl,
        ParseOutput::Csv => OutputFormat::Csv,
    };
    let detector = if args.rules.is_empty() {
        None
    } else {
        let rule_args = crate::detect_cmd::RuleArgs {
            rules: args.rules.clone(),
            mapping: crate::detect_cmd::choose_mapping(
                args.mapping.as_deref(),
                args.input.preset.as_deref(),
                &[crate::detect_cmd::Sniffed::Text],
            )?,
            placeholders: args.placeholders.clone(),
            pipelines: args.pipelines.clone(),
            strict: args.strict,
        };
        Some(crate::detect_cmd::load_detector(
            &rule_args,
            args.input.quiet,
            args.input.engine_options()?.threads,
        )?)
    };
    let sink = match (&detector, &args.alerts) {
        (Some(d), Some(p)) => Some(crate::detect_cmd::DetectionSink::new(
            d,
            crate::output::writer_for(&args.input, Some(p))?,
        )),
        _ => None,
    };
    let (inputs, bad_args) = args.input.inputs_checked()?;
    crate::detect_cmd::refuse_evtx(&inputs)?;
    let mut res = crate::run::process(
        &args.input,
        &inputs,
        &mut engine,
        Some(format),
        &mut out,
        sink.as_ref(),
    )?;
    res.failed += bad_args;
    out.flush()?;
    if let Some(s) = &sink {
        s.finish(args.input.quiet, 0)?;
    }
    args.input.save_state(&engine)?;
    if !args.input.quiet {
        summary(&engine, &res, started);
        crate::diag::after_run(&args.input, &engine.header, &res.stats);
    }
    Ok(res.code())
}

pub fn run_templates(args: &TemplatesArgs) -> Result<i32> {
    let started = Instant::now();
    let mut engine = args.input.engine()?;
    let (inputs, bad_args) = args.input.inputs_checked()?;
    crate::detect_cmd::refuse_evtx(&inputs)?;
    let mut res = crate::run::process::<logsieve_engine::NoObserver>(
        &args.input,
        &inputs,
        &mut engine,
        None,
        &mut std::io::sink(),
        None,
    )?;
    res.failed += bad_args;
    args.input.save_state(&engine)?;
    let mut list = engine.miner.summaries();
    if let Some(n) = args.limit {
        list.truncate(n);
    }
    let mut out = crate::output::writer_for(&args.input, args.output_file.as_deref())?;
    match args.output {
        TemplatesOutput::Table => {
            let to_stdout = crate::output::is_stdout(args.output_file.as_deref());
            crate::output::templates_table(&mut out, &list, crate::color::enabled(to_stdout))?;
        }
        TemplatesOutput::Jsonl => {
            for t in &list {
                serde_json::to_writer(&mut out, t)?;
                out.write_all(b"\n")?;
            }
        }
        TemplatesOutput::Csv => {
            let mut buf = Vec::new();
            logsieve_sink::csv_row(&mut buf, ["EventId", "EventTemplate", "Occurrences", "Example"]);
            for t in &list {
                let id = t.template_id.to_string();
                let count = t.count.to_string();
                logsieve_sink::csv_row(
                    &mut buf,
                    [
                        id.as_str(),
                        t.template.as_str(),
                        count.as_str(),
                        t.example.as_str(),
                    ],
                );
            }
            out.write_all(&buf)?;
        }
    }
    out.flush()?;
    if !args.input.quiet {
        summary(&engine, &res, started);
        crate::diag::after_run(&args.input, &engine.header, &res.stats);
    }
    Ok(res.code())
}
