//! Loghub/logparser log formats: compilation to a regex plus a literal-scan
//! fast path that gives the same answer as the regex whenever it succeeds.

use crate::FormatError;
use regex::Regex;

/// The internal capture group name prefix (unlikely to clash with user groups).
const GROUP_PREFIX: &str = "__lsf";

/// One element of a fast-path literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// Exact text, never containing whitespace.
    Text(String),
    /// `\s+`: one or more Unicode whitespace characters, greedy.
    Ws,
}

/// One step of the fast-path program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// A field (`(.*?)`): its end is decided by what follows.
    Field(usize),
    /// Plain literal tokens (never empty).
    Lit(Vec<Tok>),
    /// `(L0 (?P<field>.*?) L)? R` where `R` is the literal that follows the
    /// group (consumed by this step) and a field follows `R`. `lr` is `L ++ R`.
    Opt {
        l0: Vec<Tok>,
        field: usize,
        lr: Vec<Tok>,
        r: Vec<Tok>,
    },
}

/// Token stream item used while building the program.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Tok(Tok),
    Field(usize),
    Open,
    CloseOpt,
}

/// A compiled format.
#[derive(Debug, Clone)]
pub(crate) struct CompiledFormat {
    pub(crate) regex: Regex,
    /// All field names in format order (including Content).
    pub(crate) fields: Vec<String>,
    /// Index of Content in `fields`.
    pub(crate) content_idx: usize,
    /// Fast path program, or `None` if a literal part uses regex features
    /// other than escaped punctuation, `\s+` and one supported optional group.
    pub(crate) fast: Option<Vec<Step>>,
}

fn is_field_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Compiles a logparser format exactly as `generate_logformat_regex` does.
pub(crate) fn compile(fmt: &str) -> Result<CompiledFormat, FormatError> {
    // Split into literal parts and fields, validating as we go.
    let mut literals: Vec<(String, usize)> = Vec::new(); // (raw text, start column)
    let mut fields: Vec<(String, usize)> = Vec::new();
    let bytes = fmt.as_bytes();
    let mut lit_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2, // an escaped char (e.g. `\<`) is literal
            b'<' => {
                let rest = &fmt[i + 1..];
                let close = rest.find(['<', '>']);
                let end = match close {
                    Some(j) if rest.as_bytes()[j] == b'>' => i + 1 + j,
                    _ => return Err(FormatError::UnclosedField { column: i }),
                };
                let name = &fmt[i + 1..end];
                if name.is_empty() {
                    return Err(FormatError::EmptyFieldName { column: i });
                }
                if let Some((k, c)) = name.char_indices().find(|&(_, c)| !is_field_char(c)) {
                    return Err(FormatError::InvalidFieldName {
                        name: name.to_string(),
                        ch: c,
                        column: i + 1 + k,
                    });
                }
                if let Some((_, first)) = fields.iter().find(|(n, _)| n == name) {
                    return Err(FormatError::DuplicateField {
                        name: name.to_string(),
                        first_column: *first,
                        column: i,
                    });
                }
                literals.push((fmt[lit_start..i].to_string(), lit_start));
                fields.push((name.to_string(), i));
                i = end + 1;
                lit_start = i;
            }
            _ => i += 1,
        }
    }
    literals.push((fmt[lit_start.min(fmt.len())..].to_string(), lit_start));
    let content_idx = fields
        .iter()
        .position(|(n, _)| n == "Content")
        .ok_or(FormatError::MissingContent)?;

    // Generate the pattern, remembering which format column each byte came from.
    let mut pat = String::from("^");
    let mut cols: Vec<usize> = vec![0];
    let mut lit_regexes = Vec::with_capacity(literals.len());
    for (k, (lit, start)) in literals.iter().enumerate() {
        let before = pat.len();
        push_literal(&mut pat, &mut cols, lit, *start);
        lit_regexes.push(pat[before..].to_string());
        if let Some((_, col)) = fields.get(k) {
            let g = format!("(?P<{GROUP_PREFIX}{k}>.*?)");
            cols.extend(std::iter::repeat_n(*col, g.len()));
            pat.push_str(&g);
        }
    }
    pat.push('$');
    cols.push(fmt.len());

    if let Err(e) = regex_syntax::Parser::new().parse(&pat) {
        let (offset, msg) = match &e {
            regex_syntax::Error::Parse(e) => (e.span().start.offset, e.kind().to_string()),
            regex_syntax::Error::Translate(e) => (e.span().start.offset, e.kind().to_string()),
            other => (0, other.to_string()),
        };
        return Err(FormatError::InvalidRegex {
            column: cols.get(offset).copied().unwrap_or(fmt.len()),
            message: msg,
        });
    }
    let regex = Regex::new(&pat).map_err(|e| FormatError::InvalidRegex {
        column: 0,
        message: e.to_string(),
    })?;
    let fast = build_program(&lit_regexes);
    Ok(CompiledFormat {
        regex,
        fields: fields.into_iter().map(|(n, _)| n).collect(),
        content_idx,
        fast,
    })
}

