"""Proofs for references/monitoring-health.md, against real Redis, workers, Flower and ARQ."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
from celery_lab import RedisProbe, wait_until
from skill_audit.runtime import services
from skill_audit.runtime.services import free_port

RULE_FILE = "references/monitoring-health.md"
pytestmark = pytest.mark.usefixtures("rule_file_modules")  # RULE_FILE's modules in lab.workdir
FLAGS = "--loglevel=INFO --without-gossip --without-mingle"


def start_worker(lab, pool: str, extra_env=None):
    metrics_dir = lab.workdir / "prom-metrics"
    metrics_dir.mkdir(exist_ok=True)
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), **(extra_env or {})}
    worker = lab.start(
        "celery", f"celery -A metrics_app worker {pool} {FLAGS}", ready="ready.", extra_env=env
    )
    return worker, metrics_dir


def http_get(url: str, auth: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def sample(text: str, name: str, **labels) -> float:
    """Value of one sample in Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


RUN_TASKS = """
import json
from celery import group
from metrics_app import resize_image
results = group(resize_image.s(i) for i in range(8)).apply_async().get(timeout=20)
print(json.dumps(sorted({r["pid"] for r in results})))
"""


def handler_pids(metrics_dir) -> set[int]:
    # prometheus_client multiprocess mode writes one file per process that incremented a metric.
    return {
        int(m.group(1))
        for p in metrics_dir.iterdir()
        if (m := re.fullmatch(r"counter_(\d+)\.db", p.name))
    }


@pytest.mark.parametrize("pool, in_children", [("--concurrency=2", True), ("--pool=solo", False)])
def test_signal_handlers_run_in_pool_children(lab, pool, in_children):
    worker, metrics_dir = start_worker(lab, pool)
    task_pids = set(lab.json_result("celery", RUN_TASKS))
    # postrun fires just after the result is stored: wait until every task's process has its file
    wait_until(lambda: task_pids <= handler_pids(metrics_dir), 10, f"metric files of {task_pids}")
    pids = handler_pids(metrics_dir)
    main_pid = worker.pid  # `exec celery ...`: the started process is the worker's main process
    if in_children:
        # A counter kept in the main process would read 0: no handler ever ran there.
        assert main_pid not in pids, (main_pid, pids)
    else:
        assert pids == {main_pid}, (main_pid, pids)


def test_multiprocess_exporter_sums_children(lab):
    port = free_port()
    start_worker(lab, "--concurrency=2", {"CELERY_METRICS_PORT": str(port)})
    lab.json_result("celery", RUN_TASKS)
    lab.json_result(
        "celery",
        """
import json
from metrics_app import charge_card
print(json.dumps(repr(charge_card.delay(7).get(timeout=20, propagate=False))))
""",
    )
    url = f"http://127.0.0.1:{port}/metrics"
    ok = dict(task="metrics_app.resize_image", state="SUCCESS")
    card = "metrics_app.charge_card"

    def scraped():
        text = http_get(url)[1]
        done = sample(text, "celery_tasks_total", **ok) >= 8 and sample(
            text, "celery_task_failures_total", task=card
        )
        return text if done else None

    text = wait_until(scraped, 15, "all runs in /metrics")
    assert sample(text, "celery_tasks_total", **ok) == 8  # every run, whichever child ran it
    assert sample(text, "celery_tasks_total", task=card, state="RETRY") == 2
    assert sample(text, "celery_tasks_total", task=card, state="FAILURE") == 1
    assert sample(text, "celery_task_failures_total", task=card, exception="ConnectionError") == 1


def test_flower_auth_and_metrics(lab):
    start_worker(lab, "--pool=solo")
    port = free_port()
    lab.start(
        "celery",
        f"celery -A metrics_app flower --address=127.0.0.1 --port={port} --basic-auth=ops:s3cret",
        ready="Visit me at",
    )
    base = f"http://127.0.0.1:{port}"
    assert http_get(base + "/")[0] == 401
    assert http_get(base + "/", auth="ops:wrong")[0] == 401
    assert http_get(base + "/", auth="ops:s3cret")[0] == 200
    assert http_get(base + "/api/workers")[0] == 401
    assert http_get(base + "/api/workers", auth="ops:s3cret")[0] == 200
    lab.json_result(
        "celery",
        "import json\nfrom metrics_app import resize_image\n"
        "print(json.dumps(resize_image.delay(1).get(timeout=10)))",
    )

    def succeeded():
        status, text = http_get(base + "/metrics")  # no credentials
        return (
            status == 200
            and sample(
                text, "flower_events_total", type="task-succeeded", task="metrics_app.resize_image"
            )
            >= 1
        )

    wait_until(succeeded, 15, "task-succeeded in Flower /metrics")


