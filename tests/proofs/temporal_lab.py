"""Driver code shared by the Temporal proof files (test_temporal_workflows, test_temporal_activities).

A driver is a script run in the temporal env: the prelude below plus an `async def main()` that
returns a JSON-able result. It runs an in-process worker against the shared dev server
(`TEMPORAL_ADDRESS`) and reads outcomes back from the server: run status, workflow-task
failures, history events.
"""

from __future__ import annotations

import os
import textwrap

DRIVER_PRELUDE = textwrap.dedent('''
    import asyncio, json, os, uuid
    from datetime import timedelta
    from temporalio.client import Client, WorkflowFailureError
    from temporalio.worker import Worker

    async def connect():
        # The dev server opens its port a little before the frontend answers.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while True:
            try:
                return await Client.connect(os.environ["TEMPORAL_ADDRESS"])
            except Exception:
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.2)

    def queue():
        return f"proof-{uuid.uuid4()}"

    async def hung_run(handle, timeout=20.0):
        """Wait until the workflow task has been retried (bounded), describe the run, terminate it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            desc = await handle.describe()
            attempt = desc.raw_description.pending_workflow_task.attempt
            if attempt >= 2 or desc.status.name != "RUNNING" or loop.time() > deadline:
                break
            await asyncio.sleep(0.2)
        failures = [e.workflow_task_failed_event_attributes.failure
                    async for e in handle.fetch_history_events()
                    if e.HasField("workflow_task_failed_event_attributes")]
        if desc.status.name == "RUNNING":
            await handle.terminate("proof done")
        return {"status": desc.status.name, "task_attempt": attempt,
                "failure_type": failures[0].application_failure_info.type if failures else None,
                "failure_message": failures[0].message if failures else None}

    async def event_names(handle, field):
        """The `field` attributes of the history events that carry it, in order."""
        return [getattr(e, field) async for e in handle.fetch_history_events() if e.HasField(field)]

    def report(result):
        print(json.dumps(result, default=str))
''')


def drive(lab, body: str, timeout: float = 60, extra_env: dict[str, str] | None = None):
    """Run `body` (an `async def main()` using the prelude) in the temporal env; return its JSON."""
    code = DRIVER_PRELUDE + textwrap.dedent(body) + "\nreport(asyncio.run(main()))\n"
    return lab.json_result("temporal", code, temporal=True, timeout=timeout, extra_env=extra_env)


def env_bin_path(lab) -> dict[str, str]:
    """PATH with the temporal env's bin/ first, so drivers find `temporal` and `temporal-test-server`."""
    env = lab.envs.get("temporal")
    return {"PATH": f"{env.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
