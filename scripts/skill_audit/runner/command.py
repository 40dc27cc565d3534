"""`skill-audit run [PATHS]`: execute a skill's snippets against real services.

Exit codes: 0 all passed, 1 some block failed, 2 usage/config/env/service error (one line),
130/143 interrupted by SIGINT/SIGTERM (after a full teardown).
"""

from __future__ import annotations

import signal
import sys
import threading
import time

import click

from skill_audit.runner.filerun import reported
from skill_audit.runner.plan import EnvResolver, PlanError, build_plans, default_jobs, prepare_envs
from skill_audit.runner.report import JsonReport, TextReport
from skill_audit.runner.session import (
    RunOptions,
    ServiceSetupError,
    run_session,
    split_temporal_address,
)
from skill_audit.runtime.envs import EnvError
from skill_audit.runtime.sandbox import SandboxUnavailable, enter_run
from skill_audit.runtime.services import ServiceError


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into the same unwinding as Ctrl-C."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _env_pairs(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not (sep and name and path):
            raise click.UsageError(f"--env expects NAME=PATH, not {value!r}")
        out[name] = path
    return out


@click.command("run")
# exists=True: a missing path is worded exactly as `check` words it
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Report format.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Markdown files run in parallel (default: CPUs, at most 4).",
)
@click.option(
    "--env",
    "env_overrides",
    multiple=True,
    metavar="NAME=PATH",
    help="Use an existing virtualenv for env NAME instead of building it.",
)
@click.option(
    "--pass-env",
    multiple=True,
    metavar="NAME",
    help="Also pass this environment variable to snippets (scrubbed otherwise).",
)
@click.option(
    "--redis-url",
    metavar="URL",
    help="Use this (loopback) Redis instead of starting one; never flushed unless "
    "--allow-flush. Files then run one at a time.",
)
@click.option(
    "--redis-db",
    type=click.IntRange(min=0),
    default=15,
    show_default=True,
    help="The dedicated database used on --redis-url (replaces the URL's own).",
)
@click.option(
    "--allow-flush", is_flag=True, help="FLUSHDB the --redis-db database before each markdown file."
)
@click.option(
    "--temporal-address",
    metavar="HOST:PORT",
    help="Use this (loopback) Temporal server instead of starting a dev server.",
)
@click.option(
    "--fixtures",
    type=click.Path(exists=True, file_okay=False),
    help="A folder copied into every work folder, for blocks that read input files.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    help="Where envs are built (default: .skill-audit/ next to pyproject.toml).",
)
@click.option("--no-sandbox", is_flag=True, help="Run with your network and files (no namespaces).")
@click.option("--require-sandbox", is_flag=True, help="Fail when the sandbox is unavailable.")
def run_command(
    paths,
    fmt,
    jobs,
    env_overrides,
    pass_env,
    redis_url,
    redis_db,
    allow_flush,
    temporal_address,
    fixtures,
    cache_dir,
    no_sandbox,
    require_sandbox,
):
    """Execute the snippets of the skills or markdown files at PATHS (default: .).

    This RUNS THE SKILL'S CODE: Python blocks, `bash run` and `bash background` blocks, in
    fresh processes with a scrubbed environment, against a private Redis and (when needed)
    a Temporal dev server on loopback ports.
    """
    from pathlib import Path

    report = JsonReport() if fmt == "json" else TextReport()
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    else:
        previous = None
    try:
        try:
            if temporal_address:
                split_temporal_address(temporal_address)
            resolver = EnvResolver(
                _env_pairs(env_overrides),
                Path(cache_dir).resolve() if cache_dir else None,
                log=lambda msg: click.echo(msg, err=True),
            )
            plans = build_plans(list(paths) or ["."], resolver)
            prepare_envs(plans, resolver)
            own = "--redis-url" if redis_url else "--temporal-address" if temporal_address else None
            enter_run(plans, disabled=no_sandbox, required=require_sandbox, own_services=own)
            report.planned(sum(reported(f) for plan in plans for f in plan.fences))
            started = time.monotonic()
            results, info = run_session(
                plans,
                resolver,
                RunOptions(
                    jobs=jobs or default_jobs(),
                    redis_url=redis_url,
                    redis_db=redis_db,
                    allow_flush=allow_flush,
                    temporal_address=temporal_address,
                    pass_env=tuple(pass_env),
                    fixtures=Path(fixtures).resolve() if fixtures else None,
                ),
                on_file=report.file_done,
                on_block=report.block_done,
                on_start=report.started,
            )
        except (PlanError, EnvError, ServiceError, ServiceSetupError, SandboxUnavailable) as exc:
            click.echo(f"skill-audit: error: {exc}", err=True)
            sys.exit(2)
        except (OSError, RuntimeError) as exc:  # internal trouble: still one line, exit 2
            click.echo(f"skill-audit: error: run failed: {type(exc).__name__}: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt as exc:
            name = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
            click.echo(f"skill-audit: run interrupted ({name}); all processes stopped", err=True)
            sys.exit(143 if isinstance(exc, Terminated) else 130)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    report.finish(results, info, time.monotonic() - started)
    sys.exit(1 if any(b.status == "FAIL" for r in results for b in r.blocks) else 0)
