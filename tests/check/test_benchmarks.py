"""The benchmark scripts still run against the engine's current API (they print numbers; the
numbers themselves are not asserted, only that every phase is measured and reported)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import write_skill

REPO = Path(__file__).resolve().parents[2]
PHASES = REPO / "benchmarks" / "check_phases.py"


def test_check_phases_reports_every_phase_and_the_floor(tmp_path):
    body = "# Skill\n\n```bash\necho ok\n```\n\n```python\nprint(1)\n```\n\nSee [more](more.md).\n"
    for name in ("alpha", "beta"):
        root = write_skill(tmp_path / name, f"name: {name}\ndescription: Use when testing.\n", body)
        (root / "more.md").write_text("# More\n\n`x`\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(PHASES), str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "2 skills, 4 markdown files" in proc.stdout
    for phase in ("imports", "discovery+config", "load (read, links)", "batch steps", "checks"):
        assert re.search(rf"^  {re.escape(phase)}\s+\d+\.\d{{3}} s", proc.stdout, re.M), phase
    assert re.search(r"CS \d\.\d{3}", proc.stdout)  # the code-block checks ran and were timed
    assert re.search(r"floor on \d+ cores: \d+\.\d{3} s$", proc.stdout, re.M)


def test_check_phases_refuses_a_missing_path_in_one_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(PHASES), str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
