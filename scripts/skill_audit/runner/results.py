"""Outcomes of a run: one `BlockResult` per reported fence, grouped per markdown file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


@dataclass
class BlockResult:
    path: str  # display path of the markdown file
    line: int  # 1-based line of the opening fence
    kind: str  # python | module | compile-only | shell | background | partial | grammar
    status: str  # PASS | FAIL | SKIP
    seconds: float = 0.0
    reason: str | None = None  # why SKIP/FAIL, in one line
    output: str = ""  # details for a failure: rewritten traceback / output tail
    env: str | None = None
    imported: bool | None = None  # modules: whether any later process imported it
    category: str | None = None  # FAIL only: runner/diagnose.py's class of the failure
    hint: str | None = None  # FAIL only: what to do about it, in one line
    timed_out: bool = field(default=False, repr=False)
    raw_output: str = field(default="", repr=False)  # the whole output, for the diagnosis

    def to_dict(self) -> dict:
        out = {
            "path": self.path,
            "line": self.line,
            "kind": self.kind,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "reason": self.reason,
            "output": self.output,
            "env": self.env,
            "category": self.category,
            "hint": self.hint,
        }
        if self.kind == "module":
            out["imported"] = self.imported
        return out


@dataclass
class FileResult:
    path: str
    env: str | None
    blocks: list[BlockResult] = field(default_factory=list)
    seconds: float = 0.0
    redis_db: int | None = None
    skill: Path | None = None  # the skill folder the file belongs to

    def count(self, status: str) -> int:
        return sum(1 for b in self.blocks if b.status == status)

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "env": self.env,
            "seconds": round(self.seconds, 3),
            "passed": self.count(PASS),
            "failed": self.count(FAIL),
            "skipped": self.count(SKIP),
        }
