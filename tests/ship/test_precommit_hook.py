"""The `.pre-commit-hooks.yaml` definition, run by real pre-commit against sample skill repos."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def _sample_repo(path: Path, skills: dict[str, str]) -> Path:
    for name, skill_md in skills.items():
        skill = path / "skills" / name
        skill.mkdir(parents=True)
        (skill / "SKILL.md").write_text(skill_md.replace("demo-skill", name))
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


def test_hook_fails_on_the_unreachable_skill_only(tmp_path):
    # One try-repo run (each one installs the hook into a fresh store, about 20 s): a valid
    # skill and an unreachable one side by side; only the second is reported.
    sample = _sample_repo(tmp_path / "repo", {"good-skill": GOOD, "hidden-skill": UNREACHABLE})
    proc = _try_repo(sample, tmp_path / "pre-commit-home")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "skill-audit check" in proc.stdout and "Failed" in proc.stdout
    assert "skills/hidden-skill/SKILL.md" in proc.stdout
    assert "skills/good-skill/" not in proc.stdout
