"""Proofs for references/temporal-workflows.md against a real Temporal dev server.

Each test loads the workflow modules the rule file shows, runs a worker in the driver process
(temporal env) and reads the outcome from the server: run status, workflow-task failures and
history events. Runs that are meant to hang are observed until their task has been retried,
then terminated, so every wait is bounded.
"""

from __future__ import annotations

import textwrap

import pytest
from temporal_lab import drive, env_bin_path

RULE_FILE = "references/temporal-workflows.md"
pytestmark = pytest.mark.usefixtures("rule_file_modules")  # RULE_FILE's modules in lab.workdir


def test_sandbox_blocks_datetime_now(lab):
    result = drive(
        lab,
        """
        from clock_mistakes import StampWorkflow
        from order_workflows import OrderWorkflow
        from shop_activities import charge_card, release_stock, reserve_stock

        async def main():
            client, q = await connect(), queue()
            async with Worker(client, task_queue=q, workflows=[StampWorkflow, OrderWorkflow],
                              activities=[charge_card, release_stock, reserve_stock]):
                stamp = await client.start_workflow(StampWorkflow.run, id=f"stamp-{q}", task_queue=q)
                hung = await hung_run(stamp)
                # workflow.now() in OrderWorkflow is the allowed clock
                done = await client.execute_workflow(OrderWorkflow.run, args=["o-1", 10], id=f"o-{q}",
                                                     task_queue=q, start_signal="approve")
                return {"stamp": hung, "order": done}
    """,
    )
    assert result["stamp"]["status"] == "RUNNING"
    assert result["stamp"]["task_attempt"] >= 2
    assert result["stamp"]["failure_type"] == "RestrictedWorkflowAccessError"
    assert "datetime.datetime.now" in result["stamp"]["failure_message"]
    assert result["order"]["charge"] == "charge-o-1"
    assert result["order"]["at"].startswith("20")  # str(workflow.now())


def test_blocking_workflow_deadlock(lab):
    result = drive(
        lab,
        """
        from clock_mistakes import QuoteWorkflow
        from demo_worker import RUNNER

        async def main():
            client, q = await connect(), queue()
            async with Worker(client, task_queue=q, workflows=[QuoteWorkflow], workflow_runner=RUNNER):
                quote = await client.start_workflow(QuoteWorkflow.run, "sku-1", id=f"quote-{q}", task_queue=q)
                return await hung_run(quote)
    """,
    )
    assert result["status"] == "RUNNING"  # the run is not failed: its task is retried
    assert result["task_attempt"] >= 2
    assert result["failure_message"].startswith("[TMPRL1101] Potential deadlock detected")


def test_exception_vs_application_error(lab):
    result = drive(
        lab,
        """
        from invoice_workflows import InvoiceWorkflow, LooseInvoiceWorkflow

        async def main():
            client, q = await connect(), queue()
            flows = [InvoiceWorkflow, LooseInvoiceWorkflow]
            out = {}
            async with Worker(client, task_queue=q, workflows=flows):
                loose = await client.start_workflow(LooseInvoiceWorkflow.run, "12x", id=f"l-{q}", task_queue=q)
                out["loose"] = await hung_run(loose)
                try:
                    await client.execute_workflow(InvoiceWorkflow.run, "12x", id=f"i-{q}", task_queue=q)
                except WorkflowFailureError as err:
                    out["strict"] = {"type": err.cause.type, "message": err.cause.message}
                out["ok"] = await client.execute_workflow(InvoiceWorkflow.run, "12", id=f"ok-{q}", task_queue=q)
            # The opt-in named in the rule: the same ValueError now fails the run.
            q2 = queue()
            async with Worker(client, task_queue=q2, workflows=flows,
                              workflow_failure_exception_types=[ValueError]):
                try:
                    await client.execute_workflow(LooseInvoiceWorkflow.run, "12x", id=f"l2-{q2}", task_queue=q2)
                except WorkflowFailureError as err:
                    out["opted_in"] = {"type": err.cause.type, "message": err.cause.message}
            return out
    """,
    )
    assert result["loose"]["status"] == "RUNNING"
    assert result["loose"]["task_attempt"] >= 2
    assert result["loose"]["failure_type"] == "ValueError"
    assert result["strict"] == {"type": "BadAmount", "message": "bad amount '12x'"}
    assert result["ok"] == 12
    assert result["opted_in"]["type"] == "ValueError"


