"""LK: links and path references inside a skill.

Three kinds of pointers are resolved, in SKILL.md and every references/**/*.md:
  * markdown links and images, against the folder of the file that holds them;
  * path mentions: the argument of a `Read("...")` call, a `${CLAUDE_SKILL_DIR}/...` path
    anywhere in the text, and `references/`, `scripts/` or `assets/` paths inside inline code.
    These are skill-relative: `${CLAUDE_SKILL_DIR}` is the skill folder, `${CLAUDE_PLUGIN_ROOT}`
    the plugin folder for a skill inside a plugin (see `model.plugin_root`); outside one, only
    `${CLAUDE_PLUGIN_ROOT}/skills/<this skill>/...` is resolved (LK006 warns either way);
  * `#fragment`s, against GitHub heading slugs (-1, -2 for repeated headings) and <a id/name>.
External http(s) URLs are only fetched with `--external` (`check_external`).
"""

from __future__ import annotations

import bisect
import json
import os
import re
import time
import weakref
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from skill_audit.diagnostics import Hit, Severity
from skill_audit.model import MarkdownDoc, per_skill, read_text
from skill_audit.registry import check

KNOWN_PLACEHOLDERS = frozenset(
    {"CLAUDE_SKILL_DIR", "CLAUDE_SESSION_ID", "CLAUDE_EFFORT", "CLAUDE_PROJECT_DIR"}
)
PLUGIN_PLACEHOLDERS = frozenset({"CLAUDE_PLUGIN_ROOT", "CLAUDE_PLUGIN_DATA"})
SKILL_DIRS = ("references", "scripts", "assets")

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_PLACEHOLDER_RE = re.compile(r"\$\{(CLAUDE_[A-Za-z0-9_]*)\}")
_PATH_CHARS = r"[^\s`'\"()\[\]<>{}*?|,;:$]"
# Read("…") / Read('…') / Read(file_path="…"), not obj.Read(…)
_READ_RE = re.compile(r"""(?<![\w.])Read\(\s*(?:file_path\s*=\s*)?(["'])([^"'\n]+)\1""")
_SKILL_DIR_PATH_RE = re.compile(r"\$\{CLAUDE_(?:SKILL_DIR|PLUGIN_ROOT)\}/" + _PATH_CHARS + "*")
_BARE_PATH_RE = re.compile(
    r"(?<![\w./$}-])(?:\./)?(?:" + "|".join(SKILL_DIRS) + r")/" + _PATH_CHARS + "*"
)
_GLOB_CHARS = frozenset("*?[{<$")
_TEMPLATE_RE = re.compile(r"[*?<>{}\[\]$]")
_NEWLINE_RE = re.compile("\n")
_OWN_PLUGIN_PATH_RE = re.compile(r"^\$\{CLAUDE_PLUGIN_ROOT\}/skills/([^/]+)/?(.*)$")
_BARE_HINT_RE = re.compile("(?:" + "|".join(SKILL_DIRS) + ")/")


@dataclass(frozen=True)
class PathMention:
    raw: str  # as written, e.g. "${CLAUDE_SKILL_DIR}/references/x.md#part"
    line: int
    column: int
    how: str  # "Read()", "inline code" or "placeholder path"


# --------------------------------------------------------------------------- helpers


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class Resolver:
    """Per-skill cache of parsed markdown targets (anchor sets) and the skill's folders."""

    def __init__(self, skill):
        self.skill = skill
        self.root = os.path.normpath(str(skill.root))
        self.docs = {os.path.normpath(str(d.path)): d for d in skill.docs}
        self._anchors: dict[str, set[str] | None] = {}

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
            if _inside(path, self.root)
            else path
        )


@per_skill
def resolver(skill) -> Resolver:
    """The skill's shared Resolver (its anchor and plugin lookups are cached)."""
    return Resolver(skill)


def split_fragment(target: str) -> tuple[str, str]:
    path, _, fragment = target.partition("#")
    return path.split("?", 1)[0], fragment


