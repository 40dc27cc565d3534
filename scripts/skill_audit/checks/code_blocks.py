"""CS: fenced code blocks. Every fence is classified (see `classify`); none is silently ignored.

python/py/python3 blocks are compiled, json/yaml/toml blocks parsed, shell blocks checked with
`bash -n` (all shell blocks of a batch of skills in one bash process; see `_bash_errors` and
`prepare_shell_check`), and the info
string is checked against the snippet grammar of `skill_audit.snippets.grammar`. Nothing is run.
Errors point at the markdown line: a fence's code line N is file line `fence.code_line + N - 1`.
"""

from __future__ import annotations

import ast
import bisect
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator

import yaml

from skill_audit.diagnostics import Hit, Severity
from skill_audit.facts import DATA_LANGS, fence_kind
from skill_audit.model import MarkdownDoc, Skill, per_skill
from skill_audit.parsing.frontmatter import SAFE_LOADER, yaml_nesting_problem
from skill_audit.registry import Scope, check
from skill_audit.snippets.extract import Fence
from skill_audit.snippets.grammar import Kind, shell_script

_TOML_POS_RE = re.compile(r"\(at line (\d+), column (\d+)\)")
_BASH_LINE_RE = re.compile(r"^/dev/stdin: line (\d+): (.*)$")
_BASH_TIMEOUT = 20.0
_ON_LINE_RE = re.compile(r"\b(on|at) line (\d+)")
_TOP_LEVEL_AWAIT = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


def fences_of(skill, kind: str) -> list[Fence]:
    """The skill's fences of one `classify` kind, file by file in order. An unclosed fence is
    left out of the parse checks: its "code" is the prose it swallowed (CS009 reports it)."""
    return _fences_by_kind(skill).get(kind, [])


@per_skill
def _fences_by_kind(skill) -> dict[str, list[Fence]]:
    """Every fence of the skill by `classify` kind, classified once for all CS checks."""
    out: dict[str, list[Fence]] = {}
    for doc in skill.docs:
        for f in doc.fences:
            kind = fence_kind(f, doc)
            if kind != "unclosed":
                out.setdefault(kind, []).append(f)
    return out


def _last_line(fence: Fence) -> int:
    """File line of the last code line (or of the opening marker for an empty block)."""
    return fence.line + len(fence.code.splitlines())


def _at(fence: Fence, code_lineno: int | None) -> int:
    """Markdown line of the block's code line `code_lineno` (1-based), kept inside the block."""
    lineno = max(1, code_lineno or 1)
    return min(fence.code_line + lineno - 1, max(_last_line(fence), fence.code_line))


# --------------------------------------------------------------------------- python


def python_error(fence: Fence) -> tuple[int, int, str] | None:
    """(file line, column, message) of the first compile error of a python block, else None."""
    error = _compile_error(fence.code)
    if error is None:
        return None
    lineno, offset, msg = error
    # "... statement on line 3", "(detected at line 5)" name block lines; say file lines
    msg = _ON_LINE_RE.sub(lambda m: f"{m.group(1)} line {_at(fence, int(m.group(2)))}", msg)
    return _at(fence, lineno), offset, msg


