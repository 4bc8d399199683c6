//! Command-line arguments → inputs: `-`, files, directories (walked like
//! ripgrep), globs; and which inputs are one-shot streams.

use std::path::{Path, PathBuf};

use crate::{Compression, Input, SourceError};

/// Whether the input can be read only once: stdin, and any path that is not
/// a regular file — FIFOs, sockets, character devices, `/dev/stdin`,
/// `/dev/fd/N` and `/proc/<pid>/fd/N` (process substitution `<(...)`).
/// Such inputs get one pass (no re-read). A directory or a missing path is
/// not a stream (opening it reports the error).
pub fn is_stream(input: &Input) -> bool {
    let Input::File(p) = input else {
        return true;
    };
    if is_fd_path(p) {
        return true;
    }
    std::fs::metadata(p).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// `/dev/stdin`, `/dev/fd/N`, `/proc/self/fd/N`, `/proc/<pid>/fd/N`: a
/// descriptor the shell handed us; even when it points at a regular file,
/// its position is shared with whoever gave it, so treat it as read-once.
fn is_fd_path(p: &Path) -> bool {
    let Some(s) = p.to_str() else { return false };
    if s == "/dev/stdin" || s.starts_with("/dev/fd/") || s.starts_with("/proc/self/fd/") {
        return true;
    }
    let Some(rest) = s.strip_prefix("/proc/") else {
        return false;
    };
    let mut parts = rest.splitn(2, '/');
    let pid = parts.next().unwrap_or("");
    !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && parts.next().is_some_and(|r| r.starts_with("fd/"))
}

/// Whether the input can be read a second time from the start: a regular
/// file (compressed or not: re-[`open`](crate::open) it) that is not a
/// descriptor path. False for streams ([`is_stream`]), directories and
/// missing paths.
pub fn is_seekable_file(input: &Input) -> bool {
    match input {
        Input::Stdin => false,
        Input::File(p) => !is_fd_path(p) && std::fs::metadata(p).is_ok_and(|m| m.is_file()),
    }
}

fn has_glob_meta(arg: &str) -> bool {
    arg.contains(['*', '?', '['])
}

/// Expands command-line inputs for reading:
/// * `-` → stdin;
/// * an existing directory → every regular file below it, recursively,
///   skipping hidden files and what `.gitignore`/`.ignore` files exclude
///   (like ripgrep; `.gitignore` counts even outside a git repository),
///   sorted by path; a directory without such files is an error;
/// * a path that does not exist but contains `*`, `?` or `[` → the matching
///   paths, sorted (a matched directory is walked as above; `*` does not
///   match a leading `.`); no match is an error naming the pattern;
/// * anything else is passed through (a missing file is reported by `open`).
pub fn expand_inputs(args: &[String]) -> Result<Vec<Input>, SourceError> {
    let mut out = Vec::new();
    for arg in args {
        expand_one(arg, &mut out)?;
    }
    Ok(out)
}

/// [`expand_inputs`] for `--follow`: directories and globs expand the same
/// way, then compressed files and rotated copies (a file named like another
/// expanded file plus `.suffix` or `-suffix`, e.g. `app.log.1` next to
/// `app.log`) are left out: they do not grow, and following `app.log.1`
/// would read each rotation twice. A plain missing path is kept (the
/// follower waits for it), but its directory must exist.
pub fn expand_follow_inputs(args: &[String]) -> Result<Vec<Input>, SourceError> {
    let mut out = Vec::new();
    for arg in args {
        let before = out.len();
        let expanded = expand_one(arg, &mut out)?;
        if !expanded {
            if let Some(Input::File(p)) = out.last() {
                if !p.exists() {
                    let dir = match p.parent() {
                        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                        _ => PathBuf::from("."),
                    };
                    if !dir.is_dir() {
                        return Err(SourceError::FollowDirMissing { path: p.clone(), dir });
                    }
                }
            }
            continue;
        }
        // Drop what is not followable among this argument's expansion.
        let group: Vec<Input> = out.drain(before..).collect();
        let names: Vec<(PathBuf, std::ffi::OsString)> = group
            .iter()
            .filter_map(|i| i.path())
            .filter_map(|p| Some((p.parent()?.to_path_buf(), p.file_name()?.to_os_string())))
            .collect();
        for input in group {
            let Some(p) = input.path() else { continue };
            let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
                continue;
            };
            let rotated = names
                .iter()
                .any(|(d, n)| d == dir && crate::follow::is_rotated_name(n, name));
            if rotated || is_compressed(p) {
                continue;
            }
            out.push(input);
        }
        if out.len() == before {
            return Err(SourceError::NothingToFollow { arg: arg.clone() });
        }
    }
    Ok(out)
}

fn is_compressed(p: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4];
    let Ok(f) = std::fs::File::open(p) else {
        return false;
    };
    let n = f.take(4).read(&mut head).unwrap_or(0);
    Compression::from_magic(&head[..n]) != Compression::None
}

/// Expands one argument into `out`; returns whether it was a directory or
/// a glob (false: passed through as is).
fn expand_one(arg: &str, out: &mut Vec<Input>) -> Result<bool, SourceError> {
    if arg == "-" {
        out.push(Input::Stdin);
        return Ok(false);
    }
    let path = Path::new(arg);
    if path.is_dir() {
        let files = walk_dir(path)?;
        if files.is_empty() {
            return Err(SourceError::EmptyDirectory {
                dir: path.to_path_buf(),
            });
        }
        out.extend(files.into_iter().map(Input::File));
        return Ok(true);
    }
    if std::fs::symlink_metadata(path).is_ok() || !has_glob_meta(arg) {
        out.push(Input::File(path.to_path_buf()));
        return Ok(false);
    }
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let paths = glob::glob_with(arg, opts).map_err(|e| SourceError::BadGlob {
        pattern: arg.to_string(),
        reason: e.msg,
        at: e.pos,
    })?;
    let mut matched = Vec::new();
    for entry in paths {
        let p = entry.map_err(|e| SourceError::GlobRead {
            pattern: arg.to_string(),
            path: e.path().to_path_buf(),
            source: e.into(),
        })?;
        matched.push(p);
    }
    matched.sort();
    let mut files = Vec::new();
    for p in matched {
        if p.is_dir() {
            files.extend(walk_dir(&p)?);
        } else {
            files.push(p);
        }
    }
    if files.is_empty() {
        return Err(SourceError::NoGlobMatch {
            pattern: arg.to_string(),
        });
    }
    out.extend(files.into_iter().map(Input::File));
    Ok(true)
}

/// Every regular file below `dir`, ripgrep-style filtering, sorted.
fn walk_dir(dir: &Path) -> Result<Vec<PathBuf>, SourceError> {
    let mut files = Vec::new();
    let walk = ignore::WalkBuilder::new(dir).require_git(false).build();
    for entry in walk {
        let entry = entry.map_err(|source| SourceError::Walk {
            dir: dir.to_path_buf(),
            source,
        })?;
        if entry.file_type().is_some_and(|t| t.is_file()) {
            files.push(entry.into_path());
        }
    }
    files.sort();
    Ok(files)
}
