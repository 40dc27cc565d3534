"""The same `ParsedMarkdown` as `skill_audit.parsing.markdown.parse_markdown`, from
markdown-it-pyrs (markdown-it's rules compiled to Rust), about 15x faster on the block parse
that dominates `check`'s time. Positions come from the parser's source map (byte offsets,
turned into file line and column), so no searching is needed.

`available()` says whether the Rust parser is installed; `skill_audit.model` falls back to the
pure-Python parser when it is not. tests/check/test_fast_markdown.py holds both parsers to the
same records on every fixture, this repository and generated documents.
"""

from __future__ import annotations

import bisect
from itertools import accumulate
from pathlib import Path

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
from skill_audit.snippets.extract import Fence
from skill_audit.snippets.grammar import parse_info

try:
    import markdown_it_pyrs

    _MD = markdown_it_pyrs.MarkdownIt("commonmark").enable("table")
except ImportError:  # optional: the pure-Python parser serves instead
    _MD = None


def available() -> bool:
    return _MD is not None


class _Positions:
    """Byte offset -> (1-based line, 1-based column in characters)."""

    def __init__(self, text: str):
        self.text = text
        self.data = text.encode("utf-8")
        self.ascii = len(self.data) == len(text)
        # offsets of line starts, summed in C: each line's length plus its newline
        self.starts = [0, *accumulate(map((1).__add__, map(len, self.data.split(b"\n"))))]

    def at(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset)
        start = self.starts[line - 1]
        if self.ascii:
            return line, offset - start + 1
        return line, len(self.data[start:offset].decode("utf-8", "replace")) + 1

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def source(self, start: int, end: int) -> str:
        if self.ascii:
            return self.text[start:end]
        return self.data[start:end].decode("utf-8", "replace")


def parse_markdown_fast(text: str, lines: list[str], path: Path) -> ParsedMarkdown:
    """See `skill_audit.parsing.markdown.parse_markdown` (same inputs, same records)."""
    pos = _Positions(text)
    out = ParsedMarkdown()
    handlers = _HANDLERS
    for node in _MD.tree(text).walk():  # depth first, in source order; iterated in Rust
        handler = handlers.get(node.name)  # most nodes (text, paragraph, ...) have none
        if handler is not None:
            handler(node, pos, lines, path, out)
    return out


def _heading(node, pos, lines, path, out) -> None:
    srcmap = node.srcmap
    children = node.children
    if len(children) == 1 and children[0].name == "text":  # the common case, no markup
        text = children[0].meta.get("content", "")
    else:
        text = _plain(children)
    line = pos.line(srcmap[0]) if srcmap else 1
    out.headings.append(Heading(node.meta.get("level", 1), text, line))


def _code_block(node, pos, lines, path, out) -> None:
    srcmap = node.srcmap
    if srcmap:
        out.indented_code_lines.append(pos.line(srcmap[0]))


def _html_block(node, pos, lines, path, out) -> None:
    srcmap = node.srcmap
    if srcmap:
        add_html(node.meta.get("content", ""), pos.line(srcmap[0]), 1, out)


def _html_inline(node, pos, lines, path, out) -> None:
    srcmap = node.srcmap
    if srcmap:
        line, col = pos.at(srcmap[0])
        add_html(node.meta.get("content", ""), line, col, out)


def _code_inline(node, pos, lines, path, out) -> None:
    srcmap = node.srcmap
    if srcmap:
        line, col = pos.at(srcmap[0])
        out.inline_code.append(InlineCode(_plain(node.children), line, col))


def _plain(children) -> str:
    parts = []
    for child in children:
        name = child.name
        if name in ("text", "text_special"):
            parts.append(child.meta.get("content", ""))
        elif name in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif name in ("code_inline", "image") or child.children:
            parts.append(_plain(child.children))
    return "".join(parts)


def _link(node, pos, lines, path, out, image: bool = False) -> None:
    out.links.append(_link_record(node, pos, image))


def _link_record(node, pos, image: bool) -> Link:
    href = str(node.meta.get("url", ""))
    target = decode_href(href)
    srcmap = node.srcmap
    if srcmap:
        start, end = srcmap
        source = pos.source(start, end)
        # the column of `](` as the search-based parser reports it, else the link's start
        at = source.rfind("](") if source.endswith(")") else -1
        offset = start + len(source[:at].encode("utf-8")) if at >= 0 else start
        line, col = pos.at(offset)
    else:
        line, col = 1, 1
    return Link(target, line, col, image, _plain(node.children), href)


def _fence(node, pos, lines, path, out) -> None:
    srcmap = node.srcmap
    if not srcmap:
        return
    start, end = srcmap
    first = pos.line(start)
    meta = node.meta  # a new dict on every read
    info = meta.get("info", "")
    out.fences.append(Fence(path, first, info, meta.get("content", ""), parse_info(info)))
    last = pos.line(max(start, end - 1))
    marker = meta.get("marker", "`") * int(meta.get("marker_len", 3))
    closing = lines[last - 1].lstrip(" \t>").strip() if 0 < last <= len(lines) else ""
    closed = last > first and closing.startswith(marker) and set(closing) == {marker[0]}
    if not closed:
        out.unclosed_fence_lines.append(first)


def _table(node, pos, lines, path, out) -> None:
    header: tuple[str, ...] = ()
    rows: list[tuple[str, ...]] = []
    row_lines: list[int] = []
    parsed: list[tuple[CellParts, ...]] = []
    for section in node.children:
        in_head = section.name == "thead"
        for row in section.children:
            row_cells = row.children  # each read of `children` builds new node objects
            cells = tuple(_cell_source(cell.srcmap, pos) for cell in row_cells)
            if in_head:
                header = cells
            else:
                rows.append(cells)
                span = row.srcmap
                row_lines.append(pos.line(span[0]) if span else 1)
                parsed.append(tuple(_cell_parts(cell.children, pos) for cell in row_cells))
    span = node.srcmap
    line = pos.line(span[0]) if span else 1
    out.tables.append(Table(header, tuple(rows), line, tuple(row_lines), tuple(parsed)))


def _cell_source(span, pos) -> str:
    """A cell's raw inline markdown, escaped pipes unescaped."""
    return pos.source(*span).strip().replace("\\|", "|") if span else ""


def _cell_parts(children, pos) -> CellParts:
    if len(children) == 1 and children[0].name == "text":  # most cells: plain words
        content = children[0].meta.get("content", "")
        return (content,) if content else ()
    cell = CellBuilder()

    def visit(nodes) -> None:
        for child in nodes:
            name = child.name
            if name in ("text", "text_special", "html_inline"):
                cell.text(child.meta.get("content", ""))
            elif name in ("softbreak", "hardbreak"):
                cell.text(" ")
            elif name == "code_inline":
                cell.text(_plain(child.children))
            elif name in ("link", "autolink", "image"):
                cell.link(_link_record(child, pos, name == "image"))
            elif child.children:
                visit(child.children)

    visit(children)
    return cell.build()


def _image(node, pos, lines, path, out) -> None:
    _link(node, pos, lines, path, out, image=True)


_HANDLERS = {
    "heading": _heading,
    "lheading": _heading,  # a setext heading (underlined with = or -)
    "fence": _fence,
    "code_block": _code_block,
    "html_block": _html_block,
    "html_inline": _html_inline,
    "link": _link,
    "autolink": _link,
    "image": _image,
    "code_inline": _code_inline,
    "table": _table,
}
