//! `logsieve eval`: parse logs with the default configuration and score the
//! result against Loghub ground truth.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use logsieve_engine::{Engine, Options, OutputFormat};
use logsieve_eval::Metrics;
use logsieve_header::HeaderParser;
use logsieve_source::Input;
use logsieve_template::{Miner, MinerConfig};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What the columns of the table measure (Loghub-2.0 definitions, see
/// `crates/eval`), printed after it.
pub const LEGEND: &str = "\
GA   grouping accuracy: share of lines grouped with exactly the lines their true template groups
FGA  F1 over templates: a template is right when its lines are exactly one true template's lines
PA   parsing accuracy: share of lines whose template text equals the true template
FTA  F1 over templates: right when all its lines have one true template and its text is that template's
";

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalOutput {
    /// Aligned table with an Average row.
    Table,
    /// One JSON object per dataset, then the average (also: json).
    #[value(alias = "json")]
    Jsonl,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A folder laid out like Loghub-2k: formats.json and one folder per log
    /// holding NAME.log and NAME.log_structured_corrected.csv.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["format", "truth", "log"])]
    pub loghub: Option<PathBuf>,

    /// The log's header format (Loghub notation), with --truth.
    #[arg(long, value_name = "FORMAT", requires = "truth")]
    pub format: Option<String>,

    /// Ground truth: a Loghub X_structured_corrected.csv.
    #[arg(long, value_name = "CSV", requires = "log")]
    pub truth: Option<PathBuf>,

    /// The raw log scored against --truth.
    #[arg(value_name = "LOG")]
    pub log: Option<PathBuf>,

    /// Worker threads (scores do not depend on it).
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,

    /// Output encoding.
    #[arg(long, short = 'o', value_enum, default_value_t = EvalOutput::Table)]
    pub output: EvalOutput,

    /// Write the scores to FILE instead of standard output (as FILE.tmp,
    /// renamed to FILE when the run ends without error).
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,

    /// Exit with status 1 when the average GA is below this.
    #[arg(long, value_name = "X")]
    pub min_ga: Option<f64>,

    /// Exit with status 1 when the average PA is below this.
    #[arg(long, value_name = "X")]
    pub min_pa: Option<f64>,
}

/// Parses `log` with a fresh default miner and scores it.
pub fn score(format: Option<&str>, log: &Path, truth: &Path, threads: Option<usize>) -> Result<Metrics> {
    let header = match format {
        Some(f) => HeaderParser::from_format(f)
            .with_context(|| format!("invalid format {:?}", crate::run::clip(f)))?,
        None => crate::input::whole_line(),
    };
    let mut opts = Options::default();
    if let Some(t) = threads {
        opts.threads = t.max(1);
    }
    let mut engine = Engine::new(header, Miner::new(MinerConfig::default()), opts);
    let input = Input::File(log.to_path_buf());
    engine.mine(&input)?;
    let mut buf = Vec::new();
    engine.report(&input, OutputFormat::TemplateText, &mut buf)?;
    let text = String::from_utf8(buf).context("template text is not UTF-8")?;
    let predicted: Vec<&str> = text.lines().collect();
    let truth = logsieve_eval::read_truth(truth)?;
    let truth_templates: Vec<&str> = truth.templates().collect();
    Ok(logsieve_eval::evaluate(&predicted, &truth_templates)?)
}

fn find_dataset(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf)> {
    let sub = dir.join(name);
    let mut log = None;
    let mut truth = None;
    let mut corrected = false;
    let entries = std::fs::read_dir(&sub).with_context(|| format!("reading {}", sub.display()))?;
    let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    for p in names {
        let n = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if n.ends_with(".log") {
            log = Some(p);
        } else if n.ends_with("_structured_corrected.csv") {
            truth = Some(p);
            corrected = true;
        } else if n.ends_with("_structured.csv") && !corrected {
            truth = Some(p);
        }
    }
    match (log, truth) {
        (Some(l), Some(t)) => Ok((l, t)),
        _ => bail!("{} needs a *.log and a *_structured_corrected.csv", sub.display()),
    }
}

pub fn run(args: &EvalArgs) -> Result<i32> {
    let mut rows: Vec<(String, Metrics)> = Vec::new();
    if let Some(dir) = &args.loghub {
        let formats_path = dir.join("formats.json");
        let formats = logsieve_header::load_formats_json(&formats_path)
            .with_context(|| format!("reading {}", formats_path.display()))?;
        if formats.is_empty() {
            bail!("{} lists no dataset", formats_path.display());
        }
        for (name, format) in &formats {
            let (log, truth) = find_dataset(dir, name)?;
            let m =
                score(Some(format), &log, &truth, args.threads).with_context(|| format!("dataset {name}"))?;
            rows.push((name.clone(), m));
        }
    } else {
        let (Some(truth), Some(log)) = (&args.truth, &args.log) else {
            bail!("give --loghub DIR, or --truth CSV and a LOG (with --format for its header)");
        };
        let m = score(args.format.as_deref(), log, truth, args.threads)?;
        rows.push((log.display().to_string(), m));
    }
    let metrics: Vec<Metrics> = rows.iter().map(|(_, m)| m.clone()).collect();
    let avg = logsieve_eval::average(&metrics);
    let mut out = crate::output::writer(args.output_file.as_deref())?;
    match args.output {
        EvalOutput::Table => {
            let named: Vec<(&str, &Metrics)> = rows.iter().map(|(n, m)| (n.as_str(), m)).collect();
            write!(out, "{}", logsieve_eval::format_table(&named, &avg))?;
            write!(out, "\n{LEGEND}")?;
        }
        EvalOutput::Jsonl => {
            for (n, m) in &rows {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"dataset": n, "ga": m.ga, "fga": m.fga, "pa": m.pa, "fta": m.fta, "lines": m.lines})
                )?;
            }
            writeln!(
                out,
                "{}",
                serde_json::json!({"dataset": "Average", "ga": avg.ga, "fga": avg.fga, "pa": avg.pa, "fta": avg.fta})
            )?;
        }
    }
    out.flush()?;
    let mut code = 0;
    if let Some(min) = args.min_ga {
        if avg.ga < min {
            eprintln!("logsieve: average GA {:.3} is below --min-ga {min}", avg.ga);
            code = 1;
        }
    }
    if let Some(min) = args.min_pa {
        if avg.pa < min {
            eprintln!("logsieve: average PA {:.3} is below --min-pa {min}", avg.pa);
            code = 1;
        }
    }
    Ok(code)
}
