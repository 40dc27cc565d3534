"""The check registry: unique codes and names, complete docs, a pass and a fail fixture each,
and docs/checks.md generated from it."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from skill_audit.cli import cli
from skill_audit.config import Config
from skill_audit.diagnostics import Hit, Severity
from skill_audit.discovery import skill_file_in
from skill_audit.engine import check_skill, hits_of
from skill_audit.model import load_skill
from skill_audit.registry import (
    CODE_RE,
    DOC_SECTIONS,
    FAMILIES,
    NAME_RE,
    CheckSpec,
    Scope,
    catalog_markdown,
    check,
    load_checks,
)

from tests.check.conftest import FIXTURES, write_skill

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


@pytest.mark.parametrize("code", sorted(CHECKS))
def test_every_check_has_a_scope_and_a_matching_signature(code):
    spec = CHECKS[code]
    assert isinstance(spec.scope, Scope)
    arity = {Scope.SKILL: 1, Scope.DOC: 2, Scope.FRONTMATTER: 2, Scope.FENCE: 3, Scope.LINK: 3}
    params = inspect.signature(spec.func).parameters
    assert len(params) == arity[spec.scope], f"{code}: {spec.scope} takes {arity[spec.scope]}"


@pytest.mark.parametrize("code", sorted(CHECKS))
def test_rule_names_the_file_and_line_of_the_checks_def(code):
    spec = CHECKS[code]
    out = CliRunner().invoke(cli, ["rule", code]).output
    source = out.strip().splitlines()[-1]
    m = re.fullmatch(r"Source: (\S+):(\d+) \((\w+), scope (\w+)\)", source)
    assert m, source
    path, line, func, scope = m.group(1), int(m.group(2)), m.group(3), m.group(4)
    assert scope == spec.scope.value and func == spec.func.__name__
    text = (REPO / "scripts" / path).read_text(encoding="utf-8").splitlines()
    assert re.match(rf"(async )?def {func}\(", text[line - 1]), text[line - 1]
    # the decorator just above (up to the blank line before it) registers this very code
    start = line - 1
    while start > 0 and text[start - 1].strip():
        start -= 1
    decorator = "\n".join(text[start : line - 1])
    assert decorator.lstrip().startswith("@check(") and f'"{code}"' in decorator


def test_no_check_module_imports_another():
    folder = REPO / "scripts" / "skill_audit" / "checks"
    modules = {p.stem for p in folder.glob("*.py")} - {"__init__"}
    assert {"links", "code_blocks", "catalog"} <= modules
    for path in sorted(folder.glob("*.py")):
        if path.stem == "__init__":
            continue  # the package imports every check module, on purpose
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                package = "skill_audit.checks" if node.level == 1 else (node.module or "")
                module = f"{package}.{node.module}" if node.level == 1 and node.module else package
                imported.add(module)
                imported |= {f"{module}.{a.name}" for a in node.names}
        for name in imported:
            parts = name.split(".")
            if parts[:2] == ["skill_audit", "checks"] and len(parts) > 2:
                assert parts[2] not in modules, f"{path.name} imports check module {parts[2]}"


def _spec(code: str, scope: Scope, func) -> CheckSpec:
    """A check outside the registry (registering would leak into every other test)."""
    return CheckSpec(code, f"probe-{code.lower()}", Severity.WARNING, func, "Probe.", None, scope)


def _two_doc_skill(root: Path):
    write_skill(
        root,
        "name: probe\ndescription: Probe skill. Use when testing.\n",
        "# Probe\n\n[guide](references/guide.md) ![logo](logo.png)\n\n"
        "```python\nx = 1\n```\n\n```bash\necho hi\n```\n",
    )
    (root / "references").mkdir()
    (root / "references" / "guide.md").write_text(
        "# Guide\n\n[back](../SKILL.md)\n\n```json\n{}\n```\n", encoding="utf-8"
    )
    return load_skill(root, Config())


def test_the_engine_walks_each_scope_once_with_the_right_items(tmp_path):
    skill = _two_doc_skill(tmp_path / "probe")
    seen: dict[str, list] = {scope.value: [] for scope in Scope}

    def record(scope):
        def func(*args):
            seen[scope.value].append(tuple(type(a).__name__ for a in args))
            return iter(())

        return func

    specs = [_spec(f"ST9{i}0", scope, record(scope)) for i, scope in enumerate(Scope)]
    assert check_skill(skill, specs).internal_errors == []
    assert seen["skill"] == [("Skill",)]
    assert seen["frontmatter"] == [("MarkdownDoc", "Skill")]  # SKILL.md only
    assert seen["doc"] == [("MarkdownDoc", "Skill")] * 2
    assert seen["fence"] == [("Fence", "MarkdownDoc", "Skill")] * 3
    assert seen["link"] == [("Link", "MarkdownDoc", "Skill")] * 3


def test_a_crashing_check_is_an_internal_error_of_that_check_only(tmp_path):
    skill = _two_doc_skill(tmp_path / "probe")
    calls = []

    def crash_on_second_fence(fence, doc, skill):
        calls.append(fence.line)
        if len(calls) == 2:
            raise ValueError("boom")
        yield Hit(fence.path, fence.line, 1, "seen")

    def every_link(link, doc, skill):
        yield Hit(doc.path, link.line, link.column, link.target)

    crashing = _spec("CS990", Scope.FENCE, crash_on_second_fence)
    healthy = _spec("LK990", Scope.LINK, every_link)
    result = check_skill(skill, [crashing, healthy])
    (error,) = result.internal_errors
    assert error.startswith("internal error in CS990 (probe-cs990)") and "ValueError: boom" in error
    assert len(calls) == 2  # not called again on this skill after the crash
    codes = [d.code for d in result.diagnostics]
    assert codes.count("CS990") == 1  # the hit before the crash is kept
    assert codes.count("LK990") == 3
    with pytest.raises(ValueError, match="boom"):
        calls.clear()
        hits_of(skill, crashing)


def test_a_worker_collects_cyclic_garbage_only_once_it_piles_up(tmp_path, monkeypatch):
    """Between batches a worker skips the collection while few objects are new, and runs it
    once cyclic garbage passes the threshold (memory stays bounded with the collector off)."""
    import gc

    from skill_audit import engine

    write_skill(tmp_path / "s", "name: s\ndescription: Use when testing.\n", "# S\n")
    jobs = [(tmp_path / "s", Config())]
    monkeypatch.setattr(engine, "COLLECT_AFTER_OBJECTS", 5_000)
    collections = []
    real_collect = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *a: collections.append(1) or real_collect(*a))
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        engine.check_batch(jobs)  # first use imports and caches: not what a batch leaves
        real_collect()
        engine._check_batch_and_collect(jobs)
        assert collections == []  # a light batch: nothing scanned
        for _ in range(6_000):  # cyclic garbage that reference counting cannot free
            node: list = []
            node.append(node)
        del node
        engine._check_batch_and_collect(jobs)
        assert collections == [1]
        assert gc.get_count()[0] < 5_000
    finally:
        if was_enabled:
            gc.enable()
