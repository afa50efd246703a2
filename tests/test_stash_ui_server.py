"""The rig that serves Stash's real web UI behaves as Stash's server does where the UI and
the plugin depend on it (no browser needed)."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request

import pytest

from tests.rig.stash_ui_server import BUILD, COLOR, MISSING_REASON, StashUIServer, available

pytestmark = pytest.mark.skipif(not available(), reason=MISSING_REASON)


@pytest.fixture
def ui(stash, runner):
    with StashUIServer(stash, runner, session="s-1") as server:
        yield server


def get(url, cookie=None, data=None):
    headers = {"Cookie": cookie} if cookie else {}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_plugin_files_are_the_manifests_ui_files_concatenated(ui, runner):
    status, headers, body = get(ui.url + "/plugin/PlexSync/javascript")
    names = runner.manifest.data["ui"]["javascript"]
    assert status == 200 and headers["Content-Type"] == "text/javascript"
    assert body == b"\n".join((runner.plugin_dir / n).read_bytes() for n in names)
    assert get(ui.url + "/plugin/PlexSync/css")[2].startswith(b"/* PlexSync")
    assert get(ui.url + "/plugin/plexsync")[0] == 404  # as Stash: reached in-app only


def test_static_files_and_client_routes(ui):
    status, _, page = get(ui.url + "/scenes/12")
    assert status == 200 and COLOR.encode() in page and b"%COLOR%" not in page
    packed = next(p for p in (BUILD / "assets").iterdir() if p.name.endswith(".js.gz"))
    status, headers, body = get(f"{ui.url}/assets/{packed.name[:-3]}")
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == gzip.decompress(packed.read_bytes())


def test_graphql_needs_the_browsers_session_and_runs_the_plugin(ui, stash):
    query = {"query": 'mutation { runPluginOperation(plugin_id: "PlexSync", args: {mode: "x"}) }'}
    data = json.dumps(query).encode()
    assert get(ui.url + "/graphql", data=data)[0] == 401
    status, _, body = get(ui.url + "/graphql", cookie="session=s-1", data=data)
    answer = json.loads(body)
    assert status == 200 and "unknown operation 'x'" in answer["errors"][0]["message"]
    assert [call.args for call in ui.graphql.operations()] == [{"mode": "x"}]


def test_configure_ui_round_trips(ui):
    write = {"query": "mutation { configureUI(input: {frontPageContent: []}) }"}
    read = {"query": "{ configuration { ui } }"}
    get(ui.url + "/graphql", "session=s-1", json.dumps(write).encode())
    body = get(ui.url + "/graphql", "session=s-1", json.dumps(read).encode())[2]
    assert json.loads(body)["data"]["configuration"]["ui"] == {
        "frontPageContent": [],
        "lastNoteSeen": 99999999,
    }
