//! Sigma condition expressions: `and`, `or`, `not`, parentheses,
//! `1 of X*`, `all of X*`, `1 of them`, `all of them`.

/// A parsed condition over detection identifiers (by index).
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// One selection.
    Sel(usize),
    /// All must hold.
    And(Vec<Cond>),
    /// Any must hold.
    Or(Vec<Cond>),
    /// Negation.
    Not(Box<Cond>),
}

impl Cond {
    /// Evaluates with `sel(i)` giving each selection's result.
    pub fn eval(&self, sel: &mut dyn FnMut(usize) -> bool) -> bool {
        match self {
            Cond::Sel(i) => sel(*i),
            Cond::And(v) => v.iter().all(|c| c.eval(sel)),
            Cond::Or(v) => v.iter().any(|c| c.eval(sel)),
            Cond::Not(c) => !c.eval(sel),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Word(String),
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            '(' => {
                out.push(Tok::LParen);
                chars.next();
            }
            ')' => {
                out.push(Tok::RParen);
                chars.next();
            }
            '|' => {
                return Err(format!(
                    "aggregation `{}` is not supported (use a correlation rule)",
                    s[i..].trim()
                ))
            }
            c if c.is_whitespace() => {
                chars.next();
            }
            _ => {
                let start = i;
                let mut end = s.len();
                while let Some(&(j, c)) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '|' {
                        end = j;
                        break;
                    }
                    chars.next();
                }
                out.push(Tok::Word(s[start..end].to_string()));
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    names: &'a [String],
}

fn glob_names(pattern: &str, names: &[String]) -> Vec<usize> {
    if pattern == "them" {
        return (0..names.len()).filter(|&i| !names[i].starts_with('_')).collect();
    }
    let (prefix, star) = match pattern.strip_suffix('*') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    (0..names.len())
        .filter(|&i| {
            if star {
                names[i].starts_with(prefix)
            } else {
                names[i] == prefix
            }
        })
        .collect()
}

impl Parser<'_> {
    fn peek_word(&self) -> Option<&str> {
        match self.toks.get(self.pos) {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }

    fn or(&mut self) -> Result<Cond, String> {
        let mut v = vec![self.and()?];
        while self.peek_word().is_some_and(|w| w.eq_ignore_ascii_case("or")) {
            self.pos += 1;
            v.push(self.and()?);
        }
        Ok(if v.len() == 1 { v.remove(0) } else { Cond::Or(v) })
    }

    fn and(&mut self) -> Result<Cond, String> {
        let mut v = vec![self.not()?];
        while self.peek_word().is_some_and(|w| w.eq_ignore_ascii_case("and")) {
            self.pos += 1;
            v.push(self.not()?);
        }
        Ok(if v.len() == 1 { v.remove(0) } else { Cond::And(v) })
    }

    fn not(&mut self) -> Result<Cond, String> {
        if self.peek_word().is_some_and(|w| w.eq_ignore_ascii_case("not")) {
            self.pos += 1;
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Cond, String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::LParen) => {
                self.pos += 1;
                let c = self.or()?;
                if self.toks.get(self.pos) != Some(&Tok::RParen) {
                    return Err("missing `)`".into());
                }
                self.pos += 1;
                Ok(c)
            }
            Some(Tok::Word(w)) => {
                self.pos += 1;
                let quant = w.eq_ignore_ascii_case("all") || w == "1" || w.eq_ignore_ascii_case("any");
                if quant && self.peek_word().is_some_and(|x| x.eq_ignore_ascii_case("of")) {
                    self.pos += 1;
                    let Some(target) = self.peek_word().map(str::to_string) else {
                        return Err(format!("`{w} of` needs a name pattern or `them`"));
                    };
                    self.pos += 1;
                    let ids = glob_names(&target, self.names);
                    if ids.is_empty() {
                        return Err(format!("`{w} of {target}` matches no detection identifier"));
                    }
                    let items: Vec<Cond> = ids.into_iter().map(Cond::Sel).collect();
                    return Ok(if w.eq_ignore_ascii_case("all") {
                        Cond::And(items)
                    } else {
                        Cond::Or(items)
                    });
                }
                if ["and", "or", "not", "of"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k))
                {
                    return Err(format!("unexpected `{w}`"));
                }
                match self.names.iter().position(|n| *n == w) {
                    Some(i) => Ok(Cond::Sel(i)),
                    None => Err(format!("unknown detection identifier `{w}`")),
                }
            }
            Some(Tok::RParen) => Err("unexpected `)`".into()),
            None => Err("condition ends too early".into()),
        }
    }
}

/// Parses a condition over the detection identifiers `names`.
pub fn parse_condition(s: &str, names: &[String]) -> Result<Cond, String> {
    let toks = lex(s)?;
    if toks.is_empty() {
        return Err("empty condition".into());
    }
    let mut p = Parser { toks, pos: 0, names };
    let c = p.or()?;
    if p.pos != p.toks.len() {
        return Err(format!(
            "unexpected text after the condition at token {}",
            p.pos + 1
        ));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["selection_a", "selection_b", "filter_x", "_hidden"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn eval(cond: &str, truth: [bool; 4]) -> bool {
        parse_condition(cond, &names()).unwrap().eval(&mut |i| truth[i])
    }

    #[test]
    fn boolean_forms() {
        assert!(eval("selection_a and not filter_x", [true, false, false, false]));
        assert!(!eval("selection_a and not filter_x", [true, false, true, false]));
        assert!(eval("selection_a or selection_b", [false, true, false, false]));
        assert!(eval(
            "(selection_a or selection_b) and not filter_x",
            [false, true, false, false]
        ));
        assert!(eval(
            "not (selection_a and selection_b)",
            [true, false, false, false]
        ));
        // `and` binds tighter than `or`.
        assert!(eval(
            "selection_a or selection_b and filter_x",
            [true, false, false, false]
        ));
    }

    #[test]
    fn quantifiers() {
        assert!(eval("1 of selection_*", [false, true, false, false]));
        assert!(!eval("all of selection_*", [false, true, false, false]));
        assert!(eval("all of selection_*", [true, true, false, false]));
        assert!(eval("1 of them", [false, false, true, false]));
        assert!(
            !eval("1 of them", [false, false, false, true]),
            "`them` skips _-prefixed names"
        );
        assert!(eval("all of them", [true, true, true, false]));
        assert!(eval(
            "selection_a and not 1 of filter_*",
            [true, false, false, false]
        ));
    }

    #[test]
    fn errors() {
        for bad in [
            "nope",
            "selection_a and",
            "(selection_a",
            "1 of zzz*",
            "selection_a | count() > 5",
            "",
        ] {
            assert!(parse_condition(bad, &names()).is_err(), "{bad}");
        }
    }
}
