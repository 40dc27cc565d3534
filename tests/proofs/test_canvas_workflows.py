"""Proofs for references/canvas-workflows.md against a real Redis and real celery workers.

Every test loads the modules the rule file defines (celery_app.py, order_tasks.py) and starts
the worker with the command of the file's own background block.
"""

from __future__ import annotations

import re
from collections import Counter

from celery_lab import drive_calls, wait_for_output

RULE_FILE = "references/canvas-workflows.md"


def _start(lab, extra_env=None):
    lab.load_markdown(RULE_FILE)
    command, ready = lab.background_command(RULE_FILE)
    return lab.start("celery", command, ready=ready, extra_env=extra_env)


# wait_len returns the list once it holds n items or after `timeout` (the asserts judge it).
PRELUDE = """
    import json, time
    from celery import chain, chord, group
    from celery.result import AsyncResult
    from order_tasks import *

    def wait_len(key, n, timeout=10):
        deadline = time.monotonic() + timeout
        while audit.llen(key) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return [v.decode() for v in audit.lrange(key, 0, -1)]
"""


def _drive(lab, body: str, **kw):
    return drive_calls(lab, PRELUDE, body, **kw)


def test_chain_passes_results_and_si_ignores_them(lab):
    _start(lab)
    out = _drive(
        lab,
        """
        print(json.dumps({
            "s": outcome(lambda: chain(line_total.s("book", 2), add_shipping.s()).apply_async().get(timeout=10)),
            "si": outcome(lambda: chain(line_total.s("book", 2), send_receipt.si("ana@example.com"))
                          .apply_async().get(timeout=10)),
            # .s() with its own argument: the parent's 2400 is prepended, so two arguments arrive
            "s_extra": outcome(lambda: chain(line_total.s("book", 2), send_receipt.s("ana@example.com"))
                               .apply_async().get(timeout=10)),
        }))
    """,
    )
    assert out["s"] == ["ok", 2400 + 499]
    assert out["si"] == ["ok", "receipt sent to ana@example.com"]
    assert out["s_extra"][0] == "TypeError", out


def test_group_then_task_is_an_implicit_chord(lab):
    _start(lab)
    out = _drive(
        lab,
        """
        flow = chain(line_total.s("book", 1), group(add_shipping.s(), add_shipping.s(fee=0)), invoice_total.s())
        print(json.dumps({
            "types": [type(t).__name__ for t in flow.tasks],
            "piped": type(group(line_total.s("book", 1), line_total.s("pen", 1)) | invoice_total.s()).__name__,
            "result": outcome(lambda: flow.apply_async().get(timeout=10)),
            "standalone": outcome(lambda: chord([line_total.s("book", 1), line_total.s("pen", 2)],
                                                invoice_total.s()).apply_async().get(timeout=10)),
        }))
    """,
    )
    assert out["types"] == ["Signature", "_chord"]
    assert out["piped"] == "_chord"
    # Each header task received the parent's 1200 as its first argument.
    assert out["result"] == ["ok", (1200 + 499) + (1200 + 0)]
    # A standalone chord passes nothing into its header: plain .s() header tasks work.
    assert out["standalone"] == ["ok", 1200 + 300]


CHORD_WITH_IGNORED_HEADER = """
    header = [line_total.s("book", 1).set(ignore_result=%s), line_total.s("pen", 1)]
    res = chord(header, invoice_total.s()).apply_async()
    print(json.dumps({
        "result": outcome(lambda: res.get(timeout=3)),
        "priced": wait_len("priced", 2),
        "invoiced": [v.decode() for v in audit.lrange("invoiced", 0, -1)],
    }))
"""


def test_ignored_header_result_stalls_a_polling_chord(lab):
    # A file:// backend has no chord counter, so celery.chord_unlock polls the stored header
    # results, like the database backends do. celery_app.py reads CELERY_RESULT_BACKEND.
    file_backend = {"CELERY_RESULT_BACKEND": f"file://{lab.workdir}/results"}
    (lab.workdir / "results").mkdir()
    worker = _start(lab, extra_env=file_backend)
    stored = _drive(lab, CHORD_WITH_IGNORED_HEADER % "False", extra_env=file_backend)
    assert stored["result"] == ["ok", 1350]
    lab.python("celery", "from order_tasks import audit; audit.delete('priced', 'invoiced')")
    ignored = _drive(lab, CHORD_WITH_IGNORED_HEADER % "True", extra_env=file_backend)
    assert ignored["result"][0] == "TimeoutError", ignored
    assert ignored["priced"] == ["book", "pen"]  # both header tasks ran
    assert ignored["invoiced"] == []  # the body never did
    assert "celery.chord_unlock" in lab.output(worker) and "Retry in 1" in lab.output(worker)
    lab.stop(worker)

    # Redis counts header results itself, so the same chord completes there.
    lab.python("celery", "from order_tasks import audit; audit.flushdb()")
    _start(lab)
    on_redis = _drive(lab, CHORD_WITH_IGNORED_HEADER % "True")
    assert on_redis["result"] == ["ok", 1350]


