"""`skill-audit check` without the CLI: discover skills, load each once, run the selected
checks, apply suppressions, return sorted diagnostics and a summary.

Big trees are checked on every core (a forked process pool over batches of skills); a small
tree runs in-process, since forking would cost more than it saves. Each batch is one
`check_batch` call, so checks with a `prepare` step pay their fixed costs once per batch.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from skill_audit.config import Config, ConfigError, clear_config_cache, find_config
from skill_audit.diagnostics import Diagnostic, Hit, Severity
from skill_audit.discovery import display_path, skill_roots
from skill_audit.model import Skill, load_skill
from skill_audit.registry import CheckSpec, Scope, load_checks

PARALLEL_MIN_SKILLS = 6
# Small batches, handed out heaviest first, keep both cores busy to the end (with 4 per worker
# one slow last batch left a core idle for 0.1 s on the public corpus); each batch still
# shares its `bash -n` runs across its skills.
BATCHES_PER_WORKER = 16


@dataclass(frozen=True)
class Options:
    """Command-line overrides applied on top of each skill's `[tool.skill-audit]`."""

    profile: str | None = None
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    external: bool = False
    jobs: int | None = None  # None: use every available core for big trees


@dataclass
class Report:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    skills: int = 0
    files: int = 0
    characters: int = 0  # markdown characters checked
    fences: Counter = field(default_factory=Counter)  # fence kind (grammar Kind value) -> count
    skipped: Counter = field(default_factory=Counter)  # reason -> markdown files not checked
    failing_skills: int = 0  # skills with at least one error
    internal_errors: list[str] = field(default_factory=list)
    checks: list[CheckSpec] = field(default_factory=list)  # every check that ran somewhere

    def count(self, severity: Severity) -> int:
        return sum(1 for d in self.diagnostics if d.severity == severity)


def validate_selectors(selectors, where: str) -> None:
    codes = load_checks()
    for sel in selectors or ():
        if sel != "ALL" and not any(code.startswith(sel) for code in codes):
            raise ConfigError(f"{where}: {sel!r} matches no check code")


def selected(config: Config) -> list[CheckSpec]:
    """Checks enabled by select/ignore; the more specific selector wins (ruff's rule)."""
    out = []
    for code, spec in sorted(load_checks().items()):
        chosen = _best(code, config.select if config.select is not None else ("ALL",))
        dropped = _best(code, config.ignore)
        if chosen >= 0 and chosen > dropped:
            out.append(spec)
    return out


def _best(code: str, selectors) -> int:
    """Length of the longest selector matching `code` (ALL counts as 0), -1 if none."""
    best = -1
    for sel in selectors or ():
        if sel == "ALL":
            best = max(best, 0)
        elif code.startswith(sel):
            best = max(best, len(sel))
    return best


def effective_config(root: Path, options: Options) -> Config:
    config = find_config(root)
    validate_selectors(config.select, f"{config.source}: select")
    validate_selectors(config.ignore, f"{config.source}: ignore")
    for _glob, codes in config.per_file_ignores:
        validate_selectors(codes, f"{config.source}: per-file-ignores")
    changes = {"external": options.external}
    if options.profile:
        changes["profile"] = options.profile
    if options.select is not None:
        changes["select"] = options.select
    if options.ignore:
        changes["ignore"] = tuple(config.ignore) + tuple(options.ignore)
    return replace(config, **changes)


def run_check(paths: list[Path], options: Options | None = None) -> Report:
    options = options if options is not None else Options()
    roots = skill_roots(paths)  # NoSkillError for a path without a skill
    validate_selectors(options.select, "--select")
    validate_selectors(options.ignore, "--ignore")
    clear_config_cache()  # pyproject files may have changed since the last in-process run
    jobs = [(root, effective_config(root, options)) for root in roots]
    report = Report()
    workers = options.jobs or _cpus()
    with _collector_paused():
        parallel = workers > 1 and len(jobs) >= PARALLEL_MIN_SKILLS
        results = _parallel(jobs, workers) if parallel else check_batch(jobs)
    seen_checks: dict[str, CheckSpec] = {}
    for result in results:
        report.diagnostics.extend(result.diagnostics)
        report.skills += 1
        report.files += result.files
        report.characters += result.characters
        report.fences.update(result.fences)
        report.skipped.update(result.skipped)
        report.failing_skills += any(d.severity >= Severity.ERROR for d in result.diagnostics)
        report.internal_errors.extend(result.internal_errors)
        for code in result.codes:
            seen_checks[code] = load_checks()[code]
    report.diagnostics.sort()
    report.checks = [seen_checks[c] for c in sorted(seen_checks)]
    return report


