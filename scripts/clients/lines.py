#!/usr/bin/env python3
"""The log lines every driver sends: line i of a fixed, deterministic sequence.

Three templates rotate (i % 3) with numbers that vary with i, so a miner forms exactly three
templates from any run of 3 or more lines:
  0: user <N> logged in from 10.0.<A>.<B>
  1: connection <N> closed after <M> ms
  2: failed password for admin from 10.1.<A>.<B> port <P> ssh2
The same function is written in lines.js and lines.sh; keep all three identical
(`python3 scripts/clients/lines.py 6` prints the first six for comparison).
With a prefix the line is "<prefix> <line>".
"""
import sys


def line(i, prefix=""):
    k = i % 3
    if k == 0:
        s = "user %d logged in from 10.0.%d.%d" % (1000 + i, i % 250, (i * 7) % 250 + 1)
    elif k == 1:
        s = "connection %d closed after %d ms" % (i, (i * 37) % 1000)
    else:
        s = "failed password for admin from 10.1.%d.%d port %d ssh2" % (i % 200, (i * 13) % 250 + 1, 20000 + i)
    return prefix + " " + s if prefix else s


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    pre = sys.argv[2] if len(sys.argv) > 2 else ""
    first = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    for j in range(first, first + n):
        print(line(j, pre))