def test_chord_without_result_backend_is_refused(lab):
    # celery_app.py reads CELERY_RESULT_BACKEND; empty means no backend (DisabledBackend).
    lab.load_markdown(RULE_FILE)
    out = _drive(
        lab,
        """
        print(json.dumps({
            "backend": type(app.backend).__name__,
            "chord": outcome(lambda: chord([line_total.s("book", 1), line_total.s("pen", 1)],
                                           invoice_total.s()).apply_async()),
            "implicit": outcome(lambda: chain(line_total.s("book", 1), group(add_shipping.s(), add_shipping.s()),
                                              invoice_total.s()).apply_async()),
        }))
    """,
        extra_env={"CELERY_RESULT_BACKEND": ""},
    )
    assert out["backend"] == "DisabledBackend"
    for refused in (out["chord"], out["implicit"]):
        assert refused[0] == "NotImplementedError"
        assert refused[1].startswith("Starting chords requires a result backend")


def test_failed_header_skips_body_and_errback_gets_chord_error(lab):
    _start(lab)
    out = _drive(
        lab,
        """
        healthy = chord([line_total.s("book", 1), line_total.s("pen", 2)],
                        invoice_total.s().on_error(log_failure.s())).apply_async()
        first = outcome(lambda: healthy.get(timeout=10))
        audit.delete("priced", "invoiced")

        header = [line_total.s("book", 1), line_total.s("lamp", 1), line_total.s("pen", 2)]
        res = chord(header, invoice_total.s().on_error(log_failure.s())).apply_async()
        failed = outcome(lambda: res.get(timeout=10))
        failures = wait_len("failures", 1)
        body = AsyncResult(res.id)
        print(json.dumps({
            "healthy": first,
            "failed": failed,
            "failures": failures,
            "body_id": res.id,
            "body_state": body.state,
            "body_exc": type(body.result).__name__,
            "priced": sorted(wait_len("priced", 3)),
            "invoiced": [v.decode() for v in audit.lrange("invoiced", 0, -1)],
        }))
    """,
    )
    assert out["healthy"] == ["ok", 1500]
    assert out["failed"][0] == "LookupError"  # .get() re-raises the header's own exception
    assert len(out["failures"]) == 1
    errback_id, _, errback_exc = out["failures"][0].partition(" ")
    assert errback_id == out["body_id"]  # the errback got the body's request ...
    assert (
        errback_exc.startswith("ChordError('Dependency") and "lamp" in errback_exc
    )  # ... and ChordError
    assert (out["body_state"], out["body_exc"]) == ("FAILURE", "ChordError")
    assert out["priced"] == ["book", "lamp", "pen"]  # the other header tasks still ran
    assert out["invoiced"] == []  # the body never ran


def test_exception_and_reject_stop_chain_retry_keeps_it(lab):
    worker = _start(lab)
    out = _drive(
        lab,
        """
        def run(first):
            res = chain(first, add_shipping.s()).apply_async(link_error=log_failure.s())
            got = outcome(lambda: res.get(timeout=10))
            # The worker marks later steps after the failed one: wait for that write, bounded.
            deadline = time.monotonic() + 5
            while res.state == "PENDING" and time.monotonic() < deadline:
                time.sleep(0.05)
            return {"outcome": got, "parent": res.parent.state, "last": res.state, "last_id": res.id}

        retried = chain(line_total.s("book", 1), reserve_stock.s(), add_shipping.s()).apply_async()
        print(json.dumps({
            "retried": outcome(lambda: retried.get(timeout=15)),
            "error": run(parse_amount.s("n/a")),
            "reject": run(quarantine.s("{bad json")),
            "failures": wait_len("failures", 2),
        }))
    """,
    )
    log = lab.output(worker)
    assert out["retried"] == ["ok", 1200 + 499]
    assert "order_tasks.reserve_stock" in log and "retry: Retry in 1s" in log
    assert re.search(
        r"order_tasks\.add_shipping\[[0-9a-f-]+\] received", log
    )  # the retried chain's last step

    error, reject = out["error"], out["reject"]
    assert error["outcome"][0] == "ValueError" and error["parent"] == "FAILURE"
    assert reject["outcome"][0] == "Reject" and reject["parent"] == "FAILURE"
    for step in (error, reject):
        assert step["last"] == "FAILURE"  # the later step is marked failed ...
        # ... without ever reaching the worker
        assert f"order_tasks.add_shipping[{step['last_id']}] received" not in log
    # Both failures reached the chain's errback: the ValueError and the Reject (repr "reject requeue=False: ...").
    errback_excs = [entry.split(" ", 1)[1] for entry in out["failures"]]
    assert any(e.startswith("ValueError(") for e in errback_excs), errback_excs
    assert any(e.startswith("reject requeue=False: malformed") for e in errback_excs), errback_excs


def test_get_inside_a_task_raises(lab):
    _start(lab)
    out = _drive(
        lab,
        """
        print(json.dumps({
            "blocking": outcome(lambda: total_blocking.delay(["book", "pen"]).get(timeout=10)),
            "chord": outcome(lambda: chord([line_total.s("book", 1), line_total.s("pen", 1)],
                                           invoice_total.s()).apply_async().get(timeout=10)),
        }))
    """,
    )
    assert out["blocking"][0] == "RuntimeError"
    assert "Never call result.get() within a task" in out["blocking"][1]
    assert out["chord"] == ["ok", 1350]


