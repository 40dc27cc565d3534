"""Proofs for references/task-routing.md: real Redis and real `celery worker` processes running
the rule file's own `celery_app` and `shop_tasks` (see celery_lab.py)."""

from __future__ import annotations

import json
import time
from itertools import pairwise

from celery_lab import DRIVER_HELPERS, WORKER, RedisProbe, wait_until, write_proof_app

DOC = "references/task-routing.md"
# Drivers import proof_app too: producers must share the workers' priority settings.
PRELUDE = (
    DRIVER_HELPERS
    + "import proof_app\nfrom shop_tasks import export_orders, reindex_product, send_receipt\n"
)
# Publish order chosen so that bucketing shows: 2 is sent before 0 and 1, 5 before 3.
PRIORITIES = [9, 2, 6, 0, 5, 3, 8, 1]


def setup(lab, transport: dict | None = None, name: str = "proof_app", **conf) -> RedisProbe:
    write_proof_app(lab, DOC, ["shop_tasks"], transport, name=name, **conf)
    return RedisProbe(lab.redis_url)


def drive(lab, code: str):
    return lab.json_result("celery", PRELUDE + code + '\nprint("{}")\n', timeout=60)


def ran(probe: RedisProbe, prefix: str = "") -> list[str]:
    return [item for item in probe("LRANGE", "ran", 0, -1) if item.startswith(prefix)]


def queued(probe: RedisProbe) -> dict[str, list[str]]:
    """Each non-empty broker list (queue plus priority suffix) with the task names in it."""
    out = {}
    for key in sorted(probe("KEYS", "*")):
        if probe("TYPE", key) == "list" and key != "ran":
            out[key] = [json.loads(m)["headers"]["task"] for m in probe("LRANGE", key, 0, -1)]
    return out


def test_router_function_and_globs_pick_the_list(lab):
    probe = setup(lab)
    drive(
        lab,
        """
send_receipt.delay(1)
export_orders.delay(7, plan="enterprise")  # the router function
export_orders.delay(8)                     # the glob
reindex_product.delay(3)                   # no route: task_default_queue
export_orders.apply_async((9,), queue="emails")  # an explicit queue beats every router
""",
    )
    assert queued(probe) == {
        "celery:5": ["shop_tasks.reindex_product"],
        "emails:5": ["shop_tasks.export_orders", "shop_tasks.send_receipt"],  # LPUSH: newest first
        "exports:5": ["shop_tasks.export_orders"],
        "exports_enterprise:5": ["shop_tasks.export_orders"],
    }


def _run_order(lab, probe: RedisProbe, priorities: list) -> tuple[list[str], list[str]]:
    """Publish one reindex job per priority (None: no priority given) while no worker runs,
    then start one (prefetch 1); return the broker lists used and the execution order."""
    drive(
        lab,
        f"""
for p in {priorities!r}:
    reindex_product.apply_async((str(p),), priority=p)
""",
    )
    lists = sorted(queued(probe))
    lab.start("celery", WORKER, ready="ready.")
    wait_until(lambda: len(ran(probe)) == len(priorities), 20, "every reindex job")
    return lists, [item.split(":")[1] for item in ran(probe)]


def test_redis_priority_default_steps(lab):
    # Contrast case: kombu's defaults (four buckets, no default priority) instead of the
    # markdown's ten steps and default priority 5.
    probe = setup(lab, transport={"priority_steps": [0, 3, 6, 9]}, task_default_priority=None)
    lists, order = _run_order(lab, probe, [9, None, *PRIORITIES[1:]])
    assert lists == ["celery", "celery:3", "celery:6", "celery:9"]
    # 0 first; 1-2 and "no priority" share bucket 0, first in first out inside a bucket.
    assert order == ["None", "2", "0", "1", "5", "3", "6", "8", "9"]


