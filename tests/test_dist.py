"""The plugin-manager package, built for real and run as Stash runs it, on a bare Python.

The zip is built once per session (`tools.build_dist`, from the wheels requirements-lock.txt
pins), unpacked into a temporary plugins folder and run by the StashRunner with the
interpreter of a virtual environment that holds nothing but the standard library: only the
zip's vendor/ can make the hook, the detached worker and the tasks work. Upgrades are done
the two ways they happen: as Stash's plugin manager does (delete the files the old zip
installed, unpack the new one) and by hand (delete the folder, unpack again).

Skipped, with pip's message, when pip cannot download the dependencies (no network), except
in CI (CI set), where that fails; PLEXSYNC_SKIP_DIST=1 skips on purpose. Linux only: the
detached worker is found in /proc.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from state.datadir import DataDir
from state.jobs import SceneJob
from state.lock import WorkerLock
from state.store import SCHEMA_VERSION, Store
from tests.conftest import ROOT, add_synced_pair
from tests.rig.stash_runner import StashRunner
from tools import build_dist

pytestmark = [
    pytest.mark.skipif(os.environ.get("PLEXSYNC_SKIP_DIST") == "1", reason="PLEXSYNC_SKIP_DIST=1"),
    pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux /proc"),
]

VENDORED = (
    "plexapi",
    "tenacity",
    "stashapi",
    "persistqueue",
    "requests",
    "urllib3",
    "idna",
    "certifi",
    "charset_normalizer",
)
NEXT_VERSION = "9.9.9-next"
SYNC_TIMEOUT = 20.0
# Variables that would let the dev venv's packages reach the bare interpreter.
LEAKY_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "VIRTUAL_ENV", "PLEXSYNC_DATA_DIR")


@dataclass(frozen=True)
class Built:
    zip_path: Path
    index_path: Path
    version: str


def _skip_without_wheels(message: str) -> None:
    """No wheels, no package: skip on a developer's offline machine, fail in CI (it has PyPI)."""
    reason = f"pip could not download the runtime dependencies (no network?): {message}"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> Built:
    """Version N, built in-process as `python3 dev.py dist` builds it."""
    out = tmp_path_factory.mktemp("dist")
    try:
        result = build_dist.build(out, log=lambda line: None)
    except build_dist.DownloadError as exc:
        _skip_without_wheels(str(exc))
    return Built(result.zip_path, result.index_path, result.release.version)


@pytest.fixture(scope="session")
def dist_next(tmp_path_factory, dist) -> Built:
    """Version N+1, built through the command line."""
    out = tmp_path_factory.mktemp("dist-next")
    command = [sys.executable, "-m", "tools.build_dist", "--out", str(out)]
    done = subprocess.run(
        [*command, "--version", NEXT_VERSION], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0 and "pip download failed" in done.stderr:
        _skip_without_wheels(done.stderr)
    assert done.returncode == 0, done.stderr
    assert "KiB" in done.stdout and "plexapi 4." in done.stdout, done.stdout
    return Built(out / "PlexSync.zip", out / "index.yml", NEXT_VERSION)


@pytest.fixture(scope="session")
def bare_python(tmp_path_factory) -> str:
    """A virtual environment's interpreter with the standard library only (no pip even)."""
    home = tmp_path_factory.mktemp("emptyvenv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home)], check=True)
    python = str(home / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_ENV}
    probe = f"import importlib.util as u; print([m for m in {VENDORED!r} if u.find_spec(m)])"
    found = subprocess.run([python, "-c", probe], env=env, capture_output=True, text=True)
    assert found.stdout.strip() == "[]", f"not an empty venv: {found.stdout}{found.stderr}"
    return python


@pytest.fixture
def clean_env(monkeypatch) -> None:
    """The runner passes os.environ on (as Stash does): nothing of the dev venv may leak."""
    for name in LEAKY_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def plugins(tmp_path, clean_env):
    """A Stash plugins folder; any PlexSync worker started from it is gone after the test."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    yield folder
    if not wait_for(lambda: not workers(folder), 10):
        for pid in workers(folder):  # a failed test can leave one probing an absent Plex
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not workers(folder), 5)


# -- helpers


def install(zip_path: Path, plugins_dir: Path) -> tuple[Path, list[str]]:
    """Unpack the package as Stash's plugin manager does; returns the folder and its files."""
    folder = plugins_dir / "PlexSync"
    with zipfile.ZipFile(zip_path) as archive:
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
        archive.extractall(folder)
    return folder, names


def uninstall(folder: Path, names: list[str]) -> None:
    """What the plugin manager deletes before unpacking an upgrade: exactly these files."""
    for name in names:
        (folder / name).unlink()


def workers(plugins_dir: Path) -> dict[int, list[str]]:
    """Live PlexSync worker processes started from this plugins folder: pid -> argv."""
    entry = str((plugins_dir / "PlexSync" / "plexsync.py").resolve())
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if entry in argv and "worker" in argv:  # a zombie's cmdline is empty
            found[int(proc.name)] = argv
    return found


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def wait_for(condition: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def runner(folder: Path, stash, python: str, tmp_path: Path, env: dict | None = None):
    connection = stash.server_connection(folder, tmp_path / "stash-config")
    return StashRunner(folder, connection, python=python, env=env)


def edit_title(run: StashRunner, stash, scene_id: str, title: str):
    """A title saved in Stash, and the hook Stash runs after it."""
    stash.update_scene(scene_id, title=title)
    result = run.run_hook(
        "Scene.Update.Post", int(scene_id), {"id": scene_id, "title": title}, ["id", "title"]
    )
    assert result.error is None, result.stderr_raw
    assert result.output == "queued" and not result.breaches, result.stderr_raw
    return result


def status(run: StashRunner) -> dict:
    result = run.run_task("status")
    assert result.error is None, result.stderr_raw
    assert not result.breaches, result.breaches
    return result.output


def worker_log(data: Path) -> str:
    path = data / "worker.log"
    return path.read_text(errors="replace")[-3000:] if path.exists() else "(no worker.log)"


# -- 1. the package


def test_index_describes_the_zip(dist) -> None:
    entries = yaml.safe_load(dist.index_path.read_text())
    manifest = yaml.safe_load((ROOT / "PlexSync.yml").read_text())
    assert isinstance(entries, list) and len(entries) == 1
    entry = entries[0]
    assert set(entry) == {"id", "name", "metadata", "version", "date", "path", "sha256"}
    assert (entry["id"], entry["name"], entry["path"]) == ("PlexSync", "PlexSync", "PlexSync.zip")
    assert entry["metadata"] == {"description": manifest["description"]}
    assert re.fullmatch(re.escape(manifest["version"]) + r"(-[0-9a-f]{7,}(-dirty)?)?", dist.version)
    assert entry["version"] == dist.version
    datetime.strptime(entry["date"], "%Y-%m-%d %H:%M:%S")  # Stash's pkg.TimeFormat
    assert entry["sha256"] == hashlib.sha256(dist.zip_path.read_bytes()).hexdigest()


def test_zip_holds_the_plugin_and_its_dependencies_only(dist) -> None:
    with zipfile.ZipFile(dist.zip_path) as archive:
        infos = archive.infolist()
        shipped_manifest = yaml.safe_load(archive.read("PlexSync.yml"))
    names = [info.filename for info in infos]
    assert names == sorted(names) and not any(info.is_dir() for info in infos)
    assert [n for n in names if n.lower().endswith((".yml", ".yaml"))] == ["PlexSync.yml"]
    assert not [n for n in names if re.search(r"(^|/)(tests?|__pycache__)/|\.py[co]$", n)]
    top = {name.split("/")[0] for name in names}
    expected_top = {
        "PlexSync.yml",
        "plexsync.py",
        "errors.py",
        "config.py",
        "logs.py",
        "setting_names.py",
        "LICENSE",
    }
    expected_top |= {"entry", "plex", "stash", "state", "worker", "vendor", "ui"} | (
        {"README.md"} if (ROOT / "README.md").exists() else set()
    )
    assert top == expected_top
    ours = [n for n in names if n.split("/")[0] in ("entry", "plex", "stash", "state", "worker")]
    assert all(n.endswith(".py") for n in ours)
    in_repo = {
        p.relative_to(ROOT).as_posix()
        for d in ("entry", "plex", "stash", "state", "worker")
        for p in (ROOT / d).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert set(ours) == in_repo
    ui = shipped_manifest["ui"]
    assert sorted(n for n in names if n.startswith("ui/")) == sorted(ui["javascript"] + ui["css"])
    vendored = {name.split("/")[1] for name in names if name.startswith("vendor/")}
    assert set(VENDORED) <= vendored  # stashapi has no __init__.py: a namespace package
    assert {(info.date_time, info.external_attr >> 16) for info in infos} == {
        (infos[0].date_time, 0o100644)
    }
    repo_manifest = yaml.safe_load((ROOT / "PlexSync.yml").read_text())
    assert shipped_manifest.pop("version") == dist.version
    repo_manifest.pop("version")
    assert shipped_manifest == repo_manifest


def test_same_commit_and_date_build_the_same_bytes(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1790000000")
    first = build_dist.build(tmp_path / "a", version="1.2.3", log=lambda line: None)
    second = build_dist.build(tmp_path / "b", version="1.2.3", log=lambda line: None)
    assert first.sha256 == second.sha256
    assert first.index_path.read_text() == second.index_path.read_text()
    assert 'date: "2026-09-21 14:13:20"' in first.index_path.read_text()


# -- 2. the zip on a bare Python


def test_hook_worker_and_status_run_from_the_zip_on_a_bare_python(
    dist, bare_python, plex, stash, plugins, tmp_path
) -> None:
    folder, _ = install(dist.zip_path, plugins)
    data = tmp_path / "data"
    [(scene_id, rating_key)] = add_synced_pair(stash, plex, 1)
    with runner(folder, stash, bare_python, tmp_path, {"PLEXSYNC_DATA_DIR": str(data)}) as run:
        hook = edit_title(run, stash, scene_id, "Renamed in Stash")
        assert hook.wall_time < 5
        assert wait_for(lambda: workers(plugins), 5), "the hook started no worker"
        for pid, argv in workers(plugins).items():  # it idles a while after its work
            assert argv[0] == bare_python  # the hook's own interpreter (sys.executable)
            env = environ_of(pid)
            assert env["PYTHONPATH"] == str(plugins) and "VIRTUAL_ENV" not in env
        synced = wait_for(lambda: plex.item(rating_key).title == "Renamed in Stash", SYNC_TIMEOUT)
        assert synced, f"the detached worker did not sync:\n{worker_log(data)}"
        result = status(run)
    assert {"worker", "pending", "failed"} <= set(result)
    assert (result["pending"], result["failed"], result["delayed"]) == (0, 0, 0)
    assert result["plex"]["reachable"] is True, result["plex"]
    assert result["synced_scenes"] == 1
    assert (data / "state.db").exists() and not list(folder.glob("*.db"))


# -- 3. upgrades keep queued work


def test_upgrade_and_reinstall_keep_queued_work(
    dist, dist_next, bare_python, plex, stash, plugins, tmp_path
) -> None:
    folder, installed = install(dist.zip_path, plugins)
    data = tmp_path / "stash-config" / "plexsync"  # the default: beside Stash's config
    (a, a_key), (b, b_key) = add_synced_pair(stash, plex, 2)
    plex.down()
    with runner(folder, stash, bare_python, tmp_path) as run:
        edit_title(run, stash, a, "A after the upgrade")
        assert wait_for(lambda: workers(plugins), 10), "the hook started no worker"
        time.sleep(0.5)  # let it find Plex away and pause
        for pid in workers(plugins):  # Stash restarts, the machine reboots...
            os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: not workers(plugins), 5)
        lock = WorkerLock(data / "worker.lock")
        assert wait_for(lock.acquire, 5)  # as if a worker ran: the hook only queues
        try:
            edit_title(run, stash, b, "B after the upgrade")
        finally:
            lock.release()
        before = status(run)
    assert (before["pending"], before["worker"], before["plex"]["reachable"]) == (2, "idle", False)

    uninstall(folder, installed)  # the plugin manager's upgrade to N+1
    leftovers = [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert leftovers == []
    install(dist_next.zip_path, plugins)
    with runner(folder, stash, bare_python, tmp_path) as run:
        assert run.manifest.data["version"] == NEXT_VERSION
        after_upgrade = status(run)
    assert (after_upgrade["pending"], after_upgrade["failed"]) == (2, 0)

    shutil.rmtree(folder)  # a reinstall by hand
    install(dist_next.zip_path, plugins)
    plex.up()
    with runner(folder, stash, bare_python, tmp_path) as run:
        assert status(run)["pending"] == 2
        edit_title(run, stash, a, "A after the upgrade")  # the next save starts a worker
        synced = wait_for(
            lambda: (
                (plex.item(a_key).title, plex.item(b_key).title)
                == ("A after the upgrade", "B after the upgrade")
            ),
            SYNC_TIMEOUT,
        )
        assert synced, f"the queued work was not synced:\n{worker_log(data)}"
        assert wait_for(lambda: not workers(plugins), 10)
        final = status(run)
    assert (final["pending"], final["delayed"], final["failed"]) == (0, 0, 0)


# -- 4. the data directory's schema


def _state_db(path: Path, version: str | None, meta_table: bool = True) -> None:
    """A state.db as an older (or newer) PlexSync left it, with one delayed retry."""
    db = sqlite3.connect(path)
    if meta_table:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    if version is not None:
        db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (version,))
    db.execute(
        "CREATE TABLE delayed (job_key TEXT PRIMARY KEY, job TEXT NOT NULL, due_at REAL NOT NULL,"
        " attempts INTEGER, first_failed_at REAL, error_class TEXT, last_error TEXT)"
    )
    db.execute("INSERT INTO delayed VALUES ('scene:7', '{\"scene_id\": 7}', 1.0, 1, 1.0, '', '')")
    db.commit()
    db.close()


@pytest.mark.parametrize(
    ("version", "meta_table"),
    [("0", True), (None, True), (None, False)],
    ids=["0", "no-row", "no-meta"],
)
def test_older_state_db_is_upgraded_in_place(tmp_path, version, meta_table) -> None:
    path = tmp_path / "state.db"
    _state_db(path, version, meta_table)
    with Store(path) as store:
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
        assert store.due(2.0) == [("scene:7", SceneJob(7, "", 0.0))]
    with Store(path) as store:  # opening again changes nothing
        assert store.get_meta("schema_version") == str(SCHEMA_VERSION)


def test_newer_state_db_is_refused_and_left_alone(tmp_path) -> None:
    data = DataDir(tmp_path / "data")
    _state_db(data.state_path, "99")
    with pytest.raises(RuntimeError, match=r"newer PlexSync \(schema 99\); upgrade the plugin"):
        data.open_store()
    assert [p.name for p in data.path.iterdir() if "corrupt" in p.name] == []
    db = sqlite3.connect(data.state_path)
    assert db.execute("SELECT value FROM meta").fetchall() == [("99",)]
    assert db.execute("SELECT COUNT(*) FROM delayed").fetchone() == (1,)
    db.close()


def test_zip_reports_a_newer_data_dir_clearly(dist, bare_python, stash, plugins, tmp_path) -> None:
    folder, _ = install(dist.zip_path, plugins)
    data = tmp_path / "data"
    data.mkdir()
    _state_db(data / "state.db", "99")
    with runner(folder, stash, bare_python, tmp_path, {"PLEXSYNC_DATA_DIR": str(data)}) as run:
        result = run.run_task("status")
    assert result.exit_code == 1 and not result.breaches, result.stderr_raw
    assert "newer PlexSync (schema 99); upgrade the plugin" in result.error
    assert "Traceback" not in result.stderr_raw
