"""Precision of `skill-audit check` on public skill collections, from hand labels.

    # 1. check the corpora (fetched outside the repository, one folder per collection)
    python benchmarks/label_sample.py run /tmp/corpus/* -o /tmp/findings.json
    # 2. print a deterministic sample per code, with the lines around each finding, to label
    python benchmarks/label_sample.py sample /tmp/findings.json --per-code 12 --code CS001
    # 3. per-code precision from the labels file (benchmarks/labels.tsv)
    python benchmarks/label_sample.py score /tmp/findings.json benchmarks/labels.tsv

labels.tsv columns (tab-separated, header line first): repo, path (inside the collection),
line, code, label, reason. label is `true` (a real problem for an agent or a client), `false`
(the finding is wrong) or `style` (correct, but a matter of taste). Precision counts `true` and
`style` as right for warnings and info, and only `true` for errors: an error must be worth
failing a build for. Labels whose finding no longer appears are reported as stale, so the file
can be re-scored after every change to a check.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import random
import subprocess
import sys
from pathlib import Path

SEED = 11


def _split(path: str, corpora: list[Path]) -> tuple[str, str]:
    """(collection folder name, path inside it) of a finding's absolute path."""
    p = Path(path).resolve()
    for root in corpora:
        try:
            return root.name, p.relative_to(root.resolve()).as_posix()
        except ValueError:
            continue
    return "?", path


def run(args) -> int:
    corpora = [Path(c) for c in args.corpora]
    cmd = [sys.executable, "-m", "skill_audit", "check", "--format", "json", "--exit-zero"]
    proc = subprocess.run([*cmd, *map(str, corpora)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(proc.stderr.strip(), file=sys.stderr)
        return proc.returncode
    report = json.loads(proc.stdout)
    findings = []
    for f in report["findings"]:
        repo, rel = _split(f["path"], corpora)
        findings.append({**f, "repo": repo, "rel": rel, "abs": str(Path(f["path"]).resolve())})
    out = {"corpora": [str(c.resolve()) for c in corpora], "summary": report["summary"]}
    out["findings"] = findings
    Path(args.output).write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(f"{len(findings)} findings in {report['summary']['skills']} skills -> {args.output}")
    return 0


def _sample(findings: list[dict], code: str, per_code: int) -> list[dict]:
    pool = sorted(
        (f for f in findings if f["code"] == code), key=lambda f: (f["repo"], f["rel"], f["line"])
    )
    rng = random.Random(f"{SEED}-{code}")
    return (
        pool
        if len(pool) <= per_code
        else sorted(rng.sample(pool, per_code), key=lambda f: (f["repo"], f["rel"], f["line"]))
    )


def sample(args) -> int:
    data = json.loads(Path(args.findings).read_text(encoding="utf-8"))
    codes = args.code or sorted({f["code"] for f in data["findings"]})
    for code in codes:
        for f in _sample(data["findings"], code, args.per_code):
            print(f"## {f['repo']}\t{f['rel']}\t{f['line']}\t{code}\t{f['severity']}")
            print(f"   {f['message']}")
            try:
                lines = Path(f["abs"]).read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                lines = []
            lo, hi = max(0, f["line"] - 1 - args.context), f["line"] + args.context
            for n in range(lo, min(hi, len(lines))):
                mark = ">" if n + 1 == f["line"] else " "
                print(f"   {mark}{n + 1:5} {lines[n][:160]}")
    return 0


def score(args) -> int:
    data = json.loads(Path(args.findings).read_text(encoding="utf-8"))
    present = {(f["repo"], f["rel"], int(f["line"]), f["code"]): f for f in data["findings"]}
    totals = collections.Counter(f["code"] for f in data["findings"])
    severity = {f["code"]: f["severity"] for f in data["findings"]}
    labels: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    stale = 0
    with open(args.labels, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            key = (row["repo"], row["path"], int(row["line"]), row["code"])
            if key not in present:
                stale += 1
                continue
            labels[row["code"]][row["label"]] += 1
    print("| Code | Severity | Findings | Labelled | true | style | false | Precision |")
    print("|---|---|---|---|---|---|---|---|")
    by_level: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for code in sorted(totals):
        c = labels.get(code, collections.Counter())
        n = sum(c.values())
        sev = severity[code]
        right = c["true"] + (c["style"] if sev != "error" else 0)
        precision = f"{100 * right / n:.0f} %" if n else "-"
        by_level[sev][0] += right
        by_level[sev][1] += n
        print(
            f"| {code} | {sev} | {totals[code]} | {n} | {c['true']} | {c['style']} "
            f"| {c['false']} | {precision} |"
        )
    for sev, (right, n) in sorted(by_level.items()):
        if n:
            print(f"{sev}: {right}/{n} labelled findings right = {100 * right / n:.1f} %")
    if stale:
        print(f"{stale} labels name findings that no longer appear (stale)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run", help="check the corpora and store the findings")
    p.add_argument("corpora", nargs="+")
    p.add_argument("-o", "--output", default="findings.json")
    p = sub.add_parser("sample", help="print a labelling sample per code")
    p.add_argument("findings")
    p.add_argument("--per-code", type=int, default=12)
    p.add_argument("--code", action="append")
    p.add_argument("--context", type=int, default=3)
    p = sub.add_parser("score", help="per-code precision from a labels file")
    p.add_argument("findings")
    p.add_argument("labels")
    args = parser.parse_args(argv)
    return {"run": run, "sample": sample, "score": score}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
