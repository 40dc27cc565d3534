"""Per-framework virtualenvs for `skill-audit run`, declared in `[tool.skill-audit.envs]`.

celery[redis] 5.7 needs redis-py >= 6.4 while arq 0.28 needs redis-py < 6, so snippets of
different frameworks cannot share one interpreter. Each env is created on first use under
`<cache>/envs/<name>-<hash>`, where the hash covers the requirement list and the Python
version, and reused afterwards. A finished env carries a marker file, so an interrupted
install is never mistaken for a good one.

Envs are built with uv when it is available (the `uv` wheel of the services extra, or on
PATH): resolving and installing from its cache takes about a second per env, where
venv + pip takes ten or more. Without uv: venv + pip, as before. Either builder makes the
same env, so the cache key does not include it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

MARKER = ".skill-audit-ready"


class EnvError(Exception):
    """An environment could not be created or used (one-line message)."""


@dataclass(frozen=True)
class Env:
    name: str
    root: Path  # the virtualenv folder (or sys.prefix for the current interpreter)
    executable: Path | None = None  # set when the interpreter is not <root>/bin/python

    @property
    def bin_dir(self) -> Path:
        if self.executable is not None:
            return self.executable.parent
        return self.root / ("Scripts" if os.name == "nt" else "bin")

    @property
    def python(self) -> Path:
        if self.executable is not None:
            return self.executable
        exe = "python.exe" if os.name == "nt" else "python"
        return self.bin_dir / exe


def user_cache_dir() -> Path:
    """Where envs of skills without a pyproject.toml are cached."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "skill-audit"


def uv_binary() -> str | None:
    """uv next to our interpreter (the services extra), else on PATH."""
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("uv")


def current_env(name: str = "default") -> Env:
    """The interpreter skill-audit itself runs in (used when no envs are configured).

    sys.executable, not <prefix>/bin/python: a system Python may only have `python3`."""
    return Env(name, Path(sys.prefix), Path(sys.executable))


def env_hash(requirements: list[str]) -> str:
    payload = "\n".join(sorted(requirements)) + f"\npy{sys.version_info[0]}.{sys.version_info[1]}"
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def env_path(cache_dir: Path, name: str, requirements: list[str]) -> Path:
    return cache_dir / "envs" / f"{name}-{env_hash(requirements)}"


@contextlib.contextmanager
def _locked(lock_path: Path):
    # Parallel test workers may ask for the same env at once: one builds, the others wait.
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_env(cache_dir: Path, name: str, requirements: list[str], log=None) -> Env:
    """Return the env, creating it (venv + pip install) when it does not exist yet."""
    root = env_path(cache_dir, name, requirements)
    env = Env(name, root)
    if (root / MARKER).is_file() and env.python.exists():
        return env
    with _locked(root.with_name(root.name + ".lock")):
        return _build(env, requirements, log)


def _build(env: Env, requirements: list[str], log) -> Env:
    root, name = env.root, env.name
    if (root / MARKER).is_file() and env.python.exists():
        return env  # built by another process while we waited for the lock
    if root.exists():
        shutil.rmtree(root)  # a half-built env from an interrupted run
    root.parent.mkdir(parents=True, exist_ok=True)
    if log:
        log(f"creating environment {name!r} in {root} ({len(requirements)} requirements)")
    try:
        uv = uv_binary()
        if uv:
            try:
                _with_uv(uv, env, requirements)
            except EnvError as exc:
                # uv does not read pip's configuration (find-links, private indexes): pip may
                # still succeed where uv could not
                if log:
                    log(f"{exc}; retrying with venv + pip")
                shutil.rmtree(root, ignore_errors=True)
                _with_pip(env, requirements)
        else:
            _with_pip(env, requirements)
    except EnvError:
        shutil.rmtree(root, ignore_errors=True)
        raise
    except OSError as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise EnvError(f"cannot create env {name!r} in {root}: {exc}") from None
    (root / MARKER).write_text("\n".join(requirements) + "\n")
    return env


def _with_uv(uv: str, env: Env, requirements: list[str]) -> None:
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(env.root)], env.name, "uv venv")
    if requirements:
        cmd = [uv, "pip", "install", "--quiet", "--python", str(env.python)]
        _run([*cmd, *requirements], env.name, "uv pip install")


def _with_pip(env: Env, requirements: list[str]) -> None:
    venv.EnvBuilder(with_pip=True, clear=True).create(env.root)
    if requirements:
        cmd = [str(env.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        _run([*cmd, *requirements], env.name, "pip install")


def _run(cmd: list[str], name: str, what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        # uv puts the useful line (the package it cannot find) last but one, after a hint
        detail = next((ln.strip() for ln in reversed(lines) if "hint" not in ln), "(no output)")
        raise EnvError(f"{what} for env {name!r} failed: {detail}")


def existing_env(name: str, path: str | Path) -> Env:
    """An env given with `--env NAME=PATH`; PATH is a virtualenv folder."""
    env = Env(name, Path(path).resolve())
    if not env.python.exists():
        raise EnvError(f"--env {name}={path}: no interpreter at {env.python}")
    return env
