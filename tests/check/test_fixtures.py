"""Every check against its two fixture skills (tests/check/fixtures/CODE/{pass,fail}/): the fail
skill gives exactly the findings listed here, in report order, and the pass skill none."""

from __future__ import annotations

import pytest
from skill_audit.registry import load_checks

from tests.check.conftest import FIXTURES, findings

S = "SKILL.md"

# code -> (file relative to the fail fixture, line) of every finding, in report order
EXPECTED = {
    "FM001": [(S, 1)],
    "FM002": [(S, 3)],
    "FM003": [(S, 1)],
    "FM004": [(S, 4), (S, 8)],
    "FM005": [(S, 4), (S, 5), (S, 7), (S, 8)],
    "FM006": [(S, 4), (S, 5)],
    "FM007": [(S, 2)],
    "FM008": [(S, 5)],
    "FM009": [(S, 4)],
    "FM010": [(S, 3)],
    "FM011": [(S, 3)],
    "FM012": [(S, 3), (S, 5), (S, 6)],
    "ST001": [("references/guide.md", 3)],
    "ST002": [("references/old.md", 1)],
    "ST003": [(S, 13)],
    "ST004": [(S, 5)],
    "ST005": [("references/big.md", 1)],
    "ST006": [(S, 3)],
    "ST007": [(S, 5), ("references/notes.md", 1)],
    "ST008": [(S, 7), (S, 10)],
    "RC001": [(S, 11), (S, 13), (S, 13)],
    "RC002": [(S, 9), (S, 9)],
    "RC003": [(S, 6)],
    "RC004": [("references/data/schema.json", 1), ("references/notes.md", 1)],
    "RC005": [("references/canvas.md", 3), ("references/canvas.md", 4)],
    "RC006": [
        ("references/celery-config.md", 4),
        ("references/result-backends.md", 3),
        ("references/task-routing.md", 1),
        ("references/task-routing.md", 2),
        ("references/task-routing.md", 3),
        ("references/task-routing.md", 5),
    ],
    "RC007": [(S, 8), (S, 9)],
    "RC008": [(S, 9)],
    "LK001": [(S, 8), (S, 8), ("references/config.md", 3)],
    "LK002": [(S, 8), (S, 8), (S, 9)],
    "LK003": [(S, 8), (S, 8)],
    "LK004": [(S, 8), (S, 10), (S, 10)],
    "LK005": [(S, 8), (S, 11)],
    "LK006": [(S, 8)],
    "LK007": [(S, 8)],  # a loopback port where nothing listens: no network needed
    "CS001": [(S, 12), (S, 16), ("references/more.md", 4)],
    "CS002": [(S, 9), (S, 15), (S, 20)],
    "CS003": [(S, 11), (S, 19)],
    "CS004": [(S, 8), (S, 12), (S, 16)],
    "CS005": [(S, 8)],
    "CS006": [(S, 12)],
    "CS007": [(S, 21)],
    "EV001": [("evals/evals.json", 2), ("evals/trigger-set.json", 4)],
    "EV002": [("evals/evals.json", 4), ("evals/evals.json", 5), ("evals/trigger-set.json", 3)],
    "EV003": [("evals/evals.json", 2)],
    "EV004": [("evals/evals.json", 6), ("evals/trigger-set.json", 4)],
    "EV005": [("evals/evals.json", 7), ("evals/evals.json", 9)],
    "EV006": [("evals/trigger-set.json", 1)],
}


def _options(code: str) -> dict:
    return {"external": True} if code.startswith("LK") else {}  # LK007 only fetches with --external


def test_every_check_has_expected_findings():
    assert sorted(EXPECTED) == sorted(load_checks())


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_fail_fixture_reports_each_defect_at_its_line(code):
    got = findings(FIXTURES / code / "fail", select=code, **_options(code))
    assert [(path, line) for path, line, _ in got] == EXPECTED[code]
    assert {c for _, _, c in got} == {code}


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_pass_fixture_is_clean(code):
    assert findings(FIXTURES / code / "pass", select=code, **_options(code)) == []
