#!/usr/bin/env python3
"""Runs drain3's TemplateMiner over FILE and prints one JSON object.

    bench/.venv/bin/python bench/drain3_run.py FILE

Configuration: drain3's built-in defaults, passed explicitly as a fresh
``TemplateMinerConfig()`` so that no ``drain3.ini`` in the working directory
is read: no masking instructions, sim_th 0.4, depth 4, max_children 100,
unlimited clusters, parametrize_numeric_tokens on, no persistence, no
profiling.

Timing: the file is read into memory first (``splitlines``); only the loop
``for line in lines: miner.add_log_message(line)`` is timed, with
``time.perf_counter``. File reading, interpreter start-up and import time are
NOT included, which favours drain3 a little compared with a whole-process
wall time.

Output keys: lines, seconds (mining loop), cpu_seconds (its CPU time,
``time.process_time``), lines_per_s, clusters (number of
templates drain3 ended with), peak_rss_mb (whole process, from
``resource.getrusage``, so it includes the lines held in memory),
drain3_version.
"""
import json
import resource
import sys
import time
from importlib.metadata import version

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: drain3_run.py FILE")
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    if not lines:
        sys.exit(f"{sys.argv[1]}: no lines")
    miner = TemplateMiner(config=TemplateMinerConfig())
    add = miner.add_log_message
    c0 = time.process_time()
    t0 = time.perf_counter()
    for line in lines:
        add(line)
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "lines": len(lines),
                "seconds": round(dt, 3),
                "cpu_seconds": round(cpu, 3),
                "lines_per_s": round(len(lines) / dt, 1),
                "clusters": len(miner.drain.clusters),
                "peak_rss_mb": round(rss_kb / 1024, 1),
                "drain3_version": version("drain3"),
            }
        )
    )


if __name__ == "__main__":
    main()
