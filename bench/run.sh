#!/usr/bin/env bash
# logsieve vs drain3 on the same lines, in one run. Prints lines/s, the
# ratio to drain3, peak RSS and the growth curve (50 vs 5,000 templates).
#
#   bash bench/run.sh            # 1M-line corpus (LINES=... to change)
#
# Results also go to bench/out/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${LINES:-1000000}
GROWTH_LINES=${GROWTH_LINES:-200000}
DRAIN_LINES=${DRAIN_LINES:-200000}
out=bench/out
mkdir -p "$out"
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
bash bench/setup_venv.sh >/dev/null
cargo build --release -q -p logsieve
bin=target/release/logsieve
py=bench/.venv/bin/python

[ -s "$out/corpus.log" ] && [ "$(wc -l < "$out/corpus.log")" -eq "$LINES" ] || python3 bench/make_corpus.py mixed "$LINES" "$out/corpus.log"
head -n "$DRAIN_LINES" "$out/corpus.log" > "$out/corpus-drain.log"
python3 bench/make_corpus.py templates 50 "$GROWTH_LINES" "$out/t50.log"
python3 bench/make_corpus.py templates 5000 "$GROWTH_LINES" "$out/t5000.log"

# seconds and peak RSS (MB) of a command, output discarded
measure() {
  /usr/bin/time -f '%e %M' -o "$out/time.txt" "$@" > /dev/null 2>"$out/stderr.txt" || { cat "$out/stderr.txt"; exit 1; }
  read -r secs kb < "$out/time.txt"
  echo "$secs $((kb / 1024))"
}
rate() { python3 -c "print(f'{$1/max($2,1e-9):,.0f}')"; }

wc_s=$(measure wc -l "$out/corpus.log" | cut -d' ' -f1)
drain=$($py bench/drain3_run.py "$out/corpus-drain.log")
drain_rate=$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['lines_per_s'])" "$drain")

read -r t1 m1 <<< "$(measure $bin templates --threads 1 --quiet -o jsonl "$out/corpus.log")"
read -r t2 m2 <<< "$(measure $bin templates --threads 2 --quiet -o jsonl "$out/corpus.log")"
read -r p1 pm1 <<< "$(measure $bin parse --threads 1 --quiet -o jsonl "$out/corpus.log")"
read -r p2 pm2 <<< "$(measure $bin parse --threads 2 --quiet -o jsonl "$out/corpus.log")"

g_d50=$($py bench/drain3_run.py "$out/t50.log" | python3 -c "import json,sys; print(json.load(sys.stdin)['lines_per_s'])")
g_d5k=$($py bench/drain3_run.py "$out/t5000.log" | python3 -c "import json,sys; print(json.load(sys.stdin)['lines_per_s'])")
read -r g50 _ <<< "$(measure $bin templates --threads 1 --quiet -o jsonl "$out/t50.log")"
read -r g5k _ <<< "$(measure $bin templates --threads 1 --quiet -o jsonl "$out/t5000.log")"
n50=$($bin templates --quiet -o jsonl "$out/t50.log" | wc -l)
n5k=$($bin templates --quiet -o jsonl "$out/t5000.log" | wc -l)

{
echo "## logsieve vs drain3 ($(date -u +%F), $(nproc) cores, $(uname -m))"
echo
echo "Corpus: $LINES lines drawn from the 7 Loghub-2k samples, digits re-drawn (bench/make_corpus.py mixed)."
echo "drain3 0.9.11, default config, mining loop only, on the first $DRAIN_LINES lines of the same corpus."
echo
echo "| run | lines/s | vs drain3 | peak RSS MB |"
echo "|---|---:|---:|---:|"
echo "| wc -l (ceiling) | $(rate $LINES $wc_s) | | |"
echo "| drain3 add_log_message | $(python3 -c "print(f'{$drain_rate:,.0f}')") | 1.0x | |"
echo "| logsieve templates --threads 1 | $(rate $LINES $t1) | $(python3 -c "print(f'{$LINES/$t1/$drain_rate:.1f}x')") | $m1 |"
echo "| logsieve templates --threads 2 | $(rate $LINES $t2) | $(python3 -c "print(f'{$LINES/$t2/$drain_rate:.1f}x')") | $m2 |"
echo "| logsieve parse -o jsonl --threads 1 | $(rate $LINES $p1) | $(python3 -c "print(f'{$LINES/$p1/$drain_rate:.1f}x')") | $pm1 |"
echo "| logsieve parse -o jsonl --threads 2 | $(rate $LINES $p2) | $(python3 -c "print(f'{$LINES/$p2/$drain_rate:.1f}x')") | $pm2 |"
echo
echo "Thread scaling (templates): 2 threads = $(python3 -c "print(f'{$t1/$t2:.2f}x')") one thread; parse: $(python3 -c "print(f'{$p1/$p2:.2f}x')")."
echo
echo "Growth curve ($GROWTH_LINES lines each; templates found: $n50 and $n5k):"
echo
echo "| templates | logsieve lines/s | drain3 lines/s | ratio |"
echo "|---:|---:|---:|---:|"
echo "| 50 | $(rate $GROWTH_LINES $g50) | $(python3 -c "print(f'{$g_d50:,.0f}')") | $(python3 -c "print(f'{$GROWTH_LINES/$g50/$g_d50:.1f}x')") |"
echo "| 5000 | $(rate $GROWTH_LINES $g5k) | $(python3 -c "print(f'{$g_d5k:,.0f}')") | $(python3 -c "print(f'{$GROWTH_LINES/$g5k/$g_d5k:.1f}x')") |"
echo
echo "logsieve 5000/50 slowdown: $(python3 -c "print(f'{$g5k/$g50:.2f}x')"); drain3: $(python3 -c "print(f'{$g_d50/$g_d5k:.2f}x')")."
} | tee "$out/results.md"
