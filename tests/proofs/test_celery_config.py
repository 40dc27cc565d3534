"""Proofs for references/celery-config.md: real Redis, real prefork `celery worker` processes
running the rule file's own modules (see celery_lab.py)."""

from __future__ import annotations

import os
import signal

from celery_lab import DRIVER_HELPERS, WORKER, pool_children, write_proof_app

DOC = "references/celery-config.md"
# Re-deliver unacked messages after 3 s and sweep every second (defaults: 3600 s and ~100 s).
# Tasks that must not be re-delivered while they run stay well under 3 s.
FAST_RESTORE = {"visibility_timeout": 3, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}

PRELUDE = DRIVER_HELPERS + """
from report_tasks import export_report, render_thumbnail, store, sync_inventory, sync_inventory_broad_except

def runs(report_id):
    return [int(pid) for pid in store.lrange(f"report:{report_id}:runs", 0, -1)]
"""


def setup(lab, transport: dict | None = None, **conf) -> None:
    write_proof_app(lab, DOC, ["report_tasks"], transport, **conf)


def drive(lab, code: str, timeout: float = 60):
    return lab.json_result("celery", PRELUDE + code, timeout=timeout)


def test_pickle_message_refused(lab):
    setup(lab)
    worker = lab.start("celery", WORKER, ready="ready.")
    out = drive(lab, """
forged = export_report.apply_async((2,), serializer="pickle")
# One process, one message at a time: once report 3 is done the forged message was handled.
before = export_report.delay(1).get(timeout=15)
after = export_report.delay(3).get(timeout=15)
print(json.dumps({"forged_runs": runs(2), "forged_state": forged.state, "ok": [before, after]}))
""")
    assert out["ok"] == ["report:1", "report:3"]
    assert out["forged_runs"] == [] and out["forged_state"] == "PENDING"
    assert "Refusing to deserialize untrusted content of type pickle" in lab.output(worker)


def _start_and_kill_mid_task(lab, report_id: int) -> str:
    """Start a worker, run a 2 s export, SIGKILL the whole worker while it runs; return the id."""
    worker = lab.start("celery", WORKER, ready="ready.")
    out = drive(lab, f"""
result = export_report.apply_async(({report_id},), {{"seconds": 2}})
wait_for(lambda: runs({report_id}), 15, "the first run")
print(json.dumps({{"id": result.id}}))
""")
    lab.kill(worker)
    return out["id"]


def test_worker_sigkill_with_acks_late_reruns(lab):
    setup(lab, transport=FAST_RESTORE)
    task_id = _start_and_kill_mid_task(lab, 10)
    held = drive(lab, 'print(json.dumps({"unacked": store.hlen("unacked"), "queued": store.llen("celery")}))')
    assert held == {"unacked": 1, "queued": 0}  # kept in the unacked hash, not in the queue
    lab.start("celery", WORKER, ready="ready.")
    out = drive(lab, f"""
value = AsyncResult("{task_id}").get(timeout=20)
print(json.dumps({{"value": value, "runs": runs(10)}}))
""")
    assert out["value"] == "report:10"
    assert len(out["runs"]) == 2 and out["runs"][0] != out["runs"][1]  # re-run in a new process


def test_worker_sigkill_without_acks_late_loses_task(lab):
    # Fault case: the markdown's app with task_acks_late turned off.
    setup(lab, transport=FAST_RESTORE, task_acks_late=False)
    task_id = _start_and_kill_mid_task(lab, 11)
    held = drive(lab, 'print(json.dumps({"unacked": store.hlen("unacked"), "queued": store.llen("celery")}))')
    assert held == {"unacked": 0, "queued": 0}  # acked on receipt: the message is nowhere
    lab.start("celery", WORKER, ready="ready.")
    out = drive(lab, f"""
time.sleep(5)  # past the 3 s visibility timeout and a restore sweep
export_report.delay(12).get(timeout=15)  # the new worker is consuming
print(json.dumps({{"state": AsyncResult("{task_id}").state, "runs": runs(11)}}))
""")
    assert out["state"] == "PENDING" and len(out["runs"]) == 1


def test_countdown_beyond_visibility_timeout_runs_twice(lab):
    setup(lab, transport=FAST_RESTORE)
    lab.start("celery", WORKER, ready="ready.")
    out = drive(lab, """
short = export_report.apply_async((21,), countdown=0.5)
long = export_report.apply_async((20,), countdown=7)  # longer than the 3 s visibility timeout
long.get(timeout=20)
short.get(timeout=5)
wait_for(lambda: len(runs(20)) >= 2, 10, "a second run of the same task id")
print(json.dumps({"long": runs(20), "short": runs(21)}))
""")
    assert len(out["long"]) >= 2
    assert len(out["short"]) == 1


def _kill_child_on_each_run(lab, worker, count_code: str, kills: int) -> None:
    """Each time the task starts again (count_code reaches k), SIGKILL the pool child, as an
    OOM killer would."""
    for k in range(1, kills + 1):
        drive(lab, f'wait_for(lambda: {count_code} >= {k}, 20, "run {k}")\nprint("{{}}")')
        for pid in pool_children(worker):
            os.kill(pid, signal.SIGKILL)


