"""Split the leading `---` YAML block off a markdown file and parse it safely.

Safe means: PyYAML's safe loader (the C one when available), every top-level key's file line,
duplicate keys found on the composed node tree (PyYAML itself keeps the last one silently),
and hostile input turned into an `error` instead of a crash: the text is measured first, so
deep nesting is refused before PyYAML or libyaml's recursive composer sees it, and
aliases are expanded by counting (memoised on node identity), so an alias bomb or a recursive
alias is refused before anything walks the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from skill_audit.parsing.yaml_depth import nesting_problem

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when libyaml is built in

MAX_DEPTH = 64
MAX_NODES = 20_000
MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class Entry:
    """One top-level `key: value` pair with positions (1-based file lines)."""

    key: Any
    line: int
    column: int
    node: yaml.Node  # the value node (style, tag, marks)


@dataclass(frozen=True)
class Duplicate:
    path: str  # dotted key path, e.g. "metadata.version"
    line: int  # the later (winning) occurrence
    column: int
    first_line: int


@dataclass
class Frontmatter:
    """The YAML block at the top of a markdown file.

    `present` is False when the file does not start with a `---` line; `closed` is False when
    it does but no closing `---` line follows (then nothing is parsed). `raw` is the YAML text,
    `start_line`/`end_line` the file lines of the two `---` markers. When YAML fails, `error`
    is a one-line message and `error_line` its file line; `data` is the top-level mapping (None
    when absent, broken or not a mapping), `value` whatever the YAML produced.
    """

    present: bool = False
    closed: bool = False
    raw: str = ""
    start_line: int = 0
    end_line: int = 0
    data: dict | None = None
    value: Any = None
    is_mapping: bool = False
    key_lines: dict[str, int] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    error: str | None = None
    error_line: int | None = None

    @property
    def ok(self) -> bool:
        return self.data is not None

    def line_of(self, key: str) -> int:
        """File line of a top-level key, else the opening marker's line."""
        return self.key_lines.get(key, self.start_line or 1)


def split_frontmatter(lines: list[str]) -> tuple[int, int] | None:
    """(start, end) 1-based lines of the `---` markers, (1, 0) when unclosed, None when absent."""
    if not lines or lines[0].rstrip() != "---":
        return None
    for i in range(1, len(lines)):
        if lines[i].rstrip() == "---":
            return 1, i + 1
    return 1, 0


def parse_frontmatter(lines: list[str]) -> Frontmatter:
    span = split_frontmatter(lines)
    if span is None:
        return Frontmatter()
    start, end = span
    if end == 0:
        return Frontmatter(
            present=True, start_line=1, error="frontmatter has no closing '---' line", error_line=1
        )
    raw = "\n".join(lines[start : end - 1])
    fm = Frontmatter(present=True, closed=True, raw=raw, start_line=start, end_line=end)
    offset = start + 1  # file line of YAML line 1
    if len(raw) > MAX_BYTES:
        fm.error, fm.error_line = f"frontmatter is larger than {MAX_BYTES // 1024} KiB", start
        return fm
    try:
        problem = yaml_nesting_problem(raw)
        if problem:
            fm.error, fm.error_line = problem[0], problem[1] + offset
            return fm
        loader = SAFE_LOADER(raw)
        try:
            node = loader.get_single_node()
            if node is not None:
                problem = _check_expansion(node)
                if problem:
                    fm.error, fm.error_line = problem[0], problem[1] + offset
                    return fm
            value = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        fm.error = _one_line(exc)
        fm.error_line = (mark.line + offset) if mark else start
        return fm
    except (yaml.YAMLError, RecursionError, ValueError, TypeError, OverflowError) as exc:
        fm.error, fm.error_line = f"YAML error: {_one_line(exc)}", start
        return fm
    fm.value = value
    if isinstance(node, yaml.MappingNode) and isinstance(value, dict):
        fm.is_mapping = True
        fm.data = value
        for key_node, value_node in node.value:
            key = _scalar_key(key_node)
            line = key_node.start_mark.line + offset
            fm.entries.append(Entry(key, line, key_node.start_mark.column + 1, value_node))
            if isinstance(key, str):
                fm.key_lines.setdefault(key, line)
        fm.duplicates = _duplicates(node, offset)
    return fm


def _one_line(exc: Exception) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        parts = [p for p in (exc.context, exc.problem) if p]
        return "invalid YAML: " + "; ".join(" ".join(p.split()) for p in parts)
    return " ".join(str(exc).split()) or type(exc).__name__


def yaml_nesting_problem(raw: str) -> tuple[str, int] | None:
    """(message, 0-based YAML line) when `raw` nests deeper than MAX_DEPTH, else None.

    The text is measured first (`yaml_depth`), so the refusal is ours whatever PyYAML version
    is installed (6.0.4 added a limit of its own with its own wording). The event parser, which
    is not recursive, then confirms the depth of what the text scan let through. Anyone loading
    untrusted YAML (frontmatter, yaml fences) calls this first; syntax errors propagate as
    yaml.YAMLError.
    """
    problem = nesting_problem(raw, MAX_DEPTH)
    if problem:
        return problem
    depth = 0
    for event in yaml.parse(raw, Loader=SAFE_LOADER):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                return f"YAML nested deeper than {MAX_DEPTH} levels", event.start_mark.line
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
    return None


def _check_expansion(root: yaml.Node) -> tuple[str, int] | None:
    """Expanded node count with aliases followed; refuse bombs and recursive aliases.
    Returns (message, 0-based YAML line of the node where the limit is crossed)."""
    sizes: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_stack.discard(key)
            total = 1 + sum(sizes[id(c)] for c in _children(node))
            if total > MAX_NODES:
                return (
                    f"YAML aliases expand to more than {MAX_NODES:,} nodes (alias bomb?)",
                    node.start_mark.line,
                )
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in on_stack:
            return "YAML alias refers to itself (recursive structure)", node.start_mark.line
        on_stack.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_stack:
                return "YAML alias refers to itself (recursive structure)", child.start_mark.line
            if id(child) not in sizes:
                stack.append((child, False))
    return None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _scalar_key(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return node.value
    return f"<{type(node).__name__.replace('Node', '').lower()} key>"


def _duplicates(root: yaml.MappingNode, offset: int) -> list[Duplicate]:
    found: list[Duplicate] = []
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, prefix = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key_node, value_node in node.value:
                if (
                    isinstance(key_node, yaml.ScalarNode)
                    and key_node.tag != "tag:yaml.org,2002:merge"
                ):
                    ident = (key_node.tag, key_node.value)
                    line = key_node.start_mark.line + offset
                    path = f"{prefix}{key_node.value}"
                    if ident in first:
                        found.append(
                            Duplicate(path, line, key_node.start_mark.column + 1, first[ident])
                        )
                    else:
                        first[ident] = line
                    stack.append((value_node, path + "."))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                stack.append((item, f"{prefix.rstrip('.')}[{i}]."))
    return sorted(found, key=lambda d: d.line)
