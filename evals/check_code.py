"""Static checks for code an agent wrote while running an async-jobs eval.

    python evals/check_code.py OUT_DIR --check acks-late --check idempotency-guard
    python evals/check_code.py OUT_DIR --eval 1     # the checks eval 1 tags in evals.json
    python evals/check_code.py --list               # every check and what it covers

An expectation in evals/evals.json that code can decide ends with a tag such as
`[check_code: acks-late, idempotency-guard]`; `--eval N` runs exactly the tagged checks.
The checks read the Python files' syntax trees (nothing is imported or run), so they prove
the pattern is present, not that it behaves; the rule files' proof tests cover behaviour.
Exit status: 0 all passed, 1 a check failed, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

EVALS_JSON = Path(__file__).resolve().parent / "evals.json"
TAG = re.compile(r"\[check_code:\s*([a-z0-9, -]+)\]")


@dataclass(frozen=True)
class Source:
    path: Path
    tree: ast.Module


@dataclass(frozen=True)
class Outcome:
    passed: bool
    detail: str


def dotted(node: ast.AST) -> str:
    """`a.b.c` for a Name/Attribute chain, '' for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return ""


def calls(sources: list[Source]) -> Iterator[tuple[Source, ast.Call]]:
    for src in sources:
        for node in ast.walk(src.tree):
            if isinstance(node, ast.Call):
                yield src, node


def kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and bool(node.value) and node.value is not None


def at(src: Source, node: ast.AST) -> str:
    return f"{src.path}:{getattr(node, 'lineno', 0)}"


def callee_tail(call: ast.Call) -> str:
    return dotted(call.func).rsplit(".", 1)[-1]


def config_true(sources: list[Source], key: str) -> str | None:
    """Where `key` is set truthy: a keyword, `conf.key = True` or a `{"key": True}` entry."""
    for src in sources:
        for node in ast.walk(src.tree):
            if isinstance(node, ast.Call) and is_true(kw(node, key)):
                return at(src, node)
            if (
                isinstance(node, ast.Assign)
                and is_true(node.value)
                and any(dotted(t).endswith(key) for t in node.targets)
            ):
                return at(src, node)
            if isinstance(node, ast.Dict):
                for k, v in zip(node.keys, node.values, strict=True):
                    if isinstance(k, ast.Constant) and k.value == key and is_true(v):
                        return at(src, node)
    return None


def check_acks_late(sources: list[Source]) -> Outcome:
    where = config_true(sources, "acks_late") or config_true(sources, "task_acks_late")
    if where:
        return Outcome(True, f"acks_late set at {where}")
    return Outcome(False, "no task or app sets acks_late / task_acks_late to True")


def check_idempotency_guard(sources: list[Source]) -> Outcome:
    # A bare `SET key 1 NX` before the effect is not enough: with acks_late, a worker that dies
    # after the claim leaves the key, and the redelivered task skips the work. The claim must
    # store who claimed it (the task id), or the dedupe must sit with the effect itself.
    for src, call in calls(sources):
        tail = callee_tail(call)
        if tail == "set" and is_true(kw(call, "nx")):
            stored = call.args[1] if len(call.args) > 1 else kw(call, "value")
            names = {dotted(n) for n in ast.walk(stored)} if stored is not None else set()
            if any(n.endswith(("request.id", "task_id")) for n in names):
                return Outcome(True, f"SET NX claim holding the task id at {at(src, call)}")
        if tail in {"get_or_create", "on_conflict_do_nothing"}:
            return Outcome(True, f"{tail} dedupe at {at(src, call)}")
        if any(k.arg and "idempotency" in k.arg.lower() for k in call.keywords):
            return Outcome(True, f"idempotency key passed at {at(src, call)}")
    return Outcome(
        False,
        "no idempotency key passed on, no get_or_create / unique insert, "
        "and no SET NX claim that stores the task id",
    )


