#!/usr/bin/env bash
# logsieve detect vs rsigma 0.23 on the same events and rules, in one run,
# each pinned to one core (taskset -c $CORE). Run from anywhere:
#
#   bash bench/detect.sh
#
# Builds logsieve (release) and rsigma 0.23 from crates.io (in its own
# root and target dir under bench/.peers, never in the workspace), builds
# the corpora (deterministic), then measures:
#   1. Windows: EVENTS events (bench/make_win_events.py: the SigmaHQ
#      regression events round-robin, fresh record ids and times) with the
#      whole SigmaHQ Windows rule set, testdata/sigma-rules/windows:
#        logsieve detect --mapping windows --rules testdata/sigma-rules/windows
#        rsigma engine eval -r testdata/sigma-rules/windows < flat events
#      rsigma reads Sigma field names at the top level of each event (no
#      mapping), so it gets the same events flattened (System and
#      EventData fields lifted to the top: `make_win_events.py --flat`).
#   2. Syslog: SYSLOG_LINES Linux syslog lines (make_corpus.py linux) with
#      the 407 bundled rules, testdata/sigma-rules/rules, every rule loaded
#      (--mapping none): `logsieve detect --preset syslog` parses the lines
#      (templates) and runs the rules; the same run with an empty rule
#      folder gives the parsing cost, so the difference is detection's.
#      rsigma gets the lines as JSON ({"message", "raw", ...}).
#   3. The start-up of each (loading the rules) from a run on one event,
#      subtracted to give the steady-state rate.
# Times are CPU seconds (user + sys, from wait4) of the whole process, best
# of REPEAT runs: the machine may be shared, and wall time then measures the
# neighbours. Wall seconds are printed too. Alerts: the number of alerts
# each tool wrote is printed (they count differently: see docs/BENCHMARKS.md).
#
# Settings (environment):
#   EVENTS=200000          Windows events
#   SYSLOG_LINES=1000000   syslog lines
#   REPEAT=3               runs of each command (best is kept)
#   CORE=0                 the core to pin to
#   LOGSIEVE_BIN=path      use this binary instead of building one
#   RSIGMA_BIN=path        use this rsigma binary instead of building one
#   BENCH_OUT=bench/out    where corpora and results go
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=${EVENTS:-200000}
SYSLOG_LINES=${SYSLOG_LINES:-1000000}
REPEAT=${REPEAT:-3}
CORE=${CORE:-0}
out=${BENCH_OUT:-bench/out}
mkdir -p "$out"

SCRIPT=bench/detect.sh
# shellcheck source=bench/lib.sh
. bench/lib.sh

logsieve_bin

if [ -n "${RSIGMA_BIN:-}" ]; then
  rsigma=$RSIGMA_BIN
else
  rsigma=bench/.peers/rsigma/bin/rsigma
  if [ ! -x "$rsigma" ]; then
    step "cargo install rsigma 0.23.0 (bench/.peers; takes a while the first time)"
    CARGO_TARGET_DIR=bench/.peers/target cargo install --locked --root bench/.peers/rsigma \
      rsigma --version 0.23.0 >&2
  fi
fi
[ -x "$rsigma" ] || die "no rsigma binary at $rsigma"
"$rsigma" --version | grep -q '0\.23' || die "$rsigma is not rsigma 0.23: $("$rsigma" --version)"

# --- corpora ------------------------------------------------------------------
corpus "$out/win-events.jsonl" bench/make_win_events.py --events "$EVENTS"
corpus "$out/win-events-flat.jsonl" bench/make_win_events.py --events "$EVENTS" --flat
corpus "$out/win-one.jsonl" bench/make_win_events.py --events 1
corpus "$out/win-one-flat.jsonl" bench/make_win_events.py --events 1 --flat
corpus "$out/syslog.log" bench/make_corpus.py linux --lines "$SYSLOG_LINES"
corpus "$out/syslog.jsonl" bench/make_corpus.py linux --lines "$SYSLOG_LINES" --json
corpus "$out/syslog-one.log" bench/make_corpus.py linux --lines 1
corpus "$out/syslog-one.jsonl" bench/make_corpus.py linux --lines 1 --json
mkdir -p "$out/no-rules"

# --- measuring ------------------------------------------------------------------
# cpu LABEL STDOUT STDIN CMD...: best of REPEAT; prints "cpu_s wall_s".
cpu() {
  python3 - "$REPEAT" "$@" <<'EOF'
import os, subprocess, sys, time
repeat, label, out, inp, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
best = None
for _ in range(repeat):
    with open(out, "wb") as o, open(inp, "rb") as i:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=o, stdin=i, stderr=subprocess.PIPE)
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.stderr.write(err.decode(errors="replace"))
        sys.exit(f"{label}: {' '.join(cmd)} failed")
    c = ru.ru_utime + ru.ru_stime
    if best is None or c < best[0]:
        best = (c, wall)
print(f"{best[0]:.3f} {best[1]:.3f}")
EOF
}

