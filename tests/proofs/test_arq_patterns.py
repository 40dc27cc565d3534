"""Proofs for references/arq-patterns.md: real Redis, real `arq` worker processes.

Every test loads the markdown's modules (billing_jobs.py, payments.py, shop_api.py,
report_jobs.py) into the work folder,
starts workers with the `arq` CLI exactly as the markdown does, and drives them from the arq env.
Fault cases run the same settings with one value changed (see VARIANTS).
"""

from __future__ import annotations

import subprocess
import textwrap
import time

import pytest

MARKDOWN = "references/arq-patterns.md"
READY = "Starting worker for"  # arq's first log line once the worker runs

# Settings variants for fault cases. arq builds a Worker from the class's own __dict__ (no
# inheritance), so each variant copies WorkerSettings' attributes and changes one thing.
VARIANTS = """
from arq import func

import billing_jobs


def variant(drop=(), **changes):
    base = {k: v for k, v in vars(billing_jobs.WorkerSettings).items()
            if not k.startswith("__") and k not in drop}
    return type("Variant", (), {**base, **changes})


ShortTimeout = variant(job_timeout=1)  # in-progress key lives job_timeout + 10 s
ShortKeep = variant(keep_result=1)
NoAbort = variant(allow_abort_jobs=False)
ShortDrain = variant(job_completion_wait=1)  # shorter than the job: SIGTERM still cancels it
HotPoll = variant(poll_delay=0.001)  # polls all the time: any window between two writes is hit
# keep_result_forever on the worker, and a job that ends on arq's own failure path (max_tries).
KeepForever = variant(keep_result_forever=True,
                      functions=[func(billing_jobs.charge_order, max_tries=2)])
KeepYear = variant(keep_result=365 * 24 * 3600,
                   functions=[func(billing_jobs.charge_order, max_tries=2)])
# A function-level keep_result, and max_tries below the CHARGE_TRIES the job alerts at.
FuncKeep = variant(functions=[func(billing_jobs.charge_order, max_tries=2, keep_result=30),
                              func(billing_jobs.refund_order, keep_result=30)])
# The hook under a name Worker does not know: arq drops it silently.
TypoHooks = variant(drop=("on_startup", "on_shutdown"), startup=billing_jobs.startup)
"""

# Driver prelude: a pool with the markdown's settings and a JSON printer.
PRELUDE = """
import asyncio, json
from datetime import timedelta
from arq import create_pool
from arq.jobs import Job
from billing_jobs import REDIS

def emit(**data):
    print(json.dumps(data, default=str))
"""


def lab_with_modules(lab):
    lab.load_markdown(MARKDOWN)
    (lab.workdir / "proof_variants.py").write_text(VARIANTS)
    return lab


def setup(lab, *settings: str):
    lab_with_modules(lab)
    return [lab.start("arq", f"arq {name}", ready=READY) for name in settings]


def drive(lab, body: str, timeout: float = 60):
    """Run `body` as the coroutine main() in the arq env; return the JSON it emits last."""
    code = PRELUDE + "\nasync def main():\n" + textwrap.indent(textwrap.dedent(body), "    ")
    code += "\nasyncio.run(asyncio.wait_for(main(), %s))\n" % (timeout - 5)
    return lab.json_result("arq", code, timeout=timeout)


def test_redis_pin_and_maintenance_mode(lab):
    got = lab.json_result(
        "arq",
        textwrap.dedent("""
        import json
        from importlib import metadata
        import redis
        meta = metadata.metadata("arq")
        print(json.dumps({
            "version": meta["Version"],
            "redis_reqs": [r for r in metadata.requires("arq") if r.startswith("redis")],
            "redis_py": redis.__version__,
            "maintenance": "maintenance only" in meta.get_payload().lower(),
        }))
    """),
    )
    assert got["version"] == "0.28.0"
    assert any("<6" in req for req in got["redis_reqs"]), got
    assert int(got["redis_py"].split(".")[0]) < 6
    assert got["maintenance"] is True


