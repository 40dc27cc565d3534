"""Suite-wide settings.

Property tests are derandomised when CI is set (GitHub Actions and .ci/run's caller set it), so
a failure there reproduces with the same examples; locally they explore new examples each run.

The heaviest test files run first: `--dist loadfile` hands files to workers in collection
order, so a long file collected last (the dogfood run sorts late) would start when the rest
is done and stretch the run; longest-first keeps the tail short.
"""

import os
from pathlib import Path

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
# Measured wall seconds per file, largest first (pytest --durations=0, 2 cores, 2026-12-06).
HEAVIEST_FIRST = (
    "tests/proofs/test_retry_strategies.py",  # 104 s
    "tests/proofs/test_celery_config.py",  # 100 s
    "tests/proofs/test_monitoring_health.py",  # 95 s
    "tests/run/test_dogfood_run.py",  # 93 s
    "tests/ship/test_action.py",  # 69 s
    "tests/proofs/test_temporal_activities.py",  # 68 s
    "tests/proofs/test_arq_patterns.py",  # 65 s
    "tests/proofs/test_scheduled_tasks.py",  # 64 s
    "tests/proofs/test_temporal_workflows.py",  # 55 s
    "tests/proofs/test_canvas_workflows.py",  # 45 s
    "tests/proofs/test_result_backends.py",  # 39 s
    "tests/run/test_kill9.py",  # 37 s
    "tests/ship/test_precommit_hook.py",  # 33 s
    "tests/run/test_sandbox.py",  # 30 s
)
_RANK = {path: rank for rank, path in enumerate(HEAVIEST_FIRST)}


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        rel = Path(item.path).resolve().relative_to(ROOT).as_posix()
        return _RANK.get(rel, len(_RANK))

    items.sort(key=rank)  # stable: tests keep their order inside a file
