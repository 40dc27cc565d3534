"""The `run` and `envs` sub-tables of `[tool.skill-audit]`, which belong to `skill-audit run`.

    [tool.skill-audit.run]
    default-env = "celery"          # env of files whose frontmatter names none

    [tool.skill-audit.envs]
    celery = ["celery[redis]==5.7.0", "redis==8.1.0"]   # pinned requirement lists
    arq = ["arq==0.28.0", "redis==5.3.1"]

pyproject.toml is looked for upward from the given path, stopping at the folder holding
`.git` (or the filesystem root). The rest of `[tool.skill-audit]` is read by
`skill_audit.config` for `check`; this reader stays small on purpose.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

RUN_KEYS = frozenset({"default-env"})


class RunConfigError(Exception):
    """A bad `[tool.skill-audit.run]`/`envs` setting (one line, exit 2)."""


@dataclass(frozen=True)
class Project:
    """Where snippets' environments come from for the files below one pyproject.toml."""

    pyproject: Path | None = None
    default_env: str | None = None
    envs: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def cache_dir(self) -> Path | None:
        return self.pyproject.parent / ".skill-audit" if self.pyproject else None


def find_pyproject(start: Path) -> Path | None:
    start = Path(start).resolve()
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate / "pyproject.toml"
        if (candidate / ".git").exists():
            return None
    return None


_cache: dict[Path | None, Project] = {}


def load_project(start: Path) -> Project:
    pyproject = find_pyproject(start)
    if pyproject not in _cache:
        _cache[pyproject] = read_project(pyproject) if pyproject else Project()
    return _cache[pyproject]


def read_project(pyproject: Path) -> Project:
    try:
        with open(pyproject, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise RunConfigError(f"{pyproject}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise RunConfigError(f"{pyproject}: cannot read: {exc.strerror or exc}") from None
    table = data.get("tool", {}).get("skill-audit", {})
    if not isinstance(table, dict):
        raise RunConfigError(f"{pyproject}: [tool.skill-audit] must be a table")
    run = table.get("run", {})
    envs = table.get("envs", {})
    where = f"{pyproject}: [tool.skill-audit"
    if not isinstance(run, dict):
        raise RunConfigError(f"{where}.run] must be a table")
    if not isinstance(envs, dict):
        raise RunConfigError(f"{where}.envs] must be a table of NAME = [requirements]")
    unknown = sorted(set(run) - RUN_KEYS)
    if unknown:
        raise RunConfigError(f"{where}.run]: unknown key {unknown[0]!r} (known: default-env)")
    parsed: dict[str, tuple[str, ...]] = {}
    for name, reqs in envs.items():
        if not isinstance(reqs, list) or not all(isinstance(r, str) and r.strip() for r in reqs):
            raise RunConfigError(f"{where}.envs].{name} must be a list of requirement strings")
        parsed[name] = tuple(reqs)
    default = run.get("default-env")
    if default is not None and (not isinstance(default, str) or default not in parsed):
        known = ", ".join(sorted(parsed)) or "none configured"
        raise RunConfigError(f"{where}.run].default-env {default!r} is not an env in "
                             f"[tool.skill-audit.envs] ({known})")
    return Project(pyproject=pyproject, default_env=default, envs=parsed)
