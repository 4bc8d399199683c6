#!/usr/bin/env bash
# Scale-out throughput and end-to-end latency: logsieve worker x K on one NATS
# JetStream and one PostgreSQL, against the single-process service on the
# same machine. Run from anywhere:
#
#   bash bench/cluster.sh                    # K = 1 2 4: about 5 minutes plus the builds
#   WORKERS="1 2" BACKLOG_SECONDS=10 bash bench/cluster.sh
#
# Per K, on a fresh private nats-server and a fresh PostgreSQL schema
# (127.0.0.1:5432), with one front end (`logsieve serve --nats --store`):
#   1. backlog:  with no worker running, bench/loadgen publishes 1,000-line
#                batches over SOURCES sources (closed loop, 4 connections)
#                for BACKLOG_SECONDS; then K workers start, and the clock runs
#                until the store holds every published line. Throughput =
#                lines / that time (worker start and partition claims
#                included).
#   2. latency:  with the K workers running, open-loop load at LATENCY_RATE
#                lines/s for LATENCY_SECONDS; the workers'
#                logsieve_ingest_to_commit_seconds histograms (front end's
#                acceptance -> committed in PostgreSQL, one host clock),
#                merged: P50 and P99 (upper bucket bounds).
# The single-process figure is `logsieve serve` (SQLite) under the same
# closed-loop load (loadgen ingest, 4 connections, INGEST_SECONDS).
#
# Prints a Markdown table and writes it to bench/out/cluster.md.
# Settings: WORKERS="1 2 4" SOURCES=16 BACKLOG_SECONDS=20 LATENCY_RATE=20000
#           LATENCY_SECONDS=20 INGEST_SECONDS=20 PARTITIONS=8 LOGSIEVE_BIN=path
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS=${WORKERS:-1 2 4}
SOURCES=${SOURCES:-16}
BACKLOG_SECONDS=${BACKLOG_SECONDS:-20}
LATENCY_RATE=${LATENCY_RATE:-20000}
LATENCY_SECONDS=${LATENCY_SECONDS:-20}
INGEST_SECONDS=${INGEST_SECONDS:-20}
PARTITIONS=${PARTITIONS:-8}
out=${BENCH_OUT:-bench/out}
mkdir -p "$out"
die() { echo "bench/cluster.sh: $*" >&2; exit 1; }

if [ -z "${LOGSIEVE_BIN:-}" ]; then
  cargo build --release -q -p logsieve || die "build failed"
  LOGSIEVE_BIN=target/release/logsieve
fi
(cd bench/loadgen && cargo build --release -q) || die "loadgen build failed"
lg=bench/loadgen/target/release/loadgen
nats_exe=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$nats_exe" ] || die "nats-server not found (bash scripts/clients/setup.sh installs it)"
psql -h 127.0.0.1 -U postgres -d postgres -qc 'select 1' >/dev/null || die "PostgreSQL on 127.0.0.1:5432 is not answering"

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
addr_of() { # LOG -> host:port of its "listening: http"
  local i
  for i in $(seq 1 300); do
    a=$(grep -o 'listening: http [0-9.]*:[0-9]*' "$1" 2>/dev/null | head -n1 | sed 's/listening: http //' || true)
    [ -n "$a" ] && { echo "$a"; return; }
    sleep 0.1
  done
  die "no 'listening: http' in $1: $(tail -5 "$1")"
}
stored() { curl -sf "http://$1/v1/templates?limit=1&series=false" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lines"])'; }
now() { date +%s.%N; }
# P50 and P99 of a Prometheus histogram summed over several /metrics pages.
hist_p() { python3 - "$@" <<'EOF'
import sys, urllib.request, re
name = "logsieve_ingest_to_commit_seconds"
buckets = {}
for addr in sys.argv[1:]:
    text = urllib.request.urlopen(f"http://{addr}/metrics").read().decode()
    for m in re.finditer(name + r'_bucket\{le="([^"]+)"\} (\d+)', text):
        le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
        buckets[le] = buckets.get(le, 0) + int(m.group(2))
total = buckets.get(float("inf"), 0)
def q(p):
    for le in sorted(buckets):
        if buckets[le] >= p * total:
            return "≤ %g ms" % (le * 1000) if le != float("inf") else "> last bucket"
    return "n/a"
print(f"{q(0.5)}|{q(0.99)}|{total}")
EOF
}

rows=()
# Single process, for the ratio.
d=$tmp/single; mkdir -p "$d"
"$LOGSIEVE_BIN" serve --listen 127.0.0.1:0 --data-dir "$d/data" >"$d/log" 2>&1 & pids+=($!)
single=$(addr_of "$d/log")
single_json=$("$lg" ingest --addr "$single" --threads 4 --batch 1000 --seconds "$INGEST_SECONDS" --sources "$SOURCES")
single_rate=$(echo "$single_json" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["lines_per_s"]))')
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
pids=()
echo "single process: $single_rate lines/s"

