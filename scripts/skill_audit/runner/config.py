"""The `run` and `envs` sub-tables of `[tool.skill-audit]`, which belong to `skill-audit run`.

    [tool.skill-audit.run]
    default-env = "celery"          # env of files whose frontmatter names none
    python-blocks = "auto"          # auto | shared | isolated (a file's frontmatter
                                    # `python-blocks:` overrides it for that file)

    [tool.skill-audit.envs]
    celery = ["celery[redis]==5.7.0", "redis==8.1.0"]   # pinned requirement lists
    arq = ["arq==0.28.0", "redis==5.3.1"]

Finding and reading pyproject.toml is `skill_audit.config.tool_table`'s job (shared with
`check`); this module only validates the two sub-tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from skill_audit.config import ConfigError, tool_table

RUN_KEYS = frozenset({"default-env", "python-blocks"})

# How a file's plain python blocks run. isolated: each in a fresh interpreter (this tool's
# grammar: share code through file= modules). shared: in order, in one namespace per file,
# like a notebook. auto: isolated when any fence of the file carries this tool's tokens,
# shared otherwise.
MODE_KEY = "python-blocks"
AUTO = "auto"
MODES = ("auto", "shared", "isolated")


@dataclass(frozen=True)
class Project:
    """Where snippets' environments come from for the files below one pyproject.toml."""

    pyproject: Path | None = None
    default_env: str | None = None
    envs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    python_blocks: str = AUTO

    @property
    def cache_dir(self) -> Path | None:
        return self.pyproject.parent / ".skill-audit" if self.pyproject else None


def load_project(start: Path) -> Project:
    """The run settings for a markdown file or folder (empty when no table is found)."""
    pyproject, table = tool_table(start)
    return parse_run_tables(table, pyproject) if pyproject else Project()


def parse_run_tables(table: dict, pyproject: Path) -> Project:
    run = table.get("run", {})
    envs = table.get("envs", {})
    where = f"{pyproject}: [tool.skill-audit"
    if not isinstance(run, dict):
        raise ConfigError(f"{where}.run] must be a table")
    if not isinstance(envs, dict):
        raise ConfigError(f"{where}.envs] must be a table of NAME = [requirements]")
    unknown = sorted(set(run) - RUN_KEYS)
    if unknown:
        known = ", ".join(sorted(RUN_KEYS))
        raise ConfigError(f"{where}.run]: unknown key {unknown[0]!r} (known: {known})")
    mode = run.get(MODE_KEY, AUTO)
    if mode not in MODES:
        raise ConfigError(f"{where}.run].{MODE_KEY} must be one of {', '.join(MODES)}")
    parsed: dict[str, tuple[str, ...]] = {}
    for name, reqs in envs.items():
        if not isinstance(reqs, list) or not all(isinstance(r, str) and r.strip() for r in reqs):
            raise ConfigError(f"{where}.envs].{name} must be a list of requirement strings")
        parsed[name] = tuple(reqs)
    default = run.get("default-env")
    if default is not None and (not isinstance(default, str) or default not in parsed):
        known = ", ".join(sorted(parsed)) or "none configured"
        raise ConfigError(
            f"{where}.run].default-env {default!r} is not an env in "
            f"[tool.skill-audit.envs] ({known})"
        )
    return Project(pyproject=pyproject, default_env=default, envs=parsed, python_blocks=mode)
