"""One markdown-it-py parse of a file, turned into the plain records the checks share.

Lines are 1-based FILE lines: the caller blanks the frontmatter lines (keeping the newlines)
before parsing, so markdown-it's `token.map` equals file lines. Columns are found by searching
the token's source lines; when a construct cannot be located (e.g. a reference-style link
whose target lives in a definition elsewhere) the column is 1 on the block's first line.
"""

from __future__ import annotations

import re
from pathlib import Path

from markdown_it import MarkdownIt

from skill_audit.parsing.records import (
    CellBuilder,
    CellParts,
    Heading,
    InlineCode,
    Link,
    ParsedMarkdown,
    Table,
    add_html,
    decode_href,
)
from skill_audit.snippets.extract import fences_from_tokens

# Speed: block-parse everything, but inline-parse only what a check reads. Inline content
# without `[`, `<` or a backslash can hold no link, image, autolink, HTML or escape, so at most
# code spans, which `code_spans` finds by CommonMark's backtick rule (a property test holds it
# to markdown-it); the rest is parsed without emphasis (links and code spans do not depend on
# it). Headings are parsed with every inline rule, since emphasis changes their GitHub slug.
# Two core passes are skipped as well: `normalize` (a regex substitution at every newline)
# has nothing to do on text from `skill_audit.model.read_text`, which normalises newlines and
# rejects NUL bytes, and `text_join` only merges inline children, which this parser never makes.
_BLOCK_ONLY = ["inline", "normalize", "text_join"]
_MD = MarkdownIt("commonmark").enable("table").disable(_BLOCK_ONLY)
# markdown-it tries its table rule on every line, a third of the block parse. A table needs a
# header line holding `|` directly above a delimiter row (`|---|`, `:--`, possibly inside a
# blockquote); a file without that pair cannot hold one and is parsed without the rule.
_MD_NO_TABLE = MarkdownIt("commonmark").disable(_BLOCK_ONLY)
_TABLE_HINT = re.compile(r"\|[^\n]*\n[ \t>]*[-:|][-:| \t]*$", re.MULTILINE)
_INLINE = MarkdownIt("commonmark").disable(["emphasis", "text_join", "entity"])
_HEADING = MarkdownIt("commonmark")
_HEADING_MARKUP = frozenset("`*_[]<>\\&!")  # without these, a heading's text is its source


class _Locator:
    """Finds successive pieces of an inline token's source, left to right."""

    def __init__(self, lines: list[str], start: int, end: int):
        self.start = start  # 0-based first line
        self.lines, self.end = lines, end
        self.segment: str | None = None  # joined on first use: most blocks never need it
        self.cursor = 0

    def find(self, *needles: str, offset: int = 0) -> tuple[int, int]:
        if self.segment is None:
            self.segment = "\n".join(self.lines[self.start : self.end])
        for needle in needles:
            if not needle:
                continue
            pos = self.segment.find(needle, self.cursor)
            if pos >= 0:
                self.cursor = pos + len(needle)
                pos += offset
                line_start = self.segment.rfind("\n", 0, pos) + 1
                return self.start + self.segment.count("\n", 0, pos) + 1, pos - line_start + 1
        return self.start + 1, 1


def parse_markdown(text: str, lines: list[str], path: Path) -> ParsedMarkdown:
    """Parse `text` (frontmatter blanked, newlines already normalised to \\n and no NUL byte, as
    `skill_audit.model.read_text` does) once; `lines` are the file's lines for positions."""
    env: dict = {}
    tokens = (_MD if _TABLE_HINT.search(text) else _MD_NO_TABLE).parse(text, env)
    out = ParsedMarkdown(fences=fences_from_tokens(tokens, path))
    heading_level = 0
    table: _TableBuilder | None = None
    locator: _Locator | None = None
    for tok in tokens:
        ttype = tok.type
        if ttype == "inline":
            if tok.map is not None:
                if locator is None or locator.start != tok.map[0]:
                    locator = _Locator(lines, tok.map[0], tok.map[1])
            else:
                locator = locator or _Locator(lines, 0, 1)
            if heading_level:
                heading, children = _heading(tok, heading_level, env)
                out.headings.append(heading)
                _scan_inline(children, locator, out)  # a heading's links and code spans count too
            elif table is not None:
                # a cell: every inline rule, since its parts keep text without emphasis markup
                children = _HEADING.parseInline(tok.content, env)[0].children or []
                first = len(out.links)
                _scan_inline(children, locator, out)
                table.add_cell(tok.content, _cell_parts(children, out.links[first:]))
            else:
                _inline(tok.content, locator, env, out)
        elif ttype == "heading_open":
            heading_level = int(tok.tag[1:])
        elif ttype == "heading_close":
            heading_level = 0
        elif ttype == "fence" and tok.map:
            _check_fence_closed(tok, lines, out)
        elif ttype == "code_block" and tok.map:
            out.indented_code_lines.append(tok.map[0] + 1)
        elif ttype == "html_block" and tok.map:
            add_html(tok.content, tok.map[0] + 1, 1, out)
        elif ttype == "table_open":
            table = _TableBuilder(tok.map[0] + 1 if tok.map else 1)
        elif table is not None:
            if ttype == "tr_open":
                table.start_row(tok.map[0] + 1 if tok.map else table.line)
            elif ttype == "tr_close":
                table.end_row()
            elif ttype == "table_close":
                out.tables.append(table.build())
                table = None
    return out


def _heading(tok, level: int, env: dict) -> tuple[Heading, list]:
    """The heading and its inline children (parsed with every rule: emphasis changes the slug)."""
    content = tok.content
    children: list = []
    text = content
    if any(c in content for c in _HEADING_MARKUP):
        children = _HEADING.parseInline(content, env)[0].children or []
        text = _plain_text(children)
    return Heading(level, text, tok.map[0] + 1 if tok.map else 1), children


