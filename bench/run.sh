#!/usr/bin/env bash
# logsieve vs its peers on the same lines, in one run. Run from anywhere:
#
#   bash bench/run.sh
#
# Builds logsieve (release), sets up bench/.venv with drain3, builds the
# two Rust peers in their own scratch project (bench/peers, target dir
# bench/.peers/target-peers; never in the workspace), builds the corpora
# (deterministic), then measures on the SAME files, every command pinned
# with taskset (one core, CORE, for one thread; T cores from CORE for
# --threads T):
#   - wc -l                                    (the I/O ceiling)
#   - drain3 TemplateMiner, default config     (bench/drain3_run.py)
#   - drain3-rs 0.1.6 (crates.io `drain3`), default Config but sim_th
#     DRAIN3_RS_SIM_TH                         (bench/peers: drain3-rs-run)
#   - logdrain 0.3.2, default options          (bench/peers: logdrain-run)
#   - logsieve templates --threads T --quiet --output jsonl FILE
#   - logsieve parse --threads T --quiet --output jsonl FILE > /dev/null
#   - logsieve parse --threads T --quiet --output csv FILE > /dev/null
# and the growth curve: the same line count over 50 vs MANY_TEMPLATES
# synthetic templates, drain3 and logsieve templates on each.
# logsieve and wc are timed as whole processes (reading the file
# included); the three peers time only their mining loop over lines
# already in memory (start-up and reading excluded). drain3-rs refuses
# lines over 1,024 bytes, with over 64 space-separated tokens, or empty:
# its runner skips those before the loop and reports how many.
# Prints a Markdown report (with logsieve / peer ratios and the issue #11
# targets) and writes it to bench/out/results.md (raw numbers:
# bench/out/results.jsonl).
#
# Settings (environment):
#   LINES=1000000        lines of the mixed corpus
#   DRAIN_LINES=200000   drain3 runs on the first DRAIN_LINES lines of it (all
#                        of it when LINES is not larger), and so does logsieve,
#                        for a comparison on identical lines
#   GROWTH_LINES=200000  lines of each growth-curve corpus
#   MANY_TEMPLATES=5000  templates of the large growth-curve corpus
#   REPEAT=3             runs of each logsieve / wc command (best is kept)
#   THREADS=1            logsieve --threads values to run, e.g. "1 2"
#   CORE=0               the core to pin to (--threads T: cores CORE to
#                        CORE+T-1)
#   PEERS=1              0: skip the Rust peers (drain3-rs, logdrain)
#   PEERS_REPEAT=REPEAT  runs of each Rust peer command, best loop kept (drain3-rs needs about
#                        90 CPU seconds for the 1,000,000-line corpus)
#   PEERS_BIN_DIR=path   use drain3-rs-run and logdrain-run from this folder
#                        instead of building bench/peers
#   DRAIN3_RS_SIM_TH=0.4 drain3-rs's similarity threshold: 0.4 is the default
#                        of drain3 (Python) and logdrain, so the three Drains
#                        run with the same parameters; drain3-rs's own default
#                        is 0.5, with which it keeps making new clusters on the
#                        mixed corpus and slows down quadratically (about
#                        1,500 lines/s after 100,000 lines)
#   LOGSIEVE_BIN=path    use this binary instead of building one
#   BENCH_OUT=bench/out  where corpora and results go
#
# With the defaults it takes about 3 minutes on a 2-core machine (189 s
# measured, most of it drain3) plus the release build when logsieve is not
# built yet. LINES=100000 GROWTH_LINES=100000 takes under a minute. drain3 on
# a whole 1,000,000-line mixed corpus took 27 minutes, hence DRAIN_LINES.
# The first run also builds the Rust peers (a few minutes, fat LTO), and
# drain3-rs adds about 90 CPU seconds per run on a 1,000,000-line corpus
# (its clusters pile up as drain3's do: 57,623 after a million lines), so
# with the defaults count about 5 more minutes, or set PEERS_REPEAT=1.
set -euo pipefail
cd "$(dirname "$0")/.."

LINES=${LINES:-1000000}
GROWTH_LINES=${GROWTH_LINES:-200000}
DRAIN_LINES=${DRAIN_LINES:-200000}
MANY_TEMPLATES=${MANY_TEMPLATES:-5000}
REPEAT=${REPEAT:-3}
THREADS=${THREADS:-1}
CORE=${CORE:-0}
PEERS=${PEERS:-1}
PEERS_REPEAT=${PEERS_REPEAT:-$REPEAT}
DRAIN3_RS_SIM_TH=${DRAIN3_RS_SIM_TH:-0.4}
out=${BENCH_OUT:-bench/out}
mkdir -p "$out"

