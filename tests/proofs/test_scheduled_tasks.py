"""Proofs for references/scheduled-tasks.md, against real Redis and real beat/worker processes."""

from __future__ import annotations

import re
from datetime import datetime
from itertools import pairwise

import pytest
from celery_lab import wait_until

RULE_FILE = "references/scheduled-tasks.md"
pytestmark = pytest.mark.usefixtures("rule_file_modules")  # RULE_FILE's modules in lab.workdir
SEND = re.compile(
    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): INFO/\w+\] Scheduler: Sending due task beat-heartbeat ",
    re.M,
)
WORKER = (
    "celery -A beat_app worker --concurrency=2 --loglevel=INFO --without-gossip --without-mingle"
)
# Proof only: RedBeat with a 3 s lock and a 1 s loop, so a standby takes over within seconds.
FAST_REDBEAT = (
    "from beat_app import app\napp.conf.update(redbeat_lock_timeout=3, beat_max_loop_interval=1)\n"
)

QUEUED_TASKS = """
import json, os, redis
r = redis.Redis.from_url(os.environ["REDIS_URL"])
print(json.dumps([json.loads(m)["headers"]["task"] for m in r.lrange("celery", 0, -1)]))
"""


def send_times(lab, proc) -> list[datetime]:
    return [datetime.strptime(ts, "%Y-%m-%d %H:%M:%S,%f") for ts in SEND.findall(lab.output(proc))]


def queued_heartbeats(lab) -> int:
    return lab.json_result("celery", QUEUED_TASKS).count("beat_app.beat_heartbeat")


def start_beat(
    lab, name: str, scheduler: str = "", app: str = "beat_app", ready="beat: Starting..."
):
    # Each beat gets its own schedule file, as separate hosts would.
    return lab.start(
        "celery",
        f"celery -A {app} beat --loglevel=INFO -s {name}-schedule {scheduler}",
        ready=ready,
    )


def start_redbeat_pair(lab, app: str, source: str):
    """Write the `app` module, start a RedBeat leader (once it holds the lock) and a standby."""
    (lab.workdir / f"{app}.py").write_text(source)
    redbeat = "-S redbeat.RedBeatScheduler"
    leader = start_beat(lab, "a", redbeat, app=app, ready="beat: Acquired lock")
    return leader, start_beat(lab, "b", redbeat, app=app)


def test_one_beat_sends_once_per_period(lab):
    beat = start_beat(lab, "a")
    wait_until(lambda: len(send_times(lab, beat)) >= 5, 20, "5 sends")
    lab.stop(beat)
    sends = send_times(lab, beat)
    gaps = [(b - a).total_seconds() for a, b in pairwise(sends)]
    # 1 s entry: consecutive sends a period apart, and every send is one message on the queue
    # (beat logs a send just before publishing it, so a stop may cut the last one short).
    assert min(gaps) >= 0.5, gaps
    assert len(sends) - 1 <= queued_heartbeats(lab) <= len(sends)


def test_two_beats_send_twice(lab):
    first, second = start_beat(lab, "a"), start_beat(lab, "b")
    wait_until(
        lambda: min(len(send_times(lab, first)), len(send_times(lab, second))) >= 5,
        20,
        "5 sends each",
    )
    lab.stop(first)
    lab.stop(second)
    a, b = send_times(lab, first), send_times(lab, second)
    start, end = max(a[0], b[0]), min(a[-1], b[-1])
    in_a = sum(start <= t <= end for t in a)
    in_b = sum(start <= t <= end for t in b)
    # While both run, each sends every period: the entry goes out twice as often.
    assert in_a >= 3 and in_b >= 3 and abs(in_a - in_b) <= 1, (in_a, in_b)
    assert len(a) + len(b) - 2 <= queued_heartbeats(lab) <= len(a) + len(b)  # one cut short each


