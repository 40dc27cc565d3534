"""Inline suppression comments, parsed from a markdown file."""

from __future__ import annotations

from pathlib import Path

from skill_audit.model import MarkdownDoc
from skill_audit.suppress import parse_suppressions


def sup(text: str):
    return parse_suppressions(MarkdownDoc(Path("/x/SKILL.md"), "SKILL.md", text))


def test_ranges_next_line_and_file():
    s = sup(
        "a\n<!-- skill-audit: disable LK001, CS -->\nb\n<!-- skill-audit: enable CS -->\nc\n"
        "<!-- skill-audit: disable-next-line RC002 -->\nd\n<!-- skill-audit: disable-file ST -->\n"
    )
    assert s.covers("LK001", 3) and s.covers("LK001", 8)  # never re-enabled: to the end
    assert s.covers("CS003", 3) and not s.covers("CS003", 5)
    assert s.covers("RC002", 7) and not s.covers("RC002", 8)
    assert s.covers("ST004", 1)  # disable-file covers the frontmatter too
    assert not s.covers("LK002", 3)


def test_bare_disable_means_every_check_and_bare_enable_ends_it():
    s = sup("<!-- skill-audit: disable -->\nx\n<!-- skill-audit: enable -->\ny\n")
    assert s.covers("FM001", 2) and not s.covers("FM001", 4)


def test_comments_in_code_blocks_and_typos_do_nothing():
    s = sup(
        "```markdown\n<!-- skill-audit: disable-file LK -->\n```\n<!-- skill-audit: disable-nextline LK001 -->\nx\n"
    )
    assert not s.covers("LK001", 5)
    assert [m for _, _, m in s.problems] == [
        "unknown skill-audit directive: 'skill-audit: disable-nextline LK001'"
    ]


def test_files_without_directives_are_not_parsed():
    doc = MarkdownDoc(Path("/x/SKILL.md"), "SKILL.md", "# title\n")
    assert not parse_suppressions(doc).ranges and "_parsed" not in doc.__dict__
