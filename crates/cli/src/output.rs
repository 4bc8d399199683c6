//! Where records go: standard output or `--output-file FILE`.
//!
//! A file is written atomically: records go to `FILE.tmp` next to it, and
//! [`commit`] (called by `main` when the command returned without an error)
//! renames it over `FILE`. After an error [`discard`] removes the temporary
//! file, so `FILE` is either the complete output of a run or untouched.
//! `--follow` writes `FILE` directly ([`writer_for`]), so the file grows
//! while the input does.

use crate::input::InputArgs;
use anyhow::{Context, Result};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Temporary files written by [`writer`], with their final names.
static PENDING: Mutex<Vec<(PathBuf, PathBuf)>> = Mutex::new(Vec::new());

/// Buffer size of output writers. Small writes (one record, one alert) are
/// gathered up to this; a write at least this large (a batch of records or
/// alerts encoded by a worker, hundreds of KiB) goes straight to the file
/// instead of being copied through the buffer on the writing thread, the
/// one sequential thread of a run.
const BUF: usize = 64 << 10;

/// A buffered writer on `path` (written atomically, see the module docs),
/// or on standard output for `None` or `-`.
pub fn writer(path: Option<&Path>) -> Result<Box<dyn Write + Send>> {
    match path {
        None => Ok(stdout()),
        Some(p) if p.as_os_str() == "-" => Ok(stdout()),
        Some(p) => {
            let tmp = tmp_path(p);
            let f = std::fs::File::create(&tmp)
                .with_context(|| format!("creating {}", crate::diag::clip_path(&tmp)))?;
            PENDING
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((tmp, p.to_path_buf()));
            Ok(Box::new(BufWriter::with_capacity(BUF, f)))
        }
    }
}

/// A writer created at once on `path` (no temporary file), for output that
/// must be visible while the command runs.
pub fn live_writer(path: Option<&Path>) -> Result<Box<dyn Write + Send>> {
    match path {
        None => Ok(stdout()),
        Some(p) if p.as_os_str() == "-" => Ok(stdout()),
        Some(p) => {
            let f = std::fs::File::create(p)
                .with_context(|| format!("creating {}", crate::diag::clip_path(p)))?;
            Ok(Box::new(BufWriter::with_capacity(BUF, f)))
        }
    }
}

/// [`live_writer`] with `--follow` (the run has no end to wait for),
/// [`writer`] otherwise.
pub fn writer_for(input: &InputArgs, path: Option<&Path>) -> Result<Box<dyn Write + Send>> {
    refuse_input_as_output(path, &input.inputs().unwrap_or_default())?;
    if input.follow {
        live_writer(path)
    } else {
        writer(path)
    }
}

fn stdout() -> Box<dyn Write + Send> {
    Box::new(BufWriter::with_capacity(BUF, std::io::stdout()))
}

/// `FILE.tmp`, next to `FILE`.
pub fn tmp_path(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Renames every temporary output file over its final name. The writers
/// must have been flushed and dropped (the command has returned).
pub fn commit() -> Result<()> {
    let pending = std::mem::take(&mut *PENDING.lock().unwrap_or_else(|e| e.into_inner()));
    for (tmp, dest) in pending {
        std::fs::rename(&tmp, &dest).with_context(|| format!("writing {}", crate::diag::clip_path(&dest)))?;
    }
    Ok(())
}

/// An input failed part-way (exit 2): the output of the readable lines is
/// kept, but beside FILE, which stays as it was; says where.
pub fn keep_beside() {
    let pending = std::mem::take(&mut *PENDING.lock().unwrap_or_else(|e| e.into_inner()));
    for (tmp, dest) in pending {
        eprintln!(
            "logsieve: an input failed, so {} was left as it was; the output of the lines that were read is in {}",
            crate::diag::clip_path(&dest),
            crate::diag::clip_path(&tmp)
        );
    }
}

/// Refuses an output file that is also an input (it would be replaced by
/// the records of its own lines, or grow while it is followed).
pub fn refuse_input_as_output(path: Option<&Path>, inputs: &[logsieve_source::Input]) -> Result<()> {
    let Some(out) = path.filter(|p| !is_stdout(Some(p))) else {
        return Ok(());
    };
    let Ok(out_meta) = std::fs::metadata(out) else {
        return Ok(()); // does not exist yet: cannot be an input
    };
    for i in inputs {
        if let Some(p) = i.path() {
            if std::fs::metadata(p).is_ok_and(|m| same_file(&m, &out_meta)) {
                anyhow::bail!(
                    "--output-file {} is also an input; write the output somewhere else",
                    crate::diag::clip_path(out)
                );
            }
        }
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_a: &std::fs::Metadata, _b: &std::fs::Metadata) -> bool {
    false
}

/// Removes every temporary output file (the command failed).
pub fn discard() {
    let pending = std::mem::take(&mut *PENDING.lock().unwrap_or_else(|e| e.into_inner()));
    for (tmp, _) in pending {
        let _ = std::fs::remove_file(tmp);
    }
}

/// Whether standard output is the destination (`None` or `-`).
pub fn is_stdout(path: Option<&Path>) -> bool {
    path.is_none_or(|p| p.as_os_str() == "-")
}

/// The `templates` table: count, id, template; with `color`, `<*>` slots
/// are highlighted, the header and counts bold and the ids dim.
pub fn templates_table(
    out: &mut dyn Write,
    list: &[logsieve_template::TemplateSummary],
    color: bool,
) -> std::io::Result<()> {
    use crate::color::{paint, Style};
    let width = list
        .iter()
        .map(|t| t.count.to_string().len())
        .max()
        .unwrap_or(5)
        .max(5);
    let head = format!("{:>width$}  {:16}  TEMPLATE", "COUNT", "ID");
    writeln!(out, "{}", paint(&head, Style::Bold, color))?;
    for t in list {
        let count = format!("{:>width$}", t.count);
        let id = t.template_id.to_string();
        write!(
            out,
            "{}  {}  ",
            paint(&count, Style::Bold, color),
            paint(&id, Style::Dim, color)
        )?;
        crate::color::write_template(out, &t.template, color)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
