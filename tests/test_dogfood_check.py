"""The project audits itself: `skill-audit check .` on this repository reports nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_check_on_this_repository_reports_no_findings():
    proc = subprocess.run(
        [sys.executable, "-m", "skill_audit", "check", ".", "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert report["findings"] == []
