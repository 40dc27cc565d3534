"""LK: links and path references inside a skill.

Three kinds of pointers are resolved, in every markdown file the skill ships:
  * markdown links and images, against the folder of the file that holds them;
  * path mentions: the argument of a `Read("...")` call, a `${CLAUDE_SKILL_DIR}/...` path
    anywhere in the text, and `references/`, `scripts/` or `assets/` paths inside inline code.
    These are skill-relative: `${CLAUDE_SKILL_DIR}` is the skill folder, `${CLAUDE_PLUGIN_ROOT}`
    the plugin folder for a skill inside a plugin (see `model.plugin_root`); outside one, only
    `${CLAUDE_PLUGIN_ROOT}/skills/<this skill>/...` is resolved (LK006 warns either way);
  * `#fragment`s, against GitHub heading slugs (-1, -2 for repeated headings) and <a id/name>.
External http(s) URLs are only fetched with `--external` (`check_external`). Where a link or
mention lands is a fact computed once (`facts.link_target`, `facts.mention_target`).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from skill_audit.diagnostics import Hit, Severity
from skill_audit.facts import link_target, mention_target, resolver
from skill_audit.mentions import KNOWN_PLACEHOLDERS, PLUGIN_PLACEHOLDERS
from skill_audit.model import MarkdownDoc, Skill
from skill_audit.parsing.records import Link
from skill_audit.registry import Scope, check

_PLACEHOLDER_RE = re.compile(r"\$\{(CLAUDE_[A-Za-z0-9_]*)\}")
# Link targets that name no file: the blank of a template (skillseal exempts the same shape).
PLACEHOLDER_TARGETS = frozenset(
    {
        "url",
        "link",
        "path",
        "href",
        "target",
        "file",
        "filename",
        "todo",
        "tbd",
        "placeholder",
        "xxx",
    }
)


# --------------------------------------------------------------------------- links and mentions
# Where each link and mention points is a fact (`facts.link_target`, `facts.mention_target`),
# computed once and read by every check below.


@check("LK001", "broken-link", Severity.ERROR, scope=Scope.LINK)
def broken_link(link: Link, doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
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
        Point the link at the real file (paths are case-sensitive), or add the file. A
        placeholder word as the target (`url`, `link`, `path`, `todo`, ...) is reported at
        warning severity: it names no file.
    """
    t = link_target(link, doc, skill)
    if t is None:
        return
    if not t.target:
        yield Hit(doc.path, link.line, link.column, f"{t.what} with an empty target")
    elif t.resolved is not None and t.inside and not t.exists:
        if t.target.lower() in PLACEHOLDER_TARGETS:
            # `[Doe et al., 2024](url)` shows a format, or a blank left unfilled: either way no
            # file is meant, so say so at warning severity rather than "does not exist"
            yield Hit(
                doc.path,
                link.line,
                link.column,
                f"{t.what} target `{t.target}` is a placeholder word, not a file: "
                "fill it in, or show the format in a code span",
                Severity.WARNING,
            )
            return
        yield Hit(
            doc.path,
            link.line,
            link.column,
            f"{t.what} {t.target}: {resolver(skill).rel(t.resolved)} does not exist",
        )


