"""How a Python block runs: a fresh interpreter, the block as a real file, and this wrapper.

The wrapper runs the file with runpy as `__main__`, prints any traceback without its own
frames, flushes, and leaves with `os._exit`: temporalio can crash during interpreter
shutdown after the script succeeded (temporalio/sdk-python#300). `rewrite_paths` then maps
the work-folder file names in any captured output back to the markdown file and line.
"""

from __future__ import annotations

from pathlib import Path

# Shared by both wrappers: run one block and turn its ending into an exit code, printing a
# traceback without the wrapper's own frames.
_EXIT_CODE_OF = r"""
def exit_code_of(run, path):
    try:
        run()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException as exc:
        import traceback  # only when needed: it costs start-up time on every block
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != path:
            tb = tb.tb_next  # drop the wrapper's and runpy's frames
        traceback.print_exception(type(exc), exc, tb)
        return 1
    return 0


def flush_all():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
"""

WRAPPER = (
    "import os, runpy, sys\n"
    + _EXIT_CODE_OF
    + r"""
path = sys.argv[1]
sys.argv = [path]
code = exit_code_of(lambda: runpy.run_path(path, run_name="__main__"), path)
flush_all()
os._exit(code & 0xFF if code >= 0 else 1)
"""
)


def python_command(python: Path, script: Path) -> list[str]:
    return [str(python), "-c", WRAPPER, str(script)]


def rewrite_paths(text: str, mapping: dict[str, str]) -> str:
    """Replace work-folder file names by their markdown file, in tracebacks (`File "X", line
    N`) and warnings (`X:N:`) alike; line numbers already are markdown lines, because every
    written file is padded."""
    for path in sorted(mapping, key=len, reverse=True):
        text = text.replace(path, mapping[path])
    return text


def tail(text: str, lines: int = 20) -> str:
    kept = text.rstrip("\n").splitlines()[-lines:]
    return "\n".join(kept)


# One interpreter for all plain python blocks of a file in shared mode. It reads
# "SCRIPT<TAB>LOG" lines on a request descriptor (stdin stays /dev/null for the blocks),
# runs each script in the same `__main__` namespace with
# stdout/stderr sent to LOG, and answers with the exit code on the status descriptor.
SHARED_WRAPPER = (
    "import os, sys\n"
    + _EXIT_CODE_OF
    + r"""
namespace = {"__name__": "__main__", "__builtins__": __builtins__}
requests = os.fdopen(int(sys.argv[1]))
status = os.fdopen(int(sys.argv[2]), "w")


def exec_in_namespace(path):
    with open(path, encoding="utf-8") as fh:
        exec(compile(fh.read(), path, "exec"), namespace)


for request in requests:
    path, log = request.rstrip("\n").split("\t")
    flush_all()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.argv = [path]
    namespace["__file__"] = path
    code = exit_code_of(lambda: exec_in_namespace(path), path)
    flush_all()
    status.write(f"{code}\n")
    status.flush()
os._exit(0)
"""
)


def shared_command(python: Path, request_fd: int, status_fd: int) -> list[str]:
    return [str(python), "-c", SHARED_WRAPPER, str(request_fd), str(status_fd)]
