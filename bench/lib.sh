# Helpers shared by the bench scripts; source it after setting SCRIPT (the
# script's name, for messages) from the repository root.
#   die MESSAGE...           print "SCRIPT: MESSAGE" on stderr and exit 1
#   step MESSAGE...          print "== MESSAGE" on stderr
#   corpus OUT GEN ARGS...   run `python3 GEN ARGS... --out OUT` unless OUT
#                            was already made by the same generator (its
#                            sha1) with the same arguments (OUT.stamp)
#   logsieve_bin             set `bin` to $LOGSIEVE_BIN, or build logsieve
#                            (release; honours CARGO_TARGET_DIR) and set it
#                            to the build; dies if it is not an executable

die() {
  echo "$SCRIPT: $*" >&2
  exit 1
}
step() { echo "== $*" >&2; }

corpus() {
  local file=$1 gen=$2
  shift 2
  local stamp
  stamp="$(sha1sum "$gen" | cut -c1-40) $*"
  if [ -s "$file" ] && [ "$(cat "$file.stamp" 2>/dev/null)" = "$stamp" ]; then
    return
  fi
  step "$gen $* -> $file"
  python3 "$gen" "$@" --out "$file" >&2
  echo "$stamp" >"$file.stamp"
}

logsieve_bin() {
  if [ -n "${LOGSIEVE_BIN:-}" ]; then
    bin=$LOGSIEVE_BIN
  else
    step "cargo build --release -p logsieve"
    cargo build --release -p logsieve >&2
    bin="${CARGO_TARGET_DIR:-target}/release/logsieve"
  fi
  [ -x "$bin" ] || die "no logsieve binary at $bin"
}
