"""Human-readable lines: `path:line:col: CODE [severity] message (name)` and a summary."""

from __future__ import annotations

from skill_audit.reporters.summary import summary_line


def render(report) -> str:
    lines = [
        f"{d.path}:{d.line}:{d.column}: {d.code} [{d.severity.label}] {_one_line(d.message)} ({d.name})"
        for d in report.diagnostics
    ]
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"


def _one_line(message: str) -> str:
    return message.replace("\r", " ").replace("\n", " ")
