"""`python -m skill_audit.runner [PATHS]`: the run command on its own (same as `skill-audit run`)."""

from skill_audit.runner.command import run_command

run_command(prog_name="skill-audit run")
