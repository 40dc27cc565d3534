"""`python -m skill_audit.runtime.watchdog OWNER_ID ROOT`: cleans up after an owner that died.

Started by `processes.Owner` with its stdin on a pipe from the owner; see processes.watch.
"""

import signal
import sys
from pathlib import Path

from skill_audit.runtime.processes import watch

if __name__ == "__main__":
    # Ctrl-C in a terminal reaches the foreground group only, but be sure: we must outlive it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    watch(sys.argv[1], Path(sys.argv[2]), sys.stdin.buffer)
