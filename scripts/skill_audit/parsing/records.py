"""The plain records one markdown parse yields (`ParsedMarkdown`), shared by both parsers
(`fast_markdown`, the default, and the pure-Python `markdown`) and by the checks.

Records are named tuples: immutable like frozen dataclasses, and built about four times
faster (a 427-skill corpus makes some 150,000 of them).

Kept apart from the parsers so that loading a skill imports neither markdown-it-py nor its
setup unless the fast parser is missing or fails on a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import unquote

from skill_audit.snippets.extract import Fence

_COMMENT_RE = re.compile(r"<!--(.*?)-->", re.DOTALL)
_HTML_ID_RE = re.compile(r"""<a\s[^>]*?\b(?:id|name)\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
_SLUG_DROP_RE = re.compile(r"[^\w\- ]", re.UNICODE)


class Heading(NamedTuple):
    level: int
    text: str  # rendered text (code spans keep their content, markup dropped)
    line: int

    @property
    def slug(self) -> str:
        """GitHub slug before de-duplication; computed when an anchor is looked up (most
        headings of a corpus never are)."""
        return github_slug(self.text)


class Link(NamedTuple):
    target: str  # destination, percent-decoded ("my file.md#part"), as a file path would read
    line: int
    column: int
    image: bool = False
    text: str = ""  # link text or image alt text
    href: str = ""  # destination exactly as markdown-it normalised it


class InlineCode(NamedTuple):
    text: str
    line: int
    column: int


class Table(NamedTuple):
    header: tuple[str, ...]  # raw inline markdown of each header cell
    rows: tuple[tuple[str, ...], ...]  # raw inline markdown of each body cell
    line: int  # header row line
    row_lines: tuple[int, ...]  # file line of each body row
    # each body cell as the parse read it (`CellParts`): plain-text runs and its links
    cells: tuple[tuple[CellParts, ...], ...]


# A table cell's inline content in order: runs of plain text (markup dropped, code spans as
# their code, inline HTML as written) and a `Link` record for each link, image and autolink.
CellParts = tuple["str | Link", ...]


def cell_links(parts: CellParts) -> list[Link]:
    return [p for p in parts if isinstance(p, Link)]


def cell_text(parts: CellParts, links_as: str | None = None) -> str:
    """The cell's plain text, each link replaced by its text (or by `links_as`)."""
    return "".join(
        p if isinstance(p, str) else (p.text if links_as is None else links_as) for p in parts
    )


class CellBuilder:
    """Collects one cell's parts, merging neighbouring text runs (the two parsers split text
    into different runs; merged, their parts compare equal)."""

    def __init__(self) -> None:
        self.parts: list[str | Link] = []

    def text(self, value: str) -> None:
        if self.parts and isinstance(self.parts[-1], str):
            self.parts[-1] += value
        elif value:
            self.parts.append(value)

    def link(self, link: Link) -> None:
        self.parts.append(link)

    def build(self) -> CellParts:
        return tuple(self.parts)


class HtmlComment(NamedTuple):
    text: str  # inner text, stripped
    line: int
    column: int


@dataclass
class ParsedMarkdown:
    headings: list[Heading] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    inline_code: list[InlineCode] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    html_comments: list[HtmlComment] = field(default_factory=list)
    html_anchors: list[str] = field(default_factory=list)  # <a id|name="..."> targets
    fences: list[Fence] = field(default_factory=list)
    unclosed_fence_lines: list[int] = field(default_factory=list)  # fences running to EOF
    indented_code_lines: list[int] = field(default_factory=list)  # 4-space code blocks


def github_slug(text: str) -> str:
    """GitHub's heading anchor: lower-case, punctuation dropped, spaces to hyphens."""
    return _SLUG_DROP_RE.sub("", text.strip().lower()).replace(" ", "-")


def unique_slugs(slugs: list[str]) -> list[str]:
    """De-duplicate like github-slugger: a repeated slug gets -1, -2, ..."""
    seen: dict[str, int] = {}
    out = []
    for base in slugs:
        slug = base
        if slug in seen:
            while slug in seen:
                seen[base] += 1
                slug = f"{base}-{seen[base]}"
        seen[slug] = 0
        out.append(slug)
    return out


def add_html(content: str, line: int, column: int, out: ParsedMarkdown) -> None:
    if "<!--" in content:
        for m in _COMMENT_RE.finditer(content):
            before = content[: m.start()]
            nl = before.count("\n")
            col = m.start() - (before.rfind("\n") + 1) + 1 if nl else column + m.start()
            out.html_comments.append(HtmlComment(m.group(1).strip(), line + nl, col))
    if "<a" in content or "<A" in content:
        out.html_anchors.extend(_HTML_ID_RE.findall(content))


def decode_href(href: str) -> str:
    try:
        return unquote(href, errors="strict")
    except UnicodeDecodeError:
        return href
