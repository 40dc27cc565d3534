"""Counts shared by every output format."""

from __future__ import annotations

from collections import Counter

from skill_audit.diagnostics import Severity


def summary(report) -> dict:
    by_code = Counter(d.code for d in report.diagnostics)
    return {
        "skills": report.skills,
        "files": report.files,
        "characters": report.characters,
        "errors": report.count(Severity.ERROR),
        "warnings": report.count(Severity.WARNING),
        "info": report.count(Severity.INFO),
        "by_code": dict(sorted(by_code.items())),
        "fences": dict(sorted(report.fences.items())),
        "skipped": dict(sorted(getattr(report, "skipped", {}).items())),
        "failing_skills": getattr(report, "failing_skills", 0),
    }


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def summary_line(report) -> str:
    s = summary(report)
    files = plural(s["files"], "markdown file")
    if s["skipped"]:
        why = ", ".join(f"{n:,} {reason}" for reason, n in s["skipped"].items())
        files += f", {sum(s['skipped'].values()):,} skipped: {why}"
    line = (
        f"Checked {plural(s['skills'], 'skill')} ({files}): "
        f"{plural(s['errors'], 'error')}, {plural(s['warnings'], 'warning')}, {s['info']:,} info."
    )
    if s["skills"] > 1:
        line += f" {s['failing_skills']:,} of {s['skills']:,} skills have errors."
    if s["fences"]:
        parts = ", ".join(f"{n:,} {kind}" for kind, n in s["fences"].items())
        line += f" Fences: {parts}."
    return line
