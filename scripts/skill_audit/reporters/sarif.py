"""SARIF 2.1.0 (one run; rules are the checks that ran; paths relative to %SRCROOT% = cwd)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from skill_audit import __version__
from skill_audit.diagnostics import Severity

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)


def _rule(spec) -> dict:
    sections = spec.sections()
    help_text = "\n\n".join(f"{title}:\n{body}" for title, body in sections.items())
    return {
        "id": spec.code,
        "name": spec.name,
        "shortDescription": {"text": spec.summary},
        "fullDescription": {"text": sections.get("What it does", spec.summary)},
        "help": {"text": help_text or spec.summary},
        "defaultConfiguration": {"level": _LEVEL[spec.severity]},
        "properties": {"family": spec.family},
    }


def _location(path: str) -> dict:
    if Path(path).is_absolute():
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(path), "uriBaseId": "%SRCROOT%"}


def render(report) -> str:
    index = {spec.code: i for i, spec in enumerate(report.checks)}
    results = []
    for d in report.diagnostics:
        result = {
            "ruleId": d.code,
            "level": _LEVEL[d.severity],
            "message": {"text": d.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": _location(d.path),
                        "region": {"startLine": d.line, "startColumn": d.column},
                    }
                }
            ],
        }
        if d.code in index:
            result["ruleIndex"] = index[d.code]
        results.append(result)
    doc = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "skill-audit",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [_rule(spec) for spec in report.checks],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri().rstrip("/") + "/"}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
