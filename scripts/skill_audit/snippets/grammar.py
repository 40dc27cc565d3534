"""The fence info-string grammar shared by `skill-audit check` and `skill-audit run`.

A fence's info string is the language word followed by space-separated tokens, parsed with
shlex so a value may be quoted: ```` ```python compile-only="needs a Django project" ````.

Python fences (`python`, `py`, `python3`):
  (no token)            run the block as a script in a fresh interpreter; in a file where no
                        fence carries a token, all such blocks run in order in one shared
                        namespace instead (frontmatter `python-blocks: shared|isolated`
                        chooses; see runner/config.py)
  file=NAME.py          write the block into the work folder as module NAME (imported by later
                        blocks and by background workers); compiled, not run on its own
  compile-only="WHY"    compile only; the reason is required (reported as SKIP)
  expect-fail[=TEXT]    run; the block must exit non-zero (and its output must contain TEXT)
  timeout=N             per-block timeout in seconds (default 60)
  env=NAME              run in the named environment instead of the file's default

Shell fences (`bash`, `sh`, `shell`, `console`):
  (no token)            not executed; `check` runs `bash -n` on it
  run                   run it with `bash -e -c` (must exit 0, or non-zero with expect-fail)
  background            start it with `bash -c` as a long-running process (worker, beat,
                        server), stopped with its whole process group at the end of the markdown
                        file; it fails if it exits before then
  ready="TEXT"          with background: wait until TEXT appears in its output
  timeout=N, env=NAME, expect-fail[=TEXT] as for python

Any fence (any language, including json/yaml/toml):
  partial="WHY"         an intentionally partial fragment: not parsed, compiled or run; counted
                        and shown in the summary. The reason is required.

`console` blocks may prefix commands with `$ `; the prompt is stripped before running.
"""

from __future__ import annotations

import enum
import functools
import shlex
from dataclasses import dataclass, field

PYTHON_LANGS = frozenset({"python", "py", "python3"})
SHELL_LANGS = frozenset({"bash", "sh", "shell", "console"})
DEFAULT_TIMEOUT = 60.0

_PYTHON_TOKENS = frozenset({"file", "compile-only", "expect-fail", "timeout", "env", "partial"})
_SHELL_TOKENS = frozenset(
    {"run", "background", "ready", "timeout", "env", "expect-fail", "partial"}
)
_NEEDS_VALUE = frozenset({"file", "compile-only", "timeout", "env", "ready", "partial"})
_FLAG_ONLY = frozenset({"run", "background"})


class Kind(enum.Enum):
    RUN = "run"  # python script, or shell with `run`
    MODULE = "module"  # python file=NAME.py
    COMPILE_ONLY = "compile-only"  # python compile-only="why"
    BACKGROUND = "background"  # shell background
    SHELL_STATIC = "shell"  # shell block that is only syntax-checked
    PARTIAL = "partial"  # partial="why": a fragment, never parsed or run
    OTHER = "other"  # any other language: never executed


@dataclass(frozen=True)
class FenceSpec:
    """What the info string says about one fence."""

    lang: str  # lower-cased language word ("" when the fence has none)
    kind: Kind
    module: str | None = None  # file=NAME.py
    reason: str | None = None  # compile-only or partial reason
    expect_fail: bool = False
    expect_text: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    env: str | None = None
    ready: str | None = None
    errors: tuple[str, ...] = field(default=())  # grammar problems; empty when valid

    @property
    def is_python(self) -> bool:
        return self.lang in PYTHON_LANGS

    @property
    def is_shell(self) -> bool:
        return self.lang in SHELL_LANGS

    @property
    def executes(self) -> bool:
        return self.kind in (Kind.RUN, Kind.BACKGROUND)


