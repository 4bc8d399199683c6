//! `--color`: a tiny ANSI helper for the one coloured output, the
//! `templates` table. Records (JSON lines, CSV) are never coloured.

use clap::ValueEnum;
use std::fmt;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU8, Ordering};

/// When to colour the `templates` table.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// When the table goes to a terminal and NO_COLOR is not set.
    #[default]
    Auto,
    /// Always, to files and pipes too.
    Always,
    /// Never.
    Never,
}

static CHOICE: AtomicU8 = AtomicU8::new(0);

/// Records the global `--color` choice.
pub fn set_choice(c: ColorChoice) {
    CHOICE.store(c as u8, Ordering::Relaxed);
}

fn choice() -> ColorChoice {
    match CHOICE.load(Ordering::Relaxed) {
        1 => ColorChoice::Always,
        2 => ColorChoice::Never,
        _ => ColorChoice::Auto,
    }
}

/// Whether output to `to_stdout` (true: standard output; false: a file)
/// is coloured under `choice`, given whether stdout is a terminal and the
/// value of `NO_COLOR` (set and non-empty disables colour, see
/// no-color.org).
pub fn decide(choice: ColorChoice, to_stdout: bool, stdout_tty: bool, no_color: Option<&str>) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => to_stdout && stdout_tty && no_color.is_none_or(str::is_empty),
    }
}

/// Whether the table is coloured under the global `--color`.
pub fn enabled(to_stdout: bool) -> bool {
    let no_color = std::env::var("NO_COLOR").ok();
    decide(
        choice(),
        to_stdout,
        std::io::stdout().is_terminal(),
        no_color.as_deref(),
    )
}

/// Text styles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Bold,
    Dim,
    /// `<*>` slots.
    Slot,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Bold => "\x1b[1m",
            Style::Dim => "\x1b[2m",
            Style::Slot => "\x1b[1;36m",
        }
    }
}

const RESET: &str = "\x1b[0m";

/// `text` in `style` when `on`, as is otherwise.
pub struct Painted<'a> {
    text: &'a str,
    style: Style,
    on: bool,
}

pub fn paint(text: &str, style: Style, on: bool) -> Painted<'_> {
    Painted { text, style, on }
}

impl fmt::Display for Painted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.on {
            write!(f, "{}{}{RESET}", self.style.code(), self.text)
        } else {
            f.write_str(self.text)
        }
    }
}

/// Writes a template with its `<*>` slots highlighted when `on`.
pub fn write_template(out: &mut dyn Write, template: &str, on: bool) -> std::io::Result<()> {
    if !on {
        return out.write_all(template.as_bytes());
    }
    let mut rest = template;
    while let Some(at) = rest.find("<*>") {
        out.write_all(&rest.as_bytes()[..at])?;
        write!(out, "{}", paint("<*>", Style::Slot, true))?;
        rest = &rest[at + 3..];
    }
    out.write_all(rest.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_needs_stdout_terminal_and_no_no_color() {
        assert!(decide(ColorChoice::Auto, true, true, None));
        assert!(decide(ColorChoice::Auto, true, true, Some("")));
        assert!(!decide(ColorChoice::Auto, true, true, Some("1")));
        assert!(!decide(ColorChoice::Auto, true, false, None));
        assert!(!decide(ColorChoice::Auto, false, true, None));
        assert!(decide(ColorChoice::Always, false, false, Some("1")));
        assert!(!decide(ColorChoice::Never, true, true, None));
    }

    #[test]
    fn slots_highlighted_and_plain_text_untouched() {
        let mut on = Vec::new();
        write_template(&mut on, "a <*> b <*>", true).unwrap();
        assert_eq!(
            String::from_utf8(on).unwrap(),
            "a \x1b[1;36m<*>\x1b[0m b \x1b[1;36m<*>\x1b[0m"
        );
        let mut off = Vec::new();
        write_template(&mut off, "a <*> b <*>", false).unwrap();
        assert_eq!(off, b"a <*> b <*>");
    }
}
