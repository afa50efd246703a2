"""The one table of operations: every Stash task, CLI command and UI operation by name.

Stash's tasks (`defaultArgs.mode`), `runPluginOperation` calls from Stash's UI (`args.mode`)
and the CLI's commands all come here; each entry names one function and the arguments it
takes, and `run` validates those arguments in one place. The manifest's tasks are checked
against the entries with a `task` name (tests/test_manifest.py), and the CLI's commands and
their help are built from the entries with `cli` words (entry/cli.py). A bad name or bad
arguments raise `BadInput`, whose message Stash hands to the UI (a toast) or the CLI prints.

Targets are "module:function" strings imported on use: the table itself imports nothing, so
the quick `scene_state` read never pays for the worker, plexapi or stashapi.

Past the 300-line alarm on purpose: most of it is the table, one entry per operation, and
the point of the table is that they are all in one place.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field

from entry.hook import BadInput
from state.jobs import KEY_KINDS

MAX_IDS = 1000  # a page of cards is at most a few hundred; more is not from the UI
MAX_FILES = 100  # files of one scene: a handful in practice
MAX_ID = 2**63 - 1  # Stash's ids and sizes are int64
MAX_TEXT = 4000  # a server name, a pathMap of many rules


@dataclass(frozen=True)
class Arg:
    """One argument: its key in Stash's args map, its kind, and whether it must be given."""

    name: str
    kind: str  # "scenes" | "ids" | "keys" | "text" | "names" | "flag"
    required: bool = False
    help: str = ""  # given: the CLI offers it as --name (a "flag" takes no value)


@dataclass(frozen=True)
class Op:
    """A named operation: the function it runs and the arguments it accepts."""

    name: str
    target: str
    help: str
    args: tuple[Arg, ...] = ()
    fixed: dict = field(default_factory=dict)
    cli: tuple[str, ...] = ()  # the CLI command words that run it, if any
    recorded: bool = False  # shown under "last runs" on the PlexSync page
    task: str = ""  # its task's name in PlexSync.yml, if Stash lists it as a task
    terminal: bool = False  # waits for a person at a terminal: the CLI runs it, Stash does not


