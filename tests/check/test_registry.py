"""The check registry: unique codes and names, complete docs, a pass and a fail fixture each,
and docs/checks.md generated from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from skill_audit.diagnostics import Severity
from skill_audit.discovery import skill_file_in
from skill_audit.registry import (
    CODE_RE,
    DOC_SECTIONS,
    FAMILIES,
    NAME_RE,
    catalog_markdown,
    check,
    load_checks,
)

from tests.check.conftest import FIXTURES

CHECKS = load_checks()
REPO = Path(__file__).resolve().parents[2]


def test_there_are_checks_in_every_family():
    assert {spec.family for spec in CHECKS.values()} == set(FAMILIES)


def test_codes_and_names_are_well_formed_and_unique():
    names = [spec.name for spec in CHECKS.values()]
    assert len(names) == len(set(names))
    for code, spec in CHECKS.items():
        assert code == spec.code and CODE_RE.match(code) and NAME_RE.match(spec.name)


def test_registering_a_duplicate_code_or_name_fails():
    some = next(iter(CHECKS.values()))
    with pytest.raises(AssertionError):
        check(some.code, "a-new-name", Severity.INFO)(lambda skill: [])
    with pytest.raises(AssertionError):
        check("FM999", some.name, Severity.INFO)(lambda skill: [])
    assert "FM999" not in CHECKS


@pytest.mark.parametrize("code", sorted(CHECKS))
def test_every_check_is_documented(code):
    spec = CHECKS[code]
    sections = spec.sections()
    assert spec.summary and spec.summary != spec.name
    for title in DOC_SECTIONS:
        assert sections.get(title, "").strip(), (
            f"{code}: docstring section {title!r} is missing or empty"
        )


@pytest.mark.parametrize("code", sorted(CHECKS))
def test_every_check_has_a_pass_and_a_fail_fixture(code):
    for case in ("pass", "fail"):
        folder = FIXTURES / code / case
        assert skill_file_in(folder) is not None, f"missing fixture {folder}/SKILL.md"


def test_docs_checks_md_is_in_sync_with_the_registry():
    docs = REPO / "docs" / "checks.md"
    assert docs.read_text(encoding="utf-8") == catalog_markdown(), (
        "docs/checks.md is stale: run `skill-audit rules --format markdown > docs/checks.md`"
    )
