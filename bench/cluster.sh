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
#   1. backlog:  with no worker running, bench/loadgen publishes
#                BACKLOG_RATE lines/s for BACKLOG_SECONDS (1,000-line
#                batches over SOURCES sources); then K workers start, and the
#                clock runs until the workers' logsieve_lines_committed_total
#                adds up to every published line (read from their /metrics:
#                polling the store's query API would load the store).
#                Throughput = lines / that time (worker start and partition
#                claims included). The workers' and PostgreSQL's CPU seconds
#                over the drain give CPU per line, for the capacity model.
#   2. latency:  with the K workers running, open-loop load at LATENCY_RATE
#                lines/s for LATENCY_SECONDS; the workers'
#                logsieve_ingest_to_commit_seconds histograms (front end's
#                acceptance -> committed in PostgreSQL, one host clock),
#                merged: P50 and P99 (upper bucket bounds).
# The single-process figure is `logsieve serve` (SQLite) under the same
# closed-loop load (loadgen ingest, 4 connections, INGEST_SECONDS).
#
# Prints a Markdown table and writes it to bench/out/cluster.md.
# Settings: WORKERS="1 2 4" SOURCES=16 BACKLOG_RATE=100000 BACKLOG_SECONDS=5 LATENCY_RATE=20000
#           LATENCY_SECONDS=20 INGEST_SECONDS=20 PARTITIONS=8 LOGSIEVE_BIN=path
#           WORKER_ARGS="--commit-interval-ms 200" (extra `logsieve worker` flags)
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS=${WORKERS:-1 2 4}
SOURCES=${SOURCES:-16}
BACKLOG_SECONDS=${BACKLOG_SECONDS:-5}
BACKLOG_RATE=${BACKLOG_RATE:-100000}
LATENCY_RATE=${LATENCY_RATE:-20000}
LATENCY_SECONDS=${LATENCY_SECONDS:-20}
INGEST_SECONDS=${INGEST_SECONDS:-20}
PARTITIONS=${PARTITIONS:-8}
WORKER_ARGS=${WORKER_ARGS:-}
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
committed() { # sum of logsieve_lines_committed_total over the given /metrics addresses
  local a t=0 v
  for a in "$@"; do
    v=$(curl -sf "http://$a/metrics" | awk '$1=="logsieve_lines_committed_total"{print $2}')
    t=$((t + ${v:-0}))
  done
  echo "$t"
}
cpu_of() { # total CPU seconds (user+system) of the given pids
  python3 - "$@" <<'EOF2'
import os, sys
hz = os.sysconf("SC_CLK_TCK"); t = 0
for p in sys.argv[1:]:
    try:
        f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        t += (int(f[11]) + int(f[12])) / hz
    except OSError:
        pass
print(t)
EOF2
}
pg_snap() { # pid:cpu of every PostgreSQL process
  local p
  for p in $(pgrep -u postgres postgres || true); do echo "$p:$(cpu_of "$p")"; done | tr '\n' ' '
}
pg_since() { # CPU seconds PostgreSQL spent since the pg_snap in $1 (processes that exited meanwhile are missed)
  python3 - "$1" "$(pg_snap)" <<'EOF2'
import sys
a = dict(x.split(":") for x in sys.argv[1].split())
b = dict(x.split(":") for x in sys.argv[2].split())
print(sum(float(v) - float(a.get(k, 0)) for k, v in b.items()))
EOF2
}
now() { date +%s.%N; }
# Bucket counts of the workers' logsieve_ingest_to_commit_seconds, summed
# over several /metrics pages, as JSON; hist_p BEFORE_JSON ADDR... prints
# P50|P99|count of what was observed since BEFORE_JSON.
hist_snap() { python3 - "$@" <<'EOF'
import sys, urllib.request, re, json
name = "logsieve_ingest_to_commit_seconds"
b = {}
for addr in sys.argv[1:]:
    text = urllib.request.urlopen(f"http://{addr}/metrics").read().decode()
    for m in re.finditer(name + r'_bucket\{le="([^"]+)"\} (\d+)', text):
        b[m.group(1)] = b.get(m.group(1), 0) + int(m.group(2))
print(json.dumps(b))
EOF
}
hist_p() { local before=$1; shift; python3 - "$before" "$(hist_snap "$@")" <<'EOF'
import sys, json
b0, b1 = json.loads(sys.argv[1]), json.loads(sys.argv[2])
d = {(float("inf") if k == "+Inf" else float(k)): b1[k] - b0.get(k, 0) for k in b1}
total = d.get(float("inf"), 0)
def q(p):
    for le in sorted(d):
        if total and d[le] >= p * total:
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
  pub_json=$("$lg" steady --addr "$fe" --rate "$BACKLOG_RATE" --batch 1000 --seconds "$BACKLOG_SECONDS" --sources "$SOURCES")
  published=$(echo "$pub_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lines"])')
  pub_rate=$(awk -v n="$published" -v s="$BACKLOG_SECONDS" 'BEGIN{printf "%d", n/s}')
  t0=$(now)
  waddrs=() wpids=()
  pg0=$(pg_snap)
  for i in $(seq 1 "$k"); do
    # shellcheck disable=SC2086
    "$LOGSIEVE_BIN" worker --nats "$nats" --partitions "$PARTITIONS" --store "$store" --listen 127.0.0.1:0 --id "w$i" $WORKER_ARGS >"$d/w$i.log" 2>&1 & pids+=($!) wpids+=($!)
  done
  for i in $(seq 1 "$k"); do waddrs+=("$(addr_of "$d/w$i.log")"); done
  while :; do
    n=$(committed "${waddrs[@]}")
    [ "$n" -ge "$published" ] && break
    awk -v a="$t0" -v b="$(now)" 'BEGIN{exit !(b-a>900)}' && die "K=$k: workers committed $n of $published after 900 s"
    sleep 0.2
  done
  t1=$(now)
  rate=$(awk -v n="$published" -v a="$t0" -v b="$t1" 'BEGIN{printf "%d", n/(b-a)}')
  wcpu=$(cpu_of "${wpids[@]}"); pgcpu=$(pg_since "$pg0")
  us_worker=$(awk -v c="$wcpu" -v n="$published" 'BEGIN{printf "%.1f", c/n*1e6}')
  us_pg=$(awk -v c="$pgcpu" -v n="$published" 'BEGIN{printf "%.1f", c/n*1e6}')
  h0=$(hist_snap "${waddrs[@]}")
  "$lg" steady --addr "$fe" --rate "$LATENCY_RATE" --batch 1000 --seconds "$LATENCY_SECONDS" --sources "$SOURCES" >"$d/steady.json"
  sleep 3
  lat=$(hist_p "$h0" "${waddrs[@]}")
  ratio=$(awk -v a="$rate" -v b="$single_rate" 'BEGIN{printf "%.2f", a/b}')
  rows+=("| $k | $published | $rate | ${ratio}x | $us_worker | $us_pg | ${lat%|*} |")
  echo "K=$k: $published lines drained at $rate lines/s (${ratio}x single); CPU per line: workers $us_worker us, PostgreSQL $us_pg us; latency P50|P99 ${lat%|*}"
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
  echo "| workers | lines | drained lines/s | vs single | worker CPU µs/line | PostgreSQL CPU µs/line | e2e P50 | e2e P99 |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} | tee "$out/cluster.md"
