#!/usr/bin/env bash
# Thread scaling of logsieve: the same commands on the same files with
# --threads 1, 2, 4, ... up to the machine's cores, each pinned to as many
# cores as it has threads (taskset -c 0..T-1), and a check that every
# thread count writes byte-identical output. Run from anywhere:
#
#   bash bench/threads.sh
#
# Needs only python3 (standard library), taskset and a logsieve binary; no
# network (it runs on a machine that reaches nothing, such as the 16-core
# device machine). The corpora are built by bench/make_corpus.py and
# bench/make_win_events.py (deterministic). Measured, for every T:
#   - logsieve templates --threads T --quiet --output jsonl corpus.log
#   - logsieve parse --threads T --quiet --output jsonl corpus.log
#   - logsieve parse --threads T --quiet --output csv corpus.log
#   - logsieve detect --threads T --quiet --mapping windows
#       --rules testdata/sigma-rules/windows win-events.jsonl   (DETECT=1)
#   - logsieve detect --threads T --quiet --preset syslog --mapping none
#       --rules testdata/sigma-rules/rules syslog.log            (DETECT=1)
# Each is timed as a whole process (wall seconds, reading the file
# included), best of REPEAT, output to /dev/null; one more run per command
# and T hashes the output (sha1) and the script fails if any thread count
# differs from --threads 1. For every T > 1 it also runs the machine's
# ceiling: T copies of `templates --threads 1` at once, copy i pinned to
# CPU i (SMT siblings, shared caches and turbo make it less than T). The
# report gives lines/s, the speed-up over one thread, the ceiling, CPU
# seconds (user + sys) and peak RSS, the physical core count, and the
# issue #11 targets (2 threads >= 1.8x, 16 threads >= 12x).
#
# Settings (environment):
#   LINES=1000000         lines of the mixed corpus (make_corpus.py mixed)
#   EVENTS=200000         Windows events (make_win_events.py)
#   SYSLOG_LINES=1000000  syslog lines (make_corpus.py linux)
#   THREADS="1 2 4 ..."   thread counts (default: powers of two up to the
#                         cores, and the core count itself)
#   REPEAT=3              timed runs of each command (best is kept)
#   DETECT=1              0: skip the two detect rows
#   LOGSIEVE_BIN=path     use this binary instead of building one
#   BENCH_OUT=bench/out   where corpora and results go
set -euo pipefail
cd "$(dirname "$0")/.."

LINES=${LINES:-1000000}
EVENTS=${EVENTS:-200000}
SYSLOG_LINES=${SYSLOG_LINES:-1000000}
REPEAT=${REPEAT:-3}
DETECT=${DETECT:-1}
out=${BENCH_OUT:-bench/out}
mkdir -p "$out"

SCRIPT=bench/threads.sh
# shellcheck source=bench/lib.sh
. bench/lib.sh

ncpu=$(nproc)
if [ -z "${THREADS:-}" ]; then
  THREADS=""
  t=1
  while [ "$t" -le "$ncpu" ]; do
    THREADS="$THREADS $t"
    t=$((t * 2))
  done
  [ $((t / 2)) -eq "$ncpu" ] || THREADS="$THREADS $ncpu"
fi
for t in $THREADS; do
  [ "$t" -ge 1 ] 2>/dev/null || die "THREADS holds '$t', not a positive number"
  [ "$t" -le "$ncpu" ] || die "--threads $t needs $t cores; this machine has $ncpu"
done
case "$DETECT" in 0 | 1) ;; *) die "DETECT must be 0 or 1, not '$DETECT'" ;; esac

logsieve_bin

corpus "$out/corpus.log" bench/make_corpus.py mixed --lines "$LINES"
if [ "$DETECT" = 1 ]; then
  corpus "$out/win-events.jsonl" bench/make_win_events.py --events "$EVENTS"
  corpus "$out/syslog.log" bench/make_corpus.py linux --lines "$SYSLOG_LINES"
fi

res="$out/threads.jsonl"
: >"$res"
# run LABEL COUNT T CMD...: REPEAT timed runs (stdout to /dev/null), then
# one run whose stdout is hashed; appends one JSON object to $res.
run() {
  python3 - "$REPEAT" "$res" "$@" <<'EOF'
import hashlib, json, os, subprocess, sys, tempfile, time
repeat, res, label, count, threads, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6:]
def once(stdout):
    err = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=err, stdin=subprocess.DEVNULL)
    digest = None
    if stdout == subprocess.PIPE:
        h = hashlib.sha1()
        for chunk in iter(lambda: p.stdout.read(1 << 20), b""):
            h.update(chunk)
        digest = h.hexdigest()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        err.seek(0)
        sys.stderr.write(err.read().decode(errors="replace"))
        sys.exit(f"bench/threads.sh: {' '.join(cmd)} failed with status {os.waitstatus_to_exitcode(status)}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0, digest
runs = [once(subprocess.DEVNULL) for _ in range(repeat)]
_, _, _, digest = once(subprocess.PIPE)
best = min(runs)
row = {"label": label, "count": count, "threads": threads, "seconds": best[0],
       "runs": [r[0] for r in runs], "cpu_seconds": min(r[1] for r in runs),
       "peak_rss_mb": max(r[2] for r in runs), "sha1": digest, "cmd": cmd}
with open(res, "a") as f:
    f.write(json.dumps(row) + "\n")
print(f"{label} t{threads}: {best[0]:.3f} s, {count / best[0]:,.0f}/s", file=sys.stderr)
EOF
}

