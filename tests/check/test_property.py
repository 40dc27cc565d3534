"""Property-based: random markdown and YAML never crash the parsers or any check."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from skill_audit.engine import Options, run_check
from skill_audit.parsing.frontmatter import parse_frontmatter
from skill_audit.parsing.markdown import parse_markdown

MD_PIECES = st.sampled_from(
    [
        "# Heading",
        "## Heading `code`",
        "Heading\n===",
        "[link](references/x.md#a)",
        "![img](a.png)",
        "[ref]",
        "[ref]: references/y.md",
        "<https://example.com>",
        "`inline`",
        "``",
        "```",
        "```python",
        "```python file=t.py",
        '```bash run ready="x"',
        '```json partial="why"',
        "~~~",
        "    indented",
        "| a | b |",
        "|---|---|",
        "| [x](y.md) | `z` |",
        "a | b",
        "--- | ---",
        "> | q |",
        "> |---|",
        "| c |\n-",
        "<!-- skill-audit: disable LK -->",
        "<!-- skill-audit: enable -->",
        "<!-- skill-audit: disable-next-line -->",
        "<!--",
        "-->",
        '<a id="x"></a>',
        "> quote",
        "- item",
        "1. item",
        "---",
        "${CLAUDE_SKILL_DIR}/references/x.md",
        'Read("${CLAUDE_SKILL_DIR}/x.md")',
        "Total: 3 rules across 2 categories",
        "\t",
        "",
        "\\",
        "name: x",
        "key: [a, {b: c}]",
        "&a [*a]",
        "*",
        "_",
        "\r",
        "\u00e9",
        "\x00",
    ]
)
YAML_PIECES = st.sampled_from(
    [
        "name: s",
        "description: Use when x",
        "description: >-",
        "  folded",
        "- item",
        "? complex",
        ": value",
        "&anchor [1, 2]",
        "*anchor",
        "!!binary aGk=",
        "!!python/object:x {}",
        "{a: [b, c]}",
        "key: 'quoted # not a comment'",
        "key: value # comment",
        "<<: *anchor",
        "'",
        '"',
        "[",
        "{",
        "|",
        "user-invocable: no",
        "disable-model-invocation: yes",
        "agent: Plan",
        "metadata:",
        "  k: 1",
        "1: 2",
        "null: ~",
        "2024-01-01: date",
        "\t",
        "%YAML 1.1",
        "---",
        "...",
    ]
)


def lines_of(pieces):
    return st.lists(st.one_of(pieces, st.text(max_size=20)), max_size=30).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(lines_of(YAML_PIECES))
def test_frontmatter_parser_never_raises(yaml_text):
    fm = parse_frontmatter(["---", *yaml_text.split("\n"), "---", "body"])
    assert fm.error is None or (fm.error_line or 0) >= 1
    assert fm.data is None or isinstance(fm.data, dict)


@settings(max_examples=300, deadline=None)
@given(lines_of(MD_PIECES))
def test_markdown_parser_never_raises_and_positions_are_in_the_file(text):
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # as skill_audit.model.read_text does
    lines = text.split("\n")
    parsed = parse_markdown(text, lines, Path("x.md"))
    for item in [*parsed.links, *parsed.inline_code, *parsed.html_comments, *parsed.headings]:
        assert 1 <= item.line <= len(lines)
    # the table shortcut never loses a table the full parser would find
    full = MarkdownIt("commonmark").enable("table").parse(text)
    assert len(parsed.tables) == sum(1 for t in full if t.type == "table_open")
    assert len(parsed.fences) == sum(1 for t in full if t.type == "fence")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines_of(YAML_PIECES), lines_of(MD_PIECES), lines_of(MD_PIECES))
def test_every_check_survives_random_skills(frontmatter, body, reference):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "s"
        (root / "references").mkdir(parents=True)
        (root / "SKILL.md").write_text(
            f"---\n{frontmatter}\n---\n{body}\n", encoding="utf-8", errors="surrogateescape"
        )
        (root / "references" / "x.md").write_text(
            reference, encoding="utf-8", errors="surrogateescape"
        )
        report = run_check([root], Options(jobs=1))
    assert report.internal_errors == []
    assert all(d.line >= 1 and d.column >= 1 for d in report.diagnostics)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="`a \n*_!", max_size=40))
def test_code_span_fast_path_matches_markdown_it(text):
    from markdown_it import MarkdownIt
    from skill_audit.parsing.markdown import code_spans

    tokens = MarkdownIt("commonmark").parseInline(text)[0].children or []
    expected = [(t.markup, t.content) for t in tokens if t.type == "code_inline"]
    assert code_spans(text) == expected


TOML_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 5),
        st.text(max_size=8),
        st.sampled_from(["FM", "ST001", "claude-code", "agentskills", "ALL", "x"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
TOML_KEYS = st.sampled_from(
    ["name", "profile", "select", "ignore", "per-file-ignores", "limits", "run", "envs", "other"]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(TOML_KEYS, TOML_VALUES, max_size=4))
def test_any_tool_table_is_a_config_or_a_config_error(table):
    from skill_audit.config import Config, ConfigError, parse_table

    try:
        assert isinstance(parse_table(table), Config)
    except ConfigError as exc:
        assert "\n" not in str(exc)
