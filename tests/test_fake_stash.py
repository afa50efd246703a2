"""The fake Stash answers like Stash: proven over real HTTP, with requests and stashapi."""

from __future__ import annotations

import time
from datetime import timedelta, timezone

import pytest
import requests

from tests.rig.fake_stash import FakeStash, stand_in_cover
from tests.rig.real_schema import (
    MISSING_REASON,
    load_real_schema,
    subset_errors,
    validate_against_real_schema,
)

SCENE_FRAGMENT = "id title files { path size } studio { name } performers { name } tags { name }"
FIND_SCENES = """
query FindScenes($filter: FindFilterType, $scene_filter: SceneFilterType, $ids: [ID!]) {
  findScenes(filter: $filter, scene_filter: $scene_filter, ids: $ids) { count scenes { id } }
}"""
T0 = 1_790_000_000


class Clock:
    """A settable clock for FakeStash.clock."""

    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def assert_documents_valid_against_real_schema(stash: FakeStash) -> None:
    if load_real_schema() is None:
        return
    invalid = {
        doc: errors for doc in stash.documents() if (errors := validate_against_real_schema(doc))
    }
    assert not invalid, f"documents the fake accepted but real Stash would reject: {invalid}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stash(clock: Clock):
    with FakeStash(clock=clock) as fake:
        yield fake
        assert_documents_valid_against_real_schema(fake)


def post(
    stash: FakeStash, query: str, variables: dict | None = None, **kwargs
) -> requests.Response:
    """POST a document with the plugin's session cookie (unless headers are given)."""
    kwargs.setdefault("headers", {"Cookie": f"session={stash.session_cookie}"})
    return requests.post(stash.graphql_url, json={"query": query, "variables": variables}, **kwargs)


def data(response: requests.Response) -> dict:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def scene_ids(stash: FakeStash, scene_filter=None, **find) -> tuple[int, list[str]]:
    variables = {"filter": find or None, "scene_filter": scene_filter}
    result = data(post(stash, FIND_SCENES, variables))["findScenes"]
    return result["count"], [s["id"] for s in result["scenes"]]


# --- errors as gqlgen answers them ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ findScene(id: 1) { id }", None, "GRAPHQL_PARSE_FAILED"),
        ("{ findScene(id: 1) { no_such_field } }", None, "GRAPHQL_VALIDATION_FAILED"),
        (
            "query Q($f: FindFilterType) { findScenes(filter: $f) { count } }",
            {"f": {"page": "x"}},
            "GRAPHQL_VALIDATION_FAILED",
        ),  # fmt: skip
        ("query A { version { hash } } query B { version { hash } }", None, None),
        ("", None, "GRAPHQL_VALIDATION_FAILED"),
    ],
)
def test_invalid_documents_answer_422_with_errors(stash, query, variables, code) -> None:
    response = post(stash, query, variables)
    assert response.status_code == 422
    body = response.json()
    assert body["data"] is None and body["errors"][0]["message"]
    if code:
        assert body["errors"][0]["extensions"]["code"] == code
    assert stash.requests[-1].status == 422


def test_body_that_is_not_json_answers_400(stash) -> None:
    response = requests.post(
        stash.graphql_url, data=b"{nope", headers={"Cookie": f"session={stash.session_cookie}"}
    )
    assert response.status_code == 400 and response.json()["errors"]


def test_resolver_errors_answer_200_with_errors(stash) -> None:
    response = post(stash, FIND_SCENES, {"filter": {"sort": "no_such_sort"}})
    assert response.status_code == 200
    assert "invalid sort" in response.json()["errors"][0]["message"]


# --- authentication ------------------------------------------------------------------------------


def test_without_credentials_graphql_answers_401(stash) -> None:
    for headers in ({}, {"Cookie": "session=forged"}, {"ApiKey": "no key is set"}):
        response = post(stash, "{ version { version } }", headers=headers)
        assert response.status_code == 401
        assert response.content and response.headers["WWW-Authenticate"] == "FormBased"
        assert "Set-Cookie" not in response.headers


def test_without_a_live_cookie_a_cover_redirects_to_the_login_page_as_in_stash(stash) -> None:
    scene = stash.add_scene(title="A")
    url = f"{stash.url}/scene/{scene}/screenshot?t=5"
    redirect = requests.get(url, headers={"Cookie": "session=expired"}, allow_redirects=False)
    assert redirect.status_code == 302
    assert redirect.headers["Location"] == "/login?returnURL=%2Fscene%2F1%2Fscreenshot%3Ft%3D5"
    followed = requests.get(url)
    assert followed.status_code == 200 and followed.history[0].status_code == 302
    assert followed.headers["Content-Type"].startswith("text/html")
    assert requests.get(url, headers={"ApiKey": "wrong"}).status_code == 401


