#!/usr/bin/env bash
# Creates bench/.venv with drain3 (the peer) pinned. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -x "$here/.venv/bin/python" ]; then
  python3 -m venv "$here/.venv"
fi
if ! "$here/.venv/bin/python" -c 'import drain3' 2>/dev/null; then
  "$here/.venv/bin/pip" install -q 'drain3==0.9.11'
fi
"$here/.venv/bin/python" -c 'import drain3, sys; print("drain3 ready in", sys.prefix)'
