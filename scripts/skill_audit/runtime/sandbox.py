"""A sandbox around a whole `skill-audit run`: Linux user, network, PID and mount namespaces.

Inside, the run has its own loopback (so Redis and Temporal sit on their default ports 6379
and 7233 and the host's network, loopback included, is out of reach), its own PID namespace
whose init is killed by the kernel when skill-audit dies (SIGKILL included), and a mount
namespace where the skill folders and $HOME are read-only while the temp folder (work folders,
services' data) stays writable.

Why ctypes and not the util-linux `unshare` binary: the sandbox wraps a Python callable (the
rest of the run, after the envs were built outside with network access), so it must be entered
by a forked copy of this process, not by an exec'd program; the binary would force a re-exec
and re-planning, its flags differ between versions (and it is absent on busybox), and it cannot
set up read-only bind mounts or drop capabilities for us. Python 3.11 has no `os.unshare`, so
we call libc's `unshare`, `mount` and `prctl` directly; the loopback comes up with an ioctl.

Processes (P0 is the skill-audit the user started):

    P0 (host)          waits, forwards SIGINT/SIGTERM to the init, exits with the run's status
     `- relay          new user+net+mount namespaces; PDEATHSIG(SIGKILL) on P0
         `- init       PID 1 of the new PID namespace; PDEATHSIG(SIGKILL) on the relay; reaps
             `- run    the callable (the rest of `skill-audit run`), with the original handlers

When P0 dies, the relay gets SIGKILL, then the init, and the kernel kills everything left in
the PID namespace. The ids are mapped one to one (your uid stays your uid), so snippets run
without capabilities; for root, CAP_SYS_ADMIN and CAP_NET_ADMIN leave the bounding set, so no
snippet can remount the read-only folders or touch the network setup.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from skill_audit.runtime import processes

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_STRICTATIME = 0x400, 0x800, 0x200000, 0x1000000

PR_SET_PDEATHSIG, PR_CAPBSET_DROP = 1, 24
CAP_NET_ADMIN, CAP_SYS_ADMIN = 12, 21

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1

SETUP_FAILED = 125  # exit status of a helper whose setup failed (its reason went to the pipe)
DEFAULT_PORTS = {"redis": 6379, "temporal": 7233}

_private_network = False  # set in the sandboxed process when it owns its loopback


class SandboxUnavailable(Exception):
    """The sandbox cannot be set up here (one-line reason)."""


@dataclass(frozen=True)
class Spec:
    read_only: tuple[Path, ...] = ()  # bound read-only (folders); missing ones are skipped
    writable: tuple[Path, ...] = ()  # stay writable even when below a read-only folder
    network: bool = True  # a private network namespace with only `lo`


def private_network() -> bool:
    """True inside a sandbox with its own loopback: services take their default ports."""
    return _private_network


def service_port(name: str) -> int:
    """The port a private service listens on: its default one on a private loopback,
    otherwise a free one."""
    if _private_network:
        return DEFAULT_PORTS[name]
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- availability -----------------------------------------------------------------------------


def static_reason() -> str | None:
    """Why the sandbox cannot work here, from what is visible without trying; None if it may."""
    if not sys.platform.startswith("linux"):
        return f"namespaces are Linux-only (this is {sys.platform})"
    if not Path("/proc/self/ns/user").exists():
        return "the kernel has no user namespaces"
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.fileno()
        except (AttributeError, OSError, ValueError):
            return "output is not a file descriptor (in-process call)"
    return None


def probe(network: bool = True) -> str | None:
    """None when a sandbox can be created here, else the reason (tries it with a no-op)."""
    try:
        status = run(lambda: 0, Spec(network=network))
    except SandboxUnavailable as exc:
        return str(exc)
    return None if status == 0 else f"a no-op exited with status {status} in the sandbox"


# -- entering ---------------------------------------------------------------------------------


def run(fn: Callable[[], int | None], spec: Spec) -> int:
    """Run `fn` in a fresh sandbox and return its exit status (128+N when killed by signal N).
    Raises SandboxUnavailable, with nothing changed in this process, when setup fails."""
    outside = _launch(spec)
    if outside is None:  # the sandboxed copy of this process
        code = 1
        try:
            code = fn() or 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(code & 0xFF)
    return outside.wait()


def enter(spec: Spec, on_exit: Callable[[int], None] | None = None) -> None:
    """Continue this program inside a fresh sandbox: returns only in the sandboxed copy; this
    process waits for it, calls `on_exit(status)` and exits with its status. Raises
    SandboxUnavailable (nothing changed) when setup fails."""
    # The kernel ends every process of the sandbox when this one dies, but files outlive it:
    # a temp root owned out here, with its watchdog outside the namespaces, is removed when
    # this process ends however it ends (kill -9 included). The run keeps its files under it.
    processes.sweep_dead_owners()  # from out here: inside, /proc shows only the sandbox
    outer = processes.Owner()
    try:
        outside = _launch(spec)
    except BaseException:
        outer.close()
        raise
    if outside is None:  # the sandboxed copy
        tmp = outer.root / "tmp"
        tmp.mkdir(exist_ok=True)
        os.environ["TMPDIR"] = tempfile.tempdir = str(tmp)
        return
    try:
        status = outside.wait()
    finally:
        outer.close()
    if on_exit:
        on_exit(status)
    sys.exit(status)


def enter_run(
    plans: Iterable,
    *,
    disabled: bool,
    required: bool,
    own_services: str | None,
    log: Callable[[str], None] | None = None,
) -> None:
    """The sandbox policy of `skill-audit run`, called once the envs are built (that needs the
    network). `own_services` names the option (--redis-url...) that points at the user's own
    services: those live on the host's loopback, so the network stays shared."""
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    if disabled:
        if required:
            raise SandboxUnavailable("--no-sandbox and --require-sandbox exclude each other")
        return
    reason = static_reason()
    if reason is None:
        spec = Spec(_skill_folders(plans), (Path(tempfile.gettempdir()),), own_services is None)

        def notice(status: int) -> None:  # after the run, so a setup error stays one line
            if own_services and status in (0, 1):
                log(f"skill-audit: sandboxed without a private network ({own_services} given)")

        try:
            enter(spec, notice)
            return
        except SandboxUnavailable as exc:
            reason = str(exc)
    if required:
        raise SandboxUnavailable(f"--require-sandbox: {reason}")
    log(f"skill-audit: not sandboxed ({reason}); snippets see your network and files")


