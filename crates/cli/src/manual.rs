//! `logsieve completions SHELL` and `logsieve man`, both generated from the
//! clap definitions, so they cannot drift from the real flags.

use anyhow::{Context, Result};
use clap_complete::Shell;
use std::io::Write;
use std::path::Path;

/// Writes the completion script for `shell` to `out`.
pub fn completions(mut cmd: clap::Command, shell: Shell, out: &mut dyn Write) -> Result<()> {
    let name = cmd.get_name().to_string();
    clap_complete::generate(shell, &mut cmd, name, out);
    Ok(())
}

/// The subcommands that get a page of their own (not `help`).
fn pages(cmd: &clap::Command) -> Vec<clap::Command> {
    let root = cmd.get_name().to_string();
    let version = cmd.get_version().unwrap_or_default().to_string();
    cmd.get_subcommands()
        .filter(|s| s.get_name() != "help")
        .map(|s| {
            let name = format!("{root}-{}", s.get_name());
            s.clone()
                .name(name.clone())
                .bin_name(name)
                .version(version.clone())
        })
        .collect()
}

/// The root page in roff on `out`; with `dir`, writes `logsieve.1` and one
/// `logsieve-SUBCOMMAND.1` per subcommand there instead and lists them on
/// standard error.
pub fn man(cmd: clap::Command, dir: Option<&Path>, out: &mut dyn Write) -> Result<()> {
    let mut cmd = cmd;
    cmd.build();
    let Some(dir) = dir else {
        clap_mangen::Man::new(cmd).render(out)?;
        return Ok(());
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", crate::diag::clip_path(dir)))?;
    let mut all = vec![cmd.clone()];
    all.extend(pages(&cmd));
    for page in all {
        let path = dir.join(format!("{}.1", page.get_name()));
        let mut buf = Vec::new();
        clap_mangen::Man::new(page).render(&mut buf)?;
        std::fs::write(&path, buf).with_context(|| format!("writing {}", crate::diag::clip_path(&path)))?;
        eprintln!("logsieve: wrote {}", crate::diag::clip_path(&path));
    }
    Ok(())
}
