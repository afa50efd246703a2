"""Starting the background worker from a hook, detached so Stash never waits for it.

The child gets its own session (no signal from Stash's process group reaches it) and none of
the hook's stdio: Stash waits for the hook's stdout to close, so an inherited stdout would
keep the save waiting. Stash's connection details (the session cookie is a credential) go
through a pipe, never the command line, which other users of the machine can read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ENTRY = Path(__file__).resolve().parent.parent / "plexsync.py"


def start_worker(data_dir: Path, server_connection: dict | None, standby: bool = False) -> None:
    """Start `plexsync.py worker` in the background and hand it the connection privately.

    A `standby` worker waits for the lock instead of giving up: a task starts one so that if
    Stash kills the task, the work it was doing is finished without anyone clicking again."""
    options: dict = {}
    if os.name == "nt":  # pragma: no cover - not run here
        options["creationflags"] = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        options["start_new_session"] = True
    child = subprocess.Popen(
        [sys.executable, str(ENTRY), "worker", "--data-dir", str(data_dir)]
        + (["--standby"] if standby else []),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        cwd=str(data_dir),
        **options,
    )
    child.stdin.write(json.dumps(server_connection or {}).encode())
    child.stdin.close()
