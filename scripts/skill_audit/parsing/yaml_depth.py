"""How deeply a YAML text nests, measured on the text itself before any YAML library sees it.

Why not ask PyYAML: its scanner looks ahead for simple keys, so on `[[[[...` it tokenises the
whole run before the first event, and since 6.0.4 it refuses past its own limit with its own
message. Measuring the text first keeps the guard ours (same message and line whatever
PyYAML is installed) and keeps a hostile block away from libyaml's recursive composer.

The measure is an upper-bound estimate built for refusing absurd input, not a YAML parser:
flow brackets outside quoted scalars and comments, block indentation levels, and compact
`- - -` / `? ` runs on one line. Block scalars (`|`, `>`) are skipped, so text in them never
counts. Real frontmatter nests a handful of levels; the limit is 64.
"""

from __future__ import annotations

import re

# A line that opens a block scalar: `key: |`, `- >-`, `key: |2+ # comment`.
_BLOCK_SCALAR = re.compile(r"(?:^|[:\-]\s)\s*[|>][0-9+\-]*\s*(?:#.*)?$")
_COMPACT = re.compile(r"(?:[-?](?:\s+|$))+")


def nesting_problem(raw: str, limit: int) -> tuple[str, int] | None:
    """(message, 0-based line) where `raw` first nests deeper than `limit`, else None."""
    indents: list[int] = []  # open block levels (indentation columns)
    flow = 0  # open [ and { brackets
    scalar_indent: int | None = None  # inside a block scalar opened at this indentation
    quote = ""  # the open quote character inside flow context
    for number, line in enumerate(raw.split("\n")):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        if scalar_indent is not None:
            if not stripped or indent > scalar_indent:
                continue
            scalar_indent = None
        if flow == 0 and not quote:
            if not stripped or stripped.startswith("#"):
                continue
            while indents and indents[-1] >= indent:
                indents.pop()
            indents.append(indent)
            compact = _COMPACT.match(stripped)
            runs = compact.group(0).count("-") + compact.group(0).count("?") if compact else 0
            if len(indents) + runs > limit:
                return f"YAML nested deeper than {limit} levels", number
            if _BLOCK_SCALAR.search(stripped):
                scalar_indent = indent
                continue
        flow, quote, over = _scan_flow(stripped, flow, quote, len(indents), limit)
        if over:
            return f"YAML nested deeper than {limit} levels", number
    return None


_FLOW_OR_QUOTE = re.compile(r"[\[{'\"]")


def _scan_flow(text: str, flow: int, quote: str, base: int, limit: int) -> tuple[int, str, bool]:
    """Follow flow brackets through one line; returns (open brackets, open quote, too deep)."""
    if not flow and not quote and not _FLOW_OR_QUOTE.search(text):
        return 0, "", False  # most lines: nothing opens, so no walk character by character
    previous = " "
    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\" and quote == '"':
                i += 2
                continue
            if char == quote:
                if quote == "'" and text[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                quote = ""
        elif char == "#" and previous in " \t":
            break
        elif char in "'\"" and previous in " \t[{,:":
            quote = char
        elif char in "[{" and (flow or previous in " \t:-?"):
            flow += 1
            if base + flow > limit:
                return flow, quote, True
        elif char in "]}" and flow:
            flow -= 1
        previous = char
        i += 1
    return flow, quote, False
