#!/usr/bin/env bash
# Creates bench/.venv with drain3 (the peer logsieve is compared with), at a
# pinned version. Idempotent: does nothing when the venv already holds that
# version. drain3 0.9.11 pins its own dependencies (cachetools 4.2.1,
# jsonpickle 1.5.1), so the environment is reproducible.
#
#   bash bench/setup_venv.sh        # PYTHON=python3.12 to pick another python
set -euo pipefail
DRAIN3_VERSION=0.9.11
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
python=${PYTHON:-python3}

have() {
  "$venv/bin/python" - "$DRAIN3_VERSION" 2>/dev/null <<'EOF'
import sys
from importlib.metadata import version
sys.exit(0 if version("drain3") == sys.argv[1] else 1)
EOF
}

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" || {
    echo "setup_venv.sh: '$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
    exit 1
  }
fi
if ! have; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "drain3==$DRAIN3_VERSION"
  have || {
    echo "setup_venv.sh: drain3 $DRAIN3_VERSION is not importable from $venv after installing" >&2
    exit 1
  }
fi
echo "drain3 $DRAIN3_VERSION ready in $venv"