die() {
  echo "bench/run.sh: $*" >&2
  exit 1
}
step() { echo "== $*" >&2; }

# --- tools ------------------------------------------------------------------
step "drain3 venv"
bash bench/setup_venv.sh >&2
py=bench/.venv/bin/python

if [ -n "${LOGSIEVE_BIN:-}" ]; then
  bin=$LOGSIEVE_BIN
else
  step "cargo build --release -p logsieve"
  cargo build --release -p logsieve >&2
  bin="${CARGO_TARGET_DIR:-target}/release/logsieve"
fi
[ -x "$bin" ] || die "no logsieve binary at $bin"

# Pinning: one core for one thread, T consecutive cores for --threads T.
ncpu=$(nproc)
pin_for() { # THREADS -> the taskset core list
  local t=$1
  [ "$t" -ge 1 ] 2>/dev/null || die "THREADS holds '$t', not a positive number"
  [ $((CORE + t)) -le "$ncpu" ] || die "--threads $t pinned from CORE=$CORE needs cores $CORE-$((CORE + t - 1)); this machine has $ncpu"
  if [ "$t" -eq 1 ]; then echo "$CORE"; else echo "$CORE-$((CORE + t - 1))"; fi
}
[[ $CORE =~ ^[0-9]+$ ]] || die "CORE must be a core number, not '$CORE'"
for t in 1 $THREADS; do pin_for "$t" >/dev/null; done # dies here, not in a $(...)
pin1=(taskset -c "$CORE")

case "$PEERS" in
0) ;;
1)
  if [ -n "${PEERS_BIN_DIR:-}" ]; then
    peers_dir=$PEERS_BIN_DIR
  else
    step "cargo build --release --locked bench/peers (drain3-rs 0.1.6, logdrain 0.3.2; bench/.peers)"
    CARGO_TARGET_DIR=bench/.peers/target-peers \
      cargo build --release --locked --manifest-path bench/peers/Cargo.toml >&2
    peers_dir=bench/.peers/target-peers/release
  fi
  for p in drain3-rs-run logdrain-run; do
    [ -x "$peers_dir/$p" ] || die "no peer binary at $peers_dir/$p"
  done
  ;;
*) die "PEERS must be 0 or 1, not '$PEERS'" ;;
esac

# Fail loudly when the CLI lacks a flag the benchmark relies on.
for sub in templates parse; do
  help=$("$bin" "$sub" --help 2>&1) || die "'$bin $sub --help' failed: $help"
  for flag in --threads --quiet --output; do
    grep -q -e "$flag" <<<"$help" || die "'logsieve $sub' has no $flag flag (yet); not measuring"
  done
  grep -q -e jsonl <<<"$help" || die "'logsieve $sub' has no jsonl output (yet); not measuring"
done
grep -q -e csv <<<"$("$bin" parse --help 2>&1)" || die "'logsieve parse' has no csv output (yet); not measuring"

# --- corpora (rebuilt only when the generator or its arguments change) -------
corpus() { # OUT, make_corpus.py arguments...
  local file=$1
  shift
  local stamp
  stamp="$(sha1sum bench/make_corpus.py | cut -c1-40) $*"
  if [ -s "$file" ] && [ "$(cat "$file.stamp" 2>/dev/null)" = "$stamp" ]; then
    return
  fi
  step "make_corpus.py $* -> $file"
  "$py" bench/make_corpus.py "$@" --out "$file"
  echo "$stamp" >"$file.stamp"
}
corpus "$out/corpus.log" mixed --lines "$LINES"
corpus "$out/growth-50.log" templates --templates 50 --lines "$GROWTH_LINES"
corpus "$out/growth-$MANY_TEMPLATES.log" templates --templates "$MANY_TEMPLATES" --lines "$GROWTH_LINES"
n=$(wc -l <"$out/corpus.log")
[ "$n" -eq "$LINES" ] || die "$out/corpus.log has $n lines, expected $LINES"

# --- measurements -------------------------------------------------------------
res="$out/results.jsonl"
rm -f "$out/results.md"
measure() { "$py" bench/measure.py "$@" >>"$res"; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
ver=$("$bin" --version 2>/dev/null || echo logsieve)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain 2>/dev/null | grep -q . && echo ", uncommitted changes" || true)
built="tree at $commit$dirty"
[ -n "${LOGSIEVE_BIN:-}" ] && built="binary $LOGSIEVE_BIN given by LOGSIEVE_BIN; tree at $commit$dirty"
"$py" - "$LINES" "$GROWTH_LINES" "$REPEAT" "$THREADS" "$cpu" "$mem" "$ver ($built)" "$DRAIN_LINES" \
  "$CORE" "$PEERS" "$MANY_TEMPLATES" "$PEERS_REPEAT" >"$res" <<'EOF'
