use super::*;

const LOGHUB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/loghub-2k");

fn parse(p: &HeaderParser, line: &str) -> ParsedHeader {
    let mut out = ParsedHeader::new();
    let m = p.parse(line, &mut out);
    assert_eq!(m, out.matched);
    out
}

fn same(a: &ParsedHeader, b: &ParsedHeader) -> bool {
    a.matched == b.matched && a.values == b.values && a.content == b.content && a.extra == b.extra
}

fn formats() -> BTreeMap<String, String> {
    load_formats_json(format!("{LOGHUB}/formats.json")).unwrap()
}

/// Minimal RFC 4180 CSV reader (quoted fields, doubled quotes, no embedded newlines needed).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|line| {
            let mut row = Vec::new();
            let mut cur = String::new();
            let mut q = false;
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                match (c, q) {
                    ('"', true) if chars.peek() == Some(&'"') => {
                        cur.push('"');
                        chars.next();
                    }
                    ('"', _) => q = !q,
                    (',', false) => row.push(std::mem::take(&mut cur)),
                    (c, _) => cur.push(c),
                }
            }
            row.push(cur);
            row
        })
        .collect()
}

#[test]
fn loghub_formats_fast_path_equals_regex_on_real_logs() {
    let mut fast_count = 0;
    for (name, fmt) in formats() {
        let p = HeaderParser::from_format(&fmt).unwrap();
        if p.has_fast_path() {
            fast_count += 1;
        }
        let log = std::fs::read_to_string(format!("{LOGHUB}/{name}/{name}_2k.log")).unwrap();
        let (mut a, mut b) = (ParsedHeader::new(), ParsedHeader::new());
        let mut matched = 0;
        for line in log.lines() {
            for l in [line, line.trim()] {
                p.parse(l, &mut a);
                p.parse_with_regex(l, &mut b);
                assert!(
                    same(&a, &b),
                    "{name}: fast path differs from regex on {l:?}\n{a:?}\n{b:?}"
                );
                matched += usize::from(a.matched);
            }
        }
        assert!(matched >= 3990, "{name}: only {matched} of 4000 matched");
    }
    assert_eq!(fast_count, 7, "every Loghub format has a fast path");
}

#[test]
fn loghub_formats_agree_with_structured_csv() {
    // logparser matches `line.strip()`; the structured CSV is its output.
    for (name, fmt) in formats() {
        let p = HeaderParser::from_format(&fmt).unwrap();
        let log = std::fs::read_to_string(format!("{LOGHUB}/{name}/{name}_2k.log")).unwrap();
        let csv = std::fs::read_to_string(format!("{LOGHUB}/{name}/{name}_2k.log_structured_corrected.csv"))
            .unwrap();
        let rows = csv_rows(&csv);
        let header = &rows[0];
        let content_col = header.iter().position(|h| h == "Content").unwrap();
        let mut out = ParsedHeader::new();
        let mut checked = 0;
        let mut content_diffs = 0;
        for (line, row) in log.lines().zip(&rows[1..]) {
            if row.len() != header.len() {
                continue; // a CSV row with an embedded newline; not worth a full parser
            }
            assert!(p.parse(line.trim(), &mut out), "{name}: {line:?}");
            for (i, f) in p.field_names().iter().enumerate() {
                let col = header.iter().position(|h| h == f).unwrap();
                let want = row[col].trim_end_matches(".0");
                if want.is_empty() && ["NULL", "NA", "null", "nan"].contains(&out.values[i].as_str()) {
                    continue; // pandas turned it into NaN
                }
                let numeric_eq = matches!(
                    (want.parse::<f64>(), out.values[i].parse::<f64>()),
                    (Ok(a), Ok(b)) if a == b
                );
                if !numeric_eq {
                    assert_eq!(out.values[i], want, "{name} field {f} of {line:?}");
                }
            }
            if out.content != row[content_col] {
                content_diffs += 1;
            }
            checked += 1;
        }
        assert!(checked > 1900, "{name}: {checked}");
        // The "corrected" CSVs fix a handful of contents by hand.
        assert!(content_diffs < 20, "{name}: {content_diffs} content diffs");
    }
}

