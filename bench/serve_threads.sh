#!/usr/bin/env bash
# Per-thread CPU per line of `logsieve serve` under closed-loop ingest:
#
#   bash bench/serve_threads.sh BIN SECONDS CONNECTIONS [serve flags...]
#
# Starts BIN serve on a fresh data dir (127.0.0.1:0), snapshots the CPU ticks
# (utime + stime) of every server thread by name, runs
# `loadgen ingest --threads CONNECTIONS --batch 1000 --seconds SECONDS`,
# snapshots again, stops the server with SIGTERM (exit 0 required), and
# prints lines/s, client latency, and per thread name the CPU seconds and
# microseconds per acknowledged line. Slow commits / retention steps / state
# saves from the server log follow. Needs bench/loadgen built
# (`cargo build --release --manifest-path bench/loadgen/Cargo.toml`).
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 BIN SECONDS CONNECTIONS [serve flags...]" >&2; exit 2; }
bin=$1 secs=$2 th=$3
shift 3
root=$(cd "$(dirname "$0")/.." && pwd)
loadgen=$root/bench/loadgen/target/release/loadgen
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
"$bin" serve --listen 127.0.0.1:0 --data-dir "$d/data" --log-format json "$@" 2>"$d/log" &
pid=$!
port=""
for _ in $(seq 1 300); do
  port=$(grep -o 'listening: http [0-9.]*:[0-9]*' "$d/log" 2>/dev/null | head -n1 | sed 's/.*://' || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "no listening line: $(cat "$d/log")" >&2; kill "$pid"; exit 1; }
ticks() {
  local t
  for t in /proc/"$pid"/task/*; do
    printf '%s\t%s\n' "$(cat "$t/comm")" "$(sed -E 's/^.*\) //' "$t/stat" | awk '{print $12 + $13}')"
  done | awk -F'\t' '{s[$1] += $2} END {for (n in s) print n "\t" s[n]}'
}
ticks >"$d/t0"
"$loadgen" ingest --threads "$th" --batch 1000 --seconds "$secs" --addr "127.0.0.1:$port" >"$d/client.json"
ticks >"$d/t1"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || { echo "server exited $rc after SIGTERM" >&2; exit 1; }
python3 - "$d/t0" "$d/t1" "$d/client.json" "$(getconf CLK_TCK)" <<'P'
import json, sys
def ticks(p):
    return {l.rsplit("\t", 1)[0]: int(l.rsplit("\t", 1)[1]) for l in open(p) if l.strip()}
a, b, c, hz = ticks(sys.argv[1]), ticks(sys.argv[2]), json.load(open(sys.argv[3])), int(sys.argv[4])
n = c["lines"]
print(f"lines {n} lines/s {c['lines_per_s']:.0f} p50 {c['lat_p50_ms']} ms p99 {c['lat_p99_ms']} ms "
      f"p99.9 {c['lat_p999_ms']} ms max {c['lat_max_ms']} ms")
for k in sorted(b):
    s = (b[k] - a.get(k, 0)) / hz
    if s > 0 and n:
        print(f"  {k:18s} {s:7.2f} s {1e6 * s / n:6.2f} us/line")
P
grep -E '"slow|retention pass' "$d/log" || true