@functools.lru_cache(maxsize=4096)  # the same block often appears in several files or skills
def _compile_error(code: str) -> tuple[int, int, str] | None:
    """(block line, column, message) of the first compile error, else None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings are style, not breakage
            # Top-level await is how notebooks, IPython and `python -m asyncio` run async
            # snippets, and how most docs show them: compile it as those runners do.
            compile(code, "<block>", "exec", flags=_TOP_LEVEL_AWAIT, dont_inherit=True)
    except SyntaxError as exc:
        return exc.lineno or 1, max(exc.offset or 1, 1), f"{type(exc).__name__}: {exc.msg or ''}"
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        return 1, 1, f"cannot compile: {' '.join(str(exc).split()) or type(exc).__name__}"
    return None


@check("CS001", "python-syntax-error", Severity.ERROR, scope=Scope.FENCE)
def python_syntax_error(fence: Fence, doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """A python block does not compile.

    What it does:
        Compiles every python/py/python3 fence (scripts, `file=` modules and `compile-only`
        blocks; not `partial` ones) with the running interpreter's `compile()`, without
        executing it, and reports the first error at its markdown line.
    Why:
        Agents copy snippets verbatim. A block that does not even compile (lost indentation,
        a stray `...`, a `>>>` prompt, `await` outside a function) teaches broken code.
    Example:
        ```python
        def charge(order_id):
        return gateway.charge(order_id)
        ```
    Fix:
        Make the block valid Python. If it is deliberately a fragment, mark the fence
        `partial="why"` so it is counted but not compiled.
    """
    if fence_kind(fence, doc) != "python":
        return
    err, reason = _error_and_excerpt("python", fence, skill)
    if err and reason is None:
        yield Hit(fence.path, *err)


_MAGIC_RE = re.compile(r"^([ \t]*)[%!][^\n]*$", re.M)
_CODE_PLACEHOLDER_RE = re.compile(r"<[A-Za-z][^<>\n=]{0,60}>")
_SIGNATURE_HEAD_RE = re.compile(r"^(?:[ \t]*\w+[ \t]*=[ \t]*)?[A-Za-z_][\w.]*[ \t]*\(")
_ANNOTATED_PARAM_RE = re.compile(
    r"^[ \t]*(?:\*{0,2}\w+[ \t]*:[ \t]*[\w.\[\]|, ]+(?:[ \t]*=[ \t]*[^,#]+)?,?[ \t]*(?:#.*)?$"
    r"|.*\)[ \t]*->[ \t]*[\w.\[\]|, ]+[ \t]*$)"
)
_PY312_RE = re.compile(
    r"^[ \t]*type[ \t]+\w+(?:\[[^\]]*\])?[ \t]*=|^[ \t]*(?:def|class)[ \t]+\w+\[", re.M
)
# A comment or marker saying the code nearby is wrong on purpose.
_ON_PURPOSE_RE = re.compile(
    r"(?im)(?:#|//|--)[^\n]*\b(?:wrong|bad|incorrect|broken|don'?t|do not|avoid|anti-?pattern|"
    r"problem|error!|syntaxerror|fails?|invalid|vulnerable|unsafe|less clear|before|inefficient|"
    r"may crash|should (?:use|be))\b|(?:#|//)[ \t]*or[ \t]*$|❌|✗|⚠️"
)


def _compiles(code: str) -> bool:
    return _compile_error(code) is None


def python_excerpt_reason(code: str, message: str, block_line: int) -> str | None:
    """Why a python block that does not compile is an excerpt rather than broken code, or
    None: Python 3.12+ syntax on an older checker, an IPython/Jupyter cell, <placeholders>,
    `...` elisions and bodies left out, a function-body excerpt, a documented signature, or
    code marked as wrong on purpose."""
    if sys.version_info < (3, 12) and _PY312_RE.search(code):
        return "Python 3.12+ syntax (type aliases, generic classes); the checker runs older Python"
    if _MAGIC_RE.search(code) and _compiles(_MAGIC_RE.sub(r"\1pass", code)):
        return "an IPython/Jupyter cell (% magics, ! shell escapes)"
    if _CODE_PLACEHOLDER_RE.search(code) and _compiles(_CODE_PLACEHOLDER_RE.sub("_", code)):
        return "an example with <placeholder> values"
    lines = code.split("\n")
    here = lines[block_line - 1] if 0 < block_line <= len(lines) else ""
    near = "\n".join(lines[max(0, block_line - 3) : block_line])
    if "..." in near or "…" in near or _body_left_out(code, lines):
        return "an excerpt with elided parts (`...`, a body left out)"
    if any(w in message for w in ("outside function", "not properly in loop")):
        return "an excerpt of a function or loop body"
    if (
        "unexpected indent" in message
        and code.lstrip("\n")[:1] in (" ", "\t")
        and _body_excerpt_compiles(textwrap.dedent(code))
    ):
        return "an indented excerpt of a larger body"
    if ":" in code and (
        (_SIGNATURE_HEAD_RE.match(code.lstrip("\n")) and _is_signature(code))
        or _ANNOTATED_PARAM_RE.match(here)
    ):
        return "a documented call signature, not a statement"
    window = "\n".join(lines[max(0, block_line - 4) : block_line])
    if _ON_PURPOSE_RE.search(window):
        return "code shown as wrong on purpose (a comment says so)"
    return None


_HEADER_LINE_RE = re.compile(r"expected an indented block after .* on line (\d+)")


def _body_left_out(code: str, lines: list[str]) -> bool:
    """An `expected an indented block` whose header is followed only by comments or blank
    lines up to the error (`def handler():` + `# ...your code`), not by a statement that lost
    its indentation (`def f():` + `return 1`, a real bug)."""
    error = _compile_error(code)
    m = _HEADER_LINE_RE.search(error[2]) if error else None
    if m is None:
        return False
    header, at = int(m.group(1)), error[0]
    between = lines[header : at - 1]
    current = lines[at - 1].strip() if 0 < at <= len(lines) else ""
    if not current or current.startswith("#"):
        return True
    return any(line.strip().startswith("#") for line in between)


def _body_excerpt_compiles(code: str) -> bool:
    """True when `code` compiles, or fails only for being a function or loop body."""
    error = _compile_error(code)
    return error is None or any(w in error[2] for w in ("outside function", "not properly in loop"))


def _is_signature(code: str) -> bool:
    """`func(a: int, b: str = "x") -> bool` (possibly over several lines) as a def header."""
    head = _SIGNATURE_HEAD_RE.match(code.lstrip("\n")).group(0)
    body = code.lstrip("\n")[len(head) :].rstrip()
    return _compiles(f"def _signature({body}:\n    pass\n")


# --------------------------------------------------------------------------- data


class _TaggedLoader(SAFE_LOADER):
    """The safe loader that accepts application tags (`!Ref`, `!GetAtt`, `!Sub`, `!include`,
    `!!python/name`...) as plain values: the YAML is valid, the tag means something only to
    the program that reads it (CloudFormation, Home Assistant, ...)."""


def _any_tag(loader, _suffix, node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


_TaggedLoader.add_multi_constructor("!", _any_tag)
_TaggedLoader.add_multi_constructor("tag:", _any_tag)

# Why a block that does not parse is an excerpt rather than a mistake (CS008), checked in order.
_TEMPLATE_MARK_RE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|<%.*?%>|\$\{\{", re.DOTALL)
_ELISION_RE = re.compile(
    r"(?:^|[\s,\[{(:])(?:\.\.\.|…)(?=$|[\s,\]})])|/\*\s*\.\.\.|//\s*\.\.\.", re.M
)
_PLACEHOLDER_VALUE_RE = re.compile(r"(?<![\w\"])<[A-Za-z][\w .:/-]*>(?![\w\"])")
_JSON_COMMENT_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|(//[^\n]*|/\*.*?\*/|#[^\n]*)', re.DOTALL)
_TRAILING_COMMA_RE = re.compile(r",(\s*[}\]])")


def _parses_as_json(code: str) -> bool:
    try:
        json.loads(code)
    except (ValueError, RecursionError):
        return False
    return True


def _jsonc_ok(code: str) -> bool:
    """True when the block has comments and is JSON once they (// /* */ #) and trailing commas go: JSONC,
    the dialect of VS Code settings, tsconfig and devcontainer files."""
    stripped = _strip_json_comments(code)
    if stripped == code:
        return False  # no comments: a lone trailing comma is the classic JSON mistake (CS002)
    return _parses_as_json(_TRAILING_COMMA_RE.sub(r"\1", stripped))


def _json_fragment_ok(code: str) -> bool:
    """True when the block is the inside of an object or array (`"retries": 3,`)."""
    body = code.strip().rstrip(",")
    if not body or body[0] in "{[":
        return False
    return _parses_as_json("{" + body + "}") or _parses_as_json("[" + body + "]")


def excerpt_reason(fence: Fence) -> str | None:
    """Why a data block that does not parse is an excerpt or another dialect, or None when it
    is simply broken: a template, an elision, a placeholder, JSONC, a fragment."""
    kind = DATA_LANGS[fence.spec.lang]
    code = fence.code
    if _TEMPLATE_MARK_RE.search(code):
        return (
            "a template ({{ ... }}, {% ... %}: Helm, Jinja, GitHub Actions), not plain "
            + kind.upper()
        )
    if _ELISION_RE.search(code):
        return "an excerpt with `...` elisions"
    if _PLACEHOLDER_VALUE_RE.search(code):
        return "an example with <placeholder> values"
    if _UPPER_PLACEHOLDER_RE.search(code) or (kind == "yaml" and _BRACKET_KEY_RE.search(code)):
        return "a template with {PLACEHOLDER} or [placeholder] slots"
    if kind == "json":
        if _jsonc_ok(code):
            return "JSONC (JSON with comments); label it `jsonc`"
        if _json_fragment_ok(code) or _json_fragment_ok(_strip_json_comments(code)):
            return "a fragment of a larger object or array"
        if _json_lines_ok(code):
            return "JSON Lines (one document per line); label it `jsonl`"
        if _json_documents(_strip_json_comments(code)) > 1:
            return "several JSON files shown in one block"
    if kind == "toml" and "twice" in (_data_problem(kind, code) or (0, 0, ""))[2] and "#" in code:
        return "several alternative files or variants in one block"
    return None


_UPPER_PLACEHOLDER_RE = re.compile(r"\{[A-Z][A-Z0-9_]{2,}\}")
_BRACKET_KEY_RE = re.compile(r"^[ \t]*\[[a-z][\w -]*\][ \t]*:", re.M)


def _strip_json_comments(code: str) -> str:
    return _JSON_COMMENT_RE.sub(lambda m: m.group(0) if m.group(1) is None else "", code)


def _json_lines_ok(code: str) -> bool:
    rows = [line for line in code.split("\n") if line.strip()]
    return len(rows) > 1 and all(_parses_as_json(line) for line in rows)


def _json_documents(code: str) -> int:
    """How many JSON documents follow each other in `code` (0 when something else is there):
    `// a.json` + {...} + `// b.json` + {...} is two files shown in one block."""
    decoder = json.JSONDecoder()
    text, pos, count = code.strip(), 0, 0
    try:
        while pos < len(text):
            _, pos = decoder.raw_decode(text, pos)
            count += 1
            while pos < len(text) and text[pos].isspace():
                pos += 1
    except (ValueError, RecursionError):
        return 0
    return count


def data_error(fence: Fence) -> tuple[int, int, str] | None:
    """(file line, column, message) of a json/yaml/toml block that does not parse, else None."""
    problem = _data_problem(DATA_LANGS[fence.spec.lang], fence.code)
    if problem is None:
        return None
    line, col, message = problem
    return _at(fence, line), col, message


@functools.lru_cache(maxsize=4096)
def _data_problem(kind: str, code: str) -> tuple[int, int, str] | None:
    """(block line, column, message) of the first parse error, else None."""
    try:
        if kind == "json":
            json.loads(code)
        elif kind == "toml":
            return _toml_problem(code)
        else:
            too_deep = yaml_nesting_problem(code)
            if too_deep:
                return too_deep[1] + 1, 1, too_deep[0]
            for _ in yaml.load_all(code, Loader=_TaggedLoader):
                pass
    except json.JSONDecodeError as exc:
        return exc.lineno, exc.colno, f"invalid JSON: {exc.msg}"
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        line = mark.line + 1 if mark else 1
        col = mark.column + 1 if mark else 1
        return line, col, f"invalid YAML: {' '.join(problem.split())}"
    except (yaml.YAMLError, RecursionError, ValueError, TypeError, OverflowError) as exc:
        return (
            1,
            1,
            f"invalid {kind.upper()}: {' '.join(str(exc).split()) or type(exc).__name__}",
        )
    return None


def _toml_problem(code: str) -> tuple[int, int, str] | None:
    """`_data_problem` for TOML: its decode errors placed; any other error goes to the caller's
    generic handler."""
    import tomllib  # toml blocks are rare: not a start-up cost of every run

    try:
        tomllib.loads(code)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        pos = _TOML_POS_RE.search(msg)
        line, col = (int(pos.group(1)), int(pos.group(2))) if pos else (1, 1)
        return line, col, f"invalid TOML: {_TOML_POS_RE.sub('', msg).strip()}"
    return None


@check("CS002", "data-block-invalid", Severity.ERROR, scope=Scope.FENCE)
def data_block_invalid(fence: Fence, doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """A json, yaml/yml or toml block does not parse.

    What it does:
        Parses json blocks with `json.loads`, yaml/yml blocks with PyYAML's safe loader (every
        document of a multi-document stream) and toml blocks with `tomllib`, and reports the
        parser's error at its markdown line. `partial="why"` blocks are skipped.
    Why:
        Config examples are pasted into real files; a trailing comma or a tab in YAML breaks
        the reader's deployment, not the author's.
    Example:
        ```json
        {"broker": "redis://localhost:6379/0",}
        ```
    Fix:
        Make the block parse, or mark a deliberate excerpt `partial="why"`.
    """
    if fence_kind(fence, doc) != "data":
        return
    err, reason = _error_and_excerpt("data", fence, skill)
    if err and reason is None:
        yield Hit(fence.path, *err)


@check("CS008", "block-excerpt", Severity.WARNING, scope=Scope.FENCE)
def block_excerpt(fence: Fence, doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """A code block does not parse because it is an excerpt, a template or another dialect.

    What it does:
        For python, shell and data blocks that fail CS001, CS003 or CS002, recognises the
        deliberate cases and reports them as a warning with the reason instead of an error:
        templates (`{{ .Values.x }}`, `{% if %}`, `{PLACEHOLDER}`), `...` elisions and
        left-out bodies, `<placeholder>` values, JSON with comments (JSONC), JSON Lines, JSON
        fragments (`"retries": 3,`), several alternative files in one TOML block, Python
        3.12+ syntax on an older checker, IPython/Jupyter cells (`%pip`), function-body
        excerpts, documented call signatures (`fit(X: ndarray) -> Model`), and code that a
        comment next to it calls wrong on purpose (`# Wrong`, `# Problem`, `❌`).
    Why:
        These blocks read well to people, but an agent that copies one verbatim gets code or
        config its parser rejects; saying what the block is keeps the errors for breakage.
    Example:
        ```json
        {
          // the queue the worker reads
          "queue": "billing"
        }
        ```
    Fix:
        Label the block with its dialect (`jsonc`, `jsonl`, `ipython`, `text`), mark it
        `partial="why"` (skill-audit's snippet grammar), or make it complete.
    """
    kind = fence_kind(fence, doc)
    if kind not in ("python", "data", "shell"):
        return
    err, reason = _error_and_excerpt(kind, fence, skill)
    if err and reason is not None:
        yield Hit(fence.path, err[0], err[1], f"{err[2]} (the block is {reason})")


def _error_and_excerpt(
    kind: str, fence: Fence, skill: Skill
) -> tuple[tuple[int, int, str] | None, str | None]:
    """(first error as (file line, column, message), why the block is a deliberate excerpt)
    of a python, data or shell block; (None, None) when it parses. An error without a reason
    is CS001/CS002/CS003's finding, one with a reason CS008's."""
    if kind == "python":
        err = python_error(fence)
        reason = err and python_excerpt_reason(fence.code, err[2], err[0] - fence.code_line + 1)
    elif kind == "data":
        err = data_error(fence)
        reason = err and excerpt_reason(fence)
    else:
        shell = shell_error(fence, skill)
        err = shell and (shell[0], 1, f"bash -n: {shell[1]}")
        reason = shell and _shell_excerpt_reason(fence.code)
    return err or None, reason or None


# --------------------------------------------------------------------------- shell


@functools.cache
def _bash() -> str | None:
    return shutil.which("bash")


@functools.cache
def _bash_env() -> dict[str, str]:
    """The environment without the variables that make a non-interactive bash source a file."""
    return {k: v for k, v in os.environ.items() if k not in ("BASH_ENV", "ENV")}


# `vercel ls --scope <team-slug>`: an argument the reader fills in, not a redirection. No
# space after `<` or before `>`, so `cmd < in > out`, `<<EOF` and `<(cmd)` are left alone.
_SHELL_PLACEHOLDER_RE = re.compile(r"(?<![<\w$])<[A-Za-z][\w.:/@|=+-]*(?: [\w.-]+)*>(?![>&\w(])")
# bats test files: `@test "name" {` is bats syntax, a function definition to bash.
_BATS_TEST_RE = re.compile(r"""^([ \t]*)@test[ \t]+(?:"[^"\n]*"|'[^'\n]*')[ \t]*\{""", re.M)