/// `re.sub(' +', '\\s+', literal)`.
fn push_literal(pat: &mut String, cols: &mut Vec<usize>, lit: &str, start: usize) {
    let mut in_spaces = false;
    for (k, c) in lit.char_indices() {
        if c == ' ' {
            if !in_spaces {
                pat.push_str("\\s+");
                cols.extend([start + k; 3]);
            }
            in_spaces = true;
        } else {
            in_spaces = false;
            pat.push(c);
            cols.extend(std::iter::repeat_n(start + k, c.len_utf8()));
        }
    }
}

/// Interprets a generated literal regex as plain tokens (plus `(` / `)?`
/// markers), or `None` if it uses any other regex feature.
fn tokenize_plain(re: &str, items: &mut Vec<Item>) -> Option<()> {
    let mut text = String::new();
    let mut chars = re.chars().peekable();
    let flush = |text: &mut String, items: &mut Vec<Item>| {
        if !text.is_empty() {
            items.push(Item::Tok(Tok::Text(std::mem::take(text))));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let n = chars.next()?;
                if n == 's' {
                    chars.next_if_eq(&'+')?;
                    flush(&mut text, items);
                    items.push(Item::Tok(Tok::Ws));
                } else if n.is_ascii_punctuation() {
                    text.push(n);
                } else {
                    return None;
                }
            }
            '(' if chars.peek() != Some(&'?') => {
                flush(&mut text, items);
                items.push(Item::Open);
            }
            ')' => {
                chars.next_if_eq(&'?')?;
                if matches!(chars.peek(), Some('?' | '+' | '*' | '{')) {
                    return None; // lazy/possessive/repeated: not supported
                }
                flush(&mut text, items);
                items.push(Item::CloseOpt);
            }
            '.' | '^' | '$' | '*' | '+' | '?' | '(' | '[' | ']' | '{' | '}' | '|' => return None,
            c if c.is_whitespace() => return None,
            c => text.push(c),
        }
    }
    flush(&mut text, items);
    Some(())
}

/// Concatenates literal tokens, or `None` where `\s+\s+` would result (that
/// needs backtracking inside the literal, which the scan does not do).
fn concat(a: &[Tok], b: &[Tok]) -> Option<Vec<Tok>> {
    if a.last() == Some(&Tok::Ws) && b.first() == Some(&Tok::Ws) {
        return None;
    }
    Some(a.iter().chain(b).cloned().collect())
}

/// Builds the fast-path program from the generated literal regexes (one more
/// than there are fields).
fn build_program(lits: &[String]) -> Option<Vec<Step>> {
    let mut items = Vec::new();
    for (k, lit) in lits.iter().enumerate() {
        tokenize_plain(lit, &mut items)?;
        if k + 1 < lits.len() {
            items.push(Item::Field(k));
        }
    }
    // Take a run of literal tokens starting at `i`.
    fn run(items: &[Item], i: &mut usize) -> Option<Vec<Tok>> {
        let mut toks: Vec<Tok> = Vec::new();
        while let Some(Item::Tok(t)) = items.get(*i) {
            if *t == Tok::Ws && toks.last() == Some(&Tok::Ws) {
                return None; // `\s+\s+`
            }
            toks.push(t.clone());
            *i += 1;
        }
        Some(toks)
    }
    let mut steps = Vec::new();
    let mut i = 0;
    while i < items.len() {
        match &items[i] {
            Item::Tok(_) => steps.push(Step::Lit(run(&items, &mut i)?)),
            Item::Field(k) => {
                steps.push(Step::Field(*k));
                i += 1;
            }
            Item::CloseOpt => return None,
            Item::Open => {
                i += 1;
                let l0 = run(&items, &mut i)?;
                let Some(Item::Field(field)) = items.get(i) else {
                    return None;
                };
                i += 1;
                let l = run(&items, &mut i)?;
                if items.get(i) != Some(&Item::CloseOpt) {
                    return None;
                }
                i += 1;
                let r = run(&items, &mut i)?;
                // Shapes the scan decides exactly: non-empty parts, `L0` not
                // ending in `\s+`, and a field after `R`.
                if l0.is_empty()
                    || l.is_empty()
                    || r.is_empty()
                    || l0.last() == Some(&Tok::Ws)
                    || !matches!(items.get(i), Some(Item::Field(_)))
                {
                    return None;
                }
                let lr = concat(&l, &r)?;
                steps.push(Step::Opt {
                    l0,
                    field: *field,
                    lr,
                    r,
                });
            }
        }
    }
    Some(steps)
}