def test_wait_condition_timeout(lab):
    result = drive(
        lab,
        """
        from order_workflows import OrderWorkflow
        from shop_activities import charge_card, release_stock, reserve_stock

        async def main():
            client, q = await connect(), queue()
            out = {}
            async with Worker(client, task_queue=q, workflows=[OrderWorkflow],
                              activities=[charge_card, release_stock, reserve_stock]):
                order = await client.start_workflow(OrderWorkflow.run, args=["o-1", 10], id=f"o-{q}", task_queue=q)
                try:
                    await order.result()
                except WorkflowFailureError as err:
                    out["unapproved"] = err.cause.type
                timers = await event_names(order, "timer_started_event_attributes")
                out["timers"] = [t.start_to_fire_timeout.ToTimedelta().total_seconds() for t in timers]
                # The state the condition waits for, set by a signal before the timeout.
                approved = await client.execute_workflow(OrderWorkflow.run, args=["o-2", 10], id=f"o2-{q}",
                                                         task_queue=q, start_signal="approve")
                out["approved"] = approved["charge"]
            return out
    """,
    )
    assert result["unapproved"] == "ApprovalTimeout"
    assert result["timers"] == [2.0]  # wait_condition's timeout is a durable timer
    assert result["approved"] == "charge-o-2"


def test_update_validator(lab):
    result = drive(
        lab,
        """
        from order_workflows import OrderWorkflow
        from shop_activities import charge_card, release_stock, reserve_stock
        from temporalio.client import WorkflowUpdateFailedError

        async def main():
            client, q = await connect(), queue()
            out = {"refused": []}
            async with Worker(client, task_queue=q, workflows=[OrderWorkflow],
                              activities=[charge_card, release_stock, reserve_stock]):
                handle = await client.start_workflow(OrderWorkflow.run, args=["o-1", 120], id=f"o-{q}", task_queue=q)
                out["added"] = await handle.execute_update(OrderWorkflow.add_item, "sku-1")
                try:
                    await handle.execute_update(OrderWorkflow.add_item, "")
                except WorkflowUpdateFailedError as err:
                    out["refused"].append(str(err.cause))
                out["count"] = await handle.query(OrderWorkflow.item_count)
                await handle.signal(OrderWorkflow.approve)
                out["result"] = await handle.result()
                accepted = await event_names(handle, "workflow_execution_update_accepted_event_attributes")
                out["accepted"] = [a.accepted_request.input.args.payloads[0].data.decode() for a in accepted]
            return out
    """,
    )
    assert result["added"] == 1
    assert len(result["refused"]) == 1 and "cannot add ''" in result["refused"][0]
    assert result["count"] == 1
    assert result["accepted"] == ['"sku-1"']  # the refused update left no trace in history
    assert result["result"]["charge"] == "charge-o-1"