def test_each_cookie_request_refreshes_it_and_each_value_expires_from_its_issue(
    stash, clock
) -> None:
    stash.cookie_ttl = 10
    first = stash.session_cookie
    second = post(stash, "{ version { version } }").cookies["session"]
    assert second != first
    clock.advance(6)
    third = post(stash, "{ version { version } }", headers={"Cookie": f"session={second}"})
    third_value = third.cookies["session"]
    clock.advance(5)  # 11 s after the first two were issued, 5 s after the third

    def status(value: str) -> int:
        return post(
            stash, "{ version { version } }", headers={"Cookie": f"session={value}"}
        ).status_code

    assert (status(first), status(second), status(third_value)) == (401, 401, 200)


def test_go_reads_the_first_session_cookie_of_a_request(stash) -> None:
    live, dead = stash.session_cookie, "expired-or-forged"
    both = f"session={dead}; session={live}"
    assert post(stash, "{ version { version } }", headers={"Cookie": both}).status_code == 401
    both = f"session={live}; session={dead}"
    assert post(stash, "{ version { version } }", headers={"Cookie": both}).status_code == 200


def test_api_key_header_authenticates_and_a_wrong_key_wins_over_a_good_cookie() -> None:
    with FakeStash(api_key="secret-key") as stash:
        scene = stash.add_scene(title="A")
        query = "{ configuration { general { apiKey } } }"
        ok = post(stash, query, headers={"ApiKey": "secret-key"})
        assert data(ok)["configuration"]["general"]["apiKey"] == "secret-key"
        assert "Set-Cookie" not in ok.headers
        cookie = f"session={stash.session_cookie}"
        wrong = post(stash, query, headers={"ApiKey": "wrong", "Cookie": cookie})
        assert wrong.status_code == 401
        cover = requests.get(f"{stash.url}/scene/{scene}/screenshot?apikey=secret-key")
        assert cover.status_code == 200


def test_without_auth_no_credentials_are_needed() -> None:
    with FakeStash(require_auth=False) as stash:
        response = post(stash, "{ configuration { general { apiKey } } }", headers={})
        assert data(response)["configuration"]["general"]["apiKey"] == ""
        assert "Set-Cookie" not in response.headers


# --- stashapp-tools for real ---------------------------------------------------------------------


def test_stashapi_connects_with_server_connection_and_finds_scenes(stash, tmp_path) -> None:
    from stashapi.stashapp import StashInterface

    studio = stash.add_studio("Studio One")
    alice, bob = stash.add_performer("Alice"), stash.add_performer("Bob")
    tag = stash.add_tag("Outdoor")
    for n in range(1, 151):
        stash.add_scene(title=f"Scene {n}", files=[(f"/media/{n}.mp4", 1000 + n)])
    stash.update_scene("7", studio=studio, performers=[alice, bob], tags=[tag])

    conn = stash.server_connection(tmp_path / "plugin", tmp_path / "data")
    api = StashInterface(conn)

    assert [r.operation for r in stash.requests] == ["StashVersion", "getApiKey", None]
    assert "__schema" in stash.requests[2].query  # the full introspection
    assert api.find_scene(7, fragment=SCENE_FRAGMENT) == {
        "id": "7",
        "title": "Scene 7",
        "files": [{"path": "/media/7.mp4", "size": 1007}],
        "studio": {"name": "Studio One"},
        "performers": [{"name": "Alice"}, {"name": "Bob"}],
        "tags": [{"name": "Outdoor"}],
    }
    count, page = api.find_scenes(
        f={}, filter={"per_page": 100, "page": 2, "sort": "id"}, fragment="id", get_count=True
    )
    assert count == 150 and [s["id"] for s in page] == [str(n) for n in range(101, 151)]
    chosen = api.find_scenes(
        f={"performers": {"value": [bob], "modifier": "INCLUDES"}},
        filter={"per_page": -1, "sort": "id"},
        fragment=SCENE_FRAGMENT,
    )
    assert [s["id"] for s in chosen] == ["7"]
    assert api.find_scene(999, fragment="id") is None


# --- findScenes ----------------------------------------------------------------------------------


