"""What a run will do: which markdown files, their fences, environments and services.

Everything that can be wrong before any code runs (a missing path, an unknown env, a broken
frontmatter, an env that cannot be built) is found here and raised as `PlanError`, which the
command reports on one line with exit code 2.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from skill_audit import discovery
from skill_audit.config import ConfigError, clear_config_cache, find_config
from skill_audit.discovery import SKILL_FILE, display_path
from skill_audit.model import MarkdownDoc, load_skill, read_text
from skill_audit.runner import deps
from skill_audit.runner.config import AUTO, MODE_KEY, MODES, Project, load_project
from skill_audit.runtime import envs as envs_mod
from skill_audit.snippets.extract import Fence
from skill_audit.snippets.grammar import Kind

# A file needs the Temporal dev server when one of its Python blocks (run, module or
# compile-only) imports temporalio, or when one of its environments lists temporalio.
_IMPORTS_TEMPORALIO = re.compile(r"^\s*(?:from|import)\s+temporalio\b", re.MULTILINE)
_TEMPORALIO_REQ = re.compile(r"^\s*temporalio\b", re.IGNORECASE)


class PlanError(Exception):
    """Bad paths, config or environments (one line, exit 2)."""


SHARED, ISOLATED = "shared", "isolated"


@dataclass(frozen=True)
class FilePlan:
    path: Path  # absolute
    display: str  # as reported: relative to the current directory when below it
    fences: tuple[Fence, ...]
    env: str | None  # the file's env name (frontmatter, else the project default)
    project: Project
    skill_root: Path | None = None  # copied into the work folder; None for a lone file
    mode: str = ISOLATED  # python blocks: each in a fresh interpreter, or one shared namespace
    skill_requirements: tuple[str, ...] = ()  # requirements.txt / pyproject of the skill folder

    def env_for(self, fence: Fence) -> str | None:
        return fence.spec.env or self.env

    @property
    def runnable(self) -> bool:
        """Whether any fence starts a process (else no service is needed for this file)."""
        return any(f.spec.executes and not f.spec.errors for f in self.fences)

    @property
    def inline_requirements(self) -> tuple[str, ...]:
        """PEP 723 dependencies of the file's python blocks (shared mode: one env for all)."""
        out: list[str] = []
        for fence in self.fences:
            if fence.spec.is_python and not fence.spec.errors:
                out.extend(r for r in deps.inline_script_deps(fence.code) if r not in out)
        return tuple(out)


def markdown_docs(paths: list[str]) -> list[tuple[Path | None, MarkdownDoc | Path]]:
    """PATHS as the user gave them (skill folders, folders of skills, or .md files) as
    (skill root, document). A skill's documents come from `load_skill(...).docs`, the same
    list `check` reads; a lone markdown file is returned as its path."""
    out: list[tuple[Path | None, MarkdownDoc | Path]] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise PlanError(f"Path {raw!r} does not exist.")
        if path.is_file():
            if path.suffix.lower() != ".md":
                raise PlanError(f"{raw}: not a markdown file")
            if path.resolve() not in seen:
                seen.add(path.resolve())
                out.append((_skill_root_of(path.resolve()), path.resolve()))
            continue
        skills = discovery.find_skills(path)
        if not skills:
            raise PlanError(f"{raw}: no SKILL.md at or below this folder")
        for root in skills:
            try:
                skill = load_skill(root, find_config(root))
            except ConfigError as exc:
                raise PlanError(str(exc)) from None
            for error in skill.load_errors:
                raise PlanError(f"{display_path(error.path)}:{error.line}: {error.message}")
            for doc in skill.docs:
                if doc.path.resolve() not in seen:
                    seen.add(doc.path.resolve())
                    out.append((root.resolve(), doc))
    return out


def _skill_root_of(path: Path) -> Path | None:
    for folder in path.parents:
        if (folder / SKILL_FILE).is_file():
            return folder
    return None


def plan_file(root: Path | None, source: MarkdownDoc | Path) -> FilePlan:
    path = source.path if isinstance(source, MarkdownDoc) else source
    try:
        project = load_project(path)
        max_bytes = find_config(path.parent).limits.max_file_bytes
    except ConfigError as exc:
        raise PlanError(str(exc)) from None
    display = display_path(path)
    if isinstance(source, MarkdownDoc):
        doc = MarkdownDoc(path, display, source.text)  # reported paths are cwd-relative
    else:
        text, error = read_text(path, max_bytes)
        if error:
            raise PlanError(f"{display}:{error.line}: {error.message}")
        doc = MarkdownDoc(path, display, text)
    fm = doc.frontmatter
    env = project.default_env
    mode = project.python_blocks
    if fm.present:
        if fm.error:
            raise PlanError(f"{display}:{fm.error_line}: frontmatter: {fm.error}")
        data = fm.data or {}
        if "env" in data:
            value = data["env"]
            if not isinstance(value, str) or not value:
                raise PlanError(
                    f"{display}:{fm.line_of('env')}: frontmatter env must be an env name"
                )
            env = value
        if MODE_KEY in data:
            mode = data[MODE_KEY]
            if mode not in MODES:
                raise PlanError(
                    f"{display}:{fm.line_of(MODE_KEY)}: frontmatter {MODE_KEY} must be one of "
                    + ", ".join(MODES)
                )
    fences = tuple(doc.fences)
    if mode == AUTO:
        # A file written for this tool keeps its grammar; any other file reads like a
        # notebook: later blocks use what earlier ones defined.
        mode = ISOLATED if any(uses_our_tokens(f) for f in fences) else SHARED
    skill_reqs = deps.skill_requirements(root) if root else ()
    return FilePlan(path, display, fences, env, project, root, mode, skill_reqs)