SAGA = """
from order_workflows import OrderWorkflow
from shop_activities import HOLDS, charge_card, refund_charge, release_stock, reserve_stock
from temporalio import activity

RELEASE_ATTEMPTS = []

@activity.defn(name="release_stock")
async def flaky_release(order_id: str, sku: str) -> None:
    # The inventory service times out on each release's first three attempts.
    RELEASE_ATTEMPTS.append((sku, activity.info().attempt))
    if activity.info().attempt <= 3:
        raise ConnectionError("inventory service timed out")
    await release_stock(order_id, sku)

async def run_order(client, q, order_id, amount, skus):
    handle = await client.start_workflow(OrderWorkflow.run, args=[order_id, amount], id=f"{order_id}-{q}",
                                         task_queue=q)
    for sku in skus:
        await handle.execute_update(OrderWorkflow.add_item, sku)
    await handle.signal(OrderWorkflow.approve)
    try:
        outcome = (await handle.result())["charge"]
    except WorkflowFailureError as err:
        outcome = getattr(err.cause, "type", type(err.cause).__name__)
    steps = await event_names(handle, "activity_task_scheduled_event_attributes")
    return {"outcome": outcome, "holds_left": sorted(HOLDS),
            "steps": [(s.activity_type.name, s.input.payloads[-1].data.decode().strip('"')) for s in steps]}

async def saga(release, *orders):
    client, q = await connect(), queue()
    async with Worker(client, task_queue=q, workflows=[OrderWorkflow],
                      activities=[charge_card, refund_charge, release, reserve_stock]):
        return [await run_order(client, q, *order) for order in orders]
"""


def test_saga_compensates(lab):
    declined, paid = drive(
        lab,
        SAGA
        + textwrap.dedent("""
        async def main():
            return await saga(release_stock, ("big", 5000, ["sku-1", "sku-2"]), ("small", 50, ["sku-1", "sku-2"]))
    """),
    )
    assert declined["outcome"] == "OrderFailed"
    assert [name for name, _ in declined["steps"]] == ["reserve_stock"] * 2 + [
        "charge_card",
        "refund_charge",
        "release_stock",
        "release_stock",
    ]
    assert declined["steps"][3:] == [
        ["refund_charge", "big"],  # undone too: a lost reply could have hidden a charge
        ["release_stock", "sku-2"],
        ["release_stock", "sku-1"],
    ]
    assert declined["holds_left"] == []
    assert paid["outcome"] == "charge-small"
    assert paid["holds_left"] == ["small/sku-1", "small/sku-2"]  # a paid order keeps its stock


def test_saga_bad_sku_releases_every_hold(lab):
    # One SKU of the fan-out fails at once; its siblings are still reserving (200 ms each).
    (order,) = drive(
        lab,
        SAGA
        + textwrap.dedent("""
        async def main():
            return await saga(release_stock, ("mixed", 50, ["sku-1", "bad-2", "sku-3"]))
    """),
    )
    assert order["holds_left"] == []
    assert order["outcome"] == "OrderFailed"
    released = [sku for name, sku in order["steps"] if name == "release_stock"]
    assert released == ["sku-3", "bad-2", "sku-1"]  # every started step, in reverse


def test_saga_flaky_compensation_completes(lab):
    result = drive(
        lab,
        SAGA
        + textwrap.dedent("""
        async def main():
            (order,) = await saga(flaky_release, ("declined", 5000, ["sku-1", "sku-2", "sku-3"]))
            return {"order": order, "release_attempts": RELEASE_ATTEMPTS}
    """),
    )
    order = result["order"]
    assert order["holds_left"] == []  # every release got through despite three failures each
    assert order["outcome"] == "OrderFailed"
    final_attempts = {sku: attempt for sku, attempt in result["release_attempts"]}
    assert final_attempts == {"sku-1": 4, "sku-2": 4, "sku-3": 4}


