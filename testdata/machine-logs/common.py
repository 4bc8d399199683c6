"""Shared by Kernel/label.py and PostgreSQL/label.py: reading a log with
its header format, applying the labelling rules (each line must match
exactly one), checking that every template is in final Loghub-2.0 form,
and writing the Loghub CSV files."""
# ---------------------------------------------------------------------------------------------
# Shared machinery (identical in every label.py; the rules above it are the ground truth).
# ---------------------------------------------------------------------------------------------
import collections
import csv
import os
import re
import sys


def T(template, regex=None):
    """One event type: its truth template and the regex (full match on Content) that selects its
    lines.  Without a regex, the regex is the template itself: constant text literally, runs of
    whitespace as \\s+, every <*> as .+? (non-empty)."""
    if regex is None:
        parts = re.split(r"(<\*>)", template)
        rx = ""
        for p in parts:
            if p == "<*>":
                rx += "(.+?)"
            else:
                rx += r"\s+".join(re.escape(w) for w in re.split(r" +", p))
        regex = rx
    return (template, re.compile(regex, re.S))


def logformat_regex(fmt):
    """logparser's generate_logformat_regex (Loghub-2.0 benchmark)."""
    headers = []
    regex = ""
    for k, part in enumerate(re.split(r"(<[^<>]+>)", fmt)):
        if k % 2 == 0:
            regex += re.sub(" +", r"\\s+", part)
        else:
            h = part.strip("<").strip(">")
            regex += "(?P<%s>.*?)" % h
            headers.append(h)
    return headers, re.compile("^" + regex + "$")


_PATH_D = [r"\s", r"\,", r"\!", r"\;", r"\:", r"\=", r"\|", r"\"", r"\'", r"\[", r"\]", r"\(", r"\)", r"\{", r"\}"]
_TOK_D = _PATH_D + [r"\.", r"\-", r"\+", r"\@", r"\#", r"\$", r"\%", r"\&"]


def normalize(t):
    """The Loghub-2.0 template rules (Khan et al., ICSE'22, as used for the *_corrected ground
    truth): DS (double space), PS (path), BL/US (true/false/null/root), DG (digits), WV (word with
    variable), DV (dot-separated variables), CV (consecutive variables).  Every bundled
    *_templates_corrected.csv template is a fixed point of this function, and so must ours be."""
    t = re.sub(r"\s+", " ", t.strip())
    t = "".join("<*>" if re.match(r"^(\/[^\/]+)+$", p) else p for p in re.split("(" + "|".join(_PATH_D) + ")", t))
    out = []
    for tok in re.split("(" + "|".join(_TOK_D) + ")", t):
        if tok.lower() in ("true", "false", "null", "root"):
            tok = "<*>"
        if re.match(r"^\d+$", tok):
            tok = "<*>"
        if re.match(r"^[^\s\/]*<\*>[^\s\/]*$", tok) and tok != "<*>/<*>":
            tok = "<*>"
        out.append(tok)
    t = "".join(out)
    while True:
        p, t = t, re.sub(r"<\*>\.<\*>", "<*>", t)
        if p == t:
            break
    while True:
        p, t = t, re.sub(r"<\*><\*>", "<*>", t)
        if p == t:
            break
    return t


def template_regex(template):
    """A template as a pattern over contents: <*> any text (possibly empty), spaces any whitespace."""
    rx = ""
    for p in re.split(r"(<\*>)", template):
        rx += ".*?" if p == "<*>" else r"\s+".join(re.escape(w) for w in p.split(" "))
    return re.compile(rx, re.S)


def main(name, fmt, rules, here=None):
    here = here or os.path.dirname(os.path.abspath(sys.argv[0]))
    log = os.path.join(here, name + ".log")
    errors = []
    templates = [t for t, _ in rules]
    for t in templates:
        if normalize(t) != t:
            errors.append(f"rule template is not in Loghub-2.0 normal form:\n  {t!r}\n  normal form: {normalize(t)!r}")
    headers, hre = logformat_regex(fmt)
    rows = []
    used = collections.Counter()
    with open(log, encoding="utf-8", newline="\n") as f:
        for i, line in enumerate(f, 1):
            m = hre.search(line.strip())
            if not m:
                errors.append(f"line {i}: does not match the header format: {line!r}")
                continue
            content = m.group("Content")
            if not content:
                errors.append(f"line {i}: empty Content")
                continue
            hits = [k for k, (_, rx) in enumerate(rules) if rx.fullmatch(content)]
            if len(hits) != 1:
                errors.append(f"line {i}: {len(hits)} rules match (want 1): {content!r}"
                              + "".join(f"\n    rule {k}: {rules[k][0]}" for k in hits))
                continue
            tpl = rules[hits[0]][0]
            if not template_regex(tpl).fullmatch(content):
                errors.append(f"line {i}: content does not fit its own template:\n  {content!r}\n  {tpl!r}")
            used[hits[0]] += 1
            rows.append([i] + [m.group(h) for h in headers if h != "Content"] + [content, tpl])
    for k, (t, _) in enumerate(rules):
        if not used[k]:
            errors.append(f"rule {k} matches no line: {t}")
    if errors:
        for e in errors[:60]:
            print("ERROR:", e, file=sys.stderr)
        sys.exit(f"{name}: {len(errors)} error(s); nothing written")
    # Event ids in order of first appearance; one id per distinct template string.
    ids = {}
    for r in rows:
        ids.setdefault(r[-1], f"E{len(ids) + 1}")
    occ = collections.Counter(r[-1] for r in rows)
    cols = ["LineId"] + [h for h in headers if h != "Content"] + ["Content", "EventId", "EventTemplate"]
    with open(os.path.join(here, name + ".log_structured_corrected.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow(r[:-1] + [ids[r[-1]], r[-1]])
    with open(os.path.join(here, name + ".log_templates_corrected.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["EventId", "EventTemplate", "Occurrences"])
        for t, e in ids.items():
            w.writerow([e, t, occ[t]])
    print(f"{name}: {len(rows)} lines, {len(ids)} event types ({len(rules)} rules)")
    print("10 most frequent templates:")
    for t, n in occ.most_common(10):
        print(f"  {n:5d}  {ids[t]:>5}  {t}")
    # Review aid: template pairs where one template, read as a pattern, also covers the other's
    # text -- candidates for "two templates that are really one event" (or legitimately distinct
    # statements whose wording nests).  They are printed, not fatal.
    ts = list(ids)
    bare = [t for t in ts if not re.sub(r"[<*>\s]", "", t)]
    if bare:
        print("templates with no constant text (they cover every other one; not listed below): " + ", ".join(ids[t] for t in bare))
    pairs = [(a, b) for a in ts for b in ts if a != b and a not in bare and template_regex(a).fullmatch(b)]
    if pairs:
        print(f"{len(pairs)} nesting template pair(s) to review (general <- specific):")
        for a, b in pairs:
            print(f"  {ids[a]}: {a}\n    <- {ids[b]}: {b}")
