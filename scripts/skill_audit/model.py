"""The parsed skill that every check receives. Each markdown file is read and parsed ONCE.

`Skill` (one folder with SKILL.md):
    root            absolute Path of the skill folder
    config          `skill_audit.config.Config` in force (profile, limits, ...)
    expected_name   config `name` when the skill is a repository root (SKILL.md beside
                    pyproject.toml), else the folder name
    skill_md        `MarkdownDoc` of SKILL.md, or None when it could not be loaded
    references      `MarkdownDoc` for each readable references/**/*.md (sorted)
    load_errors     `LoadError(path, line, message)` for files that could not be read or decoded
                    (unreadable, binary, non-UTF-8, too large, a directory); reported by ST checks
    docs            skill_md (if loaded) + references
    all_files       every file path in the skill (lazy; skips .git, .venv, node_modules,
                    .skill-audit, __pycache__, ..., nested skills (folders with their own
                    SKILL.md, e.g. test fixtures); symlinked folders are not followed)
    symlinks        the symlinks among the skill's entries (lazy, same walk)
    plugin_root     the plugin folder that loads this skill, or None (lazy; see `plugin_root()`)
    in_plugin       plugin_root is not None
    rel(path)       posix path relative to the root

`MarkdownDoc` (lazy: nothing is parsed until a check asks):
    path (absolute), rel (posix, relative to the skill root), text (newlines normalised to
    \\n), lines, frontmatter (`skill_audit.parsing.frontmatter.Frontmatter`), body_start_line,
    body, headings, anchors(), links, inline_code, tables, html_comments, html_anchors,
    fences (`skill_audit.snippets.extract.Fence`, FILE line numbers), unclosed_fence_lines,
    indented_code_lines. Records are defined in `skill_audit.parsing.markdown`.
All line and column numbers are 1-based file positions.
"""

from __future__ import annotations

import functools
import json
import os
import stat
import weakref
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

from skill_audit.config import Config
from skill_audit.discovery import SKILL_FILE, SKIP_DIRS, skill_markdown_files
from skill_audit.parsing.frontmatter import Frontmatter, parse_frontmatter, split_frontmatter
from skill_audit.parsing.markdown import ParsedMarkdown, parse_markdown, unique_slugs


class LoadError(NamedTuple):
    path: Path
    line: int
    message: str


def _from_parse(name: str) -> property:
    """A read-only attribute answered by the document's one markdown parse."""
    return property(lambda doc: getattr(doc._parsed, name))


class MarkdownDoc:
    def __init__(self, path: Path, rel: str, text: str):
        self.path = path
        self.rel = rel
        self.text = text

    def __repr__(self) -> str:
        return f"MarkdownDoc({self.rel!r})"

    @cached_property
    def lines(self) -> list[str]:
        return self.text.split("\n")

    @cached_property
    def frontmatter(self) -> Frontmatter:
        return parse_frontmatter(self.lines)

    @cached_property
    def body_start_line(self) -> int:
        """First file line after the frontmatter (1 when there is none or it is unclosed).
        Found from the `---` markers alone, so the YAML is parsed only when a check asks."""
        span = split_frontmatter(self.lines)
        return span[1] + 1 if span and span[1] else 1

    @cached_property
    def body(self) -> str:
        return "\n".join(self.lines[self.body_start_line - 1 :])

    @cached_property
    def _parsed(self) -> ParsedMarkdown:
        skip = self.body_start_line - 1
        # Blank the frontmatter but keep its newlines, so token lines are file lines.
        text = "\n" * skip + self.body if skip else self.text
        return parse_markdown(text, self.lines, self.path)

    headings = _from_parse("headings")
    links = _from_parse("links")
    inline_code = _from_parse("inline_code")
    tables = _from_parse("tables")
    html_comments = _from_parse("html_comments")
    html_anchors = _from_parse("html_anchors")
    fences = _from_parse("fences")
    unclosed_fence_lines = _from_parse("unclosed_fence_lines")
    indented_code_lines = _from_parse("indented_code_lines")

    def anchors(self) -> set[str]:
        """Link fragments that resolve in this file: GitHub heading slugs (-1, -2 for repeats)
        plus <a id/name> anchors."""
        slugs = unique_slugs([h.slug for h in self.headings])
        return set(slugs) | set(self.html_anchors)


