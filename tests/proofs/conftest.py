"""Fixtures for proof tests: real Redis, real worker processes, a real Temporal dev server.

Proofs load the modules that the rule files define (`file=NAME.py` fences), so a changed
snippet changes what is tested. Code runs in the per-framework virtualenvs declared in
pyproject.toml (`[tool.skill-audit.envs]`), created on first use and cached.

Every process is spawned the way `skill-audit run` spawns it, through one
`runtime.processes.Owner` per test session: own process group, the same scrubbed environment
(PATH, HOME, locale, TMPDIR... plus the test's variables, nothing else of the caller's), the
same `bash -c COMMAND` for background commands (bash execs a single command itself, so the
started process is the worker's main process), parent-death signal and watchdog.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from skill_audit.runner.wrapper import python_command
from skill_audit.runtime import envs as envs_mod
from skill_audit.runtime import processes, services
from skill_audit.snippets.extract import read_fences, write_modules
from skill_audit.snippets.grammar import Kind, shell_script

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".skill-audit"


class EnvSet:
    def __init__(self) -> None:
        config = tomllib.loads((ROOT / "pyproject.toml").read_text())
        self._reqs = config["tool"]["skill-audit"]["envs"]
        self._made: dict[str, envs_mod.Env] = {}

    def get(self, name: str) -> envs_mod.Env:
        if name not in self._made:
            self._made[name] = envs_mod.ensure_env(CACHE, name, self._reqs[name])
        return self._made[name]


@pytest.fixture(scope="session")
def envs() -> EnvSet:
    return EnvSet()


def _serve(svc: services.Service, key: str):
    """Yield one of a started service's `extra` values; stop the service afterwards."""
    try:
        yield svc.extra[key]
    finally:
        svc.stop()


@pytest.fixture(scope="session")
def owner():
    """Everything the proof session starts (closed at the end, or by the watchdog)."""
    owner = processes.Owner()
    try:
        yield owner
    finally:
        owner.close()


@pytest.fixture
def redis_url(owner):
    yield from _serve(services.start_redis(owner=owner), "url")


@pytest.fixture(scope="session")
def temporal_address(owner):
    yield from _serve(services.start_temporal(owner=owner), "address")


