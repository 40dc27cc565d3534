"""RC checks beyond the fixture pairs (test_fixtures.py): the rule table and count-claim parsers, and
the seed-defects fixture (the upstream async-jobs page, shared/seed) reported line by line."""

from __future__ import annotations

from pathlib import Path

import pytest
from skill_audit.checks import catalog
from skill_audit.config import Config
from skill_audit.engine import Options, run_check
from skill_audit.model import MarkdownDoc, load_skill

from tests.check.conftest import FIXTURES

# --------------------------------------------------------------------------- count claims


def claims(text: str) -> list[tuple[int, str]]:
    doc = MarkdownDoc(Path("/s/SKILL.md"), "SKILL.md", text)
    return [(c.number, c.noun) for c in catalog.count_claims(doc)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("**Total: 10 rules across 9 categories**", [(10, "rules"), (9, "categories")]),
        ("The ten rule files", [(10, "rule files")]),
        ("Twelve on-demand rule-files", [(12, "rule files")]),
        ("across all 8 capabilities", [(8, "categories")]),
        ("one rule per category", [(1, "rules")]),
        ("20 reference files", [(20, "reference files")]),
        ("seventeen rules", [(17, "rules")]),
        # subsets and non-counts are not claims
        ("the first two rules matter", []),
        ("3 more rules are planned", []),
        ("one of the rules", []),
        ("each rule has 5 examples", []),
        ("retry 3 times per rule", []),
        ("two categories of failure, 3 rules of thumb", []),
        ("v2.10 rules", []),
        ("1000 rules", []),
        ("someone rules", []),
        ("`10 rules` in code", []),
        ("<!-- 10 rules --> text", []),
    ],
)
def test_count_claims(text, expected):
    assert claims(text + "\n") == expected


def test_count_claims_skip_fences_and_keep_columns():
    text = "intro\n```text\n10 rules\n```\nWe have `x` and 4 categories.\n"
    doc = MarkdownDoc(Path("/s/SKILL.md"), "SKILL.md", text)
    (claim,) = catalog.count_claims(doc)
    assert (claim.line, claim.number) == (5, 4)
    assert text.splitlines()[4][claim.column - 1 :].startswith("4 categories")


# --------------------------------------------------------------------------- the rule table


def skill_with(tmp_path: Path, body: str, refs=()):
    (tmp_path / "references").mkdir(exist_ok=True)
    for name in refs:
        (tmp_path / "references" / f"{name}.md").write_text(f"# {name}\n")
    (tmp_path / "SKILL.md").write_text(
        f"---\nname: t\ndescription: d\n---\n{body}", encoding="utf-8"
    )
    return load_skill(tmp_path, Config())


def test_catalog_reads_links_bare_names_and_several_rules_per_cell(tmp_path):
    skill = skill_with(
        tmp_path,
        (
            "| Decision | Value |\n|---|---|\n| a | b |\n\n"  # a table without a rules column is not the catalogue
            "| Category | Rules | Impact |\n|---|---|---|\n"
            "| [Config](#config) | [celery-config](references/celery-config.md), `task-routing` | **HIGH** |\n"
            "| Retries | retry-strategies<br>canvas-workflows.md | LOW |\n"
            "**Total: 4 rules across 2 categories**\n"
        ),
    )  # glued to the table: a row without rules
    cat = catalog.find_catalog(skill)
    assert cat.line == 9 and cat.categories == 2
    assert [(r.name, r.line, r.impact) for r in cat.rules] == [
        ("celery-config", 11, "HIGH"),
        ("task-routing", 11, "HIGH"),
        ("retry-strategies", 12, "LOW"),
        ("canvas-workflows", 12, "LOW"),
    ]
    assert all(r.path == str(tmp_path / "references" / f"{r.name}.md") for r in cat.rules)
    assert list(catalog.count_mismatch(skill)) == []


