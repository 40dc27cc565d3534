"""`[tool.skill-audit]` settings from pyproject.toml, found upward from each skill.

    [tool.skill-audit]
    name = "async-jobs"          # expected skill name when SKILL.md sits beside this file
    profile = "claude-code"      # or "agentskills"
    select = ["FM", "ST001"]     # codes or prefixes; default: every check
    ignore = ["ST002"]
    per-file-ignores = { "references/legacy-*.md" = ["LK"] }   # globs relative to this file

    [tool.skill-audit.limits]
    skill-md-lines = 500
    ...

The table is looked for upward from each skill (or, for `run`, each markdown file): the
closest pyproject.toml holding `[tool.skill-audit]` wins, and the search stops at the folder
holding `.git`, so a repository never picks up settings from a folder around its checkout.
`tool_table` does that search and reads each file once for both commands. The sub-tables
`run` and `envs` belong to `skill-audit run` (validated in `skill_audit.runner.config`) and
are ignored here. Anything else unknown, or a value of the wrong type, is a `ConfigError`
(one line; exit 2).
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from skill_audit.schemas import PROFILES

RUNNER_TABLES = frozenset({"run", "envs"})


class ConfigError(Exception):
    """A bad setting or selector (reported on one line, exit 2)."""


@dataclass(frozen=True)
class Limits:
    """Budgets. Token figures are the validator's offline estimate: ceil(characters / 4)."""

    skill_md_lines: int = 500
    body_tokens: int = 5000
    reference_tokens: int = 10000
    metadata_tokens: int = 100  # name + description, loaded for every skill at startup
    listing_chars: int = 1536  # Claude Code truncates description + when_to_use beyond this
    max_file_bytes: int = 1_000_000  # larger markdown files are not parsed


@dataclass(frozen=True)
class Config:
    name: str | None = None
    profile: str = "claude-code"
    select: tuple[str, ...] | None = None  # None: every check
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    limits: Limits = field(default_factory=Limits)
    external: bool = False  # --external: fetch http(s) links
    source: Path | None = None  # the pyproject.toml this came from

    @property
    def base_dir(self) -> Path | None:
        return self.source.parent if self.source else None

    def ignored_for(self, path: Path) -> tuple[str, ...]:
        """Selectors ignored for one file by per-file-ignores."""
        if not self.per_file_ignores:
            return ()
        base = self.base_dir
        try:
            rel = path.resolve().relative_to(base.resolve()).as_posix() if base else path.name
        except ValueError:
            rel = path.as_posix()
        out: list[str] = []
        for pattern, codes in self.per_file_ignores:
            if fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(path.name, pattern):
                out.extend(codes)
        return tuple(out)


def _limit_key(name: str) -> str:
    return name.replace("_", "-")


LIMIT_KEYS = {_limit_key(f.name): f.name for f in fields(Limits)}


def parse_table(table: Any, source: Path | None = None) -> Config:
    where = f"{source}: [tool.skill-audit]" if source else "[tool.skill-audit]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    values: dict[str, Any] = {"source": source}
    for key, value in table.items():
        if key in RUNNER_TABLES:
            continue
        if key == "name":
            values["name"] = _string(value, f"{where}.name")
        elif key == "profile":
            if value not in PROFILES:
                raise ConfigError(
                    f"{where}.profile must be one of {', '.join(PROFILES)}, not {value!r}"
                )
            values["profile"] = value
        elif key in ("select", "ignore"):
            values[key] = tuple(_selectors(value, f"{where}.{key}"))
        elif key == "per-file-ignores":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.per-file-ignores must be a table of glob = [codes]")
            values["per_file_ignores"] = tuple(
                (str(glob), tuple(_selectors(codes, f"{where}.per-file-ignores[{glob!r}]")))
                for glob, codes in value.items()
            )
        elif key == "limits":
            values["limits"] = _limits(value, f"{where}.limits")
        else:
            raise ConfigError(f"{where}: unknown key {key!r}")
    return Config(**values)


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} must be a non-empty string")
    return value


def _selectors(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of check codes or prefixes")
    return [v.strip().upper() for v in value]


def _limits(value: Any, where: str) -> Limits:
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table")
    kwargs = {}
    for key, number in value.items():
        if key not in LIMIT_KEYS:
            raise ConfigError(
                f"{where}: unknown limit {key!r} (known: {', '.join(sorted(LIMIT_KEYS))})"
            )
        if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
            raise ConfigError(f"{where}.{key} must be a positive integer, not {number!r}")
        kwargs[LIMIT_KEYS[key]] = number
    return Limits(**kwargs)


# resolved folder (a str: this runs for every skill, and Path objects cost more than the
# stat calls) -> what tool_table found for it
_tables: dict[str, tuple[Path | None, dict]] = {}
_configs: dict[Path | None, Config] = {}
_real_parents: dict[str, str] = {}  # folder -> its realpath


def clear_config_cache() -> None:
    """Forget what was read (pyproject files may change between in-process runs)."""
    _tables.clear()
    _configs.clear()
    _real_parents.clear()


def tool_table(start: Path) -> tuple[Path | None, dict]:
    """(pyproject.toml, its `[tool.skill-audit]` table) closest at or above `start` (a folder,
    or a file whose folder is used), stopping at the `.git` folder's owner; (None, {}) if none."""
    start_s = _realpath(os.fspath(start))
    folder = start_s if os.path.isdir(start_s) else os.path.dirname(start_s)
    chain: list[str] = []
    found: tuple[Path | None, dict] = (None, {})
    while True:
        if folder in _tables:
            found = _tables[folder]
            break
        chain.append(folder)
        pyproject = Path(folder, "pyproject.toml")
        table = _read_tool_table(pyproject) if os.path.isfile(pyproject) else None
        if table is not None:
            found = (pyproject, table)
            break
        parent = os.path.dirname(folder)
        if parent == folder or os.path.exists(os.path.join(folder, ".git")):
            break
        folder = parent
    for candidate in chain:
        _tables[candidate] = found
    return found


def _realpath(path: str) -> str:
    """os.path.realpath, resolving each parent folder once per run: sibling skills share
    their parents, and realpath stats every component of every path."""
    if ".." in path.split(os.sep) or os.path.islink(path):  # `..` after a symlink: realpath's
        return os.path.realpath(path)
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    if parent not in _real_parents:
        _real_parents[parent] = os.path.realpath(parent)
    return os.path.join(_real_parents[parent], os.path.basename(path))


def find_config(start: Path) -> Config:
    """The `check` settings in force for a skill folder (defaults when no table is found)."""
    source, table = tool_table(start)
    if source not in _configs:
        _configs[source] = parse_table(table, source) if source else Config()
    return _configs[source]


def _read_tool_table(pyproject: Path) -> dict | None:
    import tomllib

    try:
        with open(pyproject, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{pyproject}: cannot read: {exc.strerror or exc}") from None
    tool = data.get("tool")
    table = tool.get("skill-audit") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.skill-audit] must be a table")
    return table
