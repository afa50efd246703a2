"""The first run on the command line, as a Docker user does it: `plexsync.py link`, `discover`,
`preview`, `sync-all`, against the fake plex.tv, the fake Plex and the fake Stash, each command a
real process; and each way it can go wrong ending in one clear line."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys

import pytest

from plex.account import PLEX_TV_ENV
from state.datadir import DataDir
from state.signin import stored_server
from tests.conftest import ROOT
from tests.rig import tricky_library
from tests.rig.fake_plex import FakePlex
from tests.rig.fake_plextv import FakePlexTv

ACCOUNT = "account-token-of-the-whole-plex-account"
SERVER_TOKEN = "token-of-the-home-server-only"
TRICKY_MAP = (
    "/data/Northlight Films=>/media/Northlight Films;/data/Cobalt Pictures=>/media/Cobalt "
    "Pictures;/data/Velvet Studios=>/media/Velvet Studios;\\\\NAS\\Clips=>/mnt/clips"
)


def dead_address() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def home():
    with FakePlex(
        token=SERVER_TOKEN, machine_identifier="home-machine", friendly_name="Home"
    ) as server:
        yield server


@pytest.fixture
def tv(home):
    with FakePlexTv(account_token=ACCOUNT) as fake:
        fake.add_server("Home", "home-machine", SERVER_TOKEN,
                        [(dead_address(), True, False), (home.url, True, False)])  # fmt: skip
        fake.add_server("Friend", "friend-machine", "token-of-a-friends-server",
                        [(dead_address(), False, False), (dead_address(), False, True)],
                        owned=False)  # fmt: skip
        yield fake


@pytest.fixture
def env(stash, tv):
    stash.require_auth = False
    stash.plugin_settings = {}  # a new user: nothing saved
    return {"STASH_URL": stash.url, PLEX_TV_ENV: tv.url}


def cli(env, data_dir, *args, timeout=90):
    return subprocess.run(
        [sys.executable, str(ROOT / "plexsync.py"), "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, timeout=timeout,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
    )  # fmt: skip


def link(env, data_dir, tv, *args, then=lambda code: None):
    """Run `link`, and once it shows a code do `then(code)` (link it, let it expire...)."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "plexsync.py"), "--data-dir", str(data_dir), "link", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
    )  # fmt: skip
    try:
        code = tv.wait_for_code(timeout=60)
        then(code)
        out, err = process.communicate(timeout=90)
    finally:
        process.kill()
    return process.returncode, out, err, code


def test_a_new_user_links_discovers_previews_and_syncs_from_the_command_line(
    env, tv, home, stash, tmp_path
):
    tricky_library.install(stash, home)
    data_dir = tmp_path / "data"
    status, out, err, code = link(env, data_dir, tv, then=tv.link)
    assert status == 0, err
    assert f"enter the code {code}" in err and "https://plex.tv/link" in err
    chosen = json.loads(out)
    assert chosen["server"] == "Home" and chosen["address"] == home.url  # the one that answers
    assert "'Friend' (shared): no address answers from this machine" in err
    stored = data_dir / "plex_signin.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert SERVER_TOKEN in stored.read_text() and ACCOUNT not in stored.read_text()
    assert ACCOUNT not in out + err and SERVER_TOKEN not in out + err

    state = json.loads(cli(env, data_dir, "status").stdout)
    assert state["configured"] and state["plex"]["reachable"]
    assert state["plex_token"]["source"] == "signed in with Plex"
    assert state["plex_token"]["server"] == "Home"

    proposal = cli(env, data_dir, "discover")
    assert proposal.returncode == 0, proposal.stderr
    found = json.loads(proposal.stdout)
    assert found["path_map"] == TRICKY_MAP and found["left"] == 2 and "saved" not in found
    assert "pathMap" not in stash.plugin_settings.get("PlexSync", {})
    applied = json.loads(cli(env, data_dir, "discover", "--apply").stdout)
    assert applied["saved"] == TRICKY_MAP == stash.plugin_settings["PlexSync"]["pathMap"]

    preview = json.loads(cli(env, data_dir, "preview").stdout)
    assert (preview["would_write"], preview["not_in_plex"], preview["already_match"]) == (19, 2, 0)
    example = preview["examples"]["would_write"][0]
    assert example["plex_title"] != example["stash_title"] and "title" in example["fields"]
    assert home.writes == 0  # a preview writes nothing

    synced = cli(env, data_dir, "sync-all")
    assert json.loads(synced.stdout)["written"] == 19, synced.stderr
    clip = home.find_by_file("/mnt/clips/beach day.mp4")
    assert clip.title == "Beach Day"
    assert home.find_by_file("/media/Extras/intro.mp4").title == "intro"  # Plex's other file
    again = json.loads(cli(env, data_dir, "preview").stdout)
    assert (again["would_write"], again["already_match"]) == (0, 19)

    assert {r.headers.get("X-Plex-Token") for r in home.requests} == {SERVER_TOKEN}
    assert tv.tokens_seen() == {ACCOUNT}  # the account token went to plex.tv and nowhere else

    assert json.loads(cli(env, data_dir, "disconnect").stdout) == {"disconnected": True}
    after = json.loads(cli(env, data_dir, "status").stdout)
    assert not after["configured"] and after["plex_token"] == {"source": None}


def test_an_expired_code_ends_in_one_clear_line(env, tv, tmp_path):
    status, out, err, code = link(env, tmp_path / "data", tv, then=tv.expire)
    assert status == 1 and out == ""
    assert f"The code {code} expired before it was linked at https://plex.tv/link" in err
    assert "Traceback" not in err


def test_plex_tv_refusing_the_account_ends_in_one_clear_line(env, tv, tmp_path):
    tv.fail(401, path_prefix="/api/v2/resources")
    status, _, err, _ = link(env, tmp_path / "data", tv, then=tv.link)
    assert status == 1 and "plex.tv refused the list of your servers (HTTP 401)" in err
    assert ACCOUNT not in err


def test_plex_tv_not_answering_ends_in_one_clear_line(env, tmp_path):
    result = cli({**env, PLEX_TV_ENV: dead_address()}, tmp_path / "data", "link")
    assert result.returncode == 1 and "plex.tv does not answer" in result.stderr
    assert result.stderr.count("\n") <= 2 and "Traceback" not in result.stderr


def test_a_server_none_of_whose_addresses_answers_ends_in_one_clear_line(env, tv, tmp_path):
    status, _, err, _ = link(env, tmp_path / "data", tv, "--server", "Friend", then=tv.link)
    assert status == 1
    assert "None of the addresses of Plex server 'Friend' answers from this machine" in err
    assert stored_server(DataDir(tmp_path / "data")) is None


def test_a_library_no_rule_explains_ends_in_one_clear_line(env, tv, home, stash, tmp_path):
    stash.add_scene(title="A", files=[("/data/one/a.mp4", 10)])
    home.add_section("Movies")
    home.add_item("1", "b", files=[("/media/two/b.mp4", 20)])
    data_dir = tmp_path / "data"
    assert link(env, data_dir, tv, then=tv.link)[0] == 0
    result = cli(env, data_dir, "discover")
    assert result.returncode == 1
    assert "No path map explains the paths: none of Stash's 1 scenes has a file" in result.stderr
    assert "Stash has e.g. /data/one/a.mp4; Plex has e.g. /media/two/b.mp4" in result.stderr
