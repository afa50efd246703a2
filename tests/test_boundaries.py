"""Where exceptions stop: one broad except at each process top, a Deadline that
expires on the way out, operations recorded as they leave, and narrow catches elsewhere.

The process tops run in a subprocess: they install Stash's log handlers on the root logger.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest
import requests

from entry import operations
from entry.context import Context
from plex.client import ConnectionRetry, PlexClient
from plex.errors import PlexUnreachable
from plex.timeouts import Timeouts
from plex.transport import Deadline
from state.datadir import DataDir
from tests.conftest import PLEX_TOKEN, ROOT
from tests.rig.stash_runner import parse_stderr, parse_stdout


def run_python(script: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        timeout=60,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


# -- the process tops ---------------------------------------------------------------------


def test_a_bug_under_a_task_reaches_stash_as_one_redacted_line_with_a_debug_traceback():
    proc = run_python(
        """
        import logging, sys
        import logs, entry.plugin as plugin

        to_stash = logs.to_stash
        logs.to_stash = lambda level=logging.INFO: to_stash(logging.DEBUG)

        def bug(connection, args):
            raise RuntimeError("boom at http://user:secret@plex.local/")

        plugin._run_task = bug
        sys.exit(plugin.run_from_stash('{"server_connection": {}, "args": {"mode": "status"}}'))
        """
    )
    output, error = parse_stdout(proc.stdout.decode())
    log = parse_stderr(proc.stderr)
    assert proc.returncode == 1 and output is None
    assert error == "RuntimeError: boom at http://***@plex.local/"
    assert ("e", f"PlexSync failed: {error}") in log.log
    debug = [message for level, message in log.log if level == "d"]
    assert debug[:2] == ["details", "Traceback (most recent call last):"]
    assert any("in bug" in line for line in debug)
    assert "secret" not in proc.stderr.decode() + proc.stdout.decode()
    assert not log.unprefixed


def test_bad_input_stays_one_line_without_a_traceback(tmp_path):
    proc = run_python(
        """
        import sys, entry.plugin as plugin
        sys.exit(plugin.run_from_stash('{"server_connection": {}, "args": {"mode": "nope"}}'))
        """,
        env={"PLEXSYNC_DATA_DIR": str(tmp_path)},
    )
    output, error = parse_stdout(proc.stdout.decode())
    assert proc.returncode == 1 and output is None and error.startswith("unknown operation")
    assert parse_stderr(proc.stderr).log == [("e", f"PlexSync: {error}")]


def test_a_bug_under_a_cli_command_is_one_redacted_line_and_exit_1(tmp_path):
    proc = run_python(
        """
        import sys, entry.cli as cli

        def bug(args, ctx):
            raise RuntimeError("boom for the-plex-token-123")

        cli._run = bug
        sys.exit(cli.main(["--plex-url", "http://127.0.0.1:9", "status"]))
        """,
        env={"PLEXSYNC_DATA_DIR": str(tmp_path), "PLEX_TOKEN": "the-plex-token-123"},
    )
    assert proc.returncode == 1
    assert proc.stderr.decode().strip() == "plexsync: boom for ***"
    assert proc.stdout == b""


def test_an_unusable_data_dir_on_the_command_line_is_one_line_and_exit_1(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "plexsync.py"), "--data-dir", str(blocker / "data"), "status"],
        capture_output=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PLEXSYNC_DATA_DIR": str(blocker / "data")},
    )
    lines = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 1 and proc.stdout == b""
    assert len(lines) == 1 and "data directory" in lines[0] and "Traceback" not in lines[0]
    assert lines[0].startswith("plexsync: ")


def test_a_crashed_background_run_is_logged_with_its_traceback(tmp_path, monkeypatch, caplog):
    from worker import background

    def bug(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("worker.loop.worker_run", bug)
    with caplog.at_level(logging.ERROR, logger="plexsync.worker"):
        assert background._one_run(DataDir(tmp_path), {}, None, 0.0) == "crashed"
    (record,) = caplog.records
    assert record.getMessage().startswith("worker crashed; the queue is intact")
    assert record.exc_info[0] is RuntimeError and record.exc_info[2] is not None


def test_the_cli_uses_its_default_folder_when_stash_does_not_answer(monkeypatch):
    from entry.cli import _stash_dir

    monkeypatch.delenv("PLEXSYNC_DATA_DIR", raising=False)
    assert _stash_dir({"Scheme": "http", "Host": "127.0.0.1", "Port": 9}) is None


# -- a recorded operation ------------------------------------------------------------------


def _fails(ctx):
    raise RuntimeError("Plex went away")


def _counts(ctx):
    return {"written": 2, "path": "/not/shown"}


@pytest.mark.parametrize("target", ["_fails", "_counts"])
def test_a_recorded_operation_is_remembered_with_its_result_or_error(target, tmp_path, monkeypatch):
    from entry.ui_page import last_runs

    op = operations.Op("probe_op", f"tests.test_boundaries:{target}", "a test", recorded=True)
    monkeypatch.setitem(operations.OPERATIONS, op.name, op)
    ctx = Context(DataDir(tmp_path))
    if target == "_fails":
        with pytest.raises(RuntimeError, match="Plex went away"):
            operations.run(op.name, {}, ctx)
    else:
        assert operations.run(op.name, {}, ctx) == _counts(ctx)
    (run,) = last_runs(ctx)
    assert run["task"] == "probe_op"
    if target == "_fails":
        # the page shows it: the words, not the class (issue 23)
        assert run["error"] == "Plex went away" and "result" not in run
        assert run["said"] == "failed: Plex went away"
    else:
        assert run["result"] == {"written": 2} and "error" not in run
        assert run["said"] == "2 written."


# -- the Plex client -------------------------------------------------------------------------


def test_an_expired_deadline_turns_what_the_call_raised_into_unreachable():
    with pytest.raises(PlexUnreachable) as caught, Deadline(3.0, 1024, "item 7") as deadline:
        deadline.expire()  # as the watchdog does: the socket is cut, the read fails
        raise requests.exceptions.ChunkedEncodingError("cut")
    assert str(caught.value) == "Plex did not finish answering item 7 within 3 s"
    assert caught.value.__suppress_context__  # the cut socket's error is no news


def test_a_deadline_changes_nothing_else():
    with pytest.raises(KeyError), Deadline(3.0, 1024, "item 7"):
        raise KeyError("title")  # not expired: goes on as it is
    with Deadline(3.0, 1024, "item 7") as deadline:
        deadline.expire()  # expired, but the call finished: its answer stands
    assert deadline.expired


def test_a_bug_inside_a_plex_call_goes_on_untranslated(plex):
    client = PlexClient(plex.url, PLEX_TOKEN, Timeouts(connect=1.0, read=2.0), ConnectionRetry())
    bug = KeyError("title")

    def fn(timeout):
        raise bug

    with pytest.raises(KeyError) as caught:
        client._call("item 1", fn, client.timeouts.request())
    assert caught.value is bug and caught.value.__cause__ is None
    assert client.requests_made == 1  # not retried as a blip
    client.close()
