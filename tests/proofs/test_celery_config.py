"""Proofs for references/celery-config.md: real Redis, real prefork `celery worker` processes
running the rule file's own modules (see celery_lab.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from celery_lab import (
    DRIVER_HELPERS,
    WORKER,
    RedisProbe,
    pool_children,
    wait_for_output,
    wait_until,
    write_proof_app,
)
from skill_audit.runtime import services

DOC = "references/celery-config.md"
PRELUDE = (
    DRIVER_HELPERS
    + """
import proof_app  # the same overrides as the workers
from report_tasks import export_report, render_thumbnail, store, sync_inventory, sync_inventory_broad_except
"""
)


def fast_restore(visibility_timeout: int) -> dict:
    """Re-deliver unacked messages after `visibility_timeout` s, sweeping every second
    (defaults: 3600 s, and a sweep about every 100 s)."""
    return {
        "visibility_timeout": visibility_timeout,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }


def setup(lab, transport: dict | None = None, name: str = "proof_app", **conf) -> RedisProbe:
    write_proof_app(lab, DOC, ["report_tasks"], transport, name=name, **conf)
    return RedisProbe(lab.redis_url)


def drive(lab, code: str, timeout: float = 60):
    return lab.json_result("celery", PRELUDE + code, timeout=timeout)


def runs(probe: RedisProbe, report_id: int) -> list[int]:
    """PIDs of the processes that ran export_report(report_id), in order."""
    return [int(pid) for pid in probe("LRANGE", f"report:{report_id}:runs", 0, -1)]


def send(lab, call: str) -> str:
    return drive(lab, f"print(json.dumps({call}.id))")


def kill_pool_child(worker) -> None:
    """SIGKILL the worker's pool process, as the kernel's OOM killer would."""
    for pid in pool_children(worker):
        os.kill(pid, signal.SIGKILL)


def test_pickle_message_refused(lab):
    probe = setup(lab)
    worker = lab.start("celery", WORKER, ready="ready.")
    out = drive(
        lab,
        """
forged = export_report.apply_async((2,), serializer="pickle")
# One process takes one message at a time: once report 3 is done, the forged one was handled.
done = [export_report.delay(1).get(timeout=15), export_report.delay(3).get(timeout=15)]
print(json.dumps({"done": done, "forged_state": forged.state}))
""",
    )
    assert out == {"done": ["report:1", "report:3"], "forged_state": "PENDING"}
    assert runs(probe, 2) == []
    wait_for_output(lab, worker, "Refusing to deserialize untrusted content of type pickle")


def _kill_worker_mid_task(lab, probe: RedisProbe, report_id: int, early_ack=False) -> str:
    """Run a 1.5 s export and SIGKILL the whole worker (main and pool) while it runs."""
    worker = lab.start("celery", WORKER, ready="ready.")
    task_id = send(lab, f'export_report.apply_async(({report_id},), {{"seconds": 1.5}})')
    wait_until(lambda: runs(probe, report_id), 15, "the first run")
    if early_ack:  # the main process acks once the child reports the start: a moment later
        wait_until(lambda: probe("HLEN", "unacked") == 0, 5, "the early ack")
        assert probe("LLEN", "celery") == 0  # acked, not swept back
    lab.kill(worker)
    return task_id


def test_worker_sigkill_with_acks_late_reruns(lab):
    probe = setup(lab, transport=fast_restore(4))  # the 1.5 s re-run stays well under 4 s
    task_id = _kill_worker_mid_task(lab, probe, 10)
    assert (probe("HLEN", "unacked"), probe("LLEN", "celery")) == (1, 0)  # held as unacked
    lab.start("celery", WORKER, ready="ready.")
    # a bound, not a timing claim: on a saturated machine the new worker's start and restore
    # sweep alone took over 20 s
    rerun = f'print(json.dumps(AsyncResult("{task_id}").get(timeout=50)))'
    assert drive(lab, rerun, timeout=90) == "report:10"
    first, second = runs(probe, 10)
    assert first != second  # re-run by the new worker's process


def test_worker_sigkill_without_acks_late_loses_task(lab):
    # Fault case: the markdown's app with task_acks_late turned off.
    # 3 s: a loaded machine can take over 1 s from delivery to the early ack, and a sweep
    # would put the message back meanwhile.
    probe = setup(lab, transport=fast_restore(3), task_acks_late=False)
    task_id = _kill_worker_mid_task(lab, probe, 11, early_ack=True)
    assert (probe("HLEN", "unacked"), probe("LLEN", "celery")) == (0, 0)  # acked: gone
    lab.start("celery", WORKER, ready="ready.")
    out = drive(
        lab,
        f"""