#[test]
fn loghub_first_lines_field_values() {
    let f = formats();
    let hdfs = HeaderParser::from_format(&f["HDFS"]).unwrap();
    let o = parse(&hdfs, "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating");
    assert_eq!(
        o.values,
        ["081109", "203615", "148", "INFO", "dfs.DataNode$PacketResponder"]
    );
    assert_eq!(
        o.content,
        "PacketResponder 1 for block blk_38865049064139660 terminating"
    );

    let hadoop = HeaderParser::from_format(&f["Hadoop"]).unwrap();
    let o = parse(&hadoop, "2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster for application appattempt_1445144423722_0020_000001");
    assert_eq!(
        o.values,
        [
            "2015-10-18",
            "18:01:47,978",
            "INFO",
            "main",
            "org.apache.hadoop.mapreduce.v2.app.MRAppMaster"
        ]
    );

    let linux = HeaderParser::from_format(&f["Linux"]).unwrap();
    assert!(linux.has_fast_path());
    let o = parse(
        &linux,
        "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0",
    );
    assert_eq!(
        o.values,
        ["Jun", "14", "15:16:01", "combo", "sshd(pam_unix)", "19939"]
    );
    assert_eq!(o.content, "authentication failure; logname= uid=0");
    let o = parse(&linux, "Jun 15 04:06:18 combo su: session opened for user cyrus");
    assert_eq!(o.values, ["Jun", "15", "04:06:18", "combo", "su", ""]);

    let health = HeaderParser::from_format(&f["HealthApp"]).unwrap();
    let o = parse(
        &health,
        "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
    );
    assert_eq!(o.values, ["20171223-22:15:29:606", "Step_LSC", "30002312"]);
    assert_eq!(o.content, "onStandStepChanged 3579");

    let bgl = HeaderParser::from_format(&f["BGL"]).unwrap();
    let o = parse(&bgl, "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected");
    assert_eq!(o.values[0], "-");
    assert_eq!(o.values[8], "INFO");
    assert_eq!(o.content, "instruction cache parity error corrected");
}

#[test]
fn format_errors_say_where() {
    use FormatError::*;
    assert_eq!(
        HeaderParser::from_format("<Date> <Time>").unwrap_err(),
        MissingContent
    );
    assert_eq!(
        HeaderParser::from_format("<Date> <Time <Content>").unwrap_err(),
        UnclosedField { column: 7 }
    );
    assert_eq!(
        HeaderParser::from_format("<Content> <Tail").unwrap_err(),
        UnclosedField { column: 10 }
    );
    assert_eq!(
        HeaderParser::from_format("<Date> <> <Content>").unwrap_err(),
        EmptyFieldName { column: 7 }
    );
    assert_eq!(
        HeaderParser::from_format("<Date> <Lev el> <Content>").unwrap_err(),
        InvalidFieldName {
            name: "Lev el".into(),
            ch: ' ',
            column: 11
        }
    );
    assert_eq!(
        HeaderParser::from_format("<Date> <Date> <Content>").unwrap_err(),
        DuplicateField {
            name: "Date".into(),
            first_column: 0,
            column: 7
        }
    );
    let e = HeaderParser::from_format("<Date> [<Level> <Content>").unwrap_err();
    assert!(matches!(e, InvalidRegex { column: 7, .. }), "{e:?}");
    let e = HeaderParser::from_format("<Date> <Level>(x <Content>").unwrap_err();
    assert!(matches!(e, InvalidRegex { column: 14, .. }), "{e:?}");
    let e = HeaderParser::from_format("<Date>\\q<Content>").unwrap_err();
    assert!(matches!(e, InvalidRegex { column: 6, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("column 6") && msg.contains("escape"), "{msg}");
    // An escaped '<' is literal text, not a field.
    let p = HeaderParser::from_format("\\<<Level>> <Content>").unwrap();
    let o = parse(&p, "<WARN> disk full");
    assert_eq!((o.values[0].as_str(), o.content.as_str()), ("WARN", "disk full"));
}

#[test]
fn field_names_exclude_content_in_order() {
    let p = HeaderParser::from_format("<A>\\|<Content>\\|<B_2>").unwrap();
    assert_eq!(p.field_names(), ["A", "B_2"]);
    let o = parse(&p, "x|msg|y");
    assert_eq!(o.values, ["x", "y"]);
    assert_eq!(o.content, "msg");
}

#[test]
fn no_match_keeps_line_and_clears_values() {
    let p = HeaderParser::from_format("<Date> <Level>: <Content>").unwrap();
    let mut out = ParsedHeader::new();
    assert!(p.parse("d1 INFO: hi", &mut out));
    assert!(!p.parse("nocolonhere", &mut out));
    assert_eq!(out.values, ["", ""]);
    assert_eq!(out.content, "nocolonhere");
    assert!(!out.matched);
}

/// Small deterministic PRNG (xorshift64*).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545F4914F6CDD1D) >> 11) as usize % n
    }
}

