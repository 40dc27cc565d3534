"""Proofs for references/temporal-activities.md against a real Temporal dev server.

The drivers load the activity and workflow modules the rule file shows, run a worker in the
driver process (temporal env) and read attempts, results and failures from the server.
"""

from __future__ import annotations

import textwrap

import pytest
from temporal_lab import drive, env_bin_path

RULE_FILE = "references/temporal-activities.md"
pytestmark = pytest.mark.usefixtures("rule_file_modules")  # RULE_FILE's modules in lab.workdir

WORKER = '''
from payment_activities import CHARGES, build_report, charge_card, export_rows
from payment_workflows import ExportWorkflow, PaymentWorkflow, ReportWorkflow

from demo_worker import SYNC_THREADS, payment_worker as rule_file_worker

def payment_worker(client, q, *workflows, **options):
    """The rule file's worker (executor, slots, grace period) with the payment workflows."""
    return rule_file_worker(client, q, *(workflows or [PaymentWorkflow, ExportWorkflow, ReportWorkflow]), **options)

async def attempts(handle):
    """Attempt number of each activity's final start (the server records only the last one)."""
    return [e.attempt for e in await event_names(handle, "activity_task_started_event_attributes")]
'''


def pay(lab, body: str, **kw):
    return drive(lab, WORKER + textwrap.dedent(body), **kw)


def test_missing_timeout_rejected(lab):
    result = pay(
        lab,
        """
        from untimed_workflow import UntimedPaymentWorkflow

        async def main():
            client, q = await connect(), queue()
            async with payment_worker(client, q, UntimedPaymentWorkflow, PaymentWorkflow):
                untimed = await client.start_workflow(UntimedPaymentWorkflow.run, "o-1", id=f"u-{q}", task_queue=q)
                hung = await hung_run(untimed)
                timed = await client.execute_workflow(PaymentWorkflow.run, args=["o-2", 10], id=f"t-{q}", task_queue=q)
                scheduled = await event_names(untimed, "activity_task_scheduled_event_attributes")
                return {"untimed": hung, "untimed_scheduled": len(scheduled), "timed": timed}
    """,
    )
    assert result["untimed"]["status"] == "RUNNING"
    assert result["untimed"]["failure_type"] == "ValueError"
    assert (
        "start_to_close_timeout or schedule_to_close_timeout"
        in result["untimed"]["failure_message"]
    )
    assert result["untimed_scheduled"] == 0  # the activity was never scheduled
    assert result["timed"] == "ch-1 on attempt 3"


def test_heartbeat_cancel(lab):
    result = pay(
        lab,
        """
        async def main():
            client, q = await connect(), queue()
            out = {}
            async with payment_worker(client, q):
                for label, seconds in (("with_timeout", 2), ("without_timeout", None)):
                    out[label] = await client.execute_workflow(ReportWorkflow.run, seconds, id=f"{label}-{q}",
                                                               task_queue=q)
            # Proof-only override: the same call with the no-timeout throttle cut from 30 s to 2 s.
            q2 = queue()
            async with payment_worker(client, q2, default_heartbeat_throttle_interval=timedelta(seconds=2)):
                out["without_timeout_2s_throttle"] = await client.execute_workflow(
                    ReportWorkflow.run, None, id=f"throttled-{q2}", task_queue=q2)
            return out
    """,
    )
    assert result["with_timeout"] == "cancelled: Cancelled"
    # No heartbeat_timeout: heartbeats are throttled to 30 s, so the cancel does not reach the
    # 3-second activity, which finishes all its steps.
    assert result["without_timeout"] == "report done after 30 steps"
    # The cancel was not lost, only waiting for the next throttled heartbeat: with a 2 s throttle
    # it arrives before the activity ends.
    assert result["without_timeout_2s_throttle"] == "cancelled: Cancelled"


def test_heartbeat_details_resume(lab):
    result = pay(
        lab,
        """
        async def main():
            client, q = await connect(), queue()
            async with payment_worker(client, q):
                handle = await client.start_workflow(ExportWorkflow.run, 20, id=f"e-{q}", task_queue=q)
                return {"result": await handle.result(), "attempts": await attempts(handle)}
    """,
    )
    # Attempt 1 failed at row 10; attempt 2 started from the last heartbeat, not from row 0.
    assert result == {"result": "attempt 2 resumed at row 10", "attempts": [2]}