def test_categories_are_distinct_category_cells(tmp_path):
    skill = skill_with(
        tmp_path,
        (
            "| Category | Rule file |\n|---|---|\n| Celery | a |\n| Celery | b |\n| ARQ | c |\n\n"
            "Three rules in 3 categories.\n"
        ),
        refs="abc",
    )
    hits = list(catalog.count_mismatch(skill))
    assert [h.message for h in hits] == [
        "says '3 categories', but the rule table (line 5) has 2 categories"
    ]


def test_without_a_table_rule_files_count_references(tmp_path):
    skill = skill_with(
        tmp_path, "Two rule files and 5 rules (not checked without a table).\n", refs="ab"
    )
    assert list(catalog.count_mismatch(skill)) == []
    (tmp_path / "other").mkdir()
    (hit,) = catalog.count_mismatch(
        skill_with(tmp_path / "other", "Three rule files.\n", refs="ab")
    )
    assert "references/ holds 2 markdown files" in hit.message


# --------------------------------------------------------------------------- the seed page


SEED = FIXTURES / "seed-defects"

# The upstream page (shared/seed/async-jobs-skill-page.txt) as a skill: the rendering's lost
# blank lines and indentation are restored, the rest is verbatim. Like the seed commit, the
# eight Celery/ARQ rules are in references/ and the two Temporal rules in rules/; the three
# Read() targets the page names are not part of it.
SEED_DEFECTS = {
    ("unreachable-skill", 12),  # user-invocable: false + disable-model-invocation: true
    ("rule-file-missing", 40),  # temporal-workflows is not in references/
    ("rule-file-missing", 41),  # temporal-activities is not in references/
    ("count-mismatch", 43),  # "10 rules across 9 categories" beside a 10-row table
    ("broken-path-reference", 56),  # references/quick-start-examples.md
    ("broken-path-reference", 237),  # references/quick-start-examples.md again
    ("broken-path-reference", 241),  # references/anti-patterns.md
    ("broken-path-reference", 294),  # references/capability-details.md
    ("count-mismatch", 294),  # "all 8 capabilities"
    ("yaml-portability", 6),  # flow-style tags: strict parsers reject it
}


def test_seed_page_defects_are_reported_at_their_lines():
    report = run_check([SEED], Options())
    assert not report.internal_errors
    found = report.diagnostics
    names = {(d.name, d.line) for d in found}
    assert names >= SEED_DEFECTS
    # nothing else from the catalogue, link or code-block families
    extra = {(d.name, d.line) for d in found if d.code[:2] in ("RC", "LK", "CS")} - SEED_DEFECTS
    assert extra == set()
    assert all(d.path.endswith("async-jobs/SKILL.md") for d in found)


def test_count_cells_count_rules_without_naming_files(tmp_path):
    skill = skill_with(
        tmp_path,
        (
            "| Category | Rules | Impact |\n|---|---|---|\n| Loops | 3 | HIGH |\n| Teams | 2 | LOW |\n\n"
            "**Total: 5 rules across 2 categories**, see `references/a.md`.\n"
        ),
        refs="ab",
    )
    cat = catalog.find_catalog(skill)
    assert (cat.counted, cat.rule_count, cat.categories) == (5, 5, 2)
    assert list(catalog.count_mismatch(skill)) == []
    assert list(catalog.rule_not_in_table(skill)) == []  # counts name no files