def check_bounded_retries(sources: list[Source]) -> Outcome:
    seen = ""
    for src, call in calls(sources):
        tail = callee_tail(call)
        if "max_retries" in {k.arg for k in call.keywords}:
            value = kw(call, "max_retries")
            if isinstance(value, ast.Constant) and value.value is None:
                return Outcome(False, f"max_retries=None retries forever at {at(src, call)}")
            seen = seen or at(src, call)
        retry_kwargs = kw(call, "retry_kwargs")
        if isinstance(retry_kwargs, ast.Dict):
            for k, v in zip(retry_kwargs.keys, retry_kwargs.values, strict=True):
                if isinstance(k, ast.Constant) and k.value == "max_retries":
                    if isinstance(v, ast.Constant) and v.value is None:
                        return Outcome(False, f"max_retries None at {at(src, call)}")
                    seen = seen or at(src, call)
        auto = kw(call, "autoretry_for")
        if isinstance(auto, ast.Tuple | ast.List):
            broad = [dotted(e) for e in auto.elts if dotted(e) in {"Exception", "BaseException"}]
            if broad:
                return Outcome(False, f"autoretry_for={broad[0]} at {at(src, call)}")
        if tail == "RetryPolicy" or kw(call, "max_tries") is not None:
            attempts = kw(call, "maximum_attempts")
            if tail == "RetryPolicy" and not (
                isinstance(attempts, ast.Constant) and isinstance(attempts.value, int)
            ):
                continue
            if isinstance(attempts, ast.Constant) and attempts.value == 0:
                return Outcome(False, f"maximum_attempts=0 is unlimited at {at(src, call)}")
            seen = seen or at(src, call)
    for src in sources:
        for node in ast.walk(src.tree):
            if isinstance(node, ast.Assign) and any(dotted(t) == "max_tries" for t in node.targets):
                seen = seen or at(src, node)
    if seen:
        return Outcome(True, f"retries bounded at {seen}")
    return Outcome(False, "no max_retries / max_tries / RetryPolicy(maximum_attempts=N) found")


def check_retry_backoff(sources: list[Source]) -> Outcome:
    for src, call in calls(sources):
        backoff = kw(call, "retry_backoff")
        if backoff is not None and not (isinstance(backoff, ast.Constant) and not backoff.value):
            return Outcome(True, f"retry_backoff at {at(src, call)}")
        if kw(call, "backoff_coefficient") is not None:
            return Outcome(True, f"backoff_coefficient at {at(src, call)}")
        delay = kw(call, "defer") or kw(call, "countdown")
        if callee_tail(call) in {"Retry", "retry"} and delay is not None:
            # ctx["job_try"] (ARQ) or self.request.retries (Celery) in the delay expression.
            names = {dotted(n) for n in ast.walk(delay)} | {
                n.value
                for n in ast.walk(delay)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            }
            if any("job_try" in n or "retries" in n for n in names):
                return Outcome(True, f"delay grows with the attempt at {at(src, call)}")
    return Outcome(False, "no retry_backoff, backoff_coefficient or attempt-based delay")


def wrapped_in_wait_for(src: Source, target: ast.Call) -> bool:
    for node in ast.walk(src.tree):
        if (
            isinstance(node, ast.Call)
            and dotted(node.func).endswith("wait_for")
            and any(n is target for n in ast.walk(node))
        ):
            return True
    return False


def check_bounded_waits(sources: list[Source]) -> Outcome:
    waits = 0
    for src, call in calls(sources):
        tail = callee_tail(call)
        if tail not in {"get", "result", "join"} or call.args:
            continue
        if not isinstance(call.func, ast.Attribute):
            continue
        waits += 1
        if kw(call, "timeout") is None and not wrapped_in_wait_for(src, call):
            return Outcome(False, f".{tail}() waits without a timeout at {at(src, call)}")
    return Outcome(True, f"{waits} result wait(s), all bounded")


ACTIVITY_CALLS = {"execute_activity", "start_activity", "execute_activity_method"}
CLOSE_TIMEOUTS = {"start_to_close_timeout", "schedule_to_close_timeout"}


def check_activity_timeouts(sources: list[Source]) -> Outcome:
    found = 0
    for src, call in calls(sources):
        if callee_tail(call) in ACTIVITY_CALLS:
            found += 1
            if not CLOSE_TIMEOUTS & {k.arg for k in call.keywords}:
                return Outcome(False, f"activity call without a close timeout at {at(src, call)}")
    if not found:
        return Outcome(False, "no workflow.execute_activity / start_activity call")
    return Outcome(True, f"{found} activity call(s), each with a close timeout")