def test_retry_then_success(lab):
    result = pay(
        lab,
        """
        async def main():
            client, q = await connect(), queue()
            async with payment_worker(client, q):
                handle = await client.start_workflow(PaymentWorkflow.run, args=["o-1", 50], id=f"p-{q}", task_queue=q)
                return {"result": await handle.result(), "attempts": await attempts(handle),
                        "charges": list(CHARGES.values())}
    """,
    )
    assert result["result"] == "ch-1 on attempt 3"
    assert result["attempts"] == [3]
    assert result["charges"] == ["ch-1"]  # three attempts, one charge: the key held across retries


RUN_SCOPED_KEY = 'key = f"{info.workflow_run_id}/{info.activity_id}"'


@pytest.mark.parametrize("key", ["business", "run_scoped"])
def test_reset_charges_once(lab, key):
    """`temporal workflow reset` starts a new run that calls charge_card again from activity id 1."""
    if key == "run_scoped":  # the naive key: a new run id after the reset, so a new charge
        module = lab.workdir / "payment_activities.py"
        text = module.read_text()
        line = 'key = f"{info.workflow_id}/charge"'
        assert line in text
        module.write_text(text.replace(line, RUN_SCOPED_KEY))
    result = pay(
        lab,
        """
        from temporalio.api.common.v1 import WorkflowExecution
        from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest

        async def main():
            client, q = await connect(), queue()
            async with payment_worker(client, q):
                handle = await client.start_workflow(PaymentWorkflow.run, args=["o-1", 50], id=f"order-{q}",
                                                     task_queue=q)
                before = await handle.result()
                # Like `temporal workflow reset --type FirstWorkflowTask`: rerun from the first task.
                first_task = [e.event_id async for e in handle.fetch_history_events()
                              if e.HasField("workflow_task_completed_event_attributes")][0]
                reset = await client.workflow_service.reset_workflow_execution(ResetWorkflowExecutionRequest(
                    namespace=client.namespace, reason="proof: heal a bad deploy",
                    workflow_execution=WorkflowExecution(workflow_id=handle.id, run_id=handle.result_run_id),
                    workflow_task_finish_event_id=first_task, request_id=str(uuid.uuid4())))
                rerun = client.get_workflow_handle(handle.id, run_id=reset.run_id)
                return {"before": before, "after_reset": await rerun.result(),
                        "charge_runs": len(await event_names(rerun, "activity_task_scheduled_event_attributes")),
                        "charges": sorted(CHARGES.values())}
    """,
    )
    assert result["before"] == "ch-1 on attempt 3"
    assert result["charge_runs"] == 1  # the reset run called charge_card again
    if key == "business":
        assert result["charges"] == ["ch-1"], result  # one charge for the order
        assert result["after_reset"] == "ch-1 on attempt 3"
    else:
        assert result["charges"] == ["ch-1", "ch-2"], result  # charged twice


def test_non_retryable_once(lab):
    result = pay(
        lab,
        """
        async def main():
            client, q = await connect(), queue()
            out = {}
            async with payment_worker(client, q):
                for amount in (0, 5000):
                    handle = await client.start_workflow(PaymentWorkflow.run, args=["o-1", amount], id=f"p{amount}-{q}",
                                                         task_queue=q)
                    try:
                        await handle.result()
                        failure = None
                    except WorkflowFailureError as err:
                        cause = err.cause.cause  # ActivityError -> ApplicationError
                        failure = {"type": cause.type, "non_retryable": cause.non_retryable}
                    out[str(amount)] = {"failure": failure, "attempts": await attempts(handle)}
            return out
    """,
    )
    assert result["0"] == {
        "failure": {"type": "InvalidAmount", "non_retryable": True},
        "attempts": [1],
    }
    # Retryable by itself, stopped by RetryPolicy(non_retryable_error_types=["CardDeclined"]).
    assert result["5000"] == {
        "failure": {"type": "CardDeclined", "non_retryable": False},
        "attempts": [1],
    }


def test_sync_activity_needs_executor(lab):
    result = drive(
        lab,
        """
        from concurrent.futures import ThreadPoolExecutor
        from payment_activities import resize_image
        from temporalio.testing import ActivityEnvironment

        async def main():
            client, out = await connect(), {}
            try:
                Worker(client, task_queue=queue(), activities=[resize_image])
                out["without"] = "accepted"
            except ValueError as err:
                out["without"] = str(err)
            with ThreadPoolExecutor(max_workers=2) as pool:
                async with Worker(client, task_queue=queue(), activities=[resize_image], activity_executor=pool):
                    out["with"] = "running"
            out["result"] = ActivityEnvironment().run(resize_image, "cat.png")
            return out
    """,
    )
    assert (
        result["without"]
        == "Activity resize_image is not async so an activity_executor must be present"
    )
    assert result["with"] == "running"
    assert result["result"] == "cat.png resized"


def test_sync_activities_beyond_threads_finish(lab):
    # Five times as many blocking 0.3 s activities as threads, each allowed 1 s per attempt.
    result = pay(
        lab,
        """
        from payment_activities import resize_image
        from temporalio import workflow
        from temporalio.common import RetryPolicy

        @workflow.defn(sandboxed=False)
        class ThumbnailWorkflow:
            @workflow.run
            async def run(self, paths: list[str]) -> list[str]:
                calls = [workflow.execute_activity(resize_image, path, start_to_close_timeout=timedelta(seconds=1),
                                                   retry_policy=RetryPolicy(maximum_attempts=1))
                         for path in paths]
                return [str(r.cause) if isinstance(r, BaseException) else r
                        for r in await asyncio.gather(*calls, return_exceptions=True)]

        async def main():
            client, q = await connect(), queue()
            paths = [f"img-{n}.png" for n in range(5 * SYNC_THREADS)]
            async with payment_worker(client, q, ThumbnailWorkflow):
                return await client.execute_workflow(ThumbnailWorkflow.run, paths, id=f"t-{q}", task_queue=q)
    """,
    )
    failed = [outcome for outcome in result if not outcome.endswith("resized")]
    assert failed == []
    assert len(result) == 40


def test_cancel_kills_subprocess(lab):
    result = pay(
        lab,
        """
        from media_activities import TranscodeWorkflow, transcode

        def alive(pid):
            try:
                os.kill(pid, 0)
                return True
            except ProcessLookupError:
                return False

        async def main():
            client, q = await connect(), queue()
            async with payment_worker(client, q, TranscodeWorkflow, activities=[transcode]):
                movie = await client.start_workflow(TranscodeWorkflow.run, args=["movie.mp4", 60], id=f"m-{q}",
                                                    task_queue=q)
                for _ in range(100):  # bounded: until the child's pid is on the server
                    pending = (await movie.describe()).raw_description.pending_activities
                    if pending and pending[0].heartbeat_details.payloads:
                        break
                    await asyncio.sleep(0.1)
                pid = int(pending[0].heartbeat_details.payloads[0].data)
                alive_before = alive(pid)
                await movie.cancel()
                try:
                    await movie.result()
                    outcome = "completed"
                except WorkflowFailureError as err:
                    outcome = type(err.cause).__name__
                alive_after = alive(pid)
                if alive_after:  # an orphan: clean up after recording it
                    os.kill(pid, 9)
                return {"alive_before": alive_before, "outcome": outcome, "alive_after": alive_after}
    """,
    )
    assert result["alive_before"] is True
    assert result["outcome"] == "CancelledError"
    assert result["alive_after"] is False  # the 60 s transcoder did not outlive its activity


