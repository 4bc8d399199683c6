#!/usr/bin/env python3
"""Builds benchmark corpora deterministically (fixed seeds: the same
arguments always give byte-identical files).

  make_corpus.py mixed [--lines N] [--out PATH]
      N lines (default 1,000,000; default PATH bench/out/corpus.log) drawn
      uniformly at random, with replacement, from the 14,000 lines of the
      seven Loghub-2k samples testdata/loghub-2k/*/*_2k.log (multi-source:
      every log is interleaved with every other). Each run of ASCII digits
      is re-drawn uniformly with the same length, so values (timestamps,
      ids, addresses, sizes) keep changing as in a real log while the
      templates stay those of the samples.

  make_corpus.py linux [--lines N] [--json] [--out PATH]
      N lines (default 1,000,000; default PATH bench/out/syslog.log) drawn
      like `mixed` but from the Linux syslog sample alone
      (testdata/loghub-2k/Linux/Linux_2k.log), for the detection benchmark
      (bench/detect.sh). With --json each line is written as a JSON object
      with the fields of logsieve's `syslog` preset (timestamp, host, app,
      pid, message) and raw, for tools that read JSON events.

  make_corpus.py templates --templates K [--lines N] [--out PATH]
      N lines (default 1,000,000; default PATH bench/out/templates-K.log)
      over K distinct synthetic templates, used for the growth curve
      (throughput with 50 vs 5,000 templates at the same line count). Each
      template is 5-10 words drawn from a fixed word list, with 1-3 of the
      positions after the second replaced by a variable (decimal integer,
      hex id or IPv4 address) that is re-drawn on every line. No two
      templates share their (length, first word, second word), so the
      templates are separable by any reasonable parser; the list of
      templates (variables written <*>) is written to PATH.templates.
      Every line picks its template uniformly at random.
"""
import argparse
import json
import random
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "testdata" / "loghub-2k"
OUT = REPO / "bench" / "out"
DIGITS = re.compile(r"[0-9]+")

SEED_MIXED = 20261122
SEED_TEMPLATES = 5000
SEED_LINUX = 20261124


def resampled(lines, n, rng):
    """N lines drawn from LINES with replacement, digit runs re-drawn."""

    def redraw(m):
        k = len(m.group(0))
        return str(rng.randrange(10**k)).zfill(k)

    for _ in range(n):
        yield DIGITS.sub(redraw, rng.choice(lines))


def write_lines(out, lines):
    with open(out, "w", encoding="utf-8") as f:
        buf = []
        for line in lines:
            buf.append(line)
            if len(buf) >= 10000:
                f.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            f.write("\n".join(buf) + "\n")


def mixed(n, out):
    rng = random.Random(SEED_MIXED)
    files = sorted(SAMPLES.glob("*/*_2k.log"))
    if len(files) != 7:
        sys.exit(f"expected 7 Loghub-2k samples under {SAMPLES}, found {len(files)}")
    lines = []
    for p in files:
        lines.extend(p.read_text(encoding="utf-8", errors="replace").splitlines())
    write_lines(out, resampled(lines, n, rng))


def syslog_fields(line):
    """The fields of logsieve's `syslog` preset, roughly (for --json)."""
    ev = {}
    if len(line) >= 16:
        ev["timestamp"] = line[:15]
        rest = line[16:].lstrip()
        host, _, rest = rest.partition(" ")
        ev["host"] = host
        tag, sep, msg = rest.partition(": ")
        if not sep:
            tag, msg = "", rest
        app, _, pid = tag.partition("[")
        ev["app"] = app
        if pid:
            ev["pid"] = pid.rstrip("]")
        ev["message"] = msg
    else:
        ev["message"] = line
    ev["raw"] = line
    return ev


def linux(n, out, as_json):
    rng = random.Random(SEED_LINUX)
    sample = SAMPLES / "Linux" / "Linux_2k.log"
    lines = sample.read_text(encoding="utf-8", errors="replace").splitlines()
    drawn = resampled(lines, n, rng)
    if as_json:
        drawn = (json.dumps(syslog_fields(line), ensure_ascii=False) for line in drawn)
    write_lines(out, drawn)


WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
    "quebec romeo sierra tango uniform victor whiskey xray yankee zulu accept allocate append archive "
    "assign attach bind block cache check clean close commit compact compute connect copy create decode "
    "delete deploy detach drain dump encode evict expire export fetch flush fork grant halt import index "
    "init insert join kill launch link load lock merge migrate mount move notify open parse patch pause "
    "poll probe publish purge push query queue read rebuild recover register reject release reload remove "
    "rename render repair replay reset resize resolve restart restore resume retry revoke rotate route "
    "save scan schedule seal send serve shrink skip snapshot sort spawn split start stop store submit "
    "suspend sync tag throttle trace trigger truncate unlink unlock unmount update upload validate verify "
    "wait wake watch write session worker node replica shard segment buffer socket channel stream table "
    "cursor handler listener driver kernel volume partition bucket object lease token ticket job task"
).split()

VAR_KINDS = ("int", "hex", "ip")


def make_templates(k, rng):
    """K templates as lists of tokens; a variable is ('var', kind)."""
    if k > len(WORDS) * len(WORDS) * 6:
        sys.exit(f"at most {len(WORDS) ** 2 * 6} templates")
    keys = set()
    out = []
    while len(out) < k:
        length = rng.randint(5, 10)
        toks = [rng.choice(WORDS) for _ in range(length)]
        key = (length, toks[0], toks[1])
        if key in keys:
            continue
        keys.add(key)
        for pos in rng.sample(range(2, length), rng.randint(1, 3)):
            toks[pos] = ("var", rng.choice(VAR_KINDS))
        out.append(toks)
    return out


def draw(kind, rng):
    if kind == "int":
        return str(rng.randint(0, 10 ** rng.randint(1, 7)))
    if kind == "hex":
        return f"0x{rng.getrandbits(32):08x}"
    return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def templates(k, n, out):
    rng = random.Random(SEED_TEMPLATES + k)
    shapes = make_templates(k, rng)
    with open(str(out) + ".templates", "w", encoding="utf-8") as f:
        for t in shapes:
            f.write(" ".join("<*>" if isinstance(x, tuple) else x for x in t) + "\n")
    with open(out, "w", encoding="utf-8") as f:
        buf = []
        for _ in range(n):
            t = shapes[rng.randrange(k)]
            buf.append(" ".join(draw(x[1], rng) if isinstance(x, tuple) else x for x in t))
            if len(buf) >= 10000:
                f.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            f.write("\n".join(buf) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    m = sub.add_parser("mixed", help="lines from the 7 Loghub-2k samples, digits re-drawn")
    m.add_argument("--lines", type=int, default=1_000_000)
    m.add_argument("--out", type=Path, default=OUT / "corpus.log")
    x = sub.add_parser("linux", help="lines from the Linux syslog sample, digits re-drawn")
    x.add_argument("--lines", type=int, default=1_000_000)
    x.add_argument("--json", action="store_true", help="JSON objects with the syslog preset's fields")
    x.add_argument("--out", type=Path, default=OUT / "syslog.log")
    t = sub.add_parser("templates", help="N lines over K synthetic templates")
    t.add_argument("--templates", type=int, required=True)
    t.add_argument("--lines", type=int, default=1_000_000)
    t.add_argument("--out", type=Path)
    a = ap.parse_args()
    if a.lines < 1:
        sys.exit("--lines must be at least 1")
    if a.mode == "mixed":
        a.out.parent.mkdir(parents=True, exist_ok=True)
        mixed(a.lines, a.out)
    elif a.mode == "linux":
        a.out.parent.mkdir(parents=True, exist_ok=True)
        linux(a.lines, a.out, a.json)
    else:
        if a.templates < 1:
            sys.exit("--templates must be at least 1")
        out = a.out or OUT / f"templates-{a.templates}.log"
        out.parent.mkdir(parents=True, exist_ok=True)
        templates(a.templates, a.lines, out)


if __name__ == "__main__":
    main()
