"""Proofs for references/retry-strategies.md against a real Redis and real celery workers.

Every test loads the modules the rule file defines (celery_app, gateway, orders_db,
payment_tasks, rate_limit, partner_tasks) and starts workers with the file's own background
command or, where a fault needs it, a `proof_app` that adds the fault hook. The partner API is a
real HTTP server on a free loopback port. Retry countdowns are read from the worker's own log
lines ("retry: Retry in Ns").
"""

from __future__ import annotations

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from celery_lab import WORKER, RedisProbe, drive_calls, wait_until, write_proof_app

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


# Proof only: freeze inside gateway.charge (before or after the provider charges) when
# fault:freeze says so, so the test can SIGKILL the worker exactly there; fault:slow widens the
# window in which duplicate deliveries overlap.
FAULT_HOOK = """
import time

import gateway
from gateway import r

_charge = gateway.charge


def charge(*args, **kwargs):
    if r.get("fault:slow"):
        time.sleep(0.5)
    if r.get("fault:freeze") == "before":
        r.rpush("fault:frozen", "before")
        time.sleep(60)
    result = _charge(*args, **kwargs)
    if r.get("fault:freeze") == "after":
        r.rpush("fault:frozen", "after")
        time.sleep(60)
    return result


gateway.charge = charge
"""
# kombu restores a dead worker's unacked messages after visibility_timeout, checked on a sweep
# every unacked_restore_interval x unacked_restore_throttle seconds (10 x 10 by default).
FAST_REDELIVERY = {
    "visibility_timeout": 2,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}


def _fault_lab(lab, edit=None) -> RedisProbe:
    (lab.workdir / "fault_hook.py").write_text(FAULT_HOOK)
    write_proof_app(lab, RULE_FILE, ["payment_tasks", "fault_hook"], FAST_REDELIVERY)
    if edit:
        tasks = lab.workdir / "payment_tasks.py"
        tasks.write_text(edit(tasks.read_text()))
    return RedisProbe(lab.redis_url)


@pytest.mark.parametrize(
    ("task", "freeze", "charges"),
    [
        ("charge_order", "before", 1),
        ("charge_order", "after", 1),
        ("charge_order_claim_first", "before", 0),  # the incorrect pattern: the charge is lost
    ],
)
def test_crash_after_claim_charges_exactly_once(lab, task, freeze, charges):
    probe = _fault_lab(lab)
    first = lab.start("celery", WORKER, ready="ready.")
    probe("SET", "fault:freeze", freeze)
    _drive(lab, f"{task}.apply_async((5, 1999), task_id='charge-order-5')\nprint('{{}}')")
    wait_until(
        lambda: probe("LLEN", "fault:frozen"), 15, f"the worker to freeze {freeze} the charge"
    )
    claim = probe("GET", "idem:charge:5")
    lab.kill(first)  # SIGKILL main process and pool: the message stays unacked in Redis
    probe("DEL", "fault:freeze")
    lab.start("celery", WORKER, ready="ready.")
    out = _drive(
        lab,
        """
        from celery_app import app
        result = outcome(lambda: app.AsyncResult("charge-order-5").get(timeout=25))
        print(json.dumps({"result": result, "charges": r.lrange("gateway:charges", 0, -1)}))
    """,
        timeout=40,
    )
    assert claim in ("claimed:charge-order-5", "charge-order-5")  # the crash left a claim
    assert out["charges"] == ["idem:charge:5"] * charges, out
    assert out["result"] == ["ok", "ch_5" if charges else "duplicate"], out


def test_concurrent_duplicates_charge_once(lab):
    probe = _fault_lab(lab)
    lab.start("celery", WORKER.replace("--concurrency=1", "--concurrency=4"), ready="ready.")
    probe("SET", "fault:slow", "1")
    out = _drive(
        lab,
        """
        # A redelivery of a running task (same id) and a client that enqueued twice more.
        same = [charge_order.apply_async((6, 1999), task_id="charge-order-6") for _ in range(2)]
        others = [charge_order.delay(6, 1999) for _ in range(2)]
        results = [outcome(lambda: res.get(timeout=20)) for res in same + others]
        print(json.dumps({"results": results, "charges": r.lrange("gateway:charges", 0, -1)}))
    """,
        timeout=40,
    )
    assert out["charges"] == ["idem:charge:6"], out
    assert out["results"] == [["ok", "ch_6"]] * 4, out


