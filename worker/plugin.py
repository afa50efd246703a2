"""Running under Stash: stdin -> a hook or a task; `{"output"}` or `{"error"}` on stdout.

Errors reach Stash as one clear line (never a bare traceback): the log line on stderr carries
the level prefix Stash expects and the stdout JSON carries the message for the UI.
"""

from __future__ import annotations

import json
import logging
import sys

from errors import DataDirError
from worker.hook import BadInput, handle_hook, parse_stdin
from worker.logs import redact, to_stash

log = logging.getLogger("plexsync")
TASKS = (
    "sync_all",
    "process_queue",
    "status",
    "retry_failed",
    "clear_failed",
    "clear_queue",
    "verify",
    "verify_repair",
    "import_activity",
)


def run_from_stash(raw: str) -> int:
    """Handle one Stash invocation; non-zero exit only when Stash should show an error."""
    to_stash()
    try:
        connection, args = parse_stdin(raw)
        if "hookContext" in args:
            return _reply(handle_hook(connection, args["hookContext"]))
        return _reply(_run_task(connection, args))
    except (BadInput, DataDirError) as exc:
        log.error("PlexSync: %s", exc)
        return _reply(None, str(exc))
    except Exception as exc:  # the last line of defence: one clear line, no traceback
        message = redact(f"{type(exc).__name__}: {exc}")
        log.error("PlexSync failed: %s", message)
        log.debug("details", exc_info=True)
        return _reply(None, message)


def _run_task(connection: dict, args: dict):
    mode = args.get("mode")
    if mode not in TASKS:
        raise BadInput(f"unknown task mode {mode!r}; expected one of {', '.join(TASKS)}")
    from worker import tasks  # heavier imports: tasks only, never the hook path
    from worker.datadir import DataDir, resolve_data_dir

    ctx = tasks.Context(DataDir(resolve_data_dir(connection)), connection)
    if mode == "status":
        from worker.status import status

        return status(ctx)
    if mode in ("verify", "verify_repair"):
        from worker.verify import verify

        return verify(ctx, repair=mode == "verify_repair")
    return getattr(tasks, mode)(ctx)


def _reply(output, error: str | None = None) -> int:
    reply = {"output": output} if error is None else {"output": None, "error": error}
    sys.stdout.write(redact(json.dumps(reply, default=str)))  # a status may name plexUrl
    sys.stdout.flush()
    return 0 if error is None else 1
