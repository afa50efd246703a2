"""`python plexsync.py <command>`: the same work as the Stash tasks, for cron and Docker users.

Connection settings come from flags or environment variables; --plex-url/--plex-token override
the Plex settings saved in Stash (every other setting is still read from Stash). Secrets are
best given in a file or the environment: a command line is visible to every user (`ps`).

Exit codes: 0 done; 1 failed (message on stderr); 2 bad usage; 3 finished but some syncs
failed or are waiting for a retry.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from entry.context import TASK_MAX_PAUSE
from errors import ConfigError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3

Argument = tuple[tuple[str, ...], dict]  # (names, add_argument keywords)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plexsync.py",
        description="Keep a Plex library in step with Stash (the PlexSync Stash plugin).",
        epilog="Environment: STASH_URL, STASH_API_KEY, PLEX_URL, PLEX_TOKEN, PLEXSYNC_DATA_DIR.",
    )
    for flags, options in _connection_options():
        parser.add_argument(*flags, **options)
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    for word, ops in _commands().items():
        _add_command(commands, word, ops)
    worker = commands.add_parser("worker")  # the background worker: not for people, no help
    worker.add_argument("--data-dir", dest="worker_data_dir", required=True)
    worker.add_argument("--standby", action="store_true")
    worker.add_argument("--lock-fd", type=int)
    return parser


def _commands() -> dict[str, list]:
    """The operation table's entries with CLI words, grouped by their first word."""
    from entry.operations import TABLE

    grouped: dict[str, list] = {}
    for op in TABLE:
        if op.cli:
            grouped.setdefault(op.cli[0], []).append(op)
    return grouped


def _add_command(commands, word: str, ops: list) -> None:
    """One command: `word` alone, `word --flag` (a variant), or `word ACTION` (a choice)."""
    plain = next((op for op in ops if len(op.cli) == 1), None)
    actions = [op for op in ops if len(op.cli) == 2 and not op.cli[1].startswith("--")]
    flags = [op for op in ops if len(op.cli) == 2 and op.cli[1].startswith("--")]
    if plain is not None:
        help_text = plain.help
    else:
        help_text = "; ".join(f"{op.cli[1]}: {op.help}" for op in actions)
    command = commands.add_parser(word, help=help_text)
    if actions:
        command.add_argument("action", choices=[op.cli[1] for op in actions])
    for op in flags:
        command.add_argument(
            op.cli[1], dest="variant", action="store_const", const=op.cli[1], help=op.help
        )
    for arg in (arg for op in ops for arg in op.args if arg.help):  # the UI's own stay out
        kind = {"action": "store_true"} if arg.kind == "flag" else {}
        command.add_argument(
            f"--{arg.name.replace('_', '-')}", dest=arg.name, help=arg.help, **kind
        )


def _connection_options() -> list[Argument]:
    """The flags every command takes.

    Built per call, not once at import: the defaults read the environment as it is now."""
    return [
        (
            ("--data-dir",),
            {
                "help": "data directory (default: PLEXSYNC_DATA_DIR, else the plugin's own: "
                "<Stash config folder>/plexsync, else ~/.stash/plexsync)"
            },
        ),
        *_stash_options(),
        *_plex_options(),
        (
            ("--max-wait",),
            {
                "type": float,
                "default": TASK_MAX_PAUSE,
                "metavar": "SECONDS",
                "help": "how long to wait for an unreachable Plex or Stash (default %(default)g)",
            },
        ),
        (("-v", "--verbose"), {"action": "store_true", "help": "debug logging"}),
    ]


def _stash_options() -> list[Argument]:
    """The Stash flags: where Stash answers and how to log in."""
    return [
        (
            ("--stash-url",),
            {
                "default": os.environ.get("STASH_URL", "http://127.0.0.1:9999"),
                "help": "Stash address (default: STASH_URL or http://127.0.0.1:9999)",
            },
        ),
        (
            ("--stash-api-key",),
            {
                "default": "",
                "help": "Stash API key if Stash needs a login; prefer --stash-api-key-file or "
                "STASH_API_KEY (a command line is visible to every user)",
            },
        ),
        (
            ("--stash-api-key-file",),
            {"metavar": "PATH", "help": "read the Stash API key from this file"},
        ),
    ]


def _plex_options() -> list[Argument]:
    """The Plex flags, which override the Plex settings saved in Stash."""
    return [
        (
            ("--plex-url",),
            {
                "default": os.environ.get("PLEX_URL", ""),
                "help": "Plex address (default: PLEX_URL, else Stash's plugin settings)",
            },
        ),
        (
            ("--plex-token",),
            {
                "default": "",
                "help": "Plex token (default: PLEX_TOKEN, else Stash's plugin settings); prefer "
                "--plex-token-file or PLEX_TOKEN (a command line is visible to every user)",
            },
        ),
        (("--plex-token-file",), {"metavar": "PATH", "help": "read the Plex token from this file"}),
    ]


