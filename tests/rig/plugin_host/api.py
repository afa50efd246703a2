"""The plugin host's /graphql: the fake Stash's schema and resolvers, plus the plugin list and
the two plugin mutations (plugins.graphql here).

Scenes, settings and the rest resolve from the rig's FakeStash exactly as the fake answers
plexsync.py. `runPluginOperation` and `runPluginTask` run the real plexsync.py as Stash does
(tests/rig/stash_runner.py); each call is recorded in `calls`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import graphql

from tests.rig.fake_stash import FakeStash
from tests.rig.stash_runner import StashRunner

EXTENSION = Path(__file__).with_name("plugins.graphql")


@dataclass
class PluginCall:
    """One runPluginOperation or runPluginTask the page sent."""

    kind: str  # "operation" | "task"
    args: dict
    at: float
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


class HostGraphQL:
    """Executes the page's documents; `calls` logs what it asked of the plugin."""

    def __init__(self, stash: FakeStash, runner: StashRunner, plugin: dict) -> None:
        self.runner = runner
        self.calls: list[PluginCall] = []
        self.schema = host_schema(stash)
        resolvers = {
            ("Query", "plugins"): lambda *_: [plugin],
            ("Mutation", "runPluginOperation"): self._run_operation,
            ("Mutation", "runPluginTask"): self._run_task,
        }
        for (owner, name), resolve in resolvers.items():
            self.schema.type_map[owner].fields[name].resolve = resolve

    def execute(self, payload: dict, base_url: str) -> dict:
        result = graphql.graphql_sync(
            self.schema,
            payload.get("query") or "",
            context_value={"base_url": base_url},
            variable_values=payload.get("variables") or {},
            operation_name=payload.get("operationName"),
        )
        answer: dict = {"data": result.data}
        if result.errors:
            answer["errors"] = [error.formatted for error in result.errors]
        return answer

    def operations(self) -> list[PluginCall]:
        return [call for call in self.calls if call.kind == "operation"]

    def _run_operation(self, _source, _info, plugin_id: str, args=None):
        call = PluginCall("operation", dict(args or {}), time.time())
        self.calls.append(call)
        try:
            result = self.runner.run_operation(call.args, timeout=120)
        finally:
            call.done.set()
        if result.error is not None:  # Stash returns the plugin's `error` as the GraphQL error
            call.error = result.error
            raise graphql.GraphQLError(result.error)
        return result.output

    def _run_task(self, _source, _info, plugin_id: str, task_name=None, **_):
        """Queued as a Stash job: the mutation answers at once with the job's id."""
        call = PluginCall("task", {"task_name": task_name}, time.time())
        self.calls.append(call)

        def job() -> None:
            try:
                call.error = self.runner.run_task(task_name, timeout=300).error
            finally:
                call.done.set()

        threading.Thread(target=job, daemon=True, name=f"stash-job-{task_name}").start()
        return str(len(self.calls))


def host_schema(stash: FakeStash) -> graphql.GraphQLSchema:
    """The fake Stash's schema, with its resolvers, extended by plugins.graphql."""
    extension = graphql.parse(EXTENSION.read_text(encoding="utf-8"))
    return graphql.extend_schema(stash._schema, extension)  # noqa: SLF001 - the fake's own