def is_external(target: str) -> bool:
    return target.startswith("//") or bool(_SCHEME_RE.match(target))


# --------------------------------------------------------------------------- markdown links


def _only(code: str, *findings: list[tuple[str, Hit]]) -> Iterator[Hit]:
    """The hits of one code from the shared (code, hit) lists (one resolution serves LK001-4)."""
    for found in findings:
        yield from (hit for c, hit in found if c == code)


@per_skill
def _link_findings(skill) -> list[tuple[str, Hit]]:
    """(code, hit) for every markdown link and image that does not resolve."""
    return list(_iter_link_findings(skill))


def _iter_link_findings(skill) -> Iterator[tuple[str, Hit]]:
    res = resolver(skill)
    for doc in skill.docs:
        here = os.path.normpath(str(doc.path))
        base = os.path.dirname(here)
        for link in doc.links:
            target = link.target.strip()
            what = "image" if link.image else "link"
            if is_external(target):
                continue
            if not target:
                yield "LK001", Hit(doc.path, link.line, link.column, f"{what} with an empty target")
                continue
            path, fragment = split_fragment(target)
            if not path:  # same-file anchor
                anchors = res.anchors(here) or set()
                if fragment and fragment not in anchors and fragment.lower() not in anchors:
                    yield (
                        "LK002",
                        Hit(
                            doc.path,
                            link.line,
                            link.column,
                            f"{what} #{fragment}: no heading or anchor with that slug in this file",
                        ),
                    )
                continue
            if os.path.isabs(path):
                yield (
                    "LK003",
                    Hit(
                        doc.path,
                        link.line,
                        link.column,
                        f"{what} {target}: absolute path; it will not exist where the skill is installed",
                    ),
                )
                continue
            resolved = resolve(path, base, res)
            if resolved is None:
                continue  # LK005/LK006 report the placeholder
            if not _inside(resolved, res.root):
                yield (
                    "LK003",
                    Hit(
                        doc.path,
                        link.line,
                        link.column,
                        f"{what} {target} points outside the skill folder"
                        + ("" if os.path.exists(resolved) else " (and does not exist)"),
                    ),
                )
                continue
            if not os.path.exists(resolved):
                yield (
                    "LK001",
                    Hit(
                        doc.path,
                        link.line,
                        link.column,
                        f"{what} {target}: {res.rel(resolved)} does not exist",
                    ),
                )
                continue
            problem = res.fragment_problem(resolved, fragment, f"{what} {target}")
            if problem:
                yield "LK002", Hit(doc.path, link.line, link.column, problem)


def substitute(raw: str, res: Resolver) -> str | None:
    """A path with ${CLAUDE_SKILL_DIR} / ${CLAUDE_PLUGIN_ROOT} replaced, or None when it holds
    a placeholder that names no folder of the skill (session id, another skill of a plugin the
    skill is not in)."""
    out = raw.replace("${CLAUDE_SKILL_DIR}", res.root)
    if "${CLAUDE_PLUGIN_ROOT}" in out:
        plugin = res.skill.plugin_root
        if plugin is not None:
            out = out.replace("${CLAUDE_PLUGIN_ROOT}", str(plugin))
        else:
            # A plugin's skill checked on its own still reaches its own files as
            # ${CLAUDE_PLUGIN_ROOT}/skills/<its name>/... (LK006 warns about the placeholder).
            m = _OWN_PLUGIN_PATH_RE.match(out)
            if not m or m.group(1) not in (os.path.basename(res.root), res.skill.expected_name):
                return None
            out = os.path.join(res.root, m.group(2))
    return None if "${" in out else out


def resolve(path: str, base: str, res: Resolver) -> str | None:
    """Normalised absolute path of a local target (fragment already split off): placeholders
    substituted, relative paths joined to `base`; None when a placeholder names no folder."""
    if "${" in path:
        sub = substitute(path, res)
        return None if sub is None else os.path.normpath(sub)
    return os.path.normpath(os.path.join(base, path))