def test_defer_by_waits_delay_reaches_job(lab):
    setup(lab, "billing_jobs.WorkerSettings")
    got = drive(
        lab,
        """
        redis = await create_pool(REDIS)
        deferred = await redis.enqueue_job("charge_order", "D-1", _defer_by=timedelta(seconds=3))
        delayed = await redis.enqueue_job("charge_order", "D-2", _delay=timedelta(seconds=3))
        statuses = [await deferred.status(), await delayed.status()]
        try:
            await delayed.result(timeout=10)
            error = None
        except TypeError as exc:
            error = str(exc)
        still = await deferred.status()
        result = await deferred.result(timeout=15)
        d_info, x_info = await deferred.result_info(), await delayed.result_info()
        emit(statuses=statuses, error=error, still=still, result=result,
             waited=(d_info.start_time - d_info.enqueue_time).total_seconds(),
             delayed_done_before_deferred_started=x_info.finish_time < d_info.start_time,
             delay_kwargs=sorted(x_info.kwargs), delayed_try=x_info.job_try)
    """,
    )
    assert got["statuses"] == ["deferred", "queued"]
    # _delay is not an enqueue option: it reached charge_order as a keyword and crashed it.
    assert "unexpected keyword argument '_delay'" in got["error"]
    assert got["delay_kwargs"] == ["_delay"] and got["delayed_try"] == 1
    assert got["delayed_done_before_deferred_started"] is True
    # _defer_by: still deferred after the other job finished, then run no earlier than 3 s.
    assert got["still"] == "deferred"
    assert got["result"] == "charged D-1 on try 1"
    assert got["waited"] >= 3.0


def test_duplicate_job_id_refused_while_result_kept(lab):
    setup(lab, "billing_jobs.WorkerSettings")
    got = drive(
        lab,
        """
        redis = await create_pool(REDIS)
        first = await redis.enqueue_job("charge_order", "U-1", _job_id="charge:U-1",
                                        _defer_by=timedelta(seconds=1))
        while_queued = await redis.enqueue_job("charge_order", "U-1", _job_id="charge:U-1")
        result = await first.result(timeout=10)
        after_done = await redis.enqueue_job("charge_order", "U-1", _job_id="charge:U-1")
        ttl_ms = await redis.pttl("arq:result:charge:U-1")
        await redis.delete("arq:result:charge:U-1")  # what expiry does after keep_result
        after_delete = await redis.enqueue_job("charge_order", "U-1", _job_id="charge:U-1")
        emit(first=first is not None, while_queued=while_queued, result=result,
             after_done=after_done, ttl_ms=ttl_ms, after_delete=after_delete is not None,
             second=await after_delete.result(timeout=10))
    """,
    )
    assert got["first"] is True and got["result"] == "charged U-1 on try 1"
    assert got["while_queued"] is None
    assert got["after_done"] is None
    assert 3_500_000 < got["ttl_ms"] <= 3_600_000  # keep_result default 3600 s
    assert got["after_delete"] is True and got["second"] == "charged U-1 on try 1"


def test_job_id_free_after_result_expires(lab):
    setup(lab, "proof_variants.ShortKeep")  # keep_result=1
    got = drive(
        lab,
        """
        redis = await create_pool(REDIS)
        first = await redis.enqueue_job("charge_order", "K-1", _job_id="charge:K-1")
        await first.result(timeout=10)
        refused = await redis.enqueue_job("charge_order", "K-1", _job_id="charge:K-1")
        while await redis.exists("arq:result:charge:K-1"):
            await asyncio.sleep(0.1)
        again = await redis.enqueue_job("charge_order", "K-1", _job_id="charge:K-1")
        emit(refused=refused, again=again is not None, result=await again.result(timeout=10))
    """,
    )
    assert got["refused"] is None
    assert got["again"] is True and got["result"] == "charged K-1 on try 1"


def test_retry_retried_plain_exception_not(lab):
    setup(lab, "billing_jobs.WorkerSettings")
    got = drive(
        lab,
        """
        from billing_jobs import GatewayBusy
        redis = await create_pool(REDIS)
        retried = await redis.enqueue_job("charge_order", "R-1", busy_tries=2)
        plain = await redis.enqueue_job("refund_order", "R-2")
        result = await retried.result(timeout=15)
        try:
            await plain.result(timeout=15)
            plain_error = None
        except GatewayBusy as exc:
            plain_error = repr(exc)
        emit(result=result, retried_try=(await retried.result_info()).job_try,
             plain_error=plain_error, plain_try=(await plain.result_info()).job_try)
    """,
    )
    assert got["result"] == "charged R-1 on try 3" and got["retried_try"] == 3
    assert got["plain_error"] == "GatewayBusy('R-2')" and got["plain_try"] == 1