def uses_our_tokens(fence: Fence) -> bool:
    return len(fence.info.split()) > 1 and (fence.spec.is_python or fence.spec.is_shell)


def needs_temporal(plan: FilePlan, resolver: EnvResolver) -> bool:
    for fence in plan.fences:
        if fence.spec.errors or fence.spec.kind is Kind.PARTIAL:
            continue
        if fence.spec.is_python and _IMPORTS_TEMPORALIO.search(fence.code):
            return True
        if fence.spec.executes or fence.spec.is_python:
            choice = resolver.choose(plan, fence)
            if choice and any(_TEMPORALIO_REQ.match(r) for r in choice[1]):
                return True
    return False


class EnvResolver:
    """Which interpreter a block runs in, first match wins:
    1. `--env NAME=PATH` for the block's env name;
    2. PEP 723 metadata (`# /// script`) in the block (shared mode: in any block of the file);
    3. the env the block or file names (`env=`, frontmatter `env:`, `default-env`), from
       `[tool.skill-audit.envs]`;
    4. the skill folder's requirements.txt (or scripts/requirements.txt), else the
       `[project] dependencies` of a pyproject.toml beside SKILL.md;
    5. the interpreter skill-audit runs in.
    Envs are built on first use and cached by a hash of their requirements."""

    def __init__(self, overrides: dict[str, str], cache_dir: Path | None = None, log=None) -> None:
        self._overrides = {
            name: envs_mod.existing_env(name, path) for name, path in overrides.items()
        }
        self._cache_dir = cache_dir
        self._log = log
        self._built: dict[tuple[Path, tuple[str, ...]], envs_mod.Env] = {}

    def check(self, plan: FilePlan, fence: Fence | None) -> None:
        name = plan.env_for(fence) if fence else plan.env
        if name is None or name in self._overrides or not plan.project.envs:
            return
        if name not in plan.project.envs:
            line = fence.line if fence else 1
            known = ", ".join(sorted({*plan.project.envs, *self._overrides}))
            raise PlanError(f"{plan.display}:{line}: unknown env {name!r} (configured: {known})")

    def choose(self, plan: FilePlan, fence: Fence) -> tuple[str, tuple[str, ...]] | None:
        """(env name, requirements) for a block; None for an override or the current one."""
        name = plan.env_for(fence)
        if name is not None and name in self._overrides:
            return None
        if fence.spec.is_python and plan.mode == SHARED and plan.inline_requirements:
            # one interpreter for the whole file: what any block declares, plus the skill's
            extra = tuple(r for r in plan.skill_requirements if r not in plan.inline_requirements)
            return "inline", plan.inline_requirements + extra
        if fence.spec.is_python:
            inline = tuple(deps.inline_script_deps(fence.code))
            if inline:
                return "inline", inline  # a PEP 723 script stands alone
        if name is not None and name in plan.project.envs:
            return name, plan.project.envs[name]
        if plan.skill_requirements:
            return "skill", plan.skill_requirements
        return None

    def get(self, plan: FilePlan, fence: Fence) -> envs_mod.Env:
        name = plan.env_for(fence)
        if name is not None and name in self._overrides:
            return self._overrides[name]
        choice = self.choose(plan, fence)
        if choice is None:
            return envs_mod.current_env(name or "default")
        env_name, reqs = choice
        cache = self._cache_dir or plan.project.cache_dir or envs_mod.user_cache_dir()
        key = (cache, reqs)
        if key not in self._built:
            try:
                self._built[key] = envs_mod.ensure_env(cache, env_name, list(reqs), log=self._log)
            except envs_mod.EnvError as exc:
                raise PlanError(str(exc)) from None
        return self._built[key]


def build_plans(paths: list[str], resolver: EnvResolver) -> list[FilePlan]:
    clear_config_cache()  # pyproject files may have changed since the last in-process run
    plans = [plan_file(root, doc) for root, doc in markdown_docs(paths)]
    for plan in plans:
        resolver.check(plan, None)
        for fence in plan.fences:
            if not fence.spec.errors and (fence.spec.executes or fence.spec.is_python):
                resolver.check(plan, fence)
    return plans


def prepare_envs(plans: list[FilePlan], resolver: EnvResolver) -> None:
    """Build (or find) every env the plans will run in, before any service starts; distinct
    envs are built in parallel (each build mostly waits on downloads and disk)."""
    wanted: dict[tuple, tuple[FilePlan, Fence]] = {}
    for plan in plans:
        for fence in plan.fences:
            if fence.spec.executes and not fence.spec.errors:
                choice = resolver.choose(plan, fence)
                key = (plan.project.pyproject, choice) if choice else (None, plan.env_for(fence))
                wanted.setdefault(key, (plan, fence))
    if len(wanted) <= 1:
        for plan, fence in wanted.values():
            resolver.get(plan, fence)
        return
    with ThreadPoolExecutor(max_workers=min(4, len(wanted))) as pool:
        for future in [pool.submit(resolver.get, p, f) for p, f in wanted.values()]:
            future.result()


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 4))