pin=(taskset -c "$CORE")
wrules=testdata/sigma-rules/windows
srules=testdata/sigma-rules/rules
# One core, one worker (taskset alone would also give one: the default
# --threads is the cores the process may run on).
ls_detect=("${pin[@]}" "$bin" detect --quiet --threads 1)
rs_eval=("${pin[@]}" "$rsigma" --quiet --no-stats engine eval)

step "Windows: logsieve"
read -r l_cpu l_wall < <(cpu logsieve "$out/alerts-logsieve-win.jsonl" /dev/null \
  "${ls_detect[@]}" --mapping windows --rules "$wrules" "$out/win-events.jsonl")
read -r l0_cpu _ < <(cpu logsieve-start /dev/null /dev/null \
  "${ls_detect[@]}" --mapping windows --rules "$wrules" "$out/win-one.jsonl")
step "Windows: rsigma"
read -r r_cpu r_wall < <(cpu rsigma "$out/alerts-rsigma-win.jsonl" "$out/win-events-flat.jsonl" \
  "${rs_eval[@]}" -r "$wrules")
read -r r0_cpu _ < <(cpu rsigma-start /dev/null "$out/win-one-flat.jsonl" "${rs_eval[@]}" -r "$wrules")

step "syslog: logsieve (rules, then no rules)"
read -r s_cpu s_wall < <(cpu logsieve "$out/alerts-logsieve-syslog.jsonl" /dev/null \
  "${ls_detect[@]}" --preset syslog --mapping none --rules "$srules" "$out/syslog.log")
read -r s0_cpu _ < <(cpu logsieve-start /dev/null /dev/null \
  "${ls_detect[@]}" --preset syslog --mapping none --rules "$srules" "$out/syslog-one.log")
read -r p_cpu _ < <(cpu logsieve-parse-only /dev/null /dev/null \
  "${ls_detect[@]}" --preset syslog --mapping none --rules "$out/no-rules" "$out/syslog.log")
step "syslog: rsigma"
read -r t_cpu t_wall < <(cpu rsigma "$out/alerts-rsigma-syslog.jsonl" "$out/syslog.jsonl" \
  "${rs_eval[@]}" -r "$srules")
read -r t0_cpu _ < <(cpu rsigma-start /dev/null "$out/syslog-one.jsonl" "${rs_eval[@]}" -r "$srules")

python3 - "$EVENTS" "$SYSLOG_LINES" "$l_cpu" "$l_wall" "$l0_cpu" "$r_cpu" "$r_wall" "$r0_cpu" \
  "$s_cpu" "$s_wall" "$s0_cpu" "$p_cpu" "$t_cpu" "$t_wall" "$t0_cpu" "$out" "$CORE" \
  "$("$bin" --version)" "$("$rsigma" --version | head -1)" "$REPEAT" <<'EOF' | tee "$out/detect-results.md"
import sys, platform
from datetime import datetime, timezone
a = sys.argv[1:]
ev, sl = int(a[0]), int(a[1])
l, lw, l0, r, rw, r0, s, sw, s0, p, t, tw, t0 = map(float, a[2:15])
out, core, lver, rver, rep = a[15], a[16], a[17], a[18], a[19]
def n(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)
def rate(count, sec):
    return count / sec if sec > 0 else float("inf")
cpu = next((x.split(":", 1)[1].strip() for x in open("/proc/cpuinfo") if x.startswith("model name")), platform.machine())
print(f"## logsieve detect vs rsigma ({datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC})\n")
print(f"- {cpu}; pinned to core {core}; CPU seconds (user+sys), best of {rep}; {lver}; {rver}.\n")
print("| run | events | CPU s | wall s | start-up CPU s | events/s (whole run) | events/s (steady) | alerts |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
rows = [
    ("logsieve, Windows rule set", ev, l, lw, l0, n(f"{out}/alerts-logsieve-win.jsonl")),
    ("rsigma 0.23, Windows rule set", ev, r, rw, r0, n(f"{out}/alerts-rsigma-win.jsonl")),
    ("logsieve, syslog, 407 rules (parse + detect)", sl, s, sw, s0, n(f"{out}/alerts-logsieve-syslog.jsonl")),
    ("rsigma 0.23, syslog as JSON, 407 rules", sl, t, tw, t0, n(f"{out}/alerts-rsigma-syslog.jsonl")),
]
for name, count, c, w, c0, alerts in rows:
    print(f"| {name} | {count:,} | {c:.2f} | {w:.2f} | {c0:.2f} | {rate(count, c):,.0f} | {rate(count, c - c0):,.0f} | {alerts:,} |")
print()
print(f"- Windows, steady state: logsieve / rsigma = {rate(ev, l - l0) / rate(ev, r - r0):.1f}x "
      f"(whole runs: {rate(ev, l) / rate(ev, r):.1f}x).")
print(f"- syslog: parsing alone (same command, empty rule folder) {p:.2f} CPU s; detection's share "
      f"{s - p:.2f} CPU s = {rate(sl, s - p):,.0f} lines/s for the 407 rules; "
      f"logsieve (parse + detect, steady) / rsigma (detect only, steady) = {rate(sl, s - s0) / rate(sl, t - t0):.1f}x.")
EOF
