"""Where a skill's markdown points: links and path mentions, resolved to files.

Shared facts for the model (which files a skill ships) and for the LK and RC checks (which
pointers are broken), so no check module needs another's internals.

A *path mention* is a skill-relative path an agent is told to open: the argument of a
`Read("...")` call, a path after a skill-folder placeholder (`${CLAUDE_SKILL_DIR}/`,
`{baseDir}/`, `$SKILL_DIR/`, ...) anywhere in the text, and `references/`, `scripts/`,
`assets/` (and the other common folder names in SKILL_DIRS) paths inside inline code.
"""

from __future__ import annotations

import bisect
import os
import re
from dataclasses import dataclass

# ${CLAUDE_*} names Claude Code substitutes; the plugin ones only in plugin skills.
KNOWN_PLACEHOLDERS = frozenset(
    {"CLAUDE_SKILL_DIR", "CLAUDE_SESSION_ID", "CLAUDE_EFFORT", "CLAUDE_PROJECT_DIR"}
)
PLUGIN_PLACEHOLDERS = frozenset({"CLAUDE_PLUGIN_ROOT", "CLAUDE_PLUGIN_DATA"})
# Spellings of "this skill's folder" found in public collections: Claude Code's
# ${CLAUDE_SKILL_DIR}, the `{baseDir}` that several plugin collections use, and shell-style
# $SKILL_DIR. Each is replaced by the skill root when a path is resolved.
SKILL_DIR_PLACEHOLDERS = (
    "${CLAUDE_SKILL_DIR}",
    "$CLAUDE_SKILL_DIR",
    "{baseDir}",
    "${baseDir}",
    "${SKILL_DIR}",
    "$SKILL_DIR",
)
# Folders whose paths in inline code are checked (LK004). Reachability (`markdown_tokens`)
# follows `.md` paths in any folder.
SKILL_DIRS = ("references", "scripts", "assets")
MARKDOWN_SUFFIXES = (".md", ".markdown")

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_PATH_CHARS = r"[^\s`'\"()\[\]<>{}*?|,;:$]"
_READ_RE = re.compile(r"""(?<![\w.])Read\(\s*(?:file_path\s*=\s*)?(["'])([^"'\n]+)\1""")
_DIR_TOKEN = "|".join(re.escape(p) for p in (*SKILL_DIR_PLACEHOLDERS, "${CLAUDE_PLUGIN_ROOT}"))
_SKILL_DIR_PATH_RE = re.compile(r"(?:" + _DIR_TOKEN + r")/" + _PATH_CHARS + "*")
_BARE_PATH_RE = re.compile(
    r"(?<![\w./$}-])(?:\./)?(?:" + "|".join(SKILL_DIRS) + r")/" + _PATH_CHARS + "*"
)
_BARE_HINT_RE = re.compile("(?:" + "|".join(SKILL_DIRS) + ")/")
_GLOB_CHARS = frozenset("*?[{<$")
_TEMPLATE_RE = re.compile(r"[*?<>{}\[\]$]")
_PLACEHOLDER_RE = re.compile(r"\$\{(CLAUDE_[A-Za-z0-9_]*)\}")
_OWN_PLUGIN_PATH_RE = re.compile(r"^\$\{CLAUDE_PLUGIN_ROOT\}/skills/([^/]+)/?(.*)$")
# Any token that names a markdown file, for reachability (never reported when missing).
_MD_TOKEN_RE = re.compile(  # any case: `Guide.MD` is a markdown file too
    r"(?:(?:" + _DIR_TOKEN + r")/|(?:\.{1,2}/)+)?(?:[\w.@+-]+/)*[\w.@+-]+\.(?:md|markdown)\b",
    re.IGNORECASE,
)
_NEWLINE_RE = re.compile("\n")
_EXAMPLE_LINE_RE = re.compile(
    r"(?i)\be\.g\.|\bfor example\b|\bexamples?\b|\bsuch as\b|\blike `|✓|✗|✅|❌|\*\*(?:good|bad)\b"
)


@dataclass(frozen=True)
class PathMention:
    raw: str  # as written, e.g. "${CLAUDE_SKILL_DIR}/references/x.md#part"
    line: int
    column: int
    how: str  # "Read()", "inline code" or "placeholder path"


class LineIndex:
    """Offset -> (line, column), both 1-based, for one text (the one helper for it)."""

    def __init__(self, text: str):
        self.starts = [0] + [m.end() for m in _NEWLINE_RE.finditer(text)]

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1

    def offset(self, line: int, column: int) -> int:
        """The inverse of `position` (a line past the end maps to the text's end)."""
        return self.starts[min(line, len(self.starts)) - 1] + column - 1


def split_fragment(target: str) -> tuple[str, str]:
    path, _, fragment = target.partition("#")
    return path.split("?", 1)[0], fragment


def is_external(target: str) -> bool:
    return target.startswith("//") or bool(_SCHEME_RE.match(target))


def inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def has_skill_dir_placeholder(path: str) -> bool:
    return any(p in path for p in SKILL_DIR_PLACEHOLDERS)


