"""Check the peer verdicts recorded in tests/check/test_peer_suites.py against the peers.

Writes every case to a temporary folder, runs skillscheck (cases `sc_*`) or skillseal
(`ss_*`) on it with JSON output, and compares the result with the case's `peer` field:
`exit N` (the peer's exit code), `- CLASS` (no finding whose class starts with CLASS) or
`E|W|I CLASS` (a finding of that class at that level). Prints one line per disagreement and
exits 1 if there is any, so a recorded verdict cannot drift from what the peer really says.

    export TIKTOKEN_CACHE_DIR=/tmp/tkcache   # skillscheck needs tiktoken's cl100k_base offline
    python benchmarks/peer_verdicts.py --skillscheck /tmp/peer/bin/skillscheck \\
        --skillseal /tmp/peer312/bin/skillseal

skillscheck 0.9.7 and skillseal 0.27.1 (Python >= 3.12) are the versions the cases restate.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.check.test_peer_suites import CASES, materialise

LEVELS = {"E": "error", "W": "warning", "I": "info"}


def skillscheck_findings(report: dict) -> list[tuple[str, str]]:
    """(level, check) of every diagnostic in skillscheck's JSON."""
    out = []
    for buckets in report.get("skills", {}).values():
        for diags in buckets.values():
            out.extend((d["level"], d["check"]) for d in diags)
    for diags in report.get("agents", {}).values():
        out.extend((d["level"], d["check"]) for d in diags)
    return out


def skillseal_findings(report: dict) -> list[tuple[str, str]]:
    return [
        (f["severity"].lower(), f["id"]) for s in report.get("skills", []) for f in s["findings"]
    ]


def run_peer(command: str, peer: str, targets: list[Path]) -> tuple[int, list, str]:
    args = [command, *map(str, targets), "--format", "json"]
    if peer == "skillseal":
        args.insert(1, "check")
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        return done.returncode, [], (done.stdout + done.stderr).strip()[:200]
    read = skillscheck_findings if peer == "skillscheck" else skillseal_findings
    return done.returncode, read(report), ""


def disagreement(verdict: str, code: int, found: list[tuple[str, str]]) -> str | None:
    kind, _, cls = verdict.partition(" ")
    if kind == "exit":
        return None if code == int(cls) else f"exit {code}"
    hits = [(level, check) for level, check in found if check.startswith(cls)]
    if kind == "-":
        return f"reported {hits}" if hits else None
    if any(level == LEVELS[kind] for level, _ in hits):
        return None
    return f"not at {LEVELS[kind]}: {hits or sorted(set(c for _, c in found))}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skillscheck", default="skillscheck")
    parser.add_argument("--skillseal", default="skillseal")
    parser.add_argument("-k", default="", help="only cases whose id contains this")
    ns = parser.parse_args()
    commands = {"sc": ("skillscheck", ns.skillscheck), "ss": ("skillseal", ns.skillseal)}
    bad = 0
    cases = [c for c in CASES if ns.k in c.id]
    for case in cases:
        peer, command = commands[case.id[:2]]
        with tempfile.TemporaryDirectory() as tmp:
            code, found, error = run_peer(command, peer, materialise(case, Path(tmp)))
        problem = disagreement(case.peer, code, found)
        if problem:
            bad += 1
            print(f"{case.id}: recorded {case.peer!r}, {peer} says {problem} {error}".rstrip())
    print(f"{len(cases) - bad} of {len(cases)} recorded peer verdicts confirmed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