@check("LK008", "link-relative-to-skill-root", Severity.WARNING, scope=Scope.LINK)
def link_relative_to_skill_root(link: Link, doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
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
    t = link_target(link, doc, skill)
    if t is None or not t.from_root or t.resolved is None:
        return
    res = resolver(skill)
    yield Hit(
        doc.path,
        link.line,
        link.column,
        f"{t.what} {t.target} resolves only from the skill root "
        f"({res.rel(t.resolved)}): agents that read paths from the skill root "
        "(the spec's form) find it, GitHub and markdown viewers resolve it "
        f"from {res.rel(t.base) if t.base != res.root else 'the skill root'}/ and "
        f"do not; write {os.path.relpath(t.resolved, t.base).replace(os.sep, '/')} "
        "to work for both",
    )


@check("LK002", "broken-anchor", Severity.ERROR, scope=Scope.DOC)
def broken_anchor(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
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
    if doc.is_template:
        return
    res = resolver(skill)
    for link in doc.links:
        t = link_target(link, doc, skill)
        if t is None or not t.target:
            continue
        if not t.path:  # same-file anchor
            anchors = res.anchors(t.here) or set()
            if t.fragment and t.fragment not in anchors and t.fragment.lower() not in anchors:
                yield Hit(
                    doc.path,
                    link.line,
                    link.column,
                    f"{t.what} #{t.fragment}: no heading or anchor with that slug in this file",
                )
        elif t.resolved is not None and t.inside and t.exists:
            problem = res.fragment_problem(t.resolved, t.fragment, f"{t.what} {t.target}")
            if problem:
                yield Hit(doc.path, link.line, link.column, problem)
    for mention in doc.mentions:
        m = mention_target(mention, doc, skill)
        if m is not None and m.inside and (m.exists or m.elsewhere):
            problem = res.fragment_problem(m.resolved, m.fragment, m.shown)
            if problem:
                yield Hit(doc.path, mention.line, mention.column, problem)


@check("LK003", "link-outside-skill", Severity.WARNING, scope=Scope.DOC)
def link_outside_skill(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
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
    if doc.is_template:
        return
    for link in doc.links:
        t = link_target(link, doc, skill)
        if t is None:
            continue
        if t.absolute:
            message = (
                f"{t.what} {t.target}: absolute path; it will not exist where the skill is "
                "installed"
            )
        elif t.resolved is not None and not t.inside:
            message = f"{t.what} {t.target} points outside the skill folder" + (
                "" if t.exists else " (and does not exist)"
            )
        else:
            continue
        yield Hit(doc.path, link.line, link.column, message)
    for mention in doc.mentions:
        m = mention_target(mention, doc, skill)
        if m is not None and not m.inside:
            yield Hit(
                doc.path, mention.line, mention.column, f"{m.shown} points outside the skill folder"
            )


@check("LK004", "broken-path-reference", Severity.ERROR, scope=Scope.DOC)
def broken_path_reference(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
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
    if doc.is_template:
        return
    for mention in doc.mentions:
        m = mention_target(mention, doc, skill)
        if m is not None and m.inside and not m.exists and not m.elsewhere:
            yield Hit(
                doc.path,
                mention.line,
                mention.column,
                f"{m.shown}: {resolver(skill).rel(m.resolved)} does not exist",
            )


# --------------------------------------------------------------------------- placeholders


def _placeholders(doc: MarkdownDoc) -> Iterator[tuple[str, int, int]]:
    """(name, line, column) of every `${CLAUDE_*}` placeholder in the doc."""
    if "${CLAUDE_" not in doc.text:
        return
    for number, line in enumerate(doc.lines, 1):
        if "${CLAUDE_" in line:
            for m in _PLACEHOLDER_RE.finditer(line):
                yield m.group(1), number, m.start() + 1


@check("LK005", "unknown-placeholder", Severity.WARNING, scope=Scope.DOC)
def unknown_placeholder(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
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
    for name, line, col in _placeholders(doc):
        if name not in KNOWN_PLACEHOLDERS and name not in PLUGIN_PLACEHOLDERS:
            yield Hit(
                doc.path,
                line,
                col,
                f"${{{name}}} is not a placeholder Claude Code substitutes "
                "(known: " + ", ".join(sorted(KNOWN_PLACEHOLDERS | PLUGIN_PLACEHOLDERS)) + ")",
            )


@check("LK006", "plugin-placeholder-outside-plugin", Severity.WARNING, scope=Scope.DOC)
def plugin_placeholder_outside_plugin(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
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
    for name, line, col in _placeholders(doc):
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
        from concurrent.futures import ThreadPoolExecutor  # --external only: not a start-up cost

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
