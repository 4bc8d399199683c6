#!/usr/bin/env bash
# `logsieve serve` under load, from a second process on loopback. Run from
# anywhere:
#
#   bash bench/serve.sh                 # full run: about 12 minutes plus the builds
#   DURATION=60 bash bench/serve.sh     # short steady run: about 3 minutes
#
# Builds logsieve (release) and the load client bench/loadgen (its own cargo
# package, not in the workspace), then runs three scenarios, each against a
# fresh server (`logsieve serve --listen 127.0.0.1:0 --data-dir DIR`, store
# on, stopped with SIGTERM and required to exit 0):
#
#   1. ingest:  POST /v1/ingest, text/plain, 1,000-line batches, closed loop
#               from INGEST_THREADS connections for INGEST_SECONDS:
#               lines/s, client request latency, and the server's
#               logsieve_ingest_to_commit_seconds histogram (P50/P99).
#   2. analyze: POST /v1/analyze, 100-line batches offered OPEN LOOP at
#               ANALYZE_RATE lines/s for ANALYZE_SECONDS; latency from each
#               request's scheduled send time (no coordinated omission).
#   3. steady:  POST /v1/ingest at STEADY_RATE lines/s (open loop, 1,000-line
#               batches) for DURATION s, NEW_FRACTION of the lines being new
#               templates (`task <w> <w> <w> finished`, random letters);
#               VmRSS of the server every SAMPLE_EVERY s and
#               logsieve_templates_evicted_total.
#
# Prints a Markdown report (targets beside measurements) and writes it to
# bench/out/serve.md; raw JSON lines in bench/out/serve-*.json, server logs in
# bench/out/serve-*.log.
#
# Settings (environment):
#   INGEST_SECONDS=30   INGEST_THREADS=4   (a list runs each: "2 4 8")
#   ANALYZE_SECONDS=30  ANALYZE_RATE=50000
#   DURATION=600        STEADY_RATE=100000  NEW_FRACTION=0.1  SAMPLE_EVERY=10
#   WARMUP=60           seconds of the steady run left out of the flatness check
#                       (capped at DURATION/3)
#   SCENARIOS="ingest analyze steady"   which to run
#   SERVE_ARGS=""       extra `logsieve serve` flags (e.g. "--max-templates 5000")
#   LOGSIEVE_BIN=path   use this binary instead of building one
#   BENCH_OUT=bench/out
set -euo pipefail
cd "$(dirname "$0")/.."

INGEST_SECONDS=${INGEST_SECONDS:-30}
INGEST_THREADS=${INGEST_THREADS:-4}
ANALYZE_SECONDS=${ANALYZE_SECONDS:-30}
ANALYZE_RATE=${ANALYZE_RATE:-50000}
DURATION=${DURATION:-600}
STEADY_RATE=${STEADY_RATE:-100000}
NEW_FRACTION=${NEW_FRACTION:-0.1}
SAMPLE_EVERY=${SAMPLE_EVERY:-10}
WARMUP=${WARMUP:-60}
SCENARIOS=${SCENARIOS:-ingest analyze steady}
SERVE_ARGS=${SERVE_ARGS:-}
out=${BENCH_OUT:-bench/out}
mkdir -p "$out"

die() {
  echo "bench/serve.sh: $*" >&2
  exit 1
}
step() { echo "== $*" >&2; }

# --- tools ------------------------------------------------------------------
if [ -n "${LOGSIEVE_BIN:-}" ]; then
  bin=$LOGSIEVE_BIN
else
  step "cargo build --release -p logsieve"
  cargo build --release -p logsieve >&2
  bin="${CARGO_TARGET_DIR:-target}/release/logsieve"
fi
[ -x "$bin" ] || die "no logsieve binary at $bin"
"$bin" serve --help >/dev/null 2>&1 || die "'$bin serve --help' failed: this logsieve has no serve command"

step "cargo build --release --manifest-path bench/loadgen/Cargo.toml"
cargo build --release --manifest-path bench/loadgen/Cargo.toml >&2
loadgen=bench/loadgen/target/release/loadgen
[ -x "$loadgen" ] || die "no load client at $loadgen"

