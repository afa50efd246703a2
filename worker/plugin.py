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
# The manifest's task modes (tests check both ways); worker/operations.py runs them.
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
    """A task or a UI operation (`runPluginOperation`): both name an entry of the table."""
    from worker import operations
    from worker.context import Context
    from worker.datadir import DataDir, resolve_data_dir

    op = operations.find(args.get("mode"))  # before any file is touched: a typo is an error
    ctx = Context(DataDir(resolve_data_dir(connection)), connection)
    return operations.run(op.name, args, ctx)


def _reply(output, error: str | None = None) -> int:
    reply = {"output": output} if error is None else {"output": None, "error": error}
    sys.stdout.write(redact(json.dumps(reply, default=str)))  # a status may name plexUrl
    sys.stdout.flush()
    return 0 if error is None else 1