@pytest.mark.parametrize("claims", ["released", "kept"])
def test_final_failures_are_recorded_once(lab, claims):
    def keep_claims(text):  # the naive variant: a final failure leaves its claim behind
        line = "        release_claim(keys="
        assert line in text
        return text.replace(line, "        0 and release_claim(keys=")

    _start(lab, edit=keep_claims if claims == "kept" else None)
    out = _drive(
        lab,
        """
        # one retry, then success: not a failure
        _, recovered_outcome = charge_during_outage(1, 7, 100, timeout=20)
        r.set("gateway:outage", 8)  # orders 8 and 10 time out on all 1 + 3 calls each
        exhausted = [charge_order.delay(order_id, 100) for order_id in (8, 10)]
        exhausted_outcomes = [outcome(lambda: res.get(timeout=20)) for res in exhausted]
        declined = charge_order.delay(9, 0)
        declined_outcome = outcome(lambda: declined.get(timeout=10))
        deadline = time.monotonic() + 5
        while r.llen("failed-tasks") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # a duplicate record would arrive right after the first
        records = [json.loads(x) for x in r.lrange("failed-tasks", 0, -1)]
        left = {order_id: r.get(f"idem:charge:{order_id}") for order_id in (8, 10)}
        # The outage is over: replay order 8 from its record (same id); order 10 is sent again.
        entry = next(rec for rec in records if rec["args"][0] == 8)
        charge_order.AsyncResult(entry["id"]).forget()  # else .get() returns the stored failure
        replayed = charge_order.apply_async(entry["args"], task_id=entry["id"])
        resent = charge_order.delay(10, 100)
        print(json.dumps({"outcomes": [recovered_outcome, *exhausted_outcomes, declined_outcome],
                          "ids": [res.id for res in exhausted] + [declined.id],
                          "records": records, "left": left,
                          "replayed": outcome(lambda: replayed.get(timeout=20)),
                          "resent": outcome(lambda: resent.get(timeout=20)),
                          "charges": r.lrange("gateway:charges", 0, -1)}))
    """,
        timeout=60,
    )
    outcomes = [o[0] for o in out["outcomes"]]
    assert outcomes == ["ok", "GatewayTimeout", "GatewayTimeout", "CardDeclined"], out["outcomes"]
    records = out["records"]
    # one record per final failure, none for the recovery
    assert sorted(rec["id"] for rec in records) == sorted(out["ids"])
    assert sorted(rec["args"] for rec in records) == [
        [8, 100],
        [9, 0],
        [10, 100],
    ]  # enough to replay
    assert {rec["task"] for rec in records} == {"payment_tasks.charge_order"}
    errors = sorted(rec["error"].split("(")[0] for rec in records)
    assert errors == ["CardDeclined", "GatewayTimeout", "GatewayTimeout"]
    assert out["replayed"] == ["ok", "ch_8"]  # the same id resumes its claim either way
    if claims == "released":
        assert out["left"] == {"8": None, "10": None}
        assert out["resent"] == ["ok", "ch_10"], out["resent"]
        assert sorted(out["charges"]) == ["idem:charge:10", "idem:charge:7", "idem:charge:8"]
    else:  # the stale claim blocks every other task id until CLAIM_TTL
        assert all(v.startswith("claimed:") for v in out["left"].values())
        assert out["resent"][0] == "ChargeInProgress", out["resent"]
        assert sorted(out["charges"]) == ["idem:charge:7", "idem:charge:8"]


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


