"""`python -m skill_audit.runner [PATHS]`: the run command on its own (same as `skill-audit run`)."""

import sys

from skill_audit.cli import main

raise SystemExit(main(["run", *sys.argv[1:]]))