def test_broadcast_waits_whole_timeout(lab):
    start_worker(lab, "--pool=solo")
    timing = lab.json_result(
        "celery",
        """
import json, time
from metrics_app import app
from worker_health import worker_alive

def timed(call):
    started = time.monotonic()
    result = call()
    return bool(result), time.monotonic() - started

print(json.dumps({
    "ping": timed(lambda: app.control.ping(timeout=2.0)),
    "inspect": timed(lambda: app.control.inspect(timeout=2.0).active_queues()),
    "named": timed(lambda: worker_alive(timeout=20.0)),
    "unknown": timed(lambda: worker_alive("celery@no-such-host", timeout=0.5)),
}))
""",
    )
    for name in ("ping", "inspect"):
        replied, elapsed = timing[name]
        assert replied and elapsed >= 2.0, (name, timing[name])  # answered, yet waited it out
    replied, elapsed = timing["named"]
    assert replied and elapsed < 20.0, timing["named"]  # returned at the reply, not at the timeout
    assert timing["unknown"][0] is False

    assert run_cli(lab, 'celery -A metrics_app inspect ping -d "celery@$HOSTNAME" --timeout 5') == 0
    assert (
        run_cli(lab, "celery -A metrics_app inspect ping -d celery@no-such-host --timeout 1") != 0
    )


def run_cli(lab, command: str) -> int:
    """Run a command as a probe would: bash, the celery env first on PATH, bounded."""
    env = lab.env_vars()
    env["PATH"] = f"{lab.envs.get('celery').bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        ["bash", "-c", command], cwd=lab.workdir, env=env, capture_output=True, timeout=30
    ).returncode


def test_broker_check_fails_fast(lab):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    # A silent server (accepts TCP, never answers) hangs a probe without socket timeouts:
    # the driver's 30 s timeout then fails this test.
    checks = lab.json_result(
        "celery",
        f"""
import json, socket
from worker_health import broker_reachable
silent = socket.socket()
silent.bind(("127.0.0.1", 0))
silent.listen(16)
hung = f"redis://127.0.0.1:{{silent.getsockname()[1]}}/0"
print(json.dumps([broker_reachable(), broker_reachable({closed!r}), broker_reachable(hung, timeout=1.0)]))
""",
        timeout=30,
    )
    assert checks == [True, False, False]


def test_queue_depth_counts_priority_lists(lab):
    depth = lab.json_result(
        "celery",
        """
import json, redis
from metrics_app import REDIS_URL, app, resize_image
from worker_health import queue_depth
client = redis.Redis.from_url(REDIS_URL)
priorities = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9]
for p in priorities:
    resize_image.apply_async((p,), queue="bulk-images", priority=p)
with app.connection_for_read() as conn:
    via_kombu = conn.default_channel.queue_declare("bulk-images", passive=True).message_count
print(json.dumps({"sent": len(priorities), "depth": queue_depth(client, "bulk-images"),
                  "llen": client.llen("bulk-images"), "kombu": via_kombu}))
""",
    )
    assert depth["depth"] == depth["sent"] == depth["kombu"], depth
    assert depth["llen"] < depth["sent"], depth  # the plain list alone misses priorities 3-9


ARQ_CHECK = """
from arq.worker import check_health
from arq_health import WorkerSettings
print(check_health(WorkerSettings))
"""


def test_arq_check(lab):
    assert lab.json_result("arq", ARQ_CHECK) == 1  # no worker: no health key
    worker = lab.start("arq", "arq arq_health.WorkerSettings", ready="Starting worker")
    assert wait_until(lambda: lab.json_result("arq", ARQ_CHECK) == 0, 15, "the health key")
    lab.stop(worker)  # SIGTERM: a clean shutdown deletes the key at once (TTL would be 11 s)
    assert lab.json_result("arq", ARQ_CHECK) == 1


# Rule 8: SIGTERM during a deploy, against a running acks_late task.
DEPLOY_WORKER = "celery -A {app} worker --concurrency=1 " + FLAGS


def start_deploy_worker(lab, soft_timeout: float | None = None, remap: bool = False):
    """A worker running the markdown's deploy_tasks; `soft_timeout` shrinks its 20 s soft
    shutdown so a cancelled task can be watched within the test."""
    app = "deploy_tasks"
    if soft_timeout is not None:
        app = "deploy_proof"
        (lab.workdir / "deploy_proof.py").write_text(
            "from deploy_tasks import app, rebuild_invoice  # noqa: F401\n"
            f"app.conf.worker_soft_shutdown_timeout = {soft_timeout}\n"
        )
    env = {"REMAP_SIGTERM": "SIGQUIT"} if remap else {}
    return lab.start("celery", DEPLOY_WORKER.format(app=app), ready="ready.", extra_env=env)


def start_invoice(lab, probe, invoice_id: int, seconds: float) -> str:
    task_id = lab.json_result(
        "celery",
        "import json\nfrom deploy_tasks import rebuild_invoice\n"
        f"print(json.dumps(rebuild_invoice.delay({invoice_id}, {seconds}).id))",
    )
    wait_until(lambda: probe("LLEN", f"invoice:{invoice_id}:starts"), 15, "the task to start")
    return task_id


def invoice_outcome(lab, task_id: str, timeout: float = 15) -> dict:
    return lab.json_result(
        "celery",
        f"""
import json
from deploy_tasks import app
r = app.AsyncResult({task_id!r})
try:
    print(json.dumps({{"state": "SUCCESS", "value": r.get(timeout={timeout})}}))
except Exception as exc:
    print(json.dumps({{"state": r.state, "error": type(exc).__name__}}))
""",
    )


def sigterm(worker, group: bool) -> None:
    """Kubernetes/`docker stop` signal PID 1; dumb-init (default), `tini -g` and `kill 0`
    signal its whole process group, pool children included."""
    if group:
        os.killpg(worker.pid, signal.SIGTERM)
    else:
        os.kill(worker.pid, signal.SIGTERM)
    worker.wait(timeout=30)


def test_sigterm_to_main_process_finishes_running_task(lab):
    probe = RedisProbe(lab.redis_url)
    worker = start_deploy_worker(lab)
    task_id = start_invoice(lab, probe, 1, seconds=3)
    sigterm(worker, group=False)
    assert invoice_outcome(lab, task_id) == {"state": "SUCCESS", "value": "invoice-1.pdf"}
    assert probe("LLEN", "invoice:1:starts") == probe("LLEN", "invoice:1:done") == 1


def test_sigterm_to_process_group_loses_acks_late_task(lab):
    probe = RedisProbe(lab.redis_url)
    worker = start_deploy_worker(lab)
    task_id = start_invoice(lab, probe, 2, seconds=3)
    sigterm(worker, group=True)
    out = invoice_outcome(lab, task_id)
    assert out == {"state": "FAILURE", "error": "WorkerLostError"}, out
    # Acked despite acks_late: nothing is left that could ever re-deliver it.
    assert (probe("LLEN", "invoices"), probe("HLEN", "unacked")) == (0, 0)
    assert probe("LLEN", "invoice:2:done") == 0


def test_remapped_sigterm_to_group_finishes_within_soft_timeout(lab):
    probe = RedisProbe(lab.redis_url)
    # Soft shutdown sleeps its whole timeout once a task runs: 4 s here instead of 20.
    worker = start_deploy_worker(lab, soft_timeout=4, remap=True)
    task_id = start_invoice(lab, probe, 3, seconds=1.5)
    sigterm(worker, group=True)
    assert invoice_outcome(lab, task_id) == {"state": "SUCCESS", "value": "invoice-3.pdf"}
    assert probe("LLEN", "invoice:3:starts") == 1


def test_remapped_sigterm_requeues_task_longer_than_soft_timeout(lab):
    probe = RedisProbe(lab.redis_url)
    worker = start_deploy_worker(lab, soft_timeout=1, remap=True)
    task_id = start_invoice(lab, probe, 4, seconds=4)
    sigterm(worker, group=True)
    assert probe("LLEN", "invoice:4:done") == 0  # cancelled after the 1 s soft shutdown
    assert probe("LLEN", "invoices") == 1  # back in the queue at once, not in `unacked`
    start_deploy_worker(lab)  # the next pod
    assert invoice_outcome(lab, task_id) == {"state": "SUCCESS", "value": "invoice-4.pdf"}
    assert probe("LLEN", "invoice:4:starts") == 2


# Rule 9: a Redis restart under a running worker.
class RestartableRedis:
    """A Redis server of our own on a fixed free port, so it can die and come back there."""

    def __init__(self) -> None:
        self.port = services.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                services.redis_binary(),
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._answers, 10, "Redis to answer PING")

    def _answers(self) -> bool:
        try:
            return RedisProbe(self.url)("PING") == "PONG"
        except Exception:  # refused while it starts
            return False

    def crash(self) -> None:
        services.kill_group(self.proc, grace=0)

    def env(self) -> dict[str, str]:
        return {
            "REDIS_URL": self.url,
            "CELERY_BROKER_URL": self.url,
            "CELERY_RESULT_BACKEND": self.url,
        }


