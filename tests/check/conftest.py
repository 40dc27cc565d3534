"""Shared helpers for the `skill-audit check` tests: run the engine or the CLI on a path."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from skill_audit.cli import cli
from skill_audit.engine import Options, run_check

FIXTURES = Path(__file__).parent / "fixtures"


def findings(path: Path, select: str | None = None, **options) -> list[tuple[str, int, str]]:
    """(path relative to `path`, line, code) of every finding under `path`."""
    sel = tuple(select.split(",")) if select else None
    report = run_check([Path(path)], Options(select=sel, **options))
    base = Path(os.path.abspath(path))
    out = []
    for d in report.diagnostics:
        out.append((Path(os.path.abspath(d.path)).relative_to(base).as_posix(), d.line, d.code))
    return out


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None):
    """Invoke the click CLI in-process; returns click's Result (exit_code, stdout, stderr)."""
    runner = CliRunner()
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return runner.invoke(cli, list(args), env=env, catch_exceptions=False)
    finally:
        os.chdir(old)


def json_findings(result) -> list[dict]:
    return json.loads(result.stdout)["findings"]


def write_skill(root: Path, frontmatter: str | None, body: str = "# Skill\n\nText.\n") -> Path:
    """A skill folder `root` with SKILL.md (frontmatter None: none at all)."""
    root.mkdir(parents=True, exist_ok=True)
    text = body if frontmatter is None else f"---\n{frontmatter}---\n{body}"
    (root / "SKILL.md").write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
