"""Every process skill-audit starts goes through here: spawn, wait until ready, stop, sweep.

An `Owner` (one `skill-audit run`, or one proof-test session) owns what it starts:
- every child gets its own process group, stdin from /dev/null, exactly the environment it is
  given plus `SKILL_AUDIT_OWNER=<owner id>`, and on Linux a parent-death signal (SIGKILL).
  That signal fires when the *thread* that forked exits, so all forks happen on one spawner
  thread that lives as long as the process;
- every temporary folder lives under one root folder, `$TMPDIR/skill-audit-<id>`, whose
  `owner.json` names the owning process (pid + start time); children get `<root>/tmp` as
  their TMPDIR, so what they leave in temp goes with the root;
- a watchdog process (`python -m skill_audit.runtime.watchdog`) holds the read end of a pipe
  from the owner and learns each new process group. If the owner dies without saying `done`
  (kill -9, OOM), the pipe closes and the watchdog kills those groups and every process
  carrying the owner id, then removes the root folder;
- `sweep_dead_owners` removes the roots (and processes) of owners that no longer exist, for
  the rare case where the watchdog died too.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

OWNER_VAR = "SKILL_AUDIT_OWNER"
ROOT_PREFIX = "skill-audit-"
OWNER_FILE = "owner.json"
PROC = Path("/proc")

# Variables a child inherits from the caller; everything else is dropped.
ALLOWED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP")


class Cancelled(Exception):
    """The owner is closing; no new process may start."""


def scrubbed_env(pass_env: tuple[str, ...] = ()) -> dict[str, str]:
    """The caller's environment reduced to ALLOWED_ENV, LC_* and `pass_env` names."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if k in ALLOWED_ENV or k.startswith("LC_") or k in pass_env
    }
    keep.setdefault("PATH", os.defpath)
    return keep


# -- /proc: the one scanner ----------------------------------------------------------------


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    state: str
    ppid: int
    pgid: int
    start: int  # clock ticks after boot; with pid, identifies a process across pid reuse


def proc_info(pid: int) -> ProcInfo | None:
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return ProcInfo(pid, fields[0], int(fields[1]), int(fields[2]), int(fields[19]))


def processes() -> Iterator[ProcInfo]:
    """Every live (non-zombie) process (empty where there is no /proc)."""
    if not PROC.is_dir():
        return
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            info = proc_info(int(entry.name))
            if info is not None and info.state != "Z":
                yield info