def test_graceful_shutdown(lab):
    result = pay(
        lab,
        """
        from temporalio import activity

        @activity.defn(name="export_rows")
        async def export_rows_unaware(total: int) -> str:
            # rule 6's export without the is_worker_shutdown() check: only the worker's cancel
            # can end it early. (The rule file's own export, given no grace, races the cancel
            # to its next flag check, so which message ends it would be chance.)
            info = activity.info()
            for row in range(info.heartbeat_details[0] if info.heartbeat_details else 0, total):
                await asyncio.sleep(0.05)
                activity.heartbeat(row + 1)
            return "the unaware export finished"

        async def stop_mid_export(client, activities=None, **options):
            q = queue()
            first = payment_worker(client, q, ExportWorkflow, activities=activities, **options)
            running = asyncio.create_task(first.run())
            handle = await client.start_workflow(ExportWorkflow.run, 80, id=f"e-{q}", task_queue=q)
            # 80 rows of 50 ms; attempt 1 would crash at row 40, so stop it early: once (bounded
            # wait) the first heartbeat is on the server
            for _ in range(100):
                desc = await handle.describe()
                pending = desc.raw_description.pending_activities
                if pending and pending[0].heartbeat_details.payloads:
                    break
                await asyncio.sleep(0.1)
            await first.shutdown()
            await running
            async with payment_worker(client, q, ExportWorkflow):  # the next worker picks up the retry
                result = await handle.result()
            started = await event_names(handle, "activity_task_started_event_attributes")
            return {"result": result, "first_attempt_ended": started[-1].last_failure.message}

        async def main():
            client = await connect()
            return {"graceful": await stop_mid_export(client, graceful_shutdown_timeout=timedelta(seconds=5)),
                    "default": await stop_mid_export(client, activities=[export_rows_unaware],
                                                     graceful_shutdown_timeout=timedelta(0))}
    """,
    )
    graceful, default = result["graceful"], result["default"]
    # With a grace period the activity saw is_worker_shutdown() and stopped itself ...
    assert graceful["first_attempt_ended"] == "worker stopping"
    # ... with the default (0) the worker cancelled it at once (an activity that does not stop
    # itself: see export_rows_unaware).
    assert (
        default["first_attempt_ended"]
        == "Worker is shutting down and this activity did not complete in time"
    )
    for run in (graceful, default):  # either way the retry resumed from the last heartbeat
        resumed_at = int(run["result"].rsplit(" ", 1)[1])
        assert run["result"].startswith("attempt 2 resumed at row ") and 0 < resumed_at < 40


def test_activity_environment_and_time_skipping(lab):
    result = pay(
        lab,
        """
        import shutil
        from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

        async def main():
            activity_env, beats = ActivityEnvironment(), []
            activity_env.on_heartbeat = lambda *details: beats.append(details[0])
            out = {"report": await activity_env.run(build_report, 3), "beats": beats}
            server = shutil.which("temporal-test-server")
            async with await WorkflowEnvironment.start_time_skipping(test_server_existing_path=server) as env:
                q = queue()
                async with payment_worker(env.client, q):
                    out["payment"] = await env.client.execute_workflow(PaymentWorkflow.run, args=["o-1", 50],
                                                                       id=q, task_queue=q)
                before = await env.get_current_time()
                await env.sleep(timedelta(hours=6))
                out["skipped_hours"] = (await env.get_current_time() - before).total_seconds() / 3600
            async with await WorkflowEnvironment.start_local(dev_server_existing_path=shutil.which("temporal")) as env:
                q = queue()
                async with payment_worker(env.client, q):
                    out["local"] = await env.client.execute_workflow(PaymentWorkflow.run, args=["o-2", 50],
                                                                     id=q, task_queue=q)
            return out
    """,
        extra_env=env_bin_path(lab),
    )
    assert result["report"] == "report done after 3 steps"
    assert result["beats"] == [0, 1, 2]
    assert result["payment"].endswith("on attempt 3")
    assert result["skipped_hours"] >= 6  # six hours of workflow time, no real waiting
    assert result["local"].endswith("on attempt 3")


