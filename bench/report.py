#!/usr/bin/env python3
"""Renders bench/out/results.jsonl (written by bench/run.sh) as Markdown.

    report.py RESULTS.jsonl > results.md

Each input line is one JSON object with a ``label``: ``meta`` (the machine
and the settings), ``wc``, ``drain3``, ``logsieve templates tT N``,
``logsieve parse tT N`` (T threads, N lines), ``growth drain3 K``, ``growth logsieve K``.
"""
import json
import sys


def fmt_int(x):
    return f"{x:,.0f}"


def ratio(a, b):
    return f"{a / b:.1f}x" if a and b else "n/a"


def count_lines(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


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
    w(f"## logsieve vs drain3 ({meta.get('date', '?')})")
    w("")
    w(f"- Machine: {meta.get('cpu', '?')}, {meta.get('cores', '?')} cores, {meta.get('mem', '?')} RAM, {meta.get('os', '?')}.")
    w(f"- logsieve: {meta.get('logsieve', '?')}, thread counts run: {meta.get('threads', '1')}.")
    w(f"- drain3 {meta.get('drain3', '?')} on Python {meta.get('python', '?')}, default `TemplateMinerConfig()` (no masking file, no persistence).")
    dl = meta.get("drain_lines", lines)
    head = "" if dl >= lines else f"; drain3 and a second logsieve run read its first {fmt_int(dl)} lines"
    w(f"- Corpus: {fmt_int(lines)} lines drawn at random from the 7 Loghub-2k samples, digit runs re-drawn "
      f"(`bench/make_corpus.py mixed`, fixed seed){head}.")
    w(f"- logsieve and `wc -l`: whole-process wall time, best of {meta.get('repeat', 1)} runs. "
      "drain3: the `add_log_message` loop only (lines already in memory; start-up and reading excluded), one run. "
      "Peak RSS: the process's `ru_maxrss`.")
    w("")
    d = recs["drain3"]
    drain_rate = d["child"]["lines_per_s"]
    drain_lines = d["child"]["lines"]
    wc = recs["wc"]
    w("| tool | lines | seconds | lines/s | vs drain3 | peak RSS MB | templates |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    dagger = False

    def vs(rate, n):
        nonlocal dagger
        if n == drain_lines:
            return ratio(rate, drain_rate)
        dagger = True
        return ratio(rate, drain_rate) + " †"

    w(f"| `wc -l` (ceiling) | {fmt_int(lines)} | {wc['seconds']:.3f} | {fmt_int(wc['lines_per_s'])} | "
      f" | {wc['peak_rss_mb']:.0f} | |")
    w(f"| drain3 (mining loop) | {fmt_int(drain_lines)} | {d['child']['seconds']:.3f} | {fmt_int(drain_rate)} | "
      f"1.0x | {d['peak_rss_mb']:.0f} | {d['child']['clusters']:,} |")

    def order(label):  # same lines as drain3 first, then by threads, templates before parse
        _, cmd, t, n = label.split()
        return (int(n) != drain_lines, int(n), int(t[1:]), cmd != "templates")

    for label in sorted((k for k in recs if k.startswith("logsieve ")), key=order):
        r = recs[label]
        _, cmd, t, n = label.split()
        found = f"{count_lines(r['stdout']):,}" if cmd == "templates" and "stdout" in r else ""
        sink = " > /dev/null" if cmd == "parse" else ""
        w(f"| `logsieve {cmd} --threads {t[1:]} --output jsonl`{sink} | {fmt_int(int(n))} | {r['seconds']:.3f} | "
          f"{fmt_int(r['lines_per_s'])} | {vs(r['lines_per_s'], int(n))} | {r['peak_rss_mb']:.0f} | {found} |")
    if dagger:
        w("")
        w(f"† Against drain3 on the first {fmt_int(drain_lines)} lines (`DRAIN_LINES`): drain3 slows down as "
          "its clusters accumulate, so on the whole corpus its lines/s would be lower and these ratios "
          "understate the gap. The rows with the same line count as drain3 compare identical lines.")
    w("")
    w("`templates` is drain3's cluster count, and for logsieve the number of JSONL records "
      "`logsieve templates` printed.")
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
    print("\n".join(out))


if __name__ == "__main__":
    main()
