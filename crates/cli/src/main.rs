//! The `logsieve` binary: parses flags, wires the stages, maps errors to
//! exit codes (see `EXIT STATUS` in `--help`: 0 success, 1 `eval` below
//! `--min-ga`/`--min-pa`, 2 error, 130 forced stop; a closed output pipe
//! is success).

mod cluster_cmd;
mod color;
mod detect_cmd;
mod diag;
mod eval_cmd;
mod input;
mod manual;
mod output;
mod parse_cmd;
mod progress;
mod run;

use clap::{CommandFactory, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// The exit statuses shared by every command, for `--help`.
macro_rules! exit_status {
    ($extra:literal) => {
        concat!(
            "EXIT STATUS:\n",
            "  0    success; also when a first Ctrl-C or SIGTERM stops the run cleanly\n",
            "       (output flushed, state saved), or when the output pipe is closed\n",
            $extra,
            "  2    error: a bad flag or value, an unreadable or damaged input (the\n",
            "       other inputs are still processed, and the status is 2 at the end)\n",
            "  130  forced stop: a second Ctrl-C or SIGTERM"
        )
    };
}

/// `--help` text after the flags of commands without a status 1.
const EXIT_STATUS: &str = exit_status!("");

/// Turn raw logs into templates with typed variables, and raise Sigma alerts.
#[derive(Parser)]
#[command(name = "logsieve", version, about, long_about = None, after_help = concat!("\
EXAMPLES:
  logsieve parse --preset syslog /var/log/auth.log
  logsieve templates --format '<Date> <Time> <Level> <Component>: <Content>' app.log.gz
  logsieve eval --loghub testdata/loghub-2k
  logsieve detect --mapping windows --rules rules/ events.jsonl
  logsieve detect --rules rules/ -o table Security.evtx

", exit_status!("  1    eval: an average score below --min-ga or --min-pa\n")))]
struct Cli {
    /// Colour the templates table: auto (stdout is a terminal and NO_COLOR
    /// is not set), always or never. Records are never coloured.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = color::ColorChoice::Auto)]
    color: color::ColorChoice,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse every line into a template, its variables and header fields.
    ///
    /// Regular files are read twice (mine, then report with the final
    /// templates), so every line of one template carries the same text and
    /// id. Inputs that can be read only once (standard input, pipes, FIFOs,
    /// /dev/stdin, process substitution) and --follow are read in ONE
    /// streaming pass, never spooled: each line is reported with the
    /// template known when it arrived, as soon as it arrives. Output has one
    /// record per input line (per event with --multiline), in input order
    /// per input. Ctrl-C/SIGTERM stop cleanly: what was read is written,
    /// --state saved, exit 0.
    #[command(after_help = EXIT_STATUS)]
    Parse(parse_cmd::ParseArgs),
    /// List the templates found, most frequent first, with counts and an example.
    #[command(after_help = EXIT_STATUS)]
    Templates(parse_cmd::TemplatesArgs),
    /// Score parsing against Loghub ground truth (GA, FGA, PA, FTA).
    #[command(after_help = exit_status!(
        "  1    an average score below --min-ga or --min-pa (the scores are still printed)\n"
    ))]
    Eval(eval_cmd::EvalArgs),
    /// Run Sigma rules (and meta filters, correlations) over events (.evtx,
    /// JSON, text logs) and write alerts (JSON lines, CSV or a table).
    #[command(after_help = EXIT_STATUS)]
    Detect(detect_cmd::DetectArgs),
    /// Run as a service: ingest lines from shippers (HTTP, Loki push, OTLP
    /// over HTTP and gRPC, syslog over TCP and UDP, a Unix socket), mine
    /// templates per source, run Sigma rules, keep templates and alerts in
    /// an embedded store and answer queries.
    ///
    /// With no flags it listens on http://127.0.0.1:7470 and keeps its data
    /// in ./logsieve-data. A 2xx to an ingestion request means its lines'
    /// counts are committed. SIGTERM/SIGINT: stop accepting, drain, commit,
    /// exit 0. SIGHUP (or POST /v1/rules/reload) reloads the rules.
    /// Endpoints: GET /v1/openapi.json.
    #[command(
        after_help = "EXIT STATUS:\n  0    stopped by SIGTERM or SIGINT after draining and committing what was accepted\n  2    could not start or stopped on an error: a bad setting, a busy address, an\n       unreadable store or rules"
    )]
    Serve(Box<cluster_cmd::ServeCmd>),
    /// Scale-out worker: owns partitions of the NATS JetStream stream that
    /// `serve --nats` front ends publish to (leases in a KV bucket), mines
    /// templates per source, runs the Sigma rules, and writes to the shared
    /// PostgreSQL store; acks a message only after the store transaction
    /// holding its effects committed. A killed worker's partitions move to
    /// the others after --lease-ttl, with exact counts. SIGTERM/SIGINT:
    /// commit, checkpoint, release the partitions, exit 0.
    #[command(
        after_help = "EXIT STATUS:\n  0    stopped by SIGTERM or SIGINT after committing and releasing its partitions\n  2    could not start or stopped on an error: a bad setting, NATS or the store unreachable at start, a partition count that differs from the cluster's"
    )]
    Worker(logsieve_cluster::args::WorkerArgs),
    /// Scale-out cluster commands.
    #[command(subcommand)]
    Cluster(cluster_cmd::ClusterCmd),
    /// Print a shell completion script (e.g. `logsieve completions bash >
    /// /etc/bash_completion.d/logsieve`).
    #[command(after_help = EXIT_STATUS)]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on standard output, or write one page
    /// per command into a folder.
    #[command(after_help = EXIT_STATUS)]
    Man {
        /// Write logsieve.1 and logsieve-COMMAND.1 into DIR instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// How many times the command reads each file (for the progress display).
fn passes(c: &Command) -> u32 {
    match c {
        Command::Parse(a) => 2 - u32::from(a.input.match_only),
        Command::Detect(a) => 2 - u32::from(a.input.match_only),
        _ => 1,
    }
}

fn run(cli: &Cli) -> anyhow::Result<i32> {
    match &cli.command {
        Command::Parse(a) => parse_cmd::run_parse(a),
        Command::Templates(a) => parse_cmd::run_templates(a),
        Command::Eval(a) => eval_cmd::run(a),
        Command::Detect(a) => detect_cmd::run(a),
        Command::Serve(a) => cluster_cmd::serve(a),
        Command::Worker(a) => cluster_cmd::worker(a),
        Command::Cluster(c) => cluster_cmd::cluster(c),
        Command::Completions { shell } => {
            let mut out = std::io::stdout().lock();
            manual::completions(Cli::command(), *shell, &mut out).map(|()| 0)
        }
        Command::Man { dir } => {
            let mut out = std::io::stdout().lock();
            manual::man(Cli::command(), dir.as_deref(), &mut out).map(|()| 0)
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            // clap quotes the bad value whole: cut long ones.
            eprint!("{}", run::clip_words(&e.render().to_string()));
            return ExitCode::from(2);
        }
    };
    color::set_choice(cli.color);
    progress::set_passes(passes(&cli.command));
    let result = run(&cli);
    progress::finish();
    // Output files appear under their names only after a run without error.
    // Success replaces FILE; a failed input (exit 2) keeps FILE as it was
    // and leaves the readable lines' output beside it.
    let result = result.and_then(|code| {
        if code == 2 {
            output::keep_beside();
            Ok(code)
        } else {
            output::commit().map(|()| code)
        }
    });
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            output::discard();
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            // Each cause is clipped as a last guard: a message echoes at
            // most 200 characters of user input plus its own words.
            // A cause already quoted by the message before it is not
            // repeated.
            let mut causes: Vec<String> = Vec::new();
            for c in e.chain() {
                let c = run::clip_cause(&c.to_string());
                if !causes.last().is_some_and(|prev| prev.contains(&c)) {
                    causes.push(c);
                }
            }
            eprintln!("logsieve: error: {}", causes.join(": "));
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
