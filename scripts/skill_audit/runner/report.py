"""Text and JSON reports of a run, and the live progress line on a terminal.

Text: one line per block, `STATUS path:line kind seconds [reason]`, failure details indented
below (first the failure's class and what to do), one timing line per file, the failure
classes counted per skill, and last, alone, `N passed, N failed, N skipped`.
JSON (`--format json`): one document, schema `skill-audit-run/1`:
  {"schema", "files": [{path, env, seconds, passed, failed, skipped}],
   "blocks": [{path, line, kind, status, seconds, reason, output, env, category, hint
               [, imported]}],
   "failures": {skill: {category: count}},
   "services": {"redis": {mode, start_seconds}, "temporal": {mode, start_seconds}},
   "summary": {passed, failed, skipped, seconds}}
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
from collections import Counter

from skill_audit.discovery import display_path
from skill_audit.runner.diagnose import CATEGORIES
from skill_audit.runner.results import FAIL, PASS, SKIP, BlockResult, FileResult

SCHEMA = "skill-audit-run/1"


def summary_line(results: list[FileResult]) -> str:
    passed = sum(r.count(PASS) for r in results)
    failed = sum(r.count(FAIL) for r in results)
    skipped = sum(r.count(SKIP) for r in results)
    return f"{passed} passed, {failed} failed, {skipped} skipped"


def block_line(block: BlockResult) -> str:
    text = f"{block.status} {block.path}:{block.line} {block.kind} {block.seconds:.2f}s"
    if block.reason:
        text += f"  {block.reason}"
    return text


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def failure_counts(results: list[FileResult]) -> dict[str, dict[str, int]]:
    """{skill (display path, or the file for a lone one): {category: count}}, in the order of
    CATEGORIES; skills without failures are left out."""
    out: dict[str, Counter] = {}
    for result in results:
        key = display_path(result.skill) if result.skill else result.path
        for block in result.blocks:
            if block.status == FAIL:
                out.setdefault(key, Counter())[block.category or "error"] += 1
    return {skill: {c: counts[c] for c in CATEGORIES if counts[c]} for skill, counts in out.items()}


def progress_text(done: int, total: int, current: str, width: int) -> str:
    """`[done/total] file:line`, cut from the left of the location so its end (the line
    number) always shows."""
    head = f"[{done}/{total}] "
    room = max(width - len(head), 8)
    if len(current) > room:
        current = "…" + current[-(room - 1) :]
    return head + current


class TextReport:
    def __init__(self, stream=None, progress: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.progress = self.stream.isatty() if progress is None else progress
        self._lock = threading.Lock()
        self._done = 0
        self._total = 0
        self._current = ""
        self._shown = False

    def planned(self, total: int) -> None:
        self._total = total

    # progress (only on a terminal) -----------------------------------------------------

    def started(self, path: str, line: int) -> None:
        with self._lock:
            self._current = f"{path}:{line}"
            self._show()

    def block_done(self, block: BlockResult) -> None:
        with self._lock:
            self._done += 1
            self._show()

    def _show(self) -> None:
        if self.progress:
            width = shutil.get_terminal_size().columns - 1  # never wrap: \r must reach it all
            line = progress_text(self._done, self._total, self._current, width)
            self.stream.write(f"\r\x1b[K{line}")
            self.stream.flush()
            self._shown = True

    def _clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self._shown = False

    # results ---------------------------------------------------------------------------

    def file_done(self, result: FileResult) -> None:
        with self._lock:
            self._clear()
            for block in result.blocks:
                self.stream.write(block_line(block) + "\n")
                if block.status == FAIL and block.hint:
                    self.stream.write(f"    [{block.category}] {block.hint}\n")
                if block.status == FAIL and block.output:
                    for line in block.output.splitlines():
                        self.stream.write(f"    {line}\n")
            env = f", env {result.env}" if result.env else ""
            self.stream.write(
                f"---- {result.path}: {_plural(len(result.blocks), 'block')} in "
                f"{result.seconds:.2f}s{env}\n"
            )
            self.stream.flush()
            self._show()

    def finish(self, results: list[FileResult], services, seconds: float) -> None:
        with self._lock:
            self._clear()
            parts = []
            if services.redis_seconds is not None:
                parts.append(f"redis ({services.redis}) {services.redis_seconds:.2f}s")
            if services.temporal_seconds is not None:
                parts.append(f"temporal ({services.temporal}) {services.temporal_seconds:.2f}s")
            if parts:
                self.stream.write("services: " + ", ".join(parts) + "\n")
            self.stream.write(f"total {seconds:.2f}s for {_plural(len(results), 'file')}\n")
            for skill, counts in failure_counts(results).items():
                classes = ", ".join(f"{n} {c}" for c, n in counts.items())
                self.stream.write(f"failures in {skill}: {classes}\n")
            self.stream.write(summary_line(results) + "\n")
            self.stream.flush()


class JsonReport:
    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stdout

    def planned(self, total: int) -> None:
        pass

    def started(self, path: str, line: int) -> None:
        pass

    def block_done(self, block: BlockResult) -> None:
        pass

    def file_done(self, result: FileResult) -> None:
        pass

    def finish(self, results: list[FileResult], services, seconds: float) -> None:
        blocks = [b for r in results for b in r.blocks]
        doc = {
            "schema": SCHEMA,
            "files": [r.to_dict() for r in results],
            "blocks": [b.to_dict() for b in blocks],
            "failures": failure_counts(results),
            "services": services.to_dict(),
            "summary": {
                "passed": sum(b.status == PASS for b in blocks),
                "failed": sum(b.status == FAIL for b in blocks),
                "skipped": sum(b.status == SKIP for b in blocks),
                "seconds": round(seconds, 3),
            },
        }
        json.dump(doc, self.stream, indent=2)
        self.stream.write("\n")
        self.stream.flush()