/// A line that roughly follows `fmt` (fields filled with random pieces,
/// spaces varied, optional groups kept or dropped), sometimes mutated.
fn synth_line(fmt: &str, rng: &mut Rng, pieces: &[&str]) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars();
    let mut skipping = false;
    while let Some(c) = chars.next() {
        match c {
            '<' => {
                for c in chars.by_ref() {
                    if c == '>' {
                        break;
                    }
                }
                if !skipping {
                    for _ in 0..rng.below(4) {
                        out.push_str(pieces[rng.below(pieces.len())]);
                    }
                }
            }
            '(' => skipping = rng.below(2) == 0,
            ')' => skipping = false,
            '?' => {}
            _ if skipping => {}
            '\\' => out.extend(chars.next()),
            ' ' => out.push_str([" ", "  ", "\t", "\u{a0}", " "][rng.below(5)]),
            c => out.push(c),
        }
    }
    if rng.below(4) == 0 {
        let mut at = rng.below(out.len() + 1);
        while !out.is_char_boundary(at) {
            at -= 1;
        }
        out.insert_str(at, pieces[rng.below(pieces.len())]);
    }
    out
}

#[test]
fn fast_path_equals_regex_on_adversarial_lines() {
    let fmts = [
        "<Date> <Time> <Pid> <Level> <Component>: <Content>",
        "<Date> <Time> <Level> \\[<Process>\\] <Component>: <Content>",
        "<Time>\\|<Component>\\|<Pid>\\|<Content>",
        "<A><B> <Content>",
        "<A> : <Content> \\]",
        "<A>:<B>:: <Content>  ",
        "\\[x\\] <A> <Content>",
        " <A> <Content>",
        "<Content>",
        "<A>\\|<Content>:",
        "<A> x <Content> y <B>",
        "<A> <B>(\\[<C>\\])?: <Content>",
        "<A>(\\[<C>\\])?: <Content>",
        "(\\[<C>\\])? <A>: <Content>",
        "<A> <B>(\\[<C>\\]x)? <Content>",
        "<A>( \\(<C>\\))?: <Content>",
        "<A>(\\[<C>:)?: <Content>",
        "<A>(\\[<C> \\])?\\] <B> <Content>",
    ];
    let pieces = [
        "a", "b", "x", "y", "12", ":", "::", " ", "  ", "\t", "|", "[", "]", "\\[", "é", "(", ")", "]:",
        "[1]: ", "\u{a0}", "\u{3000}", "\u{2028}", "\n", "\r", ": ", " [", "] ", "x y", "",
    ];
    let mut rng = Rng(0xDEADBEEF12345);
    let (mut a, mut b) = (ParsedHeader::new(), ParsedHeader::new());
    let mut matched = 0;
    for fmt in fmts {
        let p = HeaderParser::from_format(fmt).unwrap();
        assert!(p.has_fast_path(), "{fmt} has no fast path");
        let compiled = format::compile(fmt).unwrap();
        let mut spans = Vec::new();
        let mut fast_hits = 0;
        for _ in 0..20_000 {
            let line = if rng.below(2) == 0 {
                let n = rng.below(14);
                (0..n).map(|_| pieces[rng.below(pieces.len())]).collect()
            } else {
                synth_line(fmt, &mut rng, &pieces)
            };
            p.parse(&line, &mut a);
            p.parse_with_regex(&line, &mut b);
            assert!(same(&a, &b), "{fmt:?} on {line:?}\nfast  {a:?}\nregex {b:?}");
            matched += usize::from(a.matched);
            fast_hits += usize::from(compiled.scan(&line, &mut spans));
        }
        assert!(
            fast_hits > 300,
            "{fmt}: the fast path decided only {fast_hits} lines"
        );
    }
    assert!(
        matched > 10_000,
        "too few matches ({matched}) to be a meaningful test"
    );
}

