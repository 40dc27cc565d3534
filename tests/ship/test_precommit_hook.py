"""The `.pre-commit-hooks.yaml` definition, run by real pre-commit against sample skill repos."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")

GOOD = """---
name: demo-skill
description: "Formats demo data. Use when a user asks for demo data."
---
# Demo skill

Say hello.
"""
# Both invocation flags: neither the user nor the model can ever invoke this skill.
UNREACHABLE = GOOD.replace(
    "---\n# Demo", "user-invocable: false\ndisable-model-invocation: true\n---\n# Demo"
)


def _sample_repo(path: Path, skill_md: str) -> Path:
    skill = path / "skills" / "demo-skill"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text(skill_md)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "sample"]):
        subprocess.run(cmd, cwd=path, check=True, env=env, capture_output=True)
    return path


def _try_repo(sample: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(
        [str(PRE_COMMIT), "try-repo", str(ROOT), "skill-audit", "--all-files"],
        cwd=sample,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def test_hook_passes_on_a_valid_skill_repo(tmp_path, pre_commit_home):
    proc = _try_repo(_sample_repo(tmp_path / "good", GOOD), pre_commit_home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "skill-audit check" in proc.stdout and "Passed" in proc.stdout


def test_hook_fails_on_an_unreachable_skill(tmp_path, pre_commit_home):
    proc = _try_repo(_sample_repo(tmp_path / "bad", UNREACHABLE), pre_commit_home)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Failed" in proc.stdout
    assert "skills/demo-skill/SKILL.md" in proc.stdout
