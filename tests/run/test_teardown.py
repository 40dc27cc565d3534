"""SIGTERM or Ctrl-C (SIGINT) in the middle of a run leaves no process behind: not the
worker, not the sleeping block or its child, not the Redis the run started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from tests.run.conftest import FIXTURES, ROOT, processes_with_env


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_interrupt_leaves_no_process(envs, tmp_path, sig, code):
    marker = f"SKILL_AUDIT_TEST_MARKER={uuid.uuid4().hex}"
    started = tmp_path / "started"
    env = {
        **os.environ,
        "SKILL_AUDIT_TEST_MARKER": marker.split("=", 1)[1],
        "STARTED_FILE": str(started),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "skill_audit.runner",
            str(FIXTURES / "interrupt"),
            "--pass-env",
            "SKILL_AUDIT_TEST_MARKER",
            "--pass-env",
            "STARTED_FILE",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As a terminal's foreground job: a shell's background job (`cmd &`, how some CI
        # steps start) inherits SIGINT ignored, and a program started so rightly keeps it so.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while not started.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the sleeping block never started"
            time.sleep(0.1)
        # runner, redis, celery worker, two background sleeps, the block and its child
        assert len(processes_with_env(marker)) >= 6, processes_with_env(marker)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, (out, err)
    assert "interrupted" in err and "Traceback" not in err
    assert processes_with_env(marker) == []
