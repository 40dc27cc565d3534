"""The skill as users get it: the real `skills` installer, Claude Code's own validator, and the
open spec's reference validator (skills-ref's `agentskills`), run on this repository.

Each tool is also shown a broken skill, so a tool that stopped checking would fail these tests.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AGENTSKILLS = Path(sys.executable).with_name("agentskills")


def _linked_references() -> list[str]:
    text = (ROOT / "SKILL.md").read_text()
    return sorted(set(re.findall(r"\]\((references/[^)#\s]+\.md)", text)))


@pytest.fixture(scope="module")
def installed(node_tools, repo_export, tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("project")
    proc = node_tools.run(
        "skills",
        "add",
        str(repo_export),
        "--skill",
        "async-jobs",
        "-a",
        "claude-code",
        "-y",
        cwd=project,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return project


def test_skills_add_copies_skill_md_and_every_reference(installed):
    skill = installed / ".claude" / "skills" / "async-jobs"
    assert (skill / "SKILL.md").is_file()
    refs = _linked_references()
    assert len(refs) == 10, refs
    missing = [ref for ref in refs if not (skill / ref).is_file()]
    assert missing == []
    assert (installed / "skills-lock.json").is_file()


def test_skills_add_skips_a_skill_whose_yaml_does_not_parse(node_tools, tmp_path):
    broken = tmp_path / "src" / "broken-skill"
    broken.mkdir(parents=True)
    (broken / "SKILL.md").write_text(
        "---\nname: broken-skill\ndescription: Use when: it breaks\n---\n# B\n"
    )
    project = tmp_path / "project"
    project.mkdir()
    node_tools.run("skills", "add", str(broken.parent), "-a", "claude-code", "-y", cwd=project)
    assert not (project / ".claude" / "skills" / "broken-skill" / "SKILL.md").exists()


def test_skill_audit_check_passes_on_the_installed_copy(installed, skill_audit_cmd):
    skill = installed / ".claude" / "skills" / "async-jobs"
    proc = subprocess.run(
        [*skill_audit_cmd, "check", str(skill), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["findings"] == []


def test_agentskills_validate_accepts_the_installed_copy(installed):
    skill = installed / ".claude" / "skills" / "async-jobs"
    proc = subprocess.run(
        [str(AGENTSKILLS), "validate", str(skill)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Valid skill" in proc.stdout + proc.stderr


def test_agentskills_validate_rejects_flow_style(tmp_path):
    skill = tmp_path / "flow-skill"
    skill.mkdir()
    (skill / "SKILL.md").write_text(
        "---\nname: flow-skill\ndescription: Flow style. Use when testing.\nmetadata: {a: b}\n---\n# F\n"
    )
    proc = subprocess.run(
        [str(AGENTSKILLS), "validate", str(skill)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0


def _plugin_validate(node_tools, target: Path, *extra: str) -> tuple[int, dict]:
    proc = node_tools.run(
        "claude",
        "plugin",
        "validate",
        "--strict",
        *extra,
        "--json",
        str(target),
        cwd=target if target.is_dir() else target.parent,
    )
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"claude plugin validate printed no JSON: {proc.stdout[-500:]}{proc.stderr[-500:]}"
        )


def _problems(report: dict) -> list:
    found = []
    manifest = report.get("manifest") or {}
    found += manifest.get("errors", []) + manifest.get("warnings", [])
    for item in report.get("contents", []):
        found += item.get("errors", []) + item.get("warnings", [])
    found += (report.get("directory") or {}).get("findings", [])
    return found


def test_claude_plugin_validate_strict_directory_profile_on_the_plugin(node_tools, repo_export):
    code, report = _plugin_validate(node_tools, repo_export, "--profile", "directory")
    assert (code, _problems(report)) == (0, [])
    assert "async-jobs:async-jobs" in report["provides"]["skills"]


@pytest.mark.parametrize("manifest", ["plugin.json", "marketplace.json"])
def test_claude_plugin_validate_strict_on_each_manifest(node_tools, repo_export, manifest):
    code, report = _plugin_validate(node_tools, repo_export / ".claude-plugin" / manifest)
    assert (code, _problems(report)) == (0, [])


def test_claude_plugin_validate_strict_on_the_installed_skills(node_tools, installed):
    code, report = _plugin_validate(node_tools, installed / ".claude" / "skills")
    assert (code, _problems(report)) == (0, [])


def test_claude_plugin_validate_rejects_a_skill_with_broken_yaml(node_tools, tmp_path):
    skill = tmp_path / ".claude" / "skills" / "bad-yaml"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text(
        "---\nname: bad-yaml\ndescription: Use when testing\n  bad: indent\n---\n# B\n"
    )
    code, _report = _plugin_validate(node_tools, tmp_path / ".claude" / "skills")
    assert code != 0