# A worker process for ExportWorkflow. It prints each heartbeat the activity *calls* (the real
# heartbeat still runs), so the proof can compare that with what the server *received*.
EXPORT_WORKER = """
import asyncio, os, sys
from temporalio import activity

send_heartbeat = activity.heartbeat

def traced_heartbeat(*details):
    print("heartbeat called", *details, flush=True)
    send_heartbeat(*details)

activity.heartbeat = traced_heartbeat

from temporalio.client import Client
from demo_worker import payment_worker
from payment_workflows import ExportWorkflow

async def main():
    client = await Client.connect(os.environ["TEMPORAL_ADDRESS"])
    async with payment_worker(client, sys.argv[1], ExportWorkflow):
        print("worker ready", flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


def test_crash_resumes_from_last_sent_heartbeat(lab):
    (lab.workdir / "export_worker.py").write_text(EXPORT_WORKER)
    q = f"export-{lab.workdir.name}"
    worker = lab.start(
        "temporal", f"python export_worker.py {q}", ready="worker ready", temporal=True
    )
    # 60 rows of 50 ms, heartbeat_timeout 2 s (throttle 1.6 s). Wait until the server holds the
    # first heartbeat and the worker has called several more, then SIGKILL the worker.
    before = drive(
        lab,
        f"""
        from payment_workflows import ExportWorkflow

        async def main():
            client = await connect()
            handle = await client.start_workflow(ExportWorkflow.run, 60, id="export-{q}", task_queue="{q}")
            for _ in range(100):  # bounded: 10 s
                pending = (await handle.describe()).raw_description.pending_activities
                if pending and pending[0].heartbeat_details.payloads:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            pending = (await handle.describe()).raw_description.pending_activities
            return {{"server_details": int(pending[0].heartbeat_details.payloads[0].data)}}
    """,
    )
    lab.kill(worker)
    called = [
        int(line.split()[-1])
        for line in lab.output(worker).splitlines()
        if line.startswith("heartbeat called")
    ]
    after = drive(
        lab,
        f"""
        from demo_worker import payment_worker
        from payment_workflows import ExportWorkflow
        from temporalio.api.enums.v1 import TimeoutType

        async def main():
            client = await connect()
            handle = client.get_workflow_handle("export-{q}")
            async with payment_worker(client, "{q}", ExportWorkflow):
                async with asyncio.timeout(30):
                    result = await handle.result()
            started = await event_names(handle, "activity_task_started_event_attributes")
            timeout = started[-1].last_failure.timeout_failure_info.timeout_type
            return {{"result": result, "first_attempt_ended_by": TimeoutType.Name(timeout)}}
    """,
    )
    resumed_at = int(after["result"].rsplit(" ", 1)[1])
    assert after["result"].startswith("attempt 2 resumed at row ")
    assert resumed_at == before["server_details"]  # the last heartbeat the server received ...
    assert max(called) > resumed_at, called  # ... not the last one the crashed attempt called
    # The crash was noticed by heartbeat_timeout (2 s), not start_to_close_timeout (30 s).
    assert after["first_attempt_ended_by"] == "TIMEOUT_TYPE_HEARTBEAT"


def test_payload_over_limit(lab):
    result = pay(
        lab,
        """
        from invoice_pdf import InvoicePdfWorkflow, blob_path, invoice_pdf, store_invoice_pdf
        from temporalio.service import RPCError

        async def main():
            client, q, out = await connect(), queue(), {}
            pdf = InvoicePdfWorkflow.run
            async with payment_worker(client, q, InvoicePdfWorkflow, activities=[invoice_pdf, store_invoice_pdf]):
                key = await client.execute_workflow(pdf, args=["o-1", False], id=f"k-{q}", task_queue=q)
                out["by_key"] = {"key": key, "bytes": blob_path(key).stat().st_size}
                inline = await client.start_workflow(pdf, args=["o-2", True], id=f"i-{q}", task_queue=q)
                for _ in range(100):  # bounded: until the oversized result has failed twice
                    desc = await inline.describe()
                    pending = desc.raw_description.pending_activities
                    if pending and pending[0].attempt >= 3:
                        break
                    await asyncio.sleep(0.2)
                out["inline"] = {"status": desc.status.name, "attempt": pending[0].attempt,
                                 "failure": pending[0].last_failure.message}
                await inline.terminate("proof done")
                try:
                    await client.start_workflow(InvoicePdfWorkflow.run, args=["x" * 3_000_000, True], id=f"a-{q}",
                                                task_queue=q)
                    out["big_start"] = "started"
                except RPCError as err:
                    out["big_start"] = type(err).__name__
            return out
    """,
        extra_env={"BLOB_DIR": "."},
    )
    assert result["by_key"] == {"key": "invoice-o-1.pdf", "bytes": result["by_key"]["bytes"]}
    assert result["by_key"]["bytes"] > 2 * 1024 * 1024  # the data is larger than any payload may be
    inline = result["inline"]
    assert inline["status"] == "RUNNING" and inline["attempt"] >= 3  # retried, never delivered
    assert inline["failure"].startswith("[TMPRL1103]")
    assert result["big_start"] == "RPCError"  # refused at the client call, nothing started
