"""What a run will do: which markdown files, their fences, environments and services.

Everything that can be wrong before any code runs (a missing path, an unknown env, a broken
frontmatter, an env that cannot be built) is found here and raised as `PlanError`, which the
command reports on one line with exit code 2.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from skill_audit import discovery
from skill_audit.config import ConfigError, clear_config_cache, find_config
from skill_audit.discovery import display_path
from skill_audit.model import MarkdownDoc, read_text
from skill_audit.runner.config import Project, load_project
from skill_audit.runtime import envs as envs_mod
from skill_audit.snippets.extract import Fence
from skill_audit.snippets.grammar import Kind

# A file needs the Temporal dev server when one of its Python blocks (run, module or
# compile-only) imports temporalio, or when one of its environments lists temporalio.
_IMPORTS_TEMPORALIO = re.compile(r"^\s*(?:from|import)\s+temporalio\b", re.MULTILINE)
_TEMPORALIO_REQ = re.compile(r"^\s*temporalio\b", re.IGNORECASE)


class PlanError(Exception):
    """Bad paths, config or environments (one line, exit 2)."""


@dataclass(frozen=True)
class FilePlan:
    path: Path  # absolute
    display: str  # as reported: relative to the current directory when below it
    fences: tuple[Fence, ...]
    env: str | None  # the file's env name (frontmatter, else the project default)
    project: Project

    def env_for(self, fence: Fence) -> str | None:
        return fence.spec.env or self.env


def markdown_files(paths: list[str]) -> list[Path]:
    """PATHS as the user gave them: skill folders, folders of skills, or .md files."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise PlanError(f"{raw}: no such file or folder")
        if path.is_file():
            if path.suffix.lower() != ".md":
                raise PlanError(f"{raw}: not a markdown file")
            out.append(path.resolve())
            continue
        skills = discovery.find_skills(path)
        if not skills:
            raise PlanError(f"{raw}: no SKILL.md at or below this folder")
        for skill in skills:
            out.extend(p.resolve() for p in discovery.skill_markdown_files(skill) if p.is_file())
    seen: set[Path] = set()
    return [p for p in out if not (p in seen or seen.add(p))]


def plan_file(path: Path) -> FilePlan:
    try:
        project = load_project(path)
        max_bytes = find_config(path.parent).limits.max_file_bytes
    except ConfigError as exc:
        raise PlanError(str(exc)) from None
    display = display_path(path)
    # The same loading and single parse as `check`, so both commands see the same fences.
    text, error = read_text(path, max_bytes)
    if error:
        raise PlanError(f"{display}:{error.line}: {error.message}")
    doc = MarkdownDoc(path, display, text)
    fm = doc.frontmatter
    env = project.default_env
    if fm.present:
        if fm.error:
            raise PlanError(f"{display}:{fm.error_line}: frontmatter: {fm.error}")
        if fm.data and "env" in fm.data:
            value = fm.data["env"]
            if not isinstance(value, str) or not value:
                raise PlanError(
                    f"{display}:{fm.line_of('env')}: frontmatter env must be an env name"
                )
            env = value
    return FilePlan(path, display, tuple(doc.fences), env, project)


def needs_temporal(plan: FilePlan, requirements_of) -> bool:
    for fence in plan.fences:
        if fence.spec.errors or fence.spec.kind is Kind.PARTIAL:
            continue
        if fence.spec.is_python and _IMPORTS_TEMPORALIO.search(fence.code):
            return True
        if fence.spec.executes or fence.spec.is_python:
            reqs = requirements_of(plan, plan.env_for(fence))
            if any(_TEMPORALIO_REQ.match(r) for r in reqs):
                return True
    return False


class EnvResolver:
    """Env names to interpreters: `--env NAME=PATH`, else the project's pinned envs (built on
    first use), else the interpreter skill-audit runs in when the project declares none."""

    def __init__(self, overrides: dict[str, str], cache_dir: Path | None = None, log=None) -> None:
        self._overrides = {
            name: envs_mod.existing_env(name, path) for name, path in overrides.items()
        }
        self._cache_dir = cache_dir
        self._log = log
        self._built: dict[tuple[Path | None, str | None], envs_mod.Env] = {}

    def check(self, plan: FilePlan, fence: Fence | None) -> None:
        name = plan.env_for(fence) if fence else plan.env
        if name is None or name in self._overrides or not plan.project.envs:
            return
        if name not in plan.project.envs:
            line = fence.line if fence else 1
            known = ", ".join(sorted({*plan.project.envs, *self._overrides}))
            raise PlanError(f"{plan.display}:{line}: unknown env {name!r} (configured: {known})")

    def requirements(self, plan: FilePlan, name: str | None) -> tuple[str, ...]:
        if name is None or name in self._overrides:
            return ()
        return plan.project.envs.get(name, ())

    def get(self, plan: FilePlan, name: str | None) -> envs_mod.Env:
        if name is not None and name in self._overrides:
            return self._overrides[name]
        if name is None or not plan.project.envs:
            return envs_mod.current_env(name or "default")
        key = (plan.project.pyproject, name)
        if key not in self._built:
            cache = self._cache_dir or plan.project.cache_dir
            try:
                self._built[key] = envs_mod.ensure_env(
                    cache, name, list(plan.project.envs[name]), log=self._log
                )
            except envs_mod.EnvError as exc:
                raise PlanError(str(exc)) from None
        return self._built[key]


def build_plans(paths: list[str], resolver: EnvResolver) -> list[FilePlan]:
    clear_config_cache()  # pyproject files may have changed since the last in-process run
    plans = [plan_file(p) for p in markdown_files(paths)]
    for plan in plans:
        resolver.check(plan, None)
        for fence in plan.fences:
            if not fence.spec.errors and (fence.spec.executes or fence.spec.is_python):
                resolver.check(plan, fence)
    return plans


def prepare_envs(plans: list[FilePlan], resolver: EnvResolver) -> None:
    """Build (or find) every env the plans will run in, before any service starts."""
    for plan in plans:
        for fence in plan.fences:
            if fence.spec.executes and not fence.spec.errors:
                resolver.get(plan, plan.env_for(fence))


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 4))
