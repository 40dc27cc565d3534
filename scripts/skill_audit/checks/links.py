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

import json
import os
import re
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from skill_audit.diagnostics import Hit, Severity
from skill_audit.facts import (
    inside,
    is_external,
    resolve,
    resolve_link,
    resolver,
    split_fragment,
)
from skill_audit.mentions import KNOWN_PLACEHOLDERS, PLUGIN_PLACEHOLDERS
from skill_audit.model import MarkdownDoc, per_skill
from skill_audit.registry import check

_PLACEHOLDER_RE = re.compile(r"\$\{(CLAUDE_[A-Za-z0-9_]*)\}")


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
        if doc.is_template:
            continue
        here = os.path.normpath(str(doc.path))
        base = os.path.dirname(here)
        for link in doc.links:
            for code, message in _link_problems(link, here, base, res):
                yield code, Hit(doc.path, link.line, link.column, message)


def _link_problems(link, here: str, base: str, res) -> Iterator[tuple[str, str]]:
    """(code, message) for each way one link does not resolve (LK008 may come with LK002)."""
    target = link.target.strip()
    what = "image" if link.image else "link"
    if is_external(target):
        return
    if not target:
        yield "LK001", f"{what} with an empty target"
        return
    path, fragment = split_fragment(target)
    if not path:  # same-file anchor
        anchors = res.anchors(here) or set()
        if fragment and fragment not in anchors and fragment.lower() not in anchors:
            yield "LK002", f"{what} #{fragment}: no heading or anchor with that slug in this file"
        return
    if os.path.isabs(path):
        yield (
            "LK003",
            f"{what} {target}: absolute path; it will not exist where the skill is installed",
        )
        return
    resolved, from_root = resolve_link(path, base, res)
    if resolved is None:
        return  # LK005/LK006 report the placeholder
    if from_root:
        yield (
            "LK008",
            f"{what} {target} resolves only from the skill root "
            f"({res.rel(resolved)}): agents that read paths from the skill root "
            "(the spec's form) find it, GitHub and markdown viewers resolve it "
            f"from {res.rel(base) if base != res.root else 'the skill root'}/ and "
            f"do not; write {os.path.relpath(resolved, base).replace(os.sep, '/')} "
            "to work for both",
        )
    elif not inside(resolved, res.root):
        yield (
            "LK003",
            f"{what} {target} points outside the skill folder"
            + ("" if os.path.exists(resolved) else " (and does not exist)"),
        )
        return
    if not os.path.exists(resolved):
        yield "LK001", f"{what} {target}: {res.rel(resolved)} does not exist"
        return
    problem = res.fragment_problem(resolved, fragment, f"{what} {target}")
    if problem:
        yield "LK002", problem


@check("LK001", "broken-link", Severity.ERROR)
def broken_link(skill) -> Iterator[Hit]:
    """A markdown link or image points at a file that does not exist.

    What it does:
        Resolves every relative link and image target in every shipped markdown file against
        the folder of the file that holds it, then against the skill root (that form is
        LK008's warning); `${CLAUDE_SKILL_DIR}` and `{baseDir}` are the skill folder. Reports
        targets that exist in neither place. External URLs are not fetched here. Output
        templates (files under assets/ or templates/) are skipped: their links name files of
        the project they are copied into.
    Why:
        The agent follows the link to load a rule file; a missing file means the guidance the
        table promises is never read.
    Example:
        See [retries](references/retry-strategy.md) when the file is retry-strategies.md.
    Fix:
        Point the link at the real file (paths are case-sensitive), or add the file.
    """
    yield from _only("LK001", _link_findings(skill))


@check("LK008", "link-relative-to-skill-root", Severity.WARNING)
def link_relative_to_skill_root(skill) -> Iterator[Hit]:
    """A link in a nested file only resolves when read from the skill root.

    What it does:
        For a link in a file below the skill root (e.g. references/guide.md) whose target does
        not exist relative to that file but does exist relative to the skill root, reports
        which form works where and the path that works for both.
    Why:
        The Agent Skills spec words file references as relative to the skill root, and agents
        that open paths from there follow the link; GitHub, editors and markdown viewers
        resolve it from the file's own folder and show a dead link.
    Example:
        In references/guide.md: [schema](references/schema.md), file at references/schema.md.
    Fix:
        Write the path relative to the file (`schema.md`), which both kinds of reader resolve.
    """
    yield from _only("LK008", _link_findings(skill))


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


@per_skill
def _mention_findings(skill) -> list[tuple[str, Hit]]:
    return list(_iter_mention_findings(skill))


def _iter_mention_findings(skill) -> Iterator[tuple[str, Hit]]:
    res = resolver(skill)
    for doc in skill.docs:
        if doc.is_template:
            continue
        for mention in doc.mentions:
            path, fragment = split_fragment(mention.raw)
            resolved = resolve(path, res.root, res)
            if resolved is None:
                continue  # LK005/LK006 report the placeholder
            if not os.path.exists(resolved) and not path.startswith("${"):
                near = resolve(path, os.path.dirname(os.path.normpath(str(doc.path))), res)
                if near and inside(near, res.root) and os.path.exists(near):
                    resolved = near  # written relative to the file that mentions it
            shown = f"{mention.how} path {mention.raw}"
            plugin = res.skill.plugin_root if path.startswith("${CLAUDE_PLUGIN_ROOT}") else None
            boundary = os.path.normpath(str(plugin)) if plugin else res.root
            if not inside(resolved, boundary):
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
            if (
                not os.path.exists(resolved)
                and not _in_named_sibling(doc, mention, path, res)
                and not _in_plugin_folder(path, res)
            ):
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


_BACKTICKED_RE = re.compile(r"`([\w.-]+)`")


def _in_plugin_folder(path: str, res) -> bool:
    """True for a plugin skill's path that exists relative to its plugin folder (plugins keep
    shared scripts/ there and tell the agent to resolve the plugin root first)."""
    plugin = res.skill.plugin_root
    if plugin is None or "${" in path or os.path.isabs(path):
        return False
    return os.path.exists(os.path.join(str(plugin), path))


def _in_named_sibling(doc, mention, path: str, res) -> bool:
    """True when the path belongs to a sibling skill named just before it ("see
    `model-selection`'s `references/catalog.md`") and exists there."""
    if "${" in path or os.path.isabs(path):
        return False
    parent = os.path.dirname(res.root)
    nearby = "\n".join(doc.lines[max(0, mention.line - 3) : mention.line])
    for name in _BACKTICKED_RE.findall(nearby):
        sibling = os.path.join(parent, name)
        if name != os.path.basename(res.root) and os.path.isfile(os.path.join(sibling, "SKILL.md")):
            return os.path.exists(os.path.join(sibling, path))
    return False


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