def check_heartbeat(sources: list[Source]) -> Outcome:
    beats = [at(s, c) for s, c in calls(sources) if dotted(c.func).endswith("activity.heartbeat")]
    timeouts = [
        at(s, c)
        for s, c in calls(sources)
        if callee_tail(c) in ACTIVITY_CALLS and kw(c, "heartbeat_timeout") is not None
    ]
    if beats and timeouts:
        return Outcome(True, f"heartbeat at {beats[0]}, heartbeat_timeout at {timeouts[0]}")
    missing = "activity.heartbeat()" if not beats else "heartbeat_timeout on the activity call"
    return Outcome(False, f"missing {missing}")


NONDETERMINISTIC = re.compile(
    r"^(time\.(time|sleep|monotonic)|datetime(\.datetime)?\.(now|utcnow|today)"
    r"|random\.\w+|uuid\.uuid[14]|requests\.\w+|httpx\.\w+|open|os\.getenv|os\.environ\.get)$"
)


def workflow_classes(src: Source) -> Iterator[ast.ClassDef]:
    for node in ast.walk(src.tree):
        if isinstance(node, ast.ClassDef):
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if dotted(target).endswith("workflow.defn"):
                    yield node


def check_workflow_determinism(sources: list[Source]) -> Outcome:
    classes = 0
    for src in sources:
        for cls in workflow_classes(src):
            classes += 1
            for node in ast.walk(cls):
                if isinstance(node, ast.Call) and NONDETERMINISTIC.match(dotted(node.func)):
                    name = dotted(node.func)
                    return Outcome(False, f"{name}() inside workflow {cls.name} at {at(src, node)}")
    if not classes:
        return Outcome(False, "no @workflow.defn class")
    return Outcome(True, f"{classes} workflow class(es) call no clock, randomness or I/O")


def check_patched(sources: list[Source]) -> Outcome:
    for src, call in calls(sources):
        if callee_tail(call) in {"patched", "deprecate_patch"} and call.args:
            return Outcome(True, f"workflow.{callee_tail(call)} at {at(src, call)}")
    return Outcome(False, "no workflow.patched(...) / deprecate_patch(...) call")


def check_progress_state(sources: list[Source]) -> Outcome:
    for src, call in calls(sources):
        if callee_tail(call) == "update_state" and kw(call, "meta") is not None:
            return Outcome(True, f"update_state(meta=...) at {at(src, call)}")
    return Outcome(False, "no update_state(state=..., meta=...) call")


def check_after_commit(sources: list[Source]) -> Outcome:
    for src, call in calls(sources):
        if callee_tail(call) in {"on_commit", "delay_on_commit", "apply_async_on_commit"}:
            return Outcome(True, f"{callee_tail(call)} at {at(src, call)}")
    return Outcome(False, "the task is enqueued without transaction.on_commit / delay_on_commit")


def check_env_urls(sources: list[Source]) -> Outcome:
    defaults: set[int] = set()
    for _src, call in calls(sources):
        if dotted(call.func) in {"os.environ.get", "os.getenv"}:
            defaults.update(id(a) for a in call.args)
    for src in sources:
        for node in ast.walk(src.tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and re.match(r"(redis|rediss|amqp)://", node.value)
                and id(node) not in defaults
            ):
                return Outcome(False, f"hard-coded service URL at {at(src, node)}")
    return Outcome(True, "service URLs come from the environment")


def check_no_wait_in_task(sources: list[Source]) -> Outcome:
    for src in sources:
        for fn in ast.walk(src.tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            decos = [dotted(d.func if isinstance(d, ast.Call) else d) for d in fn.decorator_list]
            if not any(d.endswith(("task", "shared_task")) for d in decos):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Call) and callee_tail(node) == "get" and not node.args:
                    return Outcome(False, f"task {fn.name} waits on a result at {at(src, node)}")
    return Outcome(True, "no task waits on another task's result")


