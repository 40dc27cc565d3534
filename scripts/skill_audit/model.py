"""The parsed skill that every check receives. Each markdown file is read and parsed ONCE.

`Skill` (one folder with SKILL.md):
    root            absolute Path of the skill folder
    config          `skill_audit.config.Config` in force (profile, limits, ...)
    expected_name   config `name` when the skill is a repository root (SKILL.md beside
                    pyproject.toml), else the folder name
    skill_md        `MarkdownDoc` of SKILL.md, or None when it could not be loaded
    references      `MarkdownDoc` of every other shipped markdown file (sorted by path): each
                    file reachable from SKILL.md (links, `Read(...)`, placeholder and inline-code
                    paths, plain `.md` paths in the text, relative to the file and then to the
                    skill root, at any depth) plus everything under references/
    load_errors     `LoadError(path, line, message)` for files that could not be read or decoded
                    (unreadable, binary, non-UTF-8, too large, a directory); reported by ST checks
    docs            skill_md (if loaded) + references: the ONE list of markdown a skill ships
                    (`skill-audit run` takes its files from here too)
    orphans         markdown files in the skill that nothing reaches (not checked; ST010)
    skipped         [(path, reason)]: markdown that was reached or found but not checked
                    (outside the skill, inside a nested skill, human-facing README/CHANGELOG)
    skill_file      the SKILL.md path as spelt on disk (`Skill.md` is reported by ST009)
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
    body, headings, anchors(), links, inline_code, name_spans (code spans that are one bare
    name), tables, html_comments, html_anchors, fences (`skill_audit.snippets.extract.Fence`,
    FILE line numbers), unclosed_fence_lines, indented_code_lines. Records are defined in
    `skill_audit.parsing.records`.
All line and column numbers are 1-based file positions.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import stat
import sys
import weakref
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

from skill_audit.config import Config
from skill_audit.discovery import SKILL_FILE, SKIP_DIRS, skill_file_in, skill_markdown_files
from skill_audit.mentions import (
    MARKDOWN_SUFFIXES,
    PathMention,
    has_skill_dir_placeholder,
    inside,
    is_external,
    markdown_tokens,
    path_mentions,
    split_fragment,
    substitute,
)
from skill_audit.parsing import fast_markdown
from skill_audit.parsing.frontmatter import Frontmatter, parse_frontmatter, split_frontmatter
from skill_audit.parsing.records import InlineCode, ParsedMarkdown, unique_slugs

TEMPLATE_DIRS = frozenset({"assets", "templates"})
_BARE_NAME_RE = re.compile(r"[\w.-]+")  # a code span that is one bare name
_CUSTOM_ID_RE = re.compile(r"\{#([\w:.-]+)[^}]*\}\s*$")


class LoadError(NamedTuple):
    path: Path
    line: int
    message: str


def _from_parse(name: str) -> property:
    """A read-only attribute answered by the document's one markdown parse."""
    return property(lambda doc: getattr(doc._parsed, name))


@contextlib.contextmanager
def _rust_panics_silenced():
    """Send file descriptor 2 to /dev/null while the Rust parser runs: a panic prints its
    message (and, with RUST_BACKTRACE set, a backtrace) there before Python sees it, and the
    fallback parser makes that panic harmless. Checks write nothing to stderr meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


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
        if fast_markdown.available():
            try:
                with _rust_panics_silenced():
                    return fast_markdown.parse_markdown_fast(text, self.lines, self.path)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException:  # a Rust panic (pyo3's PanicException is a BaseException):
                pass  # markdown-it-pyrs 0.4 panics on e.g. "see [`x"; Python parses anything
        from skill_audit.parsing.markdown import parse_markdown  # the fallback: imported on use

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

    @cached_property
    def name_spans(self) -> list[InlineCode]:
        """Code spans that are one bare name (`celery-config`, `tasks.md`): how prose names a
        rule file or a sibling skill without a path."""
        return [c for c in self.inline_code if _BARE_NAME_RE.fullmatch(c.text)]

    @property
    def is_template(self) -> bool:
        """An output template (under assets/ or templates/): its links and paths name files of
        the project it will be copied into, not of the skill, so LK checks leave them alone."""
        return any(part in TEMPLATE_DIRS for part in self.rel.split("/")[:-1])

    @cached_property
    def mentions(self) -> list[PathMention]:
        """Paths this file tells the agent to open (`skill_audit.mentions.path_mentions`)."""
        return path_mentions(self)

    @cached_property
    def suppressions(self):
        """The file's `<!-- skill-audit: ... -->` comments, parsed once."""
        from skill_audit.suppress import parse_suppressions

        return parse_suppressions(self)

    def anchors(self) -> set[str]:
        """Link fragments that resolve in this file: GitHub heading slugs (-1, -2 for repeats)
        plus <a id/name> anchors."""
        slugs = unique_slugs([h.slug for h in self.headings])
        # `## Setup {#setup}`: an explicit heading id (Pandoc, MkDocs attr_list, Hugo,
        # Docusaurus); those renderers use the id, GitHub the slug of the whole text.
        custom = {m.group(1) for h in self.headings if (m := _CUSTOM_ID_RE.search(h.text))}
        return set(slugs) | set(self.html_anchors) | custom


