"""`skill-audit run`: execute a skill's snippets against real services.

    plan.py      PATHS -> markdown files (load_skill(...).docs, as `check`), fences, modes,
                 environments; PlanError = exit 2
    deps.py      dependencies a skill declares: PEP 723 blocks, requirements.txt, pyproject
    config.py    `[tool.skill-audit.run]` / `[tool.skill-audit.envs]` from pyproject.toml
    session.py   services (own Redis, Temporal when needed, or the user's), parallel files,
                 teardown on any ending; `run_session` is the one entry point
    filerun.py   the fences of one markdown file, in order, each to its kind's runner
    blocks.py    one runner per block kind (module, compile-only, foreground, shared, background)
    workspace.py the file's work folder: a private copy of the skill, env vars, outputs
    diagnose.py  the class of each failure and what to do about it
    wrapper.py   the runpy + os._exit wrappers (one block; a shared namespace) and paths
    report.py    text / JSON reports and the progress line
    command.py   the click command
Processes (spawn, readiness, stop, sweep, watchdog) are runtime/processes.py's.

Rules a skill author can rely on: each markdown file gets a fresh work folder holding a
private copy of its skill folder (cwd; the folder and its scripts/ on PYTHONPATH), an empty
Redis database (REDIS_URL = CELERY_BROKER_URL = CELERY_RESULT_BACKEND),
TEMPORAL_ADDRESS when a Temporal server is up, SKILL_AUDIT_RUN_ID (unique per file and run,
for queue names on shared servers), and nothing else from the caller's environment but PATH,
HOME, USER, LOGNAME, LANG, LANGUAGE, LC_*, TZ and `--pass-env` names; TMPDIR/TEMP/TMP point
into the run's own temp root and SKILL_AUDIT_OWNER names the run (for its sweeps).
A `file=` module counts as imported when some later process wrote its bytecode cache.
The Temporal dev server starts only when a selected file needs it: one of its Python blocks
imports temporalio, or one of its envs lists temporalio among its requirements.
"""
