"""Suite-wide settings.

Property tests are derandomised when CI is set (GitHub Actions and .ci/run's caller set it), so
a failure there reproduces with the same examples; locally they explore new examples each run.

The heaviest test files run first. `--dist loadfile` hands whole files to workers, and with
`--no-loadscope-reorder` in collection order; xdist's own order puts the files with the most
tests first (the quick parametrised check tests), so the long proof files started last and
stretched the run. Each file below takes over half a minute.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
# Summed test seconds per file, largest first (a timeline of `-n 8` on 2 cores, 2026-12-06).
HEAVIEST_FIRST = (
    "tests/proofs/test_celery_config.py",  # 166 s
    "tests/proofs/test_retry_strategies.py",  # 166 s
    "tests/proofs/test_monitoring_health.py",  # 165 s
    "tests/run/test_dogfood_run.py",  # 162 s
    "tests/proofs/test_arq_patterns.py",  # 110 s
    "tests/run/test_sandbox.py",  # 107 s
    "tests/proofs/test_scheduled_tasks.py",  # 102 s
    "tests/proofs/test_temporal_activities.py",  # 101 s
    "tests/proofs/test_temporal_workflows.py",  # 77 s
    "tests/ship/test_precommit_hook.py",  # 70 s (one try-repo run)
    "tests/ship/test_action.py",  # one pip install (152 s while it ran pip three times)
    "tests/proofs/test_canvas_workflows.py",  # 66 s
    "tests/run/test_kill9.py",  # 56 s
    "tests/proofs/test_result_backends.py",  # 53 s
    "tests/check/test_property.py",  # 44 s
)
_RANK = {path: rank for rank, path in enumerate(HEAVIEST_FIRST)}


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        try:
            rel = Path(item.path).resolve().relative_to(ROOT).as_posix()
        except ValueError:
            return len(_RANK)
        return _RANK.get(rel, len(_RANK))

    items.sort(key=rank)  # stable: tests keep their order inside a file


@pytest.fixture(scope="session")
def repo_export(tmp_path_factory) -> Path:
    """The repository as a clone would have it: tracked and untracked-but-not-ignored files.
    Tests that build the package (pip, uv) build from here: an in-tree setuptools build
    shares build/ with any other build of the work tree, and two at once broke each other."""
    dest = tmp_path_factory.mktemp("export") / "async-jobs-repo"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in files:
        if not raw:
            continue
        rel = Path(raw.decode())
        src = ROOT / rel
        if not src.is_file():
            continue  # deleted in the work tree
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)
    return dest