CANCEL_MID_FAN_OUT = """
from order_workflows import OrderWorkflow
from shop_activities import HOLDS, charge_card, refund_charge, release_stock, reserve_stock
from temporalio import activity

STARTED, LANDED = [], []
WORKFLOW_CLOSED = asyncio.Event()

@activity.defn(name="reserve_stock")
async def hanging_reserve(order_id: str, sku: str) -> str:
    # The inventory API hangs on slow-* SKUs and answers only after the workflow has closed;
    # the activity never heartbeats, so the workflow's cancel does not reach it.
    STARTED.append(sku)
    try:
        if sku.startswith("slow-"):
            await asyncio.wait_for(WORKFLOW_CLOSED.wait(), 20)
        return await reserve_stock(order_id, sku)
    finally:
        LANDED.append(sku)

async def main():
    client, q = await connect(), queue()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    async with Worker(client, task_queue=q, workflows=[OrderWorkflow],
                      activities=[charge_card, refund_charge, release_stock, hanging_reserve]):
        handle = await client.start_workflow(OrderWorkflow.run, args=["gone", 50], id=f"gone-{q}", task_queue=q)
        for sku in ("sku-1", "slow-2"):
            await handle.execute_update(OrderWorkflow.add_item, sku)
        await handle.signal(OrderWorkflow.approve)
        while not ("gone/sku-1" in HOLDS and "slow-2" in STARTED) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        held_at_cancel = sorted(HOLDS)
        await handle.cancel()  # mid fan-out: sku-1 held, slow-2 still reserving
        try:
            await handle.result()
        except WorkflowFailureError:
            pass
        status = (await handle.describe()).status.name
        WORKFLOW_CLOSED.set()  # now the hanging reservation lands
        while "slow-2" not in LANDED and loop.time() < deadline:
            await asyncio.sleep(0.05)
        steps = await event_names(handle, "activity_task_scheduled_event_attributes")
        return {"held_at_cancel": held_at_cancel, "status": status, "holds_left": sorted(HOLDS),
                "released": [s.input.payloads[1].data.decode().strip('"') for s in steps
                             if s.activity_type.name == "release_stock"]}
"""


@pytest.mark.parametrize("variant", ["as_shown", "activity_error_only", "no_tombstone"])
def test_saga_cancel_mid_fan_out_releases_every_hold(lab, variant):
    """Cancel the run while one reservation hangs: every hold is released, also the late one."""
    naive = {  # the incorrect patterns the rule warns about
        "activity_error_only": (
            "order_workflows.py",
            "except (ActivityError, asyncio.CancelledError) as err:",
            "except ActivityError as err:",
        ),
        "no_tombstone": (
            "shop_activities.py",
            'RELEASED.add(f"{order_id}/{sku}")',
            "pass",
        ),
    }
    if variant in naive:
        name, line, replacement = naive[variant]
        module = lab.workdir / name
        text = module.read_text()
        assert line in text
        module.write_text(text.replace(line, replacement))
    result = drive(lab, CANCEL_MID_FAN_OUT)
    assert result["held_at_cancel"] == ["gone/sku-1"]
    assert result["status"] == "CANCELED"  # the run still ends cancelled
    if variant == "as_shown":
        assert result["released"] == ["slow-2", "sku-1"]
        assert result["holds_left"] == [], result
    elif variant == "activity_error_only":  # no compensation at all
        assert result["released"] == [] and result["holds_left"] == ["gone/sku-1", "gone/slow-2"]
    else:  # released first, then the late reservation held stock again
        assert result["released"] == ["slow-2", "sku-1"] and result["holds_left"] == ["gone/slow-2"]


def test_duplicate_workflow_id(lab):
    result = drive(
        lab,
        """
        from order_workflows import OrderWorkflow
        from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
        from temporalio.exceptions import WorkflowAlreadyStartedError

        async def main():
            client, q = await connect(), queue()
            out = {}
            order_id = f"order-{q}"
            start = dict(id=order_id, task_queue=q)
            async with Worker(client, task_queue=q, workflows=[OrderWorkflow]):
                first = await client.start_workflow(OrderWorkflow.run, args=[order_id, 1], **start)
                try:
                    await client.start_workflow(OrderWorkflow.run, args=[order_id, 1], **start)
                    out["duplicate"] = "started twice"
                except WorkflowAlreadyStartedError:
                    out["duplicate"] = "rejected"
                joined = await client.start_workflow(OrderWorkflow.run, args=[order_id, 1], **start,
                                                     id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
                out["joined_same_run"] = joined.result_run_id == first.result_run_id
                await first.terminate("proof done")
                again = await client.start_workflow(OrderWorkflow.run, args=[order_id, 1], **start)
                out["reused_after_close"] = again.result_run_id != first.result_run_id
                await again.terminate("proof done")
                try:
                    await client.start_workflow(OrderWorkflow.run, args=[order_id, 1], **start,
                                                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
                    out["reject_duplicate"] = "started"
                except WorkflowAlreadyStartedError:
                    out["reject_duplicate"] = "rejected"
            return out
    """,
    )
    assert result == {
        "duplicate": "rejected",
        "joined_same_run": True,
        "reused_after_close": True,
        "reject_duplicate": "rejected",
    }