time.sleep(4)  # past the 3 s visibility timeout and several restore sweeps
export_report.delay(12).get(timeout=15)  # the new worker is consuming
print(json.dumps(AsyncResult("{task_id}").state))
""",
    )
    assert out == "PENDING" and len(runs(probe, 11)) == 1


def test_countdown_beyond_visibility_timeout_runs_twice(lab):
    probe = setup(lab, transport=fast_restore(2))
    lab.start("celery", WORKER, ready="ready.")
    drive(
        lab,
        """
short = export_report.apply_async((21,), countdown=0.2)
long = export_report.apply_async((20,), countdown=5)  # longer than the 2 s visibility timeout
short.get(timeout=10)
long.get(timeout=20)
print("{}")
""",
    )
    wait_until(lambda: len(runs(probe, 20)) >= 2, 10, "a second run of the same task id")
    assert len(runs(probe, 21)) == 1


def test_long_acks_late_task_beyond_visibility_timeout_runs_twice(lab):
    probe = setup(lab, transport=fast_restore(2))
    lab.start("celery", WORKER.replace("--concurrency=1", "--concurrency=2"), ready="ready.")
    drive(lab, 'print(json.dumps(export_report.apply_async((22,), {"seconds": 4}).id))')
    # Re-delivered after 2 s and started by the free process while the first run goes on.
    wait_until(lambda: len(runs(probe, 22)) >= 2, 15, "a second, overlapping run")
    assert probe("GET", "report:22") is None  # the first run has not finished yet


def test_pool_child_death_fails_with_worker_lost(lab):
    probe = setup(lab)  # the markdown's settings: acks_late on, reject_on_worker_lost off
    worker = lab.start("celery", WORKER, ready="ready.")
    task_id = send(lab, 'export_report.apply_async((30,), {"seconds": 5})')
    wait_until(lambda: runs(probe, 30), 15, "the first run")
    kill_pool_child(worker)
    out = drive(lab, f'print(json.dumps(outcome(AsyncResult("{task_id}"), 15)))')
    assert out["state"] == "FAILURE" and out["error"] == "WorkerLostError"
    assert len(runs(probe, 30)) == 1


def test_retry_on_worker_lost_is_bounded(lab):
    probe = setup(lab)  # the markdown's render_thumbnail: retry_on_worker_lost, max_retries=2
    # Naive variant side by side: re-queue on worker loss instead, on its own queue.
    setup(lab, name="proof_app_requeue", task_reject_on_worker_lost=True)
    (lab.workdir / "proof_app_requeue_only.py").write_text(
        "from proof_app_requeue import app  # noqa: F401\nfrom report_tasks import render_thumbnail\n"
        "render_thumbnail.retry_on_worker_lost = False\n"
    )
    lab.start("celery", WORKER.replace("--concurrency=1", "--concurrency=2"), ready="ready.")
    looping = lab.start(
        "celery",
        WORKER.replace("proof_app", "proof_app_requeue_only") + " -Q thumbnails",
        ready="ready.",
    )
    ids = drive(
        lab,
        """print(json.dumps([render_thumbnail.delay(-1).id,
    render_thumbnail.apply_async((-2,), queue="thumbnails").id]))""",
    )
    out = drive(lab, f'print(json.dumps(outcome(AsyncResult("{ids[0]}"), 30)))')
    assert out["state"] == "FAILURE" and out["error"] == "WorkerLostError", out
    assert probe("LLEN", "thumbnail:-1:runs") == 3  # the first run + max_retries=2
    assert probe("LLEN", "celery") == 0
    # The last delivery is acked just after the failure is stored: then nothing can run again.
    wait_until(
        lambda: not [m for m in probe("HVALS", "unacked") if ids[0] in str(m)],
        10,
        "the last delivery to be acked",
    )
    # The re-queued one keeps killing its process with no outcome stored.
    wait_until(lambda: probe("LLEN", "thumbnail:-2:runs") >= 4, 20, "a fourth run of the loop")
    assert probe("GET", f"celery-task-meta-{ids[1]}") is None
    lab.kill(looping)


def test_default_restore_sweep_delays_redelivery(lab):
    probe = setup(lab, transport={"visibility_timeout": 1})  # default sweep: about every 100 s
    lab.start("celery", WORKER, ready="ready.")  # keeps running; swept once at its start
    crashing = lab.start("celery", WORKER + " -Q reports", ready="ready.")
    send(lab, 'export_report.apply_async((90,), {"seconds": 2}, queue="reports")')
    wait_until(lambda: runs(probe, 90), 15, "the first run")
    lab.kill(crashing)
    time.sleep(6)  # six visibility timeouts; the running worker's next sweep is ~100 s away
    assert (probe("HLEN", "unacked"), probe("LLEN", "reports")) == (1, 0)
    lab.start("celery", WORKER + " -Q reports", ready="ready.")  # sweeps as it starts
    wait_until(lambda: probe("GET", "report:90"), 20, "the re-run to finish")
    assert len(runs(probe, 90)) == 2


def test_soft_limit_handled_vs_swallowed(lab):
    probe = setup(lab)
    worker = lab.start(
        "celery", WORKER.replace("--concurrency=1", "--concurrency=2"), ready="ready."
    )
    out = drive(
        lab,
        """print(json.dumps([
    outcome(sync_inventory.delay(7), 15), outcome(sync_inventory_broad_except.delay(8), 15)]))""",
    )
    handled, swallowed = out
    assert handled["state"] == "SUCCESS" and handled["value"] > 0
    assert int(probe("GET", "inventory:7:checkpoint")) == handled["value"]
    assert swallowed["state"] == "FAILURE" and swallowed["error"] == "TimeLimitExceeded"
    log = wait_for_output(
        lab, worker, "Hard time limit (3s) exceeded for report_tasks.sync_inventory_broad_except"
    )
    assert "Soft time limit (1s) exceeded for report_tasks.sync_inventory_broad_except" in log


def test_prefetch_one_reserves_nothing_extra(lab):
    probe = setup(lab)
    drive(
        lab,
        """
