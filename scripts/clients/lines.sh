#!/usr/bin/env bash
# The log lines every driver sends: line i of a fixed, deterministic sequence.
# Same function as lines.py / lines.js (see lines.py for the three templates); keep them identical.
# usage: lines.sh COUNT [PREFIX] [START]   -- prints lines START..START+COUNT-1
set -euo pipefail
count=${1:-6}; prefix=${2:-}; start=${3:-0}
for ((i = start; i < start + count; i++)); do
  case $((i % 3)) in
    0) s="user $((1000 + i)) logged in from 10.0.$((i % 250)).$(((i * 7) % 250 + 1))" ;;
    1) s="connection $i closed after $(((i * 37) % 1000)) ms" ;;
    *) s="failed password for admin from 10.1.$((i % 200)).$(((i * 13) % 250 + 1)) port $((20000 + i)) ssh2" ;;
  esac
  if [[ -n $prefix ]]; then printf '%s %s\n' "$prefix" "$s"; else printf '%s\n' "$s"; fi
done
