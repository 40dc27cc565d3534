"""evals/check_code.py: the static checks behind the `[check_code: ...]` expectations.

Each check must pass on a corrected pattern and fail on the naive one the user starts from
(the shipped input files under evals/files/ are those naive versions).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EVALS = REPO / "evals"

spec = importlib.util.spec_from_file_location("eval_check_code", EVALS / "check_code.py")
check_code = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = check_code  # dataclasses look their module up while the class is built
spec.loader.exec_module(check_code)

GOOD = {
    "acks-late": """
        from celery import Celery
        app = Celery("billing")
        app.conf.task_acks_late = True
    """,
    "idempotency-guard": """
        @app.task(bind=True, acks_late=True)
        def charge_order(self, order_id, amount_cents):
            return gateway.charge(amount_cents, idempotency_key=f"order-{order_id}")
    """,
    "bounded-retries": """
        @app.task(autoretry_for=(GatewayTimeout,), retry_backoff=True, max_retries=5)
        def charge_order(order_id): ...
    """,
    "retry-backoff": """
        from arq import Retry
        async def sync_partner(ctx, account_id):
            raise Retry(defer=ctx["job_try"] * 5)
    """,
    "bounded-waits": """
        result = export_report.delay(42)
        print(result.get(timeout=30))
    """,
    "activity-timeouts": """
        from datetime import timedelta
        from temporalio import workflow
        @workflow.defn
        class Order:
            @workflow.run
            async def run(self, order_id):
                await workflow.execute_activity(
                    reserve_stock, order_id, start_to_close_timeout=timedelta(seconds=30)
                )
    """,
    "heartbeat": """
        from temporalio import activity, workflow
        @activity.defn
        async def process_file(path):
            activity.heartbeat(1024)
        async def step():
            await workflow.execute_activity(
                process_file, "a.csv", start_to_close_timeout=T, heartbeat_timeout=H
            )
    """,
    "workflow-determinism": """
        from temporalio import workflow
        @workflow.defn
        class Order:
            @workflow.run
            async def run(self, order_id):
                placed_at = workflow.now()
                token = workflow.uuid4()
                return f"{order_id} {placed_at} {token}"
    """,
    "patched": """
        from temporalio import workflow
        async def body():
            if workflow.patched("ship-before-charge"):
                await ship()
    """,
    "progress-state": """
        @app.task(bind=True)
        def build_report(self, report_id):
            self.update_state(state="PROGRESS", meta={"done": 3, "total": 10})
    """,
    "after-commit": """
        from django.db import transaction
        def place_order(request):
            order = Order.objects.create(total_cents=4999)
            transaction.on_commit(lambda: send_order_confirmation.delay(order.id))
    """,
    "env-urls": """
        import os
        BROKER = os.environ.get("CELERY_BROKER_URL", "redis://localhost:6379/0")
    """,
    "no-wait-in-task": """
        @app.task
        def total(order_ids):
            return chord(price.s(i) for i in order_ids)(add_up.s())
    """,
}

NAIVE = {
    "acks-late": """
        @app.task
        def charge_order(order_id): ...
    """,
    # A bare claim before the effect: a crash after SET NX leaves the key, the redelivery skips.
    "idempotency-guard": """
        @app.task(acks_late=True)
        def charge_order(order_id, amount_cents):
            if r.set(f"idem:{order_id}", 1, nx=True, ex=86400):
                gateway.charge(amount_cents)
    """,
    "bounded-retries": """
        @app.task(autoretry_for=(Exception,), max_retries=5)
        def charge_order(order_id): ...
    """,
    "retry-backoff": """
        from arq import Retry
        async def sync_partner(ctx, account_id):
            raise Retry(defer=5)
    """,
    "bounded-waits": """
        result = export_report.delay(42)
        print(result.get())
    """,
    "activity-timeouts": """
        async def run(order_id):
            await workflow.execute_activity(reserve_stock, order_id, retry_policy=POLICY)
    """,
    "heartbeat": """
        async def process_file(path):
            return path
        async def step():
            await workflow.execute_activity(process_file, "a.csv", start_to_close_timeout=T)
    """,
    "workflow-determinism": """
        import uuid
        from temporalio import workflow
        @workflow.defn
        class Order:
            @workflow.run
            async def run(self, order_id):
                return str(uuid.uuid4())
    """,
    "patched": """
        async def body():
            await ship()
            await charge()
    """,
    "progress-state": """
        @app.task(bind=True)
        def build_report(self, report_id):
            return render(report_id)
    """,
    "after-commit": """
        @transaction.atomic
        def place_order(request):
            order = Order.objects.create(total_cents=4999)
            send_order_confirmation.delay(order.id)
    """,
    "env-urls": """
        app = Celery("shop", broker="redis://cache.internal:6379/0")
    """,
    "no-wait-in-task": """
        @app.task
        def total(order_ids):
            return sum(price.delay(i).get() for i in order_ids)
    """,
}


def outcome(tmp_path: Path, name: str, code: str):
    target = tmp_path / "generated.py"
    target.write_text(textwrap.dedent(code))
    return check_code.run([target], [name])[name]


def test_every_check_has_a_good_and_a_naive_sample():
    assert set(GOOD) == set(NAIVE) == set(check_code.CHECKS)


@pytest.mark.parametrize("name", sorted(check_code.CHECKS))
def test_check_passes_the_corrected_pattern(tmp_path, name):
    result = outcome(tmp_path, name, GOOD[name])
    assert result.passed, result.detail


@pytest.mark.parametrize("name", sorted(check_code.CHECKS))
def test_check_fails_the_naive_pattern(tmp_path, name):
    result = outcome(tmp_path, name, NAIVE[name])
    assert not result.passed, result.detail


def test_idempotency_claim_that_stores_the_task_id_passes(tmp_path):
    code = """
        @app.task(bind=True, acks_late=True)
        def charge_order(self, order_id, amount_cents):
            r.set(f"idem:{order_id}", self.request.id, nx=True, ex=86400)
    """
    assert outcome(tmp_path, "idempotency-guard", code).passed


def test_shipped_naive_inputs_fail_the_checks_their_evals_tag(capsys):
    evals = json.loads((EVALS / "evals.json").read_text())["evals"]
    tried = 0
    for case in evals:
        for file in case["files"]:
            if not file.endswith(".py"):
                continue
            names = check_code.checks_for_eval(case["id"])
            # env-urls and no-wait hold for inputs that never touch a broker; the rest must fail.
            for name in set(names) - {"env-urls", "no-wait-in-task", "bounded-waits"}:
                tried += 1
                assert not check_code.run([REPO / file], [name])[name].passed, (file, name)
    assert tried >= 5


def test_every_tag_in_evals_json_names_a_known_check():
    text = (EVALS / "evals.json").read_text()
    tags = [n.strip() for m in check_code.TAG.finditer(text) for n in m.group(1).split(",")]
    assert len(tags) >= 15
    assert set(tags) <= set(check_code.CHECKS)
    # Every check is used by at least one eval, so none is dead code.
    assert set(check_code.CHECKS) <= set(tags)


def test_cli_reports_pass_and_fail_lines(tmp_path, capsys):
    target = tmp_path / "tasks.py"
    target.write_text(textwrap.dedent(GOOD["acks-late"]))
    assert check_code.main([str(target), "--check", "acks-late", "--check", "env-urls"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in out] == [["PASS", "acks-late:"], ["PASS", "env-urls:"]]
    assert check_code.main([str(REPO / "evals/files/charge_task.py"), "--eval", "1"]) == 1
    assert "FAIL acks-late" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "args", "expected"),
    [
        ("def broken(:\n", ["--check", "acks-late"], r"generated\.py:1: syntax error"),
        ("x = 1\n", ["--check", "no-such-check"], r"unknown check 'no-such-check'"),
        ("x = 1\n", ["--eval", "999"], r"no eval with id 999"),
        ("x = 1\n", [], r"nothing to check"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, content, args, expected):
    target = tmp_path / "generated.py"
    target.write_text(content)
    assert check_code.main([str(target), *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert re.search(expected, err)


def test_missing_path_is_one_line_exit_2(tmp_path, capsys):
    assert check_code.main([str(tmp_path / "nope.py"), "--check", "acks-late"]) == 2
    assert "no such file or directory" in capsys.readouterr().err
