"""Real worker processes and a real Temporal dev server, all started by `skill-audit run`."""

from __future__ import annotations

import pytest

from tests.run.conftest import FIXTURES, run_cmd

SERVICES = FIXTURES / "services"


@pytest.fixture(scope="module")
def outcome(envs):
    return run_cmd(str(SERVICES), "--format", "json")


def test_services_were_started_by_the_run(outcome):
    services = outcome.doc["services"]
    assert services["redis"]["mode"] == "embedded"
    assert services["temporal"]["mode"] == "embedded"  # temporal.md imports temporalio


def test_celery_worker_process_returns_a_result(outcome):
    assert outcome.block("celery-ok.md", 20)["kind"] == "background"
    assert outcome.block("celery-ok.md", 20)["status"] == "PASS"
    assert outcome.block("celery-ok.md", 24)["status"] == "PASS"
    assert outcome.block("celery-ok.md", 6)["imported"] is True


def test_celery_task_failure_is_reported_with_worker_output(outcome):
    block = outcome.block("celery-fail.md", 24)
    assert block["status"] == "FAIL"
    assert "ValueError: celery task exploded" in block["output"]
    # the worker's own traceback, mapped to the module's markdown line
    assert 'celery-fail.md", line 17, in explode' in block["output"]


def test_arq_worker_process(outcome):
    assert outcome.block("arq.md", 27)["status"] == "PASS"
    assert outcome.block("arq.md", 31)["status"] == "PASS"
    failing = outcome.block("arq.md", 51)
    assert failing["status"] == "FAIL" and "ValueError: arq job exploded" in failing["output"]
    assert failing["env"] == "arq"


def test_temporal_workflow_with_activity(outcome):
    assert outcome.block("temporal.md", 28)["status"] == "PASS"
    failing = outcome.block("temporal.md", 55)
    assert failing["status"] == "FAIL" and "WorkflowFailureError" in failing["output"]
    assert outcome.block("temporal.md", 6)["imported"] is True


def test_summary(outcome):
    assert outcome.returncode == 1
    assert outcome.doc["summary"]["failed"] == 3


def test_existing_temporal_server(envs):
    from skill_audit.runtime import services

    svc = services.start_temporal()
    try:
        out = run_cmd(
            str(SERVICES / "references" / "temporal.md"),
            "--format",
            "json",
            "--temporal-address",
            svc.extra["address"],
        )
    finally:
        svc.stop()
    assert out.doc["services"]["temporal"]["mode"] == "external"
    assert out.block("temporal.md", 28)["status"] == "PASS"
    assert out.block("temporal.md", 55)["status"] == "FAIL"  # the failing case still fails


def test_unreachable_temporal_server():
    from skill_audit.runtime import services

    out = run_cmd(
        str(SERVICES / "references" / "temporal.md"),
        "--temporal-address",
        f"127.0.0.1:{services.free_port()}",
    )
    assert out.returncode == 2 and "--temporal-address" in out.stderr
    assert "Traceback" not in out.stderr
