#!/usr/bin/env python3
"""Builds the Windows events corpus for bench/detect.sh (deterministic: the
same arguments always give byte-identical files).

  make_win_events.py [--events N] [--out PATH]

N JSON lines (default 200,000; default PATH bench/out/win-events.jsonl):
the events of the SigmaHQ regression cases in testdata/sigma-regression
(every `event.json`, 25 events), taken round-robin, each with a fresh
EventRecordID (counting up from 1,000,000) and a TimeCreated/UtcTime one
millisecond after the previous event's. Everything else is as recorded,
so the rules that fire on a case's event fire on each of its copies.

With --flat each event is written the way tools without a field mapping
(rsigma with no pipeline) read Windows events: the scalar fields of
Event.System (Provider_Name for the provider, SystemTime for the time) and
of Event.EventData at the top level of one flat object.
"""
import argparse
import datetime
import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "testdata" / "sigma-regression"


def events():
    out = []
    for case in sorted(p for p in CASES.iterdir() if (p / "event.json").exists()):
        text = (case / "event.json").read_text(encoding="utf-8")
        dec = json.JSONDecoder()
        i = 0
        while True:
            while i < len(text) and text[i].isspace():
                i += 1
            if i >= len(text):
                break
            v, i = dec.raw_decode(text, i)
            out.append(v)
    return out


def flatten(ev):
    flat = {}
    system = ev["Event"]["System"]
    for k, v in system.items():
        if isinstance(v, dict) and "#text" in v:
            v = v["#text"]
        if not isinstance(v, (dict, list)):
            flat[k] = v
    flat["Provider_Name"] = system.get("Provider", {}).get("#attributes", {}).get("Name")
    flat["SystemTime"] = system.get("TimeCreated", {}).get("#attributes", {}).get("SystemTime")
    for k, v in (ev["Event"].get("EventData") or {}).items():
        flat[k] = v
    return flat


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "win-events.jsonl")
    ap.add_argument("--flat", action="store_true", help="System and EventData fields at the top level")
    a = ap.parse_args()
    evs = events()
    if len(evs) != 25:
        raise SystemExit(f"expected 25 regression events under {CASES}, found {len(evs)}")
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        buf = []
        for n in range(a.events):
            ev = json.loads(json.dumps(evs[n % len(evs)]))
            system = ev["Event"]["System"]
            system["EventRecordID"] = 1_000_000 + n
            t = start + datetime.timedelta(milliseconds=n)
            system["TimeCreated"] = {"#attributes": {"SystemTime": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}
            data = ev["Event"].get("EventData")
            if isinstance(data, dict) and "UtcTime" in data:
                data["UtcTime"] = t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}"
            if a.flat:
                ev = flatten(ev)
            buf.append(json.dumps(ev, ensure_ascii=False, separators=(",", ":")))
            if len(buf) >= 10000:
                f.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            f.write("\n".join(buf) + "\n")
    print(f"{a.events} events -> {a.out}")


if __name__ == "__main__":
    main()