def environ_has(pid: int, entry: str, prefix: bool = False) -> bool:
    try:
        entries = (PROC / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return False
    needle = entry.encode()
    return any(e.startswith(needle) for e in entries) if prefix else needle in entries


def pids_with_env(entry: str, prefix: bool = False) -> list[int]:
    """Live processes whose environment holds `entry` (NAME=VALUE), or one starting with it."""
    me = os.getpid()
    return [p.pid for p in processes() if p.pid != me and environ_has(p.pid, entry, prefix)]


def pids_working_in(folder: Path) -> list[int]:
    """Live processes whose working directory is `folder` or below it. This finds servers
    that rewrite their process title over their environment (Redis and Valkey do)."""
    inside = str(folder).rstrip("/") + "/"
    out = []
    for info in processes():
        try:
            cwd = os.readlink(PROC / str(info.pid) / "cwd").removesuffix(" (deleted)")
        except OSError:
            continue
        if (cwd + "/").startswith(inside) and info.pid != os.getpid():
            out.append(info.pid)
    return out


def sweep(entry: str, prefix: bool = False, folder: Path | None = None) -> int:
    """SIGKILL every process carrying `entry` in its environment (or working below `folder`),
    until none is left (a dying parent may have forked once more); return how many."""
    killed = 0
    for _ in range(5):
        found = pids_with_env(entry, prefix) + (pids_working_in(folder) if folder else [])
        if not found:
            break
        for pid in found:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        time.sleep(0.05)
    return killed


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not PROC.is_dir():
        return True
    # killpg also reaches zombies; only live members count.
    return any(p.pgid == pgid for p in processes())


def is_running(pid: int, start: int | None = None) -> bool:
    info = proc_info(pid)
    if info is None or info.state == "Z":
        return False
    return start is None or info.start == start


# -- spawning -------------------------------------------------------------------------------


def _pdeathsig_hook() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig, sigkill, parent = 1, int(signal.SIGKILL), os.getpid()

    def hook() -> None:
        prctl(pr_set_pdeathsig, sigkill, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return hook


_spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="skill-audit-spawn")
_hook_pid = -1
_hook: Callable[[], None] | None = None


def _popen(cmd, kwargs) -> subprocess.Popen:
    global _hook_pid, _hook
    if _hook_pid != os.getpid():  # (re)build after a fork: the hook checks our pid
        _hook_pid, _hook = os.getpid(), _pdeathsig_hook()
    return subprocess.Popen(cmd, start_new_session=True, preexec_fn=_hook, **kwargs)


# -- stopping -------------------------------------------------------------------------------


def kill_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after `grace` seconds."""
    if proc.poll() is not None and not group_alive(proc.pid):
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        if wait_until(lambda: proc.poll() is not None and not group_alive(proc.pid), wait):
            break
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=2.0)


def stop_all(procs: list[subprocess.Popen], grace: float) -> None:
    """Stop several groups in parallel (each may use its whole grace period)."""
    if len(procs) <= 1:
        for proc in procs:
            kill_group(proc, grace=grace)
        return
    with ThreadPoolExecutor(max_workers=min(8, len(procs))) as pool:
        list(pool.map(lambda p: kill_group(p, grace=grace), procs))


# -- readiness ------------------------------------------------------------------------------


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    *,
    proc: subprocess.Popen | None = None,
    cancel: threading.Event | None = None,
    interval: float = 0.05,
) -> bool:
    """Poll `check` until it is true (True) or `timeout` passes (False). Raises
    `EarlyExit` when `proc` ends first and `Cancelled` when `cancel` is set."""
    deadline = time.monotonic() + timeout
    while True:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if check():
            return True
        if proc is not None and proc.poll() is not None:
            raise EarlyExit(proc.returncode)
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class EarlyExit(Exception):
    """The process being waited for ended before it was ready."""

    def __init__(self, code: int | None) -> None:
        super().__init__(exit_reason(code))
        self.code = code


def text_appears(log: Path, text: str) -> Callable[[], bool]:
    """A check for `wait_until`: true once `text` is in the (growing) file `log`."""
    needle = text.encode()
    state = {"seen": b"", "offset": 0}

    def check() -> bool:
        try:
            with open(log, "rb") as fh:
                fh.seek(state["offset"])
                chunk = fh.read()
        except OSError:
            return False
        state["offset"] += len(chunk)
        state["seen"] = (state["seen"] + chunk)[-(len(needle) + 65536) :]
        return needle in state["seen"]

    return check


def exit_reason(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


# -- the owner ------------------------------------------------------------------------------


class Owner:
    """What one run (or test session) started: processes, temp folders, and the watchdog."""

    def __init__(self, watchdog: bool = True, owner_id: str | None = None) -> None:
        self.id = owner_id or secrets.token_hex(6)
        self.marker = f"{OWNER_VAR}={self.id}"
        self.root = Path(tempfile.mkdtemp(prefix=f"{ROOT_PREFIX}{self.id}-")).resolve()
        me = proc_info(os.getpid())
        owner_file = self.root / OWNER_FILE
        owner_file.write_text(
            json.dumps({"id": self.id, "pid": os.getpid(), "start": me.start if me else None})
        )
        # Held until this process ends (the kernel drops it then, however it ends): the proof
        # a sweeper needs that the owner is gone, valid across PID namespaces too.
        self._owner_fd = os.open(owner_file, os.O_RDONLY | os.O_CLOEXEC)
        fcntl.flock(self._owner_fd, fcntl.LOCK_EX)
        self._lock = threading.Lock()
        self._live: list[subprocess.Popen] = []
        self.closed = False
        self._watchdog: subprocess.Popen | None = None
        if watchdog:
            self._watchdog = self._start_watchdog()

    def _start_watchdog(self) -> subprocess.Popen | None:
        env = {k: v for k, v in os.environ.items() if k != OWNER_VAR}
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "skill_audit.runtime.watchdog", self.id, str(self.root)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd="/",
                env=env,
                start_new_session=True,  # not in our group: a group kill must not reach it
            )
        except OSError:
            return None  # still covered by the parent-death signal and the next run's sweep

    def _tell(self, line: str) -> None:
        if self._watchdog is None or self._watchdog.stdin is None:
            return
        with contextlib.suppress(OSError, ValueError):
            self._watchdog.stdin.write(f"{line}\n".encode())
            self._watchdog.stdin.flush()

    def tempdir(self, prefix: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.root))

    def env(self, env: dict[str, str]) -> dict[str, str]:
        # Temp files of children (e.g. billiard's pymp-* folders) land under our root too.
        tmp = self.root / "tmp"
        tmp.mkdir(exist_ok=True)
        return {**env, OWNER_VAR: self.id, "TMPDIR": str(tmp), "TEMP": str(tmp), "TMP": str(tmp)}

    def spawn(
        self,
        cmd: list[str],
        *,
        env: dict[str, str],
        cwd: Path | str | None = None,
        stdout=None,
        stderr=subprocess.STDOUT,
        **kwargs,
    ) -> subprocess.Popen:
        """Start `cmd` in a new process group, with exactly `env` (plus the owner id)."""
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.update(env=self.env(env), cwd=cwd, stdout=stdout, stderr=stderr)
        with self._lock:
            if self.closed:
                raise Cancelled()
            proc = _spawner.submit(_popen, cmd, kwargs).result()
            self._live.append(proc)
            self._tell(f"group {proc.pid}")
            return proc

    def stop(self, proc: subprocess.Popen, grace: float) -> None:
        self.stop_many([proc], grace)

    def stop_many(self, procs: list[subprocess.Popen], grace: float) -> None:
        """Stop these groups (in parallel) and forget them."""
        stop_all(procs, grace)
        with self._lock:
            self._live = [p for p in self._live if p not in procs]

    def stop_every(self, grace: float = 5.0) -> None:
        """Refuse new processes and stop every live group, in parallel."""
        with self._lock:
            self.closed = True
            live, self._live = self._live, []
        stop_all(live, grace)

    def close(self, grace: float = 5.0) -> None:
        """Stop everything, sweep stragglers that left their group, remove the temp root,
        and dismiss the watchdog."""
        self.stop_every(grace)
        sweep(self.marker, folder=self.root)
        shutil.rmtree(self.root, ignore_errors=True)
        self._tell("done")
        with contextlib.suppress(OSError):
            os.close(self._owner_fd)
        if self._watchdog is not None:
            with contextlib.suppress(OSError, ValueError):
                self._watchdog.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._watchdog.wait(timeout=5)


def _locked(path: Path) -> bool:
    """Whether a live owner still holds the lock on its owner file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also releases our probe lock
    return False


def sweep_dead_owners(tmp: Path | None = None) -> list[Path]:
    """Remove the temp roots of owners that no longer run, and kill processes still carrying
    their id or working in their root. Only folders whose owner file names a process that is
    gone (by pid and start time) and whose lock nobody holds are touched."""
    tmp = Path(tmp or tempfile.gettempdir())
    removed = []
    for root in tmp.glob(f"{ROOT_PREFIX}*"):
        try:
            owner = json.loads((root / OWNER_FILE).read_text())
            owner_id, pid, start = str(owner["id"]), int(owner["pid"]), owner.get("start")
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if is_running(pid, start) or _locked(root / OWNER_FILE):
            continue
        sweep(f"{OWNER_VAR}={owner_id}", folder=root)
        shutil.rmtree(root, ignore_errors=True)
        removed.append(root)
    return removed


def watch(owner_id: str, root: Path, pipe) -> None:
    """The watchdog's body: read `group N` lines until `done` or end of file; on end of file
    without `done`, clean up after the dead owner."""
    groups: set[int] = set()
    for raw in pipe:
        word, _, arg = raw.decode(errors="replace").strip().partition(" ")
        if word == "done":
            return
        if word == "group" and arg.isdigit():
            groups.add(int(arg))
    marker = f"{OWNER_VAR}={owner_id}"
    for pgid in groups:
        # Only a group that still has a member carrying our id is provably ours.
        if any(p.pgid == pgid and environ_has(p.pid, marker) for p in processes()):
            with contextlib.suppress(OSError):
                os.killpg(pgid, signal.SIGKILL)
    sweep(marker, folder=root)
    shutil.rmtree(root, ignore_errors=True)


_default: Owner | None = None
_default_lock = threading.Lock()


def default_owner() -> Owner:
    """A process-wide owner for callers that do not manage one (closed at exit)."""
    global _default
    with _default_lock:
        if _default is None or _default.closed:
            _default = Owner()
            import atexit

            atexit.register(_default.close)
        return _default
