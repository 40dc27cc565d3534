"""Helpers for the Celery proof files (celery-config, task-routing, SKILL.md quick start,
canvas, retries, schedules, monitoring).

Workers run `proof_app`, a module that imports the markdown's own app and task modules and only
shrinks timings or flips the one setting a fault case is about, so the code under test is the
code the markdown shows. Drivers run inside the celery env and print one JSON line.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

from skill_audit.runtime import resp

WORKER = (
    "celery -A proof_app worker --concurrency=1 --loglevel=INFO --without-gossip --without-mingle"
)

# Bounded polling and task outcomes, prepended to every driver.
DRIVER_HELPERS = """
import json, time
from celery.result import AsyncResult

def wait_for(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"timed out after {timeout}s waiting for {what}")

def outcome(result, timeout):
    try:
        return {"state": "SUCCESS", "value": result.get(timeout=timeout)}
    except Exception as exc:
        return {"state": result.state, "error": type(exc).__name__, "message": str(exc)}
"""

# A call's outcome as a JSON-able pair: ["ok", value] or [exception class name, message]; for
# drivers that do not use DRIVER_HELPERS (whose outcome() takes a result, not a callable).
CALL_OUTCOME = """
def outcome(fn):
    try:
        return ["ok", fn()]
    except Exception as exc:
        return [type(exc).__name__, str(exc)]
"""


def drive_calls(lab, prelude: str, body: str, **kw):
    """Run `prelude` + CALL_OUTCOME + `body` in the celery env; return the JSON it prints last."""
    return lab.json_result(
        "celery", textwrap.dedent(prelude) + CALL_OUTCOME + textwrap.dedent(body), **kw
    )


def write_proof_app(
    lab,
    doc: str,
    task_modules: list[str],
    transport: dict | None = None,
    name: str = "proof_app",
    **conf,
) -> None:
    """Write `doc`'s modules and a `proof_app` module: its `celery_app.app` plus overrides."""
    lab.load_markdown(doc)
    lines = ["import json", "from celery_app import app"]
    lines += [f"import {name}  # noqa: F401" for name in task_modules]
    if transport:
        lines.append(
            "app.conf.broker_transport_options = {**app.conf.broker_transport_options, "
            f"**json.loads({json.dumps(json.dumps(transport))})}}"
        )
    if conf:
        lines.append(f"app.conf.update(json.loads({json.dumps(json.dumps(conf))}))")
    (Path(lab.workdir) / f"{name}.py").write_text("\n".join(lines) + "\n")


def pool_children(worker) -> list[int]:
    """PIDs of the prefork pool children of a worker's main process (Linux /proc)."""
    text = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text()
    return [int(pid) for pid in text.split()]


def wait_for_output(lab, proc, text: str, timeout: float = 10) -> str:
    """The process's log once it contains `text` (workers log a moment after acting)."""
    deadline = time.monotonic() + timeout
    while text not in (log := lab.output(proc)):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in the log after {timeout}s:\n{log[-2000:]}")
        time.sleep(0.05)
    return log


def wait_until(check, timeout: float, what: str):
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
    return value


class RedisProbe:
    """Watch Redis from the test process without redis-py (absent from the test venv) and
    without starting a driver process for every look: one command per call."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, *args):
        return resp.execute(self.url, tuple(str(a) for a in args))[0]
