"""Proofs for SKILL.md: the quick start (its own modules, worker command and run block) and the
`async def` anti-pattern, against real Redis and a real `celery worker`."""

from __future__ import annotations

from pathlib import Path

from celery_lab import DRIVER_HELPERS, RedisProbe, wait_for_output
from skill_audit.snippets.extract import read_fences
from skill_audit.snippets.grammar import Kind

ROOT = Path(__file__).resolve().parents[2]
FENCES = read_fences(ROOT / "SKILL.md")
PRELUDE = DRIVER_HELPERS + "from payment_tasks import charge_order\n"


def fence(kind: Kind, containing: str) -> str:
    """The code of the one SKILL.md fence of this kind that contains the text."""
    found = [f.code for f in FENCES if f.spec.kind is kind and containing in f.code]
    assert len(found) == 1, f"expected one {kind.value} fence with {containing!r} in SKILL.md"
    return found[0]


WORKER_COMMAND = fence(Kind.BACKGROUND, "celery -A celery_app worker --pool=solo").strip()


def test_quickstart_retries_then_charges_once(lab):
    lab.load_markdown("SKILL.md")
    probe = RedisProbe(lab.redis_url)
    worker = lab.start("celery", WORKER_COMMAND, ready="ready.")
    result = lab.python("celery", fence(Kind.RUN, "idempotency_key=key"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ch_order-1042-charge" in result.stdout
    # 1st call timed out, the automatic retry charged, the duplicate delivery reused the key.
    assert probe("GET", "provider:calls:order-1042-charge") == "3"
    assert probe("GET", "provider:charges") == "1"
    wait_for_output(lab, worker, "retry: Retry in")
    # Contrast: a new key is a new charge, so the counter above can tell one charge from two.
    out = lab.json_result(
        "celery",
        PRELUDE
        + """
print(json.dumps(charge_order.delay(1043, 500, idempotency_key="order-1043-charge").get(timeout=20)))
""",
    )
    assert out == "ch_order-1043-charge" and probe("GET", "provider:charges") == "2"


def test_async_def_task_never_runs_its_body(lab):
    lab.load_markdown("SKILL.md")  # writes receipt_tasks.py, the async def anti-pattern
    probe = RedisProbe(lab.redis_url)
    # Contrast: the same module with a plain `def`, so the probe can tell a run from none.
    source = (Path(lab.workdir) / "receipt_tasks.py").read_text()
    assert source.count("async def send_receipt") == 1
    (Path(lab.workdir) / "receipt_tasks_sync.py").write_text(
        source.replace("async def send_receipt", "def send_receipt")
    )
    command = fence(Kind.BACKGROUND, "--include=receipt_tasks").strip()
    lab.start(
        "celery",
        command.replace("--include=receipt_tasks", "--include=receipt_tasks,receipt_tasks_sync"),
        ready="ready.",
    )
    out = lab.json_result(
        "celery",
        DRIVER_HELPERS
        + """
from receipt_tasks import send_receipt
from receipt_tasks_sync import send_receipt as send_receipt_sync
print(json.dumps([outcome(send_receipt.delay(7), 15), outcome(send_receipt_sync.delay(8), 15)]))
""",
    )
    broken, plain = out
    assert broken["state"] == "FAILURE" and broken["error"] == "EncodeError"
    assert "coroutine" in broken["message"]
    assert plain == {"state": "SUCCESS", "value": None}
    assert probe("LRANGE", "receipts:sent", 0, -1) == ["8"]  # only the sync body ran
    # SKILL.md's own demonstration block, against the same worker.
    probe("DEL", "receipts:sent")
    demo = lab.python("celery", fence(Kind.RUN, "send_receipt.delay(7)"))
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "FAILURE TypeError('Object of type coroutine is not JSON serializable')" in demo.stdout