@check("LK001", "broken-link", Severity.ERROR)
def broken_link(skill) -> Iterator[Hit]:
    """A markdown link or image points at a file that does not exist.

    What it does:
        Resolves every relative link and image target in SKILL.md and references/**/*.md
        against the folder of the file that holds it (`${CLAUDE_SKILL_DIR}` as the skill
        folder) and reports targets that do not exist. External URLs are not fetched here.
    Why:
        The agent follows the link to load a rule file; a missing file means the guidance the
        table promises is never read.
    Example:
        See [retries](references/retry-strategy.md) when the file is retry-strategies.md.
    Fix:
        Point the link at the real file (paths are case-sensitive), or add the file.
    """
    yield from _only("LK001", _link_findings(skill))


@check("LK002", "broken-anchor", Severity.ERROR)
def broken_anchor(skill) -> Iterator[Hit]:
    """A `#fragment` names no heading of the target file.

    What it does:
        For links and path mentions with a `#fragment` into a markdown file (the same file or
        another one), computes the target's GitHub heading slugs (lower-case, punctuation
        dropped, spaces to hyphens; repeated headings get -1, -2, ...) plus `<a id|name>`
        anchors, and reports fragments that match none of them.
    Why:
        A renamed heading silently breaks every link into it; the reader lands at the top of
        a long file instead of the rule.
    Example:
        [visibility timeout](references/celery-config.md#visibility-timeouts) when the heading
        is `## 3. Set the visibility timeout`.
    Fix:
        Use the slug of the current heading (`#3-set-the-visibility-timeout`).
    """
    yield from _only("LK002", _link_findings(skill), _mention_findings(skill))


@check("LK003", "link-outside-skill", Severity.WARNING)
def link_outside_skill(skill) -> Iterator[Hit]:
    """A link or path mention leaves the skill folder.

    What it does:
        Reports relative links, `${CLAUDE_SKILL_DIR}/..` paths and absolute paths whose target
        lies outside the skill folder.
    Why:
        Installers (`npx skills add`, plugin marketplaces) copy only the skill folder, so the
        target is missing wherever the skill is used, even if it exists in the source repo.
    Example:
        See [the README](../../README.md) for setup.
    Fix:
        Move the material into references/ or link it by its public URL.
    """
    yield from _only("LK003", _link_findings(skill), _mention_findings(skill))


# --------------------------------------------------------------------------- path mentions


_mentions_cache: weakref.WeakKeyDictionary[MarkdownDoc, list[PathMention]] = (
    weakref.WeakKeyDictionary()
)


def path_mentions(doc: MarkdownDoc) -> list[PathMention]:
    """Skill-relative paths an agent is told to open: Read("…") arguments, ${CLAUDE_SKILL_DIR}/
    and ${CLAUDE_PLUGIN_ROOT}/ paths anywhere, and references|scripts|assets/… in inline code.
    Computed once per document (RC and LK checks share it)."""
    cached = _mentions_cache.get(doc)
    if cached is None:
        cached = _mentions_cache[doc] = _path_mentions(doc)
    return cached


