#!/usr/bin/env python3
"""Renders bench/out/results.jsonl (written by bench/run.sh) as Markdown.

    report.py RESULTS.jsonl > results.md

Each input line is one JSON object with a ``label``: ``meta`` (the machine
and the settings), ``wc``, ``drain3``, ``logsieve templates tT N``,
``logsieve parse tT N`` (``-o jsonl``), ``logsieve parse-csv tT N`` (T
threads, N lines), ``peer drain3-rs N``, ``peer logdrain N`` (the Rust
peers' runners, bench/peers), ``growth drain3 K``, ``growth logsieve K``.

Besides the table of every run it prints logsieve / peer ratios (each
against the peer's run on the same lines) and the issue #11 targets.
"""
import json
import sys


def fmt_int(x):
    return f"{x:,.0f}"


def ratio(a, b, digits=1):
    return f"{a / b:.{digits}f}x" if a and b else "n/a"


def cpu(x):
    return f"{x:.3f}" if isinstance(x, (int, float)) else "?"


def count_lines(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


# The issue #11 targets (speed-2), on the whole corpus (LINES lines).
TEMPLATES_RATE = 4_000_000
VS_DRAIN3_RS = 2.5
PARSE_JSONL_RATE = 1_500_000
PARSE_CSV_RATE = 2_000_000
TWO_THREADS = 1.8
GROWTH_SLOWDOWN = 1.5

CMDS = {  # label word -> how the command reads in the report
    "templates": "templates --threads {t} --output jsonl",
    "parse": "parse --threads {t} --output jsonl",
    "parse-csv": "parse --threads {t} --output csv",
}
PEERS = {"drain3-rs": "drain3-rs", "logdrain": "logdrain"}


def main():
    recs = {}
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line)
                recs[r["label"]] = r
    meta = recs.get("meta", {})
    lines = meta["lines"]
    out = []
    w = out.append
    peers = {k: v for k, v in recs.items() if k.startswith("peer ")}
    w(f"## logsieve vs drain3{' and the Rust peers' if peers else ''} ({meta.get('date', '?')})")
    w("")
    load = f", load average {meta['load']} at the start" if "load" in meta else ""
    w(f"- Machine: {meta.get('cpu', '?')}, {meta.get('cores', '?')} cores, {meta.get('mem', '?')} RAM, {meta.get('os', '?')}{load}.")
    if "core" in meta:
        w(f"- Pinned with `taskset`: one thread on core {meta['core']}, `--threads T` on T cores from "
          f"core {meta['core']}.")
    w(f"- logsieve: {meta.get('logsieve', '?')}, thread counts run: {meta.get('threads', '1')}.")
    w(f"- drain3 {meta.get('drain3', '?')} on Python {meta.get('python', '?')}, default `TemplateMinerConfig()` (no masking file, no persistence).")
    if peers:
        w("- Rust peers, built in `bench/peers` (own scratch project, fat LTO like logsieve's release profile): "
          "drain3-rs 0.1.6 (crates.io `drain3`) with its default `Config` but the similarity threshold "
          "(`DRAIN3_RS_SIM_TH`, given in its rows; its own default is 0.5), logdrain 0.3.2 with its default "
          "options (sim_th 0.4, no masks, no path delimiters); each times its mining loop only over lines "
          f"already in memory, best loop of {meta.get('peers_repeat', meta.get('repeat', 1))} runs.")
    dl = meta.get("drain_lines", lines)
    head = "" if dl >= lines else f"; drain3 and a second logsieve run read its first {fmt_int(dl)} lines"
    w(f"- Corpus: {fmt_int(lines)} lines drawn at random from the 7 Loghub-2k samples, digit runs re-drawn "
      f"(`bench/make_corpus.py mixed`, fixed seed){head}.")
    w(f"- logsieve and `wc -l`: whole-process wall time (reading the file included), best of {meta.get('repeat', 1)} runs. "
      "drain3: the `add_log_message` loop only (lines already in memory; start-up and reading excluded), one run. "
      "lines/s and the ratios use wall seconds; `CPU s` is user+sys CPU time beside them (whole process, smallest "
      "of the runs, all threads summed, for logsieve and `wc`; the timed loop for the peers), the figure to trust "
      "when the machine is shared. Peak RSS: the process's `ru_maxrss`.")
    w("")
    d = recs["drain3"]
    drain_rate = d["child"]["lines_per_s"]
    drain_lines = d["child"]["lines"]
    wc = recs["wc"]
    w("| tool | lines | seconds | CPU s | lines/s | vs drain3 | peak RSS MB | templates |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    dagger = False

    def vs(rate, n):
        nonlocal dagger
        if n == drain_lines:
            return ratio(rate, drain_rate)
        dagger = True
        return ratio(rate, drain_rate) + " †"

    w(f"| `wc -l` (ceiling) | {fmt_int(lines)} | {wc['seconds']:.3f} | {cpu(wc.get('cpu_seconds'))} | "
      f"{fmt_int(wc['lines_per_s'])} | | {wc['peak_rss_mb']:.0f} | |")
    w(f"| drain3 (mining loop) | {fmt_int(drain_lines)} | {d['child']['seconds']:.3f} | {cpu(d['child'].get('cpu_seconds'))} | "
      f"{fmt_int(drain_rate)} | 1.0x | {d['peak_rss_mb']:.0f} | {d['child']['clusters']:,} |")

    # Rust peers: peer[(name, n)] = (lines/s, child); n is the file's line count.
    peer = {}
    skipped_notes = []
    for label in sorted(peers, key=lambda k: (int(k.split()[2]), k)):
        _, name, n = label.split()
        n = int(n)
        r = recs[label]
        c = r["child"]
        if c["lines"] != n:
            sys.exit(f"report.py: {label}: the peer read {c['lines']} lines, the file has {n}")
        if c.get("lossy_utf8"):
            sys.exit(f"report.py: {label}: the corpus is not valid UTF-8; the peer got a lossy copy")
        peer[(name, n)] = (c["lines_per_s"], c)
        mark = ""
        skipped = c["lines"] - c["mined"]
        if skipped:
            mark = " ‡"
            skipped_notes.append(
                f"{PEERS[name]} on the {fmt_int(n)}-line file: {skipped:,} lines skipped "
                f"({c.get('skipped_bytes', 0):,} over 1,024 bytes, {c.get('skipped_tokens', 0):,} over 64 tokens, "
                f"{c.get('skipped_empty', 0):,} empty)")
        found = f"{c['clusters']:,}"
        if "created" in c and c["created"] != c["clusters"]:
            found += f" ({c['created']:,} created)"
        w(f"| {PEERS[name]} {c.get('version', '')}, sim_th {c['sim_th']:g} (mining loop) | "
          f"{fmt_int(c['mined'])}{mark} | {c['seconds']:.3f} | {cpu(c.get('cpu_seconds'))} | "
          f"{fmt_int(c['lines_per_s'])} | {vs(c['lines_per_s'], n)} | {r['peak_rss_mb']:.0f} | {found} |")

    def order(label):  # same lines as drain3 first, then by threads, templates before parse
        _, cmd, t, n = label.split()
        return (int(n) != drain_lines, int(n), int(t[1:]), list(CMDS).index(cmd))

    ls_rows = sorted((k for k in recs if k.startswith("logsieve ")), key=order)
    for label in ls_rows:
        r = recs[label]
        _, cmd, t, n = label.split()
        found = f"{count_lines(r['stdout']):,}" if cmd == "templates" and "stdout" in r else ""
        sink = " > /dev/null" if cmd != "templates" else ""
        w(f"| `logsieve {CMDS[cmd].format(t=t[1:])}`{sink} | {fmt_int(int(n))} | {r['seconds']:.3f} | "
          f"{cpu(r.get('cpu_seconds'))} | {fmt_int(r['lines_per_s'])} | {vs(r['lines_per_s'], int(n))} | {r['peak_rss_mb']:.0f} | {found} |")
    if dagger:
        w("")
        w(f"† Against drain3 on the first {fmt_int(drain_lines)} lines (`DRAIN_LINES`): drain3 slows down as "
          "its clusters accumulate, so on the whole corpus its lines/s would be lower and these ratios "
          "understate the gap. The rows with the same line count as drain3 compare identical lines.")
    if skipped_notes:
        w("")
        w("‡ drain3-rs refuses (`Error::LineTooLong`) lines over 1,024 bytes, with more than 64 space-separated "
          "tokens, or empty; its runner skips them before the timed loop, and its lines/s counts only the lines "
          "it mined. " + "; ".join(skipped_notes) + ".")
    w("")
    w("`templates` is drain3's cluster count, and for logsieve the number of JSONL records "
      "`logsieve templates` printed." + (" For drain3-rs, its clusters; for logdrain, its live clusters "
      "(`Miner::len`; it evicts beyond 100 per leaf, so the number created is given when it is larger)." if peers else ""))

    if peer:
        w("")
        w("### logsieve / peers (lines/s over lines/s, on the same lines; above 1: logsieve is faster)")
        w("")
        w("| logsieve command | lines | lines/s | / drain3-rs | / logdrain | / drain3 (Python) |")
        w("|---|---:|---:|---:|---:|---:|")
        for label in ls_rows:
            r = recs[label]
            _, cmd, t, n = label.split()
            n = int(n)
            cells = []
            for name in PEERS:
                p = peer.get((name, n))
                cells.append(ratio(r["lines_per_s"], p[0], 2) if p else "n/a")
            cells.append(vs(r["lines_per_s"], n))
            w(f"| `{CMDS[cmd].format(t=t[1:])}` | {fmt_int(n)} | {fmt_int(r['lines_per_s'])} | " + " | ".join(cells) + " |")
        w("")
        w("logsieve is timed as a whole process (start-up and reading the file included), the peers over "
          "their in-memory loop only, so these ratios favour the peers.")
    ks = sorted({int(k.split()[2]) for k in recs if k.startswith("growth drain3 ")})
    if ks:
        gl = meta.get("growth_lines")
        w("")
        w(f"### Growth curve ({fmt_int(gl)} lines per corpus, `bench/make_corpus.py templates`)")
        w("")
        w("| templates in corpus | drain3 lines/s | drain3 clusters | logsieve lines/s | logsieve templates | logsieve / drain3 |")
        w("|---:|---:|---:|---:|---:|---:|")
        rates = {}
        for k in ks:
            dr = recs[f"growth drain3 {k}"]["child"]
            lr = recs[f"growth logsieve {k}"]
            found = f"{count_lines(lr['stdout']):,}" if "stdout" in lr else "?"
            rates[k] = (dr["lines_per_s"], lr["lines_per_s"])
            w(f"| {k:,} | {fmt_int(dr['lines_per_s'])} | {dr['clusters']:,} | {fmt_int(lr['lines_per_s'])} | "
              f"{found} | {ratio(lr['lines_per_s'], dr['lines_per_s'])} |")
        lo, hi = ks[0], ks[-1]
        if lo != hi:
            ds = rates[lo][0] / rates[hi][0]
            ls = rates[lo][1] / rates[hi][1]
            w("")
            w(f"Slowdown from {lo:,} to {hi:,} templates: drain3 {ds:.2f}x, logsieve {ls:.2f}x "
              f"(ratio of the two curves: {ds / ls:.2f}; above 1 means drain3 degrades more).")
    targets(recs, meta, peer, w)
    print("\n".join(out))


def targets(recs, meta, peer, w):
    """The issue #11 (speed-2) targets, on the whole corpus, from this run."""
    lines = meta["lines"]

    def rate(cmd, t):
        r = recs.get(f"logsieve {cmd} t{t} {lines}")
        return r["lines_per_s"] if r else None

    rows = []

    def row(name, value, shown, goal, missing="not run"):
        if value is None:
            rows.append((name, missing, "–"))
        else:
            rows.append((name, shown, "yes" if value >= goal else "**no**"))

    t1 = rate("templates", 1)
    row(f"`templates --threads 1` ≥ {TEMPLATES_RATE / 1e6:g}M lines/s", t1,
        f"{fmt_int(t1)}" if t1 else "", TEMPLATES_RATE)
    d = peer.get(("drain3-rs", lines))
    x = t1 / d[0] if t1 and d else None
    row(f"`templates --threads 1` ≥ {VS_DRAIN3_RS}× drain3-rs (same lines)", x,
        f"{x:.2f}× ({fmt_int(d[0])} lines/s)" if x else "", VS_DRAIN3_RS, "not run (`PEERS=0`?)")
    for cmd, goal in (("parse", PARSE_JSONL_RATE), ("parse-csv", PARSE_CSV_RATE)):
        v = rate(cmd, 1)
        row(f"`{CMDS[cmd].format(t=1)}` ≥ {goal / 1e6:g}M lines/s", v, fmt_int(v) if v else "", goal)
    for cmd in CMDS:
        one, two = rate(cmd, 1), rate(cmd, 2)
        x = two / one if one and two else None
        row(f"`{CMDS[cmd].format(t='2')}` ≥ {TWO_THREADS}× one thread", x, f"{x:.2f}×" if x else "", TWO_THREADS,
            'not run (`THREADS="1 2"`)')
    ks = sorted({int(k.split()[2]) for k in recs if k.startswith("growth logsieve ")})
    x = None
    if len(ks) >= 2:
        x = recs[f"growth logsieve {ks[0]}"]["lines_per_s"] / recs[f"growth logsieve {ks[-1]}"]["lines_per_s"]
    name = f"templates growth {ks[0]:,} → {ks[-1]:,} templates ≤ {GROWTH_SLOWDOWN}× slower" if len(ks) >= 2 \
        else f"templates growth ≤ {GROWTH_SLOWDOWN}× slower"
    if x is None:
        rows.append((name, "not run", "–"))
    else:
        rows.append((name, f"{x:.2f}×", "yes" if x <= GROWTH_SLOWDOWN else "**no**"))
    w("")
    w(f"### Issue #11 targets ({fmt_int(lines)}-line corpus, this run)")
    w("")
    w("| target | measured | met |")
    w("|---|---:|---|")
    for name, shown, met in rows:
        w(f"| {name} | {shown} | {met} |")


if __name__ == "__main__":
    main()
