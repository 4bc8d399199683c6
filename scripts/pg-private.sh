#!/usr/bin/env bash
# A private PostgreSQL server for tests: its own data directory, port and socket directory,
# trust authentication for user postgres on 127.0.0.1 only.
#
#   scripts/pg-private.sh start   DIR PORT   # initdb DIR when empty, then start; no-op if running
#   scripts/pg-private.sh stop    DIR        # fast shutdown; no-op if not running
#   scripts/pg-private.sh crash   DIR        # immediate shutdown (like a crash; recovery at start)
#   scripts/pg-private.sh restart DIR PORT   # stop then start
#   scripts/pg-private.sh status  DIR        # exit 0 when running
#
# Connect with postgres://postgres@127.0.0.1:PORT/postgres. Run as root (the server runs as
# user postgres via runuser; DIR is chowned to it and every parent of DIR must be searchable
# by it) or as a non-root user that owns DIR. The server log is DIR/server.log.
set -euo pipefail

usage() { sed -n '2,13p' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
dir=$2
port=${3:-}

bin=
for d in /usr/lib/postgresql/*/bin /usr/local/bin /usr/bin; do
    if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then bin=$d; fi
done
[ -n "$bin" ] || { echo "pg-private: no pg_ctl/initdb found (install postgresql)" >&2; exit 1; }

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

running() { [ -f "$dir/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; }

start() {
    [ -n "$port" ] || usage
    case $port in *[!0-9]*|'') echo "pg-private: port must be a number: $port" >&2; exit 2;; esac
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" = 0 ]; then
        chown postgres:postgres "$dir"
        if ! runuser -u postgres -- test -x "$dir"; then
            echo "pg-private: user postgres cannot reach $dir (make its parents searchable: chmod o+x)" >&2
            exit 1
        fi
    fi
    chmod 700 "$dir"
    if running; then
        echo "pg-private: already running in $dir"
        return 0
    fi
    if [ ! -f "$dir/PG_VERSION" ]; then
        if [ -n "$(ls -A "$dir")" ]; then
            echo "pg-private: $dir is neither empty nor a PostgreSQL data directory" >&2
            exit 1
        fi
        as_pg "$bin/initdb" -D "$dir" --auth=trust -U postgres -E UTF8 --no-instructions >"$dir/../.pg-private-initdb.$$.log" 2>&1 || {
            cat "$dir/../.pg-private-initdb.$$.log" >&2; rm -f "$dir/../.pg-private-initdb.$$.log"; exit 1; }
        rm -f "$dir/../.pg-private-initdb.$$.log"
    fi
    # A server killed hard leaves its pid file; pg_ctl start handles a stale one.
    as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null || {
        echo "pg-private: start failed; last lines of $dir/server.log:" >&2
        tail -n 20 "$dir/server.log" >&2 || true
        exit 1
    }
    echo "pg-private: running in $dir on 127.0.0.1:$port"
}

stop() {
    local mode=$1
    if [ ! -f "$dir/PG_VERSION" ] || ! running; then
        echo "pg-private: not running in $dir"
        return 0
    fi
    as_pg "$bin/pg_ctl" -D "$dir" -m "$mode" -w -t 60 stop >/dev/null
    echo "pg-private: stopped ($mode) in $dir"
}

case $cmd in
    start) start ;;
    stop) stop fast ;;
    crash) stop immediate ;;
    restart) stop fast; start ;;
    status) running ;;
    *) usage ;;
esac
