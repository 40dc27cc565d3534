"""Findings of `skill-audit check`: severities, the `Hit` a check yields, the `Diagnostic` reported.

A check function (see `skill_audit.registry`) yields `Hit(path, line, column, message)` with the
absolute path of the file the finding is in and 1-based line/column (column 1 when unknown).
The framework turns each hit into a `Diagnostic` carrying the check's code, name and severity
(after config, `--select`/`--ignore` and inline suppressions), with `path` made posix and
relative to the directory the user passed. Diagnostics sort by path, line, column, code.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple


class Severity(enum.IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()


class Hit(NamedTuple):
    """One finding as a check yields it: absolute file path, 1-based line and column, message.

    `severity` is optional: None means the check's registered severity (a check whose severity
    depends on the profile, like unknown frontmatter keys, sets it)."""

    path: Path
    line: int
    column: int
    message: str
    severity: Severity | None = None


@dataclass(frozen=True, order=True)
class Diagnostic:
    path: str  # posix, relative to the directory the user passed (or absolute when outside it)
    line: int
    column: int
    code: str
    name: str
    severity: Severity
    message: str

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "name": self.name,
            "severity": self.severity.label,
            "message": self.message,
        }