def test_paging_sorting_and_per_page_all(stash, clock) -> None:
    for n in (2, 10, 1):
        clock.advance(1)
        stash.add_scene(title=f"Scene {n}")
    clock.advance(1)
    untitled = stash.add_scene(files=[("/media/Scene 3.mp4", 5)])
    assert scene_ids(stash) == (4, ["3", "1", "4", "2"])  # title, natural order, basename
    assert scene_ids(stash, sort="title", direction="DESC")[1] == ["2", "4", "1", "3"]
    assert scene_ids(stash, sort="id", per_page=3, page=2) == (4, ["4"])
    assert scene_ids(stash, sort="id", per_page=-1)[1] == ["1", "2", "3", "4"]
    assert scene_ids(stash, sort="id", per_page=0)[1] == []
    clock.advance(1)
    stash.update_scene("1", details="edited")
    assert scene_ids(stash, sort="updated_at", direction="DESC")[1] == ["1", untitled, "3", "2"]
    for n in range(30):
        stash.add_scene(title=f"More {n}")
    assert len(scene_ids(stash, sort="id")[1]) == 25  # Stash's default page size
    assert scene_ids(stash, q="scene 1")[1] == ["3", "2"]  # every word, anywhere


def test_updated_at_greater_than_compares_the_text_stash_returned(stash, clock) -> None:
    old = stash.add_scene(title="old")
    clock.advance(60)
    new = stash.add_scene(title="new")
    watermark = stash.scene_updated_at(old)
    after = {"updated_at": {"value": watermark, "modifier": "GREATER_THAN"}}
    assert scene_ids(stash, after, sort="id")[1] == [new]
    clock.advance(60)
    stash.update_scene(old, title="old, edited")
    assert scene_ids(stash, after, sort="id")[1] == [old, new]
    between = {"modifier": "BETWEEN", "value": watermark, "value2": stash.scene_updated_at(new)}
    assert scene_ids(stash, {"created_at": between}, sort="id")[1] == [old, new]


def test_relations_organized_id_path_and_boolean_filters(stash) -> None:
    parent = stash.add_studio("Network")
    child = stash.add_studio("Channel", parent=parent)
    grandchild = stash.add_studio("Show", parent=child)
    root_tag = stash.add_tag("Place")
    sub_tag = stash.add_tag("Beach", parents=[root_tag])
    alice, bob = stash.add_performer("Alice"), stash.add_performer("Bob")
    s1 = stash.add_scene(
        studio=parent, performers=[alice], tags=[root_tag], files=[("/a/x.mp4", 1)]
    )
    s2 = stash.add_scene(studio=child, performers=[alice, bob], tags=[sub_tag], organized=True)
    s3 = stash.add_scene(studio=grandchild, files=[("/b/y.mp4", 1)])

    def ids(scene_filter: dict) -> list[str]:
        return scene_ids(stash, scene_filter, sort="id")[1]

    def studios(depth):
        return {"studios": {"value": [parent], "modifier": "INCLUDES", "depth": depth}}

    assert (ids(studios(None)), ids(studios(1)), ids(studios(-1))) == (
        [s1],
        [s1, s2],
        [s1, s2, s3],
    )
    assert ids({"tags": {"value": [root_tag], "modifier": "INCLUDES", "depth": -1}}) == [s1, s2]
    assert ids({"tags": {"value": [root_tag], "modifier": "INCLUDES"}}) == [s1]
    assert ids({"tags": {"modifier": "IS_NULL"}}) == [s3]
    assert ids({"performers": {"value": [alice, bob], "modifier": "INCLUDES_ALL"}}) == [s2]
    assert ids({"performers": {"value": [bob], "modifier": "EXCLUDES"}}) == [s1, s3]
    assert ids({"organized": True}) == [s2]
    assert ids({"id": {"value": 2, "value2": 3, "modifier": "BETWEEN"}}) == [s2, s3]
    assert ids({"path": {"value": "/b/", "modifier": "INCLUDES"}}) == [s3]
    assert ids({"organized": True, "OR": {"id": {"value": 1, "modifier": "EQUALS"}}}) == [s1, s2]
    assert ids({"NOT": {"organized": True}}) == [s1, s3]


def test_ids_bypass_filter_and_paging_and_one_missing_id_fails_the_query(stash) -> None:
    for n in range(5):
        stash.add_scene(title=f"S{n}")
    ids = {"ids": ["4", "2"], "filter": {"per_page": 1}, "scene_filter": {"organized": True}}
    assert data(post(stash, FIND_SCENES, ids))["findScenes"] == {
        "count": 2,
        "scenes": [{"id": "4"}, {"id": "2"}],
    }
    stash.delete_scene("2")
    body = post(stash, FIND_SCENES, ids).json()
    assert body["data"] is None and "scene with id 2 not found" in body["errors"][0]["message"]


