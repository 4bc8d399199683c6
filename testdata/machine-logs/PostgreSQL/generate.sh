#!/usr/bin/env bash
# Regenerates PostgreSQL.log from scratch on a PRIVATE instance (never the machine's server on 5432).
# Usage: bash generate.sh   (as root; needs PostgreSQL 15 binaries, psql, pgbench)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PG=/work/main/scripts/pg-private.sh   # the project's scripts/pg-private.sh
DIR=/tmp/pglab PORT=55439
bash "$PG" stop "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR"
bash "$PG" start "$DIR" "$PORT"
P="psql -X -q -h 127.0.0.1 -p $PORT -U postgres -d postgres"
for s in "log_connections=on" "log_disconnections=on" "log_min_duration_statement=0" "log_checkpoints=on" \
         "log_lock_waits=on" "deadlock_timeout='200ms'" "log_line_prefix='%m [%p] %q%u@%d '" "log_temp_files=0" \
         "log_autovacuum_min_duration=-1" "lc_messages='C'"; do
    $P -c "ALTER SYSTEM SET $s"
done
bash "$PG" stop "$DIR"
rm -f "$DIR/server.log"          # the log starts at the restart with the settings above
bash "$PG" start "$DIR" "$PORT"
python3 "$here/workload.py"
bash "$PG" stop "$DIR"
cp "$DIR/server.log" "$here/PostgreSQL.log"
chmod 644 "$here/PostgreSQL.log"
wc -l "$here/PostgreSQL.log"