def test_two_redbeat_beats_send_once(lab):
    leader, standby = start_redbeat_pair(lab, "fast_redbeat", FAST_REDBEAT)
    sent_before = len(send_times(lab, leader))
    wait_until(lambda: len(send_times(lab, leader)) >= sent_before + 5, 20, "5 leader sends")
    assert send_times(lab, standby) == [], "the standby sent while the leader held the lock"
    assert "Acquired lock" not in lab.output(standby)

    lab.kill(leader)  # crash: the lock is not released, it expires after redbeat_lock_timeout
    wait_until(lambda: len(send_times(lab, standby)) >= 3, 30, "the standby to take over")
    lab.stop(standby)
    assert "Acquired lock" in lab.output(standby)
    # Beat logs "Sending due task" before it publishes, so the leader's SIGKILL and the
    # standby's stop can each cut off a last send: at most two logged sends are missing, and
    # none is extra (no period sent by both).
    logged = len(send_times(lab, leader)) + len(send_times(lab, standby))
    assert logged - 2 <= queued_heartbeats(lab) <= logged


# Proof only: a 60 s lock, so a standby that gets it within seconds got a released lock.
LONG_LOCK_REDBEAT = (
    "from beat_app import app\napp.conf.update(redbeat_lock_timeout=60, beat_max_loop_interval=1)\n"
)


def test_redbeat_clean_stop_releases_lock(lab):
    leader, standby = start_redbeat_pair(lab, "long_lock_redbeat", LONG_LOCK_REDBEAT)
    wait_until(lambda: len(send_times(lab, leader)) >= 2, 15, "leader sends")
    assert "Acquired lock" not in lab.output(standby)
    lab.stop(leader)  # SIGTERM: beat closes the scheduler, which releases the lock
    assert "beat: Releasing lock" in lab.output(leader)
    # Far sooner than the 60 s lock expiry: the standby polls every beat_max_loop_interval.
    wait_until(
        lambda: "Acquired lock" in lab.output(standby), 15, "the standby to take the released lock"
    )


def test_redbeat_warns_without_redbeat_redis_url(lab):
    warned = lab.json_result(
        "celery",
        """
import json, warnings
from celery import Celery
from beat_app import app
from redbeat.schedulers import RedBeatConfig
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    RedBeatConfig(app)
    explicit = [str(w.message) for w in seen]
    RedBeatConfig(Celery("fallback", broker=app.conf.broker_url))  # the fault: no redbeat_redis_url
    fallback = [str(w.message) for w in seen][len(explicit):]
print(json.dumps([explicit, fallback]))
""",
    )
    explicit, fallback = warned
    assert not any("broker_url" in m for m in explicit), explicit
    assert any("stop falling back to broker_url" in m for m in fallback), fallback


def test_crontab_follows_timezone_and_dst(lab):
    hours = lab.json_result(
        "celery",
        """
import json
from datetime import datetime, timezone
from celery import Celery
from celery.schedules import crontab
from beat_app import app

def next_seven_utc(app, noon):
    local = noon.astimezone(app.timezone)
    seven = crontab(hour=7, minute=0, app=app, nowfun=lambda: local)
    return (local + seven.remaining_estimate(local)).astimezone(timezone.utc).hour

days = [datetime(2026, 1, 15, 12, tzinfo=timezone.utc), datetime(2026, 7, 15, 12, tzinfo=timezone.utc)]
default_app = Celery("no_timezone_set")
print(json.dumps({"beat_app": [next_seven_utc(app, d) for d in days],
                  "default": [next_seven_utc(default_app, d) for d in days]}))
""",
    )
    assert hours == {"beat_app": [6, 5], "default": [7, 7]}  # Berlin moves with DST; default is UTC


def test_task_lock_stops_overlap(lab):
    lab.start("celery", WORKER, ready="ready.")
    outcome = lab.json_result(
        "celery",
        """
import json, time
from beat_app import store, sync_inventory

first = sync_inventory.delay(seconds=5)
deadline = time.monotonic() + 10
while not store.exists("lock:sync-inventory"):
    assert time.monotonic() < deadline, "first run never took the lock"
    time.sleep(0.05)
second = sync_inventory.delay().get(timeout=10)
first_running = not first.ready()  # the worker ran both at once: they did overlap
after = [first.get(timeout=10), sync_inventory.delay().get(timeout=10)]
print(json.dumps({"second": second, "first_running": first_running, "after": after}))
""",
    )
    assert outcome["first_running"], "no overlap happened, so the lock was not tested"
    assert outcome["second"].startswith("skipped"), outcome
    assert outcome["after"] == ["synced", "synced"], outcome  # the lock is released after a run