for k in $WORKERS; do
  d=$tmp/k$k; mkdir -p "$d"
  port=$(free_port)
  "$nats_exe" -a 127.0.0.1 -p "$port" -js -sd "$d/nats" >"$d/nats.log" 2>&1 & pids+=($!)
  sleep 0.5
  schema="bench_cluster_${k}_$$"
  store="postgres://postgres@127.0.0.1:5432/postgres?schema=$schema"
  nats="nats://127.0.0.1:$port"
  "$LOGSIEVE_BIN" serve --listen 127.0.0.1:0 --data-dir "$d/fe" --nats "$nats" --partitions "$PARTITIONS" --store "$store" >"$d/fe.log" 2>&1 & pids+=($!)
  fe=$(addr_of "$d/fe.log")
  pub_json=$("$lg" ingest --addr "$fe" --threads 4 --batch 1000 --seconds "$BACKLOG_SECONDS" --sources "$SOURCES")
  published=$(echo "$pub_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lines"])')
  pub_rate=$(echo "$pub_json" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["lines_per_s"]))')
  t0=$(now)
  waddrs=()
  for i in $(seq 1 "$k"); do
    "$LOGSIEVE_BIN" worker --nats "$nats" --partitions "$PARTITIONS" --store "$store" --listen 127.0.0.1:0 --id "w$i" >"$d/w$i.log" 2>&1 & pids+=($!)
  done
  for i in $(seq 1 "$k"); do waddrs+=("$(addr_of "$d/w$i.log")"); done
  while :; do
    n=$(stored "$fe" || echo 0)
    [ "$n" -ge "$published" ] && break
    awk -v a="$t0" -v b="$(now)" 'BEGIN{exit !(b-a>600)}' && die "K=$k: store holds $n of $published after 600 s"
    sleep 0.2
  done
  t1=$(now)
  rate=$(awk -v n="$published" -v a="$t0" -v b="$t1" 'BEGIN{printf "%d", n/(b-a)}')
  "$lg" steady --addr "$fe" --rate "$LATENCY_RATE" --batch 1000 --seconds "$LATENCY_SECONDS" --sources "$SOURCES" >"$d/steady.json"
  sleep 2
  lat=$(hist_p "${waddrs[@]}")
  ratio=$(awk -v a="$rate" -v b="$single_rate" 'BEGIN{printf "%.2f", a/b}')
  rows+=("| $k | $published | $rate | ${ratio}x | $pub_rate | ${lat%|*} |")
  echo "K=$k: $published lines drained at $rate lines/s (${ratio}x single); front end published $pub_rate lines/s; latency P50|P99 ${lat%|*}"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
  psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
done

{
  echo "Scale-out on $(nproc) cores, $PARTITIONS partitions, $SOURCES sources ($(date -u +%Y-%m-%d))"
  echo
  echo "Single process (\`logsieve serve\`, SQLite, 4 connections): $single_rate lines/s"
  echo
  echo "| workers | lines | drained lines/s | vs single | front-end publish lines/s | e2e P50 | e2e P99 |"
  echo "|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} | tee "$out/cluster.md"
