#!/usr/bin/env bash
# Capture what every real client puts on the wire, and check it.
#
#   bash scripts/clients/make_fixtures.sh OUTDIR     (run scripts/clients/setup.sh first)
#
# Each client is pointed at scripts/clients/capture.py (http / tcp / udp / grpc capture
# servers on ephemeral loopback ports); the captured request bodies / byte streams / datagrams
# are saved in OUTDIR under the names listed in OUTDIR/README.md's table. Every driver must exit
# 0, and every capture must contain each of the lines it was given (scripts/clients/lines.py,
# checked on the decoded payload: snappy/gzip undone, JSON string escapes read), so this doubles
# as a self-test of the drivers. Prints `N passed, M failed` and exits non-zero on any failure.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
py=$root/target/clients/venv/bin/python
out=${1:?usage: make_fixtures.sh OUTDIR}
mkdir -p "$out"
[[ -x $py ]] || { echo "make_fixtures.sh: $py missing: run scripts/clients/setup.sh" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0

# capture MODE NAME COUNT CMD... : runs CMD with {PORT} replaced while a capture server runs;
# the captures land in $work/NAME/NNN.bin (+ .headers.txt for http/grpc).
capture() {
  local mode=$1 name=$2 count=$3; shift 3
  local dir=$work/$name
  mkdir -p "$dir"
  "$py" "$here/capture.py" "$mode" --outdir "$dir" --max-seconds 60 >"$dir.port" &
  local cpid=$! port=''
  for _ in $(seq 100); do
    port=$(awk '/^LISTENING/ {print $2}' "$dir.port" 2>/dev/null)
    [[ -n $port ]] && break
    sleep 0.05
  done
  local cmd=${*//\{PORT\}/$port}
  if bash -c "$cmd" >"$dir.log" 2>&1; then
    sleep 0.3 # let the capture server write the last datagram/connection
    kill "$cpid"; wait "$cpid" 2>/dev/null
    if "$py" - "$dir" "$count" <<'EOF'; then
import gzip, json, os, subprocess, sys
sys.dont_write_bytecode = True
sys.path.insert(0, os.environ["HERE"])
from lines import line
d, n = sys.argv[1], int(sys.argv[2])
data = b""
for f in sorted(os.listdir(d)):
    if not f.endswith(".bin"):
        continue
    raw = open(os.path.join(d, f), "rb").read()
    hdr = os.path.join(d, f[:-4] + ".headers.txt")
    headers = open(hdr).read().lower() if os.path.exists(hdr) else ""
    if "content-encoding: gzip" in headers:
        raw = gzip.decompress(raw)
    if "application/x-protobuf" in headers and "/loki/" in headers:
        raw = subprocess.run(["node", "-e", "process.stdout.write(require('snappy').uncompressSync(require('fs').readFileSync(0)))"],
                             input=raw, capture_output=True, check=True, cwd=os.path.join(os.environ["HERE"], "node")).stdout
    if "application/json" in headers:
        raw = json.dumps(json.loads(raw), ensure_ascii=False).encode()  # canonical escapes
    data += raw
missing = [line(i) for i in range(n) if line(i).encode() not in data]
if missing:
    print("missing %d of %d lines, first: %r" % (len(missing), n, missing[0]))
    sys.exit(1)
EOF
      passed=$((passed + 1)); echo "ok   $name: $(head -1 "$dir.log")"
      return 0
    fi
  else
    kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
  fi
  failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' "$dir.log"
  return 1
}
export HERE=$here

# save NAME KIND TARGET [HOW-MANY]: copy the captures of NAME to OUTDIR/TARGET
#   single: first capture -> TARGET.bin|.json (+ .headers.txt);  numbered: first K -> TARGET-NNN.bin
save() {
  local name=$1 kind=$2 target=$3 k=${4:-3} dir=$work/$1
  [[ -f $dir/001.bin ]] || return 0
  if [[ $kind == single ]]; then
    cp "$dir/001.bin" "$out/$target"
    [[ -f $dir/001.headers.txt ]] && cp "$dir/001.headers.txt" "$out/${target%.*}.headers.txt"
  else
    for i in $(seq -f %03g 1 "$k"); do [[ -f $dir/$i.bin ]] && cp "$dir/$i.bin" "$out/$target-$i.bin"; done
  fi
  return 0
}

lines() { echo "$here/lines.sh $1"; }
otel="$py $here/otel_send.py"
loki="node $here/loki_send.js"
rsys="$here/rsyslog_forward.sh"

# --- OTLP (OpenTelemetry Python SDK) ---
capture http otlp-http 6 "$otel --endpoint http://127.0.0.1:{PORT} --protocol http --service checkout --count 6" && save otlp-http single otlp-http-protobuf.bin
capture http otlp-http-gzip 6 "$otel --endpoint http://127.0.0.1:{PORT} --protocol http --compression gzip --service checkout --count 6" && save otlp-http-gzip single otlp-http-protobuf-gzip.bin
capture http otlp-json 6 "$otel --endpoint http://127.0.0.1:{PORT} --protocol http-json --service checkout --count 6" && save otlp-json single otlp-http-json.json
capture grpc otlp-grpc 6 "$otel --endpoint http://127.0.0.1:{PORT} --protocol grpc --service checkout --count 6" && save otlp-grpc single otlp-grpc-export-request.bin
capture http otlp-http-600 600 "$otel --endpoint http://127.0.0.1:{PORT} --protocol http --service checkout --count 600 --batch-size 256" && save otlp-http-600 numbered otlp-http-protobuf-600lines 3

# --- Loki push (winston-loki protobuf+snappy and json, pino-loki json) ---
capture http loki-pb 6 "$loki --url http://127.0.0.1:{PORT} --format protobuf --job checkout --count 6" && save loki-pb single loki-protobuf-snappy-winston.bin
capture http loki-pb-300 300 "$loki --url http://127.0.0.1:{PORT} --format protobuf --job checkout --count 300" && save loki-pb-300 single loki-protobuf-snappy-winston-300lines.bin
capture http loki-json-winston 6 "$loki --url http://127.0.0.1:{PORT} --format json --library winston --job checkout --count 6" && save loki-json-winston single loki-json-winston.json
capture http loki-json-pino 6 "$loki --url http://127.0.0.1:{PORT} --format json --job checkout --count 6" && save loki-json-pino single loki-json-pino.json
capture http loki-json-pino-objlines 6 "$loki --url http://127.0.0.1:{PORT} --format json --job checkout --count 6 --pino-json-lines" && save loki-json-pino-objlines single loki-json-pino-jsonlines.json

# --- util-linux logger ---
capture tcp logger-tcp-octet-5424 6 "$(lines 6) | logger -n 127.0.0.1 -P {PORT} -T --octet-count --rfc5424 -t webapp -p local0.info" && save logger-tcp-octet-5424 single syslog-tcp-octet-rfc5424-logger.bin
capture tcp logger-tcp-octet-5424-sd 3 "$(lines 3) | logger -n 127.0.0.1 -P {PORT} -T --octet-count --rfc5424 -t webapp --msgid LOGIN --sd-id origin@32473 --sd-param 'ip=\"10.0.0.7\"' --sd-param 'note=\"a \\\"quoted\\\" \\]bracket\"' -i" && save logger-tcp-octet-5424-sd single syslog-tcp-octet-rfc5424-sd-logger.bin
capture tcp logger-tcp-lf-5424 6 "$(lines 6) | logger -n 127.0.0.1 -P {PORT} -T --rfc5424 -t webapp" && save logger-tcp-lf-5424 single syslog-tcp-lf-rfc5424-logger.bin
capture tcp logger-tcp-lf-3164 6 "$(lines 6) | logger -n 127.0.0.1 -P {PORT} -T --rfc3164 -t webapp -p local0.warning" && save logger-tcp-lf-3164 single syslog-tcp-lf-rfc3164-logger.bin
capture udp logger-udp-5424 6 "$(lines 6) | logger -n 127.0.0.1 -P {PORT} -d --rfc5424 -t webapp" && save logger-udp-5424 numbered syslog-udp-rfc5424-logger
capture udp logger-udp-3164 6 "$(lines 6) | logger -n 127.0.0.1 -P {PORT} -d --rfc3164 -t webapp" && save logger-udp-3164 numbered syslog-udp-rfc3164-logger

# --- rsyslog omfwd ---
capture tcp rsyslog-tcp-octet-5424 6 "$rsys --target 127.0.0.1:{PORT} --protocol tcp --framing octet --format rfc5424 --count 6 --tag webapp" && save rsyslog-tcp-octet-5424 single rsyslog-omfwd-tcp-octet-rfc5424.bin
capture tcp rsyslog-tcp-lf-5424 6 "$rsys --target 127.0.0.1:{PORT} --protocol tcp --framing lf --format rfc5424 --count 6 --tag webapp" && save rsyslog-tcp-lf-5424 single rsyslog-omfwd-tcp-lf-rfc5424.bin
capture tcp rsyslog-tcp-octet-3164 6 "$rsys --target 127.0.0.1:{PORT} --protocol tcp --framing octet --format rfc3164 --count 6 --tag webapp" && save rsyslog-tcp-octet-3164 single rsyslog-omfwd-tcp-octet-rfc3164.bin
capture tcp rsyslog-tcp-lf-3164 6 "$rsys --target 127.0.0.1:{PORT} --protocol tcp --framing lf --format rfc3164 --count 6 --tag webapp" && save rsyslog-tcp-lf-3164 single rsyslog-omfwd-tcp-lf-rfc3164.bin
capture udp rsyslog-udp-5424 6 "$rsys --target 127.0.0.1:{PORT} --protocol udp --format rfc5424 --count 6 --tag webapp" && save rsyslog-udp-5424 numbered rsyslog-omfwd-udp-rfc5424
capture udp rsyslog-udp-3164 6 "$rsys --target 127.0.0.1:{PORT} --protocol udp --format rfc3164 --count 6 --tag webapp" && save rsyslog-udp-3164 numbered rsyslog-omfwd-udp-rfc3164

echo "$passed passed, $failed failed"
((failed == 0))