def test_rule_and_file_columns_and_plugin_paths_in_rules_folder(tmp_path):
    root = tmp_path / "motion"
    (root / "rules").mkdir(parents=True)
    for name in ("motion-layout", "motion-exit", "motion-extra", "_template"):
        (root / "rules" / f"{name}.md").write_text(
            f"---\ntitle: {name}\nimpact: HIGH\n---\n# {name}\n"
        )
    (root / "SKILL.md").write_text(
        "---\nname: motion\ndescription: d\n---\n"
        "| Rule | File | Impact |\n|---|---|---|\n"
        "| Layout Animations | `rules/motion-layout.md` | HIGH |\n"
        "| Exit Animations | `${CLAUDE_PLUGIN_ROOT}/skills/motion/rules/motion-exit.md` | MEDIUM |\n\n"
        "Two rules.\n",
        encoding="utf-8",
    )
    skill = load_skill(root, Config())
    cat = catalog.find_catalog(skill)
    assert [r.name for r in cat.rules] == ["motion-layout", "motion-exit"]
    assert list(catalog.count_mismatch(skill)) == []
    # the rule folder is rules/ here; _template.md is a helper, motion-extra.md is missing a row
    assert [h.message for h in catalog.rule_not_in_table(skill)] == [
        "rules/motion-extra.md is not named in the rule table"
    ]
    # the frontmatter of rule files outside references/ is read too
    assert [h.line for h in catalog.impact_mismatch(skill)] == [8]


def test_a_table_of_prose_rules_is_not_a_catalogue(tmp_path):
    skill = skill_with(
        tmp_path, "| Rule | Why |\n|---|---|\n| load | x |\n| Never block | y |\n\nTwo rules.\n"
    )
    assert catalog.find_catalog(skill) is None
    assert list(catalog.rule_file_missing(skill)) == []


def test_nested_reference_ignores_missing_targets_and_first_level_cross_links(tmp_path):
    skill = skill_with(
        tmp_path, "Read [a](references/a.md) and [b](references/b.md).\n", refs="abc"
    )
    (tmp_path / "references" / "a.md").write_text("# a\n\n[b](b.md) [c](c.md) [gone](gone.md)\n")
    skill = load_skill(tmp_path, Config())
    assert [h.message.split(" ")[0] for h in catalog.nested_reference(skill)] == ["c.md"]


def test_nested_reference_skips_the_links_of_output_templates(tmp_path):
    """An output template's links name files of the project it is copied into (the LK checks
    leave them alone too), so they do not make a second hop; a reference's do."""
    skill = skill_with(
        tmp_path,
        "Read [a](references/a.md); fill in [the form](assets/templates/report.md).\n",
        refs="abc",
    )
    (tmp_path / "assets" / "templates").mkdir(parents=True)
    (tmp_path / "assets" / "templates" / "report.md").write_text(
        "# Report\n\nSee [b](../../references/b.md).\n"
    )
    (tmp_path / "references" / "a.md").write_text("# a\n\nSee [c](c.md).\n")
    skill = load_skill(tmp_path, Config())
    hits = [(Path(h.path).name, h.message.split(" ")[0]) for h in catalog.nested_reference(skill)]
    assert hits == [("a.md", "c.md")]


def test_rule_cells_are_read_from_the_parse(tmp_path):
    """Links in a rules cell come from the one markdown parse: a reference-style link names its
    rule, an icon image names none, and a `|` escaped in a cell does not split it."""
    skill = skill_with(
        tmp_path,
        "| Area | Rule file |\n|---|---|\n"
        "| Retries | ![icon](assets/retry.png) [retry-strategies][rs] |\n"
        "| Routing \\| queues | `task-routing` |\n\n"
        "[rs]: references/retry-strategies.md\n",
        refs=("retry-strategies", "task-routing"),
    )
    found = catalog.find_catalog(skill)
    assert found is not None
    assert [(r.name, r.line, r.column) for r in found.rules] == [
        ("retry-strategies", 7, 39),  # the `[` of the link
        ("task-routing", 8, 24),  # the name inside the code span
    ]
    assert found.categories == 2


@pytest.mark.parametrize(
    "text",
    [
        "`` `10 rules` `` in code",  # a double-backtick span holding backticks
        "see `x` and `` 10 rules ``",
        "a span ``10 rules\nacross lines`` and more",
    ],
)
def test_count_claims_inside_code_spans_are_masked(text):
    assert claims(text + "\n") == []