def shell_for_parser(script: str) -> str:
    """The script as `bash -n` should judge it: reader-filled `<placeholders>` become words and
    bats `@test` headers become function headers (line count unchanged)."""
    if "<" in script:
        script = _SHELL_PLACEHOLDER_RE.sub("PLACEHOLDER", script)
    if "@test" in script:
        script = _BATS_TEST_RE.sub(r"\1__bats_test() {", script)
    return script


def _script_and_lines(fence: Fence) -> tuple[str, list[int]]:
    """The commands `bash -n` should see and, per script line, the block's 1-based code line
    (console prompts are stripped by the grammar, so lines are re-aligned here)."""
    script, mapping = _prompted_script(fence)
    return shell_for_parser(script), mapping


def _prompted_script(fence: Fence) -> tuple[str, list[int]]:
    script = shell_script(fence.spec.lang, fence.code)
    if script is fence.code or script == fence.code:
        return script, list(range(1, script.count("\n") + 2))
    original = fence.code.splitlines()
    mapping: list[int] = []
    i = 0
    for line in script.splitlines():
        while i < len(original) and original[i] not in (line, "$ " + line):
            i += 1
        mapping.append(min(i, len(original) - 1) + 1 if original else 1)
        i += 1
    return script, mapping


def _seekable(data: bytes):
    """`data` in an unnamed temporary file at offset 0, or None when no temporary folder is
    writable. bash reads a script from a pipe one byte per read() call (it must not read past
    what it consumed) and from a file in blocks: about 10x faster on a batch of blocks."""
    import tempfile  # only runs that reach bash need it

    try:
        file = tempfile.TemporaryFile()  # noqa: SIM115 - returned open, the caller closes it
    except OSError:
        return None
    try:
        file.write(data)
        file.seek(0)
    except OSError:  # a full disk: fall back to the pipe
        file.close()
        return None
    return file


