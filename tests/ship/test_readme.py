"""The README's first lines stay true: two commands, the second is what .ci/run runs."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _first_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block and text.index(block.group(0)) < 800, "the two commands must open the README"
    return [ln for ln in block.group(1).splitlines() if ln.strip() and not ln.startswith("#")]


def test_readme_opens_with_two_commands():
    commands = _first_commands()
    assert len(commands) == 2
    assert "skill-audit check ." in commands[0] and "skill-audit run ." in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_word_for_word():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _first_commands()[1] in ci
    assert "set -euo pipefail" in ci


def test_every_pre_commit_hook_is_documented():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    readme = (ROOT / "README.md").read_text()
    for hook in hooks:
        assert f"id: {hook['id']}" in readme


def test_every_check_code_is_in_the_readme_catalogue():
    from skill_audit import checks  # noqa: F401  (registers every check)
    from skill_audit.registry import CHECKS

    readme = (ROOT / "README.md").read_text()
    missing = [code for code, spec in CHECKS.items() if f"`{code}` {spec.name}" not in readme]
    assert missing == []


def test_readme_config_example_is_accepted(tmp_path):
    import subprocess
    import sys

    example = re.search(r"```toml\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert example, "the README shows a [tool.skill-audit] example"
    (tmp_path / "pyproject.toml").write_text(example.group(1))
    (tmp_path / ".git").mkdir()  # the config lookup stops at a repository root
    skill = tmp_path / "demo-skill"
    skill.mkdir()
    (skill / "SKILL.md").write_text(
        '---\nname: demo-skill\ndescription: "Says hello. Use when a greeting is needed."\n---\n# Demo\n\nHello.\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "skill_audit", "check", str(skill)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