#[test]
fn parsed_header_buffers_are_reused() {
    let p = HeaderParser::from_format("<A> <B> <Content>").unwrap();
    let mut out = ParsedHeader::new();
    p.parse("aaaa bbbb cccc", &mut out);
    let ptrs: Vec<*const u8> = out.values.iter().map(|v| v.as_ptr()).collect();
    let vptr = out.values.as_ptr();
    p.parse("a b c", &mut out);
    assert_eq!(out.values.as_ptr(), vptr);
    assert_eq!(out.values.iter().map(|v| v.as_ptr()).collect::<Vec<_>>(), ptrs);
    // The same ParsedHeader used with two parsers stays correct.
    let q = HeaderParser::from_format("<X>(y)?<Content>").unwrap();
    assert!(q.parse("zyw", &mut out));
    assert!(p.parse_with_regex("1 2 3", &mut out));
    assert_eq!(out.values, ["1", "2"]);
}

// ---- presets ----

#[test]
fn preset_names() {
    for p in Preset::ALL {
        assert_eq!(p.name().parse::<Preset>().unwrap(), p);
    }
    assert_eq!("JSON".parse::<Preset>().unwrap(), Preset::Json);
    let e = "apache".parse::<Preset>().unwrap_err();
    assert!(e.to_string().contains("syslog, rfc5424, combined, json"));
}

#[test]
fn syslog_preset() {
    let p = HeaderParser::preset(Preset::Syslog, None);
    assert_eq!(p.field_names(), ["priority", "timestamp", "host", "app", "pid"]);
    let o = parse(
        &p,
        "<34>Oct 11 22:14:15 mymachine su[231]: 'su root' failed for lonvick on /dev/pts/8",
    );
    assert_eq!(o.values, ["34", "Oct 11 22:14:15", "mymachine", "su", "231"]);
    assert_eq!(o.content, "'su root' failed for lonvick on /dev/pts/8");
    let o = parse(&p, "Jun  4 03:01:02 combo kernel: Linux version 2.6.5");
    assert_eq!(o.values, ["", "Jun  4 03:01:02", "combo", "kernel", ""]);
    assert_eq!(o.content, "Linux version 2.6.5");
    let o = parse(
        &p,
        "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure;",
    );
    assert_eq!(o.values[3..], ["sshd(pam_unix)", "19939"]);
    let o = parse(&p, "2024-01-02T03:04:05.123+01:00 web-1 nginx[77]: started");
    assert_eq!(
        o.values,
        ["", "2024-01-02T03:04:05.123+01:00", "web-1", "nginx", "77"]
    );
    // No tag: app/pid empty, content is everything after the host.
    let o = parse(&p, "Feb  1 00:00:00 host last message repeated 3 times");
    assert!(o.matched);
    assert_eq!(o.values[3], "");
    assert_eq!(o.content, "last message repeated 3 times");
    // Not syslog.
    for bad in [
        "hello world",
        "Foo 11 22:14:15 host x: y",
        "Oct 11 22:14 host x: y",
        "",
    ] {
        let o = parse(&p, bad);
        assert!(!o.matched, "{bad}");
        assert_eq!(o.content, bad);
        assert!(o.values.iter().all(String::is_empty));
    }
}

