#!/usr/bin/env bash
# Install what the web page's browser tests need (crates/cli/tests/web.rs runs scripts/web/e2e.mjs).
#
#   bash scripts/web/setup.sh          # from anywhere; idempotent, well under a second when done
#
#   apt   chromium (Debian's build at /usr/bin/chromium), only if /usr/bin/chromium is missing;
#         node and npm too if missing. apt-get update runs only when something must be installed.
#   npm   scripts/web/node_modules via `npm ci` from the committed package-lock.json (playwright-core,
#         an exact version; it drives /usr/bin/chromium and never downloads a browser).
#         Redone when the lockfile changes (sha256 stamp in node_modules).
# Needs root only when apt packages are missing. Exits non-zero with `web/setup.sh: ...` on failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "web/setup.sh: $*" >&2; exit 1; }
say() { echo "web/setup.sh: $*"; }

missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
  [[ $(id -u) == 0 ]] || die "missing Debian packages ${missing[*]}: run this script as root (or apt-get install them)"
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
fi
[[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium still missing after install"

lock=$here/package-lock.json
want=$(sha256sum "$lock" | cut -d' ' -f1)
stamp=$here/node_modules/.logsieve-lock.sha256
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
  say "node_modules up to date: $here/node_modules"
else
  say "npm ci in $here"
  # playwright-core has no install script that fetches a browser; keep it that way.
  (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in $here failed"
  echo "$want" >"$stamp"
fi

v=$(cd "$here" && node -e 'console.log("playwright-core@" + require("playwright-core/package.json").version)') \
  || die "playwright-core in $here/node_modules does not load (rm -rf it and rerun)"
say "$v, $(/usr/bin/chromium --version 2>/dev/null | head -1), node $(node --version)"