class Lab:
    """One test's work folder, environment variables and background processes."""

    def __init__(
        self, workdir: Path, redis_url: str, envs: EnvSet, request, owner: processes.Owner
    ) -> None:
        self.owner = owner
        self.workdir = workdir
        self.redis_url = redis_url
        self.envs = envs
        self._request = request
        self._procs: list[tuple[subprocess.Popen, Path]] = []
        self._counter = 0

    @property
    def temporal_address(self) -> str:
        return self._request.getfixturevalue("temporal_address")

    def load_markdown(self, relpath: str) -> list[str]:
        """Write the `file=` modules of a rule file into the work folder; return module names."""
        written = write_modules(read_fences(ROOT / relpath), self.workdir)
        assert written, f"{relpath} defines no file= modules"
        return [p.stem for p in written]

    def background_command(self, relpath: str, contains: str = "") -> tuple[str, str | None]:
        """(command, ready text) of the rule file's first background block containing `contains`,
        so a proof starts the worker exactly as the markdown tells people to."""
        for fence in read_fences(ROOT / relpath):
            if fence.spec.kind is Kind.BACKGROUND and contains in fence.code:
                return fence.code.strip(), fence.spec.ready
        raise AssertionError(f"{relpath} has no background block containing {contains!r}")

    def env_vars(
        self, extra: dict[str, str] | None = None, temporal: bool = False
    ) -> dict[str, str]:
        env = processes.scrubbed_env()  # what `skill-audit run` gives a snippet
        env.update(
            PYTHONPATH=str(self.workdir),
            PYTHONUNBUFFERED="1",
            REDIS_URL=self.redis_url,
            CELERY_BROKER_URL=self.redis_url,
            CELERY_RESULT_BACKEND=self.redis_url,
        )
        if temporal:
            env["TEMPORAL_ADDRESS"] = self.temporal_address
        env.update(extra or {})
        return env

    def python(
        self,
        env_name: str,
        code: str,
        *,
        timeout: float = 60,
        extra_env=None,
        temporal: bool = False,
    ) -> subprocess.CompletedProcess:
        """Run `code` as a script in the named framework env; never leaves a process behind."""
        self._counter += 1
        script = self.workdir / f"driver_{self._counter}.py"
        script.write_text(code)
        # The runner's own wrapper: runpy as __main__, flush, os._exit (temporalio can crash at
        # interpreter exit, sdk-python#300).
        proc = self.owner.spawn(
            python_command(self.envs.get(env_name).python, script),
            cwd=self.workdir,
            env=self.env_vars(extra_env, temporal),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            self.owner.stop(proc, grace=1)
            out, err = proc.communicate()
            raise AssertionError(
                f"driver timed out after {timeout}s\nstdout:\n{out}\nstderr:\n{err}"
            ) from exc
        finally:
            self.owner.stop(proc, grace=1)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def json_result(self, env_name: str, code: str, **kw):
        """Run a driver that prints one JSON document as its last stdout line."""
        res = self.python(env_name, code, **kw)
        assert res.returncode == 0, f"driver failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
        lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
        assert lines, f"driver printed nothing; stderr:\n{res.stderr}"
        return json.loads(lines[-1])

    def start(
        self,
        env_name: str,
        command: str,
        *,
        ready: str | None = None,
        timeout: float = 30,
        extra_env=None,
        temporal: bool = False,
    ) -> subprocess.Popen:
        """Start a shell command (worker, beat) in its own process group; wait for `ready`."""
        env = self.env_vars(extra_env, temporal)
        env["PATH"] = f"{self.envs.get(env_name).bin_dir}{os.pathsep}{env.get('PATH', '')}"
        self._counter += 1
        log = self.workdir / f"bg_{self._counter}.log"
        with open(log, "wb") as fh:
            # exactly how `skill-audit run` starts a background block
            proc = self.owner.spawn(
                ["bash", "-c", shell_script("bash", command)], cwd=self.workdir, env=env, stdout=fh
            )
        self._procs.append((proc, log))
        if ready is None:
            return proc
        try:
            ok = processes.wait_until(processes.text_appears(log, ready), timeout, proc=proc)
        except processes.EarlyExit as exc:
            text = log.read_text(errors="replace")
            raise AssertionError(f"{command!r} {exc}:\n{text[-3000:]}") from None
        if not ok:
            text = log.read_text(errors="replace")
            raise AssertionError(
                f"{command!r} not ready ({ready!r}) after {timeout}s:\n{text[-3000:]}"
            )
        return proc

    def output(self, proc: subprocess.Popen) -> str:
        for p, log in self._procs:
            if p is proc:
                return log.read_text(errors="replace")
        raise KeyError(proc)

    def stop(self, proc: subprocess.Popen, grace: float = 10) -> None:
        self.owner.stop(proc, grace=grace)

    def kill(self, proc: subprocess.Popen) -> None:
        """SIGKILL the whole process group at once (a crash, not a shutdown)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def close(self) -> None:
        self.owner.stop_many([proc for proc, _ in self._procs], grace=5)


@pytest.fixture
def lab(tmp_path, redis_url, envs, request, owner):
    lab = Lab(tmp_path, redis_url, envs, request, owner)
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture
def rule_file_modules(lab, request) -> list[str]:
    """Load the test module's RULE_FILE into `lab` (use via pytest.mark.usefixtures)."""
    return lab.load_markdown(request.module.RULE_FILE)


def pytest_report_header(config):
    return f"proofs: python {sys.version.split()[0]}, envs cached under {CACHE}"
