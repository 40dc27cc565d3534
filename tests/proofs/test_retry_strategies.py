"""Proofs for references/retry-strategies.md against a real Redis and real celery workers.

Every test loads the modules the rule file defines (celery_app, gateway, orders_db,
payment_tasks) and starts the worker with the command of the file's own background block.
Retry countdowns are read from the worker's own log lines ("retry: Retry in Ns").
"""

from __future__ import annotations

import re
import time

from celery_lab import drive_calls

RULE_FILE = "references/retry-strategies.md"


def _start(lab, edit=None):
    """Load the rule file's modules (optionally edit payment_tasks.py first) and start the worker."""
    lab.load_markdown(RULE_FILE)
    if edit:
        tasks = lab.workdir / "payment_tasks.py"
        tasks.write_text(edit(tasks.read_text()))
    command, ready = lab.background_command(RULE_FILE)
    return lab.start("celery", command, ready=ready)


PRELUDE = """
    import json, time
    from gateway import r
    from payment_tasks import *

    # Make the gateway time out `timeouts` more times, charge, wait (bounded) for the outcome.
    def charge_during_outage(timeouts, order_id, amount, timeout):
        r.set("gateway:outage", timeouts)
        res = charge_order.delay(order_id, amount)
        return res, outcome(lambda: res.get(timeout=timeout))
"""


def _drive(lab, body: str, **kw):
    return drive_calls(lab, PRELUDE, body, **kw)


def _countdowns(log: str, task_id: str) -> list[int]:
    """Countdowns the worker logged for one task id, in order."""
    return [int(n) for n in re.findall(rf"\[{task_id}\] retry: Retry in (\d+)s", log)]