def test_patch_replay(lab):
    result = drive(
        lab,
        """
        from shipment_workflows import ShipmentV1, ShipmentV2, ShipmentV2Patched
        from shop_activities import reserve_stock
        from temporalio.worker import Replayer
        from temporalio.workflow import NondeterminismError

        async def replay(flow, history):
            try:
                await Replayer(workflows=[flow]).replay_workflow(history)
                return "ok"
            except NondeterminismError as err:
                return type(err).__name__

        async def record(client, flow, sku):
            q = queue()
            async with Worker(client, task_queue=q, workflows=[flow], activities=[reserve_stock]):
                handle = await client.start_workflow(flow.run, sku, id=f"ship-{q}", task_queue=q,
                                                     start_signal="pick_up")
                result = await handle.result()
                steps = await event_names(handle, "activity_task_scheduled_event_attributes")
                steps = ["timer"] * len(await event_names(handle, "timer_started_event_attributes")) + [
                    s.input.payloads[1].data.decode() for s in steps]
                return result, steps, await handle.fetch_history()

        async def main():
            client = await connect()
            _, v1_steps, v1_history = await record(client, ShipmentV1, "sku-1")
            _, new_steps, new_history = await record(client, ShipmentV2Patched, "sku-2")
            return {"v1_steps": v1_steps, "new_steps": new_steps,
                    "v1_on_v1": await replay(ShipmentV1, v1_history),
                    "v1_on_v2": await replay(ShipmentV2, v1_history),
                    "v1_on_patched": await replay(ShipmentV2Patched, v1_history),
                    "patched_on_patched": await replay(ShipmentV2Patched, new_history)}
    """,
    )
    assert result["v1_steps"] == ['"sku-1"']
    assert result["new_steps"] == ["timer", '"sku-2"']  # new runs take the patched path
    assert result["v1_on_v1"] == "ok"
    assert result["v1_on_v2"] == "NondeterminismError"
    assert result["v1_on_patched"] == "ok"
    assert result["patched_on_patched"] == "ok"


METER_CHAIN = '''
    from meter_workflows import UsageMeterWorkflow

    async def meter_chain(client, signals=30):
        """Signal a meter `signals` times; return its usage and the runs of its chain."""
        q = queue()
        async with Worker(client, task_queue=q, workflows=[UsageMeterWorkflow]):
            first = await client.start_workflow(UsageMeterWorkflow.run, args=[0, []], id=f"meter-{q}", task_queue=q)
            for units in range(1, signals + 1):
                await first.signal(UsageMeterWorkflow.record, units)  # follows the chain to the open run
            latest = client.get_workflow_handle(first.id)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 15
            while (usage := await latest.query(UsageMeterWorkflow.usage)) != signals * (signals + 1) // 2:
                if loop.time() > deadline:
                    break
                await asyncio.sleep(0.1)
            runs, run_id = [], first.result_run_id
            while run_id:
                events = [e async for e in client.get_workflow_handle(first.id, run_id=run_id).fetch_history_events()]
                start = events[0].workflow_execution_started_event_attributes
                next_run = events[-1].workflow_execution_continued_as_new_event_attributes.new_execution_run_id
                runs.append({"events": len(events), "input": [p.data.decode() for p in start.input.payloads]})
                run_id = next_run or None
            await latest.terminate("proof done")
            return {"usage": usage, "runs": runs}
'''