#[test]
fn rfc5424_preset() {
    let p = HeaderParser::preset(Preset::Rfc5424, None);
    let o = parse(
        &p,
        "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \u{feff}'su root' failed",
    );
    assert_eq!(
        o.values,
        [
            "34",
            "1",
            "2003-10-11T22:14:15.003Z",
            "mymachine.example.com",
            "su",
            "-",
            "ID47",
            "-"
        ]
    );
    assert_eq!(o.content, "'su root' failed");
    let o = parse(
        &p,
        r#"<165>1 2003-10-11T22:14:15.003-07:00 host evntslog 12 ID47 [exampleSDID@32473 iut="3" eventSource="App\"li]cation" eventID="1011"][x@1 a="b"] An application event"#,
    );
    assert_eq!(
        o.values[7],
        r#"[exampleSDID@32473 iut="3" eventSource="App\"li]cation" eventID="1011"][x@1 a="b"]"#
    );
    assert_eq!(o.content, "An application event");
    let o = parse(&p, "<14>1 - - - - - -");
    assert!(o.matched);
    assert_eq!(o.content, "");
    let o = parse(&p, "<14>1 - host app 1 m - -");
    assert_eq!(o.content, "", "NILVALUE message is empty");
    for bad in [
        "<34>Oct 11 22:14:15 host su: x",
        "<34>1 2003-10-11T22:14:15Z host su - ID47",
        "<34>1 notatime host su - ID47 - x",
        "<34>1 2003-10-11T22:14:15Z host su - ID47 [unclosed x",
        "plain",
    ] {
        assert!(!parse(&p, bad).matched, "{bad}");
    }
}