KEYS = Arg("keys", "keys")
TABLE = (
    Op(
        "sync_all",
        "entry.tasks:sync_all",
        "sync every scene, then process the queue",
        cli=("sync-all",),
        recorded=True,
        task="Sync all scenes to Plex",
    ),
    Op(
        "process_queue",
        "entry.tasks:process_queue",
        "process what is queued now",
        cli=("process",),
        recorded=True,
        task="Process the queue now",
    ),
    Op(
        "import_activity",
        "entry.tasks:import_activity",
        "import watch activity from Plex into Stash",
        cli=("import-activity",),
        recorded=True,
        task="Import watch activity from Plex",
    ),
    Op(
        "status",
        "entry.status:status",
        "queue counts, failures, whether Plex answers (JSON)",
        cli=("status",),
        task="Show sync status",
    ),
    Op(
        "retry_failed",
        "entry.failed:retry_failed",
        "put failed syncs back on the queue",
        (KEYS,),
        cli=("failed", "retry"),
        task="Retry failed syncs",
    ),
    Op(
        "clear_failed",
        "entry.failed:clear_failed",
        "delete failed syncs",
        (KEYS,),
        cli=("failed", "clear"),
        task="Clear failed syncs",
    ),
    Op("failed_list", "entry.failed:failed_list", "list failed syncs", cli=("failed", "list")),
    Op(
        "clear_queue",
        "entry.tasks:clear_queue",
        "drop every pending sync",
        cli=("clear-queue",),
        task="Clear pending syncs",
    ),
    Op(
        "verify",
        "entry.verify:verify",
        "compare Plex with Stash and write a report",
        cli=("verify",),
        recorded=True,
        task="Verify Plex against Stash",
    ),
    Op(
        "verify_repair",
        "entry.verify:verify",
        "then queue drifted scenes for a sync",
        fixed={"repair": True},
        cli=("verify", "--repair"),
        recorded=True,
        task="Verify and repair",
    ),
    Op(
        "scene_state",
        "entry.scene_state:scene_state",
        "the state of these scenes",
        (Arg("scenes", "scenes", required=True),),
    ),
    Op(
        "sync_scenes",
        "entry.ui_page:sync_scenes",
        "queue these scenes with a forced write",
        (Arg("scene_ids", "ids", required=True),),
    ),
    Op("overview", "entry.ui_page:overview", "what the PlexSync page shows"),
    Op("verify_report", "entry.ui_page:verify_report", "the last verify report's HTML"),
    # Sign in with Plex and the first run (entry/connect.py, entry/discover.py, entry/preview.py)
    Op(
        "link",
        "entry.connect:link",
        "sign in with Plex: print a code, wait, choose the server",
        (
            Arg(
                "server",
                "text",
                help="the server to use, by name (default: the only one that answers)",
            ),
        ),
        cli=("link",),
        terminal=True,
    ),
    Op("plex_link_start", "entry.connect:link_start", "a sign-in code from plex.tv"),
    Op("plex_link_poll", "entry.connect:link_poll", "is the code linked yet"),
    Op("plex_link_cancel", "entry.connect:link_cancel", "stop waiting for the code"),
    Op(
        "plex_choose_server",
        "entry.connect:choose_server",
        "keep this server's address and token",
        (Arg("server", "text", required=True),),
    ),
    Op("plex_signed_in", "entry.connect:signed_in", "the signed-in server"),
    Op(
        "plex_disconnect",
        "entry.connect:disconnect",
        "forget the signed-in server",
        cli=("disconnect",),
    ),
    Op("plex_libraries", "entry.connect:libraries", "movie libraries and their item counts"),
    Op(
        "plex_save_libraries",
        "entry.connect:save_libraries",
        "save the Plex libraries to sync",
        (Arg("libraries", "names", required=True),),
    ),
    Op(
        "path_map_discover",
        "entry.discover:discover",
        "propose path map rules from Stash's and Plex's files",
        (Arg("apply", "flag", help="save the proposed path map in Stash"),),
        cli=("discover",),
    ),
    Op(
        "path_map_apply",
        "entry.discover:apply",
        "save the path map",
        (Arg("path_map", "text", required=True),),
    ),
    Op("sync_preview", "entry.preview:preview", "what Sync all would do", cli=("preview",)),
)
OPERATIONS = {op.name: op for op in TABLE}


def find(name) -> Op:
    op = OPERATIONS.get(name) if isinstance(name, str) else None
    if op is None:
        names = ", ".join(OPERATIONS)
        if len(names) > 200:  # one short line, for Stash's log and a toast
            names = names[: names.rfind(", ", 0, 200)] + ", ..."
        raise BadInput(f"unknown operation {name!r}; expected one of {names}")
    return op


def by_cli(words: tuple[str, ...]) -> Op:
    """The entry a CLI command runs."""
    return next(op for op in TABLE if op.cli == words)


def run(name, args: dict, ctx):
    """Validate `args` for the named operation and run it; records the runs the page shows."""
    op = find(name)
    kwargs = validate(op, args)
    function = getattr(importlib.import_module(op.target.split(":")[0]), op.target.split(":")[1])
    if not op.recorded:
        return function(ctx, **op.fixed, **kwargs)
    with _Recorded(ctx, op.name) as record:
        record.result = function(ctx, **op.fixed, **kwargs)
    return record.result


class _Recorded:
    """One run of a recorded operation, remembered for the page as it leaves the block: its
    result, or the error it raised (which goes on to the caller as it is)."""

    def __init__(self, ctx, name: str) -> None:
        from entry.ui_page import record_run  # only for the operations the page shows

        self._record_run = record_run
        self.ctx, self.name = ctx, name
        self.result = None
        self.started = time.time()

    def __enter__(self) -> _Recorded:
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        if exc is None:
            self._record_run(self.ctx, self.name, self.started, self.result, None)
        elif isinstance(exc, Exception):  # not KeyboardInterrupt, SystemExit: the process ends
            error = str(exc) or type(exc).__name__  # the page shows it: words, not a class
            self._record_run(self.ctx, self.name, self.started, None, error)
        return False  # never swallow it


