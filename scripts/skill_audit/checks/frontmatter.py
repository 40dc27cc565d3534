"""FM: the YAML frontmatter of SKILL.md (parse, schema per profile, Claude Code semantics,
portability between YAML consumers)."""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Iterator

import yaml

from skill_audit.diagnostics import Hit, Severity
from skill_audit.model import MarkdownDoc, Skill
from skill_audit.parsing.frontmatter import Frontmatter
from skill_audit.registry import Scope, check
from skill_audit.schemas import known_keys, required_keys, validator

PROSE_KEYS = ("description", "when_to_use", "compatibility", "argument-hint")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_TRIGGER_RE = re.compile(
    r"\b(when|whenever|if you|if the user|use (it |this )?(for|to|on|with|in)|trigger(s|ed)?|"
    r"invoke|asks? (about|for|to)|working (on|with)|before|after)\b",
    re.IGNORECASE,
)


def _flag(value) -> bool | None:
    """A boolean as Claude Code reads it (yes/no/on/off/1/0 accepted since 2.1.218)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _node_at(fm: Frontmatter, path) -> yaml.Node | None:
    """The YAML node of a (key, index, ...) path inside the frontmatter."""
    node = next((e.node for e in fm.entries if e.key == (path[0] if path else None)), None)
    key_node = None
    for part in list(path)[1:]:
        if isinstance(node, yaml.MappingNode):
            pair = next(
                ((k, v) for k, v in node.value if getattr(k, "value", None) == str(part)), None
            )
            if pair is None:
                return key_node or node
            key_node, node = pair
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            key_node, node = None, node.value[part]
        else:
            break
    return key_node or node


def _line_of(fm: Frontmatter, path) -> tuple[int, int]:
    if not path:
        return fm.start_line, 1
    if len(path) == 1:
        entry = next((e for e in fm.entries if e.key == path[0]), None)
        return (entry.line, entry.column) if entry else (fm.start_line, 1)
    node = _node_at(fm, path)
    if node is None:
        return fm.line_of(str(path[0])), 1
    return node.start_mark.line + fm.start_line + 1, node.start_mark.column + 1


def _yaml_type(value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return "a date"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "empty (null)"
    if isinstance(value, str):
        return "a string"
    return f"a YAML {type(value).__name__}"  # e.g. !!set, !!binary


_WANT = {
    "string": "a string",
    "boolean": "a boolean (true/false)",
    "object": "a mapping",
    "array": "a list",
    "integer": "an integer",
    "number": "a number",
}


@check("FM001", "frontmatter-missing", Severity.ERROR)
def frontmatter_missing(skill: Skill) -> Iterator[Hit]:
    """SKILL.md does not start with a `---` YAML frontmatter block.

    What it does:
        Reports a SKILL.md whose first line is not `---`.
    Why:
        Every client reads `name` and `description` from the frontmatter; without it the skill
        is skipped by spec-following clients and listed without a description by Claude Code.
    Example:
        # My skill
        Some text.
    Fix:
        Start the file with a block such as:
            ---
            name: my-skill
            description: What it does. Use when ...
            ---
    """
    doc = skill.skill_md
    if doc is not None and not doc.frontmatter.present:
        first = doc.lines[0] if doc.lines else ""
        hint = (
            " (blank lines before `---` are not allowed)"
            if not first.strip() and "---" in doc.lines[:5]
            else ""
        )
        yield Hit(doc.path, 1, 1, f"SKILL.md has no YAML frontmatter: line 1 must be `---`{hint}")


@check("FM002", "frontmatter-invalid-yaml", Severity.ERROR)
def frontmatter_invalid_yaml(skill: Skill) -> Iterator[Hit]:
    """The frontmatter is not valid YAML (or is refused as unsafe: alias bombs, deep nesting).

    What it does:
        Parses the frontmatter with PyYAML's safe loader and reports the first error at its
        line. An unclosed block, nesting deeper than 64 levels and aliases that expand to more
        than 20,000 nodes are reported here too.
    Why:
        Clients skip a skill whose frontmatter does not parse (Claude Code loads the body with
        empty metadata), so the skill silently stops triggering.
    Example:
        description: Use when: the user asks for jobs
    Fix:
        Quote values that contain `: ` or ` #`, e.g. `description: "Use when: ..."`, and close
        the block with a `---` line.
    """
    doc = skill.skill_md
    if doc is None or not doc.frontmatter.present or not doc.frontmatter.error:
        return
    fm = doc.frontmatter
    message = fm.error
    if "mapping values are not allowed" in message:
        message += (
            "; an unquoted ': ' inside a value: quote the value (strict parsers such as "
            "Codex and pi, and Claude Code before 2.1.69, reject it)"
        )
    yield Hit(doc.path, fm.error_line or 1, 1, message)


@check("FM003", "frontmatter-not-mapping", Severity.ERROR)
def frontmatter_not_mapping(skill: Skill) -> Iterator[Hit]:
    """The frontmatter parses, but to something other than a mapping of keys.

    What it does:
        Reports frontmatter that is empty, a list, or a single scalar.
    Why:
        `name`, `description` and every other field are keys of a mapping; anything else gives
        the skill no metadata at all.
    Example:
        ---
        - name: my-skill
        ---
    Fix:
        Write `key: value` lines at the top level (no leading `- `).
    """
    doc = skill.skill_md
    if (
        doc is None
        or not doc.frontmatter.closed
        or doc.frontmatter.error
        or doc.frontmatter.is_mapping
    ):
        return
    value = doc.frontmatter.value
    what = "empty" if value is None else _yaml_type(value)
    yield Hit(
        doc.path,
        doc.frontmatter.start_line,
        1,
        f"frontmatter must be a mapping of keys, but it is {what}",
    )


@check("FM004", "duplicate-key", Severity.ERROR, scope=Scope.FRONTMATTER)
def duplicate_key(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """A key appears twice in the same frontmatter mapping.

    What it does:
        Finds repeated keys at any depth on the composed YAML tree.
    Why:
        PyYAML silently keeps the last value, other parsers reject the file or keep the first,
        so the same file means different things to different clients.
    Example:
        description: Short text.
        description: Longer text. Use when ...
    Fix:
        Keep one of the two entries.
    """
    fm = doc.frontmatter
    for dup in fm.duplicates:
        yield Hit(
            doc.path,
            dup.line,
            dup.column,
            f"duplicate key `{dup.path}` (first at line {dup.first_line}); PyYAML keeps the last value",
        )


@check("FM005", "frontmatter-schema", Severity.ERROR, scope=Scope.FRONTMATTER)
def frontmatter_schema(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """A frontmatter value breaks the profile's JSON Schema (type, length, pattern, enum).

    What it does:
        Validates the frontmatter against the shipped JSON Schema of the profile
        (`skill-audit schema claude-code` or `agentskills`): `name` pattern and 64-character
        limit, `description` 1-1024 characters, `compatibility` up to 500, `metadata` string to
        string, booleans, and the enums of `effort`, `context` and `shell`.
    Why:
        Values of the wrong type or beyond a limit are rejected by spec validators and
        misread by clients (a list `argument-hint` once crashed Claude Code's UI).
    Example:
        name: My_Skill
        effort: extreme
    Fix:
        Follow the schema: `name: my-skill`, `effort: high`.
    """
    fm = doc.frontmatter
    data = {str(k): v for k, v in fm.data.items()}
    if isinstance(data.get("name"), str):
        data["name"] = normal_name(data["name"])
    errors = sorted(
        validator(skill.config.profile).iter_errors(data),
        key=lambda e: list(map(str, e.absolute_path)),
    )
    # A `required` error per absent key, in the schema's order: the keys come from the schema
    # and the data, not from jsonschema's wording of its message.
    absent = [key for key in required_keys(skill.config.profile) if key not in data]
    for error in errors:
        if error.validator == "additionalProperties" and not error.absolute_path:
            continue  # unknown top-level keys are FM006
        path = list(error.absolute_path)
        if path == ["argument-hint"] and _is_hint_list(error.instance):
            continue  # `argument-hint: [issue-number]`, the form Claude Code's docs show
        line, col = _line_of(fm, path)
        missing = absent.pop(0) if error.validator == "required" and not path and absent else None
        message = _schema_message(error, path, missing)
        if path[:1] == ["metadata"] and error.validator == "type":
            # skills-ref reads the frontmatter with strictyaml (every scalar a string) and
            # does not look inside metadata; no client breaks on it, typed readers differ.
            hint = "quote it" if _is_scalar(error.instance) else "write it as one string"
            yield Hit(
                doc.path,
                line,
                col,
                f"{message}; the spec defines metadata as string to string and typed YAML "
                f"readers see another type: {hint}",
                Severity.WARNING,
            )
            continue
        yield Hit(doc.path, line, col, message)
    name = data.get("name")
    if isinstance(name, str) and name and name != name.lower():
        yield Hit(doc.path, *_line_of(fm, ["name"]), f"`name` {name!r} must be lower-case")


def normal_name(name: str) -> str:
    """A skill name as the spec compares it: NFKC-normalised, surrounding blanks dropped."""
    return unicodedata.normalize("NFKC", name.strip())


def _is_hint_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_scalar(value) -> bool:
    return isinstance(value, (int, float, bool, datetime.date, datetime.datetime))


def _schema_message(error, path, missing: str | None = None) -> str:
    """The finding for one schema error; `missing` names the key of a `required` error."""
    where = ".".join(str(p) for p in path) or "frontmatter"
    value = error.instance
    kind = error.validator
    if kind == "required":
        return f"required key `{missing or error.message}` is missing"
    if kind == "type":
        want = (
            error.validator_value
            if isinstance(error.validator_value, str)
            else error.validator_value[0]
        )
        return f"`{where}` must be {_WANT.get(want, want)}, not {_yaml_type(value)}"
    if kind == "oneOf":
        return f"`{where}` must be a string or a list of strings, not {_yaml_type(value)}"
    if kind == "maxLength":
        return f"`{where}` is {len(value):,} characters; the limit is {error.validator_value:,}"
    if kind == "minLength":
        return f"`{where}` must not be empty"
    if kind == "pattern":
        return (
            f"`{where}` {value!r} must be letters, digits and single hyphens, with no hyphen "
            "at either end"
        )
    if kind == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        return f"`{where}` must be one of {allowed}, not {value!r}"
    return f"`{where}`: {error.message[:200]}"


@check("FM006", "unknown-key", Severity.WARNING, scope=Scope.FRONTMATTER)
def unknown_key(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """A frontmatter key that the profile does not define.

    What it does:
        Reports top-level keys outside the profile's schema: a warning under `claude-code`
        (Claude Code ignores them), an error under `agentskills` (the spec's validators
        reject them).
    Why:
        House keys such as `version`, `author` or `tags` do nothing in any client and make
        `skills-ref validate` and Anthropic's quick_validate fail.
    Example:
        version: 2.0.0
        author: Team
    Fix:
        Move such data under `metadata` with string values (`metadata: {version: "2.0.0"}`
        in block style), or delete it.
    """
    fm = doc.frontmatter
    profile = skill.config.profile
    known = known_keys(profile)
    strict = profile == "agentskills"
    for entry in fm.entries:
        key = str(entry.key)
        if key not in known:
            hint = (
                " (put it under `metadata` as a string)"
                if key in ("version", "author", "tags")
                else ""
            )
            yield Hit(
                doc.path,
                entry.line,
                entry.column,
                f"unknown key `{key}` for profile {profile}{hint}",
                Severity.ERROR if strict else None,
            )


@check("FM007", "name-mismatch", Severity.ERROR, scope=Scope.FRONTMATTER)
def name_mismatch(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """`name` differs from the skill's folder name (or the configured name at a repo root).

    What it does:
        Compares `name` with the folder that holds SKILL.md. For a skill at a repository root
        (SKILL.md beside pyproject.toml) it compares with `[tool.skill-audit] name` instead,
        since a checkout folder can be called anything.
    Why:
        The spec requires the match; installers such as `npx skills add` copy the skill into
        a folder named after `name`, so links and commands that assume the folder name break.
    Example:
        skills/async-jobs/SKILL.md with `name: async-job`
    Fix:
        Rename the folder or the `name` so they agree (or set `[tool.skill-audit] name`).
    """
    fm = doc.frontmatter
    name = fm.data.get("name")
    if isinstance(name, str) and normal_name(name) != normal_name(skill.expected_name):
        from_config = bool(skill.config.name) and skill.expected_name == skill.config.name
        source = "`[tool.skill-audit] name`" if from_config else "the folder name"
        hint = ""
        if not from_config and (skill.root / "pyproject.toml").is_file():
            hint = " (a skill at a repository root: set `name` in [tool.skill-audit] of its pyproject.toml)"
        yield Hit(
            doc.path,
            fm.line_of("name"),
            1,
            f"name `{name}` does not match {source} `{skill.expected_name}`{hint}",
        )


@check("FM008", "unreachable-skill", Severity.ERROR, scope=Scope.FRONTMATTER)
def unreachable_skill(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """Both invocation flags are set, so neither the user nor Claude can invoke the skill.

    What it does:
        Reports `user-invocable: false` together with `disable-model-invocation: true`.
    Why:
        The first hides the skill from the `/` menu, the second stops Claude from loading it;
        together nobody can ever use it (orchestkit's [UNREACHABLE] class).
    Example:
        user-invocable: false
        disable-model-invocation: true
    Fix:
        Remove one of the two flags (usually both: the defaults let both invoke it).
    """
    fm = doc.frontmatter
    if (
        _flag(fm.data.get("user-invocable", True)) is False
        and _flag(fm.data.get("disable-model-invocation", False)) is True
    ):
        yield Hit(
            doc.path,
            fm.line_of("disable-model-invocation"),
            1,
            f"`user-invocable: false` (line {fm.line_of('user-invocable')}) with "
            "`disable-model-invocation: true`: nobody can invoke this skill",
        )


@check("FM009", "agent-without-fork", Severity.WARNING, scope=Scope.FRONTMATTER)
def agent_without_fork(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """`agent` is set but `context` is not `fork`.

    What it does:
        Reports an `agent` key in a skill that does not run in a forked context.
    Why:
        Claude Code only uses `agent` for `context: fork`; elsewhere it is ignored and the
        author's intent (a specialised subagent) silently does not happen.
    Example:
        agent: Explore
    Fix:
        Add `context: fork`, or delete `agent`.
    """
    fm = doc.frontmatter
    if "agent" in fm.data and fm.data.get("context") != "fork":
        yield Hit(doc.path, fm.line_of("agent"), 1, "`agent` has no effect without `context: fork`")


@check("FM010", "listing-truncated", Severity.WARNING, scope=Scope.FRONTMATTER)
def listing_truncated(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """`description` plus `when_to_use` is longer than Claude Code's listing shows.

    What it does:
        Adds the lengths of `description` and `when_to_use` and compares the sum with the
        listing limit (1,536 characters; `[tool.skill-audit.limits] listing-chars`).
    Why:
        Claude Code truncates each skill's entry in the listing it gives the model, so the
        trigger phrases at the end are lost and the skill under-triggers.
    Example:
        a 1,200-character description plus a 500-character when_to_use
    Fix:
        Shorten both; put detail in the body, which loads after the skill is chosen.
    """
    fm = doc.frontmatter
    parts = [fm.data.get(k) for k in ("description", "when_to_use")]
    total = sum(len(p) for p in parts if isinstance(p, str))
    limit = skill.config.limits.listing_chars
    if total > limit:
        yield Hit(
            doc.path,
            fm.line_of("description"),
            1,
            f"description + when_to_use is {total:,} characters; Claude Code truncates the "
            f"listing entry at {limit:,}",
        )


@check("FM011", "description-no-trigger", Severity.WARNING, scope=Scope.FRONTMATTER)
def description_no_trigger(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """The description does not say when to use the skill (or there is no description).

    What it does:
        Looks for a trigger clause ("Use when ...", "when the user ...", "for ... tasks") in
        `description`, or a non-empty `when_to_use`. Under the `claude-code` profile a missing
        description is reported here (under `agentskills` the schema check reports it).
    Why:
        The model picks skills from the description alone; without a "when" it cannot tell
        when this one applies and under-triggers.
    Example:
        description: Celery and ARQ patterns.
    Fix:
        Add the situations: `description: Celery and ARQ patterns. Use when adding background
        jobs, retries or schedules to a Python service.`
    """
    fm = doc.frontmatter
    description = fm.data.get("description")
    if description is None:
        if skill.config.profile == "claude-code":
            yield Hit(
                doc.path,
                fm.start_line,
                1,
                "no `description`: Claude Code falls back to the first paragraph and other "
                "clients skip the skill",
            )
        return
    if not isinstance(description, str):
        return
    when = fm.data.get("when_to_use")
    if isinstance(when, str) and when.strip():
        return
    if not _TRIGGER_RE.search(description):
        yield Hit(
            doc.path,
            fm.line_of("description"),
            1,
            'description has no trigger (e.g. "Use when ..."); the model cannot tell when to load the skill',
        )


@check("FM012", "yaml-portability", Severity.WARNING, scope=Scope.FRONTMATTER)
def yaml_portability(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """Frontmatter YAML that PyYAML accepts but other skill consumers read differently.

    What it does:
        Reports, with the consumers each breaks: flow-style collections (`[a, b]`, `{k: v}`),
        rejected by `skills-ref`/`agentskills validate` (strictyaml); block-scalar
        `description`/`when_to_use` (`|`, `>`), shown as a literal `|` by older Claude Code and
        flagged by skillseal; and a ` #` after a plain prose value, which every YAML parser
        drops as a comment.
    Why:
        A skill is read by several parsers (Claude Code, skills-ref, installers, other agents);
        the portable subset is block style with quoted prose.
    Example:
        tags: [async, jobs]
        description: >-
          Jobs. Use when queueing work # with Celery
    Fix:
        Use block lists (`- item` lines) and a single-line description in double quotes.
    """
    fm = doc.frontmatter
    offset = fm.start_line + 1
    for entry in fm.entries:
        node = entry.node
        if entry.key == "argument-hint":
            continue  # `[issue-number]` is hint text in Claude Code's documented form
        for flow in _flow_nodes(node):
            yield Hit(
                doc.path,
                flow.start_mark.line + offset,
                flow.start_mark.column + 1,
                f"flow-style YAML in `{entry.key}`: skills-ref (`agentskills validate`, strictyaml) "
                "rejects it; use a block list",
            )
        if entry.key not in PROSE_KEYS or not isinstance(node, yaml.ScalarNode):
            continue
        if node.style in ("|", ">"):
            yield Hit(
                doc.path,
                entry.line,
                entry.column,
                f"block scalar `{entry.key}: {node.style}`: older Claude Code showed a literal "
                f"'{node.style}' and skillseal warns; use one quoted line",
            )
        elif not node.style:  # plain (None from PyYAML, "" from libyaml)
            line_index = node.end_mark.line + offset - 1
            tail = (
                doc.lines[line_index][node.end_mark.column :] if line_index < len(doc.lines) else ""
            )
            if tail.lstrip().startswith("#"):
                yield Hit(
                    doc.path,
                    line_index + 1,
                    node.end_mark.column + 1,
                    f"` #` ends the unquoted `{entry.key}`: the rest of the line is a comment "
                    "and is dropped by every YAML parser; quote the value",
                )


def _flow_nodes(node: yaml.Node) -> Iterator[yaml.Node]:
    """Outermost flow-style collections under `node`."""
    stack = [node]
    seen = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (yaml.SequenceNode, yaml.MappingNode)):
            if current.flow_style:
                yield current
                continue
            children = (
                current.value
                if isinstance(current, yaml.SequenceNode)
                else [v for pair in current.value for v in pair]
            )
            stack.extend(reversed(children))


RESERVED_WORDS = ("anthropic", "claude")


@check("FM013", "reserved-word-in-name", Severity.WARNING, scope=Scope.FRONTMATTER)
def reserved_word_in_name(doc: MarkdownDoc, skill: Skill) -> Iterator[Hit]:
    """`name` contains a reserved word (`anthropic`, `claude`).

    What it does:
        Reports a skill name that contains `anthropic` or `claude` as one of its
        hyphen-separated words or inside one.
    Why:
        Anthropic's skill upload (the Claude API and claude.ai) rejects such names, so the
        skill works in Claude Code but cannot be shared through those clients.
    Example:
        name: claude-release-notes
    Fix:
        Name the skill after what it does: `release-notes`.
    """
    fm = doc.frontmatter
    name = fm.data.get("name")
    if not isinstance(name, str):
        return
    hits = [w for w in RESERVED_WORDS if w in normal_name(name).lower()]
    if hits:
        yield Hit(
            doc.path,
            fm.line_of("name"),
            1,
            f"name `{name}` contains the reserved word {hits[0]!r}; Anthropic's skill upload "
            "(Claude API, claude.ai) rejects it",
        )
