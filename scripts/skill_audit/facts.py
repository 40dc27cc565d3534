"""Facts about a skill that several checks share, computed once per skill.

The layer between `skill_audit.model` (files, parsed once) and `skill_audit.checks` (findings):
link and mention resolution and the anchors of target files, where one link or path mention
lands (`link_target`, `mention_target`, cached per item) and what kind of block a fence is
(`fence_kind`). Facts are answers ("this link lands in references/x.md, which exists"), never
findings: each check decides its own code from them. Checks import from here, never from each
other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from skill_audit.mentions import (
    has_skill_dir_placeholder,
    inside,
    is_external,
    split_fragment,
    substitute,
)
from skill_audit.model import MarkdownDoc, per_skill, read_text
from skill_audit.snippets.grammar import Kind

__all__ = [
    "DATA_LANGS",
    "LinkTarget",
    "MentionTarget",
    "Resolver",
    "classify",
    "fence_kind",
    "inside",
    "is_external",
    "link_target",
    "mention_target",
    "resolve",
    "resolve_link",
    "resolver",
    "split_fragment",
]


class Resolver:
    """Per-skill cache of parsed markdown targets (anchor sets) and the skill's folders."""

    def __init__(self, skill):
        self.skill = skill
        self.root = os.path.normpath(str(skill.root))
        self.docs = {os.path.normpath(str(d.path)): d for d in skill.docs}
        self._anchors: dict[str, set[str] | None] = {}
        self.names = (os.path.basename(self.root), skill.expected_name)

    def anchors(self, path: str) -> set[str] | None:
        """Anchors of a markdown file (None when it cannot be read)."""
        if path not in self._anchors:
            doc = self.docs.get(path)
            if doc is None and os.path.isfile(path):  # a regular file only: never open a FIFO
                text, error = read_text(Path(path), self.skill.config.limits.max_file_bytes)
                doc = (
                    MarkdownDoc(Path(path), path, text) if text is not None and not error else None
                )
            self._anchors[path] = doc.anchors() if doc is not None else None
        return self._anchors[path]

    def fragment_problem(self, target: str, fragment: str, shown: str) -> str | None:
        """Message when `#fragment` does not resolve in markdown file `target`, else None."""
        if (
            not fragment
            or not target.lower().endswith((".md", ".markdown"))
            or os.path.isdir(target)
        ):
            return None
        anchors = self.anchors(target)
        if anchors is None or fragment in anchors or fragment.lower() in anchors:
            return None
        return f"{shown}: no heading or anchor #{fragment} in {self.rel(target)}"

    def rel(self, path: str) -> str:
        return (
            os.path.relpath(path, self.root).replace(os.sep, "/")
            if inside(path, self.root)
            else path
        )

    def substitute(self, raw: str) -> str | None:
        plugin = self.skill.plugin_root if "${CLAUDE_PLUGIN_ROOT}" in raw else None
        return substitute(raw, self.root, str(plugin) if plugin else None, self.names)


@per_skill
def resolver(skill) -> Resolver:
    """The skill's shared Resolver (its anchor and plugin lookups are cached)."""
    return Resolver(skill)


def resolve(path: str, base: str, res: Resolver) -> str | None:
    """Normalised absolute path of a local target (fragment already split off): placeholders
    substituted, relative paths joined to `base`; None when a placeholder names no folder."""
    if "${" in path or has_skill_dir_placeholder(path):
        sub = res.substitute(path)
        return None if sub is None else os.path.normpath(sub)
    return os.path.normpath(os.path.join(base, path))


def resolve_link(path: str, base: str, res: Resolver) -> tuple[str | None, bool]:
    """(resolved path, from_root) for a link target: relative to the file's folder `base`
    first; when that does not exist but the path exists relative to the skill root (the form
    the spec describes), that path with from_root=True."""
    resolved = resolve(path, base, res)
    if resolved is None or os.path.exists(resolved) or base == res.root:
        return resolved, False
    if "${" in path or has_skill_dir_placeholder(path):
        return resolved, False
    from_root = os.path.normpath(os.path.join(res.root, path))
    if inside(from_root, res.root) and os.path.exists(from_root):
        return from_root, True
    return resolved, False


# --------------------------------------------------------------------------- one link, one mention


@dataclass(frozen=True)
class LinkTarget:
    """Where one markdown link or image of a doc points (computed once, shared by LK checks)."""

    what: str  # "link" or "image"
    target: str  # as written, stripped ("" for an empty target)
    path: str  # the part before `#` ("" for a same-file anchor)
    fragment: str
    here: str  # normalised path of the doc holding the link
    base: str  # its folder
    absolute: bool  # an absolute filesystem path
    resolved: str | None  # where a relative path lands (None: empty, anchor, absolute, or a
    # placeholder that names no folder)
    from_root: bool  # lands only when read from the skill root (see resolve_link)
    inside: bool  # `resolved` is inside the skill folder
    exists: bool  # `resolved` exists


@per_skill
def _answers(skill) -> dict[tuple[str, int], object]:
    return {}  # (kind, id(item)) -> answer; links and mentions live as long as their skill


def _memo(skill, kind: str, item, compute):
    cache = _answers(skill)
    key = (kind, id(item))
    if key not in cache:
        cache[key] = compute(item)
    return cache[key]


def link_target(link, doc, skill) -> LinkTarget | None:
    """Where `link` (of `doc`) points; None for an external URL and for links in output
    templates (they name files of the project the template is copied into)."""
    return _memo(skill, "link", link, lambda item: _link_target(item, doc, skill))


