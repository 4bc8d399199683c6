#!/usr/bin/env python3
"""Stream latency: how long from a line written into logsieve's standard
input to its record on standard output, at a slow and a fast line rate.

    python3 bench/stream_latency.py [--bin target/release/logsieve]

For each rate, a writer thread writes lines `seq <n> t <ns>` at that rate
into `logsieve parse -q -` (the pipe stays open); a reader thread reads each
record as it appears and takes now - t. Prints p50 / p99 / max per rate. The
issue's bar: every record within 100 ms of its line, whatever the rate.
"""
import argparse, json, subprocess, sys, threading, time

def run(binary, rate, seconds, extra):
    p = subprocess.Popen([binary, "parse", "-q", *extra, "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    lat = []
    total = int(rate * seconds)

    def reader():
        for raw in p.stdout:
            now = time.monotonic_ns()
            rec = json.loads(raw)
            t = int(rec["message"].split()[3])
            lat.append((now - t) / 1e6)

    th = threading.Thread(target=reader)
    th.start()
    start = time.monotonic()
    for n in range(total):
        due = start + n / rate
        d = due - time.monotonic()
        if d > 0:
            time.sleep(d)
        p.stdin.write(f"seq {n} t {time.monotonic_ns()} user u{n % 50}\n".encode())
        p.stdin.flush()  # each line reaches the pipe when it is written
    # Wait for the last records while the pipe is still open (no EOF flush).
    deadline = time.monotonic() + 10
    while len(lat) < total and time.monotonic() < deadline:
        time.sleep(0.01)
    got = len(lat)
    p.stdin.close()
    th.join()
    p.wait()
    lat.sort()
    q = lambda f: lat[min(len(lat) - 1, int(f * (len(lat) - 1)))] if lat else float("nan")
    return total, got, q(0.5), q(0.99), lat[-1] if lat else float("nan")

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/logsieve")
    ap.add_argument("--seconds", type=float, default=5)
    a = ap.parse_args()
    print("| line rate | lines | records before EOF | p50 ms | p99 ms | max ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    worst = 0.0
    # Above ~20K lines/s this Python client itself (one GIL for writer and
    # reader, a JSON parse per record) becomes the bottleneck.
    for rate in (5, 100, 10_000):
        total, got, p50, p99, mx = run(a.bin, rate, a.seconds if rate < 10_000 else 2, [])
        worst = max(worst, mx)
        print(f"| {rate}/s | {total} | {got} | {p50:.2f} | {p99:.2f} | {mx:.2f} |")
    sys.exit(0 if worst < 100 else 1)

if __name__ == "__main__":
    main()