def test_redis_priority_ten_steps(lab):
    probe = setup(lab)  # the markdown's priority_steps=list(range(10))
    lists, order = _run_order(lab, probe, PRIORITIES)
    assert lists == ["celery", *(f"celery:{p}" for p in sorted(PRIORITIES) if p)]
    assert order == [str(p) for p in sorted(PRIORITIES)]


def _drain(lab, probe: RedisProbe, app_name: str) -> list[str]:
    """One worker on both queues, started after publishing; the queue of each task it ran."""
    worker = lab.start(
        "celery", WORKER.replace("proof_app", app_name) + " -Q emails,exports", ready="ready."
    )
    wait_until(lambda: len(ran(probe)) == 6, 20, "six tasks")
    lab.kill(worker)
    order = ["emails" if item.startswith("receipt") else "exports" for item in ran(probe)]
    probe("DEL", "ran")
    return order


def test_queue_order_strategy_priority_vs_round_robin(lab):
    probe = setup(lab)  # the markdown's default: round_robin
    setup(lab, transport={"queue_order_strategy": "priority"}, name="proof_app_strict")
    publish = "for n in range(3):\n    export_orders.delay(n)\n    send_receipt.delay(n)\n"
    drive(lab, publish)
    strict = _drain(lab, probe, "proof_app_strict")
    drive(lab, publish)
    alternating = _drain(lab, probe, "proof_app")
    assert strict == ["emails"] * 3 + ["exports"] * 3  # -Q order, queue by queue
    assert all(a != b for a, b in pairwise(alternating)), alternating


def test_priority_ignored_once_prefetched(lab):
    probe = setup(lab)
    # Same app and task, two workers side by side: the markdown's multiplier 1, and 4.
    lab.start("celery", WORKER + " -Q one", ready="ready.")
    lab.start("celery", WORKER + " -Q four --prefetch-multiplier=4", ready="ready.")
    # The long job must outlast the two publishing drivers below even on a loaded machine
    # (each starts an interpreter); 2 s was too short on 2 busy cores.
    for queue in ("one", "four"):
        drive(
            lab,
            f'reindex_product.apply_async(({queue!r} + "-long", 6), priority=5, queue={queue!r})',
        )
    wait_until(
        lambda: not probe("EXISTS", "one:5") and not probe("EXISTS", "four:5"),
        10,
        "both workers to start their long job",
    )
    drive(
        lab,
        """
for queue in ("one", "four"):
    for n in range(3):
        reindex_product.apply_async((f"{queue}-low{n}",), priority=9, queue=queue)
""",
    )
    wait_until(lambda: not probe("EXISTS", "four:9"), 10, "the multiplier-4 worker to reserve")
    drive(
        lab,
        """
for queue in ("one", "four"):
    reindex_product.apply_async((f"{queue}-urgent",), priority=0, queue=queue)
""",
    )
    wait_until(lambda: len(ran(probe)) == 10, 30, "all ten jobs")
    assert ran(probe, "reindex:one-") == [
        "reindex:one-long",
        "reindex:one-urgent",
        *(f"reindex:one-low{n}" for n in range(3)),
    ]
    assert ran(probe, "reindex:four-") == [
        "reindex:four-long",
        *(f"reindex:four-low{n}" for n in range(3)),
        "reindex:four-urgent",
    ]


def test_rate_limit_is_per_worker(lab):
    # The markdown's send_receipt, its limit lowered to one a minute so the bucket stays empty.
    probe = setup(lab, task_annotations={"shop_tasks.send_receipt": {"rate_limit": "1/m"}})
    for _ in range(2):
        lab.start("celery", WORKER + " -Q emails", ready="ready.")
    drive(lab, "for n in range(4):\n    send_receipt.delay(n)")
    # A global 1/m would allow one run this minute; two workers run one each.
    wait_until(lambda: len(ran(probe)) >= 2, 15, "one receipt per worker")
    wait_until(lambda: probe("LLEN", "emails:5") == 0, 5, "both workers to take the other two")
    time.sleep(1)  # unlimited, they would run within milliseconds
    assert len(ran(probe)) == 2  # they wait in each worker's own bucket for the next minute
