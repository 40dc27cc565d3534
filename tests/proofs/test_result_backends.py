"""Proofs for references/result-backends.md, against real Redis and real worker processes."""

from __future__ import annotations

import pytest
from skill_audit.runtime import services

RULE_FILE = "references/result-backends.md"
pytestmark = pytest.mark.usefixtures("rule_file_modules")  # RULE_FILE's modules in lab.workdir
WORKER = "celery -A {app} worker --concurrency=2 --loglevel=INFO --without-gossip --without-mingle"
# Proof only: a 3 s result_expires, so expiry can be watched within the test.
SHORT_EXPIRY = "from report_tasks import app\napp.conf.result_expires = 3\n"


def start_worker(lab, app: str = "report_tasks"):
    return lab.start("celery", WORKER.format(app=app), ready="ready.")


def test_result_ttl_matches_result_expires(lab):
    assert lab.json_result(
        "celery",
        """
import json
from datetime import timedelta
from celery import Celery
print(json.dumps(Celery("defaults").conf.result_expires == timedelta(days=1)))
""",
    )
    ttl_of_done_task = """
import json
from report_tasks import import_catalog, outbox
r = import_catalog.delay(rows=1, delay=0)
r.get(timeout=10)
print(json.dumps([r.id, outbox.ttl(f"celery-task-meta-{r.id}")]))
"""
    worker = start_worker(lab)
    _, ttl = lab.json_result("celery", ttl_of_done_task)
    assert 6 * 3600 - 60 < ttl <= 6 * 3600  # the module's result_expires=6h

    lab.stop(worker)
    (lab.workdir / "short_expiry.py").write_text(SHORT_EXPIRY)
    start_worker(lab, "short_expiry")  # the worker that stores the result sets the TTL
    task_id, ttl = lab.json_result("celery", ttl_of_done_task)
    assert 0 < ttl <= 3
    states = lab.json_result(
        "celery",
        f"""
import json, time
from report_tasks import app, outbox
r = app.AsyncResult({task_id!r})
before = r.state
deadline = time.monotonic() + 10
while outbox.exists(f"celery-task-meta-{{r.id}}") and time.monotonic() < deadline:
    time.sleep(0.2)
print(json.dumps([before, app.AsyncResult(r.id).state]))  # fresh handle: a ready one caches its state
""",
    )
    assert states == ["SUCCESS", "PENDING"]  # an expired result reads as if it never existed


def test_ignore_result_stores_nothing(lab):
    start_worker(lab)
    seen = lab.json_result(
        "celery",
        """
import json, time
from celery.exceptions import TimeoutError
from report_tasks import app, import_catalog, outbox, send_receipt
quiet = send_receipt.delay(1001)
deadline = time.monotonic() + 10
while outbox.llen("outbox:receipts") == 0 and time.monotonic() < deadline:
    time.sleep(0.05)
normal = import_catalog.delay(rows=1, delay=0)
normal.get(timeout=10)
try:
    rebuilt = app.AsyncResult(quiet.id).get(timeout=1)  # a handle made from the id alone
except TimeoutError:
    rebuilt = "timeout"
print(json.dumps({"ran": outbox.lrange("outbox:receipts", 0, -1) == [b"1001"],
                  "quiet_key": outbox.exists(f"celery-task-meta-{quiet.id}"),
                  "normal_key": outbox.exists(f"celery-task-meta-{normal.id}"),
                  "quiet_state": quiet.state, "own_handle_get": quiet.get(timeout=10),
                  "rebuilt_get": rebuilt}))
""",
    )
    assert seen == {
        "ran": True,
        "quiet_key": 0,
        "normal_key": 1,
        "quiet_state": "PENDING",
        "own_handle_get": None,
        "rebuilt_get": "timeout",
    }


def test_unknown_id_reads_pending(lab):
    start_worker(lab)
    seen = lab.json_result(
        "celery",
        """
import json
from celery.exceptions import TimeoutError
from celery.utils import uuid
from report_tasks import app
r = app.AsyncResult(uuid())
try:
    r.get(timeout=1)
    outcome = "resolved"
except TimeoutError:
    outcome = "timeout"
print(json.dumps([r.state, r.ready(), outcome, r.name]))
""",
    )
    assert seen == ["PENDING", False, "timeout", None]


