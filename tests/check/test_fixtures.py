"""Every check against its two fixture skills (tests/check/fixtures/CODE/{pass,fail}/): the fail
skill gives exactly the findings pinned in CODE/expected.txt (ruff-style snapshot: one
`path:line:column: message` per finding, path relative to fail/, in report order), and the
pass skill none. Regenerate after a deliberate change with
`SKILL_AUDIT_UPDATE_SNAPSHOTS=1 pytest tests/check/test_fixtures.py` and review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from skill_audit.engine import Options, run_check
from skill_audit.registry import load_checks

from tests.check.conftest import FIXTURES

CODES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and (p / "fail").is_dir())


def _options(code: str) -> dict:
    return {"external": True} if code.startswith("LK") else {}  # LK007 only fetches with --external


def _snapshot(code: str) -> str:
    base = FIXTURES / code / "fail"
    report = run_check([base], Options(select=(code,), **_options(code)))
    lines = []
    for d in report.diagnostics:
        rel = Path(os.path.abspath(d.path)).relative_to(base.absolute()).as_posix()
        assert d.code == code, d
        lines.append(f"{rel}:{d.line}:{d.column}: {d.message}")
    return "\n".join(lines) + "\n"


def test_every_check_has_a_fixture_pair():
    assert sorted(load_checks()) == CODES


@pytest.mark.parametrize("code", CODES)
def test_fail_fixture_matches_its_expected_output(code):
    expected_file = FIXTURES / code / "expected.txt"
    got = _snapshot(code)
    if os.environ.get("SKILL_AUDIT_UPDATE_SNAPSHOTS"):
        expected_file.write_text(got, encoding="utf-8")
    assert got == expected_file.read_text(encoding="utf-8")
    assert got.strip(), f"{code}: the fail fixture must produce findings"


@pytest.mark.parametrize("code", CODES)
def test_pass_fixture_is_clean(code):
    report = run_check([FIXTURES / code / "pass"], Options(select=(code,), **_options(code)))
    assert report.diagnostics == []