@dataclass
class SkillResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: int = 0
    characters: int = 0  # markdown characters checked
    fences: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    internal_errors: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)


def check_batch(jobs: list[tuple[Path, Config]]) -> list[SkillResult]:
    """Check skills in this process: load them all, give each check's `prepare` step the
    skills it will see, then run every skill's checks."""
    skills = [load_skill(root, config) for root, config in jobs]
    chosen = [selected(skill.config) for skill in skills]
    for spec in {spec for specs in chosen for spec in specs if spec.prepare}:
        # on failure the check redoes the work itself and reports the problem there
        with contextlib.suppress(Exception):
            spec.prepare(
                [skill for skill, specs in zip(skills, chosen, strict=True) if spec in specs]
            )
    return [check_skill(skill, specs) for skill, specs in zip(skills, chosen, strict=True)]


def check_skill(skill: Skill, checks: list[CheckSpec]) -> SkillResult:
    result = SkillResult(codes=[c.code for c in checks])
    result.files = len(skill.docs) + len(skill.load_errors)
    result.characters = sum(len(d.text) for d in skill.docs)
    raw: list[tuple[CheckSpec, Hit]] = []
    failed = run_scopes(skill, checks, raw)
    for spec, exc in failed.items():
        result.internal_errors.append(
            f"internal error in {spec.code} ({spec.name}) on {display_path(skill.root)}: "
            f"{type(exc).__name__}: {exc}"
        )
    result.diagnostics = _finish(skill, raw)
    try:
        result.skipped = Counter(why for _path, why in skill.skipped)
        if skill.orphans:
            result.skipped["not reached from SKILL.md"] += len(skill.orphans)
    except OSError:  # the folder vanished mid-run: the checks above said what they could
        pass
    if any(c.family == "CS" for c in checks):
        result.fences = Counter(f.spec.kind.value for doc in skill.docs for f in doc.fences)
    return result


def hits_of(skill: Skill, spec: CheckSpec) -> list[Hit]:
    """One check's raw hits on one skill, walked as the engine walks it (for tests and tools);
    a crash is raised, not recorded."""
    raw: list[tuple[CheckSpec, Hit]] = []
    failed = run_scopes(skill, [spec], raw)
    if failed:
        raise failed[spec]
    return [hit for _spec, hit in raw]


def run_scopes(
    skill: Skill, checks: list[CheckSpec], raw: list[tuple[CheckSpec, Hit]]
) -> dict[CheckSpec, Exception]:
    """Call every check on the items of its scope, appending (check, hit) to `raw`: one walk
    over the docs, fences and links serves all checks of a scope. A check that raises keeps
    the hits it yielded, is not called again on this skill, and is returned with its error."""
    failed: dict[CheckSpec, Exception] = {}
    # keyed by the scope's string value: str hashes are cached, Enum.__hash__ is Python code
    # and this dict is read once per fence and link
    by_scope: dict[str, list[CheckSpec]] = {scope.value: [] for scope in Scope}
    for spec in checks:
        by_scope[spec.scope.value].append(spec)

    def call(scope: str, *args) -> None:
        for spec in by_scope[scope]:
            try:
                for hit in spec.func(*args):
                    raw.append((spec, hit))
            except Exception as exc:  # a check must never take the run down; report it instead
                failed[spec] = exc
                # a new list: a walk over the old one (this loop) finishes unchanged
                by_scope[scope] = [s for s in by_scope[scope] if s is not spec]

    call("skill", skill)
    doc = skill.skill_md
    if by_scope["frontmatter"] and doc is not None and doc.frontmatter.ok:
        call("frontmatter", doc, skill)
    if not (by_scope["doc"] or by_scope["fence"] or by_scope["link"]):
        return failed
    for doc in skill.docs:
        call("doc", doc, skill)
        if by_scope["fence"]:
            for fence in doc.fences:
                call("fence", fence, doc, skill)
        if by_scope["link"]:
            for link in doc.links:
                call("link", link, doc, skill)
    return failed