def _path_mentions(doc: MarkdownDoc) -> list[PathMention]:
    text = doc.text
    found: dict[tuple[int, str], PathMention] = {}
    starts: list[int] | None = None

    def position(offset: int) -> tuple[int, int]:
        nonlocal starts
        if starts is None:
            starts = [0] + [m.end() for m in _NEWLINE_RE.finditer(text)]
        line = bisect.bisect_right(starts, offset)
        return line, offset - starts[line - 1] + 1

    if "Read(" in text:
        for m in _READ_RE.finditer(text):
            raw = m.group(2).strip()
            if _TEMPLATE_RE.search(_PLACEHOLDER_RE.sub("", raw)):
                continue  # Read("references/<rule>.md"): a pattern, not a file
            if raw.startswith("${") or raw.split("/", 1)[0] in SKILL_DIRS or raw.startswith("./"):
                line, col = position(m.start(2))
                found.setdefault((line, raw), PathMention(raw, line, col, "Read()"))
    if "${CLAUDE_" in text:
        for m in _SKILL_DIR_PATH_RE.finditer(text):
            if m.end() < len(text) and text[m.end()] in _GLOB_CHARS:
                continue  # ${CLAUDE_SKILL_DIR}/references/<rule>.md: a pattern, not a file
            raw = m.group(0).rstrip(".")
            line, col = position(m.start())
            found.setdefault((line, raw), PathMention(raw, line, col, "placeholder path"))
    for code in doc.inline_code:
        content = code.text
        if "/" not in content or not _BARE_HINT_RE.search(content):
            continue
        for m in _BARE_PATH_RE.finditer(content):
            if m.end() < len(content) and content[m.end()] in _GLOB_CHARS:
                continue  # a glob or template such as references/<rule>.md
            raw = m.group(0).rstrip(".")
            # The span's text is not its source (CommonMark turns line breaks into spaces and
            # drops continuation-line indentation), but a path has no spaces, so it appears
            # verbatim in the source after the span's start: find it there.
            line, col = position(_source_offset(text, code.line, code.column, m.group(0)))
            found.setdefault((line, raw), PathMention(raw, line, col, "inline code"))
    return sorted(found.values(), key=lambda p: (p.line, p.column))


def _source_offset(text: str, line: int, column: int, needle: str) -> int:
    """Offset of `needle` at or after (line, column) in `text`; the span's start if absent."""
    start = 0
    for _ in range(line - 1):
        start = text.index("\n", start) + 1
    start += column - 1
    found = text.find(needle, start)
    return found if found >= 0 else start


@per_skill
def _mention_findings(skill) -> list[tuple[str, Hit]]:
    return list(_iter_mention_findings(skill))


def _iter_mention_findings(skill) -> Iterator[tuple[str, Hit]]:
    res = resolver(skill)
    for doc in skill.docs:
        for mention in path_mentions(doc):
            path, fragment = split_fragment(mention.raw)
            resolved = resolve(path, res.root, res)
            if resolved is None:
                continue  # LK005/LK006 report the placeholder
            shown = f"{mention.how} path {mention.raw}"
            plugin = res.skill.plugin_root if path.startswith("${CLAUDE_PLUGIN_ROOT}") else None
            boundary = os.path.normpath(str(plugin)) if plugin else res.root
            if not _inside(resolved, boundary):
                yield (
                    "LK003",
                    Hit(
                        doc.path,
                        mention.line,
                        mention.column,
                        f"{shown} points outside the skill folder",
                    ),
                )
                continue
            if not os.path.exists(resolved):
                yield (
                    "LK004",
                    Hit(
                        doc.path,
                        mention.line,
                        mention.column,
                        f"{shown}: {res.rel(resolved)} does not exist",
                    ),
                )
                continue
            problem = res.fragment_problem(resolved, fragment, shown)
            if problem:
                yield "LK002", Hit(doc.path, mention.line, mention.column, problem)


@check("LK004", "broken-path-reference", Severity.ERROR)
def broken_path_reference(skill) -> Iterator[Hit]:
    """A path the skill tells the agent to open does not exist.

    What it does:
        Resolves, against the skill folder, the argument of every `Read("...")` call, every
        `${CLAUDE_SKILL_DIR}/...` path (and `${CLAUDE_PLUGIN_ROOT}/...`: against the plugin
        in a plugin, else only `.../skills/<this skill>/...`), and every `references/`,
        `scripts/` or `assets/` path inside inline code, and reports missing targets. Globs
        and templates (`references/<rule>.md`, `*.md`) are skipped.
    Why:
        These are instructions, not links: no markdown tool checks them, and a missing target
        fails only when an agent tries to load it mid-task.
    Example:
        Load more examples: `Read("${CLAUDE_SKILL_DIR}/references/quick-start-examples.md")`
        in a skill without that file.
    Fix:
        Create the file or point the instruction at the file that holds the material.
    """
    yield from _only("LK004", _mention_findings(skill))


