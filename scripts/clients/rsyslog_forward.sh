#!/usr/bin/env bash
# Forward N log lines to a syslog receiver through a real, private rsyslogd (omfwd).
#
#   scripts/clients/rsyslog_forward.sh --target HOST:PORT --protocol tcp|udp --count N
#       [--framing octet|lf] [--format rfc5424|rfc3164] [--tag APP] [--prefix TEXT]
#       [--start I] [--timeout SEC] [--keep-dir]
#
# What it does:
#   1. writes a private rsyslog.conf in a temp dir: no system inputs (imuxsock with
#      SysSock.Use="off", so /dev/log is not touched), one imuxsock input on DIR/in.sock bound to
#      ruleset "fwd"; ruleset "fwd" runs two actions in order:
#        a) omfwd to TARGET (protocol tcp|udp; TCP_Framing="octet-counted" for --framing octet,
#           "traditional" (LF-terminated) for --framing lf; template RSYSLOG_SyslogProtocol23Format
#           for rfc5424, RSYSLOG_TraditionalForwardFormat for rfc3164),
#        b) omfile DIR/passed.log (the drain marker: a line lands there only after action a) ran
#           for it, because rsyslog runs a ruleset's actions in order on each batch).
#      rsyslogd's own messages go to DIR/internal.log; with -n its errors ("cannot connect to
#      HOST:PORT", "action suspended") are printed on its stderr, saved as DIR/rsyslogd.out.
#   2. starts `rsyslogd -n -f DIR/rsyslog.conf -i DIR/rsyslogd.pid` (no root needed; the
#      system rsyslog service is neither used nor started) and waits for DIR/in.sock;
#   3. sends N lines (scripts/clients/lines.sh) into DIR/in.sock with util-linux
#      `logger -u DIR/in.sock --socket-errors=on -t TAG` (unix datagram socket: the sender blocks
#      rather than drops when rsyslog is behind);
#   4. waits until DIR/passed.log has N lines, then SIGTERM and waits for rsyslogd to exit
#      (it drains its queue and closes the TCP connection on exit).
#
# When this script exits 0, rsyslogd has handed every one of the N messages to the kernel for
# TARGET and has exited (so a TCP connection is closed). Delivery INTO the receiver is then the
# receiver's business: a test polls the server (e.g. its query API or metrics) until N lines from
# TAG arrived, with a timeout. For UDP nothing acknowledges anything; on loopback with modest N
# nothing is lost in practice.
#
# Exit 0 and `OK rsyslog ...` on stdout when all N passed omfwd and internal.log shows no
# suspended/failed action and rsyslogd printed no error; exit 1 and `FAIL rsyslog ...` on stderr
# otherwise (rsyslogd's messages are printed); exit 2 on bad arguments.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
target='' protocol=tcp framing=octet format=rfc5424 count='' tag=rsyslog-fwd prefix='' start=0 timeout=30 keep=0

usage() { echo "rsyslog_forward.sh: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --target) target=${2:-}; shift 2 ;;
    --protocol) protocol=${2:-}; shift 2 ;;
    --framing) framing=${2:-}; shift 2 ;;
    --format) format=${2:-}; shift 2 ;;
    --count) count=${2:-}; shift 2 ;;
    --tag) tag=${2:-}; shift 2 ;;
    --prefix) prefix=${2:-}; shift 2 ;;
    --start) start=${2:-}; shift 2 ;;
    --timeout) timeout=${2:-}; shift 2 ;;
    --keep-dir) keep=1; shift ;;
    -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
    *) usage "unknown argument $1" ;;
  esac
done
[[ $target =~ ^([^:]+):([0-9]+)$ ]] || usage "--target HOST:PORT is required (got '$target')"
host=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]}
[[ $count =~ ^[0-9]+$ ]] || usage "--count N is required"
[[ $start =~ ^[0-9]+$ ]] || usage "--start must be a number"
[[ $timeout =~ ^[0-9]+$ ]] || usage "--timeout must be whole seconds"
[[ $tag =~ ^[A-Za-z0-9._-]{1,32}$ ]] || usage "--tag must be 1-32 of [A-Za-z0-9._-]"
case $protocol in tcp|udp) ;; *) usage "--protocol must be tcp or udp" ;; esac
case $framing in octet) tcp_framing=octet-counted ;; lf) tcp_framing=traditional ;; *) usage "--framing must be octet or lf" ;; esac
case $format in
  rfc5424) template=RSYSLOG_SyslogProtocol23Format ;;
  rfc3164) template=RSYSLOG_TraditionalForwardFormat ;;
  *) usage "--format must be rfc5424 or rfc3164" ;;
