"""`skill-audit run` (placeholder until the runner lands)."""

import click


@click.command("run")
@click.argument("paths", nargs=-1)
def run_command(paths):
    """Execute a skill's snippets against real services."""
    raise click.ClickException("skill-audit run is not implemented yet")
