#!/usr/bin/env bash
# Install the real log shippers that logsieve serve's integration tests drive.
#
#   bash scripts/clients/setup.sh          # from anywhere; idempotent, ~1 s when already done
#
# Installs (each step checks first and skips what is already in place):
#   apt   bsdutils (util-linux `logger`), rsyslog (`rsyslogd`), nats-server, postgresql-client
#         (the scale-out tests), only if missing; apt-get update
#         runs only when something must be installed; the system rsyslog service is not started
#         (a policy-rc.d denying service starts is put in place for the install if none exists).
#   venv  target/clients/venv (ignored by /target) with scripts/clients/requirements.txt
#         (OpenTelemetry SDK + OTLP log exporters: proto-http, json-http, proto-grpc).
#         Rebuilt when requirements.txt changes (sha256 stamp in the venv).
#   npm   scripts/clients/node/node_modules via `npm ci` from the committed package-lock.json
#         (winston-loki + winston, pino-loki + pino). Redone when the lockfile changes.
# Then checks each client loads and prints what is installed.
# Needs root only when apt packages are missing. Exits non-zero with `setup.sh: ...` on failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=$root/target/clients/venv
nodedir=$here/node
started=$SECONDS

die() { echo "setup.sh: $*" >&2; exit 1; }
say() { echo "setup.sh: $*"; }
hash_of() { sha256sum "$1" | cut -d' ' -f1; }

# ---- 1. Debian packages ---------------------------------------------------------------------
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
missing=()
pkg_installed bsdutils && command -v logger >/dev/null || missing+=(bsdutils)
pkg_installed rsyslog && [[ -x /usr/sbin/rsyslogd ]] || missing+=(rsyslog)
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
# Scale-out tests: a private nats-server per test, psql to make and drop schemas.
[[ -x /usr/sbin/nats-server ]] || command -v nats-server >/dev/null || missing+=(nats-server)
command -v psql >/dev/null || missing+=(postgresql-client)
if ((${#missing[@]})); then
  [[ $(id -u) == 0 ]] || die "missing Debian packages ${missing[*]}: run this script as root (or apt-get install them)"
  say "installing Debian packages: ${missing[*]}"
  policy=/usr/sbin/policy-rc.d made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# temporary, from logsieve scripts/clients/setup.sh: start no services\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=1
  fi
  restore_policy() { if [[ $made_policy == 1 ]]; then rm -f "$policy"; fi; }
  trap restore_policy EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
  restore_policy
  trap - EXIT
else
  say "Debian packages already installed (bsdutils, rsyslog, nodejs)"
fi
command -v logger >/dev/null || die "logger still missing after install"
[[ -x /usr/sbin/rsyslogd ]] || die "rsyslogd still missing after install"

# ---- 2. Python venv with the OpenTelemetry SDK ----------------------------------------------
req=$here/requirements.txt
want=$(hash_of "$req")
if [[ -x $venv/bin/python && -f $venv/.requirements.sha256 && $(cat "$venv/.requirements.sha256") == "$want" ]]; then
  say "venv up to date: $venv"
else
  say "building venv $venv from $(basename "$req")"
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  py=$(command -v python3 || true)
  [[ -n $py ]] || die "python3 not found"
  if ! "$py" -m venv "$venv" 2>/dev/null; then
    # Debian's own python3 needs python3-venv for ensurepip
    rm -rf "$venv"
    [[ $(id -u) == 0 ]] || die "python3 -m venv failed and python3-venv cannot be installed without root"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-venv >/dev/null \
      || die "apt-get install python3-venv failed"
    /usr/bin/python3 -m venv "$venv" || die "python3 -m venv $venv failed"
  fi
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$req" \
    || { rm -rf "$venv"; die "pip install -r $req failed"; }
  echo "$want" >"$venv/.requirements.sha256"
fi

# ---- 3. npm modules (Loki clients) ----------------------------------------------------------
lock=$nodedir/package-lock.json
want=$(hash_of "$lock")
stamp=$nodedir/node_modules/.logsieve-lock.sha256
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
  say "node_modules up to date: $nodedir/node_modules"
else
  say "npm ci in $nodedir"
  (cd "$nodedir" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in $nodedir failed"
  echo "$want" >"$stamp"
fi

# ---- 4. check every client loads, print versions ---------------------------------------------
logger_v=$(logger --version 2>&1 | head -1) || die "logger --version failed"
rsyslog_v=$(/usr/sbin/rsyslogd -v 2>&1 | head -1) || die "rsyslogd -v failed"
otel_v=$("$venv/bin/python" - <<'EOF'
from importlib.metadata import version
import opentelemetry.exporter.otlp.proto.http._log_exporter  # noqa: F401
import opentelemetry.exporter.otlp.proto.grpc._log_exporter  # noqa: F401
import opentelemetry.exporter.otlp.json.http._log_exporter  # noqa: F401
import opentelemetry.sdk._logs  # noqa: F401
print(" ".join("%s==%s" % (p, version(p)) for p in (
    "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-exporter-otlp-json-http", "opentelemetry-exporter-otlp-proto-grpc", "grpcio")))
EOF
) || die "the OpenTelemetry packages in $venv do not import (delete $venv and rerun)"
node_v=$(cd "$nodedir" && node -e '
  require("snappy").compressSync(Buffer.from("x"))  // the native snappy binding must load, or winston-loki sends JSON
  const v = n => n + "@" + require(n + "/package.json").version
  console.log(["winston-loki", "winston", "snappy", "pino-loki", "pino"].map(v).join(" "), "node " + process.version)
') || die "the npm modules in $nodedir/node_modules do not load (rm -rf it and rerun)"

say "logger:  $logger_v"
say "rsyslog: $rsyslog_v"
say "python:  $otel_v ($("$venv/bin/python" --version 2>&1))"
say "node:    $node_v"
say "ready in $((SECONDS - started))s"

# The web page's browser tests (chromium + playwright-core): scripts/web/setup.sh.
bash "$here/../web/setup.sh"