def stash_connection(url: str, api_key: str) -> dict:
    """A server_connection like the one Stash gives plugins, for a given address."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    connection = {
        "Scheme": parts.scheme or "http",
        "Host": parts.hostname or "127.0.0.1",
        "Port": parts.port or (443 if parts.scheme == "https" else 9999),
    }
    if api_key:
        connection["ApiKey"] = api_key
    return connection


SECRETS = (("plex_token", "PLEX_TOKEN"), ("stash_api_key", "STASH_API_KEY"))


def read_secrets(args, parser: argparse.ArgumentParser) -> None:
    """Each secret from its file, else the command line (with a warning), else the
    environment; the result replaces the argument."""
    for name, variable in SECRETS:
        flag, path = "--" + name.replace("_", "-"), getattr(args, f"{name}_file")
        value = getattr(args, name)
        if path:
            try:
                value = Path(path).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeError) as exc:
                parser.error(f"{flag}-file {path}: {getattr(exc, 'strerror', None) or exc}")
        elif value:
            print(
                f"plexsync: warning: {flag} on the command line is visible to every user of "
                f"this machine (ps); use {flag}-file or the variable {variable} instead",
                file=sys.stderr,
            )
        else:
            value = os.environ.get(variable, "")
        setattr(args, name, value)


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "worker":
        from worker.background import main as worker_main

        return worker_main(args.worker_data_dir, args.standby, args.lock_fd)
    from logs import add_secret, redact, to_console

    read_secrets(args, parser)
    to_console(logging.DEBUG if args.verbose else logging.INFO)
    for secret in (args.plex_token, args.stash_api_key):
        add_secret(secret)
    try:
        result = _run(args, _context(args))
    except Exception as exc:  # the process boundary: one line, exit 1; the traceback with -v
        logging.getLogger("plexsync").debug("details", exc_info=exc)
        print(f"plexsync: {redact(str(exc)) or type(exc).__name__}", file=sys.stderr)
        return EXIT_ERROR
    print(redact(json.dumps(result, indent=2, default=str)))
    incomplete = result.get("failed") or result.get("retrying") or result.get("stopped")
    reports_only = args.command == "status" or getattr(args, "action", None) == "list"
    return EXIT_INCOMPLETE if incomplete and not reports_only else EXIT_OK


def _context(args):
    """Where the command runs: the plugin's data directory, Stash, the settings overrides."""
    from entry.context import Context
    from state.datadir import DataDir, resolve_data_dir

    connection = stash_connection(args.stash_url, args.stash_api_key)
    overrides = {
        key: value
        for key, value in (("plexUrl", args.plex_url), ("plexToken", args.plex_token))
        if value
    }
    return Context(
        DataDir(resolve_data_dir(None if args.data_dir else _stash_dir(connection), args.data_dir)),
        connection,
        overrides=overrides,
        show_progress=False,
        start_background=False,  # a cron job runs to completion and leaves nothing behind
        max_pause=args.max_wait,
    )


def _stash_dir(connection: dict) -> dict | None:
    """Stash's config folder, so the CLI shares the plugin's data directory (and its lock)."""
    if os.environ.get("PLEXSYNC_DATA_DIR"):
        return None
    from stash.client import StashClient
    from stash.errors import StashError, StashUnreachable
    from stash.quick import loopback, stash_base_url

    if not loopback(connection):  # it is sent the API key, and it picks where we write
        logging.getLogger("plexsync.cli").warning(
            "the data directory is the one the Stash at %s names, which is not on this "
            "machine (it is sent the API key too); give --data-dir or PLEXSYNC_DATA_DIR to "
            "choose it yourself",
            stash_base_url(connection),
        )

    try:
        stash = StashClient(connection, timeout=(2.0, 5.0))
        try:
            return {"Dir": stash.config_dir()}
        finally:
            stash.close()
    # What StashClient raises (its _guard turns every failure into one of these; a redirect
    # or refused credentials is a ConfigError). No Stash: the default folder, and the error
    # shows when Stash is needed.
    except (StashError, StashUnreachable, ConfigError):
        return None


def _run(args, ctx) -> dict:
    """Run the command's entry of the operation table."""
    from entry import operations

    op = operations.by_cli(command_words(args))
    given = {arg.name: getattr(args, arg.name, None) for arg in op.args if arg.help}
    return operations.run(op.name, {k: v for k, v in given.items() if v not in (None, False)}, ctx)


def command_words(args) -> tuple[str, ...]:
    """The words of the parsed command, as the operation table's `cli` spells them."""
    words = (args.command, getattr(args, "action", None) or getattr(args, "variant", None))
    return tuple(word for word in words if word)