def validate(op: Op, args: dict) -> dict:
    """The keyword arguments for `op`, checked and normalised; BadInput says what is wrong."""
    if not isinstance(args, dict):
        raise BadInput(f"{op.name}: arguments must be an object")
    known = {arg.name: arg for arg in op.args}
    unknown = sorted(set(args) - set(known) - {"mode"})
    if unknown:
        accepted = ", ".join(known) or "none"
        raise BadInput(
            f"{op.name}: unknown argument(s) {', '.join(unknown)} (accepted: {accepted})"
        )
    kwargs = {}
    for arg in op.args:
        if args.get(arg.name) is None:
            if arg.required:
                raise BadInput(f"{op.name}: argument {arg.name!r} is required")
            continue
        kwargs[arg.name] = _CHECKS[arg.kind](op.name, arg.name, args[arg.name])
    return kwargs


def _scene_id(where: str, value) -> int:
    """Stash's IDs are strings in GraphQL and numbers in Go maps; both are fine. A string is
    ASCII digits only (int() also reads '١٢' and ' 12'), and an id fits Stash's int64."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if type(value) is not int or not 0 < value <= MAX_ID:
        raise BadInput(f"{where}: {value!r:.40} is not a scene id")
    return value


def _files(where: str, files) -> list[dict] | None:
    """What the UI knows of a scene's files: at most MAX_FILES of {path, size}, a size being
    a whole number of bytes (or absent)."""
    if files is None:
        return None
    if not isinstance(files, list) or len(files) > MAX_FILES:
        raise BadInput(f"{where}.files must be a list of at most {MAX_FILES} {{path, size}}")
    for file in files:
        if not isinstance(file, dict) or not isinstance(file.get("path"), str):
            raise BadInput(f"{where}.files must be a list of {{path, size}} objects")
        size = file.get("size")
        if size is not None and (type(size) is not int or not 0 <= size <= MAX_ID):
            raise BadInput(f"{where}.files[].size must be a whole number of bytes")
    return files


def _list(op: str, name: str, value) -> list:
    if not isinstance(value, list) or not value:
        raise BadInput(f"{op}: {name!r} must be a non-empty list")
    if len(value) > MAX_IDS:
        raise BadInput(f"{op}: {name!r} has {len(value)} entries, at most {MAX_IDS} are allowed")
    return value


def _ids(op: str, name: str, value) -> list[int]:
    return [_scene_id(f"{op}.{name}", item) for item in _list(op, name, value)]


def _keys(op: str, name: str, value) -> list[str]:
    items = _list(op, name, value)
    if not all(isinstance(key, str) and key.partition(":")[0] in KEY_KINDS for key in items):
        raise BadInput(
            f"{op}: {name!r} must list failed-entry keys such as 'scene:12' or 'activity:import'"
        )
    return items


def _scenes(op: str, name: str, value) -> list[dict]:
    """Scene ids, or objects with an id and what the UI knows: files [{path, size}], organized."""
    scenes = []
    for item in _list(op, name, value):
        if not isinstance(item, dict):
            scenes.append({"id": _scene_id(f"{op}.{name}", item), "files": None})
            continue
        files = _files(f"{op}: {name}[]", item.get("files"))
        scene = {"id": _scene_id(f"{op}.{name}[].id", item.get("id")), "files": files}
        if isinstance(item.get("organized"), bool):
            scene["organized"] = item["organized"]
        scenes.append(scene)
    return scenes


def _text(op: str, name: str, value) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise BadInput(f"{op}: {name!r} must be a non-empty text of at most {MAX_TEXT} characters")
    return value.strip()


def _names(op: str, name: str, value) -> list[str]:
    return [_text(op, f"{name}[]", item) for item in _list(op, name, value)]


def _flag(op: str, name: str, value) -> bool:
    if not isinstance(value, bool):
        raise BadInput(f"{op}: {name!r} must be true or false")
    return value


_CHECKS = {
    "scenes": _scenes,
    "ids": _ids,
    "keys": _keys,
    "text": _text,
    "names": _names,
    "flag": _flag,
}