def _skill_folders(plans: Iterable) -> tuple[Path, ...]:
    folders = {Path(os.path.expanduser("~"))}
    for plan in plans:
        folders.add(plan.path.parent)
        if plan.project.pyproject is not None:
            folders.add(plan.project.pyproject.parent)
        for parent in plan.path.parents:  # the skill root: the nearest folder with SKILL.md
            if (parent / "SKILL.md").is_file():
                folders.add(parent)
                break
    return tuple(sorted(folders))


# -- the process chain ------------------------------------------------------------------------


class _Outside:
    """P0's handle on a started sandbox: forwards SIGINT/SIGTERM to its init."""

    def __init__(self, relay: int, init: int, previous: dict) -> None:
        self.relay, self.init, self.previous = relay, init, previous

    def wait(self) -> int:
        try:
            status = _waitpid(self.relay)
        finally:
            for sig, handler in self.previous.items():
                signal.signal(sig, handler)
        return status


def _launch(spec: Spec) -> _Outside | None:
    reason = static_reason()
    if reason:
        raise SandboxUnavailable(reason)
    libc = _libc()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    read_end, write_end = os.pipe()
    parent = os.getpid()
    relay = os.fork()
    if relay == 0:
        os.close(read_end)
        try:
            _relay(libc, spec, write_end, parent)  # returns only in the sandboxed copy
        except BaseException as exc:  # never let a helper fall back into the caller's code
            _send(write_end, f"error {type(exc).__name__}: {exc}")
            os._exit(SETUP_FAILED)
        return None
    os.close(write_end)
    try:
        return _outside(relay, read_end)
    except BaseException as exc:
        if not isinstance(exc, SandboxUnavailable):  # e.g. a bug: no sandbox left running
            with contextlib.suppress(OSError):
                os.kill(relay, signal.SIGKILL)
                os.waitpid(relay, 0)
        raise


def _outside(relay: int, read_end: int) -> _Outside:
    pending: list[int] = []
    target: list[int] = []

    def forward(signum, frame):
        if target:
            with contextlib.suppress(ProcessLookupError):
                os.kill(target[0], signum)
        else:
            pending.append(signum)

    previous = {}
    if _main_thread():
        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    error, ready = None, False
    with os.fdopen(read_end, "rb") as pipe:
        for raw in pipe:  # "pid" (from the relay) and "ready" (from the init) in either order
            word, _, rest = raw.decode(errors="replace").strip().partition(" ")
            if word == "pid":
                target.append(int(rest))
                for signum in pending:
                    forward(signum, None)
            elif word == "error":
                error = rest
                break
            ready = ready or word == "ready"
            if ready and target:
                break
        else:
            error = "the sandbox helper exited during setup"
    if error is None:
        return _Outside(relay, target[0], previous)
    _waitpid(relay)
    for sig, handler in previous.items():
        signal.signal(sig, handler)
    for signum in pending:  # now handled the usual way (KeyboardInterrupt...)
        os.kill(os.getpid(), signum)
    raise SandboxUnavailable(error)