def test_continue_as_new(lab):
    # A private dev server that suggests continue-as-new after 20 history events (default 4,096).
    result = drive(
        lab,
        textwrap.dedent(METER_CHAIN)
        + textwrap.dedent("""
        import shutil
        from temporalio.testing import WorkflowEnvironment

        async def main():
            suggest_early = ["--dynamic-config-value", "limit.historyCount.suggestContinueAsNew=20"]
            async with await WorkflowEnvironment.start_local(dev_server_existing_path=shutil.which("temporal"),
                                                             dev_server_extra_args=suggest_early) as env:
                early = await meter_chain(env.client)
            return {"suggested_early": early, "default": await meter_chain(await connect())}
    """),
        extra_env=env_bin_path(lab),
    )
    early, default = result["suggested_early"], result["default"]
    # Default thresholds: 30 signals stay in one run.
    assert default["usage"] == 465 and len(default["runs"]) == 1
    # Low threshold: the meter continued as new several times, each run short, no units lost.
    assert len(early["runs"]) >= 2
    assert early["usage"] == 465  # 1 + 2 + ... + 30: totals and pending signals were carried over
    assert all(run["events"] < 60 for run in early["runs"])
    assert all(
        run["input"][0] != "0" for run in early["runs"][1:]
    )  # each new run starts from the carried total


def test_stuck_in_running_diagnosed(lab):
    result = drive(
        lab,
        """
        from invoice_workflows import InvoiceWorkflow
        from shop_activities import charge_card, release_stock, reserve_stock
        from stuck_triage import why_running
        from temporalio import workflow
        from temporalio.exceptions import ActivityError

        @workflow.defn(sandboxed=False)
        class ReceiptWorkflow:
            @workflow.run
            async def run(self, activity_queue: str) -> str:
                # by name, as a workflow calling another team's activity does
                return await workflow.execute_activity("send_receipt", task_queue=activity_queue or None,
                                                       start_to_close_timeout=timedelta(seconds=5),
                                                       schedule_to_start_timeout=timedelta(seconds=2))

        async def diagnosis(client, handle):
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 15
            while (why := await why_running(client, handle)).startswith("progressing") and loop.time() < deadline:
                await asyncio.sleep(0.3)
            await handle.terminate("proof done")
            return why

        async def main():
            client, q = await connect(), queue()
            async with Worker(client, task_queue=q, workflows=[InvoiceWorkflow, ReceiptWorkflow],
                              activities=[charge_card, release_stock, reserve_stock]):
                runs = {
                    "typo_queue": await client.start_workflow(InvoiceWorkflow.run, "12", id=f"t-{q}",
                                                              task_queue=f"{q}-typo"),
                    "unregistered_workflow": await client.start_workflow("InvoiceWorkflw", "12", id=f"u-{q}",
                                                                         task_queue=q),
                    "unregistered_activity": await client.start_workflow(ReceiptWorkflow.run, "", id=f"a-{q}",
                                                                         task_queue=q),
                }
                out = {name: await diagnosis(client, handle) for name, handle in runs.items()}
                try:  # the activity's own queue is misspelt: schedule_to_start_timeout ends the wait
                    await client.execute_workflow(ReceiptWorkflow.run, f"{q}-emails-typo", id=f"s-{q}", task_queue=q)
                except WorkflowFailureError as err:
                    cause = err.cause.cause if isinstance(err.cause, ActivityError) else err.cause
                    out["activity_queue_typo"] = f"{type(cause).__name__} {cause.type.name}"
            return out
    """,
    )
    assert (
        result["typo_queue"].startswith("no worker polls task queue")
        and "-typo'" in result["typo_queue"]
    )
    assert "Workflow class InvoiceWorkflw is not registered" in result["unregistered_workflow"]
    assert result["unregistered_workflow"].startswith("workflow task attempt ")
    assert result["unregistered_activity"].startswith("activity send_receipt attempt ")
    assert "send_receipt" in result["unregistered_activity"]
    assert "is not registered on this worker" in result["unregistered_activity"]
    assert result["activity_queue_typo"] == "TimeoutError SCHEDULE_TO_START"


