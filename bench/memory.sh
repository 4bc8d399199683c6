#!/usr/bin/env bash
# Peak memory of `logsieve templates` on distinct lines, and the size of the
# template state it saves. Run from anywhere:
#
#   bash bench/memory.sh
#
# Generates N lines (default 5,000,000) of 3 templates, each line with a
# random word (so nearly every line is distinct), runs
#   logsieve templates --quiet FILE
#   logsieve templates --quiet --state STATE FILE
# and prints the peak RSS of each run and the state file's size. Memory must
# grow with templates, not with distinct lines: it checks RSS < 100 MB and
# state < 1 MB and exits 1 when a limit is passed.
#
# Settings (environment):
#   N=5000000          lines to generate
#   LOGSIEVE_BIN=path  binary to run (default: target/release/logsieve, built
#                      with `cargo build --release -p logsieve` when missing)
#   MAX_RSS_MB=100     RSS limit
#   MAX_STATE_BYTES=1048576  state size limit
#
# Peak RSS comes from `/usr/bin/time -v` when it is installed, else from
# the child's ru_maxrss as python3's os.wait4 reports it (no install needed;
# python3 also generates the lines).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-5000000}
MAX_RSS_MB=${MAX_RSS_MB:-100}
MAX_STATE_BYTES=${MAX_STATE_BYTES:-1048576}
bin=${LOGSIEVE_BIN:-target/release/logsieve}

if [ ! -x "$bin" ]; then
  echo "== cargo build --release -p logsieve" >&2
  cargo build --release -p logsieve >&2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lines=$work/lines.log
state=$work/state.json

echo "== generating $N lines" >&2
python3 - "$N" >"$lines" <<'EOF'
import random, string, sys

n = int(sys.argv[1])
rnd = random.Random(1)
letters = string.ascii_lowercase
out = sys.stdout
buf = []
for i in range(n):
    w = "".join(rnd.choice(letters) for _ in range(10))
    t = i % 3
    if t == 0:
        buf.append(f"user {w} logged in from 10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}\n")
    elif t == 1:
        buf.append(f"session opened for {w} by daemon\n")
    else:
        buf.append(f"cache entry {w} evicted after timeout\n")
    if len(buf) >= 10000:
        out.write("".join(buf))
        buf.clear()
out.write("".join(buf))
EOF

# Runs "$@" with stdout discarded; prints its peak RSS in KiB.
peak_kib() {
  if [ -x /usr/bin/time ]; then
    local log=$work/time.log
    /usr/bin/time -v "$@" >/dev/null 2>"$log" || {
      cat "$log" >&2
      return 1
    }
    awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$log"
  else
    python3 - "$@" <<'EOF'
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(p.pid, 0)
if status != 0:
    sys.exit(f"{sys.argv[1:]} failed with status {status}")
print(usage.ru_maxrss)
EOF
  fi
}

echo "== logsieve templates (no state)" >&2
rss_plain=$(peak_kib "$bin" templates --quiet "$lines")
echo "== logsieve templates --state" >&2
rss_state=$(peak_kib "$bin" templates --quiet --state "$state" "$lines")
state_bytes=$(wc -c <"$state")
templates=$("$bin" templates --quiet "$lines" | grep -c . || true)

fail=0
check() { # name value limit unit
  local verdict=ok
  if [ "$2" -ge "$3" ]; then
    verdict="FAIL (limit $3 $4)"
    fail=1
  fi
  printf '%-28s %12s %-5s %s\n' "$1" "$2" "$4" "$verdict"
}
echo "lines: $N   output lines of 'templates': $templates"
check "peak RSS, no state" "$((rss_plain / 1024))" "$MAX_RSS_MB" MB
check "peak RSS, --state" "$((rss_state / 1024))" "$MAX_RSS_MB" MB
check "state file" "$state_bytes" "$MAX_STATE_BYTES" bytes
exit "$fail"
