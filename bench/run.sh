#!/usr/bin/env bash
# logsieve vs drain3 on the same lines, in one run. Run from anywhere:
#
#   bash bench/run.sh
#
# Builds logsieve (release), sets up bench/.venv with drain3, builds the
# corpora (deterministic), then measures on the SAME files:
#   - wc -l                                    (the I/O ceiling)
#   - drain3 TemplateMiner, default config     (bench/drain3_run.py)
#   - logsieve templates --threads T --quiet --output jsonl FILE
#   - logsieve parse --threads T --quiet --output jsonl FILE > /dev/null
# and the growth curve: the same line count over 50 vs MANY_TEMPLATES
# synthetic templates, drain3 and logsieve templates on each.
# Prints a Markdown report and writes it to bench/out/results.md (raw
# numbers: bench/out/results.jsonl).
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
#   LOGSIEVE_BIN=path    use this binary instead of building one
#   BENCH_OUT=bench/out  where corpora and results go
#
# With the defaults it takes about 3 minutes on a 2-core machine (189 s
# measured, most of it drain3) plus the release build when logsieve is not
# built yet. LINES=100000 GROWTH_LINES=100000 takes under a minute. drain3 on
# a whole 1,000,000-line mixed corpus took 27 minutes, hence DRAIN_LINES.
set -euo pipefail
cd "$(dirname "$0")/.."

LINES=${LINES:-1000000}
GROWTH_LINES=${GROWTH_LINES:-200000}
DRAIN_LINES=${DRAIN_LINES:-200000}
MANY_TEMPLATES=${MANY_TEMPLATES:-5000}
REPEAT=${REPEAT:-3}
THREADS=${THREADS:-1}
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

# Fail loudly when the CLI lacks a flag the benchmark relies on.
for sub in templates parse; do
  help=$("$bin" "$sub" --help 2>&1) || die "'$bin $sub --help' failed: $help"
  for flag in --threads --quiet --output; do
    grep -q -e "$flag" <<<"$help" || die "'logsieve $sub' has no $flag flag (yet); not measuring"
  done
  grep -q -e jsonl <<<"$help" || die "'logsieve $sub' has no jsonl output (yet); not measuring"
done

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
"$py" - "$LINES" "$GROWTH_LINES" "$REPEAT" "$THREADS" "$cpu" "$mem" "$ver ($built)" "$DRAIN_LINES" >"$res" <<'EOF'
import json, os, platform, sys
from datetime import datetime, timezone
from importlib.metadata import version
a = sys.argv[1:]
print(json.dumps({"label": "meta", "lines": int(a[0]), "growth_lines": int(a[1]), "repeat": int(a[2]),
                  "drain_lines": min(int(a[7]), int(a[0])),
                  "threads": a[3], "cpu": a[4] or platform.machine(), "mem": a[5], "logsieve": a[6],
                  "cores": os.cpu_count(), "os": f"{platform.system()} {platform.release()}",
                  "python": platform.python_version(), "drain3": version("drain3"),
                  "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}))
EOF

step "wc -l"
measure --label wc --lines "$LINES" --repeat "$REPEAT" -- wc -l "$out/corpus.log"

# logsieve on FILE (LINES lines): templates (output kept, to count them) and parse.
logsieve_rows() { # FILE LINES
  local file=$1 lines=$2 t
  for t in $THREADS; do
    step "logsieve templates --threads $t ($lines lines)"
    measure --label "logsieve templates t$t $lines" --lines "$lines" --repeat "$REPEAT" \
      --stdout "$out/templates-t$t-$lines.jsonl" -- "$bin" templates --threads "$t" --quiet --output jsonl "$file"
    [ -s "$out/templates-t$t-$lines.jsonl" ] || die "logsieve templates printed nothing"
    step "logsieve parse --threads $t > /dev/null ($lines lines)"
    measure --label "logsieve parse t$t $lines" --lines "$lines" --repeat "$REPEAT" \
      -- "$bin" parse --threads "$t" --quiet --output jsonl "$file"
  done
}
logsieve_rows "$out/corpus.log" "$LINES"

# drain3 slows down as its clusters pile up (about 8,000 after 100,000 mixed
# lines) and needs many minutes for a million lines, so by default it runs on
# the first DRAIN_LINES lines of the corpus, and logsieve runs on exactly
# those lines too.
drain_file="$out/corpus.log"
if [ "$DRAIN_LINES" -lt "$LINES" ]; then
  drain_file="$out/corpus-head-$DRAIN_LINES.log"
  head -n "$DRAIN_LINES" "$out/corpus.log" >"$drain_file"
  logsieve_rows "$drain_file" "$DRAIN_LINES"
fi
step "drain3 on $(wc -l <"$drain_file") lines (the slow part)"
measure --label drain3 --json-stdout -- "$py" bench/drain3_run.py "$drain_file"

for k in 50 "$MANY_TEMPLATES"; do
  f="$out/growth-$k.log"
  step "growth curve: $k templates"
  measure --label "growth drain3 $k" --json-stdout -- "$py" bench/drain3_run.py "$f"
  measure --label "growth logsieve $k" --lines "$GROWTH_LINES" --repeat "$REPEAT" \
    --stdout "$out/growth-$k-templates.jsonl" -- "$bin" templates --threads 1 --quiet --output jsonl "$f"
done

"$py" bench/report.py "$res" >"$out/results.md"
cat "$out/results.md"