# --------------------------------------------------------------------------- placeholders


def _placeholders(skill) -> Iterator[tuple[MarkdownDoc, str, int, int]]:
    for doc in skill.docs:
        text = doc.text
        if "${CLAUDE_" not in text:
            continue
        for number, line in enumerate(doc.lines, 1):
            if "${CLAUDE_" in line:
                for m in _PLACEHOLDER_RE.finditer(line):
                    yield doc, m.group(1), number, m.start() + 1


@check("LK005", "unknown-placeholder", Severity.WARNING)
def unknown_placeholder(skill) -> Iterator[Hit]:
    """A `${CLAUDE_*}` placeholder that Claude Code does not substitute.

    What it does:
        Reports `${CLAUDE_...}` names outside the documented set: CLAUDE_SKILL_DIR,
        CLAUDE_SESSION_ID, CLAUDE_EFFORT, CLAUDE_PROJECT_DIR, and CLAUDE_PLUGIN_ROOT /
        CLAUDE_PLUGIN_DATA (plugins only; see LK006).
    Why:
        An unknown placeholder reaches the agent literally, so the path or value built from
        it is wrong every time.
    Example:
        `Read("${CLAUDE_SKILL_ROOT}/references/x.md")`
    Fix:
        Use `${CLAUDE_SKILL_DIR}`, or a plain relative path such as `references/x.md`.
    """
    for doc, name, line, col in _placeholders(skill):
        if name not in KNOWN_PLACEHOLDERS and name not in PLUGIN_PLACEHOLDERS:
            yield Hit(
                doc.path,
                line,
                col,
                f"${{{name}}} is not a placeholder Claude Code substitutes "
                "(known: " + ", ".join(sorted(KNOWN_PLACEHOLDERS | PLUGIN_PLACEHOLDERS)) + ")",
            )


@check("LK006", "plugin-placeholder-outside-plugin", Severity.WARNING)
def plugin_placeholder_outside_plugin(skill) -> Iterator[Hit]:
    """`${CLAUDE_PLUGIN_ROOT}` or `${CLAUDE_PLUGIN_DATA}` in a skill that is not in a plugin.

    What it does:
        Reports the plugin placeholders unless the skill belongs to a plugin: the nearest
        folder above with `.claude-plugin/plugin.json` is the skill folder itself, or holds
        it in `skills/` or in a folder named by plugin.json's `skills` path(s).
    Why:
        Only plugin skills get these substituted; in a skill installed on its own (`npx skills
        add`, `~/.claude/skills/`) and in other clients they stay literal and the path breaks.
    Example:
        `Read("${CLAUDE_PLUGIN_ROOT}/skills/async-jobs/references/x.md")`
    Fix:
        Use a relative path (`references/x.md`) or `${CLAUDE_SKILL_DIR}`.
    """
    if skill.in_plugin:
        return
    for doc, name, line, col in _placeholders(skill):
        if name in PLUGIN_PLACEHOLDERS:
            yield Hit(
                doc.path,
                line,
                col,
                f"${{{name}}} is only substituted in plugin skills, and this "
                "skill is not inside a plugin (.claude-plugin/plugin.json)",
            )


# --------------------------------------------------------------------------- external URLs


@dataclass(frozen=True)
class _UrlRef:
    url: str
    path: Path
    line: int
    column: int


def external_links(skills: Iterable) -> list[_UrlRef]:
    """Every http(s) link and image of the skills, fragment dropped."""
    refs = []
    for skill in skills:
        for doc in skill.docs:
            for link in doc.links:
                href = (link.href or link.target).strip()
                if href.lower().startswith(("http://", "https://")):
                    refs.append(_UrlRef(href.split("#", 1)[0], doc.path, link.line, link.column))
    return refs


