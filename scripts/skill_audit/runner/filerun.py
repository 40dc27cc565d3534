"""Run the fences of one markdown file, in order, in one work folder (runner/workspace.py).

Each fence goes to the runner of its kind (runner/blocks.py). Background processes and the
shared interpreter are stopped with their whole process group when the file ends, whatever
way it ends; every failing block is then classified (runner/diagnose.py).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from skill_audit.runner import diagnose
from skill_audit.runner.blocks import (
    OUTPUT_LINES,
    BackgroundBlocks,
    CompileOnly,
    ForegroundBlocks,
    ModuleBlocks,
    SharedPython,
    judge,
)
from skill_audit.runner.plan import SHARED, EnvResolver, FilePlan
from skill_audit.runner.results import FAIL, PASS, SKIP, BlockResult, FileResult
from skill_audit.runner.workspace import Workspace
from skill_audit.runner.wrapper import tail
from skill_audit.runtime import processes, resp
from skill_audit.runtime.envs import Env
from skill_audit.runtime.processes import Cancelled
from skill_audit.snippets.extract import Fence, padded_source
from skill_audit.snippets.grammar import Kind


@dataclass
class RunContext:
    """What every file of one run shares."""

    owner: processes.Owner
    resolver: EnvResolver
    base_env: dict[str, str]  # scrubbed environment plus service addresses
    redis_url: str | None  # without database: `with_db` picks the file's
    flush: bool  # FLUSHDB before each file
    run_id: str
    cancel: threading.Event
    fixtures: Path | None = None
    on_block: object = None  # callable(BlockResult) for the progress line
    on_start: object = None  # callable(display path, line) for the progress line


def kind_label(fence: Fence) -> str:
    spec = fence.spec
    if spec.kind is Kind.RUN:
        return "python" if spec.is_python else "shell"
    return spec.kind.value


def reported(fence: Fence) -> bool:
    """Whether a fence gets a line in the report (others are not this command's business:
    other languages, and shell blocks that are only syntax-checked by `check`)."""
    if fence.spec.errors:
        return not (fence.spec.kind is Kind.OTHER and "partial" not in fence.info)
    return fence.spec.kind not in (Kind.OTHER, Kind.SHELL_STATIC)


class FileRun:
    def __init__(self, plan: FilePlan, ctx: RunContext, index: int, redis_db: int | None):
        self.plan = plan
        self.ctx = ctx
        self.index = index  # position in the run, for the file's run id
        self.redis_db = redis_db
        self.ws: Workspace | None = None

    @property
    def file_run_id(self) -> str:
        return f"{self.ctx.run_id}-{self.index}"

    def _redis_url(self) -> str | None:
        if self.ctx.redis_url is None or self.redis_db is None:
            return None
        return resp.with_db(self.ctx.redis_url, self.redis_db)

    def run(self) -> FileResult:
        started = time.monotonic()
        result = FileResult(self.plan.display, self.plan.env, redis_db=self.redis_db)
        result.skill = self.plan.skill_root
        self.ws = Workspace(
            self.ctx.owner,
            self.ctx.base_env,
            self.file_run_id,
            self._redis_url(),
            self.plan.skill_root,
            self.ctx.fixtures,
        )
        self.modules = ModuleBlocks(self)
        self.compile_only = CompileOnly(self)
        self.foreground = ForegroundBlocks(self)
        self.shared = SharedPython(self)
        self.background = BackgroundBlocks(self)
        try:
            url = self._redis_url()
            if url and self.ctx.flush and self.plan.runnable:
                resp.execute(url, ("FLUSHDB",))
            for fence in self.plan.fences:
                if self.ctx.cancel.is_set():
                    raise Cancelled()
                try:
                    block = self._block(fence)
                except OSError as exc:  # e.g. no bash, or an env's interpreter vanished
                    block = self.result(fence, FAIL, reason=f"cannot start: {exc}")
                if block is not None:
                    result.blocks.append(block)
                    if self.ctx.on_block:
                        self.ctx.on_block(block)
        except resp.RespError as exc:
            reason = f"cannot prepare Redis database: {exc}"
            result.blocks.append(BlockResult(self.plan.display, 1, "services", FAIL, reason=reason))
        except Cancelled:
            pass
        finally:
            self.shared.close()
            self.background.close()
            processes.sweep(f"SKILL_AUDIT_RUN_ID={self.file_run_id}")
            self.modules.note_imports()
            self.ws.remove()
            result.seconds = time.monotonic() - started
        diagnose.explain(result.blocks, self.plan)
        return result

    def _block(self, fence: Fence) -> BlockResult | None:
        spec = fence.spec
        if not reported(fence):
            return None
        if spec.errors:
            return self.result(fence, FAIL, reason="info string: " + "; ".join(spec.errors))
        if spec.kind is Kind.PARTIAL:
            return self.result(fence, SKIP, reason=f"partial: {spec.reason}")
        if spec.kind is Kind.COMPILE_ONLY:
            return self.compile_only.run(fence)
        if spec.kind is Kind.MODULE:
            return self.modules.run(fence)
        if self.ctx.on_start:
            self.ctx.on_start(self.plan.display, fence.line)
        env = self.ctx.resolver.get(self.plan, fence)
        if spec.kind is Kind.BACKGROUND:
            return self.background.run(fence, env)
        if spec.is_python and self.plan.mode == SHARED:
            return self.shared.run(fence, env)
        return self.foreground.run(fence, env)

    # -- helpers for the block runners ---------------------------------------------------

    def result(
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

    def write_script(self, fence: Fence) -> Path:
        script = self.ws.private / f"block_L{fence.line}.py"
        script.write_text(padded_source(fence), encoding="utf-8")
        self.ws.mapping[str(script)] = self.plan.display
        return script

    def finish(
        self,
        fence: Fence,
        env: Env,
        started: float,
        code: int | None,
        log: Path,
        timed_out: bool,
    ) -> BlockResult:
        """The result of a block that ran in the foreground, from its exit and output."""
        seconds = time.monotonic() - started
        if self.ctx.cancel.is_set():
            raise Cancelled()
        output = self.ws.read(log)
        reason = judge(fence, code, output, timed_out)
        if reason is None:
            return self.result(fence, PASS, seconds, env=env.name)
        parts = [tail(output, OUTPUT_LINES)] if output.strip() else ["(no output)"]
        parts += self.background.details()
        block = self.result(fence, FAIL, seconds, reason, "\n".join(parts), env.name)
        block.timed_out = timed_out
        block.raw_output = output
        return block
