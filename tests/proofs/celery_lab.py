"""Helpers for the Celery proof files (celery-config, task-routing, SKILL.md quick start).

Workers run `proof_app`, a module that imports the markdown's own app and task modules and only
shrinks timings or flips the one setting a fault case is about, so the code under test is the
code the markdown shows. Drivers run inside the celery env and print one JSON line.
"""

from __future__ import annotations

import json
from pathlib import Path

WORKER = "celery -A proof_app worker --concurrency=1 --loglevel=INFO --without-gossip --without-mingle"

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


def write_proof_app(lab, doc: str, task_modules: list[str], transport: dict | None = None,
                    **conf) -> None:
    """Write `doc`'s modules and `proof_app` (its `celery_app.app` plus the overrides)."""
    lab.load_markdown(doc)
    lines = ["import json", "from celery_app import app"]
    lines += [f"import {name}  # noqa: F401" for name in task_modules]
    if transport:
        lines.append("app.conf.broker_transport_options = {**app.conf.broker_transport_options, "
                     f"**json.loads({json.dumps(json.dumps(transport))})}}")
    if conf:
        lines.append(f"app.conf.update(json.loads({json.dumps(json.dumps(conf))}))")
    (Path(lab.workdir) / "proof_app.py").write_text("\n".join(lines) + "\n")


def pool_children(worker) -> list[int]:
    """PIDs of the prefork pool children of a worker's main process (Linux /proc)."""
    text = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text()
    return [int(pid) for pid in text.split()]