def _finish(skill: Skill, raw) -> list[Diagnostic]:
    docs = {doc.path: doc for doc in skill.docs}
    ignored: dict[Path, tuple[str, ...]] = {}
    shown: dict[Path, str] = {}
    out = []
    for spec, hit in raw:
        path = Path(hit.path)
        if path not in ignored:
            ignored[path] = skill.config.ignored_for(path)
            shown[path] = display_path(path)
        if any(spec.code.startswith(sel) for sel in ignored[path]):
            continue
        doc = docs.get(path)
        if doc is not None and doc.suppressions.covers(spec.code, hit.line):
            continue
        out.append(
            Diagnostic(
                shown[path],
                max(1, int(hit.line)),
                max(1, int(hit.column)),
                spec.code,
                spec.name,
                hit.severity or spec.severity,
                hit.message,
            )
        )
    return out


@contextmanager
def _collector_paused():
    """The cyclic garbage collector off while skills are checked; a worker collects between
    batches only when container objects have piled up (`_check_batch_and_collect`). Forked
    workers inherit the setting.

    A parse makes hundreds of thousands of short-lived objects that reference counting frees;
    the collector still scanned the growing heap of loaded skills over and over (over 25% of
    the CPU of a 427-skill corpus even with a 50,000 gen-0 threshold). Checking makes almost
    no cyclic garbage (9 objects per batch on the public corpus), so memory stays bounded.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    gc.freeze()  # what is alive now (modules, the check registry) is never scanned again
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


# Net container objects allocated since the last collection before a worker collects. A
# collection after every batch found 9 objects to free yet scanned everything the worker had
# made since the fork: 20-25 ms a batch, about a fifth of the wall time of a 111-skill tree.
# A worker's count stays under 60,000 over the 427-skill corpus (heaps within 2 MB either way).
COLLECT_AFTER_OBJECTS = 200_000


def _check_batch_and_collect(jobs: list[tuple[Path, Config]]) -> list[SkillResult]:
    results = check_batch(jobs)
    if gc.get_count()[0] > COLLECT_AFTER_OBJECTS:
        gc.collect()
    return results


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _parallel(jobs, workers: int) -> list[SkillResult]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:
        return check_batch(jobs)
    load_checks()  # import checks before forking so children inherit them
    for profile in {config.profile for _root, config in jobs}:
        from skill_audit.schemas import validator

        validator(profile)  # jsonschema is imported once here, not once per worker
    batches = _batches(jobs, workers * BATCHES_PER_WORKER)
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        done = list(
            pool.map(_check_batch_and_collect, [[jobs[i] for i in batch] for batch in batches])
        )
    results: list[SkillResult | None] = [None] * len(jobs)
    for batch, batch_results in zip(batches, done, strict=True):
        for i, result in zip(batch, batch_results, strict=True):
            results[i] = result
    return results


def _batches(jobs, count: int) -> list[list[int]]:
    """Job indices in `count` batches of similar size, heaviest batch first: each skill, largest
    first, joins the lightest batch so far (so one big skill does not finish last)."""
    weights = [_weight(root) for root, _config in jobs]
    batches: list[list[int]] = [[] for _ in range(min(count, len(jobs)))]
    totals = [0] * len(batches)
    for i in sorted(range(len(jobs)), key=lambda i: -weights[i]):
        lightest = totals.index(min(totals))
        batches[lightest].append(i)
        totals[lightest] += weights[i]
    return sorted(batches, key=lambda batch: -sum(weights[i] for i in batch))


def _weight(root: Path) -> int:
    try:
        total = sum(e.stat().st_size for e in os.scandir(root) if e.name.endswith(".md"))
        refs = root / "references"
        if refs.is_dir():
            total += sum(e.stat().st_size for e in os.scandir(refs) if e.is_file())
        return total
    except OSError:
        return 0
