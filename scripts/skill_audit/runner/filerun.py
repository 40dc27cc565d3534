"""Run the fences of one markdown file, in order, in one temporary work folder.

The work folder is the cwd of every block and is on PYTHONPATH; `file=` modules are written
into it (line-padded) when their fence is reached. The runner's own files (block scripts,
logs) live in a hidden sub-folder. Background processes started by the file are stopped with
their whole process group when the file ends, whatever way it ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from skill_audit.runner.plan import EnvResolver, FilePlan
from skill_audit.runner.procs import Cancelled, ProcessTracker, stop_all, sweep
from skill_audit.runner.results import FAIL, PASS, SKIP, BlockResult, FileResult
from skill_audit.runner.wrapper import python_command, rewrite_paths, tail
from skill_audit.runtime import resp
from skill_audit.runtime.envs import Env
from skill_audit.snippets.extract import Fence, padded_source
from skill_audit.snippets.grammar import Kind, shell_script

BLOCK_GRACE = 2.0  # SIGTERM -> SIGKILL for a finished or timed-out block's leftovers
BACKGROUND_GRACE = 10.0  # workers get time for a warm shutdown
SETTLE = 0.5  # a background block without ready= must survive this long
OUTPUT_LINES = 20
RUNNER_DIR = ".skill-audit-run"


@dataclass
class RunContext:
    """What every file of one run shares."""

    tracker: ProcessTracker
    resolver: EnvResolver
    base_env: dict[str, str]  # scrubbed environment plus service addresses
    redis_url: str | None  # without database: `with_db` picks the file's
    flush: bool  # FLUSHDB before each file
    run_id: str
    cancel: threading.Event
    on_block: object = None  # callable(BlockResult) for the progress line
    on_start: object = None  # callable(display path, line) for the progress line


def kind_label(fence: Fence) -> str:
    spec = fence.spec
    if spec.kind is Kind.RUN:
        return "python" if spec.is_python else "shell"
    return spec.kind.value


@dataclass
class _Background:
    fence: Fence
    proc: subprocess.Popen
    log: Path
    result: BlockResult | None = None


@dataclass
class _Module:
    result: BlockResult
    name: str
    final: bool = False  # replaced by a later version, or the file ended


@dataclass
class FileRun:
    plan: FilePlan
    ctx: RunContext
    index: int  # position in the run, for the file's run id
    redis_db: int | None
    workdir: Path = field(init=False)
    _mapping: dict[str, str] = field(default_factory=dict)
    _background: list[_Background] = field(default_factory=list)
    _modules: list[_Module] = field(default_factory=list)

    @property
    def file_run_id(self) -> str:
        return f"{self.ctx.run_id}-{self.index}"

    def run(self) -> FileResult:
        started = time.monotonic()
        result = FileResult(self.plan.display, self.plan.env, redis_db=self.redis_db)
        self.workdir = Path(tempfile.mkdtemp(prefix="skill-audit-run-")).resolve()
        (self.workdir / RUNNER_DIR).mkdir()
        try:
            self._prepare_redis()
            for fence in self.plan.fences:
                if self.ctx.cancel.is_set():
                    raise Cancelled()
                try:
                    block = self._block(fence)
                except OSError as exc:  # e.g. no bash, or an env's interpreter vanished
                    block = self._result(fence, FAIL, reason=f"cannot start: {exc}")
                if block is not None:
                    result.blocks.append(block)
                    if self.ctx.on_block:
                        self.ctx.on_block(block)
        except resp.RespError as exc:
            result.blocks.append(
                BlockResult(
                    self.plan.display,
                    1,
                    "services",
                    FAIL,
                    reason=f"cannot prepare Redis database: {exc}",
                )
            )
        except Cancelled:
            pass
        finally:
            self._note_early_exits()
            stop_all([bg.proc for bg in self._background], BACKGROUND_GRACE)
            for bg in self._background:
                self.ctx.tracker.stop(bg.proc, grace=BACKGROUND_GRACE)
            sweep(f"SKILL_AUDIT_RUN_ID={self.file_run_id}")
            self._note_imports()
            shutil.rmtree(self.workdir, ignore_errors=True)
            result.seconds = time.monotonic() - started
        return result

    # -- environment ---------------------------------------------------------------------

    def _redis_url(self) -> str | None:
        if self.ctx.redis_url is None or self.redis_db is None:
            return None
        return resp.with_db(self.ctx.redis_url, self.redis_db)

    def _prepare_redis(self) -> None:
        url = self._redis_url()
        if url and self.ctx.flush:
            resp.execute(url, ("FLUSHDB",))

    def _environ(self, env: Env) -> dict[str, str]:
        out = dict(self.ctx.base_env)
        url = self._redis_url()
        if url:
            out.update(REDIS_URL=url, CELERY_BROKER_URL=url, CELERY_RESULT_BACKEND=url)
        out["SKILL_AUDIT_RUN_ID"] = self.file_run_id
        out["PYTHONPATH"] = str(self.workdir)
        out["PYTHONUNBUFFERED"] = "1"
        out["PATH"] = os.pathsep.join(
            p for p in (str(env.bin_dir), out.get("PATH", os.defpath)) if p
        )
        if env.executable is None:
            out["VIRTUAL_ENV"] = str(env.root)
        return out

    # -- fences --------------------------------------------------------------------------

    def _result(
        self,
        fence: Fence,
        status: str,
        seconds: float = 0.0,
        reason: str | None = None,
        output: str = "",
        env: str | None = None,
    ) -> BlockResult:
        return BlockResult(
            self.plan.display, fence.line, kind_label(fence), status, seconds, reason, output, env
        )

    def _block(self, fence: Fence) -> BlockResult | None:
        spec = fence.spec
        if spec.errors:
            if spec.kind is Kind.OTHER and "partial" not in fence.info:
                return None  # other languages' info strings are not ours to judge
            return self._result(fence, FAIL, reason="info string: " + "; ".join(spec.errors))
        if spec.kind is Kind.PARTIAL:
            return self._result(fence, SKIP, reason=f"partial: {spec.reason}")
        if spec.kind in (Kind.OTHER, Kind.SHELL_STATIC):
            return None
        env_name = self.plan.env_for(fence)
        if spec.kind is Kind.COMPILE_ONLY:
            problem = self._compile(padded_source(fence), self.plan.display)
            if problem:
                return self._result(fence, FAIL, reason="does not compile", output=problem)
            return self._result(fence, SKIP, reason=f"compile-only: {spec.reason}")
        if spec.kind is Kind.MODULE:
            return self._module(fence, env_name)
        if self.ctx.on_start:
            self.ctx.on_start(self.plan.display, fence.line)
        env = self.ctx.resolver.get(self.plan, env_name)
        if spec.kind is Kind.BACKGROUND:
            return self._start_background(fence, env)
        if spec.is_python:
            script = self.workdir / RUNNER_DIR / f"block_L{fence.line}.py"
            script.write_text(padded_source(fence), encoding="utf-8")
            self._mapping[str(script)] = self.plan.display
            return self._run(fence, env, python_command(env.python, script))
        script = shell_script(spec.lang, fence.code)
        return self._run(fence, env, ["bash", "-e", "-c", script])

    @staticmethod
    def _compile(source: str, filename: str) -> str | None:
        try:
            compile(source, filename, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            return "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
        return None

    def _module(self, fence: Fence, env_name: str | None) -> BlockResult:
        name = fence.spec.module or ""
        target = self.workdir / name
        self._note_imports({target.stem})  # an earlier version is about to be replaced
        source = padded_source(fence)
        target.write_text(source, encoding="utf-8")
        for stale in (self.workdir / "__pycache__").glob(f"{target.stem}.*.pyc"):
            stale.unlink(missing_ok=True)
        self._mapping[str(target)] = self.plan.display
        problem = self._compile(source, str(target))
        if problem:
            return self._result(
                fence,
                FAIL,
                reason="module does not compile",
                output=rewrite_paths(problem, self._mapping),
                env=env_name,
            )
        result = self._result(fence, PASS, env=env_name)
        result.imported = False
        self._modules.append(_Module(result, target.stem))
        return result

    def _note_imports(self, finalize: set[str] | None = None) -> None:
        """A module counts as imported when some process wrote its bytecode cache (each
        version's stale cache is deleted when it is written). `finalize`: module names whose
        current version is done (None: all, at the end of the file)."""
        cache = self.workdir / "__pycache__"
        for mod in self._modules:
            if mod.final:
                continue
            if any(cache.glob(f"{mod.name}.*.pyc")):
                mod.result.imported = True
            if finalize is None or mod.name in finalize:
                mod.final = True
                if not mod.result.imported:
                    mod.result.reason = "never imported by a later block or worker"

    def _run(self, fence: Fence, env: Env, cmd: list[str]) -> BlockResult:
        spec = fence.spec
        log = self.workdir / RUNNER_DIR / f"out_L{fence.line}.log"
        started = time.monotonic()
        with open(log, "wb") as fh:
            proc = self.ctx.tracker.popen(
                cmd, cwd=self.workdir, env=self._environ(env), stdout=fh, stderr=subprocess.STDOUT
            )
        timed_out = False
        try:
            proc.wait(timeout=spec.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            self.ctx.tracker.stop(proc, grace=BLOCK_GRACE)  # also ends anything it left behind
        seconds = time.monotonic() - started
        if self.ctx.cancel.is_set():
            raise Cancelled()
        output = rewrite_paths(log.read_text(encoding="utf-8", errors="replace"), self._mapping)
        code = proc.returncode
        reason = None
        if timed_out:
            reason = f"timed out after {spec.timeout:g}s (process group killed)"
        elif spec.expect_fail:
            if code == 0:
                reason = "expected a failure, but the block succeeded"
            elif spec.expect_text and spec.expect_text not in output:
                reason = f"failed as expected, but the output does not contain {spec.expect_text!r}"
        elif code != 0:
            reason = _exit_reason(code)
        if reason is None:
            return self._result(fence, PASS, seconds, env=env.name)
        return self._result(fence, FAIL, seconds, reason, self._details(output), env.name)

    def _details(self, output: str) -> str:
        parts = [tail(output, OUTPUT_LINES)] if output.strip() else ["(no output)"]
        for bg in self._background:
            state = "running" if bg.proc.poll() is None else _exit_reason(bg.proc.returncode)
            text = rewrite_paths(
                bg.log.read_text(encoding="utf-8", errors="replace"), self._mapping
            )
            if text.strip():
                parts.append(f"--- background block at line {bg.fence.line} ({state}), last lines:")
                parts.append(tail(text, 10))
        return "\n".join(parts)

    def _start_background(self, fence: Fence, env: Env) -> BlockResult:
        spec = fence.spec
        log = self.workdir / RUNNER_DIR / f"bg_L{fence.line}.log"
        started = time.monotonic()
        with open(log, "wb") as fh:
            proc = self.ctx.tracker.popen(
                ["bash", "-c", shell_script(spec.lang, fence.code)],
                cwd=self.workdir,
                env=self._environ(env),
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        background = _Background(fence, proc, log)
        self._background.append(background)
        problem = self._wait_ready(proc, log, spec.ready, spec.timeout)
        seconds = time.monotonic() - started
        if problem is None:
            background.result = self._result(fence, PASS, seconds, env=env.name)
            return background.result
        self.ctx.tracker.stop(proc, grace=BLOCK_GRACE)
        output = rewrite_paths(log.read_text(encoding="utf-8", errors="replace"), self._mapping)
        return self._result(
            fence, FAIL, seconds, problem, tail(output, OUTPUT_LINES) or "(no output)", env.name
        )

    def _note_early_exits(self) -> None:
        """A background process must live until the end of its file: one that ended on its
        own after it was ready turns its block into a FAIL."""
        for bg in self._background:
            if bg.result is None or bg.result.status != PASS or bg.proc.poll() is None:
                continue
            output = rewrite_paths(
                bg.log.read_text(encoding="utf-8", errors="replace"), self._mapping
            )
            bg.result.status = FAIL
            bg.result.reason = (
                f"background process exited before the end of the file "
                f"({_exit_reason(bg.proc.returncode)})"
            )
            bg.result.output = tail(output, OUTPUT_LINES) or "(no output)"

    def _wait_ready(
        self, proc: subprocess.Popen, log: Path, ready: str | None, timeout: float
    ) -> str | None:
        deadline = time.monotonic() + (SETTLE if ready is None else timeout)
        seen = b""
        needle = ready.encode() if ready else None
        with open(log, "rb") as fh:
            while True:
                if self.ctx.cancel.is_set():
                    raise Cancelled()
                if needle is not None:
                    seen = (seen + fh.read())[-(len(needle) + 65536) :]
                    if needle in seen:
                        return None
                if proc.poll() is not None:
                    return f"background process exited early ({_exit_reason(proc.returncode)})"
                if time.monotonic() >= deadline:
                    if needle is None:
                        return None
                    return f"not ready: {ready!r} did not appear within {timeout:g}s"
                time.sleep(0.05)


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