def substitute(raw: str, root: str, plugin: str | None, names: tuple[str, ...]) -> str | None:
    """A path with the skill-folder placeholders and ${CLAUDE_PLUGIN_ROOT} replaced, or None
    when it holds a placeholder that names no folder of the skill (a session id, another skill
    of a plugin the skill is not in). `names`: the folder names this skill answers to."""
    out = raw
    for token in SKILL_DIR_PLACEHOLDERS:
        if token in out:
            out = out.replace(token, root)
    if "${CLAUDE_PLUGIN_ROOT}" in out:
        if plugin is not None:
            out = out.replace("${CLAUDE_PLUGIN_ROOT}", plugin)
        else:
            # A plugin's skill checked on its own still reaches its own files as
            # ${CLAUDE_PLUGIN_ROOT}/skills/<its name>/... (LK006 warns about the placeholder).
            m = _OWN_PLUGIN_PATH_RE.match(out)
            if not m or m.group(1) not in names:
                return None
            out = os.path.join(root, m.group(2))
    return None if "${" in out else out


def path_mentions(doc) -> list[PathMention]:
    """Skill-relative paths an agent is told to open (see the module doc), in file order."""
    text = doc.text
    found: dict[tuple[int, str], PathMention] = {}
    index: LineIndex | None = None

    def position(offset: int) -> tuple[int, int]:
        nonlocal index
        if index is None:
            index = LineIndex(text)
        return index.position(offset)

    if "Read(" in text:
        for m in _READ_RE.finditer(text):
            raw = m.group(2).strip()
            stripped = raw
            for token in SKILL_DIR_PLACEHOLDERS:
                stripped = stripped.replace(token, "")
            if _TEMPLATE_RE.search(_PLACEHOLDER_RE.sub("", stripped)):
                continue  # Read("references/<rule>.md"): a pattern, not a file
            if (
                raw.startswith("${")
                or has_skill_dir_placeholder(raw)
                or raw.split("/", 1)[0] in SKILL_DIRS
                or raw.startswith("./")
            ):
                line, col = position(m.start(2))
                found.setdefault((line, raw), PathMention(raw, line, col, "Read()"))
    if "${CLAUDE_" in text or "{baseDir}" in text or "$SKILL_DIR" in text or "${SKILL_DIR}" in text:
        for m in _SKILL_DIR_PATH_RE.finditer(text):
            if m.end() < len(text) and text[m.end()] in _GLOB_CHARS:
                continue  # ${CLAUDE_SKILL_DIR}/references/<rule>.md: a pattern, not a file
            raw = m.group(0).rstrip(".")
            line, col = position(m.start())
            found.setdefault((line, raw), PathMention(raw, line, col, "placeholder path"))
    example_lines: dict[int, bool] = {}
    for code in doc.inline_code:
        content = code.text
        if "/" not in content or not _BARE_HINT_RE.search(content):
            continue
        if code.line not in example_lines:
            line_text = doc.lines[code.line - 1] if 0 < code.line <= len(doc.lines) else ""
            example_lines[code.line] = bool(_EXAMPLE_LINE_RE.search(line_text))
        if example_lines[code.line]:
            continue  # "e.g. `assets/logo.png`": an illustration of a layout, not an instruction
        for m in _BARE_PATH_RE.finditer(content):
            if m.end() < len(content) and content[m.end()] in _GLOB_CHARS:
                continue  # a glob or template such as references/<rule>.md
            raw = m.group(0).rstrip(".")
            # The span's text is not its source (CommonMark turns line breaks into spaces and
            # drops continuation-line indentation), but a path has no spaces, so it appears
            # verbatim in the source after the span's start: find it there.
            if index is None:
                index = LineIndex(text)
            start = index.offset(code.line, code.column)
            found_at = text.find(m.group(0), start)
            line, col = position(found_at if found_at >= 0 else start)
            found.setdefault((line, raw), PathMention(raw, line, col, "inline code"))
    return sorted(found.values(), key=lambda p: (p.line, p.column))


_MD_SUFFIX_RE = re.compile(r"\.(?:md|markdown)\b", re.IGNORECASE)
_PATH_CHARS_RE = re.compile(r"[\w.@+/${}-]*")


def markdown_tokens(text: str) -> list[str]:
    """Every token of `text` that looks like a path to a markdown file (links, mentions, plain
    prose such as "see rules/retries.md"): candidates for reachability, resolved by the model.
    Each `.md` is found first and the path read backwards from it, so the scan stays linear
    on long words (a regex anchored at every position backtracks over them)."""
    if ".md" not in text and ".markdown" not in text and not _MD_SUFFIX_RE.search(text):
        return []
    found = []
    for m in _MD_SUFFIX_RE.finditer(text):
        # the run of path characters just before `.md` (at most 300), read on the reversed
        # window: one match instead of a search that retries from every position
        window = text[max(0, m.start() - 300) : m.start()]
        tail = _PATH_CHARS_RE.match(window[::-1]).end()
        candidate = text[m.start() - tail : m.end()]
        token = _MD_TOKEN_RE.search(candidate)
        if token and token.end() == len(candidate):
            found.append(token.group(0))
    return list(dict.fromkeys(found))
