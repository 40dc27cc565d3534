"""Where one serial `skill-audit check` spends its time, phase by phase (a benchmark that prints
numbers; not a test).

    python benchmarks/check_phases.py DIR [DIR ...]

Runs in this fresh interpreter, so the start-up imports are timed as a user pays them. The
phases are the engine's own steps, called one at a time on every skill: discovery and
configuration, loading (reading and following links, which parses the reached files), parsing
the rest, the per-batch steps (`bash -n`), then each check on every skill. The markdown parse
is also timed on its own, by parsing every loaded file again into a fresh document.

The last line is the floor a wall-time goal meets: the interpreter, the imports and discovery
run once before the workers fork; only the rest divides over the cores.
"""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

_START = time.perf_counter()
from skill_audit import engine  # noqa: E402  (timed: the import is part of what is measured)
from skill_audit.discovery import skill_roots  # noqa: E402
from skill_audit.model import MarkdownDoc, load_skill  # noqa: E402
from skill_audit.registry import load_checks  # noqa: E402
from skill_audit.schemas import PROFILES, validator  # noqa: E402

load_checks()
for _profile in PROFILES:
    validator(_profile)  # jsonschema: imported before the fork, as `check` does
_IMPORTS = time.perf_counter() - _START


def interpreter_start() -> float:
    """Median wall time of `python -c pass` with this interpreter (5 runs)."""
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def phases(path: Path) -> None:
    was_enabled = gc.isenabled()
    gc.disable()  # as the engine checks: reference counting frees the parse's garbage
    try:
        _phases(path)
    finally:
        if was_enabled:
            gc.enable()


def _phases(path: Path) -> None:
    clock = time.perf_counter
    t0 = clock()
    jobs = [(root, engine.effective_config(root, engine.Options())) for root in skill_roots([path])]
    t1 = clock()
    skills = [load_skill(root, config) for root, config in jobs]
    t2 = clock()
    for skill in skills:
        for doc in skill.docs:
            _ = doc.links  # the files nothing reached: parsed when a check first asks
    t3 = clock()
    chosen = [engine.selected(skill.config) for skill in skills]
    for spec in {spec for specs in chosen for spec in specs if spec.prepare}:
        spec.prepare([s for s, specs in zip(skills, chosen, strict=True) if spec in specs])
    t4 = clock()
    per_code: Counter = Counter()
    for skill, specs in zip(skills, chosen, strict=True):
        for spec in specs:
            start = clock()
            engine.run_scopes(skill, [spec], [])
            per_code[spec.code] += clock() - start
    t5 = clock()
    docs = [doc for skill in skills for doc in skill.docs]
    start = clock()
    for doc in docs:
        _ = MarkdownDoc(doc.path, doc.rel, doc.text).links  # a fresh document parses again
    parse = clock() - start

    per_family: Counter = Counter()
    for code, seconds in per_code.items():
        per_family[code[:2]] += seconds
    interpreter = interpreter_start()
    before_fork = interpreter + _IMPORTS + (t1 - t0)
    divisible = t5 - t1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{path}: {len(skills)} skills, {len(docs)} markdown files")
    print(f"  interpreter start  {interpreter:6.3f} s")
    print(f"  imports            {_IMPORTS:6.3f} s  (click, yaml, checks, jsonschema)")
    print(f"  discovery+config   {t1 - t0:6.3f} s")
    print(f"  load (read, links) {t2 - t1:6.3f} s  parsing what links reach")
    print(f"  parse the rest     {t3 - t2:6.3f} s  markdown parse alone, all files: {parse:.3f} s")
    print(f"  batch steps        {t4 - t3:6.3f} s  (bash -n)")
    families = ", ".join(f"{f} {s:.3f}" for f, s in per_family.most_common())
    print(f"  checks             {t5 - t4:6.3f} s  {families}")
    slowest = ", ".join(f"{c} {s:.3f}" for c, s in per_code.most_common(5))
    print(f"  slowest checks     {slowest}")
    print(
        f"  serial {before_fork + divisible:.3f} s = {before_fork:.3f} s before the fork + "
        f"{divisible:.3f} s that divides; floor on {cores} cores: "
        f"{before_fork + divisible / max(1, cores):.3f} s"
    )


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: python benchmarks/check_phases.py DIR [DIR ...]")
    for arg in sys.argv[1:]:
        path = Path(arg)
        if not path.exists():
            raise SystemExit(f"check_phases: {arg}: no such file or folder")
        phases(path.resolve())


if __name__ == "__main__":
    main()