import json, os, platform, sys
from datetime import datetime, timezone
from importlib.metadata import version
a = sys.argv[1:]
print(json.dumps({"label": "meta", "lines": int(a[0]), "growth_lines": int(a[1]), "repeat": int(a[2]),
                  "drain_lines": min(int(a[7]), int(a[0])),
                  "threads": a[3], "cpu": a[4] or platform.machine(), "mem": a[5], "logsieve": a[6],
                  "core": int(a[8]), "peers": a[9] == "1", "many_templates": int(a[10]),
                  "peers_repeat": int(a[11]),
                  "load": " ".join(open("/proc/loadavg").read().split()[:3]),
                  "cores": os.cpu_count(), "os": f"{platform.system()} {platform.release()}",
                  "python": platform.python_version(), "drain3": version("drain3"),
                  "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}))
EOF

step "wc -l"
measure --label wc --lines "$LINES" --repeat "$REPEAT" -- "${pin1[@]}" wc -l "$out/corpus.log"

# logsieve on FILE (LINES lines): templates (output kept, to count them) and parse.
logsieve_rows() { # FILE LINES
  local file=$1 lines=$2 t pin
  for t in $THREADS; do
    pin=(taskset -c "$(pin_for "$t")")
    step "logsieve templates --threads $t ($lines lines)"
    measure --label "logsieve templates t$t $lines" --lines "$lines" --repeat "$REPEAT" \
      --stdout "$out/templates-t$t-$lines.jsonl" -- "${pin[@]}" "$bin" templates --threads "$t" --quiet --output jsonl "$file"
    [ -s "$out/templates-t$t-$lines.jsonl" ] || die "logsieve templates printed nothing"
    step "logsieve parse --threads $t -o jsonl > /dev/null ($lines lines)"
    measure --label "logsieve parse t$t $lines" --lines "$lines" --repeat "$REPEAT" \
      -- "${pin[@]}" "$bin" parse --threads "$t" --quiet --output jsonl "$file"
    step "logsieve parse --threads $t -o csv > /dev/null ($lines lines)"
    measure --label "logsieve parse-csv t$t $lines" --lines "$lines" --repeat "$REPEAT" \
      -- "${pin[@]}" "$bin" parse --threads "$t" --quiet --output csv "$file"
  done
}
# The Rust peers on FILE: each times its own mining loop (lines in memory);
# measure.py keeps the run with the best loop time.
peer_rows() { # FILE LINES
  local file=$1 lines=$2 p
  [ "$PEERS" = 1 ] || return 0
  step "drain3-rs, sim_th $DRAIN3_RS_SIM_TH ($lines lines)"
  measure --label "peer drain3-rs $lines" --repeat "$PEERS_REPEAT" --json-stdout \
    -- "${pin1[@]}" "$peers_dir/drain3-rs-run" --sim-th "$DRAIN3_RS_SIM_TH" "$file"
  step "logdrain ($lines lines)"
  measure --label "peer logdrain $lines" --repeat "$PEERS_REPEAT" --json-stdout \
    -- "${pin1[@]}" "$peers_dir/logdrain-run" "$file"
}
logsieve_rows "$out/corpus.log" "$LINES"
peer_rows "$out/corpus.log" "$LINES"

# drain3 slows down as its clusters pile up (about 8,000 after 100,000 mixed
# lines) and needs many minutes for a million lines, so by default it runs on
# the first DRAIN_LINES lines of the corpus, and logsieve runs on exactly
# those lines too.
drain_file="$out/corpus.log"
if [ "$DRAIN_LINES" -lt "$LINES" ]; then
  drain_file="$out/corpus-head-$DRAIN_LINES.log"
  head -n "$DRAIN_LINES" "$out/corpus.log" >"$drain_file"
  logsieve_rows "$drain_file" "$DRAIN_LINES"
  peer_rows "$drain_file" "$DRAIN_LINES"
fi
step "drain3 on $(wc -l <"$drain_file") lines (the slow part)"
measure --label drain3 --json-stdout -- "${pin1[@]}" "$py" bench/drain3_run.py "$drain_file"

for k in 50 "$MANY_TEMPLATES"; do
  f="$out/growth-$k.log"
  step "growth curve: $k templates"
  measure --label "growth drain3 $k" --json-stdout -- "${pin1[@]}" "$py" bench/drain3_run.py "$f"
  measure --label "growth logsieve $k" --lines "$GROWTH_LINES" --repeat "$REPEAT" \
    --stdout "$out/growth-$k-templates.jsonl" -- "${pin1[@]}" "$bin" templates --threads 1 --quiet --output jsonl "$f"
done

"$py" bench/report.py "$res" >"$out/results.md"
cat "$out/results.md"
