"""Why a block failed, in one of a few classes, with what to do about it.

    missing-package  an import of a package the env does not have (named, with where to
                     declare it), or a shell command that is not installed
    earlier-name     a name an earlier block of the file defines (which one, and why it is
                     not there: isolated mode, or that block failed)
    missing-input    a file the block reads that is not in the work folder (--fixtures DIR)
    network          needs the internet or credentials (never given to snippets)
    timeout          ran past its timeout
    error            anything else: a real error in the snippet

Only the block's own output is read; the classes are decided from the last matching line.
"""

from __future__ import annotations

import ast
import re

from skill_audit.runner.plan import SHARED, FilePlan
from skill_audit.runner.results import FAIL, BlockResult
from skill_audit.snippets.extract import Fence
from skill_audit.snippets.grammar import Kind

CATEGORIES = ("missing-package", "earlier-name", "missing-input", "network", "timeout", "error")

_NO_MODULE = re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'")
_NO_COMMAND = re.compile(r"(?:bash: (?:line \d+: )?)?(\S+): command not found")
_NO_NAME = re.compile(r"NameError: name '(\w+)' is not defined")
_NO_FILE = re.compile(
    r"(?:FileNotFoundError|IOError|OSError)\b.*?No such file or directory: '([^']+)'"
)
_NETWORK = re.compile(
    r"Name or service not known|Temporary failure in name resolution|Network is unreachable"
    r"|nodename nor servname|getaddrinfo failed|Max retries exceeded|ConnectTimeout"
    r"|SSLError|AuthenticationError|PermissionDeniedError|401 Unauthorized|403 Forbidden"
    r"|KeyError: '\w*(?:API_KEY|TOKEN|SECRET|PASSWORD)\w*'|api_key|Could not resolve host"
)

# Import names whose distribution is called something else (the common cases).
_DISTRIBUTIONS = {
    "PIL": "pillow",
    "cv2": "opencv-python",
    "yaml": "pyyaml",
    "fitz": "pymupdf",
    "docx": "python-docx",
    "pptx": "python-pptx",
    "sklearn": "scikit-learn",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "pdf2image": "pdf2image",
}


def explain(blocks: list[BlockResult], plan: FilePlan) -> None:
    """Set `category` and `hint` on every failed block of one file."""
    fences = {f.line: f for f in plan.fences}
    by_line = {b.line: b for b in blocks}
    for block in blocks:
        if block.status == FAIL:
            block.category, block.hint = classify(block, plan, fences, by_line)


def classify(block, plan, fences, by_line) -> tuple[str, str | None]:
    text = block.raw_output or block.output
    if block.timed_out:
        return "timeout", "raise timeout=N on the fence if it needs longer"
    if block.reason and block.reason.startswith(("expected a failure", "failed as expected")):
        return "error", None
    found = _last(_NO_MODULE, text)
    if found:
        top = found.split(".")[0]
        if f"/site-packages/{top}/" in text:  # the package is there, the module is not
            return "error", (
                f"`{top}` is installed but has no `{found}`: the snippet was written for "
                "another version; pin the one it needs where the package is declared"
            )
        dist = _DISTRIBUTIONS.get(top, top)
        return "missing-package", f"`{top}` is not installed: {_where_to_declare(plan, dist)}"
    found = _last(_NO_NAME, text)
    if found:
        origin = _defined_earlier(found, block.line, plan, fences)
        if origin is not None:
            return "earlier-name", _earlier_hint(found, origin, plan, by_line)
        return "error", (
            f"`{found}` is defined by no earlier block of the file: an incomplete fragment "
            '(complete it, or mark the fence partial="why")'
        )
    found = _last(_NO_FILE, text)
    if found:
        return (
            "missing-input",
            f"reads `{found}`, which is not in the work folder; give it with "
            "`--fixtures DIR` (copied into each work folder)",
        )
    if _NETWORK.search(text):
        return (
            "network",
            "needs the network or credentials, which snippets never get here; mark the fence "
            'partial="needs network" or pass a variable with --pass-env',
        )
    found = _last(_NO_COMMAND, text)
    if found and block.kind != "python":
        return "missing-package", f"command `{found}` is not installed in the block's env"
    return "error", None


def _last(pattern: re.Pattern, text: str) -> str | None:
    found = pattern.findall(text)
    return found[-1] if found else None


def _where_to_declare(plan: FilePlan, dist: str) -> str:
    if plan.env and plan.env in plan.project.envs:
        return f"add `{dist}` to [tool.skill-audit.envs].{plan.env} in {plan.project.pyproject}"
    return (
        f"declare `{dist}` in requirements.txt beside SKILL.md, or in a PEP 723 "
        "`# /// script` header of the block"
    )


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def defined_names(code: str) -> set[str]:
    """Names a block binds at module level (assignments, imports, defs, loop and with
    targets); names bound inside functions and classes stay there."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
        if isinstance(node, _SCOPES):
            if not isinstance(node, ast.Lambda):
                names.add(node.name)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return names


def _defined_earlier(name: str, line: int, plan: FilePlan, fences: dict[int, Fence]) -> int | None:
    """The line of the nearest earlier python block that defines `name`."""
    for fence in sorted(fences.values(), key=lambda f: -f.line):
        if fence.line >= line or not fence.spec.is_python or fence.spec.kind is not Kind.RUN:
            continue
        if name in defined_names(fence.code):
            return fence.line
    return None


def _earlier_hint(name: str, origin: int, plan: FilePlan, by_line) -> str:
    earlier = by_line.get(origin)
    where = f"`{name}` comes from the block at line {origin}"
    if plan.mode != SHARED:
        return (
            f"{where}, but blocks of this file run in isolation; set `python-blocks: shared` "
            "in its frontmatter so later blocks see earlier names"
        )
    if earlier is not None and earlier.status == FAIL:
        return f"{where}, which failed ({earlier.category or earlier.reason})"
    return f"{where}, whose interpreter ended before this block"
