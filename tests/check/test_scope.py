"""What a skill ships: `load_skill(...).docs` is SKILL.md plus every markdown file reachable
from it, at any depth and through any pointer form; the rest is reported, never dropped."""

from __future__ import annotations

from pathlib import Path

from skill_audit.config import Config
from skill_audit.model import load_skill


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _shipped_and_orphans(root: Path) -> tuple[list[str], list[str]]:
    """(the markdown files the skill ships, its orphans), each sorted and skill-relative."""
    skill = load_skill(root, Config())
    return sorted(d.rel for d in skill.docs), sorted(skill.rel(p) for p in skill.orphans)


HEAD = "---\nname: pdf-tools\ndescription: Edit PDFs. Use when filling forms.\n---\n"


def test_every_pointer_form_reaches_a_file_at_any_depth(tmp_path):
    root = _write(
        tmp_path / "pdf-tools",
        {
            "SKILL.md": HEAD
            + "See [forms](guides/forms.md).\n"
            + 'Then `Read("${CLAUDE_SKILL_DIR}/rules/fonts.md")`.\n'
            + "Layout: {baseDir}/resources/layout/grid.md\n"
            + "Plain prose also counts: reference/evaluation.md.\n",
            "guides/forms.md": "# Forms\n\nField names live in [fields](deep/fields.md).\n",
            "guides/deep/fields.md": "# Fields\n",
            "rules/fonts.md": "# Fonts\n",
            "resources/layout/grid.md": "# Grid\n",
            "reference/evaluation.md": "# Evaluation\n",
            "drafts/ideas.md": "# Ideas nobody links\n",
            "README.md": "# For people\n",
            "nested/SKILL.md": "---\nname: nested\ndescription: x\n---\n",
        },
    )
    skill = load_skill(root, Config())
    rels = [d.rel for d in skill.docs]
    assert rels[0] == "SKILL.md"
    assert sorted(rels[1:]) == [
        "guides/deep/fields.md",
        "guides/forms.md",
        "reference/evaluation.md",
        "resources/layout/grid.md",
        "rules/fonts.md",
    ]
    assert [skill.rel(p) for p in skill.orphans] == ["drafts/ideas.md"]
    assert [(skill.rel(p), why.split(" ")[0]) for p, why in skill.skipped] == [("README.md", "for")]


def test_each_file_is_loaded_once_even_when_linked_in_a_cycle(tmp_path):
    root = _write(
        tmp_path / "pdf-tools",
        {
            "SKILL.md": HEAD + "[a](notes/a.md)\n",
            "notes/a.md": "[b](b.md) and back to [skill](../SKILL.md)\n",
            "notes/b.md": "[a](a.md) and [a again](./a.md)\n",
        },
    )
    skill = load_skill(root, Config())
    assert [d.rel for d in skill.docs] == ["SKILL.md", "notes/a.md", "notes/b.md"]


def test_markdown_outside_the_skill_is_skipped_with_its_reason(tmp_path):
    _write(tmp_path, {"shared/style.md": "# Shared\n"})
    root = _write(tmp_path / "pdf-tools", {"SKILL.md": HEAD + "[style](../shared/style.md)\n"})
    skill = load_skill(root, Config())
    assert [d.rel for d in skill.docs] == ["SKILL.md"]
    assert [why for _p, why in skill.skipped] == ["outside the skill folder"]


def test_wrongly_cased_skill_file_is_the_skill_file(tmp_path):
    root = _write(tmp_path / "pdf-tools", {"Skill.md": HEAD + "[a](a.md)\n", "a.md": "# A\n"})
    skill = load_skill(root, Config())
    assert skill.skill_md is not None and skill.skill_file.name == "Skill.md"
    assert [d.rel for d in skill.docs] == ["Skill.md", "a.md"]


def test_a_slug_or_file_name_in_inline_code_reaches_its_file(tmp_path):
    root = _write(
        tmp_path / "pdf-tools",
        {
            "SKILL.md": HEAD
            + "Rules, one file each in rules/:\n- `fonts-embed` - embed every font\n"
            + "Walkthroughs live in examples/ (e.g. `invoice-run.md`).\n",
            "rules/fonts-embed.md": "# Embed fonts\n",
            "examples/invoice-run.md": "# Invoice run\n",
            "rules/unused.md": "# Unused\n",
        },
    )
    assert _shipped_and_orphans(root) == (
        ["SKILL.md", "examples/invoice-run.md", "rules/fonts-embed.md"],
        ["rules/unused.md"],
    )


def test_bare_names_count_in_tables_and_code_spans_but_not_in_code_blocks(tmp_path):
    """Bare names come from the one parse: a rule table's cell and a code span reach their
    files; the same name in a fenced example (program output, a sample table) does not."""
    root = _write(
        tmp_path / "pdf-tools",
        {
            "SKILL.md": HEAD
            + "| Area | Rule |\n|---|---|\n| Fonts | fonts-embed |\n\n"
            + "Then `forms-fill`.\n\n"
            + "```text\n| Area | Rule |\n| Pages | pages-split |\n`page-rotate`\n```\n",
            "rules/fonts-embed.md": "# Embed fonts\n",
            "rules/forms-fill.md": "# Fill forms\n",
            "rules/pages-split.md": "# Split pages\n",
            "rules/page-rotate.md": "# Rotate pages\n",
        },
    )
    assert _shipped_and_orphans(root) == (
        ["SKILL.md", "rules/fonts-embed.md", "rules/forms-fill.md"],
        ["rules/page-rotate.md", "rules/pages-split.md"],
    )


def test_rel_names_paths_as_path_relative_to_does(tmp_path):
    root = _write(tmp_path / "demo", {"SKILL.md": "---\nname: demo\ndescription: x\n---\n"})
    skill = load_skill(root, Config())
    cases = [
        root / "references" / "a.md",
        root / "x" / ".." / "b.md",  # kept lexical, as relative_to keeps it
        Path(str(root) + "//references/c.md"),  # Path's normal form drops the double slash
        str(root / "references" / "d.md"),  # a str takes the general path
        tmp_path / "elsewhere.md",  # outside the skill: as written
        tmp_path / "demo-two" / "e.md",  # shares the root's text as a prefix, not its folder
    ]
    for path in cases:
        try:
            want = Path(path).relative_to(root).as_posix()
        except ValueError:
            want = Path(path).as_posix()
        assert skill.rel(path) == want, path