/// Byte length of the whitespace char at `i` (0 if none). Matches regex `\s`
/// (Unicode `White_Space`), which is what `char::is_whitespace` tests.
#[inline]
fn ws_at(s: &str, i: usize) -> usize {
    let b = s.as_bytes()[i];
    if b < 0x80 {
        usize::from(b == b' ' || (b'\t'..=b'\r').contains(&b))
    } else {
        match s[i..].chars().next() {
            Some(c) if c.is_whitespace() => c.len_utf8(),
            _ => 0,
        }
    }
}

/// Greedy `\s+` at `i`: end position, or `None` if no whitespace there.
#[inline]
fn ws_run(s: &str, mut i: usize) -> Option<usize> {
    let start = i;
    while i < s.len() {
        let n = ws_at(s, i);
        if n == 0 {
            break;
        }
        i += n;
    }
    (i > start).then_some(i)
}

/// Matches `toks` exactly at `i`; returns the end.
#[inline]
fn match_at(s: &str, i: usize, toks: &[Tok]) -> Option<usize> {
    let mut p = i;
    for t in toks {
        match t {
            Tok::Text(t) => {
                if !s[p..].starts_with(t.as_str()) {
                    return None;
                }
                p += t.len();
            }
            Tok::Ws => p = ws_run(s, p)?,
        }
    }
    Some(p)
}

/// First position `>= from` where `toks` (non-empty) match: `(start, end)`.
#[inline]
fn find_from(s: &str, from: usize, toks: &[Tok]) -> Option<(usize, usize)> {
    let mut from = from;
    loop {
        let cand = match &toks[0] {
            Tok::Text(t) => from + memchr::memmem::find(&s.as_bytes()[from..], t.as_bytes())?,
            Tok::Ws => {
                let mut i = from;
                loop {
                    if i >= s.len() {
                        return None;
                    }
                    if ws_at(s, i) > 0 {
                        break i;
                    }
                    i += 1;
                    while i < s.len() && !s.is_char_boundary(i) {
                        i += 1;
                    }
                }
            }
        };
        if let Some(end) = match_at(s, cand, toks) {
            return Some((cand, end));
        }
        from = next_candidate(s, cand, toks);
        if from > s.len() {
            return None;
        }
    }
}

/// Where to look for the next candidate after a failed one at `cand`. A
/// literal starting with `\s+` fails (or ends) the same way from anywhere in
/// the same whitespace run (the greedy run ends at the same place), so the
/// whole run is skipped; this keeps the scan linear on long blank runs.
#[inline]
fn next_candidate(s: &str, cand: usize, toks: &[Tok]) -> usize {
    match toks[0] {
        Tok::Ws => ws_run(s, cand).unwrap_or(cand + 1),
        Tok::Text(_) => cand + s[cand..].chars().next().map_or(1, char::len_utf8),
    }
}