def _wait_for(lab, proc, pattern: str, count: int = 1, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while True:
        log = lab.output(proc)
        if len(re.findall(pattern, log)) >= count or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


def test_autoretry_backs_off_manual_retry_does_not(lab):
    worker = _start(lab)
    out = _drive(
        lab,
        """
        auto, result = charge_during_outage(3, 1, 1999, timeout=20)
        r.set("gateway:outage", 1)
        manual = charge_order_manual.delay(2, 500)
        deadline = time.monotonic() + 10
        while manual.state != "RETRY" and time.monotonic() < deadline:
            time.sleep(0.05)
        print(json.dumps({"auto_id": auto.id, "result": result, "manual_id": manual.id,
                          "manual_state": manual.state}))
    """,
    )
    assert out["result"] == ["ok", "ch_1"]
    log = _wait_for(lab, worker, rf"\[{out['manual_id']}\] retry:")
    # retry_backoff=1 doubles per retry and retry_backoff_max=2 caps the third one.
    assert _countdowns(log, out["auto_id"]) == [1, 2, 2]
    # The manual self.retry() ignores retry_backoff and waits default_retry_delay.
    assert out["manual_state"] == "RETRY"
    assert _countdowns(log, out["manual_id"]) == [180]


def test_full_jitter_stays_within_the_backoff(lab):
    # The rule file's task minus its retry_jitter=False line: Celery's default (full jitter).
    def default_jitter(text):
        assert "    retry_jitter=False," in text
        return re.sub(r"\n    retry_jitter=False,[^\n]*", "", text)

    worker = _start(lab, edit=default_jitter)
    out = _drive(
        lab,
        """
        r.set("gateway:outage", 100)  # every try times out: 6 orders x 3 retries
        results = [charge_order.delay(order_id, 100) for order_id in range(10, 16)]
        print(json.dumps({"ids": [res.id for res in results],
                          "results": [outcome(lambda: res.get(timeout=25)) for res in results]}))
    """,
    )
    assert [res[0] for res in out["results"]] == ["GatewayTimeout"] * 6, out
    log = lab.output(worker)
    schedules = [_countdowns(log, task_id) for task_id in out["ids"]]
    assert [len(s) for s in schedules] == [3] * 6, schedules
    for schedule in schedules:  # each delay is drawn from 0..min(2, 1 * 2**n)
        assert all(0 <= c <= min(2, 2**n) for n, c in enumerate(schedule)), schedules
    # Without jitter every schedule would start [1, 2, ...]; with full jitter some delays are lower.
    assert any(c < min(2, 2**n) for s in schedules for n, c in enumerate(s)), schedules


def test_max_retries_reraises_and_declined_is_not_retried(lab):
    worker = _start(lab)
    out = _drive(
        lab,
        """
        declined, declined_outcome = charge_during_outage(0, 3, 0, timeout=10)
        # the first try plus max_retries=3 retries all time out
        exhausted, exhausted_outcome = charge_during_outage(4, 4, 500, timeout=20)
        # self.retry(exc=...) on its last allowed try (retries=3 as if three retries had run)
        r.set("gateway:outage", 1)
        manual = outcome(lambda: charge_order_manual.apply_async((10, 500), retries=3).get(timeout=10))
        print(json.dumps({"declined": declined_outcome, "declined_id": declined.id,
                          "exhausted": exhausted_outcome, "manual": manual,
                          "exhausted_id": exhausted.id,
                          "charges": r.lrange("gateway:charges", 0, -1)}))
    """,
    )
    log = lab.output(worker)
    assert out["declined"][0] == "CardDeclined"
    assert _countdowns(log, out["declined_id"]) == []  # dont_autoretry_for: no retry at all
    # After max_retries the original exception is raised, not MaxRetriesExceededError.
    assert out["exhausted"] == ["GatewayTimeout", "order 4: no answer"]
    assert _countdowns(log, out["exhausted_id"]) == [1, 2, 2]
    assert out["manual"] == ["GatewayTimeout", "order 10: no answer"]  # the exc= passed in
    assert out["charges"] == []


def test_idempotency_key_blocks_duplicate_delivery(lab):
    worker = _start(lab)
    succeeded = r"\[{}\] succeeded"
    # The same message delivered twice (same task id), as after a redelivery.
    out = _drive(
        lab,
        """
        for _ in range(2):
            charge_order.apply_async((5, 1999), task_id="charge-order-5")
        print(json.dumps({}))
    """,
    )
    log = _wait_for(lab, worker, succeeded.format("charge-order-5"), count=2)
    runs = re.findall(r"\[charge-order-5\] succeeded in [\d.e-]+s: '([^']+)'", log)
    assert sorted(runs) == ["ch_5", "duplicate"], runs

    out = _drive(
        lab,
        """
        again = outcome(lambda: charge_order.delay(5, 1999).get(timeout=10))  # enqueued twice by the app
        other = outcome(lambda: charge_order.delay(6, 1999).get(timeout=10))  # a different order
        r.delete("idem:charge:5")  # as if the key had expired before a late redelivery
        expired = outcome(lambda: charge_order.delay(5, 1999).get(timeout=10))
        print(json.dumps({"again": again, "other": other, "expired": expired,
                          "charges": r.lrange("gateway:charges", 0, -1)}))
    """,
    )
    assert out["again"] == ["ok", "duplicate"]
    assert out["other"] == ["ok", "ch_6"]
    assert out["expired"] == ["ok", "ch_5"]  # without the key the side effect repeats
    assert sorted(out["charges"]) == ["idem:charge:5", "idem:charge:5", "idem:charge:6"]


def test_final_failures_are_recorded_once(lab):
    _start(lab)
    out = _drive(
        lab,
        """
        # one retry, then success: not a failure
        _, recovered_outcome = charge_during_outage(1, 7, 100, timeout=20)
        exhausted, exhausted_outcome = charge_during_outage(4, 8, 100, timeout=20)
        declined = charge_order.delay(9, 0)
        declined_outcome = outcome(lambda: declined.get(timeout=10))
        deadline = time.monotonic() + 5
        while r.llen("failed-tasks") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # a duplicate record would arrive right after the first
        print(json.dumps({"outcomes": [recovered_outcome, exhausted_outcome, declined_outcome],
                          "ids": [exhausted.id, declined.id],
                          "records": [json.loads(x) for x in r.lrange("failed-tasks", 0, -1)]}))
    """,
    )
    assert [o[0] for o in out["outcomes"]] == ["ok", "GatewayTimeout", "CardDeclined"]
    records = out["records"]
    assert [rec["id"] for rec in records] == out[
        "ids"
    ]  # one record per final failure, none for the recovery
    assert [rec["args"] for rec in records] == [[8, 100], [9, 0]]  # enough to replay
    assert records[0]["task"] == "payment_tasks.charge_order"
    assert records[0]["error"].startswith("GatewayTimeout(") and records[1]["error"].startswith(
        "CardDeclined("
    )


def test_lock_lets_one_of_two_overlapping_runs_work(lab):
    _start(lab)
    out = _drive(
        lab,
        """
        first = rebuild_sales_report.delay()
        deadline = time.monotonic() + 10
        while not r.exists("lock:rebuild_sales_report") and time.monotonic() < deadline:
            time.sleep(0.01)
        ttl = r.pttl("lock:rebuild_sales_report") / 1000
        second = rebuild_sales_report.delay()  # overlaps the first one's 1 s of work
        overlapping = sorted([first.get(timeout=10), second.get(timeout=10)])
        after = rebuild_sales_report.delay().get(timeout=10)  # the finally released the lock
        print(json.dumps({"overlapping": overlapping, "after": after, "ttl": ttl,
                          "time_limit": rebuild_sales_report.time_limit}))
    """,
    )
    assert out["overlapping"] == ["rebuilt", "skipped: already running"]
    assert out["after"] == "rebuilt"
    assert out["ttl"] > out["time_limit"]  # the lock outlives a run killed at the hard limit


def test_enqueue_inside_transaction_misses_the_row(lab):
    _start(lab)
    out = _drive(
        lab,
        """
        import django
        from django.conf import settings
        import orders_db

        db = orders_db.connect()
        with db:
            inside_id = db.execute("INSERT INTO orders (email) VALUES ('bo@example.com')").lastrowid
            inside = outcome(lambda: send_receipt.delay(inside_id).get(timeout=10))
        after = outcome(lambda: send_receipt.delay(inside_id).get(timeout=10))  # same row, now committed
        db.close()

        settings.configure(DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
                                                  "NAME": orders_db.DB_PATH}})
        django.setup()
        from django.db import connection, transaction

        sent = []
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("INSERT INTO orders (email) VALUES (%s)", ["cy@example.com"])
                django_id = cur.lastrowid
            transaction.on_commit(lambda: sent.append(send_receipt.delay(django_id)))
            sent_before_commit = len(sent)
        print(json.dumps({"inside": inside, "after": after, "sent_before_commit": sent_before_commit,
                          "on_commit": outcome(lambda: sent[0].get(timeout=10))}))
    """,
    )
    assert out["inside"] == ["LookupError", "order 1 not committed yet"]
    assert out["after"] == ["ok", "receipt for order 1 sent to bo@example.com"]
    assert out["sent_before_commit"] == 0
    assert out["on_commit"] == ["ok", "receipt for order 2 sent to cy@example.com"]