# --- covers --------------------------------------------------------------------------------------


def test_screenshot_url_is_absolute_from_the_request_host_or_external_host(stash, clock) -> None:
    scene = stash.add_scene(title="A")
    query = f"{{ findScene(id: {scene}) {{ paths {{ screenshot }} }} }}"

    def screenshot(host: str | None = None) -> str:
        headers = {"Cookie": f"session={stash.session_cookie}"}
        if host:
            headers["Host"] = host
        return data(post(stash, query, headers=headers))["findScene"]["paths"]["screenshot"]

    first = screenshot()
    assert first == f"http://127.0.0.1:{stash.port}/scene/{scene}/screenshot?t={T0}"
    assert screenshot("stash.lan:9999") == f"http://stash.lan:9999/scene/{scene}/screenshot?t={T0}"
    stash.external_host = "https://stash.example.com"
    assert screenshot().startswith("https://stash.example.com/scene/")
    clock.advance(30)
    stash.set_cover(scene, b"\x89PNG fresh cover", bump=False)  # generated during a scan
    assert screenshot().endswith(f"?t={T0}")
    stash.set_cover(scene, b"\xff\xd8 user cover")  # a user's edit
    assert screenshot().endswith(f"?t={T0 + 30}")


def test_screenshot_serves_cover_bytes_with_auth_and_404_without_cover(stash) -> None:
    cookie = {"Cookie": f"session={stash.session_cookie}"}
    with_cover, without = stash.add_scene(title="A"), stash.add_scene(title="B", cover=None)
    response = requests.get(f"{stash.url}/scene/{with_cover}/screenshot?t=1", headers=cookie)
    assert response.status_code == 200 and response.content == stand_in_cover(int(with_cover))
    assert response.headers["Content-Type"] == "image/jpeg" and "Set-Cookie" in response.headers
    assert stand_in_cover(1) != stand_in_cover(2)
    url = f"{stash.url}/scene/{without}/screenshot"
    assert requests.get(url, headers=cookie).status_code == 404
    stash.default_cover = b"\x89PNG default"
    response = requests.get(url, headers=cookie)
    assert (response.status_code, response.headers["Content-Type"]) == (200, "image/png")
    assert requests.get(f"{stash.url}/scene/99/screenshot", headers=cookie).status_code == 404


# --- settings, time, store -----------------------------------------------------------------------


def test_plugin_settings_return_only_saved_plugins(stash) -> None:
    stash.plugin_settings = {"PlexSync": {"plexUrl": "http://plex:32400"}, "Other": {"x": 1}}
    stash.plugin_settings["Unsaved"] = {}
    query = "query FindPluginConfig($input: [ID!]){ configuration { plugins (include: $input) } }"
    plugins = data(post(stash, query, {"input": ["PlexSync", "Unsaved"]}))["configuration"]
    assert plugins["plugins"] == {"PlexSync": {"plexUrl": "http://plex:32400"}}
    everything = data(post(stash, "{ configuration { plugins } }"))["configuration"]["plugins"]
    assert set(everything) == {"PlexSync", "Other"}


def test_times_are_rfc3339_seconds_bumped_by_edits_but_not_by_renames(clock) -> None:
    with FakeStash(clock=clock, tz=timezone(timedelta(hours=1))) as stash:
        performer = stash.add_performer("Alice")
        scene = stash.add_scene(title="A", performers=[performer])
        created = stash.scene_updated_at(scene)
        assert created == "2026-09-21T15:13:20+01:00"
        clock.advance(90.7)
        stash.rename_performer(performer, "Alicia")
        stash.rename_studio(stash.add_studio("S"), "T")
        assert stash.scene_updated_at(scene) == created
        stash.update_scene(scene, title="B")
        query = f"{{ findScene(id: {scene}) {{ created_at updated_at performers {{ name }} }} }}"
        found = data(post(stash, query))["findScene"]
        assert found == {
            "created_at": created,
            "updated_at": "2026-09-21T15:14:50+01:00",
            "performers": [{"name": "Alicia"}],
        }
        clock.advance(-50)  # the wall clock stepped back; updated_at does not
        stash.update_scene(scene, title="C")
        assert stash.scene_updated_at(scene) == "2026-09-21T15:14:50+01:00"
        with pytest.raises(TypeError):
            stash.update_scene(scene, colour="red")