#[test]
fn combined_preset() {
    let p = HeaderParser::preset(Preset::Combined, None);
    let o = parse(
        &p,
        r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?a=1&b=2 HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#,
    );
    assert_eq!(
        o.values,
        [
            "127.0.0.1",
            "-",
            "frank",
            "10/Oct/2000:13:55:36 -0700",
            "GET",
            "/apache_pb.gif?a=1&b=2",
            "/apache_pb.gif",
            "a=1&b=2",
            "HTTP/1.0",
            "200",
            "2326",
            "http://www.example.com/start.html",
            "Mozilla/4.08 [en] (Win98; I ;Nav)"
        ]
    );
    assert_eq!(o.content, "GET /apache_pb.gif?a=1&b=2 HTTP/1.0");
    // Common log format (no referer / agent), bytes "-".
    let o = parse(
        &p,
        r#"::1 - - [10/Oct/2000:13:55:36 -0700] "POST /x HTTP/1.1" 304 -"#,
    );
    assert_eq!(o.values[4..11], ["POST", "/x", "/x", "", "HTTP/1.1", "304", "-"]);
    assert_eq!(o.values[11..], ["", ""]);
    // Nginx with an extra trailing field, escaped quote in the agent.
    let o = parse(
        &p,
        r#"10.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/2.0" 404 12 "-" "curl \"x\"" "1.2.3.4""#,
    );
    assert_eq!(o.values[12], r#"curl \"x\""#);
    // Garbage request line: matched, request parts empty, content is the raw request.
    let o = parse(
        &p,
        r#"1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "\x16\x03\x01" 400 0 "-" "-""#,
    );
    assert!(o.matched);
    assert_eq!(o.values[4], "");
    assert_eq!(o.content, r"\x16\x03\x01");
    for bad in [
        "not a log line",
        r#"1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 2000 1"#,
        r#"1.2.3.4 - - 01/Jan/2024 "GET / HTTP/1.1" 200 1"#,
        r#"1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1 200 1"#,
    ] {
        assert!(!parse(&p, bad).matched, "{bad}");
    }
}

#[test]
fn json_preset() {
    let p = HeaderParser::preset(Preset::Json, None);
    assert!(p.field_names().is_empty());
    let o = parse(
        &p,
        r#"{"level":"info","msg":"user 42 logged in","ctx":{"ip":"1.2.3.4","n":{"deep":true}},"tags":["a",1],"t":1.5,"x":null}"#,
    );
    assert!(o.matched);
    assert_eq!(o.content, "user 42 logged in");
    let extra: BTreeMap<_, _> = o.extra.iter().cloned().collect();
    assert_eq!(extra["level"], "info");
    assert_eq!(extra["ctx.ip"], "1.2.3.4");
    assert_eq!(extra["ctx.n.deep"], "true");
    assert_eq!(extra["tags"], r#"["a",1]"#);
    assert_eq!(extra["t"], "1.5");
    assert_eq!(extra["x"], "");
    assert!(!extra.contains_key("msg"));
    assert_eq!(o.get(&p, "ctx.ip"), Some("1.2.3.4"));
    // `message` wins over `msg`; explicit field; dotted path.
    let o = parse(&p, r#"{"msg":"b","message":"a"}"#);
    assert_eq!(o.content, "a");
    assert_eq!(o.extra, [("msg".to_string(), "b".to_string())]);
    let q = HeaderParser::preset(Preset::Json, Some("log.text"));
    let o = parse(&q, r#"{"log":{"text":"hello","lvl":3}}"#);
    assert_eq!(o.content, "hello");
    assert_eq!(o.extra, [("log.lvl".to_string(), "3".to_string())]);
    // No message field: the whole line is the content.
    let line = r#"{"a":1}"#;
    let o = parse(&p, line);
    assert!(o.matched);
    assert_eq!(o.content, line);
    for bad in ["[1,2]", "\"str\"", "{\"a\":", "plain text", ""] {
        let o = parse(&p, bad);
        assert!(!o.matched, "{bad}");
        assert_eq!(o.content, bad);
        assert!(o.extra.is_empty());
    }
}

#[test]
fn formats_json_errors_name_the_file() {
    let e = load_formats_json("/nonexistent/formats.json").unwrap_err();
    assert!(e.to_string().contains("/nonexistent/formats.json"), "{e}");
    let dir = std::env::temp_dir().join(format!("lsh-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.json");
    std::fs::write(&f, "{\"a\": 1}").unwrap();
    let e = load_formats_json(&f).unwrap_err();
    assert!(matches!(e, FormatsFileError::Parse { .. }));
    assert!(e.to_string().contains("bad.json"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn parser_is_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<HeaderParser>();
    assert_send_sync::<ParsedHeader>();
}

#[test]
fn fast_path_is_linear_on_long_blank_runs() {
    // Quadratic rescanning of a 400 KB whitespace run would take minutes here.
    let blanks = " ".repeat(400_000);
    for (fmt, line) in [
        ("<A> <Content> y", format!("a{blanks}b")),
        ("<A> <Content> y", format!("a b{blanks}y")),
        ("<A> :<Content>", format!("a{blanks}b")),
        ("<A> <B> <Content>", format!("a{blanks}b{blanks}c")),
    ] {
        let p = HeaderParser::from_format(fmt).unwrap();
        let (mut a, mut b) = (ParsedHeader::new(), ParsedHeader::new());
        p.parse(&line, &mut a);
        p.parse_with_regex(&line, &mut b);
        assert!(same(&a, &b), "{fmt}");
    }
}
