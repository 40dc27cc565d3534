"""EV: eval files a skill ships, in the formats Anthropic's skill-creator reads.

Two kinds of file live at the top of a skill's `evals/` folder:
  * `evals/evals.json`: outcome evals (`skill_name`, `evals[]` of id, prompt, expected_output,
    files, expectations), see skills/skill-creator/references/schemas.md;
  * trigger sets: any other `evals/*.json` whose top level is a list (or whose name says
    trigger / eval_set), the `[{"query", "should_trigger"}]` lists `run_eval.py` reads.
Files deeper down (e.g. `evals/files/`) are eval inputs and are never checked.

Files are read once per skill (`load_eval_files`, a fact shared by the checks); each `@check`
function below holds its code's whole decision.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from skill_audit.diagnostics import Hit, Severity
from skill_audit.model import Skill, per_skill, read_text
from skill_audit.registry import check

EVALS_DIR = "evals"
EVALS_FILE = "evals.json"
TRIGGER_NAME_HINTS = ("trigger", "eval_set", "eval-set")
SCHEMAS = {"evals": "skill-creator-evals.json", "trigger-set": "trigger-set.json"}

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    path: Path
    line: int
    column: int
    message: str


@dataclass
class EvalFile:
    path: Path
    kind: str  # "evals", "trigger-set" or "other" (a JSON file these checks leave alone)
    data: object = None
    error: Problem | None = None  # why the file could not be read or parsed
    text: str = ""
    positions: dict[JsonPath, int] = field(default_factory=dict)  # JSON path -> offset

    @property
    def ok(self) -> bool:
        return self.error is None

    def at(self, json_path: JsonPath, message: str) -> Problem:
        """A problem at the value `json_path` points to (its nearest located parent)."""
        path = tuple(json_path)
        while path and path not in self.positions:
            path = path[:-1]
        offset = self.positions.get(path, 0)
        line = self.text.count("\n", 0, offset) + 1
        column = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return Problem(self.path, line, column, message)


def load_eval_files(root: Path, max_bytes: int) -> list[EvalFile]:
    """Every `*.json` directly inside `root/evals/`, read and parsed once."""
    folder = Path(root) / EVALS_DIR
    try:
        names = sorted(e.name for e in os.scandir(folder) if e.name.endswith(".json"))
    except OSError:
        return []
    files = []
    for name in names:
        path = folder / name
        text, load_error = read_text(path, max_bytes)
        if load_error is not None:
            files.append(
                EvalFile(
                    path,
                    _kind(name, None),
                    error=Problem(path, load_error.line, 1, load_error.message),
                )
            )
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            problem = Problem(path, exc.lineno, exc.colno, f"not valid JSON: {exc.msg}")
            files.append(EvalFile(path, _kind(name, None), error=problem, text=text))
            continue
        files.append(EvalFile(path, _kind(name, data), data, None, text, locate_values(text)))
    return files


def _kind(name: str, data: object) -> str:
    if name == EVALS_FILE:
        return "evals"
    if isinstance(data, list) or any(h in name.lower() for h in TRIGGER_NAME_HINTS):
        return "trigger-set"
    return "other"


def locate_values(text: str) -> dict[JsonPath, int]:
    """Offsets of every value in a valid JSON text, keyed by path (("evals", 3, "id") ...).

    The json module keeps no positions, so this walks the (already validated) text once;
    scalars are skipped with the stdlib decoder."""
    decoder = json.JSONDecoder()
    out: dict[JsonPath, int] = {}

    def skip(i: int) -> int:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        return i

    def value(i: int, path: JsonPath) -> int:
        i = skip(i)
        out[path] = i
        opener = text[i]
        if opener not in "[{":
            return decoder.raw_decode(text, i)[1]
        closer = "]" if opener == "[" else "}"
        i = skip(i + 1)
        index = 0
        while text[i] != closer:
            if opener == "{":
                key, i = decoder.raw_decode(text, i)
                i = skip(i) + 1  # the colon
                i = value(i, (*path, key))
            else:
                i = value(i, (*path, index))
                index += 1
            i = skip(i)
            if text[i] == ",":
                i = skip(i + 1)
        return i + 1

    value(0, ())
    return out


def display(json_path: JsonPath) -> str:
    out = ""
    for part in json_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "top level"


@cache
def schema_validator(kind: str):
    from importlib import resources

    from jsonschema import Draft202012Validator  # imported only when a skill ships evals

    text = resources.files("skill_audit.schemas").joinpath(SCHEMAS[kind]).read_text("utf-8")
    return Draft202012Validator(json.loads(text))


_JSON_TYPES = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "boolean": "true or false",
}


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    for kind, words in ((dict, "an object"), (list, "a list"), (str, "a string")):
        if isinstance(value, kind):
            return words
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    return "null"


def _schema_message(error) -> str:
    where = display(tuple(error.absolute_path))
    if error.validator == "required":
        missing = next(iter(k for k in error.validator_value if k not in error.instance), "?")
        return f"{where}: required key `{missing}` is missing"
    if error.validator == "type":
        want = _JSON_TYPES.get(error.validator_value, error.validator_value)
        return f"`{where}` must be {want}, not {_json_type(error.instance)}"
    if error.validator in ("minLength", "minItems"):
        return f"`{where}` must not be empty"
    return f"`{where}`: {error.message[:200]}"


def _cases(f: EvalFile) -> list[tuple[int, dict]]:
    """(index, case) of the well-formed-enough entries of an evals file or trigger set."""
    items = f.data.get("evals") if isinstance(f.data, dict) else f.data
    if not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)]


@per_skill
def _eval_files(skill: Skill) -> list[EvalFile]:
    return load_eval_files(skill.root, skill.config.limits.max_file_bytes)


def _skill_name(skill: Skill) -> str:
    doc = skill.skill_md
    if doc is not None and doc.frontmatter.ok:
        name = doc.frontmatter.data.get("name")
        if isinstance(name, str) and name:
            return name
    return skill.expected_name


def _hit(p: Problem) -> Hit:
    return Hit(p.path, p.line, p.column, p.message)


@check("EV001", "eval-file-unreadable", Severity.ERROR)
def eval_file_unreadable(skill: Skill) -> Iterator[Hit]:
    """A JSON file in `evals/` is not valid JSON (or cannot be read).

    What it does:
        Parses every `*.json` directly inside the skill's `evals/` folder and reports the
        first syntax error at its line and column, or why the file cannot be read
        (not UTF-8, binary, too large).
    Why:
        skill-creator's scripts load these files with `json.loads` and stop with a traceback
        on the first error, so no eval runs at all.
    Example:
        evals/trigger-set.json
        [
          {"query": "fix my celery retries", "should_trigger": true},
        ]
    Fix:
        Remove the trailing comma (JSON allows none) and any comments.
    """
    files = _eval_files(skill)
    # Any JSON file in evals/ that does not parse is reported, whatever it was meant to be.
    for f in files:
        if f.error is not None:
            yield _hit(f.error)


@check("EV002", "eval-schema", Severity.ERROR)
def eval_schema(skill: Skill) -> Iterator[Hit]:
    """`evals/evals.json` or a trigger set breaks the skill-creator schema.

    What it does:
        Validates `evals/evals.json` against the shipped JSON Schema of skill-creator's
        documented fields (`skill_name`; `evals[]` with integer `id`, `prompt`, and optional
        `expected_output`, `files`, `expectations`) and each trigger set against a list of
        `{"query": string, "should_trigger": boolean}`. Extra keys are allowed.
    Why:
        skill-creator reads these fields by name; a string `should_trigger` ("false" is
        truthy) or a missing `query` silently turns an eval into a wrong one or crashes.
    Example:
        {"skill_name": "pdf", "evals": [{"id": "one", "promt": "Fill in form.pdf"}]}
    Fix:
        Use an integer id and the documented key: {"id": 1, "prompt": "Fill in form.pdf"}.
    """
    files = _eval_files(skill)
    for f in files:
        if not f.ok or f.kind not in SCHEMAS:
            continue
        errors = sorted(
            schema_validator(f.kind).iter_errors(f.data),
            key=lambda e: [str(p) for p in e.absolute_path],
        )
        for error in errors:
            yield _hit(f.at(tuple(error.absolute_path), _schema_message(error)))


@check("EV003", "eval-skill-name", Severity.ERROR)
def eval_skill_name(skill: Skill) -> Iterator[Hit]:
    """`skill_name` in `evals/evals.json` is not the skill's frontmatter `name`.

    What it does:
        Compares `skill_name` with the `name` in SKILL.md's frontmatter (or, when that is
        missing, the name the skill is expected to have).
    Why:
        The evals were written for another skill (often copied from a template or left over
        after a rename); graders and benchmarks would file the results under the wrong skill.
    Example:
        SKILL.md: name: async-jobs
        evals/evals.json: {"skill_name": "celery-tasks", ...}
    Fix:
        Set `skill_name` to the frontmatter name.
    """
    files = _eval_files(skill)
    if not any(f.kind == "evals" for f in files):
        return
    skill_name = _skill_name(skill)
    for f in files:
        if f.ok and f.kind == "evals" and isinstance(f.data, dict):
            name = f.data.get("skill_name")
            if isinstance(name, str) and name and name != skill_name:
                yield _hit(
                    f.at(
                        ("skill_name",),
                        f"skill_name `{name}` differs from the skill's name `{skill_name}`",
                    )
                )


@check("EV004", "eval-duplicate", Severity.ERROR)
def eval_duplicate(skill: Skill) -> Iterator[Hit]:
    """Two evals share an `id`, or a trigger set lists the same query twice.

    What it does:
        Reports a repeated `evals[].id` in `evals/evals.json`, and a query repeated in a
        trigger set (compared ignoring case and runs of whitespace).
    Why:
        Results are keyed by eval id and by query text: `run_eval.py` merges the runs of a
        repeated query into one, so the set is smaller than it looks and its score is skewed.
    Example:
        {"id": 3, "prompt": "..."}, {"id": 3, "prompt": "another case"}
    Fix:
        Give every eval its own id; delete or reword the repeated query.
    """
    files = _eval_files(skill)
    for f in files:
        if not f.ok or f.kind not in SCHEMAS:
            continue
        key, label, base = (
            ("id", "eval id", ("evals",)) if f.kind == "evals" else ("query", "query", ())
        )
        first: dict[object, int] = {}
        for index, case in _cases(f):
            value = case.get(key)
            if not isinstance(value, (int, str)) or isinstance(value, bool):
                continue
            norm = " ".join(value.split()).lower() if isinstance(value, str) else value
            where = (*base, index, key)
            if norm in first:
                seen = f.at((*base, first[norm], key), "").line
                yield _hit(f.at(where, f"duplicate {label} {value!r} (first at line {seen})"))
            else:
                first[norm] = index


@check("EV005", "eval-file-missing", Severity.ERROR)
def eval_file_missing(skill: Skill) -> Iterator[Hit]:
    """An eval's `files` entry does not exist in the skill.

    What it does:
        Resolves each `evals[].files` path against the skill's root, as skill-creator does,
        and reports paths that are missing, absolute, or lead outside the skill.
    Why:
        The eval's prompt refers to an input the agent will never see, so the run measures
        nothing; a path outside the skill is not installed with it.
    Example:
        "files": ["evals/files/invoice.pdf"]   (no such file)
    Fix:
        Add the file under the skill (e.g. `evals/files/`) or correct the path.
    """
    files = _eval_files(skill)
    root = Path(skill.root).resolve()
    for f in files:
        if not f.ok or f.kind != "evals":
            continue
        for index, case in _cases(f):
            refs = case.get("files")
            if not isinstance(refs, list):
                continue
            for n, ref in enumerate(refs):
                if not isinstance(ref, str) or not ref:
                    continue
                where = ("evals", index, "files", n)
                target = (root / ref).resolve()
                if Path(ref).is_absolute() or not target.is_relative_to(root):
                    yield _hit(f.at(where, f"`{ref}` points outside the skill; use a path in it"))
                elif not target.is_file():
                    yield _hit(
                        f.at(where, f"`{ref}` does not exist (paths are relative to the skill)")
                    )


@check("EV006", "trigger-set-one-class", Severity.WARNING)
def trigger_set_one_class(skill: Skill) -> Iterator[Hit]:
    """A trigger set has only should-trigger queries, or only should-not-trigger ones.

    What it does:
        Reports a trigger set in `evals/` whose queries all have the same `should_trigger`.
    Why:
        With one class the set measures either recall or false positives, never both: a
        description that loads for everything passes an all-positive set. skill-creator
        asks for a mix, the negatives being near-misses that share words with the skill.
    Example:
        [{"query": "retry my celery task", "should_trigger": true},
         {"query": "celery beat runs twice", "should_trigger": true}]
    Fix:
        Add near-miss queries that should not load the skill (another language's queue,
        a neighbouring tool), marked "should_trigger": false.
    """
    files = _eval_files(skill)
    for f in files:
        if not f.ok or f.kind != "trigger-set":
            continue
        values = (c.get("should_trigger") for _, c in _cases(f))
        classes = {v for v in values if isinstance(v, bool)}  # 1 is not True here (EV002)
        if classes and len(classes) == 1:
            missing = "should_trigger: false" if True in classes else "should_trigger: true"
            yield _hit(f.at((), f"every query has the same class; add queries with {missing}"))
