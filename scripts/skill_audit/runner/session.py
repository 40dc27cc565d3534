"""One `skill-audit run`: services, the files (in parallel where safe), and a teardown that
leaves no process behind on success, failure, timeout, Ctrl-C or SIGTERM.

Every process and temp folder belongs to the run's `processes.Owner` (runtime/processes.py):
children die with the run even on kill -9 (parent-death signal, and a watchdog holding a
pipe to the run), and a run first sweeps what dead runs left behind. The main thread only
waits, so an interrupt (KeyboardInterrupt, which the command also raises for SIGTERM) always
lands there; it then stops every group, lets the workers finish, and sweeps stragglers by
the run id in their environment.

Parallelism: each file gets its own work folder and its own Redis database (one per worker
slot, flushed before each file). Temporal task queues are named by the snippets, so at most
one file that needs Temporal runs at a time. With a user's Redis the run is sequential,
because it keeps to one dedicated database.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import signal
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from skill_audit.runner.filerun import FileRun, RunContext
from skill_audit.runner.plan import EnvResolver, FilePlan, needs_temporal
from skill_audit.runner.results import FileResult
from skill_audit.runtime import processes, resp, services
from skill_audit.runtime.processes import ALLOWED_ENV, scrubbed_env  # noqa: F401 (re-export)


class ServiceSetupError(Exception):
    """A service could not be started or reached (one line, exit 2)."""


@dataclass
class RunOptions:
    jobs: int = 2
    redis_url: str | None = None  # a user's Redis instead of ours
    redis_db: int = 15
    allow_flush: bool = False
    temporal_address: str | None = None
    pass_env: tuple[str, ...] = ()
    fixtures: Path | None = None  # copied into every work folder


@dataclass
class ServiceInfo:
    redis: str = "not needed"  # embedded | external | not needed
    redis_seconds: float | None = None
    temporal: str = "not needed"  # embedded | external | not needed
    temporal_seconds: float | None = None

    def to_dict(self) -> dict:
        return {
            "redis": {"mode": self.redis, "start_seconds": _r(self.redis_seconds)},
            "temporal": {"mode": self.temporal, "start_seconds": _r(self.temporal_seconds)},
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def require_loopback(host: str, what: str) -> None:
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        raise ServiceSetupError(f"{what}: cannot resolve host {host!r}") from None
    for info in infos:
        if not ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback:
            raise ServiceSetupError(
                f"{what}: {host!r} is not a loopback address; "
                "skill-audit run only talks to services on this machine"
            )


def split_temporal_address(address: str):
    """(parsed, port) of a --temporal-address, or ServiceSetupError. Called before anything
    slow (env builds) so a typo is a one-line usage error at once."""
    parts = urlsplit("//" + address)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or not port:
        raise ServiceSetupError(f"--temporal-address must be HOST:PORT, not {address!r}")
    require_loopback(parts.hostname, "--temporal-address")
    return parts, port


@dataclass
class Session:
    plans: list[FilePlan]
    resolver: EnvResolver
    options: RunOptions
    on_file: object = None  # callable(FileResult), called in plan order as files finish
    on_block: object = None
    on_start: object = None
    info: ServiceInfo = field(default_factory=ServiceInfo)
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))

    def __post_init__(self) -> None:
        processes.sweep_dead_owners()
        self.owner = processes.Owner(owner_id=self.run_id)
        self.cancel = threading.Event()
        self._services: list[services.Service] = []
        self._results: dict[int, FileResult] = {}
        self._next_emit = 0
        self._emit_lock = threading.Lock()
        self._needs_temporal = [p.runnable and needs_temporal(p, self.resolver) for p in self.plans]

    # -- public --------------------------------------------------------------------------

    def run(self) -> list[FileResult]:
        pool = ThreadPoolExecutor(max_workers=self._jobs() + 2, thread_name_prefix="skill-audit")
        try:
            base_env = self._wait(pool.submit(self._start_services))
            ctx = RunContext(
                self.owner,
                self.resolver,
                base_env,
                self._redis_base(),
                self._flush(),
                self.run_id,
                self.cancel,
                self.options.fixtures,
                self.on_block,
                self.on_start,
            )
            slots = self._slots()
            self._pending = list(range(len(self.plans)))
            self._cond = threading.Condition()
            self._temporal_busy = False
            workers = [pool.submit(self._worker, ctx, db) for db in slots]
            for worker in workers:
                self._wait(worker)
            return [self._results[i] for i in sorted(self._results)]
        finally:
            self._teardown(pool)

    # -- services ------------------------------------------------------------------------

    def _start_services(self) -> dict[str, str]:
        env = scrubbed_env(self.options.pass_env)
        want_temporal = any(self._needs_temporal) and not self.options.temporal_address
        # no service for a run where no block starts a process
        want_redis = any(p.runnable for p in self.plans) and not self.options.redis_url
        with ThreadPoolExecutor(max_workers=2) as starter:
            redis_future = starter.submit(self._redis) if want_redis else None
            temporal_future = starter.submit(self._temporal) if want_temporal else None
            if self.options.redis_url:
                self._check_external_redis()
            if self.options.temporal_address:
                self._check_external_temporal()
                self.info.temporal = "external"
            errors = []
            for fut in (redis_future, temporal_future):
                if fut is not None:
                    try:
                        fut.result()
                    except (services.ServiceError, ServiceSetupError) as exc:
                        errors.append(str(exc))
            if errors:
                raise ServiceSetupError(errors[0])
        if self.options.temporal_address:
            env["TEMPORAL_ADDRESS"] = self.options.temporal_address
        for svc in self._services:
            if svc.name == "temporal":
                env["TEMPORAL_ADDRESS"] = svc.extra["address"]
        return env

    def _redis(self) -> None:
        started = time.monotonic()
        svc = services.start_redis(owner=self.owner)
        self.info.redis_seconds = time.monotonic() - started
        self.info.redis = "embedded"
        self._services.append(svc)

    def _temporal(self) -> None:
        started = time.monotonic()
        extra = []
        for plan, needed in zip(self.plans, self._needs_temporal, strict=True):
            if needed:
                # env problems were reported at plan time
                with contextlib.suppress(Exception):
                    fence = next(f for f in plan.fences if f.spec.executes)
                    extra.append(self.resolver.get(plan, fence).bin_dir)
        svc = services.start_temporal(services.temporal_binary(extra), owner=self.owner)
        self.info.temporal_seconds = time.monotonic() - started
        self.info.temporal = "embedded"
        self._services.append(svc)

    def _check_external_redis(self) -> None:
        url = self.options.redis_url or ""
        try:
            addr = resp.parse_redis_url(url)
        except ValueError as exc:
            raise ServiceSetupError(f"--redis-url: {exc}") from None
        require_loopback(addr.host, "--redis-url")
        self.info.redis = "external"
        started = time.monotonic()
        try:
            resp.execute(resp.with_db(url, self.options.redis_db), ("PING",))
        except resp.RespError as exc:
            raise ServiceSetupError(f"--redis-url: {exc}") from None
        self.info.redis_seconds = time.monotonic() - started

    def _check_external_temporal(self) -> None:
        address = self.options.temporal_address or ""
        parts, port = split_temporal_address(address)
        try:
            socket.create_connection((parts.hostname, port), timeout=5).close()
        except OSError as exc:
            raise ServiceSetupError(
                f"--temporal-address {address}: {exc.strerror or exc}"
            ) from None

    def _redis_base(self) -> str | None:
        # (None when no file needs a service: none was started)
        if self.options.redis_url:
            return self.options.redis_url
        for svc in self._services:
            if svc.name == "redis":
                return svc.extra["url"]
        return None

    def _flush(self) -> bool:
        return self.options.redis_url is None or self.options.allow_flush

    def _jobs(self) -> int:
        return 1 if self.options.redis_url else max(1, min(self.options.jobs, len(self.plans) or 1))

    def _slots(self) -> list[int]:
        if self.options.redis_url:
            return [self.options.redis_db]
        return list(range(self._jobs()))  # our Redis: one database per worker slot

    # -- scheduling ----------------------------------------------------------------------

    def _worker(self, ctx: RunContext, db: int) -> None:
        while True:
            with self._cond:
                index = self._take()
                if index is None:
                    return
            try:
                result = FileRun(self.plans[index], ctx, index, db).run()
            finally:
                with self._cond:
                    if self._needs_temporal[index]:
                        self._temporal_busy = False
                    self._cond.notify_all()
            self._deliver(index, result)

    def _take(self) -> int | None:
        """The next file this worker may run (waits while only Temporal files are left and
        another one is running). Called with the condition held."""
        while not self.cancel.is_set() and self._pending:
            for pos, index in enumerate(self._pending):
                if not (self._needs_temporal[index] and self._temporal_busy):
                    del self._pending[pos]
                    if self._needs_temporal[index]:
                        self._temporal_busy = True
                    return index
            self._cond.wait(0.2)
        return None

    def _deliver(self, index: int, result: FileResult) -> None:
        with self._emit_lock:
            self._results[index] = result
            while self._next_emit in self._results:
                if self.on_file:
                    self.on_file(self._results[self._next_emit])
                self._next_emit += 1

    # -- teardown ------------------------------------------------------------------------

    @staticmethod
    def _wait(future: Future):
        # Short waits keep the main thread responsive to signals.
        while True:
            try:
                return future.result(timeout=0.2)
            except FutureTimeout:
                continue

    def _teardown(self, pool: ThreadPoolExecutor) -> None:
        restore = _hold_signals()
        try:
            self.cancel.set()
            self.owner.stop_every()
            pool.shutdown(wait=True)
            processes.sweep(f"SKILL_AUDIT_RUN_ID={self.run_id}-", prefix=True)
            self.owner.close()  # anything a worker started while we waited, and the temp root
        finally:
            restore()


def _hold_signals():
    """Ignore SIGINT/SIGTERM while tearing down (a second Ctrl-C must not abort cleanup);
    returns a function that restores the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def run_session(plans: list[FilePlan], resolver: EnvResolver, options: RunOptions, **hooks):
    """One whole session: sweep what dead runs left, start services, run every file, tear
    down. Returns (file results, service info). This is the one place a run starts, so a
    wrapper (e.g. Linux namespaces around the whole run) can go around this call."""
    session = Session(plans, resolver, options, **hooks)
    return session.run(), session.info