def test_expired_send_is_revoked(lab):
    ids = lab.json_result(
        "celery",
        """
import json, time
from beat_app import morning_report
stale = morning_report.apply_async(expires=1)  # no worker yet: it waits in the queue
fresh = morning_report.apply_async()
time.sleep(1.5)
print(json.dumps([stale.id, fresh.id]))
""",
    )
    lab.start("celery", WORKER, ready="ready.")
    states = lab.json_result(
        "celery",
        f"""
import json
from beat_app import app
results = [app.AsyncResult(i) for i in {ids!r}]
for r in results:
    r.get(timeout=10, propagate=False)
print(json.dumps([r.state for r in results]))
""",
    )
    assert states == ["REVOKED", "SUCCESS"]


# Proof only: a 2 s visibility timeout stands in for the 1 h default, so redelivery shows quickly.
SHORT_VISIBILITY = (
    "from beat_app import app\n"
    "app.conf.broker_transport_options = {'visibility_timeout': 2, 'unacked_restore_interval': 1,\n"
    "                                   'unacked_restore_throttle': 1}\n"
)


def test_long_countdown_is_reserved_and_redelivered(lab):
    (lab.workdir / "short_visibility.py").write_text(SHORT_VISIBILITY)
    solo = "celery -A short_visibility worker --pool=solo --loglevel=INFO --without-gossip --without-mingle -n {}@%h"
    first = lab.start("celery", solo.format("first"), ready="ready.")
    where = lab.json_result(
        "celery",
        """
import json, time
from beat_app import store, sync_inventory
later = sync_inventory.apply_async(countdown=30)  # well past the 2 s visibility timeout and a slow start
deadline = time.monotonic() + 10
while not any(later.id.encode() in raw for raw in store.hvals("unacked")):
    assert time.monotonic() < deadline, "never reserved"
    time.sleep(0.05)
print(json.dumps({"id": later.id, "queued": store.llen("celery")}))
""",
    )
    assert where["queued"] == 0  # not waiting in the queue: a worker already holds it
    second = lab.start("celery", solo.format("second"), ready="ready.")
    received = f"beat_app.sync_inventory[{where['id']}] received"
    # Held past the visibility timeout, the same message is handed to the second worker as well.
    wait_until(
        lambda: received in lab.output(first) and received in lab.output(second),
        20,
        "both workers to receive the one countdown message",
    )


# Proof only: the rule file's sync_inventory with a 3 s lock; its time limit 2 s, or none at all.
# Imported by the worker and the driver alike: the sender puts the task's limits in the message.
SHORT_LOCK_APP = """
import beat_app
from beat_app import app, sync_inventory

beat_app.SYNC_LOCK_TIMEOUT = 3
sync_inventory.soft_time_limit = None
sync_inventory.time_limit = %s
"""


@pytest.mark.parametrize("time_limit", ["2", "None"])
def test_time_limit_keeps_a_hung_run_inside_its_lock(lab, time_limit):
    (lab.workdir / "short_lock.py").write_text(SHORT_LOCK_APP % time_limit)
    lab.start("celery", WORKER.replace("beat_app", "short_lock"), ready="ready.")
    out = lab.json_result(
        "celery",
        """
import json, time
import short_lock
from beat_app import store, sync_inventory

def outcome(res):
    try:
        return ["ok", res.get(timeout=15)]
    except Exception as exc:
        return [type(exc).__name__, str(exc)]

hung = sync_inventory.delay(seconds=6)  # a run that hangs past the 3 s lock
deadline = time.monotonic() + 10
while not store.exists("lock:sync-inventory"):
    assert time.monotonic() < deadline, "the hung run never took the lock"
    time.sleep(0.05)
while store.exists("lock:sync-inventory"):  # until the lock expires (3 s)
    assert time.monotonic() < deadline + 5, "the lock never expired"
    time.sleep(0.05)
next_run = outcome(sync_inventory.delay())  # the next beat send
hung_still_running = not hung.ready()
print(json.dumps({"next_run": next_run, "overlap": hung_still_running, "hung": outcome(hung)}))
""",
        timeout=60,
    )
    assert out["next_run"] == ["ok", "synced"], out
    if time_limit == "2":  # killed at the hard limit, before its lock expired: no overlap
        assert not out["overlap"], out
        assert out["hung"][0] == "TimeLimitExceeded", out
    else:  # no limit: the next run starts beside it and its own release() fails
        assert out["overlap"], out
        assert out["hung"][0] == "LockNotOwnedError", out