EXHAUST = """
    redis = await create_pool(REDIS)
    job = await redis.enqueue_job("charge_order", "{order}", busy_tries=99)
    try:
        await job.result(timeout=25)
        error = None
    except Exception as exc:
        error = repr(exc)
    emit(error=error, tries=(await job.result_info()).job_try,
         alerts=[a.decode() for a in await redis.lrange("alerts", 0, -1)])
"""


def test_last_try_alerts_with_real_error(lab):
    (alerting,) = setup(lab, "billing_jobs.WorkerSettings")
    got = drive(lab, EXHAUST.format(order="L-1"))
    # The job's own last try (CHARGE_TRIES = max_tries = 5) alerts and fails with the real error.
    assert got == {
        "error": "GatewayBusy('L-1')",
        "tries": 5,
        "alerts": ["charge L-1 failed for good: GatewayBusy('L-1')"],
    }
    lab.stop(alerting)
    # Contrast: max_tries (2) below CHARGE_TRIES, so every run retries and arq ends the job
    # itself, before any hook: a generic error and no alert.
    lab.start("arq", "arq proof_variants.FuncKeep", ready=READY)
    got = drive(lab, EXHAUST.format(order="L-2"))
    assert got["error"] == "JobExecutionFailed('max 2 retries exceeded')" and got["tries"] == 3
    assert got["alerts"] == ["charge L-1 failed for good: GatewayBusy('L-1')"]


def test_failure_keeps_worker_keep_result(lab):
    setup(lab, "proof_variants.FuncKeep")  # func(..., keep_result=30); worker default 3600 s
    got = drive(
        lab,
        """
        redis = await create_pool(REDIS)
        ids = {"ok": "charge:F-1", "raised": "refund:F-2", "exhausted": "charge:F-3"}
        jobs = [await redis.enqueue_job("charge_order", "F-1", _job_id=ids["ok"]),
                await redis.enqueue_job("refund_order", "F-2", _job_id=ids["raised"]),
                await redis.enqueue_job("charge_order", "F-3", busy_tries=99,
                                        _job_id=ids["exhausted"])]
        for job in jobs:
            while await job.status() != "complete":
                await asyncio.sleep(0.05)
        ttl = {name: await redis.pttl("arq:result:" + job_id) for name, job_id in ids.items()}
        again = await redis.enqueue_job("charge_order", "F-9", _job_id=ids["exhausted"])
        emit(ttl=ttl, again=again)
    """,
    )
    # The function's keep_result covers a success and an error the function raised ...
    assert 0 < got["ttl"]["ok"] <= 30_000 and 0 < got["ttl"]["raised"] <= 30_000
    # ... but finish_failed_job uses the worker's: the id stays blocked for an hour.
    assert 3_500_000 < got["ttl"]["exhausted"] <= 3_600_000
    assert got["again"] is None


def test_job_timeout_fails_without_retry(lab):
    setup(lab, "proof_variants.ShortTimeout")  # job_timeout=1
    got = drive(
        lab,
        """
        redis = await create_pool(REDIS)
        slow = await redis.enqueue_job("send_receipt", "T-1", render_seconds=3)
        quick = await redis.enqueue_job("send_receipt", "T-2")
        try:
            await slow.result(timeout=15)
            error = None
        except asyncio.TimeoutError as exc:
            error = type(exc).__name__
        emit(error=error, tries=(await slow.result_info()).job_try,
             quick=await quick.result(timeout=10),
             receipt=await redis.exists("receipt:T-1"))
    """,
    )
    assert got["error"] == "TimeoutError" and got["tries"] == 1
    assert got["receipt"] == 0  # cut off before its side effect
    assert got["quick"] == "sent"


WAIT_RUNNING = """
    redis = await create_pool(REDIS)
    job = await redis.enqueue_job("send_receipt", "{order}", _job_id="receipt:{order}",
                                  render_seconds={seconds})
    while await job.status() != "in_progress":
        await asyncio.sleep(0.05)
    emit(ttl_ms=await redis.pttl("arq:in-progress:receipt:{order}"))
"""