def _inline(content: str, locator: _Locator, env: dict, out: ParsedMarkdown) -> None:
    """Links, images, code spans and inline HTML of one inline token (see the note on speed)."""
    if "[" in content or "<" in content or "\\" in content:
        children: list = []
        _INLINE.inline.parse(content, _INLINE, env, children)
        _scan_inline(children, locator, out)
    elif "`" in content:  # code spans only: CommonMark's backtick rule, without the parser
        for markup, code in code_spans(content):
            line, col = locator.find(markup + code, code)
            out.inline_code.append(InlineCode(code, line, col))


class _TableBuilder:
    """One table's cells, in token order: the first row is the header."""

    def __init__(self, line: int):
        self.line = line
        self.header: tuple[str, ...] | None = None
        self.rows: list[tuple[str, ...]] = []
        self.row_lines: list[int] = []
        self.parsed: list[tuple[CellParts, ...]] = []
        self.cells: list[str] | None = None  # the open row's cells
        self.parts: list[CellParts] = []
        self.row_line = line

    def start_row(self, line: int) -> None:
        self.cells, self.parts, self.row_line = [], [], line

    def add_cell(self, content: str, parts: CellParts) -> None:
        if self.cells is not None:
            self.cells.append(content)
            self.parts.append(parts)

    def end_row(self) -> None:
        cells = tuple(self.cells or ())
        if self.header is None:
            self.header = cells
        else:
            self.rows.append(cells)
            self.row_lines.append(self.row_line)
            self.parsed.append(tuple(self.parts))
        self.cells = None

    def build(self) -> Table:
        return Table(
            self.header or (),
            tuple(self.rows),
            self.line,
            tuple(self.row_lines),
            tuple(self.parsed),
        )


def _cell_parts(children, links: list[Link]) -> CellParts:
    """A cell's parts from its inline tokens; `links` are the Link records `_scan_inline` made
    from the same tokens, in order."""
    cell = CellBuilder()
    pending = iter(links)  # in `_scan_inline`'s order: an image when seen, a link at its close
    in_link = False
    for child in children:
        ctype = child.type
        if ctype == "link_open":
            in_link = True
        elif ctype == "link_close":
            cell.link(next(pending))
            in_link = False
        elif ctype == "image":
            image = next(pending)
            if not in_link:  # an image inside a link is part of that link, as in the Rust parse
                cell.link(image)
        elif in_link:
            continue
        elif ctype in ("text", "text_special", "code_inline", "html_inline"):
            cell.text(child.content)
        elif ctype in ("softbreak", "hardbreak"):
            cell.text(" ")
    return cell.build()


def code_spans(content: str) -> list[tuple[str, str]]:
    """(backtick string, code) of each code span in `content` that has no `[`, `<` or `\\`
    (so nothing but code spans can be there). Follows CommonMark: a run of N backticks closes
    at the next run of exactly N; newlines become spaces; one space is stripped from both ends
    when both are spaces and the code is not all spaces; an unmatched run is literal text."""
    out = []
    n = len(content)
    i = content.find("`")
    while i >= 0:
        j = i
        while j < n and content[j] == "`":
            j += 1
        run = j - i
        k = content.find("`", j)
        close = -1
        while k >= 0:
            m = k
            while m < n and content[m] == "`":
                m += 1
            if m - k == run:
                close = k
                break
            k = content.find("`", m)
        if close < 0:
            i = content.find("`", j)
            continue
        code = content[j:close].replace("\n", " ")
        if len(code) > 2 and code[0] == " " and code[-1] == " " and code.strip(" "):
            code = code[1:-1]
        out.append(("`" * run, code))
        i = content.find("`", close + run)
    return out


def _scan_inline(children, locator: _Locator, out: ParsedMarkdown) -> None:
    link: tuple[str, int, int, str] | None = None
    link_text: list[str] = []
    for child in children:
        ctype = child.type
        if ctype == "link_open":
            href = str(child.attrs.get("href", ""))
            target = decode_href(href)
            line, col = locator.find(f"]({target}", f"]({href}", f"<{href}", href, target)
            link = (target, line, col, href)
            link_text = []
        elif ctype == "link_close" and link is not None:
            target, line, col, href = link
            out.links.append(Link(target, line, col, False, "".join(link_text), href))
            link = None
        elif ctype == "image":
            href = str(child.attrs.get("src", ""))
            target = decode_href(href)
            line, col = locator.find(f"]({target}", f"]({href}", href, target)
            out.links.append(Link(target, line, col, True, child.content, href))
            if link is not None:  # a linked image: its alt text is the link's text
                link_text.append(child.content)
        elif ctype == "code_inline":
            line, col = locator.find(child.markup + child.content, child.content)
            out.inline_code.append(InlineCode(child.content, line, col))
            if link is not None:
                link_text.append(child.content)
        elif ctype == "html_inline":
            line, col = locator.find(child.content)
            add_html(child.content, line, col, out)
        elif ctype in ("text", "text_special") and link is not None:
            link_text.append(child.content)


def _plain_text(children) -> str:
    parts = []
    for child in children:
        if child.type in ("text", "text_special", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return "".join(parts)


def _check_fence_closed(tok, lines: list[str], out: ParsedMarkdown) -> None:
    start, end = tok.map
    last = lines[end - 1].lstrip(" \t>").strip() if 0 < end <= len(lines) else ""
    closed = end - start >= 2 and last.startswith(tok.markup) and set(last) == {tok.markup[0]}
    if not closed:
        out.unclosed_fence_lines.append(start + 1)