def test_nde_heals_after_patched_deploy(lab):
    result = drive(
        lab,
        """
        from shipment_workflows import ShipmentV1, ShipmentV2, ShipmentV2Patched
        from shop_activities import reserve_stock

        async def wait_for(handle, field, count=1):
            for _ in range(100):  # bounded: 20 s
                if len(await event_names(handle, field)) >= count:
                    return
                await asyncio.sleep(0.2)

        def worker(client, q, flow):
            return Worker(client, task_queue=q, workflows=[flow], activities=[reserve_stock],
                          max_cached_workflows=0)  # replay from history on every task, like a fresh deploy

        async def main():
            client, q = await connect(), queue()
            async with worker(client, q, ShipmentV1):
                handle = await client.start_workflow(ShipmentV1.run, "sku-1", id=f"ship-{q}", task_queue=q)
                await wait_for(handle, "activity_task_completed_event_attributes")
            async with worker(client, q, ShipmentV2):  # the unguarded deploy
                await handle.signal(ShipmentV1.pick_up)
                stuck = await hung_run_without_terminate(handle)
            async with worker(client, q, ShipmentV2Patched):  # the fix deploys; nothing else is done
                async with asyncio.timeout(20):
                    healed = await handle.result()
            steps = await event_names(handle, "activity_task_scheduled_event_attributes")
            return {"stuck": stuck, "healed": healed, "steps": [s.input.payloads[1].data.decode() for s in steps]}

        async def hung_run_without_terminate(handle):
            for _ in range(100):
                desc = await handle.describe()
                if desc.raw_description.pending_workflow_task.attempt >= 2:
                    break
                await asyncio.sleep(0.2)
            failures = await event_names(handle, "workflow_task_failed_event_attributes")
            return {"status": desc.status.name, "failure": failures[-1].failure.message if failures else None}
    """,
    )
    assert result["stuck"]["status"] == "RUNNING"
    assert result["stuck"]["failure"].startswith("[TMPRL1100] Nondeterminism error")
    assert result["healed"].endswith("/sku-1")
    assert result["steps"] == ['"sku-1"']  # the old run kept its old path


def test_schedule_starts_workflows(lab):
    result = drive(
        lab,
        """
        from invoice_workflows import InvoiceWorkflow
        from temporalio.client import (Schedule, ScheduleActionStartWorkflow, ScheduleIntervalSpec,
                                       ScheduleOverlapPolicy, SchedulePolicy, ScheduleSpec)

        async def main():
            client, q = await connect(), queue()
            async with Worker(client, task_queue=q, workflows=[InvoiceWorkflow]):
                schedule = await client.create_schedule(f"sweep-{q}", Schedule(
                    action=ScheduleActionStartWorkflow(InvoiceWorkflow.run, "42", id=f"sweep-{q}", task_queue=q),
                    spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=2))]),
                    policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP)))
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 15
                while len(actions := (await schedule.describe()).info.recent_actions) < 2 and loop.time() < deadline:
                    await asyncio.sleep(0.3)
                results = [await client.get_workflow_handle(a.action.workflow_id,
                                                            run_id=a.action.first_execution_run_id).result()
                           for a in actions]
                ids = [a.action.workflow_id for a in actions]
                await schedule.delete()
            return {"results": results, "ids": ids}
    """,
    )
    assert len(result["results"]) >= 2 and set(result["results"]) == {42}  # fired on its own, twice
    assert len(set(result["ids"])) == len(result["ids"])  # one workflow ID per firing
    assert all(i.startswith("sweep-proof-") for i in result["ids"])
