"""kill -9 of `skill-audit run` (what a CI runner does on a job timeout) leaves nothing behind:
not the Temporal dev server, not Redis, not the celery worker or its pool child, not the
blocks' children, not a temp folder; and the next run passes. Checked from outside through
/proc: every process of the run has the run's TMPDIR (or a folder below it) in its environment
or works below it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from skill_audit.runtime import processes

from tests.run.conftest import FIXTURES, ROOT, run_cmd

SETTLE = 30  # seconds the run's leftovers get to disappear (a loaded machine is slow)


def _start_held_run(tmp_path, *extra: str):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    started = tmp_path / "started"
    env = {**os.environ, "TMPDIR": str(tmpdir), "STARTED_FILE": str(started)}
    cmd = [sys.executable, "-m", "skill_audit.runner", str(FIXTURES / "killnine")]
    proc = subprocess.Popen(
        [*cmd, "--pass-env", "STARTED_FILE", *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 180
    while not started.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the holding block never started"
        time.sleep(0.1)
    return proc, tmpdir


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _ours(tmpdir) -> list[str]:
    """Command lines of live processes started with this run's TMPDIR, or working in it
    (Redis rewrites its process title over its environment)."""
    out = []
    for info in processes.processes():
        pid = info.pid
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        mine = cwd.startswith(str(tmpdir)) or processes.environ_has(pid, f"TMPDIR={tmpdir}", True)
        if not mine or pid == os.getpid():
            continue
        try:
            out.append(_cmdline(pid))
        except OSError:
            continue
    return out


def _wait_gone(tmpdir) -> tuple[list[str], list[str]]:
    deadline = time.monotonic() + SETTLE
    while True:
        left, folders = _ours(tmpdir), sorted(p.name for p in tmpdir.iterdir())
        if (not left and not folders) or time.monotonic() > deadline:
            return left, folders
        time.sleep(0.2)


def _assert_next_run_passes(tmpdir):
    again = run_cmd(str(FIXTURES / "killnine"), env={"TMPDIR": str(tmpdir)})
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.rstrip().endswith("0 failed, 0 skipped")
    assert _ours(tmpdir) == [] and list(tmpdir.iterdir()) == []


@pytest.mark.parametrize("mode", [(), ("--no-sandbox",)], ids=["sandboxed", "no-sandbox"])
def test_kill9_leaves_nothing_behind(envs, tmp_path, mode):
    # Sandboxed, the kernel ends the processes and the outer watchdog removes the files;
    # without the sandbox, parent-death signals and the watchdog do both.
    proc, tmpdir = _start_held_run(tmp_path, *mode)
    try:
        running = " | ".join(_ours(tmpdir))
        for part in ("server start-dev", "valkey-server", "celery", "sleep 600", "watchdog"):
            assert part in running or (part == "valkey-server" and "redis-server" in running), (
                part,
                running,
            )
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert _wait_gone(tmpdir) == ([], [])
    finally:
        if proc.poll() is None:
            proc.kill()
    _assert_next_run_passes(tmpdir)


def test_next_run_sweeps_when_the_watchdog_died_too(envs, tmp_path):
    """Run and watchdog killed at once: the parent-death signal takes the run's direct
    children; what they left (a background block's own child) is swept by the next run,
    which can prove it is ours (owner file naming a dead process, and the owner id).
    Without the sandbox: inside one, the kernel would end those orphans too."""
    proc, tmpdir = _start_held_run(tmp_path, "--no-sandbox")
    try:
        watchdog = [
            pid
            for pid in processes.pids_with_env(f"TMPDIR={tmpdir}", prefix=True)
            if "skill_audit.runtime.watchdog" in _cmdline(pid)
        ]
        assert len(watchdog) == 1
        os.kill(watchdog[0], signal.SIGKILL)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        time.sleep(1)
        left = _ours(tmpdir)
        assert any("sleep 600" in cmd for cmd in left), left  # orphans nobody else cleans
        assert not any("server start-dev" in cmd or "celery" in cmd for cmd in left), left
    finally:
        if proc.poll() is None:
            proc.kill()
    _assert_next_run_passes(tmpdir)
