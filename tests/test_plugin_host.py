"""The plugin host's server answers as Stash's does where a UI plugin depends on it (no browser
needed): the plugin's files, the 404 for a plugin route, the Content-Security-Policy, /graphql."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import graphql
import pytest

from tests.rig.plugin_host.api import host_schema
from tests.rig.plugin_host.server import (
    MISSING_REASON,
    NODE_MODULES,
    PluginHost,
    content_security_policy,
    installed,
)
from tests.rig.real_schema import MISSING_REASON as NO_REAL_SCHEMA
from tests.rig.real_schema import load_real_schema, subset_errors


@pytest.fixture
def host(stash, runner):
    with PluginHost(stash, runner, session="s-1") as server:
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


def graphql_post(host, document, cookie="session=s-1"):
    status, _, body = get(host.url + "/graphql", cookie, json.dumps({"query": document}).encode())
    return status, json.loads(body)


def test_plugin_files_are_the_manifests_ui_files_concatenated(host, runner):
    status, headers, body = get(host.url + "/plugin/PlexSync/javascript")
    names = runner.manifest.data["ui"]["javascript"]
    assert len(names) > 1
    assert status == 200 and headers["Content-Type"] == "text/javascript"
    assert body == b"\n".join((runner.plugin_dir / n).read_bytes() for n in names)
    assert get(host.url + "/plugin/PlexSync/css")[2].startswith(b"/* PlexSync")
    assert get(host.url + "/plugin/plexsync")[0] == 404  # as Stash: reached in-app only
    assert get(host.url + "/plugin/Other/javascript")[0] == 404


def test_client_routes_answer_the_page_with_stashs_policy(host):
    status, headers, page = get(host.url + "/scenes/12")
    assert status == 200 and b'<div id="root">' in page
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self' 'unsafe-inline' 'unsafe-eval';" in policy
    assert "object-src 'none';" in policy and "connect-src 'self' ws: wss:;" in policy
    assert get(host.url + "/scenes/missing.png")[0] == 404


def test_a_manifests_csp_widens_three_directives():
    policy = content_security_policy(
        {"connect-src": ["https://plex.tv"], "script-src": ["https://cdn.example"]}
    )
    assert "connect-src 'self' ws: wss: https://plex.tv;" in policy
    assert "script-src 'self' 'unsafe-inline' 'unsafe-eval' https://cdn.example;" in policy
    assert "default-src 'self';" in policy  # the others stay as Stash sends them


@pytest.mark.skipif(not installed(), reason=MISSING_REASON)
def test_libraries_come_from_node_modules_and_nothing_else(host):
    status, headers, body = get(host.url + "/lib/react/umd/react.production.min.js")
    assert status == 200 and headers["Content-Type"] == "text/javascript"
    assert body == (NODE_MODULES / "react/umd/react.production.min.js").read_bytes()
    assert get(host.url + "/lib/../server.py")[0] == 404
    assert get(host.url + "/lib/%2e%2e/server.py")[0] == 404
    assert get(host.url + "/host/../api.py")[0] == 404


def test_graphql_needs_the_browsers_session_and_runs_the_plugin(host):
    document = 'mutation { runPluginOperation(plugin_id: "PlexSync", args: {mode: "x"}) }'
    assert get(host.url + "/graphql", data=json.dumps({"query": document}).encode())[0] == 401
    status, answer = graphql_post(host, document)
    assert status == 200 and "unknown operation 'x'" in answer["errors"][0]["message"]
    assert [call.args for call in host.graphql.operations()] == [{"mode": "x"}]


def test_graphql_answers_scenes_from_the_fake_stash_and_lists_the_plugin(host, stash):
    scene_id = stash.add_scene(title="On the card", files=[("/m/a.mp4", 5)])
    status, answer = graphql_post(
        host,
        "{ findScenes(filter: {per_page: 40}) { count scenes { id title paths { screenshot } } }"
        " plugins { id paths { javascript css } } }",
    )
    assert status == 200 and "errors" not in answer
    [scene] = answer["data"]["findScenes"]["scenes"]
    assert scene["id"] == scene_id and scene["title"] == "On the card"
    assert scene["paths"]["screenshot"].startswith(f"{host.url}/scene/{scene_id}/screenshot")
    paths = {"javascript": ["/plugin/PlexSync/javascript"], "css": ["/plugin/PlexSync/css"]}
    assert answer["data"]["plugins"] == [{"id": "PlexSync", "paths": paths}]
    assert "errors" in graphql_post(host, "{ findScenes { nonsense } }")[1]  # validated


def test_the_hosts_schema_is_a_subset_of_stashs(stash):
    real = load_real_schema()
    if real is None:
        pytest.skip(NO_REAL_SCHEMA)
    ours = host_schema(stash)
    assert isinstance(ours.mutation_type.fields["runPluginTask"], graphql.GraphQLField)
    assert subset_errors(ours, real) == []
