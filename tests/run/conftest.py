"""Helpers for `skill-audit run` tests: the command runs as a real subprocess (so signals,
exit codes and teardown are the real ones) against services it starts itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from skill_audit.runtime import processes
from skill_audit.runtime.envs import ensure_env

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CACHE = ROOT / ".skill-audit"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "dogfood: runs `skill-audit run .` on this repository's own skill"
    )


@pytest.fixture(scope="session")
def envs() -> dict[str, Path]:
    """The repository's framework envs, built from pyproject's pinned lists when missing."""
    reqs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["skill-audit"]["envs"]
    return {name: ensure_env(CACHE, name, list(r)).root for name, r in reqs.items()}


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str

    @property
    def doc(self) -> dict:
        return json.loads(self.stdout)

    def block(self, path_end: str, line: int) -> dict:
        found = [
            b for b in self.doc["blocks"] if b["path"].endswith(path_end) and b["line"] == line
        ]
        assert len(found) == 1, f"no single block {path_end}:{line} in {self.stdout}"
        return found[0]


def run_cmd(*args: str, cwd: Path = ROOT, env: dict | None = None, timeout: float = 240) -> Outcome:
    proc = subprocess.run(
        [sys.executable, "-m", "skill_audit.runner", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def process_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (PID 1 here may never reap orphans)."""
    return processes.is_running(pid)


def processes_with_env(entry: str) -> list[int]:
    """Live (non-zombie) PIDs whose environment holds `entry` (NAME=VALUE)."""
    return processes.pids_with_env(entry)