def _fetch(url: str, timeout: float) -> tuple[int | None, str | None]:
    """(HTTP status, error) for one URL: HEAD first, GET when the server refuses HEAD."""
    import urllib.error  # only with --external: the import costs ~20 ms on every `check`
    import urllib.request

    headers = {"User-Agent": "skill-audit (+link check)"}
    for method in ("HEAD", "GET"):
        request = urllib.request.Request(url, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                return resp.status, None
        except urllib.error.HTTPError as exc:
            if method == "HEAD" and exc.code in (403, 405, 501):
                continue
            return exc.code, None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return None, " ".join(str(reason).split()) or type(exc).__name__
    return None, "no response"


# Statuses that say the page is gone or the server is broken; 401/403/429 and other refusals
# usually mean "not for robots" and are not reported.
def _is_broken(status: int | None, error: str | None) -> bool:
    return error is not None or status is None or status in (404, 410) or status >= 500


def check_external(
    skills: Iterable,
    timeout: float = 10.0,
    workers: int = 8,
    cache_dir: Path | None = None,
    ttl: float = 86400.0,
) -> list[Hit]:
    """Fetch every external http(s) link of `skills` once (HEAD, then GET if refused) with
    `workers` threads and a per-request `timeout`; return a Hit per broken link occurrence.

    Successful URLs are remembered for `ttl` seconds in `cache_dir/external-links.json`, so a
    re-run only fetches new or previously failing URLs. Failures are never cached.
    """
    refs = external_links(skills)
    if not refs:
        return []
    cache_file = Path(cache_dir) / "external-links.json" if cache_dir else None
    cache: dict[str, float] = {}
    if cache_file and cache_file.is_file():
        try:
            loaded = json.loads(cache_file.read_text(encoding="utf-8"))
            cache = {k: float(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
        except (OSError, ValueError, TypeError):
            cache = {}
    now = time.time()
    todo = sorted({r.url for r in refs if now - cache.get(r.url, float("-inf")) > ttl})
    results: dict[str, tuple[int | None, str | None]] = {}
    if todo:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(todo)))) as pool:
            for url, result in zip(todo, pool.map(lambda u: _fetch(u, timeout), todo), strict=True):
                results[url] = result
    hits = []
    for ref in refs:
        status, error = results.get(ref.url, (200, None))
        if _is_broken(status, error):
            why = error if error else f"HTTP {status}"
            hits.append(Hit(ref.path, ref.line, ref.column, f"{ref.url}: {why}"))
    fresh = {url: now for url, (status, error) in results.items() if not _is_broken(status, error)}
    if cache_file and fresh:
        cache.update(fresh)
        try:  # write-then-rename: parallel workers never see a half-written file
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(cache, indent=0, sort_keys=True), encoding="utf-8")
            os.replace(tmp, cache_file)
        except OSError:
            pass  # a cache that cannot be written only costs time
    return hits


@check("LK007", "external-link-broken", Severity.ERROR)
def external_link_broken(skill) -> Iterator[Hit]:
    """An external http(s) link answers 404/410/5xx or not at all (only with `--external`).

    What it does:
        With `--external`, requests every http(s) link and image once (HEAD, then GET when
        HEAD is refused; 10 s timeout; 8 in parallel) and reports connection failures,
        404, 410 and 5xx. 401/403/429 are not reported (bot walls). Successes are cached
        for a day in `.skill-audit/external-links.json`. Without `--external` nothing is
        fetched.
    Why:
        Upstream links are the skill's evidence; a dead one sends the reader nowhere.
    Example:
        [Celery routing](https://docs.celeryq.dev/en/stable/userguide/routing-old.html)
    Fix:
        Link the page's current address, or an archived copy.
    """
    if not getattr(skill.config, "external", False):
        return
    base = skill.config.base_dir or skill.root
    yield from check_external([skill], cache_dir=Path(base) / ".skill-audit")