FINISH = """
    redis = await create_pool(REDIS)
    job = Job("receipt:{order}", redis)
    status = await job.status()
    result = await job.result(timeout={timeout})
    emit(status=status, result=result, tries=(await job.result_info()).job_try,
         receipt=(await redis.get("receipt:{order}") or b"").decode())
"""


def test_sigterm_rerun(lab):
    (first,) = setup(lab, "proof_variants.ShortDrain")  # job_completion_wait=1 < the job's 4 s
    drive(lab, WAIT_RUNNING.format(order="S-1", seconds=4))
    lab.stop(first)  # SIGTERM: after the wait arq cancels the running job and leaves it queued
    assert "cancelled, will be run again" in lab.output(first)
    status = drive(lab, 'emit(status=await Job("receipt:S-1", await create_pool(REDIS)).status())')
    assert status == {"status": "queued"}
    lab.start("arq", "arq billing_jobs.WorkerSettings", ready=READY)
    got = drive(lab, FINISH.format(order="S-1", timeout=15))
    assert got["result"] == "sent" and got["tries"] == 2
    assert got["receipt"] == "receipt:S-1"


def test_job_completion_wait_finishes_running_job(lab):
    (worker,) = setup(lab, "billing_jobs.WorkerSettings")  # job_completion_wait=20
    drive(lab, WAIT_RUNNING.format(order="W-1", seconds=3))
    sigterm_at = time.time()
    lab.stop(worker)  # SIGTERM mid-job; returns once the worker has exited
    got = drive(
        lab,
        """
        job = Job("receipt:W-1", await create_pool(REDIS))
        status, info = await job.status(), await job.result_info()
        emit(status=status, **({} if info is None else dict(
            result=info.result, tries=info.job_try,
            started=info.start_time.timestamp(), finished=info.finish_time.timestamp())))
        """,
    )
    assert got["status"] == "complete", got  # nothing left queued to re-run
    # Running when the signal came, finished on its first try before the worker exited.
    assert got["started"] < sigterm_at < got["finished"]
    assert got["result"] == "sent" and got["tries"] == 1


def test_sigkill_rerun_after_in_progress_expiry(lab):
    (first,) = setup(lab, "proof_variants.ShortTimeout")  # in-progress key: 1 + 10 s
    running = drive(lab, WAIT_RUNNING.format(order="K-9", seconds=0.8))
    assert 0 < running["ttl_ms"] <= 11_000
    lab.kill(first)  # SIGKILL: no chance to put the job back
    assert "cancelled" not in lab.output(first)
    lab.start("arq", "arq proof_variants.ShortTimeout", ready=READY)
    got = drive(lab, FINISH.format(order="K-9", timeout=30))
    assert got["status"] == "in_progress"  # still blocked by the dead worker's key
    assert got["result"] == "sent" and got["tries"] == 2


def test_on_startup_fills_ctx_startup_ignored(lab):
    (good,) = setup(lab, "billing_jobs.WorkerSettings")
    body = """
        redis = await create_pool(REDIS)
        job = await redis.enqueue_job("send_receipt", "{order}")
        try:
            emit(result=await job.result(timeout=10))
        except Exception as exc:
            emit(error=repr(exc))
    """
    # send_receipt uses ctx["store"], which only the on_startup hook creates.
    assert drive(lab, body.format(order="H-1")) == {"result": "sent"}
    lab.stop(good)
    lab.start("arq", "arq proof_variants.TypoHooks", ready=READY)
    assert drive(lab, body.format(order="H-2")) == {"error": "KeyError('store')"}