CHECKS: dict[str, tuple[Callable[[list[Source]], Outcome], str]] = {
    "acks-late": (check_acks_late, "the task (or app) sets acks_late / task_acks_late"),
    "idempotency-guard": (
        check_idempotency_guard,
        "an idempotency key passed on, get_or_create / ON CONFLICT DO NOTHING, "
        "or a SET NX claim that stores the task id",
    ),
    "bounded-retries": (
        check_bounded_retries,
        "retries are bounded (max_retries, max_tries, RetryPolicy.maximum_attempts), "
        "never max_retries=None or autoretry_for=(Exception,)",
    ),
    "retry-backoff": (check_retry_backoff, "retries back off (retry_backoff, coefficient)"),
    "bounded-waits": (check_bounded_waits, "every .get()/.result()/.join() has a timeout"),
    "activity-timeouts": (
        check_activity_timeouts,
        "every activity call sets start_to_close_timeout or schedule_to_close_timeout",
    ),
    "heartbeat": (check_heartbeat, "the activity heartbeats and its call sets heartbeat_timeout"),
    "workflow-determinism": (
        check_workflow_determinism,
        "workflow classes call no clock, random, uuid, file or network API",
    ),
    "patched": (check_patched, "the change is guarded by workflow.patched(...)"),
    "progress-state": (check_progress_state, "progress is reported with update_state(meta=...)"),
    "after-commit": (check_after_commit, "the task is enqueued after the database commit"),
    "env-urls": (check_env_urls, "Redis/broker URLs come from the environment"),
    "no-wait-in-task": (check_no_wait_in_task, "no task calls .get() on another result"),
}


class BadInput(Exception):
    """A one-line reason the input cannot be checked."""


def load_sources(paths: list[Path]) -> list[Source]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.rglob("*.py")))
        elif path.is_file():
            files.append(path)
        else:
            raise BadInput(f"{path}: no such file or directory")
    if not files:
        raise BadInput("no Python files to check")
    sources = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"{file}: cannot read ({exc.__class__.__name__})") from None
        try:
            sources.append(Source(file, ast.parse(text, filename=str(file))))
        except SyntaxError as exc:
            raise BadInput(f"{file}:{exc.lineno}: syntax error: {exc.msg}") from None
    return sources


def checks_for_eval(eval_id: int, evals_json: Path = EVALS_JSON) -> list[str]:
    """The check names an eval's expectations carry in their `[check_code: ...]` tags."""
    try:
        data = json.loads(evals_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"{evals_json}: cannot read evals ({exc.__class__.__name__})") from None
    for case in data.get("evals", []):
        if case.get("id") == eval_id:
            names: list[str] = []
            for text in case.get("expectations", []):
                for match in TAG.finditer(text):
                    names.extend(n.strip() for n in match.group(1).split(",") if n.strip())
            return names
    raise BadInput(f"{evals_json}: no eval with id {eval_id}")


def run(paths: list[Path], names: list[str]) -> dict[str, Outcome]:
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise BadInput(f"unknown check {unknown[0]!r}; see --list")
    sources = load_sources(paths)
    return {name: CHECKS[name][0](sources) for name in names}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Static checks for async-jobs eval outputs.")
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders of generated code")
    parser.add_argument("--check", action="append", default=[], help="a check name (repeatable)")
    parser.add_argument(
        "--eval", type=int, help="run the checks tagged in this eval's expectations"
    )
    parser.add_argument("--list", action="store_true", help="list the checks")
    args = parser.parse_args(argv)
    if args.list:
        for name, (_, what) in CHECKS.items():
            print(f"{name}: {what}")
        return 0
    try:
        names = list(args.check)
        if args.eval is not None:
            names += checks_for_eval(args.eval)
            if not names:
                print(f"eval {args.eval} has no code-checkable expectations; grade it by reading")
                return 0
        if not names:
            raise BadInput("nothing to check: give --check NAME or --eval ID")
        if not args.paths:
            raise BadInput("give the files or folder of generated code to check")
        outcomes = run(args.paths, names)
    except BadInput as exc:
        print(f"check_code: {exc}", file=sys.stderr)
        return 2
    for name, outcome in outcomes.items():
        print(f"{'PASS' if outcome.passed else 'FAIL'} {name}: {outcome.detail}")
    return 0 if all(o.passed for o in outcomes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
