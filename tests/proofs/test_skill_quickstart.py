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


WORKER_COMMAND = fence(Kind.BACKGROUND, "celery -A celery_app worker").strip()


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
    out = lab.json_result("celery", PRELUDE + """
print(json.dumps(charge_order.delay(1043, 500, idempotency_key="order-1043-charge").get(timeout=20)))
""")
    assert out == "ch_order-1043-charge" and probe("GET", "provider:charges") == "2"


def test_async_def_task_never_runs_its_body(lab):
    lab.load_markdown("SKILL.md")
    probe = RedisProbe(lab.redis_url)
    # The anti-pattern on a real worker: an async def task in a module the worker imports.
    (Path(lab.workdir) / "receipt_tasks.py").write_text(
        "import os\n\nimport redis\n\nfrom celery_app import app\n\n"
        "store = redis.Redis.from_url(os.environ['REDIS_URL'])\n\n\n"
        "@app.task\nasync def send_receipt(order_id):\n    store.rpush('receipts', order_id)\n")
    lab.start("celery", WORKER_COMMAND + " --include=receipt_tasks", ready="ready.")
    out = lab.json_result("celery", DRIVER_HELPERS + """
from receipt_tasks import send_receipt
print(json.dumps(outcome(send_receipt.delay(7), 15)))
""")
    assert out["state"] == "FAILURE" and out["error"] == "EncodeError"
    assert "coroutine" in out["message"]
    assert probe("LLEN", "receipts") == 0  # the body never ran
    # SKILL.md's own demonstration block passes (and would fail if the body had run).
    demo = lab.python("celery", fence(Kind.RUN, "async def send_receipt"))
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "SUCCESS coroutine" in demo.stdout