def test_serializer_mismatch_fails(lab):
    (pickle_worker, _) = setup(lab, "billing_jobs.WorkerSettings", "report_jobs.WorkerSettings")
    got = drive(
        lab,
        """
        import json as jsonlib
        from report_jobs import QUEUE, to_json
        codec = dict(job_serializer=to_json, job_deserializer=jsonlib.loads)
        json_pool = await create_pool(REDIS, **codec)  # JSON client, default (pickle) queue
        wrong = await json_pool.enqueue_job("charge_order", "Z-1")
        pickled = Job(wrong.job_id, await create_pool(REDIS))
        while await pickled.status() != "complete":
            await asyncio.sleep(0.05)
        info = await pickled.result_info()
        reports = await create_pool(REDIS, default_queue_name=QUEUE, **codec)
        ok = await reports.enqueue_job("total", [5, 7])
        bad = await reports.enqueue_job("total", "abc")
        try:
            await bad.result(timeout=10)
            bad_error = None
        except Exception as exc:
            bad_error = [type(exc).__name__, str(exc)]
        emit(success=info.success, result=repr(info.result), ok=await ok.result(timeout=10),
             bad_error=bad_error)
    """,
    )
    assert got["success"] is False
    assert "unable to deserialize job" in got["result"]
    assert "deserializing job" in lab.output(pickle_worker)
    assert got["ok"] == 12  # the same codec on both sides works
    # JSON cannot carry the exception: the client gets SerializationError instead.
    assert got["bad_error"] == ["SerializationError", "unable to serialize result"]


def test_abort_needs_allow_abort_jobs(lab):
    body = """
        from job_control import cancel_waiting
        redis = await create_pool(REDIS)
        running = await redis.enqueue_job("send_receipt", "{order}-run", render_seconds={seconds})
        while await running.status() != "in_progress":
            await asyncio.sleep(0.05)
        waiting = await redis.enqueue_job("send_receipt", "{order}-later", _defer_by=60)
        aborted = await running.abort(timeout=30)
        out = {{"running": [aborted, repr((await running.result_info()).result)],
               "cancelled": await cancel_waiting(redis, waiting.job_id),
               "cancel_running": await cancel_waiting(redis, running.job_id)}}
        out["receipts"] = await redis.exists("receipt:{order}-run", "receipt:{order}-later")
        emit(**out)
    """
    (allowed,) = setup(lab, "billing_jobs.WorkerSettings")
    got = drive(lab, body.format(order="X1", seconds=30))
    assert got == {
        "running": [True, "CancelledError()"],
        "cancelled": True,
        "cancel_running": False,  # started (and ended): not the waiting job's path
        "receipts": 0,
    }
    lab.stop(allowed)
    lab.start("arq", "arq proof_variants.NoAbort", ready=READY)
    no_abort = """
        redis = await create_pool(REDIS)
        running = await redis.enqueue_job("send_receipt", "X2-run", render_seconds=1)
        while await running.status() != "in_progress":
            await asyncio.sleep(0.05)
        deferred = await redis.enqueue_job("send_receipt", "X2-later", _defer_by=60)
        out = {}
        for name, job in (("running", running), ("deferred", deferred)):
            aborted = await job.abort(timeout=30)
            out[name] = [aborted, repr((await job.result_info()).result)]
        out["receipts"] = await redis.exists("receipt:X2-run", "receipt:X2-later")
        emit(**out)
    """
    got = drive(lab, no_abort)
    # Not cancelled: the running job finishes, and abort() pulled the deferred one forward.
    assert got == {"running": [False, "'sent'"], "deferred": [False, "'sent'"], "receipts": 2}


# Waiting jobs cancelled while a worker polls all the time: abort() moves each job to "run
# now" before it marks it aborted, so the worker sends some; cancel_waiting sends none.
RACE = """
    from job_control import cancel_waiting
    redis = await create_pool(REDIS)
    jobs = [await redis.enqueue_job("send_receipt", f"{how}-{{i}}", render_seconds=0,
                                    _defer_by=60) for i in range(120)]
    if "{how}" == "abort":
        await asyncio.gather(*(job.abort(timeout=20) for job in jobs), return_exceptions=True)
    else:
        await asyncio.gather(*(cancel_waiting(redis, job.job_id) for job in jobs))
    await asyncio.sleep(1)  # a job the worker took would be sent by now
    emit(sent=await redis.exists(*[f"receipt:{how}-{{i}}" for i in range(120)]))
"""


@pytest.mark.parametrize("how", ["cancel_waiting", "abort"])
def test_cancelling_waiting_jobs_under_a_polling_worker(lab, how):
    setup(lab, "proof_variants.HotPoll")
    sent = drive(lab, RACE.format(how=how))["sent"]
    if how == "cancel_waiting":
        assert sent == 0
    else:
        assert sent > 0, sent  # the naive path: documents the race the rule file warns about