def test_server_connection_is_what_stash_writes(stash, tmp_path) -> None:
    conn = stash.server_connection(tmp_path / "plugin", tmp_path / "data")
    assert list(conn) == ["Scheme", "Host", "Port", "SessionCookie", "Dir", "PluginDir"]
    assert (conn["Scheme"], conn["Host"], conn["Port"]) == ("http", "0.0.0.0", stash.port)
    assert conn["SessionCookie"]["Name"] == "session"
    assert conn["SessionCookie"]["Value"] == "stash-session-1"
    assert conn["SessionCookie"]["Expires"] == "0001-01-01T00:00:00Z"
    assert conn["SessionCookie"]["Unparsed"] is None
    assert (conn["Dir"], conn["PluginDir"]) == (str(tmp_path / "data"), str(tmp_path / "plugin"))


# --- faults and log ------------------------------------------------------------------------------


def test_latency_delays_every_request(stash) -> None:
    stash.latency = 0.2
    started = time.monotonic()
    data(post(stash, "{ version { version } }"))
    assert time.monotonic() - started >= 0.2


def test_fail_for_a_count_or_for_seconds_then_recover(stash) -> None:
    query = "query V { version { version } }"
    stash.fail(503, count=2)
    assert [post(stash, query).status_code for _ in range(3)] == [503, 503, 200]
    stash.fail(500, seconds=0.2)
    assert post(stash, query).status_code == 500
    time.sleep(0.25)
    assert post(stash, query).status_code == 200
    stash.fail(502)
    assert post(stash, query).status_code == 502
    stash.heal()
    assert post(stash, query).status_code == 200
    assert [r.status for r in stash.requests][:3] == [503, 503, 200]
    assert stash.count("V") == len(stash.requests) == 7  # failed requests are logged in full
    assert stash.documents() == {query}


def test_down_refuses_and_cuts_kept_alive_connections_and_up_reuses_the_port(stash) -> None:
    session = requests.Session()
    session.headers["Cookie"] = f"session={stash.session_cookie}"
    url, port = stash.graphql_url, stash.port
    assert session.post(url, json={"query": "{ version { version } }"}).status_code == 200
    stash.down()
    for _ in range(2):  # first on the kept-alive connection, then on a new one
        with pytest.raises(requests.ConnectionError):
            session.post(url, json={"query": "{ version { version } }"}, timeout=2)
    stash.up()
    assert stash.port == port
    assert session.post(url, json={"query": "{ version { version } }"}).status_code == 200


def test_request_log_counts_operations_and_keeps_documents(stash) -> None:
    post(stash, "query StashVersion { version { version } }")
    post(stash, FIND_SCENES, {"filter": {"per_page": 1}})
    post(stash, "{ nope }")
    requests.get(f"{stash.url}/scene/1/screenshot", allow_redirects=False)
    assert (stash.count(), stash.graphql_requests) == (4, 3)
    assert (stash.count("StashVersion"), stash.count("FindScenes")) == (1, 1)
    record = stash.requests[1]
    assert (record.path, record.status, record.variables) == (
        "/graphql",
        200,
        {"filter": {"per_page": 1}},
    )
    assert stash.documents() == {"query StashVersion { version { version } }", FIND_SCENES}
    assert "{ nope }" in stash.documents(valid_only=False)
    stash.reset_log()
    assert stash.count() == 0 and stash.documents() == set()


# --- against Stash's real schema -----------------------------------------------------------------


@pytest.mark.skipif(load_real_schema() is None, reason=MISSING_REASON)
def test_schema_subset_is_faithful_to_the_real_schema(stash) -> None:
    assert subset_errors(stash._schema, load_real_schema()) == []


@pytest.mark.skipif(load_real_schema() is None, reason=MISSING_REASON)
def test_every_document_stashapi_and_tests_send_is_valid_against_the_real_schema(
    stash, tmp_path
) -> None:
    from stashapi.stashapp import StashInterface

    stash.add_scene(title="A", files=[("/m/a.mp4", 1)])
    api = StashInterface(stash.server_connection(tmp_path, tmp_path))
    api.find_scene(1, fragment=SCENE_FRAGMENT)
    api.find_scenes(f={}, filter={"per_page": 10, "sort": "id"}, fragment="id paths { screenshot }")
    api.find_plugin_config("PlexSync")
    api.get_configuration("general { apiKey }")
    assert len(stash.documents()) == 7
    for document in stash.documents():
        assert validate_against_real_schema(document) == [], document
    assert validate_against_real_schema("{ findScene(id: 1) { no_such_field } }")