@dataclass
class Skill:
    root: Path
    config: Config
    expected_name: str
    skill_md: MarkdownDoc | None
    references: list[MarkdownDoc] = field(default_factory=list)
    load_errors: list[LoadError] = field(default_factory=list)
    reach_skipped: list[tuple[Path, str]] = field(default_factory=list)
    reached: set[str] = field(default_factory=set)  # normalised paths reached from SKILL.md
    skill_file: Path | None = None

    @property
    def docs(self) -> list[MarkdownDoc]:
        return ([self.skill_md] if self.skill_md else []) + self.references

    @cached_property
    def _orphan_walk(self) -> tuple[list[Path], list[tuple[Path, str]]]:
        return find_orphans(self)

    @property
    def orphans(self) -> list[Path]:
        """Markdown files in the skill folder that no shipped file reaches (not checked)."""
        return self._orphan_walk[0]

    @property
    def skipped(self) -> list[tuple[Path, str]]:
        """(path, reason) for markdown that was reached or found but is not checked."""
        return sorted(self.reach_skipped + self._orphan_walk[1])

    @cached_property
    def files(self) -> list[Path]:
        """Every file the skill ships (alias of `all_files`, the facts-layer name)."""
        return self.all_files

    def rel(self, path: Path) -> str:
        text = os.fspath(path)
        if isinstance(path, Path) and text.startswith(self._root_prefix):
            # a Path's text is already in Path's normal form: below the root, relative_to's
            # answer is a slice of it (relative_to builds and compares every part)
            return text[len(self._root_prefix) :].replace(os.sep, "/")
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return Path(path).as_posix()

    @cached_property
    def _root_prefix(self) -> str:
        return os.path.join(os.fspath(self.root), "")

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
        root = str(self.root)
        stack = [root]
        while stack:
            folder = stack.pop()
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            if folder != root and any(e.name.lower() == "skill.md" for e in entries):
                continue  # a nested skill (or a wrongly-cased one): not part of this skill
            subdirs = []
            for entry in entries:
                try:
                    if entry.is_symlink():
                        links.append(Path(entry.path))
                        if not entry.is_dir():
                            files.append(Path(entry.path))
                    elif entry.is_dir():
                        if entry.name not in SKIP_DIRS:
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


# Files for people browsing the repository, not for the agent: not reported as orphans.
HUMAN_FILES = frozenset(
    {"readme", "changelog", "license", "contributing", "code_of_conduct", "security", "authors"}
)


def load_skill(root: Path, config: Config) -> Skill:
    """The skill at `root` with every markdown file it ships, each read once (see the module
    doc for what "ships" means). Files are parsed lazily, when a check asks."""
    root = Path(root).absolute()
    limit = config.limits.max_file_bytes
    skill_file = skill_file_in(root) or root / SKILL_FILE
    skill = Skill(
        root=root,
        config=config,
        expected_name=expected_name(root, config),
        skill_md=None,
        skill_file=skill_file,
    )
    root_s = os.path.normpath(str(root))
    loaded: dict[str, MarkdownDoc | None] = {}
    skipped: dict[str, str] = {}
    owners: dict[str, str | None] = {}  # folder -> the nested skill holding it (memo)

    def load(path: str) -> MarkdownDoc | None:
        if path in loaded:
            return loaded[path]
        file = Path(path)
        text, error = read_text(file, limit)
        doc = None
        if error:
            skill.load_errors.append(error)
        else:
            doc = MarkdownDoc(file, skill.rel(file), text)
        loaded[path] = doc
        return doc

    first = load(os.path.normpath(str(skill_file)))
    skill.skill_md = first

    def follow(queue: list[MarkdownDoc]) -> None:
        while queue:
            doc = queue.pop(0)
            for target in _reached_markdown(skill, doc, root_s, skipped, owners):
                if target not in loaded:
                    new = load(target)
                    if new is not None:
                        queue.append(new)

    follow([first] if first is not None else [])
    _follow_bare_names(skill, root, loaded, load, follow)
    skill.reached = set(loaded)
    # references/ is always shipped and checked, reached or not (RC004 reports the unreached)
    extra = [os.path.normpath(str(p)) for p in skill_markdown_files(root)[1:]]
    follow([d for p in extra if p not in loaded and (d := load(p)) is not None])
    docs = [d for d in loaded.values() if d is not None and d is not first]
    skill.references = sorted(docs, key=lambda d: d.rel)
    skill.reach_skipped = sorted((Path(p), why) for p, why in skipped.items())
    return skill


