"""Fenced code blocks of a markdown file, with their parsed info strings and 1-based lines."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from skill_audit.snippets.grammar import FenceSpec, Kind, parse_info


class Fence(NamedTuple):  # a named tuple: a corpus makes tens of thousands
    path: Path
    line: int  # 1-based line of the opening fence marker
    info: str
    code: str
    spec: FenceSpec

    @property
    def code_line(self) -> int:
        """1-based markdown line of the first code line."""
        return self.line + 1


def fences_from_tokens(tokens, path: Path) -> list[Fence]:
    """Fences from an already-parsed markdown-it token stream (parse once, share)."""
    out = []
    for tok in tokens:
        if tok.type == "fence" and tok.map:
            out.append(Fence(path, tok.map[0] + 1, tok.info, tok.content, parse_info(tok.info)))
    return out


def read_fences(path: Path) -> list[Fence]:
    from markdown_it import MarkdownIt  # only `run` reads fences this way; `check` never imports it

    return fences_from_tokens(
        MarkdownIt("commonmark").parse(Path(path).read_text(encoding="utf-8")), Path(path)
    )


def padded_source(fence: Fence) -> str:
    """The block's code padded with blank lines so that its line numbers equal markdown lines."""
    return "\n" * (fence.code_line - 1) + fence.code


def write_modules(fences: list[Fence], dest: Path) -> list[Path]:
    """Write every `file=NAME.py` block into `dest` (line-padded) and return the paths."""
    written = []
    for fence in fences:
        if fence.spec.kind is Kind.MODULE and fence.spec.module:
            target = Path(dest) / fence.spec.module
            target.write_text(padded_source(fence), encoding="utf-8")
            written.append(target)
    return written
