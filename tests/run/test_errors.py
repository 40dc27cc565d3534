"""Usage and config errors: one line on stderr, exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys

from tests.run.conftest import FIXTURES, ROOT, run_cmd


def _one_line_error(out, text: str) -> None:
    assert out.returncode == 2, out.stdout + out.stderr
    assert text in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and out.stderr.count("\n") == 1


def test_missing_path_is_worded_as_check_words_it():
    run = run_cmd("no/such/folder")
    _one_line_error(run, "Path 'no/such/folder' does not exist.")
    check = subprocess.run(
        [sys.executable, "-m", "skill_audit", "check", "no/such/folder"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 2 and check.stderr == run.stderr


def test_folder_without_skills(tmp_path):
    _one_line_error(run_cmd(str(tmp_path)), "no SKILL.md at or below this folder")


def test_bad_env_option():
    _one_line_error(
        run_cmd(str(FIXTURES / "features" / "SKILL.md"), "--env", "celery"), "NAME=PATH"
    )


def test_env_option_without_interpreter(tmp_path):
    _one_line_error(
        run_cmd(str(FIXTURES / "features" / "SKILL.md"), "--env", f"celery={tmp_path}"),
        "no interpreter",
    )


def test_bad_temporal_address():
    _one_line_error(
        run_cmd(str(FIXTURES / "features" / "SKILL.md"), "--temporal-address", "nonsense"),
        "--temporal-address must be HOST:PORT",
    )


def test_broken_config(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.skill-audit.run]\ndefault-env = "missing"\n')
    (tmp_path / "SKILL.md").write_text("---\nname: x\ndescription: y\n---\n")
    _one_line_error(run_cmd(str(tmp_path), cwd=tmp_path), "default-env 'missing'")


def test_broken_frontmatter(tmp_path):
    (tmp_path / "SKILL.md").write_text("---\nname: [unclosed\n---\n\n```python\npass\n```\n")
    _one_line_error(run_cmd(str(tmp_path), cwd=tmp_path), "SKILL.md:")
