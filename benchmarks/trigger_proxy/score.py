"""Score the judged trigger proxy: recall and false-positive rate, before and after.

    python benchmarks/trigger_proxy/score.py            # summary table (markdown)
    python benchmarks/trigger_proxy/score.py --detail   # plus one row per query

A judged proxy, not a measured trigger rate: `judgements.json` records, for every query of
`evals/trigger-set.json`, which skills an agent would load when it sees only the listing
(`listing.json`: 25 real neighbour skills plus async-jobs) with the old and the new
description. Measure the real rate with skill-creator's `run_eval.py` (see README).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SKILL = "async-jobs"


def load() -> list[dict]:
    queries = json.loads((REPO / "evals" / "trigger-set.json").read_text())
    judged = json.loads((HERE / "judgements.json").read_text())["judgements"]
    # The judgements must describe the current trigger set, query for query.
    if [j["query"] for j in judged] != [q["query"] for q in queries]:
        sys.exit("judgements.json is out of date with evals/trigger-set.json: re-judge first")
    for j, q in zip(judged, queries, strict=True):
        if (j["should_trigger"], j["split"]) != (q["should_trigger"], q.get("split")):
            sys.exit(f"query {j['index']}: class or split differs from evals/trigger-set.json")
    return judged


def rates(rows: list[dict], when: str) -> tuple[str, str]:
    pos = [r for r in rows if r["should_trigger"]]
    neg = [r for r in rows if not r["should_trigger"]]
    hits = sum(SKILL in r[when] for r in pos)
    false = sum(SKILL in r[when] for r in neg)
    return f"{hits}/{len(pos)}", f"{false}/{len(neg)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detail", action="store_true", help="one row per query")
    args = parser.parse_args()
    rows = load()
    print("| Set | Recall before | Recall after | False positives before | False positives after |")
    print("|---|---|---|---|---|")
    for label, subset in (
        ("dev (rewrite judged against)", [r for r in rows if r["split"] == "dev"]),
        ("held-out third", [r for r in rows if r["split"] == "held-out"]),
        ("all", rows),
    ):
        rb, fb = rates(subset, "before")
        ra, fa = rates(subset, "after")
        print(f"| {label} | {rb} | {ra} | {fb} | {fa} |")
    if args.detail:
        print("\n| # | Split | Should | Before | After | Query |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            before = ", ".join(r["before"]) or "none"
            after = ", ".join(r["after"]) or "none"
            should = "yes" if r["should_trigger"] else "no"
            print(f"| {r['index']} | {r['split']} | {should} | {before} | {after} | {r['query']} |")


if __name__ == "__main__":
    main()