# A corpus repeats a few info strings thousands of times, and a FenceSpec is immutable.
@functools.lru_cache(maxsize=1024)
def parse_info(info: str) -> FenceSpec:
    """Parse a fence info string. Never raises: problems are returned in `errors`."""
    info = info.strip()
    try:
        words = shlex.split(info)
    except ValueError as exc:  # unbalanced quotes
        words = info.split()
        lang = words[0].lower() if words else ""
        return FenceSpec(lang=lang, kind=_static_kind(lang), errors=(f"info string: {exc}",))
    if not words:
        return FenceSpec(lang="", kind=Kind.OTHER)
    # Pandoc/MkDocs style `{.python}` or `python title=x` from other tools: keep only the word.
    lang = words[0].lower().strip("{}.")
    tokens = words[1:]
    if lang not in PYTHON_LANGS and lang not in SHELL_LANGS:
        return _other_fence(lang, tokens)

    values, errors = _read_tokens(lang, tokens)
    timeout = _timeout(values, errors)
    module = values.get("file")
    if module is not None and (not module.endswith(".py") or "/" in module or module == ".py"):
        errors.append(f"file= must name a module file like tasks.py, not {module!r}")

    if "partial" in values:
        if len(values) > 1:
            errors.append("partial cannot be combined with other tokens")
        return FenceSpec(
            lang=lang, kind=Kind.PARTIAL, reason=values["partial"], errors=tuple(errors)
        )

    kind = _python_kind(values, errors) if lang in PYTHON_LANGS else _shell_kind(values, errors)
    return FenceSpec(
        lang=lang,
        kind=kind,
        module=module,
        reason=values.get("compile-only"),
        expect_fail="expect-fail" in values,
        expect_text=values.get("expect-fail"),
        timeout=timeout,
        env=values.get("env"),
        ready=values.get("ready"),
        errors=tuple(errors),
    )


def _read_tokens(lang: str, tokens: list[str]) -> tuple[dict[str, str | None], list[str]]:
    """{key: value or None for flags} of the tokens a python/shell fence allows, and errors."""
    allowed = _PYTHON_TOKENS if lang in PYTHON_LANGS else _SHELL_TOKENS
    errors: list[str] = []
    values: dict[str, str | None] = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if key not in allowed:
            errors.append(f"unknown token {token!r} for a {lang} fence")
        elif key in values:
            errors.append(f"token {key!r} given twice")
        elif key in _NEEDS_VALUE and not (sep and value):
            errors.append(f"token {key!r} needs a value ({key}=...)")
        elif key in _FLAG_ONLY and sep:
            errors.append(f"token {key!r} takes no value")
        else:
            values[key] = value if sep else None
    return values, errors


def _timeout(values: dict[str, str | None], errors: list[str]) -> float:
    if "timeout" not in values:
        return DEFAULT_TIMEOUT
    try:
        timeout = float(values["timeout"] or "")
    except ValueError:
        timeout = 0
    if timeout > 0:
        return timeout
    errors.append(f"timeout must be a positive number, not {values['timeout']!r}")
    return DEFAULT_TIMEOUT


def _python_kind(values: dict[str, str | None], errors: list[str]) -> Kind:
    if "file" in values and "compile-only" in values:
        errors.append("file= and compile-only cannot be combined")
    if "compile-only" in values and "expect-fail" in values:
        errors.append("compile-only blocks do not run, so expect-fail means nothing")
    if "file" in values and ("expect-fail" in values or "timeout" in values):
        errors.append("file= blocks are modules and do not run on their own")
    if "file" in values:
        return Kind.MODULE
    return Kind.COMPILE_ONLY if "compile-only" in values else Kind.RUN


def _shell_kind(values: dict[str, str | None], errors: list[str]) -> Kind:
    if "run" in values and "background" in values:
        errors.append("a shell fence is either run or background, not both")
    if "ready" in values and "background" not in values:
        errors.append("ready= only applies to background blocks")
    if "background" in values:
        return Kind.BACKGROUND
    if "run" in values:
        return Kind.RUN
    extra = sorted(set(values) & {"timeout", "env", "expect-fail"})
    if extra:
        errors.append(f"{', '.join(extra)} need run or background")
    return Kind.SHELL_STATIC


def _other_fence(lang: str, tokens: list[str]) -> FenceSpec:
    """Other languages take only `partial="why"`; other tokens are left to other tools."""
    for token in tokens:
        key, sep, value = token.partition("=")
        if key == "partial":
            if not (sep and value):
                return FenceSpec(
                    lang=lang,
                    kind=Kind.OTHER,
                    errors=("token 'partial' needs a value (partial=...)",),
                )
            return FenceSpec(lang=lang, kind=Kind.PARTIAL, reason=value)
    return FenceSpec(lang=lang, kind=Kind.OTHER)


def _static_kind(lang: str) -> Kind:
    if lang in PYTHON_LANGS:
        return Kind.RUN
    if lang in SHELL_LANGS:
        return Kind.SHELL_STATIC
    return Kind.OTHER


def shell_script(lang: str, code: str) -> str:
    """The commands of a shell fence. In a `console` fence with `$ ` prompts, only prompted
    lines (and their backslash continuations) are commands; the rest is shown output."""
    if lang != "console" or not any(line.startswith("$ ") for line in code.splitlines()):
        return code
    lines: list[str] = []
    for line in code.splitlines():
        if line.startswith("$ "):
            lines.append(line[2:])
        elif lines and lines[-1].endswith("\\"):
            lines.append(line)
    return "\n".join(lines) + "\n"