HEALTH_WRITTEN = """
    redis = await create_pool(REDIS)
    while not await redis.exists("arq:queue:health-check"):  # first written after on_startup
        await asyncio.sleep(0.05)
    emit(ok=True)
"""

CHECK = """
    import subprocess, sys
    proc = subprocess.run([sys.executable, "-m", "arq", "billing_jobs.WorkerSettings", "--check"],
                          capture_output=True, text=True, timeout=20)
    emit(code=proc.returncode)
"""


def test_check_passes_for_killed_worker(lab):
    assert drive(lab_with_modules(lab), CHECK) == {"code": 1}  # no worker yet
    stopped = lab.start("arq", "arq billing_jobs.WorkerSettings", ready=READY)
    drive(lab, HEALTH_WRITTEN)
    assert drive(lab, CHECK) == {"code": 0}
    lab.stop(stopped)  # a clean shutdown deletes the health key
    assert drive(lab, CHECK) == {"code": 1}
    killed = lab.start("arq", "arq billing_jobs.WorkerSettings", ready=READY)
    drive(lab, HEALTH_WRITTEN)
    lab.kill(killed)
    # The key lives health_check_interval + 1 s (default 3601 s): a dead worker still passes.
    assert drive(lab, CHECK) == {"code": 0}


def test_cron_defaults(lab):
    lab.load_markdown(MARKDOWN)
    got = lab.json_result(
        "arq",
        textwrap.dedent("""
        import json
        from billing_jobs import WorkerSettings
        (job,) = WorkerSettings.cron_jobs
        print(json.dumps({"name": job.name, "unique": job.unique, "max_tries": job.max_tries,
                          "keep_result_s": job.keep_result_s, "run_at_startup": job.run_at_startup,
                          "second": job.second, "microsecond": job.microsecond}))
    """),
    )
    assert got == {
        "name": "cron:purge_carts",
        "unique": True,
        "max_tries": 1,
        "keep_result_s": 0,
        "run_at_startup": False,
        "second": 0,
        "microsecond": 123456,
    }


# Driver prelude for the FastAPI app in the markdown (shop_api.py), run through TestClient.
API_PRELUDE = """
import asyncio, json, time
from arq import create_pool
from fastapi.testclient import TestClient
from billing_jobs import REDIS
from shop_api import app

def emit(**data):
    print(json.dumps(data, default=str))

def redis_call(method, *args, **kwargs):
    async def call():
        pool = await create_pool(REDIS)
        try:
            return await getattr(pool, method)(*args, **kwargs)
        finally:
            await pool.aclose()
    return asyncio.run(call())

def poll(client, job_id, until, limit=200):
    for _ in range(limit):  # bounded: 20 s
        body = client.get(f"/jobs/{job_id}").json()
        if body["status"] in until:
            return body
        time.sleep(0.1)
    raise TimeoutError(body)
"""


def api(lab, body: str):
    return lab.json_result("arq", API_PRELUDE + textwrap.dedent(body), timeout=60)


def test_user_retry_after_failure(lab):
    setup(lab, "billing_jobs.WorkerSettings")
    got = api(
        lab,
        """
        with TestClient(app) as client:
            redis_call("sadd", "cards:declined", "P-1")
            first = client.post("/orders/P-1/payment").json()
            failed = poll(client, first["job_id"], ("complete", "failed"))
            redis_call("srem", "cards:declined", "P-1")  # the customer fixes the card
            # The old pattern: enqueue the same id again. The kept failure refuses it.
            plain = redis_call("enqueue_job", "capture_payment", "P-1", _job_id=first["job_id"])
            retry = client.post("/orders/P-1/payment").json()
            done = poll(client, first["job_id"], ("complete", "failed"))
            double_click = client.post("/orders/P-1/payment").json()
            emit(first=first, failed=failed, plain=plain is not None, retry=retry, done=done,
                 double_click=double_click, captures=int(redis_call("get", "captures:P-1") or 0))
        """,
    )
    assert got["first"]["duplicate"] is False
    assert got["failed"]["status"] == "failed" and got["failed"]["error"] == "CardDeclined('P-1')"
    assert got["plain"] is False  # what users saw before: the retry silently did nothing
    assert got["retry"] == {"job_id": "payment:P-1", "duplicate": False}
    assert got["done"]["status"] == "complete" and got["done"]["result"] == "paid"
    assert got["double_click"]["duplicate"] is True  # a success still blocks the id
    assert got["captures"] == 1


