"""Inline suppression by HTML comment in a markdown file:

    <!-- skill-audit: disable LK001,CS002 -->   ... up to ...   <!-- skill-audit: enable -->
    <!-- skill-audit: disable-next-line LK001 -->   (that comment's line and the next one)
    <!-- skill-audit: disable-file RC003 -->        (the whole file, frontmatter included)

Codes may be full codes or prefixes ("LK"); `disable`/`disable-file` with no code mean every
check. `enable` with codes re-enables only those. Comments inside code blocks are not comments
(the markdown parser decides), so a documented example never suppresses anything.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field

from skill_audit.model import MarkdownDoc

_DIRECTIVE_RE = re.compile(
    r"^skill-audit:\s*(disable-next-line|disable-file|disable|enable)(?:\s+(.*))?$", re.DOTALL
)
ALL = ""  # the empty prefix matches every code


@dataclass
class Suppressions:
    file_codes: set[str] = field(default_factory=set)
    ranges: list[tuple[int, int, str]] = field(default_factory=list)  # (first, last, prefix)
    problems: list[tuple[int, int, str]] = field(default_factory=list)  # (line, col, message)
    directives: list[tuple[int, int, str, tuple[str, ...]]] = field(
        default_factory=list
    )  # line, col, verb, codes

    def covers(self, code: str, line: int) -> bool:
        if any(code.startswith(p) for p in self.file_codes):
            return True
        return any(first <= line <= last and code.startswith(p) for first, last, p in self.ranges)


def _codes(arg: str) -> list[str]:
    return [c.strip().upper() for c in re.split(r"[,\s]+", arg.strip()) if c.strip()]


# One parse per document: the engine filters findings with it and ST008 reports its problems.
_cache: weakref.WeakKeyDictionary[MarkdownDoc, Suppressions] = weakref.WeakKeyDictionary()


def parse_suppressions(doc: MarkdownDoc) -> Suppressions:
    if doc not in _cache:
        _cache[doc] = _parse(doc)
    return _cache[doc]


def _parse(doc: MarkdownDoc) -> Suppressions:
    sup = Suppressions()
    if "skill-audit:" not in doc.text:
        return sup
    open_ranges: dict[str, int] = {}
    last_line = len(doc.lines)
    for comment in doc.html_comments:
        m = _DIRECTIVE_RE.match(comment.text)
        if not m:
            if comment.text.startswith("skill-audit"):
                sup.problems.append(
                    (
                        comment.line,
                        comment.column,
                        f"unknown skill-audit directive: {comment.text[:60]!r}",
                    )
                )
            continue
        verb, codes = m.group(1), _codes(m.group(2) or "")
        sup.directives.append((comment.line, comment.column, verb, tuple(codes)))
        if verb == "disable-file":
            sup.file_codes.update(codes or [ALL])
        elif verb == "disable-next-line":
            for code in codes or [ALL]:
                sup.ranges.append((comment.line, comment.line + 1, code))
        elif verb == "disable":
            for code in codes or [ALL]:
                open_ranges.setdefault(code, comment.line)
        else:  # enable
            for code in codes if codes else list(open_ranges):
                start = open_ranges.pop(code, None)
                if start is not None:
                    sup.ranges.append((start, comment.line, code))
    for code, start in open_ranges.items():
        sup.ranges.append((start, last_line, code))
    return sup