# --- the server -----------------------------------------------------------------
pid=""
port=""
data=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

start_server() { # NAME
  data="$out/serve-data-$1"
  rm -rf "$data"
  local log="$out/serve-$1.log"
  # shellcheck disable=SC2086
  "$bin" serve --listen 127.0.0.1:0 --data-dir "$data" --log-format json $SERVE_ARGS 2>"$log" &
  pid=$!
  local i
  for i in $(seq 1 300); do
    port=$(grep -o 'listening: http [0-9.]*:[0-9]*' "$log" 2>/dev/null | head -n1 | sed 's/.*://' || true)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || die "the server exited at start: $(cat "$log")"
    sleep 0.1
  done
  [ -n "$port" ] || die "no 'listening: http' line from the server in 30 s: $(cat "$log")"
  step "server $1: pid $pid, http 127.0.0.1:$port"
}

stop_server() { # NAME; SIGTERM and require exit 0
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  pid=""
  [ "$rc" -eq 0 ] || die "the server ($1) exited $rc after SIGTERM; see $out/serve-$1.log"
  du -sk "$data" | cut -f1 >"$out/serve-$1.datakb"
  rm -rf "$data"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
# Per-thread CPU ticks of the server, summed by thread name: "name<TAB>ticks" lines.
thread_ticks() {
  local f
  for f in /proc/"$pid"/task/*/stat; do
    # comm is in parentheses and may hold spaces: take it between the first ( and the last ).
    sed -E 's/^[0-9]+ \((.*)\) (.*)$/\1\t\2/' "$f" 2>/dev/null | awk -F'\t' '{split($2, a, " "); print $1 "\t" a[12] + a[13]}'
  done | awk -F'\t' '{t[$1] += $2} END {for (n in t) print n "\t" t[n]}'
}
load() { cut -d' ' -f1-3 /proc/loadavg; }

# Runs the load client against the running server; its JSON line gets the
# server's CPU time and the load average added.
run_client() { # OUTFILE loadgen-args...
  local file=$1
  shift
  local l0 t0 c0 t1 c1 l1
  l0=$(load)
  c0=$(cpu_ticks)
  thread_ticks >"$file.th0"
  t0=$(date +%s.%N)
  "$loadgen" "$@" --addr "127.0.0.1:$port" >"$file.tmp"
  t1=$(date +%s.%N)
  c1=$(cpu_ticks)
  thread_ticks >"$file.th1"
  l1=$(load)
  python3 - "$file.tmp" "$c0" "$c1" "$t0" "$t1" "$l0" "$l1" "$(getconf CLK_TCK)" "$file.th0" "$file.th1" >>"$file" <<'EOF'
import json, sys
f, c0, c1, t0, t1, l0, l1, hz, th0, th1 = sys.argv[1:]
r = json.loads(open(f).read())
wall = float(t1) - float(t0)
r["server_cpu_s"] = (int(c1) - int(c0)) / int(hz)
r["server_cores"] = round(r["server_cpu_s"] / wall, 2) if wall > 0 else None
r["loadavg_before"], r["loadavg_after"] = l0, l1
def ticks(p):
    d = {}
    for line in open(p):
        name, _, n = line.rstrip("\n").rpartition("\t")
        d[name] = int(n)
    return d
a, b = ticks(th0), ticks(th1)
# CPU seconds per thread name over the run (threads that ended meanwhile are
# not counted), and microseconds of it per line the server committed.
r["thread_cpu_s"] = {n: (b[n] - a.get(n, 0)) / int(hz) for n in sorted(b) if b[n] - a.get(n, 0) > 0}
lines = r.get("server_committed_lines") or r.get("lines") or 0
r["thread_us_per_line"] = {n: round(1e6 * s / lines, 2) for n, s in r["thread_cpu_s"].items()} if lines else {}
print(json.dumps(r))
EOF
  rm -f "$file.tmp" "$file.th0" "$file.th1"
}

# --- meta ---------------------------------------------------------------------
res="$out/serve-results.jsonl"
rm -f "$res" "$out"/serve-ingest*.json "$out/serve-analyze.json" "$out/serve-steady.json"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
ver=$("$bin" --version 2>/dev/null || echo logsieve)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain 2>/dev/null | grep -q . && echo ", uncommitted changes" || true)
python3 - "$cpu" "$mem" "$ver (tree at $commit$dirty)" "$(nproc)" "$(load)" "$SERVE_ARGS" >"$res" <<'EOF'
import json, platform, sys
from datetime import datetime, timezone
a = sys.argv[1:]
print(json.dumps({"label": "meta", "cpu": a[0], "mem": a[1], "logsieve": a[2], "cores": int(a[3]),
                  "loadavg_start": a[4], "serve_args": a[5], "os": f"{platform.system()} {platform.release()}",
                  "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}))
EOF

# --- scenarios ------------------------------------------------------------------
for s in $SCENARIOS; do
  case $s in
  ingest)
    for t in $INGEST_THREADS; do
      start_server "ingest-t$t"
      step "ingest: $t connections, 1,000-line batches, ${INGEST_SECONDS}s"
      run_client "$out/serve-ingest-t$t.json" ingest --threads "$t" --batch 1000 --seconds "$INGEST_SECONDS"
      stop_server "ingest-t$t"
      cat "$out/serve-ingest-t$t.json" >>"$res"
    done
    ;;
  analyze)
    start_server analyze
    step "analyze: open loop, ${ANALYZE_RATE} lines/s in 100-line batches, ${ANALYZE_SECONDS}s"
    run_client "$out/serve-analyze.json" analyze --rate "$ANALYZE_RATE" --batch 100 --conns 16 \
      --seconds "$ANALYZE_SECONDS"
    stop_server analyze
    cat "$out/serve-analyze.json" >>"$res"
    ;;
  steady)
    start_server steady
    step "steady: ${STEADY_RATE} lines/s, new templates (fraction $NEW_FRACTION), ${DURATION}s, RSS every ${SAMPLE_EVERY}s"
    run_client "$out/serve-steady.json" steady --rate "$STEADY_RATE" --batch 1000 --conns 16 \
      --new-templates --new-fraction "$NEW_FRACTION" --seconds "$DURATION" --pid "$pid" \
      --sample-every "$SAMPLE_EVERY"
    stop_server steady
    cat "$out/serve-steady.json" >>"$res"
    ;;
  *) die "unknown scenario $s (ingest, analyze, steady)" ;;
  esac
done

# --- report ---------------------------------------------------------------------
python3 - "$res" "$WARMUP" "$out" >"$out/serve.md" <<'EOF'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
warmup, out = float(sys.argv[2]), sys.argv[3]
meta = rows[0]
def f(v, d=1):
    return "n/a" if v is None else f"{v:,.{d}f}"
def ms(r, k):
    le = r.get(k + "_le_ms")
    v = r.get(k + "_ms")
    if v is None:
        return "n/a"
    if le is not None and le >= 1e300:
        return f"> {f(v, 0)} ms (past the last bucket)"
    return f"{f(v, 1)} ms (bucket ≤ {f(le, 1)})"
def threads(r):
    us = r.get("thread_us_per_line") or {}
    keep = [n for n in ("logsieve-proces", "logsieve-process", "logsieve-store") if n in us]
    return "; ".join(f"{n} {us[n]:.2f} µs/line" for n in keep) or "no per-thread figures"
print(f"### `logsieve serve` under load ({meta['date']})\n")
print(f"- Machine: {meta['cpu']}, {meta['cores']} cores, {meta['mem']} RAM, {meta['os']}; "
      f"load average at start {meta['loadavg_start']} (the machine is shared: other builds and tests may run).")
print(f"- logsieve: {meta['logsieve']}; `logsieve serve --listen 127.0.0.1:0 --data-dir DIR"
      f"{(' ' + meta['serve_args']) if meta['serve_args'] else ''}` (store on), a fresh server per scenario, "
      "stopped by SIGTERM (exit 0 checked).")
print("- Load: `bench/loadgen` (keep-alive HTTP/1.1, one connection per thread) on the same machine, over loopback: "
      "client and server share the 2 cores.\n")
print("| scenario | measured | target | met? |\n|---|---|---|---|")
for r in rows[1:]:
    m = r["mode"]
    if m == "ingest":
        ok = r["lines_per_s"] >= 500_000 and r["errors"] == 0
        print(f"| ingest, {r['threads']} conns, 1,000-line batches, {f(r['seconds'], 0)} s | "
              f"**{f(r['lines_per_s'], 0)} lines/s** ({r['lines']:,} lines, {r['http_429']} × 429, {r['errors']} errors); "
              f"client latency p50 {f(r['lat_p50_ms'])} ms, p99 {f(r['lat_p99_ms'])} ms; "
              f"server ingest→commit p50 {ms(r, 'server_ingest_to_commit_p50')}, p99 {ms(r, 'server_ingest_to_commit_p99')}; "
              f"server CPU {f(r['server_cores'], 2)} cores ({threads(r)}) | ≥ 500,000 lines/s | "
              f"{'yes' if ok else '**no** (' + f(100 * r['lines_per_s'] / 500_000, 0) + ' % of it)'} |")
    elif m == "analyze":
        ok = r["lat_p99_ms"] is not None and r["lat_p99_ms"] < 10 and r["errors"] == 0 and r["requests"] == r["scheduled"]
        print(f"| analyze, open loop {f(r['offered_lines_per_s'], 0)} lines/s (100-line batches), {f(r['seconds'], 0)} s | "
              f"p50 {f(r['lat_p50_ms'], 2)} ms, p99 **{f(r['lat_p99_ms'], 2)} ms**, p99.9 {f(r['lat_p999_ms'], 2)} ms, "
              f"max {f(r['lat_max_ms'], 2)} ms; {r['requests']:,}/{r['scheduled']:,} requests answered, "
              f"{r['errors']} errors, {r['late_sends']} sent > 1 ms late; server CPU {f(r['server_cores'], 2)} cores | "
              f"P99 < 10 ms | {'yes' if ok else '**no**'} |")
    elif m == "steady":
        s = r["samples"]
        t_end = s[-1]["t"] if s else 0
        w = min(warmup, t_end / 3)
        after = [x["rss_kb"] for x in s if x["t"] >= w] or [x["rss_kb"] for x in s]
        lo, hi = min(after), max(after)
        spread = 100 * (hi - lo) / lo if lo else float("nan")
        ok = spread <= 10 and r["errors"] == 0
        mb = lambda kb: f"{kb / 1024:,.1f} MB"
        print(f"| steady {f(r['offered_lines_per_s'], 0)} lines/s, {100 * r['new_fraction']:.0f} % new templates, "
              f"{f(r['seconds'], 0)} s | RSS first {mb(s[0]['rss_kb'])}, min {mb(min(x['rss_kb'] for x in s))}, "
              f"max {mb(max(x['rss_kb'] for x in s))}, last {mb(s[-1]['rss_kb'])}; after {w:.0f} s warm-up "
              f"{mb(lo)}–{mb(hi)} (**{spread:.1f} %**); {int(r['templates_evicted']):,} templates evicted, "
              f"{int(r['templates_live']):,} live; {f(r['lines_per_s'], 0)} lines/s delivered, "
              f"latency p99 {f(r['lat_p99_ms'])} ms, {r['http_429']} × 429, {r['errors']} errors; "
              f"server CPU {f(r['server_cores'], 2)} cores | RSS flat within 10 % after warm-up | "
              f"{'yes' if ok else '**no**'} |")
for r in rows[1:]:
    if r["mode"] == "steady":
        print("\nSteady run, every sample (s, RSS MB, templates live, evicted total, lines committed):\n")
        print("| t s | RSS MB | live | evicted | committed |\n|---:|---:|---:|---:|---:|")
        for x in r["samples"]:
            print(f"| {x['t']:.0f} | {x['rss_kb'] / 1024:.1f} | {x['templates_live']:,.0f} | "
                  f"{x['templates_evicted']:,.0f} | {x['committed']:,.0f} |")
EOF
cat "$out/serve.md"
