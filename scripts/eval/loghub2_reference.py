#!/usr/bin/env python3
"""GA, FGA, PA and FTA as the Loghub-2.0 evaluator computes them.

A second, independent reading of the metric definitions of the
logpai/loghub-2.0 evaluator (`evaluation/utils`: GA_calculator.get_accuracy,
PA_calculator.calculate_parsing_accuracy, template_level_analysis.
evaluate_template_level), written from their published definitions in plain
Python. `crates/eval` pins the values it prints for the fixtures in
`crates/eval/tests/data` (see `reference_values.rs` there).

    python3 scripts/eval/loghub2_reference.py TRUTH.csv PREDICTED.txt

TRUTH.csv is a Loghub `*_structured_corrected.csv` (its EventTemplate
column); PREDICTED.txt holds one predicted template per line, in the same
order (a `.gz` file is read compressed). Templates are compared as strings
after collapsing whitespace runs, as `crates/eval` documents.
"""
import csv
import gzip
import sys
from collections import Counter, defaultdict


def norm(s):
    return " ".join(s.split())


def f1(p, r):
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def metrics(truth, pred):
    n = len(truth)
    assert n == len(pred) and n > 0
    tcount = Counter(truth)
    pcount = Counter(pred)
    # GA / FGA: per true template, its lines must carry one predicted
    # template, and that predicted template no other line.
    by_truth = defaultdict(list)
    for t, p in zip(truth, pred):
        by_truth[t].append(p)
    ga_lines = 0
    ga_groups = 0
    for t, ps in by_truth.items():
        kinds = set(ps)
        if len(kinds) == 1 and pcount[ps[0]] == len(ps):
            ga_lines += len(ps)
            ga_groups += 1
    # PA: lines whose predicted string is the true string.
    pa_lines = sum(1 for t, p in zip(truth, pred) if t == p)
    # FTA: per predicted template, the set of true templates of its lines
    # must be exactly {that string}.
    by_pred = defaultdict(set)
    for t, p in zip(truth, pred):
        by_pred[p].add(t)
    fta_ok = sum(1 for p, ts in by_pred.items() if ts == {p})
    return {
        "GA": ga_lines / n,
        "FGA": f1(ga_groups / len(pcount), ga_groups / len(tcount)),
        "PA": pa_lines / n,
        "FTA": f1(fta_ok / len(pcount), fta_ok / len(tcount)),
    }


def main():
    truth_path, pred_path = sys.argv[1], sys.argv[2]
    with open(truth_path, newline="", encoding="utf-8-sig") as f:
        truth = [norm(r["EventTemplate"]) for r in csv.DictReader(f)]
    opener = gzip.open if pred_path.endswith(".gz") else open
    with opener(pred_path, "rt", encoding="utf-8") as f:
        pred = [norm(line.rstrip("\n")) for line in f]
    m = metrics(truth, pred)
    print(" ".join(f"{k}={v:.6f}" for k, v in m.items()))


if __name__ == "__main__":
    main()