class PartnerServer:
    """The partner API: a real HTTP server on a free loopback port. It answers scripted statuses
    per order (0: close the connection without an answer), else 200, or 429 once 10 calls
    arrived within the last second (its real limit), and records every arrival."""

    LIMIT = 10

    def __init__(self) -> None:
        self.script: dict[str, list[tuple[int, str | None]]] = {}
        self.arrivals: list[tuple[float, str, int]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                now = time.monotonic()
                order = self.path.rsplit("/", 1)[-1]
                with server._lock:
                    recent = sum(1 for t, _, _ in server.arrivals if now - t < 1.0)
                    if server.script.get(order):
                        status, retry_after = server.script[order].pop(0)
                    elif recent >= server.LIMIT:
                        status, retry_after = 429, "1"
                    else:
                        status, retry_after = 200, None
                    server.arrivals.append((now, order, status))
                if status == 0:  # the connection drops before the response
                    self.close_connection = True
                    return
                self.send_response(status)
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def statuses(self, order: str) -> list[int]:
        return [status for _, o, status in self.arrivals if o == order]

    def max_in_rolling_second(self) -> int:
        times = sorted(t for t, _, _ in self.arrivals)
        return max((sum(1 for u in times if t <= u < t + 1.0) for t in times), default=0)


@pytest.fixture
def partner():
    server = PartnerServer()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


# Proof only: the rule file's naive per-second counter in place of FleetLimiter.acquire.
NAIVE_LIMIT = """
import time

import partner_tasks
import rate_limit


def naive_acquire(max_wait):
    deadline = time.monotonic() + max_wait
    while not rate_limit.naive_slot(partner_tasks.r, "partner-api", limit=10):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


partner_tasks.partner_limit.acquire = naive_acquire
"""


@pytest.mark.parametrize("limiter", ["gcra", "naive"])
def test_fleet_limiter_holds_under_concurrent_workers(lab, partner, limiter):
    modules = ["partner_tasks"]
    if limiter == "naive":
        (lab.workdir / "naive_limit.py").write_text(NAIVE_LIMIT)
        modules.append("naive_limit")
    write_proof_app(lab, RULE_FILE, modules)
    env = {"PARTNER_URL": partner.url}
    for _ in range(2):  # two workers of three processes each
        lab.start("celery", WORKER.replace("=1", "=3"), ready="ready.", extra_env=env)
    out = _drive(
        lab,
        """
        from partner_tasks import push_order
        while not 0.3 < time.time() % 1 < 0.6:  # start mid-second: the counter's worst case
            time.sleep(0.01)
        results = [push_order.delay(n) for n in range(30)]
        print(json.dumps([outcome(lambda: res.get(timeout=30)) for res in results]))
    """,
        timeout=60,
        extra_env=env,
    )
    busiest = partner.max_in_rolling_second()
    throttled = sum(1 for _, _, status in partner.arrivals if status == 429)
    if limiter == "gcra":
        assert out == [["ok", 200]] * 30, out
        assert busiest <= PartnerServer.LIMIT, f"{busiest} calls in one rolling second"
        assert throttled == 0
    else:  # the counter lets a full limit through on each side of a second boundary
        assert busiest > PartnerServer.LIMIT and throttled > 0, (busiest, throttled)


# The naive variant: push_order as it stood before, with one retry counter for 429s and 5xx
# (the 429 cap only raised) and a network branch that catches URLError and TimeoutError only.
ONE_COUNTER_PUSH_ORDER = """
@app.task(bind=True, acks_late=True, max_retries=3)
def push_order(self, order_id):
    if not partner_limit.acquire(max_wait=5):
        raise self.retry(countdown=1, max_retries=THROTTLED_MAX_RETRIES)
    url = f"{PARTNER_URL}/orders/{order_id}"
    request = urllib.request.Request(url, method="POST", headers={"Idempotency-Key": f"order-{order_id}"})
    backoff = 2**self.request.retries
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        error = PartnerError(f"order {order_id}: HTTP {exc.code}")
        if exc.code not in RETRY_STATUSES:
            raise error from None
        cap = THROTTLED_MAX_RETRIES if exc.code == 429 else None
        raise self.retry(exc=error, countdown=min(retry_after(exc.headers, backoff), 300), max_retries=cap)
    except (urllib.error.URLError, TimeoutError) as exc:
        raise self.retry(exc=PartnerError(f"order {order_id}: {exc}"), countdown=backoff)
"""


@pytest.mark.parametrize("push_order", ["as_shown", "one_counter"])
def test_http_status_retry_mapping(lab, partner, push_order):
    lab.load_markdown(RULE_FILE)
    if push_order == "one_counter":
        tasks = lab.workdir / "partner_tasks.py"
        text = tasks.read_text()
        start = text.index("@app.task(bind=True, acks_late=True, max_retries=THROTTLED_MAX_RETRIES")
        tasks.write_text(text[:start] + ONE_COUNTER_PUSH_ORDER.lstrip())
    env = {"PARTNER_URL": partner.url}
    command, ready = lab.background_command(RULE_FILE)
    worker = lab.start("celery", command, ready=ready, extra_env=env)
    partner.script = {
        "404": [(404, None)],
        "500": [(500, None), (502, None)],
        "429": [(429, "2"), (429, "0"), (429, "0"), (429, "0")],
        "503": [(429, "0")] * 4 + [(503, None)],  # a healthy API that throttled first
        "drop": [(0, None)],  # RemoteDisconnected in getresponse()
    }
    out = _drive(
        lab,
        """
        from partner_tasks import push_order
        sent = {order: push_order.delay(order) for order in ("404", "500", "429", "503", "drop")}
        print(json.dumps({"ids": {o: res.id for o, res in sent.items()},
                          "results": {o: outcome(lambda: res.get(timeout=20)) for o, res in sent.items()}}))
    """,
        timeout=40,
        extra_env=env,
    )
    log = lab.output(worker)
    results, ids = out["results"], out["ids"]
    assert results["404"] == ["PartnerError", "order 404: HTTP 404"]
    assert partner.statuses("404") == [404]  # a 4xx is not retried
    assert results["500"] == ["ok", 200] and partner.statuses("500") == [500, 502, 200]
    assert _countdowns(log, ids["500"]) == [1, 2]  # backoff 2**failures
    assert _countdowns(log, ids["429"])[0] == 2  # Retry-After, not the 1 s backoff
    assert results["429"] == ["ok", 200] and partner.statuses("429") == [429] * 4 + [200]
    if push_order == "as_shown":
        assert results["503"] == ["ok", 200], results  # the 503 still has its own retries
        assert partner.statuses("503") == [429] * 4 + [503, 200]
        assert results["drop"] == ["ok", 200] and partner.statuses("drop") == [0, 200], results
    else:  # four 429s used up max_retries=3; the dropped connection escaped the except
        assert results["503"] == ["PartnerError", "order 503: HTTP 503"], results
        assert results["drop"][0] == "RemoteDisconnected" and partner.statuses("drop") == [0]