def _relay(libc, spec: Spec, report: int, parent: int) -> bool:
    """The relay (P0's child). Returns True only in the sandboxed copy; else never returns."""
    step = "parent-death signal"
    try:
        _die_with_parent(libc)
        if os.getppid() != parent:
            os._exit(SETUP_FAILED)
        os.setpgid(0, 0)  # out of the terminal's foreground group: P0 forwards Ctrl-C
        handlers = {
            sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        uid, gid = os.geteuid(), os.getegid()  # before unshare: then they read as unmapped
        step = "unshare"
        flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | (CLONE_NEWNET if spec.network else 0)
        _check(libc.unshare(flags))
        step = "uid/gid map"
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
        lifeline, keep = os.pipe()
        init = os.fork()
    except OSError as exc:
        _fail(report, step, exc)
    if init == 0:
        os.close(keep)
        return _init(libc, spec, report, lifeline, handlers)
    os.close(lifeline)
    _send(report, f"pid {init}")
    os.close(report)
    os._exit(_waitpid(init))


def _init(libc, spec: Spec, report: int, lifeline: int, handlers: dict) -> bool:
    """PID 1 of the new namespace: set up, start the sandboxed copy, reap until it ends."""
    step = "parent-death signal"
    try:
        _die_with_parent(libc)
        if select.select([lifeline], [], [], 0)[0]:  # EOF: the relay died before prctl
            os._exit(SETUP_FAILED)
        step = "mount namespace"
        _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None))
        _mount_folders(libc, spec)
        step = "mount /proc"
        _check(libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None))
        if spec.network:
            step = "loopback up"
            _loopback_up()
        step = "drop capabilities"
        for cap in (CAP_SYS_ADMIN, CAP_NET_ADMIN):
            _check(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
    except OSError as exc:
        _fail(report, step, exc)
    signals = set(handlers)
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    child = os.fork()
    if child == 0:
        os.close(report)
        os.close(lifeline)
        for sig, handler in handlers.items():  # the caller's own (KeyboardInterrupt...)
            signal.signal(sig, handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)
        global _private_network
        _private_network = spec.network
        return True
    for sig in signals:
        signal.signal(sig, lambda signum, frame: os.kill(child, signum))
    _send(report, "ready")
    os.close(report)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)
    status = 1
    while True:  # PID 1 adopts orphans: reap them all, leave when the run itself ends
        try:
            pid, raw = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if pid == child:
            status = _exit_code(raw)
            break
    os._exit(status)  # the kernel now kills whatever is left in the namespace


def _mount_folders(libc, spec: Spec) -> None:
    writable = _existing(spec.writable)
    read_only = [r for r in _existing(spec.read_only) if r not in writable]  # temp wins
    writable = [w for w in writable if any(_below(w, r) for r in read_only)]
    for folder in read_only + writable:  # parents first: a child bind stays on top
        _check(libc.mount(bytes(folder), bytes(folder), None, MS_BIND | MS_REC, None))
    for folder in read_only:
        # a remount must keep the flags the outer namespace locked (nosuid, nodev, atime...)
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY | _kept_flags(folder)
        _check(libc.mount(None, bytes(folder), None, flags, None))


def _existing(folders: Iterable[Path]) -> list[Path]:
    found = {Path(os.path.realpath(f)) for f in folders if Path(f).is_dir()} - {Path("/")}
    return sorted(found, key=lambda p: len(p.parts))


def _below(path: Path, folder: Path) -> bool:
    return path != folder and path.is_relative_to(folder)


def _kept_flags(folder: Path) -> int:
    have = os.statvfs(folder).f_flag
    pairs = (
        (os.ST_NOSUID, MS_NOSUID),
        (os.ST_NODEV, MS_NODEV),
        (os.ST_NOEXEC, MS_NOEXEC),
        (os.ST_NOATIME, MS_NOATIME),
        (os.ST_NODIRATIME, MS_NODIRATIME),
        (os.ST_RELATIME, MS_RELATIME),
    )
    flags = sum(ms for st, ms in pairs if have & st)
    if not have & (os.ST_NOATIME | os.ST_RELATIME):
        flags |= MS_STRICTATIME  # else the kernel assumes relatime, a locked-flag change
    return flags


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | IFF_UP))


# -- small helpers ----------------------------------------------------------------------------


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        for name in ("unshare", "mount", "prctl"):
            getattr(libc, name)
    except (OSError, AttributeError) as exc:
        raise SandboxUnavailable(f"libc has no namespace calls: {exc}") from None
    libc.mount.argtypes = [
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_ulong,
        ctypes.c_void_p,
    ]
    libc.prctl.argtypes = [ctypes.c_int, *[ctypes.c_ulong] * 4]
    return libc


def _check(result: int) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _die_with_parent(libc) -> None:
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0))


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _send(fd: int, line: str) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, (line + "\n").encode())


def _fail(report: int, step: str, exc: OSError) -> None:
    _send(report, f"error {step}: {_explain(step, exc)}")
    os._exit(SETUP_FAILED)


def _explain(step: str, exc: OSError) -> str:
    text = exc.strerror or str(exc)
    if exc.errno in (errno.EPERM, errno.EACCES):  # Ubuntu 24.04 fails here, not at unshare
        return f"{text} (user namespaces restricted, e.g. by AppArmor or a container policy)"
    if step == "unshare" and exc.errno == errno.ENOSPC:
        return f"{text} (user.max_user_namespaces limit reached)"
    return text


def _waitpid(pid: int) -> int:
    _, raw = os.waitpid(pid, 0)
    return _exit_code(raw)


def _exit_code(raw: int) -> int:
    code = os.waitstatus_to_exitcode(raw)
    return 128 - code if code < 0 else code


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