CONSUMING = (
    "import json\nfrom consumer_probe import consuming\nprint(json.dumps(consuming(timeout=8)))"
)


@pytest.mark.parametrize("reconnect", [True, False])
def test_worker_consumes_after_redis_restart(lab, reconnect):
    redis = RestartableRedis()
    redis.start()
    try:
        app = "deploy_tasks"  # the markdown's settings
        if not reconnect:  # naive variant: no reconnect after a lost connection
            app = "deploy_no_retry"
            (lab.workdir / "deploy_no_retry.py").write_text(
                "from deploy_tasks import app, canary, rebuild_invoice  # noqa: F401\n"
                "app.conf.broker_connection_retry = False\n"
            )
        worker = lab.start(
            "celery", DEPLOY_WORKER.format(app=app), ready="ready.", extra_env=redis.env()
        )
        assert lab.json_result("celery", CONSUMING, extra_env=redis.env()) is True
        redis.crash()
        time.sleep(2)  # the broker is away for a moment, as in a restart or failover
        redis.start()
        consumed = lab.json_result("celery", CONSUMING, extra_env=redis.env(), timeout=40)
        assert consumed is reconnect, lab.output(worker)[-2000:]
        if not reconnect:
            assert "Shutting down" in lab.output(worker)
    finally:
        redis.crash()


class HalfOpenProxy:
    """A TCP proxy in front of Redis that can turn the connections which carried BRPOP into
    black holes: bytes go in, nothing comes out, no FIN or RST, as after a failover behind a
    NAT or load balancer. Other connections (pub/sub, commands) and new ones keep working."""

    def __init__(self, redis_url: str) -> None:
        self.target = ("127.0.0.1", int(redis_url.rsplit(":", 1)[1].split("/")[0]))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"
        self.links: list[dict] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            link = {"brpop": False, "dead": False, "socks": [client]}
            link["socks"].append(socket.create_connection(self.target))
            self.links.append(link)
            for src, dst in (link["socks"], link["socks"][::-1]):
                threading.Thread(target=self._pump, args=(src, dst, link), daemon=True).start()

    def _pump(self, src, dst, link) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                link["brpop"] = link["brpop"] or b"BRPOP" in data
                if not link["dead"]:
                    dst.sendall(data)
        for sock in link["socks"]:
            with contextlib.suppress(OSError):
                sock.close()

    def kill_brpop_links(self) -> int:
        dead = [link for link in self.links if link["brpop"]]
        for link in dead:
            link["dead"] = True
        return len(dead)

    def close(self) -> None:
        self.listener.close()
        for link in self.links:
            for sock in link["socks"]:
                with contextlib.suppress(OSError):
                    sock.close()


PING_AND_CANARY = """
import json, socket
from consumer_probe import consuming
from deploy_tasks import app
node = f"celery@{socket.gethostname()}"
pinged = bool(app.control.ping(destination=[node], timeout=3))
print(json.dumps([pinged, consuming(node, timeout=TIMEOUT)]))
"""


@pytest.mark.parametrize("health_check_interval, resumes", [(2, True), (0, False)])
def test_half_open_broker_connection(lab, health_check_interval, resumes):
    # 2 s instead of the markdown's 10 keeps the wait short; 0 disables the check (as kombu
    # before 5.7 did for BRPOP).
    proxy = HalfOpenProxy(lab.redis_url)
    try:
        (lab.workdir / "deploy_checked.py").write_text(
            "from deploy_tasks import app, canary, rebuild_invoice  # noqa: F401\n"
            "app.conf.broker_transport_options = {**app.conf.broker_transport_options,\n"
            f"    'health_check_interval': {health_check_interval}}}\n"
        )
        worker = lab.start(
            "celery",
            DEPLOY_WORKER.format(app="deploy_checked"),
            ready="ready.",
            extra_env={"CELERY_BROKER_URL": proxy.url},  # the worker alone goes through it
        )
        check = PING_AND_CANARY.replace("TIMEOUT", "5")
        assert lab.json_result("celery", check) == [True, True]
        assert proxy.kill_brpop_links() >= 1
        # A BRPOP sent just before the cut is still served by Redis for up to its 1 s timeout,
        # and a message it pops is lost on the dead link: publish after that.
        time.sleep(1.5)
        after = lab.json_result("celery", PING_AND_CANARY.replace("TIMEOUT", "10"))
        assert after == [True, resumes], lab.output(worker)[-2000:]
        if resumes:
            assert "dropping stale connection" in lab.output(worker)
    finally:
        proxy.close()
