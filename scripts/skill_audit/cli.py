"""The `skill-audit` command line: check, rules, rule, schema (and run, from the runner).

Exit codes: 0 nothing at or above the fail level; 1 findings at or above it; 2 usage, config
or internal errors (one line on stderr, never a traceback). Heavy modules are imported inside
the commands so `skill-audit check` starts quickly.
"""

from __future__ import annotations

import sys

import click

from skill_audit.reporters import FORMATS
from skill_audit.schemas import PROFILES

SUBCOMMANDS = {"run": "skill_audit.runner.command:run_command"}
# click >= 8.2 raises this for a bare group (8.1 prints the help and exits itself)
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class FatalError(click.ClickException):
    """Config or internal error: one line on stderr, exit 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"skill-audit: error: {_one_line(self.format_message())}", err=True)


class LazyGroup(click.Group):
    """Imports a subcommand's module only when that subcommand is used."""

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(SUBCOMMANDS))

    def get_command(self, ctx, name):
        if name in SUBCOMMANDS and name not in self.commands:
            import importlib

            module, attr = SUBCOMMANDS[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)


def _selectors(values: tuple[str, ...]) -> tuple[str, ...]:
    out = []
    for value in values:
        out.extend(v.strip().upper() for v in value.split(",") if v.strip())
    return tuple(out)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="skill-audit", prog_name="skill-audit")
def cli():
    """Validate Agent Skills (SKILL.md + references/) and run their code snippets."""


@cli.command("check")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, file_okay=True, dir_okay=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", *FORMATS]),
    default="auto",
    show_default=True,
    help="Output format; auto is github inside GitHub Actions, else text.",
)
@click.option(
    "--select",
    multiple=True,
    metavar="CODES",
    help="Only these codes or prefixes (comma-separated; repeatable).",
)
@click.option("--ignore", multiple=True, metavar="CODES", help="Skip these codes or prefixes.")
@click.option(
    "--profile",
    type=click.Choice(PROFILES),
    default=None,
    help="Frontmatter profile (default: config, else claude-code).",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning"]),
    default="error",
    show_default=True,
    help="Lowest severity that makes the exit code 1.",
)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings reach the fail level.")
@click.option(
    "--external", is_flag=True, help="Also fetch http(s) links (with timeouts and a cache)."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the report to this file instead of stdout.",
)
@click.option(
    "--statistics",
    is_flag=True,
    help="Text format: print a count per code instead of every finding.",
)
@click.option(
    "-q", "--quiet", is_flag=True, help="Text format: print the findings only, no summary."
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: all cores).",
)
def check_command(
    paths,
    fmt,
    select,
    ignore,
    profile,
    fail_on,
    exit_zero,
    external,
    output,
    jobs,
    statistics,
    quiet,
):
    """Check skills statically (never runs code). PATHS default to the current folder.

    Each skill uses the closest [tool.skill-audit] in a pyproject.toml at or above it;
    --select replaces its `select`, --ignore adds to its `ignore`.
    """
    from pathlib import Path

    from skill_audit.config import ConfigError
    from skill_audit.diagnostics import Severity
    from skill_audit.engine import Options, run_check
    from skill_audit.reporters import render

    options = Options(
        profile=profile,
        select=_selectors(select) or None,
        ignore=_selectors(ignore),
        external=external,
        jobs=jobs,
    )
    from skill_audit.discovery import NoSkillError

    try:
        report = run_check([Path(p) for p in paths or (".",)], options)
        text = render(report, fmt, statistics=statistics, quiet=quiet)
    except (ConfigError, NoSkillError) as exc:
        raise FatalError(str(exc)) from None
    except Exception as exc:  # never a traceback
        raise FatalError(f"internal error: {type(exc).__name__}: {exc}") from None
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise FatalError(f"cannot write {output}: {exc.strerror or exc}") from None
    else:
        click.echo(text, nl=False)
    for message in report.internal_errors:
        click.echo(f"skill-audit: {message}", err=True)
    if report.internal_errors:
        sys.exit(2)
    level = Severity.WARNING if fail_on == "warning" else Severity.ERROR
    failed = any(d.severity >= level for d in report.diagnostics)
    sys.exit(1 if failed and not exit_zero else 0)


@cli.command("rules")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="markdown prints the full catalogue (docs/checks.md).",
)
def rules_command(fmt):
    """List every check: code, name, default severity and summary."""
    from skill_audit.registry import FAMILIES, catalog_markdown, load_checks

    checks = load_checks()
    if fmt == "markdown":
        click.echo(catalog_markdown(), nl=False)
        return
    if fmt == "json":
        import json

        click.echo(
            json.dumps(
                [
                    {
                        "code": s.code,
                        "name": s.name,
                        "severity": s.severity.label,
                        "family": FAMILIES[s.family],
                        "scope": s.scope.value,
                        "summary": s.summary,
                    }
                    for s in sorted(checks.values(), key=lambda s: s.code)
                ],
                indent=2,
            )
        )
        return
    width = max((len(s.name) for s in checks.values()), default=10)
    for code in sorted(checks):
        spec = checks[code]
        click.echo(
            f"{code}  {spec.name:<{width}}  {spec.severity.label:<7}  "
            f"{spec.scope.value:<11}  {spec.summary}"
        )


@cli.command("rule")
@click.argument("code")
def rule_command(code):
    """Explain one check: what it does, why, an example and the fix."""
    from skill_audit.registry import FAMILIES, load_checks

    checks = load_checks()
    spec = checks.get(code.upper()) or next(
        (s for s in checks.values() if s.name == code.lower()), None
    )
    if spec is None:
        raise click.UsageError(f"unknown check {code!r}; see `skill-audit rules`")
    click.echo(f"{spec.code} {spec.name} ({spec.severity.label}; {FAMILIES[spec.family]})\n")
    click.echo(spec.summary + "\n")
    for title, body in spec.sections().items():
        click.echo(f"{title}:")
        click.echo("\n".join(f"    {line}" if line else "" for line in body.splitlines()))
        click.echo()
    path, line = spec.source()
    click.echo(f"Source: {path}:{line} ({spec.func.__name__}, scope {spec.scope.value})")


@cli.command("schema")
@click.argument("name", type=click.Choice(PROFILES))
def schema_command(name):
    """Print the JSON Schema of a frontmatter profile."""
    from skill_audit.schemas import schema_text

    click.echo(schema_text(name), nl=False)


def main(argv=None) -> int:
    """Console entry point; returns the exit code. Every error is one line on stderr: usage
    errors (exit 2) too, instead of click's three-line usage block."""
    try:
        cli.main(args=argv, prog_name="skill-audit", standalone_mode=False)
    except _NO_ARGS_IS_HELP as exc:  # bare `skill-audit`: the help, as click shows it
        exc.show()
        return exc.exit_code
    except click.ClickException as exc:  # usage errors, FatalError
        click.echo(f"skill-audit: error: {_one_line(exc.format_message())}", err=True)
        return exc.exit_code
    except click.Abort:  # Ctrl-C at a prompt
        click.echo("skill-audit: aborted", err=True)
        return 1
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    except Exception as exc:  # a bug must still end in one line and exit 2, not a traceback
        click.echo(f"skill-audit: internal error: {type(exc).__name__}: {exc}", err=True)
        return 2
    return 0


def _one_line(message: str) -> str:
    return " ".join(message.split())