esac
rsyslogd=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
[[ -x $rsyslogd ]] || { echo "FAIL rsyslog rsyslogd not found: run scripts/clients/setup.sh" >&2; exit 1; }
command -v logger >/dev/null || { echo "FAIL rsyslog logger not found: run scripts/clients/setup.sh" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/rsyslog-fwd.XXXXXX")
pid=''
cleanup() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [[ $keep == 1 ]]; then echo "kept $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL rsyslog $*" >&2
  if [[ -s $dir/internal.log ]]; then echo "--- rsyslogd internal.log:" >&2; cat "$dir/internal.log" >&2; fi
  if [[ -s $dir/rsyslogd.out ]]; then echo "--- rsyslogd output:" >&2; cat "$dir/rsyslogd.out" >&2; fi
  exit 1
}

fwd_params="target=\"$host\" port=\"$port\" protocol=\"$protocol\" template=\"$template\""
[[ $protocol == tcp ]] && fwd_params+=" TCP_Framing=\"$tcp_framing\""
cat >"$dir/rsyslog.conf" <<EOF
# private rsyslog config written by scripts/clients/rsyslog_forward.sh
global(workDirectory="$dir" maxMessageSize="64k")
main_queue(queue.timeoutShutdown="10000")
module(load="imuxsock" SysSock.Use="off")
module(load="builtin:omfile")
input(type="imuxsock" Socket="$dir/in.sock" CreatePath="on" RateLimit.Interval="0" Ruleset="fwd")
ruleset(name="fwd") {
  action(type="omfwd" name="fwd" $fwd_params action.resumeRetryCount="3" action.resumeInterval="1" action.reportSuspension="on")
  action(type="omfile" name="passed" file="$dir/passed.log" template="RSYSLOG_FileFormat")
}
# rsyslogd's own messages (the default ruleset)
action(type="omfile" file="$dir/internal.log")
EOF

"$rsyslogd" -n -f "$dir/rsyslog.conf" -i "$dir/rsyslogd.pid" >"$dir/rsyslogd.out" 2>&1 &
pid=$!
deadline=$((SECONDS + timeout))
until [[ -S $dir/in.sock ]]; do
  kill -0 "$pid" 2>/dev/null || fail "rsyslogd exited at startup"
  ((SECONDS < deadline)) || fail "rsyslogd did not create $dir/in.sock within ${timeout}s"
  sleep 0.05
done

started=$SECONDS
if ((count > 0)); then
  "$here/lines.sh" "$count" "$prefix" "$start" | logger -u "$dir/in.sock" --socket-errors=on -t "$tag" \
    || fail "logger could not write to $dir/in.sock"
fi

n=0
while :; do
  n=$( (wc -l <"$dir/passed.log") 2>/dev/null || echo 0)
  ((n >= count)) && break
  kill -0 "$pid" 2>/dev/null || fail "rsyslogd died after $n of $count lines passed omfwd"
  ((SECONDS < deadline)) || fail "only $n of $count lines passed omfwd within ${timeout}s"
  sleep 0.05
done

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=''
((rc == 0)) || fail "rsyslogd exited with status $rc"
# rsyslogd -n prints its own error messages (e.g. "cannot connect to HOST:PORT") on stderr;
# any other of its messages land in internal.log.
if grep -Eiqs "suspend|error|fail|could not|cannot" "$dir/internal.log" "$dir/rsyslogd.out"; then
  fail "rsyslogd reported a problem with the omfwd action"
fi
echo "OK rsyslog protocol=$protocol framing=$([[ $protocol == tcp ]] && echo "$framing" || echo datagram) format=$format target=$host:$port tag=$tag forwarded=$n/$count $((SECONDS - started))s"
