"""GraphQL for Stash's real web UI: every query it sends, against Stash's real schema.

The UI sends ~190 different operations; each is executed by graphql-core against the real
schema (../shared/stash-schema), so an answer always has the shape the UI's generated client
expects. Fields with data behind them resolve from the rig's FakeStash (scenes, their files,
studios, performers, tags, the saved plugin settings); every other field gets a type-correct
empty value (null where nullable, else "", 0, false, [], {} or the enum's first value).

The plugin's own calls are what matter: `runPluginOperation` and `runPluginTask` run the real
plexsync.py exactly as Stash does (tests/rig/stash_runner.py); each call is recorded.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import graphql

from tests.rig.fake_stash import FakeStash
from tests.rig.real_schema import load_real_schema
from tests.rig.stash_runner import StashRunner

EMPTY_SCALARS = {"String": "", "ID": "0", "Int": 0, "Float": 0.0, "Boolean": False,
                 "Int64": 0, "Time": "1970-01-01T00:00:00Z", "Timestamp": "1970-01-01T00:00:00Z",
                 "Map": {}, "BoolMap": {}, "PluginConfigMap": {}}  # fmt: skip
UI_DEFAULTS = {"lastNoteSeen": 99999999}  # keeps the release-notes dialog away


@dataclass
class PluginCall:
    """One runPluginOperation or runPluginTask the UI sent."""

    kind: str  # "operation" | "task"
    args: dict
    at: float
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


class UIGraphQL:
    """Executes the UI's documents; `calls` logs what it asked of the plugin."""

    def __init__(self, stash: FakeStash, runner: StashRunner, plugin: dict) -> None:
        self.stash = stash
        self.runner = runner
        self.plugin = plugin  # the Plugin object the `plugins` query returns
        self.ui_config: dict = dict(UI_DEFAULTS)
        self.calls: list[PluginCall] = []
        self._lock = threading.Lock()
        self._schema = load_real_schema()
        self._resolvers = self._build_resolvers()

    def execute(self, payload: dict, base_url: str) -> dict:
        document = graphql.parse(payload.get("query") or "")
        result = graphql.execute_sync(
            self._schema,
            document,
            root_value=None,
            context_value={"base_url": base_url},
            variable_values=payload.get("variables") or {},
            operation_name=payload.get("operationName"),
            field_resolver=self._resolve,
        )
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer["errors"] = [error.formatted for error in result.errors]
        return answer

    def operations(self) -> list[PluginCall]:
        return [call for call in self.calls if call.kind == "operation"]

    # -- resolving

    def _resolve(self, source, info: graphql.GraphQLResolveInfo, **args):
        special = self._resolvers.get((info.parent_type.name, info.field_name))
        if special is not None:
            value = special(source, info, **args)
        elif isinstance(source, dict):
            value = source.get(info.field_name)
        else:
            value = getattr(source, info.field_name, None)
        return _empty(info.return_type) if value is None else value

    def _build_resolvers(self) -> dict:
        return {
            ("Query", "findScene"): lambda _s, info, id=None: self._scene(info, int(id)),
            ("Query", "findScenes"): self._find_scenes,
            ("Query", "configuration"): lambda *_: {"ui": self.ui_config},
            ("ConfigResult", "plugins"): lambda *_a, **_k: self.stash.plugin_settings,
            ("Query", "plugins"): lambda *_: [self.plugin],
            ("Query", "pluginTasks"): lambda *_: self.plugin["tasks"],
            ("Query", "systemStatus"): lambda *_: {
                "status": "OK",
                "appSchema": 75,
                "databaseSchema": 75,
            },  # fmt: skip
            ("Query", "version"): lambda *_: {"version": self.stash.version, "hash": "0"},
            ("Mutation", "configureUI"): self._configure_ui,
            ("Mutation", "configureUISetting"): self._configure_ui_setting,
            ("Mutation", "runPluginOperation"): self._run_operation,
            ("Mutation", "runPluginTask"): self._run_task,
        }

    def _configure_ui(self, _source, _info, input=None, partial=None):
        with self._lock:
            if input is not None:
                self.ui_config = {**UI_DEFAULTS, **input}
            if partial is not None:
                self.ui_config.update(partial)
            return self.ui_config

    def _configure_ui_setting(self, _source, _info, key: str, value=None):
        with self._lock:
            self.ui_config[key] = value
            return self.ui_config

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
                result = self.runner.run_task(task_name, timeout=300)
                call.error = result.error
            finally:
                call.done.set()

        threading.Thread(target=job, daemon=True, name=f"stash-job-{task_name}").start()
        return str(len(self.calls))

    # -- scenes from the FakeStash

    def _find_scenes(self, _source, info, scene_filter=None, scene_ids=None, ids=None, filter=None):
        find = dict(filter or {})
        if find.get("sort") not in (None, "id", "title", "date", "path", "created_at",
                                    "updated_at"):  # fmt: skip
            find["sort"] = "id"  # random, play counts...: not the fake's to order
        find_scenes = self.stash._find_scenes  # noqa: SLF001 - the fake's own resolver
        try:
            page = find_scenes(None, None, scene_filter, scene_ids, ids, find)
        except (KeyError, ValueError):  # a filter the fake does not know: every scene
            page = find_scenes(None, None, None, None, None, find)
        return {**page, "scenes": [self._scene(info, s.id) for s in page["scenes"]]}

    def _scene(self, info, scene_id: int) -> dict | None:
        stash = self.stash
        scene = stash._scenes.get(scene_id)  # noqa: SLF001
        if scene is None:
            return None
        base = info.context["base_url"]
        named = lambda table, i: {"id": str(i), "name": table[i].name}  # noqa: E731
        return {
            **{k: getattr(scene, k) for k in ("title", "code", "details", "director", "urls")},
            **{k: getattr(scene, k) for k in ("date", "rating100", "organized")},
            "id": str(scene.id),
            "created_at": stash._time_text(scene.created),  # noqa: SLF001
            "updated_at": stash._time_text(scene.updated),  # noqa: SLF001
            "files": [_file(f) for f in scene.files],
            "paths": {"screenshot": f"{base}/scene/{scene.id}/screenshot?t={scene.updated}"},
            "studio": named(stash._studios, scene.studio) if scene.studio else None,  # noqa: SLF001
            "performers": [named(stash._performers, i) for i in scene.performers],  # noqa: SLF001
            "tags": [named(stash._tags, i) for i in scene.tags],  # noqa: SLF001
        }


def _file(f) -> dict:
    keys = ("path", "size", "duration", "format", "width", "height", "video_codec",
            "audio_codec", "frame_rate", "bit_rate", "basename", "mod_time")  # fmt: skip
    return {"id": str(f.id), **{k: getattr(f, k) for k in keys}}


def _empty(type_):
    """A value of this type with nothing in it: null when allowed."""
    if not graphql.is_non_null_type(type_):
        return None
    inner = type_.of_type
    if graphql.is_list_type(inner):
        return []
    if graphql.is_enum_type(inner):
        return next(iter(inner.values))
    if graphql.is_scalar_type(inner):
        return EMPTY_SCALARS.get(inner.name)
    return {}
