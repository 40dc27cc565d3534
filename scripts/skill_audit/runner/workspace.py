"""The work folder of one markdown file: a private copy of the skill folder, the file's
environment variables, the runner's own files, and the captured output of its processes.

The copy makes the skill's own code importable (the folder itself and its scripts/ are on
PYTHONPATH, so `core/` beside SKILL.md or `scripts/helpers.py` import as the author
expects) and its data files readable by relative path, while nothing of the author's can be
changed. `--fixtures DIR` is copied on top, for blocks that read input files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from skill_audit.discovery import SKIP_DIRS, display_path
from skill_audit.runner.wrapper import rewrite_paths
from skill_audit.runtime import processes
from skill_audit.runtime.envs import Env

RUNNER_DIR = ".skill-audit-run"


def copy_skill(src: Path, dest: Path) -> None:
    """Copy the skill folder without tool caches, VCS data or virtualenvs; symlinks stay links
    (a link out of the skill is not followed into the copy)."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in SKIP_DIRS or n == RUNNER_DIR}

    shutil.copytree(src, dest, symlinks=True, ignore=ignore, dirs_exist_ok=True)


@dataclass
class Workspace:
    owner: processes.Owner
    base_env: dict[str, str]  # scrubbed environment plus service addresses
    file_run_id: str
    redis_url: str | None
    skill_root: Path | None
    fixtures: Path | None
    folder: Path = field(init=False)
    mapping: dict[str, str] = field(default_factory=dict)  # written file -> markdown file

    def __post_init__(self) -> None:
        self.folder = self.owner.tempdir("file-").resolve()
        if self.skill_root is not None:
            copy_skill(self.skill_root, self.folder)
            # the skill's own files in a traceback are named as the author knows them
            self.mapping[str(self.folder)] = display_path(self.skill_root)
        if self.fixtures is not None:
            shutil.copytree(self.fixtures, self.folder, symlinks=True, dirs_exist_ok=True)
        self.private.mkdir(exist_ok=True)

    @property
    def private(self) -> Path:
        return self.folder / RUNNER_DIR

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def environ(self, env: Env) -> dict[str, str]:
        out = dict(self.base_env)
        if self.redis_url:
            url = self.redis_url
            out.update(REDIS_URL=url, CELERY_BROKER_URL=url, CELERY_RESULT_BACKEND=url)
        out["SKILL_AUDIT_RUN_ID"] = self.file_run_id
        paths = [self.folder, self.folder / "scripts"]
        out["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths if p.is_dir())
        out["PYTHONUNBUFFERED"] = "1"
        out["PATH"] = os.pathsep.join(
            p for p in (str(env.bin_dir), out.get("PATH", os.defpath)) if p
        )
        if env.executable is None:
            out["VIRTUAL_ENV"] = str(env.root)
        return out

    def spawn(self, cmd: list[str], env: Env, log: Path, **kwargs) -> subprocess.Popen:
        with open(log, "wb") as fh:
            return self.owner.spawn(
                cmd, env=self.environ(env), cwd=self.folder, stdout=fh, **kwargs
            )

    def read(self, log: Path) -> str:
        """A captured output with work-folder paths mapped back to the markdown file."""
        try:
            return self.rewrite(log.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return ""

    def rewrite(self, text: str) -> str:
        """Work-folder file names back to their markdown file (tracebacks `File "X", line N`
        and warnings `X:N:` alike; written files are line-padded, so lines already match)."""
        return rewrite_paths(text, self.mapping)
