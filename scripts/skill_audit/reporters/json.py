"""A stable JSON document: {"tool", "version", "findings": [...], "summary": {...}}.

Findings are sorted by path, line, column, code and carry path, line, column, code, name,
severity and message. The summary counts skills, files, severities, codes and fences by kind
(the snippet grammar's kinds, e.g. partial and compile-only)."""

from __future__ import annotations

import json

from skill_audit import __version__
from skill_audit.reporters.summary import summary


def render(report) -> str:
    doc = {
        "tool": "skill-audit",
        "version": __version__,
        "findings": [d.to_dict() for d in report.diagnostics],
        "summary": summary(report),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
