"""The Rust-backed parser (markdown-it-pyrs) gives the records the pure-Python parser gives,
on every fixture and on this repository's own markdown.

Known, deliberate differences, left out of the comparison: columns of code spans and links
the pure-Python parser cannot locate by searching (it reports column 1; the source map gives
the real column), and the spaces a soft line break leaves in link text.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from skill_audit.model import MarkdownDoc
from skill_audit.parsing import fast_markdown
from skill_audit.parsing.markdown import parse_markdown

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(
    p
    for p in [
        *ROOT.glob("tests/check/fixtures/**/*.md"),
        *ROOT.glob("references/*.md"),
        ROOT / "SKILL.md",
    ]
    if p.is_file()
)

pytestmark = pytest.mark.skipif(not fast_markdown.available(), reason="markdown-it-pyrs missing")


def _both(path: Path):
    text = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
    doc = MarkdownDoc(path, path.name, text)
    skip = doc.body_start_line - 1
    body = "\n" * skip + doc.body if skip else doc.text
    return (
        parse_markdown(body, doc.lines, path),
        fast_markdown.parse_markdown_fast(body, doc.lines, path),
    )


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_both_parsers_agree(path):
    slow, fast = _both(path)
    for field in ("headings", "tables", "html_comments", "html_anchors", "fences"):
        assert getattr(fast, field) == getattr(slow, field), field
    assert fast.unclosed_fence_lines == slow.unclosed_fence_lines
    assert fast.indented_code_lines == slow.indented_code_lines
    assert [c.text for c in fast.inline_code] == [c.text for c in slow.inline_code]
    located = {(c.text, c.line, c.column) for c in slow.inline_code if c.column > 1}
    assert located <= {(c.text, c.line, c.column) for c in fast.inline_code}
    assert [(x.target, x.line, x.image, x.href) for x in fast.links] == [
        (x.target, x.line, x.image, x.href) for x in slow.links
    ]
    located = [(x.line, x.column) for x in slow.links if x.column > 1]
    assert all(pair in [(x.line, x.column) for x in fast.links] for pair in located)


def test_multi_byte_text_keeps_character_columns(tmp_path):
    path = tmp_path / "SKILL.md"
    path.write_text("# Tâches\n\nÉtape : voir [la règle](références/règle.md) et `café`.\n")
    slow, fast = _both(path)
    line = path.read_text().splitlines()[2]
    assert (fast.links[0].line, fast.links[0].column) == (3, line.index("](") + 1)
    assert (fast.inline_code[0].line, fast.inline_code[0].column) == (3, line.index("`") + 1)
    assert fast.links == slow.links and fast.inline_code == slow.inline_code


def test_setext_headings_are_headings(tmp_path):
    # markdown-it-pyrs names these `lheading`; they were dropped, so links into them broke
    path = tmp_path / "guide.md"
    path.write_text("Retry *policy*\n==============\n\nLimits\n------\n\n[up](#retry-policy)\n")
    slow, fast = _both(path)
    assert [(h.level, h.slug, h.line) for h in fast.headings] == [
        (1, "retry-policy", 1),
        (2, "limits", 4),
    ]
    assert fast.headings == slow.headings


def test_a_parser_panic_falls_back_to_the_python_parser(tmp_path, capfd):
    # Found by test_every_check_survives_random_skills: markdown-it-pyrs 0.4.0 panics (a
    # BaseException from Rust) on an unclosed "[`"; check must still parse, silently.
    from skill_audit.config import Config
    from skill_audit.model import load_skill

    (tmp_path / "SKILL.md").write_text(
        "---\nname: s\ndescription: Use when x.\n---\n# Title\n\nsee [`x\n\n[ok](README.md)\n"
    )
    skill = load_skill(tmp_path, Config())
    assert [h.text for h in skill.skill_md.headings] == ["Title"]
    assert [link.target for link in skill.skill_md.links] == ["README.md"]
    assert "panicked" not in capfd.readouterr().err


def test_table_cells_agree_on_linked_images_and_escaped_pipes(tmp_path):
    path = tmp_path / "SKILL.md"
    path.write_text(
        "| Area | Rule |\n|---|---|\n"
        "| Retries | [![icon](icons/r.svg)](references/retries.md), `task-routing` |\n"
        "| Mixed \\| odd | **bold** ![alone](a.png) <b>x</b> |\n"
    )
    slow, fast = _both(path)
    assert fast.tables == slow.tables
    first, second = fast.tables[0].cells
    assert [(p.target, p.text) if not isinstance(p, str) else p for p in first[1]] == [
        ("references/retries.md", "icon"),
        ", task-routing",
    ]
    assert second[0] == ("Mixed | odd",)
    assert [p if isinstance(p, str) else p.target for p in second[1]] == [
        "bold ",
        "a.png",
        " <b>x</b>",
    ]
