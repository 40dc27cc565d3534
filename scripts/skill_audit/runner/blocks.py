"""One runner per block kind. Each turns a fence into a `BlockResult`; `FileRun` picks the
runner and owns the work folder they share.

    ModuleBlocks      python file=NAME.py: written into the work folder, compiled, and
                      counted as imported once some later process wrote its bytecode cache
    CompileOnly       python compile-only="why": compiled, reported as SKIP
    ForegroundBlocks  python (isolated mode) and `bash run`: a fresh process per block
    SharedPython      python (shared mode): one interpreter per file, blocks run in order in
                      one namespace, so later blocks see earlier names
    BackgroundBlocks  `bash background`: started, waited for (ready=), kept until the end of
                      the file, then stopped with their whole process group
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from skill_audit.runner.results import FAIL, PASS, SKIP, BlockResult
from skill_audit.runner.wrapper import python_command, shared_command, tail
from skill_audit.runtime import processes
from skill_audit.runtime.envs import Env
from skill_audit.runtime.processes import Cancelled, exit_reason
from skill_audit.snippets.extract import Fence, padded_source
from skill_audit.snippets.grammar import shell_script

if TYPE_CHECKING:
    from skill_audit.runner.filerun import FileRun

BLOCK_GRACE = 2.0  # SIGTERM -> SIGKILL for a finished or timed-out block's leftovers
BACKGROUND_GRACE = 10.0  # workers get time for a warm shutdown
SETTLE = 0.5  # a background block without ready= must survive this long
OUTPUT_LINES = 20


def compile_problem(source: str, filename: str) -> str | None:
    try:
        compile(source, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        return "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
    return None


def judge(fence: Fence, code: int | None, output: str, timed_out: bool) -> str | None:
    """The failure reason of a finished block, or None when it passed."""
    spec = fence.spec
    if timed_out:
        return f"timed out after {spec.timeout:g}s (process group killed)"
    if spec.expect_fail:
        if code == 0:
            return "expected a failure, but the block succeeded"
        if spec.expect_text and spec.expect_text not in output:
            return f"failed as expected, but the output does not contain {spec.expect_text!r}"
        return None
    return None if code == 0 else exit_reason(code)


class CompileOnly:
    def __init__(self, file: FileRun) -> None:
        self.file = file

    def run(self, fence: Fence) -> BlockResult:
        problem = compile_problem(padded_source(fence), self.file.plan.display)
        if problem:
            return self.file.result(fence, FAIL, reason="does not compile", output=problem)
        return self.file.result(fence, SKIP, reason=f"compile-only: {fence.spec.reason}")


@dataclass
class _Module:
    result: BlockResult
    name: str
    final: bool = False  # replaced by a later version, or the file ended


class ModuleBlocks:
    def __init__(self, file: FileRun) -> None:
        self.file = file
        self.modules: list[_Module] = []

    def run(self, fence: Fence) -> BlockResult:
        ws = self.file.ws
        env_name = self.file.plan.env_for(fence)
        target = ws.folder / (fence.spec.module or "")
        self.note_imports({target.stem})  # an earlier version is about to be replaced
        source = padded_source(fence)
        target.write_text(source, encoding="utf-8")
        for stale in (ws.folder / "__pycache__").glob(f"{target.stem}.*.pyc"):
            stale.unlink(missing_ok=True)
        ws.mapping[str(target)] = self.file.plan.display
        problem = compile_problem(source, str(target))
        if problem:
            return self.file.result(
                fence,
                FAIL,
                reason="module does not compile",
                output=ws.rewrite(problem),
                env=env_name,
            )
        result = self.file.result(fence, PASS, env=env_name)
        result.imported = False
        self.modules.append(_Module(result, target.stem))
        return result

    def note_imports(self, finalize: set[str] | None = None) -> None:
        """A module counts as imported when some process wrote its bytecode cache (each
        version's stale cache is deleted when it is written). `finalize`: module names whose
        current version is done (None: all, at the end of the file)."""
        cache = self.file.ws.folder / "__pycache__"
        for mod in self.modules:
            if mod.final:
                continue
            if any(cache.glob(f"{mod.name}.*.pyc")):
                mod.result.imported = True
            if finalize is None or mod.name in finalize:
                mod.final = True
                if not mod.result.imported:
                    mod.result.reason = "never imported by a later block or worker"


class ForegroundBlocks:
    """A python block (isolated mode) or `bash run` block in its own process, to the end."""

    def __init__(self, file: FileRun) -> None:
        self.file = file

    def run(self, fence: Fence, env: Env) -> BlockResult:
        ws = self.file.ws
        if fence.spec.is_python:
            script = self.file.write_script(fence)
            cmd = python_command(env.python, script)
        else:
            cmd = ["bash", "-e", "-c", shell_script(fence.spec.lang, fence.code)]
        log = ws.private / f"out_L{fence.line}.log"
        started = time.monotonic()
        proc = ws.spawn(cmd, env, log)
        timed_out = False
        try:
            proc.wait(timeout=fence.spec.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            ws.owner.stop(proc, grace=BLOCK_GRACE)  # also ends anything it left behind
        return self.file.finish(fence, env, started, proc.returncode, log, timed_out)


class SharedPython:
    """Plain python blocks of a shared-mode file: one interpreter, one namespace, in order.
    A block that times out or kills the interpreter ends it; the next block starts a fresh
    one (and a block using the lost names then says which earlier block defined them)."""

    def __init__(self, file: FileRun) -> None:
        self.file = file
        self.proc: subprocess.Popen | None = None
        self.env: Env | None = None
        self._requests: int | None = None
        self._status: int | None = None

    def _start(self, env: Env) -> None:
        request_r, request_w = os.pipe()
        status_r, status_w = os.pipe()
        ws = self.file.ws
        try:
            self.proc = ws.spawn(
                shared_command(env.python, request_r, status_w),
                env,
                ws.private / "shared.log",
                pass_fds=(request_r, status_w),
            )
        finally:
            os.close(request_r)
            os.close(status_w)
        self.env, self._requests, self._status = env, request_w, status_r

    def run(self, fence: Fence, env: Env) -> BlockResult:
        if self.proc is None or self.proc.poll() is not None or self.env != env:
            self.close()
            self._start(env)
        script = self.file.write_script(fence)
        log = self.file.ws.private / f"out_L{fence.line}.log"
        started = time.monotonic()
        code, timed_out = None, False
        try:
            os.write(self._requests, f"{script}\t{log}\n".encode())
            code, timed_out = self._answer(fence.spec.timeout)
        except BrokenPipeError:
            pass  # the interpreter is gone: reported below with its exit status
        if code is None:
            ended = self.proc.returncode if timed_out else self._ended()
            self.close()
            code = ended
        return self.file.finish(fence, env, started, code, log, timed_out)

    def _answer(self, timeout: float) -> tuple[int | None, bool]:
        deadline = time.monotonic() + timeout
        buffer = b""
        while True:
            if self.file.ctx.cancel.is_set():
                raise Cancelled()
            left = deadline - time.monotonic()
            if left <= 0:
                return None, True
            ready, _, _ = select.select([self._status], [], [], min(left, 0.2))
            if not ready:
                continue
            chunk = os.read(self._status, 64)
            if not chunk:
                return None, False  # the interpreter ended (os._exit, crash, kill)
            buffer += chunk
            if buffer.endswith(b"\n"):
                return int(buffer.strip() or 1), False

    def _ended(self) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.proc.wait(timeout=5)
        return None

    def close(self) -> None:
        for fd in (self._requests, self._status):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._requests = self._status = None
        if self.proc is not None:
            self.file.ws.owner.stop(self.proc, grace=BLOCK_GRACE)
            self.proc = None


@dataclass
class _Background:
    fence: Fence
    proc: subprocess.Popen
    log: Path
    result: BlockResult | None = None


class BackgroundBlocks:
    def __init__(self, file: FileRun) -> None:
        self.file = file
        self.started: list[_Background] = []

    def run(self, fence: Fence, env: Env) -> BlockResult:
        spec, ws = fence.spec, self.file.ws
        log = ws.private / f"bg_L{fence.line}.log"
        started = time.monotonic()
        proc = ws.spawn(["bash", "-c", shell_script(spec.lang, fence.code)], env, log)
        background = _Background(fence, proc, log)
        self.started.append(background)
        problem = None
        try:
            if spec.ready is None:
                processes.wait_until(lambda: False, SETTLE, proc=proc, cancel=self.file.ctx.cancel)
            elif not processes.wait_until(
                processes.text_appears(log, spec.ready),
                spec.timeout,
                proc=proc,
                cancel=self.file.ctx.cancel,
            ):
                problem = f"not ready: {spec.ready!r} did not appear within {spec.timeout:g}s"
        except processes.EarlyExit as exc:
            problem = f"background process exited early ({exc})"
        seconds = time.monotonic() - started
        if problem is None:
            background.result = self.file.result(fence, PASS, seconds, env=env.name)
            return background.result
        ws.owner.stop(proc, grace=BLOCK_GRACE)
        output = tail(ws.read(log), OUTPUT_LINES) or "(no output)"
        return self.file.result(fence, FAIL, seconds, problem, output, env.name)

    def details(self) -> list[str]:
        """The last lines of each background process, for a failing block's report."""
        parts = []
        for bg in self.started:
            state = "running" if bg.proc.poll() is None else exit_reason(bg.proc.returncode)
            text = self.file.ws.read(bg.log)
            if text.strip():
                parts.append(f"--- background block at line {bg.fence.line} ({state}), last lines:")
                parts.append(tail(text, 10))
        return parts

    def close(self) -> None:
        """A background process must live until the end of its file: one that ended on its
        own after it was ready turns its block into a FAIL. Then all are stopped."""
        for bg in self.started:
            if bg.result is None or bg.result.status != PASS or bg.proc.poll() is None:
                continue
            bg.result.status = FAIL
            bg.result.reason = (
                "background process exited before the end of the file "
                f"({exit_reason(bg.proc.returncode)})"
            )
            bg.result.output = tail(self.file.ws.read(bg.log), OUTPUT_LINES) or "(no output)"
        self.file.ws.owner.stop_many([bg.proc for bg in self.started], BACKGROUND_GRACE)
