"""plexsync.py fed bad input exactly as a process: one clear line, no traceback, nothing lost."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from state.jobs import SceneJob
from state.lock import WorkerLock
from state.queue import JobQueue
from tests.conftest import ROOT, add_synced_pair
from tests.rig.stash_runner import parse_stderr, parse_stdout
from tests.rig.waiting import wait_until

ENTRY = ROOT / "plexsync.py"


def run_raw(stdin: bytes, data_dir, timeout=20):
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(ENTRY)],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        env={"PLEXSYNC_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"},
        cwd=data_dir.parent,
    )
    return proc, time.monotonic() - started


GARBAGE = {
    "empty": b"",
    "not json": b"{this is not json",
    "a list": b"[1, 2, 3]",
    "no args": b'{"server_connection": {}}',
    "args not an object": b'{"server_connection": {}, "args": "sync"}',
    "unknown hook": b'{"args": {"hookContext": {"id": 1, "type": "Gallery.Update.Post"}}}',
    "hook without id": b'{"args": {"hookContext": {"type": "Scene.Update.Post"}}}',
    "unknown task": b'{"args": {"mode": "make_coffee"}}',
    "huge": b'{"args": {"x": "' + b"a" * (11 * 1024 * 1024) + b'"}}',
    "binary": bytes(range(256)) * 10,
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_bad_stdin_gets_one_clear_line_and_keeps_the_queue(name, tmp_path):
    data_dir = tmp_path / "data"
    with JobQueue(data_dir / "queue") as queue:
        queue.enqueue(SceneJob(5, "Scene.Update.Post", 1.0))
    proc, seconds = run_raw(GARBAGE[name], data_dir)
    output, error = parse_stdout(proc.stdout.decode())
    log = parse_stderr(proc.stderr)
    assert proc.returncode == 1 and error and output is None
    assert "Traceback" not in proc.stderr.decode(errors="replace")
    assert not log.unprefixed  # every stderr line carries Stash's level prefix
    assert len(error.splitlines()) == 1 and len(error) < 300
    assert seconds < 10
    assert JobQueue(data_dir / "queue").ready() == 1  # what was queued is still there


def test_the_hook_path_imports_neither_plexapi_nor_stashapi(tmp_path):
    data_dir = tmp_path / "data"
    payload = {
        "server_connection": {"Dir": str(tmp_path)},
        "args": {"hookContext": {"id": 3, "type": "Scene.Update.Post", "inputFields": ["title"]}},
    }
    code = (
        "import io, json, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        f"sys.stdin = io.StringIO({json.dumps(payload)!r})\n"
        "import entry.hook\n"
        "entry.hook.start_worker_if_idle = lambda *a: False  # the hook, not a worker\n"
        "from entry.plugin import run_from_stash\n"
        "run_from_stash(sys.stdin.read())\n"
        "heavy = {'plexapi', 'stashapi', 'requests', 'tenacity', 'urllib3'}\n"
        "print('\\n' + json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        timeout=20,
        env={"PLEXSYNC_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    first, loaded = proc.stdout.decode().strip().rsplit("\n", 1)
    assert json.loads(first) == {"output": "queued"}
    assert json.loads(loaded) == []


def test_a_scene_id_stash_does_not_know_is_dropped_with_a_log_line(runner, stash, plex, data_dir):
    add_synced_pair(stash, plex, 1)
    result = runner.run_hook("Scene.Update.Post", 987654, input_fields=["title"])
    assert result.output == "queued"
    wait_until(lambda: (data_dir / "worker.log").exists(), timeout=20)
    wait_until(lambda: not WorkerLock(data_dir / "worker.lock").running(), timeout=20)
    assert "scene 987654 is not in Stash any more" in (data_dir / "worker.log").read_text()
    assert runner.run_task("status").output["failed"] == 0


def test_task_errors_reach_stash_as_one_line(runner, stash, plex, data_dir):
    stash.plugin_settings = {"PlexSync": {"plexUrl": "not a url", "plexToken": "x"}}
    add_synced_pair(stash, plex, 1)
    result = runner.run_task("status")
    assert result.error is None
    assert result.output["configured"] is False
    assert "\"Plex server URL\" is 'not a url'" in result.output["plex"]["error"]
    assert result.breaches == []


def test_python_warnings_reach_stash_with_a_level_prefix(tmp_path):
    code = (
        f"import sys, warnings; sys.path.insert(0, {str(ROOT)!r})\n"
        "from logs import to_stash\n"
        "to_stash()\n"
        "warnings.warn('an insecure request, say')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=20)
    log = parse_stderr(proc.stderr)
    assert not log.unprefixed and any("insecure" in m for _, m in log.log)


def test_the_terminal_sign_in_is_refused_from_stash_at_once(runner, data_dir):
    """`link` waits for a person at a terminal; called through Stash it would hold the call
    for as long as a code lives, so Stash gets an error naming what to use instead."""
    started = time.monotonic()
    result = runner.run_operation({"mode": "link"}, timeout=30)
    assert time.monotonic() - started < 20
    assert result.output is None
    assert "command line" in result.error and "Connect to Plex" in result.error
