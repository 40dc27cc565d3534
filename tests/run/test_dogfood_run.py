"""`skill-audit run .` on this repository's own skill: zero failures, and every Python block
either ran (modules: were imported by a later block or worker) or is compile-only with a
reason. Select with `-m dogfood`; it fails until the pack is complete, by design."""

from __future__ import annotations

import pytest

from tests.run.conftest import ROOT, run_cmd

pytestmark = pytest.mark.dogfood


@pytest.fixture(scope="module")
def outcome(envs):
    return run_cmd(".", "--format", "json", cwd=ROOT, timeout=900)


def test_no_failures(outcome):
    failed = [
        f"{b['path']}:{b['line']} {b['reason']}\n{b['output']}"
        for b in outcome.doc["blocks"]
        if b["status"] == "FAIL"
    ]
    assert not failed, "\n\n".join(failed)
    assert outcome.returncode == 0, outcome.stderr


def test_every_python_block_ran_or_says_why_not(outcome):
    blocks = outcome.doc["blocks"]
    assert any(b["kind"] == "python" for b in blocks), "the pack has no runnable Python block"
    unexplained = []
    for b in blocks:
        if b["kind"] == "module" and not b["imported"]:
            unexplained.append(f"{b['path']}:{b['line']} module never imported")
        if (
            b["kind"] == "compile-only"
            and not (b["reason"] or "").removeprefix("compile-only:").strip()
        ):
            unexplained.append(f"{b['path']}:{b['line']} compile-only without a reason")
        if b["kind"] in ("python", "module") and b["status"] != "PASS":
            unexplained.append(f"{b['path']}:{b['line']} {b['status']}")
    assert not unexplained, "\n".join(unexplained)
