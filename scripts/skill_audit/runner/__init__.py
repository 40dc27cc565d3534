"""`skill-audit run`: execute a skill's snippets against real services.

    plan.py      PATHS -> markdown files, their fences and environments; PlanError = exit 2
    config.py    `[tool.skill-audit.run]` / `[tool.skill-audit.envs]` from pyproject.toml
    session.py   services (own Redis, Temporal when needed, or the user's), parallel files,
                 teardown on any ending
    filerun.py   the fences of one markdown file, in order, in one work folder
    wrapper.py   the runpy + os._exit wrapper and traceback path rewriting
    procs.py     process-group tracking and the final sweep by run id
    report.py    text / JSON reports and the progress line
    command.py   the click command

Rules a skill author can rely on: each markdown file gets a fresh work folder (cwd and
PYTHONPATH), an empty Redis database (REDIS_URL = CELERY_BROKER_URL = CELERY_RESULT_BACKEND),
TEMPORAL_ADDRESS when a Temporal server is up, SKILL_AUDIT_RUN_ID (unique per file and run,
for queue names on shared servers), and nothing else from the caller's environment but PATH,
HOME, USER, LOGNAME, LANG, LANGUAGE, LC_*, TZ, TMPDIR/TEMP/TMP and `--pass-env` names.
A `file=` module counts as imported when some later process wrote its bytecode cache.
The Temporal dev server starts only when a selected file needs it: one of its Python blocks
imports temporalio, or one of its envs lists temporalio among its requirements.
"""