def test_started_and_extended(lab):
    start_worker(lab)
    seen = lab.json_result(
        "celery",
        """
import json, time
from report_tasks import rebuild_search_index
r = rebuild_search_index.delay(seconds=2)
states = []
deadline = time.monotonic() + 15
while not r.ready() and time.monotonic() < deadline:
    states.append(r.state)
    time.sleep(0.05)
r.get(timeout=10)
print(json.dumps({"states": sorted(set(states)), "name": r.name, "kwargs": r.kwargs, "worker": r.worker}))
""",
    )
    assert "STARTED" in seen["states"], seen
    assert seen["name"] == "report_tasks.rebuild_search_index"
    assert seen["kwargs"] == {"seconds": 2}
    assert seen["worker"] and seen["worker"].startswith("celery@")


def test_progress_states_visible(lab):
    start_worker(lab)
    seen = lab.json_result(
        "celery",
        """
import json, time
from report_tasks import import_catalog
job = import_catalog.delay(rows=6, delay=0.5)  # steps long enough to be seen on a busy machine
progress = []
deadline = time.monotonic() + 15
while not job.ready() and time.monotonic() < deadline:
    meta = job.backend.get_task_meta(job.id)  # one read, as the rule file does
    if meta["status"] == "IMPORTING":
        info = meta["result"]
        progress.append([info["done"], info["total"], job.ready()])
    time.sleep(0.05)
print(json.dumps({"progress": progress, "state": job.state, "result": job.get(timeout=10)}))
""",
    )
    done = [p[0] for p in seen["progress"]]
    assert len(set(done)) >= 3 and done == sorted(done), seen  # several steps, in order
    assert all(
        total == 6 and not ready for _, total, ready in seen["progress"]
    )  # not a ready state
    assert seen["state"] == "SUCCESS"
    assert seen["result"]["rows"] == 6 and seen["result"]["report"].startswith("s3://")


def test_result_store_eviction_spares_the_broker(lab):
    result_store = services.start_redis()  # a second Redis, only for results
    try:
        backend = {"CELERY_RESULT_BACKEND": result_store.extra["url"]}
        lab.start("celery", WORKER.format(app="report_tasks"), ready="ready.", extra_env=backend)
        seen = lab.json_result(
            "celery",
            """
import json, os, redis
from report_tasks import app, import_catalog, outbox
r = import_catalog.delay(rows=1, delay=0)
r.get(timeout=10)
key = f"celery-task-meta-{r.id}"
results = redis.Redis.from_url(os.environ["CELERY_RESULT_BACKEND"])
placed = {"broker": outbox.exists(key), "result_store": results.exists(key)}
# Cap the result store and fill it: volatile-lru may evict only keys with a TTL, i.e. results.
results.config_set("maxmemory-policy", "volatile-lru")
results.config_set("maxmemory", results.info("memory")["used_memory"] + 1_000_000)
for i in range(100):
    try:
        results.set(f"filler:{i}", b"x" * 100_000)
    except redis.OutOfMemoryError:
        break  # nothing with a TTL is left to evict: writes are refused instead
print(json.dumps({"placed": placed, "evicted": not results.exists(key),
                  "state": app.AsyncResult(r.id).state}))
""",
            extra_env=backend,
        )
    finally:
        result_store.stop()
    assert seen["placed"] == {
        "broker": 0,
        "result_store": 1,
    }  # results live only in their own store
    assert seen["evicted"], seen
    assert seen["state"] == "PENDING"  # an evicted result reads like an unknown id


STATUS_DRIVER = """
import json, time
from job_status import job_status, submit_import
from report_tasks import app

def naive_status(job_id):  # what rule 7 warns against: PENDING read as "queued"
    return {"PENDING": "queued"}.get(app.AsyncResult(job_id).state, "other")
"""


def test_status_endpoint_tells_unknown_from_queued(lab):
    before = lab.json_result(
        "celery",
        STATUS_DRIVER
        + """
job_id = submit_import(rows=15)  # 3 s of work; no worker yet: really queued
print(json.dumps({"job_id": job_id, "unknown": job_status("3f2c-no-such-job"),
                  "queued": job_status(job_id), "naive_unknown": naive_status("3f2c-no-such-job")}))
""",
    )
    assert before["unknown"] == [404, {"error": "unknown job id"}]
    assert before["queued"] == [200, {"status": "queued"}]
    assert before["naive_unknown"] == "queued"  # the naive mapping cannot tell them apart
    start_worker(lab)
    seen = lab.json_result(
        "celery",
        STATUS_DRIVER
        + f"""
seen = []
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    code, body = job_status({before["job_id"]!r})
    seen.append(body["status"])
    if body["status"] == "done":
        break
    time.sleep(0.05)
print(json.dumps({{"seen": seen, "last": body}}))
""",
    )
    assert "running" in seen["seen"] and seen["seen"][-1] == "done", seen["seen"]
    assert seen["last"]["report"].endswith(f"{before['job_id']}.json")