@dataclass
class Skill:
    root: Path
    config: Config
    expected_name: str
    skill_md: MarkdownDoc | None
    references: list[MarkdownDoc] = field(default_factory=list)
    load_errors: list[LoadError] = field(default_factory=list)

    @property
    def docs(self) -> list[MarkdownDoc]:
        return ([self.skill_md] if self.skill_md else []) + self.references

    def rel(self, path: Path) -> str:
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return Path(path).as_posix()

    @cached_property
    def all_files(self) -> list[Path]:
        return self._walked[0]

    @cached_property
    def symlinks(self) -> list[Path]:
        """Symlinks among the skill's entries (files or folders; never followed)."""
        return self._walked[1]

    @cached_property
    def _walked(self) -> tuple[list[Path], list[Path]]:
        """One scandir walk: files, and symlinks. Skips tool folders, symlinked folders (so no
        loops) and nested skills (folders with their own SKILL.md, e.g. test fixtures)."""
        files: list[Path] = []
        links: list[Path] = []
        stack = [str(self.root)]
        while stack:
            folder = stack.pop()
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            subdirs = []
            for entry in entries:
                try:
                    if entry.is_symlink():
                        links.append(Path(entry.path))
                        if not entry.is_dir():
                            files.append(Path(entry.path))
                    elif entry.is_dir():
                        if entry.name not in SKIP_DIRS and not os.path.lexists(
                            os.path.join(entry.path, SKILL_FILE)
                        ):
                            subdirs.append(entry.path)
                    else:
                        files.append(Path(entry.path))
                except OSError:
                    continue
            stack.extend(reversed(subdirs))
        return files, links

    @cached_property
    def plugin_root(self) -> Path | None:
        return plugin_root(self.root)

    @property
    def in_plugin(self) -> bool:
        return self.plugin_root is not None


def plugin_root(root: Path) -> Path | None:
    """The plugin folder a skill belongs to, or None.

    A skill belongs to the nearest folder above it with `.claude-plugin/plugin.json` only when
    that plugin would load it: the skill folder is the plugin folder itself, sits in its
    `skills/` folder, or is (or sits in) a folder named by plugin.json's `skills` path(s).
    A stray skill deeper in a plugin's repository (a test fixture) is not a plugin skill.
    """
    root = Path(os.path.normpath(str(root)))
    for folder in (root, *root.parents):
        manifest = folder / ".claude-plugin" / "plugin.json"
        if manifest.is_file():
            homes = {folder, folder / "skills", *_declared_skill_folders(manifest, folder)}
            return folder if root in homes or root.parent in homes else None
    return None


def _declared_skill_folders(manifest: Path, plugin: Path) -> list[Path]:
    """The folders named by plugin.json's `skills` (a path or a list of paths)."""
    try:
        declared = json.loads(manifest.read_text(encoding="utf-8")).get("skills")
    except (OSError, ValueError, AttributeError):  # unreadable, not JSON, or not an object
        return []
    entries = (
        [declared] if isinstance(declared, str) else declared if isinstance(declared, list) else []
    )
    return [Path(os.path.normpath(str(plugin / e))) for e in entries if isinstance(e, str)]


def per_skill(fn):
    """Memoise `fn(skill)` per Skill object, so several checks share one computation (the Skill
    is not hashable, hence the id + weakref pair that survives id reuse)."""
    cache: dict[int, tuple[weakref.ref, object]] = {}

    @functools.wraps(fn)
    def wrapper(skill):
        hit = cache.get(id(skill))
        if hit is not None and hit[0]() is skill:
            return hit[1]
        value = fn(skill)
        if len(cache) > 64:
            cache.clear()
        cache[id(skill)] = (weakref.ref(skill), value)
        return value

    return wrapper


def read_text(path: Path, max_bytes: int) -> tuple[str | None, LoadError | None]:
    """A markdown file's text with newlines normalised, or a one-line reason it cannot be used."""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            return None, LoadError(path, 1, f"{path.name} is a directory, not a file")
        if not stat.S_ISREG(mode):  # a FIFO or device would block or never end
            return None, LoadError(path, 1, f"{path.name} is not a regular file")
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        return None, LoadError(path, 1, f"cannot read {path.name}: {exc.strerror or exc}")
    if len(data) > max_bytes:
        return None, LoadError(
            path,
            1,
            f"{path.name} is larger than {max_bytes:,} bytes; not checked (limit max-file-bytes)",
        )
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        return None, LoadError(path, line, f"{path.name} looks binary (NUL byte); not checked")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, LoadError(
            path,
            line,
            f"{path.name} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
        )
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, None


def expected_name(root: Path, config: Config) -> str:
    """The repository-root skill takes its name from config; any other skill from its folder."""
    if config.name and config.base_dir and config.base_dir.resolve() == root.resolve():
        return config.name
    return root.resolve().name if root.name in ("", ".", "..") else root.name


def load_skill(root: Path, config: Config) -> Skill:
    root = Path(root).absolute()
    limit = config.limits.max_file_bytes
    skill = Skill(
        root=root, config=config, expected_name=expected_name(root, config), skill_md=None
    )
    paths = skill_markdown_files(root)
    for path in paths:
        text, error = read_text(path, limit)
        if error:
            skill.load_errors.append(error)
            continue
        doc = MarkdownDoc(path, skill.rel(path), text)
        if path.name == SKILL_FILE and path.parent == root:
            skill.skill_md = doc
        else:
            skill.references.append(doc)
    return skill