def _follow_bare_names(skill, root, loaded, load, follow) -> None:
    """Reach files that the reached docs name without a path: a rule table's bare slug
    (`| celery-config |`), a slug or file name in inline code (`bundle-defer-imports`,
    `competitor-analysis.md` under "examples/"). A name that matches exactly one markdown file
    of the skill reaches it; repeated until nothing new is reached."""
    by_name: dict[str, list[str]] | None = None
    scanned: set[str] = set()
    while True:
        names: set[str] = set()
        for path, doc in list(loaded.items()):
            if doc is not None and path not in scanned:
                scanned.add(path)
                if "|" in doc.text or "`" in doc.text:
                    names |= _bare_names(doc)
        if not names:
            return
        if by_name is None:
            by_name = {}
            for p in skill.all_files:
                if p.suffix.lower() in MARKDOWN_SUFFIXES:
                    by_name.setdefault(os.path.splitext(p.name)[0], []).append(str(p))
                    by_name.setdefault(p.name, []).append(str(p))
        named = [
            os.path.normpath(paths[0])
            for name, paths in by_name.items()
            if name in names
            and len(paths) == 1
            and os.path.splitext(name)[0].lower() not in HUMAN_FILES
            and os.path.normpath(paths[0]) not in loaded
            and os.path.dirname(paths[0]) != str(root)  # a root file is reached by plain path
        ]
        if not named:
            return
        follow([d for d in map(load, named) if d is not None])


def _reached_markdown(
    skill: Skill, doc: MarkdownDoc, root: str, skipped: dict, owners: dict
) -> list[str]:
    """Normalised paths of the markdown files inside the skill that `doc` points to: every
    `.md` token of its text, resolved relative to the file and then to the skill root.
    Markdown reached outside the skill or inside a nested skill goes to `skipped`."""
    here = os.path.dirname(os.path.normpath(str(doc.path)))
    out = []
    for token in markdown_tokens(doc.text):
        path, _ = split_fragment(token)
        if not path or is_external(path) or os.path.isabs(path):
            continue
        if "${" in path or has_skill_dir_placeholder(path):
            plugin = skill.plugin_root if "${CLAUDE_PLUGIN_ROOT}" in path else None
            sub = substitute(path, root, str(plugin) if plugin else None, (os.path.basename(root),))
            candidates = [os.path.normpath(sub)] if sub else []
        else:
            candidates = [os.path.normpath(os.path.join(base, path)) for base in (here, root)]
        target = next((c for c in candidates if os.path.isfile(c)), None)
        if target is None or not target.lower().endswith(MARKDOWN_SUFFIXES):
            continue
        if not inside(target, root):
            skipped.setdefault(target, "outside the skill folder")
            continue
        folder = os.path.dirname(target)
        if folder not in owners:  # the same few folders again and again: list each once
            owners[folder] = _nested_skill(folder, root)
        owner = owners[folder]
        if owner:
            skipped.setdefault(target, f"belongs to the nested skill {owner}")
            continue
        out.append(target)
    return out


_CELL_LIST_RE = re.compile(r",|<br\s*/?>")


def _bare_names(doc: MarkdownDoc) -> set[str]:
    """Names standing alone in the doc's table cells (`_table_names`) plus every code span
    that is a bare name, both from the doc's one parse."""
    names = _table_names(doc)
    names.update(c.text for c in doc.name_spans)
    return names


def _table_names(doc: MarkdownDoc) -> set[str]:
    """Bare names standing alone in table cells (a cell, or an item of a comma or <br> list
    in a cell), as a rule table names its files: `| celery-config |`."""
    names = set()
    for table in doc.tables:
        for row in (table.header, *table.rows):
            for cell in row:
                items = _CELL_LIST_RE.split(cell) if "," in cell or "<" in cell else (cell,)
                for item in items:
                    item = item.strip().strip("`*_ ")
                    if item and " " not in item:
                        names.add(item)
    return names


def _nested_skill(folder: str, root: str) -> str | None:
    """The folder (relative to root) of a nested skill that holds `folder` (a folder at or
    above it, below root, with its own SKILL.md), or None."""
    while inside(folder, root) and folder != root:
        if skill_file_in(Path(folder)) is not None:
            return os.path.relpath(folder, root).replace(os.sep, "/")
        folder = os.path.dirname(folder)
    return None


def find_orphans(skill: Skill) -> tuple[list[Path], list[tuple[Path, str]]]:
    """(orphans, skipped): markdown files in the skill folder that no shipped file reaches.
    README/CHANGELOG/LICENSE-style files are for people, so they are skipped, not orphans."""
    shipped = {os.path.normpath(str(d.path)) for d in skill.docs}
    shipped |= {os.path.normpath(str(e.path)) for e in skill.load_errors}
    orphans, skipped = [], []
    for path in skill.all_files:
        name = path.name
        if not name.lower().endswith(MARKDOWN_SUFFIXES) or os.path.normpath(str(path)) in shipped:
            continue
        if path.parent == skill.root and name.lower() == SKILL_FILE.lower():
            continue
        if os.path.splitext(name)[0].lower() in HUMAN_FILES:
            skipped.append((path, "for people browsing the repository (README, CHANGELOG, ...)"))
        else:
            orphans.append(path)
    return orphans, skipped