def test_errback_arity_and_chord_header_errbacks(lab):
    worker = _start(lab)
    out = _drive(
        lab,
        """
        import warnings

        # One-argument errback (send_receipt takes one): sent as a new task with the failed id.
        one_arg = parse_amount.apply_async(("n/a",), link_error=send_receipt.s())
        outcome(lambda: one_arg.get(timeout=10))

        header = [line_total.s("book", 1), line_total.s("lamp", 1), line_total.s("vase", 1)]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            chord(header, invoice_total.s()).on_error(log_failure.s())  # default: body only
        warned = [w.category.__name__ for w in caught]

        # task_allow_error_cb_on_chord_header is read where the chord is built (the client).
        app.conf.task_allow_error_cb_on_chord_header = True
        res = chord(header, invoice_total.s()).on_error(log_failure.s()).apply_async()
        failed = outcome(lambda: res.get(timeout=10))
        wait_len("failures", 3)
        time.sleep(0.3)  # an extra errback call would land right after
        print(json.dumps({"one_arg_id": one_arg.id, "failed": failed, "body_id": res.id, "warned": warned,
                          "failures": [v.decode() for v in audit.lrange("failures", 0, -1)]}))
    """,
    )
    log = wait_for_output(lab, worker, f"receipt sent to {out['one_arg_id']}")
    assert re.search(
        rf"order_tasks\.send_receipt\[[0-9a-f-]+\] succeeded in [\d.e-]+s: "
        rf"'receipt sent to {out['one_arg_id']}'",
        log,
    )
    assert out["warned"] == ["CPendingDeprecationWarning"]
    assert out["failed"][0] == "LookupError"
    excs = sorted(entry.split(" ", 1)[1].split("(")[0] for entry in out["failures"])
    # once per failing header task (lamp, vase) with its own error, once for the body with ChordError
    assert excs == ["ChordError", "LookupError", "LookupError"], out["failures"]
    body_calls = [e for e in out["failures"] if e.startswith(out["body_id"])]
    assert len(body_calls) == 1 and "ChordError" in body_calls[0]


def test_header_errbacks_need_on_error_on_the_chord(lab):
    _start(lab)
    out = _drive(
        lab,
        """
        app.conf.task_allow_error_cb_on_chord_header = True
        header = [line_total.s("book", 1), line_total.s("lamp", 1), line_total.s("vase", 1)]
        calls = {}
        for where, sig in (("body", chord(header, invoice_total.s().on_error(log_failure.s()))),
                           ("chord", chord(header, invoice_total.s()).on_error(log_failure.s()))):
            audit.delete("failures")
            outcome(lambda: sig.apply_async().get(timeout=10))
            wait_len("failures", 3, timeout=5)  # returns early only once all three arrived
            calls[where] = sorted(v.decode().split(" ", 1)[1].split("(")[0]
                                  for v in audit.lrange("failures", 0, -1))
        print(json.dumps(calls))
    """,
    )
    # On the body the errback only hears of the chord; on the chord, of each failing header too.
    assert out["body"] == ["ChordError"]
    assert out["chord"] == ["ChordError", "LookupError", "LookupError"]


def test_chord_unlock_polls_until_its_max_retries(lab):
    # A file:// backend has no chord counter: celery.chord_unlock polls, max_retries=None.
    file_backend = {"CELERY_RESULT_BACKEND": f"file://{lab.workdir}/results"}
    (lab.workdir / "results").mkdir()
    worker = _start(lab, extra_env=file_backend)
    out = _drive(
        lab,
        """
        # The ignored header result never arrives, so neither chord can ever complete.
        header = [line_total.s("book", 1).set(ignore_result=True), line_total.s("pen", 1)]
        bounded = chord(header, invoice_total.s().on_error(log_failure.s())).apply_async(max_retries=2)
        unbounded = chord(header, invoice_total.s().on_error(log_failure.s())).apply_async()
        failures = wait_len("failures", 1)
        time.sleep(1)  # the unbounded one keeps polling; an errback would land by now
        print(json.dumps({"bounded": bounded.id, "unbounded": unbounded.id,
                          "failures": wait_len("failures", 2, timeout=0.1)}))
    """,
        extra_env=file_backend,
    )
    assert len(out["failures"]) == 1, out
    failed_id, _, error = out["failures"][0].partition(" ")
    assert failed_id == out["bounded"]
    assert error.startswith("ChordError(") and "chord_unlock could not be retried" in error
    log = lab.output(worker)
    polls = sorted(
        Counter(re.findall(r"celery\.chord_unlock\[([0-9a-f-]+)\] retry: Retry in", log)).values()
    )
    # The bounded poller gave up after its 2 retries; the default one is still going.
    assert len(polls) == 2 and polls[0] == 2 and polls[1] > 2, log[-3000:]