impl CompiledFormat {
    /// The fast scan: fills `spans` (one per field, in field order) and
    /// returns `true`, or `false` when the regex must decide. It takes the first
    /// locally viable choice at every point (the regex's priority order), so a
    /// scan that reaches the end found exactly the regex's match.
    pub(crate) fn scan(&self, line: &str, spans: &mut Vec<(usize, usize)>) -> bool {
        let Some(steps) = &self.fast else {
            return false;
        };
        // `.` does not match `\n`: leave such lines to the regex.
        if memchr::memchr(b'\n', line.as_bytes()).is_some() {
            return false;
        }
        spans.clear();
        spans.resize(self.fields.len(), (0, 0));
        let mut pos = 0;
        // A field whose end is not decided yet: (index, start).
        let mut pending: Option<(usize, usize)> = None;
        for (n, step) in steps.iter().enumerate() {
            match step {
                Step::Field(k) => {
                    if let Some((pk, ps)) = pending {
                        spans[pk] = (ps, pos); // `(.*?)(.*?)`: the first is empty
                    }
                    pending = Some((*k, pos));
                }
                Step::Lit(toks) if n + 1 == steps.len() => {
                    // Literal then `$`.
                    match pending.take() {
                        Some((pk, ps)) => {
                            let mut from = pos;
                            loop {
                                let Some((s, e)) = find_from(line, from, toks) else {
                                    return false;
                                };
                                if e == line.len() {
                                    spans[pk] = (ps, s);
                                    pos = e;
                                    break;
                                }
                                from = next_candidate(line, s, toks);
                                if from > line.len() {
                                    return false;
                                }
                            }
                        }
                        None => match match_at(line, pos, toks) {
                            Some(e) => pos = e,
                            None => return false,
                        },
                    }
                }
                Step::Lit(toks) => match pending.take() {
                    Some((pk, ps)) => {
                        let Some((s, e)) = find_from(line, pos, toks) else {
                            return false;
                        };
                        spans[pk] = (ps, s);
                        pos = e;
                    }
                    None => match match_at(line, pos, toks) {
                        Some(e) => pos = e,
                        None => return false,
                    },
                },
                Step::Opt { l0, field, lr, r } => match pending.take() {
                    Some((pk, ps)) => {
                        // The pending field ends at the first position where either
                        // the group (then R) or R alone can match; the group wins a
                        // tie. Group viability only shrinks as the start moves
                        // right, so only the first L0 candidate needs checking.
                        let group = find_from(line, pos, l0)
                            .and_then(|(c, q)| find_from(line, q, lr).map(|(s, e)| (c, q, s, e)));
                        let skip = find_from(line, pos, r);
                        match (group, skip) {
                            (Some((c, q, s, e)), sk) if sk.is_none_or(|(ss, _)| c <= ss) => {
                                spans[pk] = (ps, c);
                                spans[*field] = (q, s);
                                pos = e;
                            }
                            (_, Some((s, e))) => {
                                spans[pk] = (ps, s);
                                spans[*field] = (0, 0); // group not taken: empty
                                pos = e;
                            }
                            _ => return false,
                        }
                    }
                    None => {
                        let group = match_at(line, pos, l0)
                            .and_then(|q| find_from(line, q, lr).map(|(s, e)| (q, s, e)));
                        if let Some((q, s, e)) = group {
                            spans[*field] = (q, s);
                            pos = e;
                        } else if let Some(e) = match_at(line, pos, r) {
                            spans[*field] = (0, 0);
                            pos = e;
                        } else {
                            return false;
                        }
                    }
                },
            }
        }
        if let Some((pk, ps)) = pending {
            spans[pk] = (ps, line.len());
            pos = line.len();
        }
        pos == line.len()
    }

    /// The regex path; fills `spans` like [`scan`](Self::scan).
    pub(crate) fn regex_match(
        &self,
        line: &str,
        locs: &mut regex::CaptureLocations,
        spans: &mut Vec<(usize, usize)>,
        group_idx: &[usize],
    ) -> bool {
        spans.clear();
        if self.regex.captures_read(locs, line).is_none() {
            return false;
        }
        for &g in group_idx {
            spans.push(locs.get(g).unwrap_or((0, 0)));
        }
        true
    }

    /// Capture group index for each field, in field order.
    pub(crate) fn group_indices(&self) -> Vec<usize> {
        let names: Vec<Option<&str>> = self.regex.capture_names().collect();
        (0..self.fields.len())
            .map(|k| {
                let want = format!("{GROUP_PREFIX}{k}");
                names
                    .iter()
                    .position(|n| *n == Some(want.as_str()))
                    .expect("every field has its group")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_regex_matches_logparser() {
        let c = compile("<Date> <Time>  <Level> \\[<Process>\\] <Component>: <Content>").unwrap();
        assert_eq!(
            c.regex.as_str(),
            "^(?P<__lsf0>.*?)\\s+(?P<__lsf1>.*?)\\s+(?P<__lsf2>.*?)\\s+\\[(?P<__lsf3>.*?)\\]\\s+(?P<__lsf4>.*?):\\s+(?P<__lsf5>.*?)$"
        );
        assert!(c.fast.is_some());
        let lin = compile("<Month> <Date> <Time> <Level> <Component>(\\[<PID>\\])?: <Content>").unwrap();
        assert!(matches!(lin.fast.as_deref().unwrap()[9], Step::Opt { .. }));
        assert!(compile("<A>(x<B>)<Content>").unwrap().fast.is_none());
        assert!(compile("<A>(x<B>y)?<Content>").unwrap().fast.is_none());
        assert!(compile("<A>(x <B>y)? <Content>").unwrap().fast.is_none());
    }

    #[test]
    fn tokenizer() {
        let mut items = Vec::new();
        tokenize_plain("\\s+\\[x\\|", &mut items).unwrap();
        assert_eq!(
            items,
            vec![Item::Tok(Tok::Ws), Item::Tok(Tok::Text("[x|".into()))]
        );
        assert_eq!(tokenize_plain("a.b", &mut items), None);
        assert_eq!(tokenize_plain("\\d", &mut items), None);
        assert_eq!(tokenize_plain("a\tb", &mut items), None);
        assert_eq!(tokenize_plain("(?:a)", &mut items), None);
        assert_eq!(tokenize_plain("a)??", &mut items), None);
    }
}