def _run_bash(script: str) -> tuple[int, str]:
    data = script.encode("utf-8", "replace")
    stdin = _seekable(data)
    try:
        proc = subprocess.run(
            [_bash(), "--norc", "--noprofile", "-n", "/dev/stdin"],
            stdin=stdin,
            input=None if stdin is not None else data,
            env=_bash_env(),
            capture_output=True,
            timeout=_BASH_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return 2, f"/dev/stdin: line 1: bash -n did not finish in {_BASH_TIMEOUT:.0f} s"
    except OSError as exc:  # e.g. fork failed: say so on the block rather than crash the run
        return 2, f"/dev/stdin: line 1: could not run bash -n: {exc.strerror or exc}"
    finally:
        if stdin is not None:
            stdin.close()
    return proc.returncode, proc.stderr.decode("utf-8", "replace")


def _first_error(stderr: str) -> tuple[int, str]:
    """(script line, message) of bash's first complaint."""
    for raw in stderr.splitlines():
        m = _BASH_LINE_RE.match(raw)
        if m:
            return int(m.group(1)), m.group(2).strip()
    for raw in stderr.splitlines():
        if raw.strip():  # e.g. "bash: warning: here-document at line 3 delimited by end-of-file"
            msg = (
                raw.split(": ", 1)[-1].strip() if raw.startswith(("bash:", "/dev/stdin:")) else raw
            )
            at = re.search(r"at line (\d+)", msg)
            return (int(at.group(1)) if at else 1), msg
    return 1, "bash -n failed"


# A line made only of simple commands (plain words, * and ? globs, $VAR, simple quotes,
# redirections to a word) joined by && || | ; & (each followed by a blank, so `;&`, `|&` and
# `;;` never match) always passes `bash -n`; such blocks skip the subprocess.
# Deliberately conservative: anything else (braces, parentheses, $(...), keywords, heredocs,
# backquotes...) goes to bash.
_VAR = r"\$(?:\{[A-Za-z_]\w*+\}|[A-Za-z_]\w*+)"
_DQ = rf'"(?:[^"\\`$!]|{_VAR})*+"'
_WORD = rf"""(?:[\w./=:,@%+~^*?-]|{_VAR}|{_DQ}|'[^']*+')++"""  # no [ ]: `a[` parses as an array
_REDIRECT = rf"(?:\d?(?:>>?|<)(?:&\d|[ \t]*{_WORD})|&>>?[ \t]*{_WORD})"
_ITEM = rf"(?:{_REDIRECT}|{_WORD})"
_CMD = rf"{_ITEM}(?:[ \t]+{_ITEM})*"
_SIMPLE_LINE_RE = re.compile(
    rf"^[ \t]*(?:{_CMD}(?:[ \t]*(?:&&|\|\||\||;)[ \t]+{_CMD}|[ \t]+&[ \t]+{_CMD})*(?:[ \t]*[;&])?)?"
    rf"(?:[ \t]+\\)?[ \t]*(?:(?<=[ \t])#.*|^[ \t]*#.*)?$"
)
_RESERVED_RE = re.compile(
    r"(?:^|[ \t;&|])(?:if|then|else|elif|fi|for|while|until|do|done|case|esac|in|function"
    r"|select|time|coproc|\[\[|\]\]|\{|\}|!)(?=[ \t;&|]|$)"
)
_QUOTED_RE = re.compile(r"""'[^']*'|"[^"]*\"""")


def trivially_valid(script: str) -> bool:
    """True when every line is a plain command list that `bash -n` cannot reject."""
    lines = script.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if lines and lines[-1].rstrip().endswith("\\"):
        return False
    for line in lines:
        if not _SIMPLE_LINE_RE.match(line) or _RESERVED_RE.search(_QUOTED_RE.sub("q", line)):
            return False
    return True


def _bash_errors(scripts: list[str]) -> dict[int, tuple[int, str]]:
    """{index: (script line, message)} for scripts that `bash -n` rejects (or warns about).

    Scripts that are `trivially_valid` are not sent. The rest go to ONE bash process, each
    wrapped in its own function body so an unclosed `if`/`{`/`(` fails at its own closing brace
    instead of leaking into the next script. bash stops at the first error; its line names the
    script, which is re-checked alone (exact line, and proof the blame is right) and dropped.
    The batch then runs again without it, starting with the scripts bash has not reached yet
    and ending with those it had: only a fully clean run clears a script (so a quote left open
    by an earlier script cannot hide that script's own error), yet each run starts on new
    text, so a batch with errors costs about two passes over its text, not one per error.
    Blame that does not hold up falls back to bisection. A clean batch costs one process; each
    bad script two more.
    """
    found: dict[int, tuple[int, str]] = {}

    def single(index: int) -> bool:
        rc, err = _run_bash(scripts[index])
        if rc != 0 or err.strip():
            found[index] = _first_error(err)
            return True
        return False

    def visit(indices: list[int]) -> None:
        while indices:
            if len(indices) == 1:
                single(indices[0])
                return
            blamed = _first_failing(scripts, indices)
            if blamed is None:
                return
            if not single(indices[blamed]):  # blame did not hold: search by halves
                mid = len(indices) // 2
                visit(indices[:mid])
                visit(indices[mid:])
                return
            indices = indices[blamed + 1 :] + indices[:blamed]

    todo = [i for i, script in enumerate(scripts) if not trivially_valid(script)]
    if todo and _bash():
        visit(todo)
    return found


def _first_failing(scripts: list[str], indices: list[int]) -> int | None:
    """Position in `indices` of the script bash's first complaint falls in (one `bash -n` run
    over all of them), or None when the run is clean."""
    parts, starts, line = [], [], 1
    for n, i in enumerate(indices):
        body = scripts[i] if scripts[i].endswith("\n") else scripts[i] + "\n"
        starts.append(line + 2)
        # the blank line ends a trailing `\` continuation before the closing brace
        parts.append(f"__skill_audit_block_{n}() {{\n:\n{body}\n}}\n")
        line += 4 + body.count("\n")
    rc, err = _run_bash("".join(parts))
    if rc == 0 and not err.strip():
        return None
    return max(0, bisect.bisect_right(starts, _first_error(err)[0]) - 1)


# bash -n verdict per script text: the first error (script line, message), or None when clean.
# Filled a batch at a time, so one bash process serves many skills.
_bash_verdicts: dict[str, tuple[int, str] | None] = {}


def _judge_scripts(scripts: list[str]) -> None:
    """Run `bash -n` over the scripts without a verdict yet, all in one batch."""
    todo = list(dict.fromkeys(s for s in scripts if s not in _bash_verdicts))
    if not todo:
        return
    if len(_bash_verdicts) > 50_000:  # a long in-process session: keep memory bounded
        _bash_verdicts.clear()
    errors = _bash_errors(todo)
    _bash_verdicts.update((script, errors.get(i)) for i, script in enumerate(todo))


def prepare_shell_check(skills: list) -> None:
    """Judge the shell blocks of every skill of a batch in one go (see registry `prepare`)."""
    _judge_scripts([_script_and_lines(f)[0] for skill in skills for f in fences_of(skill, "shell")])


@check(
    "CS003", "shell-syntax-error", Severity.ERROR, prepare=prepare_shell_check, scope=Scope.FENCE
)
def shell_syntax_error(fence: Fence, doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """A bash/sh/shell/console block fails `bash -n`.

    What it does:
        Runs `bash -n` (parse only, never execute) over every shell block that is not
        `partial`; `console` blocks with `$ ` prompts are checked on their prompted commands
        only. Skipped when no `bash` is on PATH.
    Why:
        An unclosed quote, a missing `fi` or a `\\` continuation followed by a comment breaks
        the command the reader pastes into a terminal or CI file.
    Example:
        ```bash
        if [ -n "$REDIS_URL" ]; then
          celery -A tasks worker
        ```
    Fix:
        Make the block a complete shell script, or mark a deliberate excerpt `partial="why"`.
    """
    if fence_kind(fence, doc) != "shell":
        return
    err, reason = _error_and_excerpt("shell", fence, skill)
    if err and reason is None:
        yield Hit(fence.path, *err)


def shell_error(fence: Fence, skill) -> tuple[int, str] | None:
    """(file line, bash's message) when `bash -n` rejects a shell block, else None."""
    return _shell_errors(skill).get(id(fence))


@per_skill
def _shell_errors(skill) -> dict[int, tuple[int, str]]:
    """id(fence) -> (file line, message) for each shell block of the skill that `bash -n`
    rejects; the skill's blocks are judged together (one `bash -n` run unless prepared)."""
    fences = fences_of(skill, "shell")
    prepared = [_script_and_lines(f) for f in fences]
    _judge_scripts([script for script, _ in prepared])
    out = {}
    for fence, (script, mapping) in zip(fences, prepared, strict=True):
        verdict = _bash_verdicts.get(script)
        if verdict:
            line, message = verdict
            code_line = mapping[min(max(line, 1), len(mapping)) - 1] if mapping else 1
            out[id(fence)] = (_at(fence, code_line), message)
    return out


def _shell_excerpt_reason(code: str) -> str | None:
    """Why a shell block that bash rejects is deliberate: shown wrong on purpose (a comment
    says so, as shellcheck guides do), a template, or an elided excerpt."""
    if _ON_PURPOSE_RE.search(code):
        return "code shown as wrong on purpose (a comment says so)"
    if _TEMPLATE_MARK_RE.search(code):
        return "a template ({{ ... }}, {% ... %})"
    return None


# --------------------------------------------------------------------------- info string


@check("CS004", "fence-info-invalid", Severity.ERROR, scope=Scope.FENCE)
def fence_info_invalid(fence: Fence, doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """A fence's info string breaks the snippet grammar.

    What it does:
        Parses each info string with the snippet grammar shared with `skill-audit run`
        (`skill_audit/snippets/grammar.py`) and reports its errors: an unknown token on a
        python or shell fence, a token given twice, `compile-only` or `partial` without a
        reason, `file=` that is not a module name, `ready=` without `background`, ...
    Why:
        A misspelt token (`expect_fail`, `compile_only`) would otherwise be ignored and the
        block would run, or be skipped, for a reason nobody wrote down.
    Example:
        ```python compile-only
        from django.conf import settings
        ```
    Fix:
        Use the tokens the grammar documents, with a value where one is required:
        `python compile-only="needs a configured Django project"`.
    """
    for error in fence.spec.errors:
        yield Hit(
            fence.path,
            fence.line,
            1,
            f"fence info {fence.info.strip()!r}: {error}",
            _info_error_severity(error),
        )


_UNKNOWN_TOKEN_RE = re.compile(r"unknown token '([^'=]+)")
_GRAMMAR_TOKENS = (
    "file",
    "compile-only",
    "expect-fail",
    "timeout",
    "env",
    "partial",
    "run",
    "background",
    "ready",
)


def _info_error_severity(error: str) -> Severity | None:
    """An unknown token that is no near miss of a grammar token (`theme={null}` copied from a
    docs site, `title="x"`) is another tool's attribute: a warning. A misspelt grammar token
    (`compile_only`, `expect-failure`) stays an error, since it changes what `run` does."""
    import difflib

    m = _UNKNOWN_TOKEN_RE.search(error)
    if m is None:
        return None
    token = m.group(1).lower()
    close = difflib.get_close_matches(token.replace("_", "-"), _GRAMMAR_TOKENS, n=1, cutoff=0.75)
    return None if close else Severity.WARNING


# Content that is code a language tag would let CS001-CS003 check: shell commands with a
# prompt or a common tool first, python/JS statements, JSON objects.
_LOOKS_LIKE_CODE_RE = re.compile(
    r"^[ \t]*(?:\$ |(?:pip|pip3|uv|npm|npx|pnpm|yarn|git|cd|python3?|docker|kubectl|curl|"
    r"celery|export|sudo|brew|apt-get|make|go|cargo)[ \t]|(?:def|class|import|from|async def|"
    r"const|let|return)[ \t][^\n]*[(:=]|function[ \t]+\w+[ \t]*\([^)\n]*\)[ \t]*\{|"
    r"\{[ \t]*\n[ \t]*\"[\w-]+\"[ \t]*:)",
    re.M,
)


@check("CS005", "fence-without-language", Severity.WARNING, scope=Scope.FENCE)
def fence_without_language(fence: Fence, doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """A fenced block that holds code has no language.

    What it does:
        Reports fences with an empty info string (```` ``` ```` alone) whose first line looks
        like code: shell commands (a `$ ` prompt, or pip, git, docker, curl, ... first on a
        line), python or JavaScript statements, a JSON object. Unlabelled prose, program
        output, directory trees and diagrams are not reported: on the public corpus they were
        2,604 of 2,622 unlabelled fences, and `text` would add nothing for them.
    Why:
        Without a language the block can be neither highlighted nor checked, so a broken
        command or config in it goes unnoticed.
    Example:
        ```
        celery -A tasks worker --loglevel=INFO
        ```
    Fix:
        Name the language (`bash`, `python`, `json`, ...).
    """
    if fence_kind(fence, doc) == "unlabelled" and _LOOKS_LIKE_CODE_RE.match(
        fence.code.lstrip("\n")
    ):
        yield Hit(fence.path, fence.line, 1, "fenced block of code has no language")


@check("CS006", "duplicate-module-name", Severity.ERROR, scope=Scope.DOC)
def duplicate_module_name(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """Two `file=` blocks in one markdown file name the same module.

    What it does:
        Within each markdown file, reports every python `file=NAME.py` block whose NAME was
        already used by an earlier block of the same file.
    Why:
        `skill-audit run` writes `file=` blocks into one work folder per markdown file, so the
        later block silently replaces the earlier one and code that imports it gets the wrong
        module.
    Example:
        ```python file=tasks.py
        ...
        ```
        ```python file=tasks.py
        ...
        ```
    Fix:
        Give each module its own name (`tasks_retry.py`), or merge the two blocks.
    """
    first: dict[str, int] = {}
    for fence in doc.fences:
        module = fence.spec.module
        if fence.spec.kind is not Kind.MODULE or not module:
            continue
        if module in first:
            yield Hit(
                fence.path,
                fence.line,
                1,
                f"module {module} is already defined by the block at line {first[module]}",
            )
        else:
            first[module] = fence.line


def _defines_workflow(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for dec in node.decorator_list:
                target = dec.func if isinstance(dec, ast.Call) else dec
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "defn"
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "workflow"
                ):
                    return True
    return False


def _unguarded_asyncio_run(tree: ast.Module) -> ast.Call | None:
    """A top-level `asyncio.run(...)` statement (not under `if __name__ == "__main__":`)."""
    for node in tree.body:
        call = node.value if isinstance(node, (ast.Expr, ast.Assign, ast.AnnAssign)) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "run"
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "asyncio"
        ):
            return call
    return None


@check("CS007", "unguarded-asyncio-run-in-workflow-module", Severity.WARNING, scope=Scope.FENCE)
def unguarded_asyncio_run(fence: Fence, doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """A python block defines a Temporal workflow and calls `asyncio.run()` at top level.

    What it does:
        For python blocks that contain a `@workflow.defn` class, reports a top-level
        `asyncio.run(...)` statement that is not inside `if __name__ == "__main__":`.
    Why:
        Temporal's workflow sandbox re-imports the module that defines the workflow. The
        unguarded `asyncio.run(main())` then runs again inside the worker's event loop and
        fails with "asyncio.run() cannot be called from a running event loop".
    Example:
        ```python
        @workflow.defn
        class Greet: ...
        asyncio.run(main())
        ```
    Fix:
        Put the entry point under `if __name__ == "__main__":`.
    """
    if "workflow.defn" not in fence.code or fence_kind(fence, doc) != "python":
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(fence.code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return  # CS001 reports it
    if _defines_workflow(tree):
        call = _unguarded_asyncio_run(tree)
        if call is not None:
            yield Hit(
                fence.path,
                _at(fence, call.lineno),
                call.col_offset + 1,
                "asyncio.run() at module level in a module that defines a workflow; "
                'guard it with if __name__ == "__main__":',
            )


@check("CS009", "unclosed-fence", Severity.ERROR, scope=Scope.DOC)
def unclosed_fence(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """A code fence is never closed, so it swallows the rest of the file.

    What it does:
        Reports, at its opening line, a fenced block that runs to the end of the file without
        a closing fence of the same character and at least the same length. (A fence closed
        by the end of its list item or quote is valid CommonMark and not reported.)
    Why:
        Everything after the opening fence renders and reads as code: headings, links and the
        instructions below it disappear for the reader, and the other checks see prose as a
        broken code block.
    Example:
        ```bash
        celery -A tasks worker
        ## Next step      <- still inside the block
    Fix:
        Close the block with a line of the same fence characters (```` ``` ````); when the
        block shows a fence itself, open it with more backticks (```` ```` ````).
    """
    if not doc.unclosed_fence_lines:
        return
    last = len(doc.lines) - (1 if doc.lines and doc.lines[-1] == "" else 0)
    by_line = {f.line: f for f in doc.fences}
    for line in doc.unclosed_fence_lines:
        fence = by_line.get(line)
        end = _last_line(fence) if fence is not None else last
        if end >= last:
            rest = (
                f"the rest of the file ({last - line:,} lines) is inside the block"
                if last > line
                else "fences pair up in order, so an earlier block was probably closed "
                "by a line meant to open one (or a block shows a fence with as many "
                "backticks as its own)"
            )
            yield Hit(doc.path, line, 1, f"code fence opened here is never closed: {rest}")
