#!/usr/bin/env bash
# Full-size soak: `parse --follow` over three files under mixed rename and
# copytruncate rotation, 10K lines/s with detection on, stopped by SIGTERM;
# checks exactly-once delivery, every alert, saved state. The suite runs
# the same test small (crates/cli/tests/soak.rs).
#   SOAK_SECS=60 SOAK_RATE=10000 bash bench/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_SECS="${SOAK_SECS:-60}" SOAK_RATE="${SOAK_RATE:-10000}" SOAK_ROTATE_EVERY="${SOAK_ROTATE_EVERY:-5000}"
echo "soak: ${SOAK_SECS}s at ${SOAK_RATE} lines/s over 3 files, rotation every ${SOAK_ROTATE_EVERY} lines per file"
cargo test --release -p logsieve --test soak -- --nocapture
