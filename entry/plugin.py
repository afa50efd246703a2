"""Running under Stash: stdin -> a hook or a task; `{"output"}` or `{"error"}` on stdout.

Errors reach Stash as one clear line (never a bare traceback): the log line on stderr carries
the level prefix Stash expects and the stdout JSON carries the message for the UI.

A hook that goes well logs nothing, so it never imports `logging` (~8 ms of the hook's
budget: see state/queue.py): logging to Stash is set up by the tasks, by every error, and
by the hook itself when its queue file needs moving aside (entry/hook.py).
"""

from __future__ import annotations

import json
import sys

from entry.hook import BadInput, handle_hook, parse_stdin
from errors import DataDirError


def run_from_stash(raw: str) -> int:
    """Handle one Stash invocation; non-zero exit only when Stash should show an error."""
    try:
        return _handle(raw)
    except (BadInput, DataDirError) as exc:  # the user's input or setup: say so
        stash_log().error("PlexSync: %s", exc)
        return _reply(None, str(exc))
    except Exception as exc:  # the process boundary: one clear line for Stash, not a traceback
        from logs import redact

        log = stash_log()
        message = redact(f"{type(exc).__name__}: {exc}")
        log.error("PlexSync failed: %s", message)
        log.debug("details", exc_info=exc)  # the traceback, for a debug-level log
        return _reply(None, message)


def _handle(raw: str) -> int:
    """A hook or a task, answered on stdout."""
    connection, args = parse_stdin(raw)
    if "hookContext" in args:
        return _reply(handle_hook(connection, args["hookContext"]), redacted=False)
    stash_log()
    return _reply(_run_task(connection, args))


def stash_log():
    """The plugin's logger, with every record of this process sent to Stash."""
    import logging

    from logs import to_stash

    to_stash()
    return logging.getLogger("plexsync")


def _run_task(connection: dict, args: dict):
    """A task or a UI operation (`runPluginOperation`): both name an entry of the table."""
    from entry import operations
    from entry.context import Context
    from state.datadir import DataDir, resolve_data_dir

    op = operations.find(args.get("mode"))  # before any file is touched: a typo is an error
    if op.terminal:  # it would hold Stash's call (and a UI toast) for as long as a code lives
        raise BadInput(
            f"{op.name} runs on the command line only; in Stash, use Connect to Plex on the"
            " PlexSync page"
        )
    ctx = Context(DataDir(resolve_data_dir(connection)), connection)
    return operations.run(op.name, args, ctx)


def _reply(output, error: str | None = None, redacted: bool = True) -> int:
    """Stash's `{"output"}` or `{"error"}`; redacted, since a status may quote plexUrl (a
    hook's short answer has nothing to hide, and redacting it would cost the logging import)."""
    reply = {"output": output} if error is None else {"output": None, "error": error}
    text = json.dumps(reply, default=str)
    if redacted:
        from logs import redact

        text = redact(text)
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0 if error is None else 1