for n in range(3):
    export_report.apply_async((40 + n,), {"seconds": 15})
    export_report.apply_async((50 + n,), {"seconds": 15}, queue="bulk")
print("{}")
""",
    )
    workers = [
        lab.start("celery", WORKER, ready="ready."),  # markdown: multiplier 1 + acks_late
        lab.start("celery", WORKER + " -Q bulk --prefetch-multiplier=4", ready="ready."),
    ]
    wait_until(lambda: runs(probe, 40) and runs(probe, 50), 15, "the first task on each worker")
    wait_until(lambda: probe("LLEN", "bulk") == 0, 5, "the multiplier-4 worker to reserve the rest")
    # The first task runs 15 s, longer than the waits above even on a loaded machine (3 s was
    # not: the worker finished it and took the next before the count was read).
    assert probe("LLEN", "celery") == 2  # multiplier 1: the other two still wait in Redis
    for worker in workers:
        lab.kill(worker)  # no need to let the 15 s tasks finish


def test_max_tasks_per_child_recycles_process(lab):
    probe = setup(lab)  # the markdown's 500
    setup(lab, name="proof_app_recycle", worker_max_tasks_per_child=2)
    lab.start("celery", WORKER, ready="ready.")
    lab.start(
        "celery", WORKER.replace("proof_app", "proof_app_recycle") + " -Q recycle", ready="ready."
    )
    drive(
        lab,
        """
