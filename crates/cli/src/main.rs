//! The `logsieve` binary: parses flags, wires the stages, maps errors to
//! exit codes (0 success, 2 error; a closed output pipe is success).

mod detect_cmd;
mod eval_cmd;
mod input;
mod parse_cmd;
mod run;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Turn raw logs into templates with typed variables, and raise Sigma alerts.
#[derive(Parser)]
#[command(name = "logsieve", version, about, long_about = None, after_help = "\
EXAMPLES:
  logsieve parse --preset syslog /var/log/auth.log
  logsieve templates --format '<Date> <Time> <Level> <Component>: <Content>' app.log.gz
  logsieve eval --loghub testdata/loghub-2k
  logsieve detect --mapping windows --rules rules/ events.jsonl")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse every line into a template, its variables and header fields.
    ///
    /// Files are read twice (mine, then report with the final templates), so
    /// every line of one template carries the same text and id. Standard
    /// input and --follow are reported in one pass, each line with the
    /// template known when it arrived. Output has one record per input
    /// line, in input order.
    Parse(parse_cmd::ParseArgs),
    /// List the templates found, most frequent first, with counts and an example.
    Templates(parse_cmd::TemplatesArgs),
    /// Score parsing against Loghub ground truth (GA, FGA, PA, FTA).
    Eval(eval_cmd::EvalArgs),
    /// Run Sigma rules over events and write alerts as JSON lines.
    Detect(detect_cmd::DetectArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Parse(a) => parse_cmd::run_parse(a),
        Command::Templates(a) => parse_cmd::run_templates(a),
        Command::Eval(a) => eval_cmd::run(a),
        Command::Detect(a) => detect_cmd::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("logsieve: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.to_string().contains("Broken pipe")
    })
}
