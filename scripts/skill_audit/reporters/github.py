"""GitHub Actions workflow commands: one `::error|warning|notice file=..,line=..::msg` per finding."""

from __future__ import annotations

from skill_audit.diagnostics import Severity
from skill_audit.reporters.summary import summary_line

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(report) -> str:
    lines = [
        f"::{_LEVEL[d.severity]} file={_prop(d.path)},line={d.line},col={d.column},"
        f"title={_prop(f'{d.code} {d.name}')}::{_data(d.message)}"
        for d in report.diagnostics
    ]
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"