results = [export_report.apply_async((60 + n,)) for n in range(4)]
results += [export_report.apply_async((70 + n,), queue="recycle") for n in range(4)]
for result in results:
    result.get(timeout=15)
print("{}")
""",
    )
    kept = [pid for n in range(4) for pid in runs(probe, 60 + n)]
    recycled = [pid for n in range(4) for pid in runs(probe, 70 + n)]
    assert len(kept) == 4 and len(set(kept)) == 1
    assert recycled[0] == recycled[1] != recycled[2] == recycled[3]


def test_broker_connection_retry_on_startup(lab):
    setup(lab)  # the markdown's broker_connection_retry_on_startup=True
    setup(lab, name="proof_app_no_retry", broker_connection_retry_on_startup=False)
    port = services.free_port()
    url = f"redis://127.0.0.1:{port}/0"
    broker_down = {"CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url, "REDIS_URL": url}
    patient = lab.start("celery", WORKER, extra_env=broker_down)
    gives_up = lab.start(
        "celery", WORKER.replace("proof_app", "proof_app_no_retry"), extra_env=broker_down
    )
    wait_for_output(lab, patient, "Trying again", 20)
    wait_until(lambda: gives_up.poll() is not None, 20, "the no-retry worker to exit")
    # The broker comes up on that port: the retrying worker connects and serves.
    redis = subprocess.Popen(
        [
            services.redis_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_output(lab, patient, "ready.", 30)
        out = lab.json_result(
            "celery",
            PRELUDE + "print(json.dumps(export_report.delay(1).get(timeout=15)))",
            extra_env=broker_down,
        )
        assert out == "report:1"
    finally:
        lab.kill(patient)
        services.kill_group(redis, grace=2)
    log = lab.output(gives_up)
    assert "broker_connection_retry_on_startup=False). Shutting down" in log and "ready." not in log


def test_unregistered_task_discarded_then_fixed(lab):
    probe = setup(lab)
    # Fault case: the same app without `include`, so the worker never imports report_tasks.
    (lab.workdir / "proof_app_no_include.py").write_text(
        "from celery_app import app\napp.conf.include = []\n"
    )
    broken = lab.start(
        "celery", WORKER.replace("proof_app", "proof_app_no_include"), ready="ready."
    )
    lost_id = send(lab, "export_report.apply_async((80,))")
    out = drive(lab, f'print(json.dumps(outcome(AsyncResult("{lost_id}"), 15)))')
    assert out["state"] == "FAILURE" and out["error"] == "NotRegistered", out
    wait_for_output(lab, broken, "Received unregistered task of type 'report_tasks.export_report'")
    assert (probe("LLEN", "celery"), probe("HLEN", "unacked")) == (0, 0)  # discarded, not kept
    lab.stop(broken)

    lab.start("celery", WORKER, ready="ready.")  # the markdown's app: include=["report_tasks"]
    out = drive(
        lab,
        """
from celery_app import app
print(json.dumps([
    export_report.delay(81).get(timeout=15),
    app.send_task("report_tasks.generate_report", (82,)).get(timeout=15),  # the kept old name
    outcome(app.send_task("export_report", (83,)), 15)["error"],  # a short name by hand
]))
""",
    )
    assert out == ["report:81", "report:82", "NotRegistered"]
    assert runs(probe, 80) == [] and runs(probe, 83) == []  # the discarded ones never ran