def _link_target(link, doc, skill) -> LinkTarget | None:
    if doc.is_template:
        return None
    target = link.target.strip()
    if is_external(target):
        return None
    here = os.path.normpath(str(doc.path))
    base = os.path.dirname(here)
    what = "image" if link.image else "link"
    path, fragment = split_fragment(target) if target else ("", "")
    resolved, from_root, absolute = None, False, False
    if path and os.path.isabs(path):
        absolute = True
    elif path:
        resolved, from_root = resolve_link(path, base, resolver(skill))
    root = resolver(skill).root
    in_skill = resolved is not None and (from_root or inside(resolved, root))
    exists = resolved is not None and os.path.exists(resolved)
    return LinkTarget(
        what, target, path, fragment, here, base, absolute, resolved, from_root, in_skill, exists
    )


@dataclass(frozen=True)
class MentionTarget:
    """Where one path mention (`Read(...)`, `${CLAUDE_SKILL_DIR}/...`, inline code) points."""

    shown: str  # how findings name it: "Read() path references/x.md"
    path: str
    fragment: str
    resolved: str  # against the skill folder, or the file's folder when only that exists
    inside: bool  # within the skill folder (the plugin folder for ${CLAUDE_PLUGIN_ROOT})
    exists: bool
    elsewhere: bool  # missing here but present in a sibling skill named next to it or in the
    # plugin folder (only looked up for a missing target inside the skill)


def mention_target(mention, doc, skill) -> MentionTarget | None:
    """Where `mention` (of `doc`) points; None in output templates and for a placeholder that
    names no folder (LK005/LK006 report those)."""
    return _memo(skill, "mention", mention, lambda item: _mention_target(item, doc, skill))


def _mention_target(mention, doc, skill) -> MentionTarget | None:
    if doc.is_template:
        return None
    res = resolver(skill)
    path, fragment = split_fragment(mention.raw)
    resolved = resolve(path, res.root, res)
    if resolved is None:
        return None
    exists = os.path.exists(resolved)
    if not exists and not path.startswith("${"):
        near = resolve(path, os.path.dirname(os.path.normpath(str(doc.path))), res)
        if near and inside(near, res.root) and os.path.exists(near):
            resolved, exists = near, True  # written relative to the file that mentions it
    plugin = skill.plugin_root if path.startswith("${CLAUDE_PLUGIN_ROOT}") else None
    boundary = os.path.normpath(str(plugin)) if plugin else res.root
    within = inside(resolved, boundary)
    elsewhere = (
        within
        and not exists
        and (_in_named_sibling(doc, mention, path, res) or _in_plugin_folder(path, res))
    )
    return MentionTarget(
        f"{mention.how} path {mention.raw}", path, fragment, resolved, within, exists, elsewhere
    )


def _in_plugin_folder(path: str, res: Resolver) -> bool:
    """True for a plugin skill's path that exists relative to its plugin folder (plugins keep
    shared scripts/ there and tell the agent to resolve the plugin root first)."""
    plugin = res.skill.plugin_root
    if plugin is None or "${" in path or os.path.isabs(path):
        return False
    return os.path.exists(os.path.join(str(plugin), path))


def _in_named_sibling(doc, mention, path: str, res: Resolver) -> bool:
    """True when the path belongs to a sibling skill named just before it ("see
    `model-selection`'s `references/catalog.md`") and exists there."""
    if "${" in path or os.path.isabs(path):
        return False
    parent = os.path.dirname(res.root)
    nearby = (c.text for c in doc.name_spans if mention.line - 2 <= c.line <= mention.line)
    for name in nearby:
        sibling = os.path.join(parent, name)
        if name != os.path.basename(res.root) and os.path.isfile(os.path.join(sibling, "SKILL.md")):
            return os.path.exists(os.path.join(sibling, path))
    return False


# --------------------------------------------------------------------------- one fence

DATA_LANGS = {"json": "json", "yaml": "yaml", "yml": "yaml", "toml": "toml"}


def classify(fence) -> str:
    """What `check` does with a fence: python, shell, data (json/yaml/toml), partial,
    unlabelled (no language) or other (any other language: counted, never parsed)."""
    spec = fence.spec
    if spec.kind is Kind.PARTIAL:
        return "partial"
    if spec.is_python:
        return "python"
    if spec.is_shell:
        return "shell"
    if spec.lang in DATA_LANGS:
        return "data"
    return "other" if spec.lang else "unlabelled"


def fence_kind(fence, doc) -> str:
    """`classify(fence)`, or "unclosed" for a fence of `doc` that runs to the end of the file:
    its "code" is the prose it swallowed, so no check parses it (CS009 reports it)."""
    if _kinds[0] is not doc:  # the engine walks one doc's fences at a time: classify them once
        unclosed = set(doc.unclosed_fence_lines)
        _kinds[:] = [doc, {id(f): _kind(f, unclosed) for f in doc.fences}]
    kind = _kinds[1].get(id(fence))
    # a fence that is not one of doc.fences (built by hand, as in a test)
    return kind if kind is not None else _kind(fence, set(doc.unclosed_fence_lines))


def _kind(fence, unclosed: set[int]) -> str:
    return "unclosed" if fence.line in unclosed else classify(fence)


# (doc, {id(fence): kind}) of the last doc asked about; holding the doc keeps the ids valid
_kinds: list = [None, {}]
