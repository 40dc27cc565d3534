"""Every GitHub workflow, and the composite action, is valid against its GitHub schema and clean
under zizmor."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ship.conftest import run_tool

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
ACTION = ROOT / "action.yml"  # the composite action other repositories use


def test_there_is_a_skill_audit_workflow():
    assert ROOT / ".github" / "workflows" / "skill-audit.yml" in WORKFLOWS


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_the_github_workflow_schema(workflow):
    proc = run_tool(
        "check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(workflow)
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("workflow", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_workflow_has_no_zizmor_findings(workflow):
    proc = run_tool("zizmor", "--offline", "--no-progress", str(workflow))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings" in proc.stdout + proc.stderr


def test_action_matches_the_action_metadata_schema():
    proc = run_tool("check-jsonschema", "--builtin-schema", "vendor.github-actions", str(ACTION))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_does_flag_a_bad_workflow(tmp_path):
    # Control: the linter really audits (unpinned action, template injection, no permissions).
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request_target\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@main\n      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    proc = run_tool("zizmor", "--offline", "--no-progress", str(bad))
    assert proc.returncode != 0
