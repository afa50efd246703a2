"""Starting the background worker from a hook, detached so Stash never waits for it.

The child gets its own session (no signal from Stash's process group reaches it) and none of
the hook's stdio: Stash waits for the hook's stdout to close, so an inherited stdout would
keep the save waiting. Stash's connection details (the session cookie is a credential) go
through a pipe, never the command line, which other users of the machine can read.
"""

from __future__ import annotations

import json
import os
import sys

from state.lock import LOCK_NAME, WorkerLock

TYPE_CHECKING = False  # the hook path imports no typing (entry/hook.py)
if TYPE_CHECKING:
    from os import PathLike

# os.path, not pathlib, on the whole hook path: pathlib imports urllib.parse and ipaddress,
# ~12 ms of CPU per hook measured here, a third of what the hook costs above the floor.
ENTRY = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "plexsync.py")
WORKER_NICE = 10


def start_worker_if_idle(data_dir: str | PathLike, server_connection: dict | None) -> bool:
    """Start a worker unless one runs; the lock passes straight from us to it.

    A lock that is held while no live process is noted as its holder belongs to a worker
    whose hook was killed while starting it, before it was handed Stash's connection: that
    worker leaves at once (background.main), so a standby worker follows it with ours."""
    lock = WorkerLock(os.path.join(data_dir, LOCK_NAME))
    if lock.acquire():
        start_worker(data_dir, server_connection, lock=lock)
        return True
    if not lock.orphaned():
        return False
    start_worker(data_dir, server_connection, standby=True)
    return True


def start_worker(
    data_dir: str | PathLike,
    server_connection: dict | None,
    standby: bool = False,
    lock: WorkerLock | None = None,
) -> int:
    """Start `plexsync.py worker` in the background and hand it the connection privately;
    returns its pid.

    With a held `lock`, the child inherits the locked descriptor. A `standby` worker waits
    for the lock instead: a task starts one so that if Stash kills the task, the work it was
    doing is finished without anyone clicking again."""
    import subprocess  # here, not at the top: most hooks find a worker running, start none

    command, options = _command(data_dir, standby, lock)
    child = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        cwd=os.fspath(data_dir),
        **options,
    )
    if lock is not None and lock.held:
        lock.hand_over(child.pid)
    assert child.stdin is not None  # stdin=PIPE
    child.stdin.write(json.dumps(server_connection or {}).encode())
    child.stdin.close()
    if not standby and os.name != "nt":  # a task's standby worker must be quick to leave
        _run_behind_stash(child.pid)
    return child.pid


def _command(data_dir: str | PathLike, standby: bool, lock: WorkerLock | None) -> tuple[list, dict]:
    """The worker's command line and Popen options: detached, and inheriting a held lock."""
    import subprocess

    command = [sys.executable, ENTRY, "worker", "--data-dir", os.fspath(data_dir)]
    options: dict = {}
    if lock is not None and os.name == "nt":  # pragma: no cover - no descriptor passing there
        lock.release()
    elif lock is not None:
        command += ["--lock-fd", str(lock.fd)]
        options["pass_fds"] = (lock.fd,)
    if standby:
        command.append("--standby")
    if sys.platform == "win32":  # pragma: no cover - not run here
        options["creationflags"] = subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        options["start_new_session"] = True
    return command, options


def _run_behind_stash(pid: int) -> None:
    """Give the worker a lower CPU priority than Stash and its hooks (best effort).

    Its own session puts it in its own scheduler autogroup on Linux, and autogroups share the
    CPU evenly: left alone, one worker starting up (its imports cost ~0.3 s of CPU) took as
    much CPU as Stash and all of a scan's hooks together, and 8 hooks started at once took
    twice as long. Stash waits for hooks, never for the worker, so the worker goes behind."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, WORKER_NICE)
        with open(f"/proc/{pid}/autogroup", "w", encoding="ascii") as group:
            group.write(str(WORKER_NICE))
    except OSError:  # no /proc or no autogroup here: the nice value is what there is
        pass
