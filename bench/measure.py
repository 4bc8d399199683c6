#!/usr/bin/env python3
"""Runs a command and prints one JSON object with its wall time and peak RSS.

    measure.py [--repeat N] [--stdout FILE] [--json-stdout] [--label L]
               [--lines N] -- CMD [ARG...]

- Wall time: ``time.perf_counter`` around fork/exec and wait, so it includes
  process start-up and everything the command does (reading its input,
  writing its output). With ``--repeat N`` the command runs N times and
  ``seconds`` is the best (smallest) run; every run is in ``runs``.
- Peak RSS: ``ru_maxrss`` of the child as reported by ``os.wait4`` (the
  child's own high-water mark, KiB on Linux), the largest over the runs.
- CPU time: ``ru_utime + ru_stime`` of the child from the same ``wait4``;
  ``cpu_seconds`` is the smallest over the runs (on a shared machine it
  moves less than the wall time).
- The command's stdout goes to /dev/null, or to FILE with ``--stdout``;
  ``--json-stdout`` parses it as one JSON object and embeds it as ``child``.
  With ``--repeat N`` too, ``child`` is the object of the run whose own
  ``seconds`` (the time the child measured itself, e.g. an in-memory loop)
  is smallest, and ``child_runs`` lists every run's ``seconds``.
- stderr is kept aside; when the command exits non-zero this prints it, says
  which command failed and exits with the command's status, so a caller
  running under ``set -e`` stops instead of recording a number.

Output keys: label, cmd, lines (as given), seconds, runs, lines_per_s
(when --lines is given), cpu_seconds, cpu_runs, peak_rss_mb, stdout (the FILE given), child and
child_runs (with --json-stdout).
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time


def run_once(cmd, stdout_path):
    out = open(stdout_path, "wb") if stdout_path else open(os.devnull, "wb")
    err = tempfile.TemporaryFile()
    try:
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        except OSError as e:
            sys.exit(f"measure.py: cannot run {shlex.join(cmd)}: {e}")
        _, status, usage = os.wait4(proc.pid, 0)
        dt = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            sys.stderr.write(err.read().decode("utf-8", "replace"))
            sys.stderr.write(f"measure.py: {shlex.join(cmd)} failed with exit status {proc.returncode}\n")
            sys.exit(proc.returncode if proc.returncode > 0 else 1)
        return dt, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime
    finally:
        out.close()
        err.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--stdout")
    ap.add_argument("--json-stdout", action="store_true")
    ap.add_argument("--label", default="")
    ap.add_argument("--lines", type=int)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        sys.exit("measure.py: no command given")
    if a.repeat < 1:
        sys.exit("measure.py: --repeat must be at least 1")
    if a.json_stdout and not a.stdout:
        fd, a.stdout = tempfile.mkstemp(prefix="measure-", suffix=".json")
        os.close(fd)
    runs, cpus, rss, children = [], [], 0.0, []
    for _ in range(a.repeat):
        dt, mb, cpu = run_once(cmd, a.stdout)
        runs.append(round(dt, 4))
        cpus.append(round(cpu, 4))
        rss = max(rss, mb)
        if a.json_stdout:
            children.append(read_child(cmd, a.stdout))
    best = min(runs)
    res = {"label": a.label, "cmd": shlex.join(cmd), "seconds": best, "runs": runs,
           "cpu_seconds": min(cpus), "cpu_runs": cpus, "peak_rss_mb": round(rss, 1)}
    if a.lines is not None:
        res["lines"] = a.lines
        res["lines_per_s"] = round(a.lines / best, 1) if best > 0 else None
    if a.stdout and not a.json_stdout:
        res["stdout"] = a.stdout
    if a.json_stdout:
        if len(children) == 1:
            res["child"] = children[0]
        elif all(isinstance(c.get("seconds"), (int, float)) for c in children):
            res["child"] = min(children, key=lambda c: c["seconds"])
            res["child_runs"] = [c["seconds"] for c in children]
        else:
            sys.exit(f"measure.py: --repeat with --json-stdout needs a numeric 'seconds' in what {shlex.join(cmd)} prints")
    print(json.dumps(res))


def read_child(cmd, path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        child = json.loads(text)
    except ValueError:
        child = None
    if not isinstance(child, dict):
        sys.exit(f"measure.py: {shlex.join(cmd)} did not print one JSON object: {text[:200]!r}")
    return child


if __name__ == "__main__":
    main()
