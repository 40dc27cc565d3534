"""Facts about a skill that several checks share, computed once per skill.

The layer between `skill_audit.model` (files, parsed once) and `skill_audit.checks` (findings):
link and mention resolution and the anchors of target files. Checks import from here, never
from each other.
"""

from __future__ import annotations

import os
from pathlib import Path

from skill_audit.mentions import (
    has_skill_dir_placeholder,
    inside,
    is_external,
    split_fragment,
    substitute,
)
from skill_audit.model import MarkdownDoc, per_skill, read_text

__all__ = [
    "Resolver",
    "inside",
    "is_external",
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
