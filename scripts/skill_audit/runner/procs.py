"""Every process a run starts, so that teardown can find all of them.

Each snippet, shell block, background worker and service runs in its own process group
(`start_new_session=True`). The tracker spawns them under a lock and refuses new ones once
closed, so an interrupt cannot race a spawn. As a last net for processes that leave their
group (daemonising commands), `sweep` kills whatever still carries the run's id in its
environment (Linux /proc only).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from skill_audit.runtime.services import kill_group


class Cancelled(Exception):
    """The run is being torn down; no new process may start."""


class ProcessTracker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: list[subprocess.Popen] = []
        self.closed = False

    def popen(self, cmd, **kwargs) -> subprocess.Popen:
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        with self._lock:
            if self.closed:
                raise Cancelled()
            proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
            self._live.append(proc)
            return proc

    def adopt(self, proc: subprocess.Popen) -> None:
        """Track a process started elsewhere (a service); stop it at once if closing."""
        with self._lock:
            if not self.closed:
                self._live.append(proc)
                return
        kill_group(proc, grace=5.0)
        raise Cancelled()

    def stop(self, proc: subprocess.Popen, grace: float) -> None:
        kill_group(proc, grace=grace)
        with self._lock:
            if proc in self._live:
                self._live.remove(proc)

    def close(self, grace: float = 5.0) -> None:
        """Refuse new processes and stop every tracked group, in parallel."""
        with self._lock:
            self.closed = True
            live, self._live = self._live, []
        stop_all(live, grace)


def stop_all(procs: list[subprocess.Popen], grace: float) -> None:
    if not procs:
        return
    with ThreadPoolExecutor(max_workers=min(8, len(procs))) as pool:
        list(pool.map(lambda p: kill_group(p, grace=grace), procs))


def sweep(marker: str, prefix: bool = False) -> int:
    """SIGKILL every process whose environment has the entry `marker` (or an entry starting
    with it, when `prefix`); return how many were killed."""
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        return 0
    needle = marker.encode()
    me = os.getpid()
    killed = 0
    for entry in proc_dir.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        entries = environ.split(b"\0")
        if any(e.startswith(needle) for e in entries) if prefix else needle in entries:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed
