"""Shared fixtures: the rig's fake Plex and fake Stash, a data directory, an installed plugin."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest

from tests.rig.fake_plex import FakePlex
from tests.rig.fake_stash import FakeStash
from tests.rig.stash_runner import StashRunner, install_plugin
from tests.rig.waiting import background_workers

ROOT = Path(__file__).resolve().parents[1]
PLEX_TOKEN = "plex-secret-token-0123456789"
SHARED = ROOT.parent / "shared"

os.environ["PLEXAPI_CONFIG_PATH"] = os.path.join(os.devnull, "none.ini")


@pytest.fixture
def plex():
    """A fake Plex with one movie section ("Movies", key 1) and nothing in it."""
    server = FakePlex(token=PLEX_TOKEN).start()
    server.add_section("Movies", key="1")
    yield server
    server.stop()


@pytest.fixture
def stash(plex):
    """A fake Stash whose saved PlexSync settings point at the fake Plex."""
    server = FakeStash().start()
    server.plugin_settings = {"PlexSync": {"plexUrl": plex.url, "plexToken": PLEX_TOKEN}}
    yield server
    server.stop()


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("PLEXSYNC_DATA_DIR", str(path))
    yield path
    # A worker still here is paused on the test's fake servers, which are gone: it would wait
    # out its 15 minutes beside the tests that follow.
    for pid in background_workers(path):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def ctx(stash, data_dir):
    """A task's context in this process, connected to the fake Stash, with no progress lines
    and no background worker: the test drives every retry itself."""
    from entry.context import Context  # the engine is imported by the tests that use it
    from state.datadir import DataDir

    return Context(
        DataDir(data_dir),
        stash.server_connection(data_dir, data_dir),
        show_progress=False,
        start_background=False,
    )


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (tests/rig/browser.py), one per test module; the browser tests skip
    first where it cannot run."""
    from tests.rig.browser import chromium

    with chromium() as running:
        yield running


@pytest.fixture
def plugin_dir(tmp_path) -> Path:
    """The repository installed into a temporary Stash plugins folder; PLEXSYNC_PLUGIN_SOURCE
    names another copy of the plugin to install instead (an older commit's, for screenshots
    of how it was: tests/rig/plugin_host/README.md)."""
    source = os.environ.get("PLEXSYNC_PLUGIN_SOURCE") or ROOT
    return install_plugin(source, tmp_path / "plugins", name="PlexSync")


@pytest.fixture
def runner(plugin_dir, stash, data_dir, tmp_path):
    """Runs plexsync.py exactly as Stash would, connected to the fake Stash."""
    connection = stash.server_connection(plugin_dir, tmp_path / "stash-config")
    with StashRunner(plugin_dir, connection, env={"PLEXSYNC_DATA_DIR": str(data_dir)}) as run:
        yield run


def add_synced_pair(stash: FakeStash, plex: FakePlex, n: int, root: str = "/media/videos"):
    """n scenes in Stash, each with a file that Plex also has; returns [(scene_id, rk)]."""
    pairs = []
    for i in range(n):
        path = f"{root}/Studio {i % 7}/scene-{i:05d}.mp4"
        scene_id = stash.add_scene(title=f"Scene {i}", files=[(path, 1000 + i)])
        rating_key = plex.add_item("1", f"scene-{i:05d}", files=[(path, 1000 + i)])
        pairs.append((scene_id, rating_key))
    return pairs