def test_status_endpoint_tells_unknown_from_queued(lab):
    setup(lab, "billing_jobs.WorkerSettings")
    got = api(
        lab,
        """
        with TestClient(app) as client:
            unknown = client.get("/jobs/payment:never-ordered")
            later = redis_call("enqueue_job", "send_receipt", "Q-1", _defer_by=60).job_id
            slow = redis_call("enqueue_job", "send_receipt", "Q-2", render_seconds=3).job_id
            running = poll(client, slow, ("in_progress", "complete"))
            failing = redis_call("enqueue_job", "refund_order", "Q-3").job_id
            emit(unknown=[unknown.status_code, unknown.json()],
                 deferred=client.get(f"/jobs/{later}").json(), running=running,
                 failed=poll(client, failing, ("complete", "failed")),
                 done=poll(client, slow, ("complete", "failed")))
        """,
    )
    assert got["unknown"][0] == 404, got["unknown"]
    assert got["deferred"]["status"] == "deferred" and got["deferred"]["function"] == "send_receipt"
    assert got["running"]["status"] == "in_progress"
    assert got["failed"]["status"] == "failed" and got["failed"]["error"] == "GatewayBusy('Q-3')"
    assert got["done"]["status"] == "complete" and got["done"]["result"] == "sent"


def test_status_endpoint_job_finishing_between_reads(lab):
    # Fault: the job ends between the two reads inside `Job.info()` (result, then job). The
    # pool's `get` of the job key is held until a real worker has finished the job, which
    # deletes that key: the rule file's endpoint answers `complete`, not 404.
    setup(lab, "billing_jobs.WorkerSettings")
    got = api(
        lab,
        """
        with TestClient(app) as client:
            pool, real_get = app.state.arq, app.state.arq.get

            async def get_once_the_job_ended(key, *args, **kwargs):
                if key.startswith("arq:job:"):
                    result_key = "arq:result:" + key.removeprefix("arq:job:")
                    for _ in range(200):  # bounded: 10 s
                        if await real_get(result_key):
                            break
                        await asyncio.sleep(0.05)
                return await real_get(key, *args, **kwargs)

            pool.get = get_once_the_job_ended
            job_id = redis_call("enqueue_job", "send_receipt", "S-1", render_seconds=0.5).job_id
            reply = client.get(f"/jobs/{job_id}")
            emit(code=reply.status_code, body=reply.json())
        """,
    )
    assert got["code"] == 200, got
    assert got["body"]["status"] == "complete" and got["body"]["result"] == "sent"


EXHAUST_ONE = """
    redis = await create_pool(REDIS)
    job = await redis.enqueue_job("charge_order", "{order}", busy_tries=99)
    for _ in range(100):  # bounded: 10 s; tries 1 and 2 retry, the 3rd pickup ends it
        if not await redis.exists("arq:job:" + job.job_id):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # let the worker record the result, or fall over
    emit(status=await job.status(), ttl_ms=await redis.pttl("arq:result:" + job.job_id))
"""


def wait_exit(proc, seconds: float = 10) -> int | None:
    """The worker's exit code if it exits within `seconds`, else None (still running)."""
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


def test_keep_result_forever_kills_worker_on_max_tries(lab):
    (forever,) = setup(lab, "proof_variants.KeepForever")
    got = drive(lab, EXHAUST_ONE.format(order="KF-1"))
    # finish_failed_job sends SET ... PX 0, Redis refuses it, and the error ends the worker.
    assert wait_exit(forever) not in (None, 0)
    assert got["status"] == "not_found"  # and the failure was not recorded
    # Contrast: a long keep_result records the failure and keeps the worker.
    year = lab.start("arq", "arq proof_variants.KeepYear", ready=READY)
    got = drive(lab, EXHAUST_ONE.format(order="KF-2"))
    assert got["status"] == "complete" and got["ttl_ms"] > 3_600_000
    assert wait_exit(year, seconds=1) is None
