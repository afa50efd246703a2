"""The first run as the PlexSync page drives it: each step a `runPluginOperation`, run by
plexsync.py as Stash runs it, against the fake plex.tv, the fake Plex and the fake Stash."""

from __future__ import annotations

import json

import pytest

from plex.account import PLEX_TV_ENV
from tests.rig import tricky_library
from tests.rig.fake_plex import FakePlex
from tests.rig.fake_plextv import FakePlexTv
from tests.test_signin_cli import ACCOUNT, SERVER_TOKEN, TRICKY_MAP, dead_address


@pytest.fixture
def home():
    with FakePlex(token=SERVER_TOKEN, machine_identifier="home-machine", friendly_name="Home") as s:
        yield s


@pytest.fixture
def tv(home, monkeypatch):
    with FakePlexTv(account_token=ACCOUNT) as fake:
        fake.add_server("Home", "home-machine", SERVER_TOKEN,
                        [(dead_address(), True, False), (home.url, True, False)])  # fmt: skip
        monkeypatch.setenv(PLEX_TV_ENV, fake.url)  # the runner's plexsync.py inherits it
        yield fake


def op(runner, mode, **args):
    result = runner.run_operation({"mode": mode, **args})
    return result.output, result.error


def test_connect_choose_libraries_path_map_preview_then_sync_all(runner, stash, tv, home):
    stash.plugin_settings = {}
    tricky_library.install(stash, home)
    state, _ = op(runner, "overview")
    assert state["configured"] is False and state["plex_token"] == {"source": None}

    started, error = op(runner, "plex_link_start")
    assert error is None and started["link"] == "https://plex.tv/link"
    assert op(runner, "plex_link_poll")[0] == {
        "state": "waiting", "code": started["code"], "expires_in": pytest.approx(900, abs=30),
    }  # fmt: skip
    tv.link(started["code"])
    linked, error = op(runner, "plex_link_poll")
    assert error is None and linked["state"] == "linked"
    [server] = linked["servers"]
    assert (server["name"], server["answers"], server["address"]) == ("Home", True, home.url)
    assert SERVER_TOKEN not in json.dumps(linked) and ACCOUNT not in json.dumps(linked)

    chosen, error = op(runner, "plex_choose_server", server="home-machine")
    assert error is None and chosen == {"server": "Home", "machine": "home-machine",
                                        "address": home.url}  # fmt: skip
    libraries, _ = op(runner, "plex_libraries")
    assert libraries == {
        "libraries": [
            {"title": "Movies", "key": "1", "items": 17, "synced": True},
            {"title": "Home Videos", "key": "2", "items": 3, "synced": True},
        ],
        "all": True,
    }
    saved, _ = op(runner, "plex_save_libraries", libraries=["Movies", "Home Videos"])
    assert saved == {"plexLibraries": "(all)"} and stash.plugin_settings["PlexSync"] == {
        "plexLibraries": ""
    }

    proposal, error = op(runner, "path_map_discover")
    assert error is None and proposal["path_map"] == TRICKY_MAP
    assert [r["scenes"] for r in proposal["rules"]] == [5, 5, 5, 3]
    assert len(proposal["rules"][0]["examples"]) == 3
    applied, _ = op(runner, "path_map_apply", path_map=proposal["path_map"])
    assert stash.plugin_settings["PlexSync"]["pathMap"] == TRICKY_MAP == applied["pathMap"]

    preview, _ = op(runner, "sync_preview")
    assert (preview["would_write"], preview["not_in_plex"]) == (19, 2)
    assert runner.run_task("sync_all").error is None
    assert home.find_by_file("/mnt/clips/beach day.mp4").title == "Beach Day"
    state, _ = op(runner, "overview")
    assert state["configured"] and state["plex"]["reachable"] and state["synced_scenes"] == 19
    assert state["plex_token"]["source"] == "signed in with Plex"

    assert op(runner, "plex_disconnect")[0] == {"disconnected": True}
    assert op(runner, "overview")[0]["configured"] is False


def test_an_expired_code_is_an_error_the_page_shows_and_a_cancel_ends_the_wait(runner, tv):
    started, _ = op(runner, "plex_link_start")
    tv.expire(started["code"])
    _, error = op(runner, "plex_link_poll")
    assert f"The code {started['code']} expired before it was linked" in error
    _, error = op(runner, "plex_link_poll")
    assert "No sign-in is under way" in error
    op(runner, "plex_link_start")
    assert op(runner, "plex_link_cancel")[0] == {"cancelled": True}
    assert "No sign-in is under way" in op(runner, "plex_link_poll")[1]


def test_a_bad_path_map_is_refused_and_nothing_is_saved(runner, stash):
    before = dict(stash.plugin_settings["PlexSync"])
    _, error = op(runner, "path_map_apply", path_map="/data->/media")
    assert "is not stashPrefix=>plexPrefix" in error
    assert stash.plugin_settings["PlexSync"] == before


def test_an_unknown_library_is_refused(runner, stash):
    _, error = op(runner, "plex_save_libraries", libraries=["Nope"])
    assert "Plex has no movie library named 'Nope'" in error
    assert "plexLibraries" not in stash.plugin_settings["PlexSync"]