# The machine's own ceiling: T copies of `templates --threads 1` at once,
# copy i pinned to core i. Their aggregate rate over one copy's is the most
# any program made of T independent one-core workers gets here (shared
# caches, memory bandwidth, SMT siblings, turbo); a thread count's speed-up
# is read against it.
ceiling() { # T
  python3 - "$REPEAT" "$res" "$1" "$LINES" "$bin" "$out/corpus.log" <<'EOF'
import json, subprocess, sys, time
repeat, res, t, lines, binary, corpus = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
best = None
for _ in range(repeat):
    t0 = time.perf_counter()
    procs = [subprocess.Popen(["taskset", "-c", str(i), binary, "templates", "--threads", "1", "--quiet",
                               "--output", "jsonl", corpus], stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
             for i in range(t)]
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - t0
    if any(codes):
        sys.exit(f"bench/threads.sh: a ceiling copy failed with status {codes}")
    best = wall if best is None else min(best, wall)
with open(res, "a") as f:
    f.write(json.dumps({"label": "ceiling", "count": lines * t, "threads": t, "seconds": best}) + "\n")
print(f"ceiling t{t}: {t} one-thread copies in {best:.3f} s", file=sys.stderr)
EOF
}

for t in $THREADS; do
  [ "$t" -eq 1 ] || ceiling "$t"
  pin=(taskset -c "0-$((t - 1))")
  ls=("${pin[@]}" "$bin")
  step "--threads $t"
  run "templates" "$LINES" "$t" "${ls[@]}" templates --threads "$t" --quiet --output jsonl "$out/corpus.log"
  run "parse jsonl" "$LINES" "$t" "${ls[@]}" parse --threads "$t" --quiet --output jsonl "$out/corpus.log"
  run "parse csv" "$LINES" "$t" "${ls[@]}" parse --threads "$t" --quiet --output csv "$out/corpus.log"
  if [ "$DETECT" = 1 ]; then
    run "detect windows" "$EVENTS" "$t" "${ls[@]}" detect --threads "$t" --quiet --mapping windows \
      --rules testdata/sigma-rules/windows "$out/win-events.jsonl"
    run "detect syslog" "$SYSLOG_LINES" "$t" "${ls[@]}" detect --threads "$t" --quiet --preset syslog \
      --mapping none --rules testdata/sigma-rules/rules "$out/syslog.log"
  fi
done

python3 - "$res" "$("$bin" --version)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  "$REPEAT" <<'EOF' | tee "$out/threads.md"
import json, os, platform, sys
from datetime import datetime, timezone
res, ver, commit, repeat = sys.argv[1:]
rows = [json.loads(l) for l in open(res)]
ceil = {r["threads"]: r for r in rows if r["label"] == "ceiling"}
rows = [r for r in rows if r["label"] != "ceiling"]
cpu = next((x.split(":", 1)[1].strip() for x in open("/proc/cpuinfo") if x.startswith("model name")), platform.machine())
# Physical cores: distinct (package, core) pairs; SMT siblings share one.
cores = set()
for c in range(os.cpu_count()):
    try:
        base = f"/sys/devices/system/cpu/cpu{c}/topology/"
        cores.add((open(base + "physical_package_id").read().strip(), open(base + "core_id").read().strip()))
    except OSError:
        pass
sib = "?"
try:
    sib = open("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list").read().strip()
except OSError:
    pass
print(f"## logsieve thread scaling ({datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC})\n")
print(f"- {cpu}, {os.cpu_count()} logical CPUs on {len(cores) or '?'} physical cores (cpu0's SMT siblings: {sib}); "
      f"{ver} (tree at {commit}); wall seconds of the whole process, best of {repeat}; --threads T pinned to "
      f"CPUs 0..T-1.")
one = {r["label"]: r for r in rows if r["threads"] == 1}
# ceiling(T): T one-thread copies at once against one copy alone.
def ceiling(t):
    if t == 1:
        return 1.0
    if t in ceil and "templates" in one:
        return ceil[t]["count"] / ceil[t]["seconds"] / (one["templates"]["count"] / one["templates"]["seconds"])
    return None
print("- ceiling: T copies of `templates --threads 1` at once, copy i pinned to CPU i, their aggregate "
      "lines/s over one copy's: what T independent one-core workers get on this machine.\n")
print("| command | input | T | wall s | per s | × one thread | ceiling | CPU s | peak RSS MB |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
bad = []
for r in rows:
    base = one.get(r["label"])
    speed = base["seconds"] / r["seconds"] if base else float("nan")
    if base and base["sha1"] != r["sha1"]:
        bad.append(f"{r['label']} --threads {r['threads']}")
    c = ceiling(r["threads"])
    print(f"| {r['label']} | {r['count']:,} | {r['threads']} | {r['seconds']:.3f} | "
          f"{r['count'] / r['seconds']:,.0f} | {speed:.2f}x | {f'{c:.2f}x' if c else '?'} | "
          f"{r['cpu_seconds']:.2f} | {r['peak_rss_mb']:.0f} |")
print()
for label in ("templates", "parse jsonl", "parse csv"):
    for t, goal in ((2, 1.8), (16, 12.0)):
        r = next((r for r in rows if r["label"] == label and r["threads"] == t), None)
        if r and label in one:
            s = one[label]["seconds"] / r["seconds"]
            c = ceiling(t)
            of = f"; {s / c:.0%} of the machine's ceiling {c:.2f}x" if c else ""
            print(f"- {label}: {t} threads {s:.2f}x one thread (target >= {goal}x: {'yes' if s >= goal else 'no'}{of})")
print()
if bad:
    print("- OUTPUT DIFFERS from --threads 1: " + ", ".join(bad))
    sys.exit(1)
print("- every thread count wrote byte-identical output (sha1 of stdout)")
EOF