def test_pool_child_death_fails_with_worker_lost(lab):
    setup(lab)  # the markdown's settings: acks_late on, reject_on_worker_lost off
    worker = lab.start("celery", WORKER, ready="ready.")
    sent = drive(lab, 'print(json.dumps({"id": export_report.apply_async((30,), {"seconds": 5}).id}))')
    _kill_child_on_each_run(lab, worker, "len(runs(30))", kills=1)
    out = drive(lab, f"""
res = outcome(AsyncResult("{sent['id']}"), 15)
res["runs"] = runs(30)
print(json.dumps(res))
""")
    assert out["state"] == "FAILURE" and out["error"] == "WorkerLostError"
    assert len(out["runs"]) == 1


def test_reject_on_worker_lost_loops_until_guard(lab):
    # Fault case: the setting switched on for every task.
    setup(lab, task_reject_on_worker_lost=True)
    worker = lab.start("celery", WORKER, ready="ready.")
    sent = drive(lab, 'print(json.dumps({"id": export_report.apply_async((31,), {"seconds": 5}).id}))')
    _kill_child_on_each_run(lab, worker, "len(runs(31))", kills=2)
    looped = drive(lab, f"""
wait_for(lambda: len(runs(31)) >= 3, 20, "a third delivery")
print(json.dumps({{"runs": len(runs(31)), "state": AsyncResult("{sent['id']}").state}}))
""")
    assert looped["runs"] >= 3 and looped["state"] not in ("SUCCESS", "FAILURE")
    lab.kill(worker)  # stop the loop; the message stays unacked

    worker = lab.start("celery", WORKER, ready="ready.")
    sent = drive(lab, 'print(json.dumps({"id": render_thumbnail.apply_async((5,), {"seconds": 5}).id}))')
    count = f'int(store.get("deliveries:{sent["id"]}") or 0)'
    _kill_child_on_each_run(lab, worker, count, kills=3)
    out = drive(lab, f"""
res = outcome(AsyncResult("{sent['id']}"), 20)
res["deliveries"] = {count}
print(json.dumps(res))
""")
    assert out["state"] == "FAILURE" and out["error"] == "RuntimeError"
    assert "killed its worker process 3 times" in out["message"]
    assert out["deliveries"] == 4


def test_soft_limit_handled(lab):
    setup(lab)
    lab.start("celery", WORKER, ready="ready.")
    out = drive(lab, """
res = outcome(sync_inventory.delay(7), 15)
res["checkpoint"] = int(store.get("inventory:7:checkpoint") or -1)
print(json.dumps(res))
""")
    assert out["state"] == "SUCCESS" and out["value"] > 0
    assert out["checkpoint"] == out["value"]


def test_soft_limit_swallowed_then_hard_kill(lab):
    setup(lab)
    worker = lab.start("celery", WORKER, ready="ready.")
    out = drive(lab, "print(json.dumps(outcome(sync_inventory_broad_except.delay(8), 15)))")
    assert out["state"] == "FAILURE" and out["error"] == "TimeLimitExceeded"
    log = lab.output(worker)
    assert "Soft time limit (1s) exceeded" in log and "Hard time limit (3s) exceeded" in log


def test_prefetch_one_reserves_nothing_extra(lab):
    setup(lab)
    drive(lab, """
for n in range(3):
    export_report.apply_async((40 + n,), {"seconds": 3})
    export_report.apply_async((50 + n,), {"seconds": 3}, queue="bulk")
print("{}")
""")
    workers = [lab.start("celery", WORKER, ready="ready."),  # markdown: multiplier 1 + acks_late
               lab.start("celery", WORKER + " -Q bulk --prefetch-multiplier=4", ready="ready.")]
    out = drive(lab, """
wait_for(lambda: runs(40) and runs(50), 15, "the first task on each worker")
wait_for(lambda: store.llen("bulk") == 0, 5, "the bulk worker to reserve its queue")
print(json.dumps({"celery": store.llen("celery"), "bulk": store.llen("bulk")}))
""")
    assert out == {"celery": 2, "bulk": 0}  # multiplier 1: the other two still wait in Redis
    for worker in workers:
        lab.kill(worker)  # no need to let the 3 s tasks finish


def test_max_tasks_per_child_recycles_process(lab):
    code = """
pids = []
for n in range(4):
    export_report.delay(60 + n).get(timeout=15)
    pids += runs(60 + n)
print(json.dumps(pids))
"""
    setup(lab, worker_max_tasks_per_child=2)
    worker = lab.start("celery", WORKER, ready="ready.")
    pids = drive(lab, code)
    assert pids[0] == pids[1] != pids[2] == pids[3]
    lab.kill(worker)

    setup(lab)  # the markdown's 500: one child runs them all
    lab.start("celery", WORKER, ready="ready.")
    drive(lab, 'store.delete(*[f"report:{60 + n}:runs" for n in range(4)])\nprint("{}")')
    pids = drive(lab, code)
    assert len(set(pids)) == 1
