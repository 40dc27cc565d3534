"""Speed figures for `skill-audit run` (printed, never asserted).

    python benchmarks/run_speed.py            # services, per-block overhead, warm full run
    python benchmarks/run_speed.py --cold     # also a full run with envs built from scratch
    python benchmarks/run_speed.py --jobs 1   # the full run(s) with this --jobs

Targets (issue 3): Redis start < 1 s, Temporal start < 2 s, per-block overhead < 0.1 s,
full run of this repository's skill < 90 s on 2 cores with the envs already built.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from skill_audit.runtime import services

ROOT = Path(__file__).resolve().parents[1]
TRIVIAL_BLOCKS = 50


def _median_start(start, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        began = time.monotonic()
        svc = start()
        times.append(time.monotonic() - began)
        svc.stop()
    return statistics.median(times), max(times)


def _run(args: list[str], cwd: Path) -> tuple[float, dict]:
    began = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "skill_audit.runner", "--format", "json", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - began
    if proc.returncode not in (0, 1):
        raise SystemExit(f"run failed ({proc.returncode}): {proc.stderr.strip()}")
    return wall, json.loads(proc.stdout)


def per_block_overhead() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        skill = Path(tmp) / "trivial"
        skill.mkdir()
        body = "\n".join("```python\npass\n```\n" for _ in range(TRIVIAL_BLOCKS))
        (skill / "SKILL.md").write_text(f"---\nname: trivial\ndescription: x\n---\n\n{body}")
        wall, doc = _run([str(skill)], cwd=Path(tmp))
    blocks = doc["blocks"]
    assert len(blocks) == TRIVIAL_BLOCKS and all(b["status"] == "PASS" for b in blocks), doc[
        "summary"
    ]
    per_block = sum(b["seconds"] for b in blocks) / len(blocks)
    print(
        f"per-block overhead ({TRIVIAL_BLOCKS} `pass` blocks, current interpreter): "
        f"{per_block * 1000:.0f} ms per block (target < 100 ms); whole command {wall:.2f}s"
    )


def full_run(label: str, extra: list[str]) -> None:
    wall, doc = _run([".", *extra], cwd=ROOT)
    s = doc["summary"]
    slowest = sorted(doc["files"], key=lambda f: -f["seconds"])[:3]
    print(
        f"full run of this repository ({label}): {wall:.1f}s wall "
        f"({s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped; target < 90 s warm)"
    )
    print("  slowest files: " + ", ".join(f"{f['path']} {f['seconds']:.1f}s" for f in slowest))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also build envs from scratch")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--skip-full", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    med, worst = _median_start(services.start_redis, 5)
    print(
        f"redis start (binary {Path(services.redis_binary()).name}): median {med:.3f}s, "
        f"max {worst:.3f}s of 5 (target < 1 s)"
    )
    med, worst = _median_start(services.start_temporal, 3)
    print(
        f"temporal dev server start (until the default namespace answers): median {med:.3f}s, "
        f"max {worst:.3f}s of 3 (target < 2 s)"
    )
    per_block_overhead()
    if args.skip_full:
        return
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    full_run("warm envs" + (f", --jobs {args.jobs}" if args.jobs else ""), jobs)
    if args.cold:
        with tempfile.TemporaryDirectory() as cache:
            full_run("cold: envs built from PyPI into a fresh cache", ["--cache-dir", cache, *jobs])


if __name__ == "__main__":
    main()
