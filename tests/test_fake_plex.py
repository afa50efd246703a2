"""The fake Plex server, exercised through the real plexapi and requests (no mocks)."""

import json
import os
import re
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote, urlencode

# plexapi reads its config file at import time: point it at a file that does not exist.
os.environ["PLEXAPI_CONFIG_PATH"] = str(Path(tempfile.gettempdir()) / "no-such-plexapi.ini")

import pytest  # noqa: E402
import requests  # noqa: E402
from plexapi.exceptions import BadRequest, NotFound, Unauthorized  # noqa: E402
from plexapi.server import PlexServer  # noqa: E402

from tests.rig.fake_plex import FakePlex  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "plex-reference"


@pytest.fixture
def fake():
    with FakePlex() as server:
        yield server
        assert server.errors == [], "the fake failed to answer a request"


@pytest.fixture
def lib(fake):
    """Sections: 1 Movies, 2 Other Videos (agent none), 3 Windows paths, 4 TV Shows."""
    fake.add_section("Movies", locations=["/data/movies"])
    fake.add_section("Other Videos", agent="tv.plex.agents.none", locations=["/data/clips"])
    fake.add_section("Windows", locations=["C:\\Videos"])
    fake.add_section("TV Shows", kind="show", agent="tv.plex.agents.series")
    return fake


@pytest.fixture
def plex(fake):
    server = PlexServer(fake.url, fake.token, timeout=(2, 5))
    yield server
    server._session.close()


def raw(fake, path, method="GET", headers=None, **kwargs):
    """A plain request with the token, for checks below plexapi."""
    headers = {"X-Plex-Token": fake.token, **(headers or {})}
    return requests.request(method, fake.url + path, headers=headers, timeout=5, **kwargs)


def xml(response):
    assert response.status_code == 200, response.text
    return ET.fromstring(response.content)


# ---- connecting, sections, token -------------------------------------------------------------


def test_connect_reads_identity(fake, plex):
    assert plex.machineIdentifier == "fake-machine-1"
    assert plex.friendlyName == "Fake Plex"
    assert plex.version == "1.41.0.0"
    assert fake.count("GET", "/") == 1
    assert fake.requests[0].headers["X-Plex-Token"] == fake.token


def test_wrong_or_missing_token_is_401_with_html(fake):
    with pytest.raises(Unauthorized):
        PlexServer(fake.url, "wrong-token", timeout=2)
    bare = requests.get(fake.url + "/library/sections", timeout=2)
    assert bare.status_code == 401
    assert "<h1>401 Unauthorized</h1>" in bare.text
    by_query = requests.get(f"{fake.url}/library/sections?X-Plex-Token={fake.token}", timeout=2)
    assert by_query.status_code == 200
    lower = requests.get(fake.url + "/", headers={"x-plex-token": fake.token}, timeout=2)
    assert lower.status_code == 200
    identity = xml(requests.get(fake.url + "/identity", timeout=2))  # PMS needs no token here
    assert identity.get("machineIdentifier") == "fake-machine-1"


def test_sections_are_listed_with_agent_and_locations(lib, plex):
    sections = {s.title: s for s in plex.library.sections()}
    assert sorted(sections) == ["Movies", "Other Videos", "TV Shows", "Windows"]
    assert sections["Movies"].type == "movie"
    assert sections["Movies"].agent == "tv.plex.agents.movie"
    assert sections["Other Videos"].agent == "tv.plex.agents.none"
    assert sections["Windows"].locations == ["C:\\Videos"]
    assert sections["TV Shows"].type == "show"
    assert plex.library.sectionByID(2).title == "Other Videos"
    assert lib.add_section("Extra", key=17) == "17"
    with pytest.raises(ValueError):
        lib.add_section("Again", key="17")


def test_show_section_answers_directories(lib, plex):
    lib.add_item("4", "Some Show")
    shows = plex.library.section("TV Shows").all()
    assert [s.TYPE for s in shows] == ["show"]
    root = xml(raw(lib, "/library/sections/4/all?type=2"))
    assert [e.tag for e in root] == ["Directory"]
    assert xml(raw(lib, "/library/sections/4/all?type=1")).get("totalSize") == "0"


# ---- listing and paging ----------------------------------------------------------------------


def test_section_of_2500_items_pages_completely(lib, plex):
    keys = {
        lib.add_item("1", f"Movie {n:04d}", files=[(f"/data/movies/m{n}.mkv", n)])
        for n in range(2500)
    }
    section = plex.library.section("Movies")
    assert {str(m.ratingKey) for m in section.all()} == keys
    assert lib.count("GET", "/library/sections/1/all") == 25  # plexapi's default page is 100
    lib.reset_log()
    items = section.search(container_size=1000)
    assert len(items) == 2500 and {str(m.ratingKey) for m in items} == keys
    pages = [r for r in lib.requests if r.path == "/library/sections/1/all"]
    assert [r.headers["X-Plex-Container-Start"] for r in pages] == ["0", "1000", "2000"]
    assert all(r.headers["X-Plex-Container-Size"] == "1000" for r in pages)
    assert {p.file for m in items for p in m.iterParts()} == {
        f"/data/movies/m{n}.mkv" for n in range(2500)
    }


def test_paging_by_headers_or_query(lib):
    for n in range(12):
        lib.add_item("1", f"T{n:02d}", files=[(f"/data/movies/{n}.mp4", 10)])
    by_headers = {"X-Plex-Container-Start": "10", "X-Plex-Container-Size": "5"}
    root = xml(raw(lib, "/library/sections/1/all?type=1", headers=by_headers))
    assert (root.get("size"), root.get("totalSize"), root.get("offset")) == ("2", "12", "10")
    assert [v.get("title") for v in root] == ["T10", "T11"]
    query = "/library/sections/1/all?type=1&X-Plex-Container-Start=3&X-Plex-Container-Size=4"
    root = xml(raw(lib, query))
    assert (root.get("size"), root.get("totalSize"), root.get("offset")) == ("4", "12", "3")
    assert [v.get("title") for v in root] == ["T03", "T04", "T05", "T06"]
    root = xml(raw(lib, "/library/sections/1/all", headers={"X-Plex-Container-Start": "50"}))
    assert (root.get("size"), root.get("totalSize")) == ("0", "12")
    root = xml(raw(lib, "/library/sections/1/all"))  # unpaged: everything, still with totalSize
    assert (root.get("size"), root.get("totalSize"), root.get("offset")) == ("12", "12", "0")


def test_listing_cuts_tag_lists_but_metadata_has_them_all(lib, plex):
    rk = lib.add_item(
        "1",
        "Tagged",
        files=[("/data/movies/t.mp4", 1)],
        genres=["G1", "G2", "G3", "G4"],
        actors=["A1", "A2", "A3", "A4", "A5"],
        labels=["L1", "L2", "L3"],
        collections=["C1", "C2"],
    )
    listed = plex.library.section("Movies").all()[0]
    assert [g.tag for g in listed.genres] == ["G1", "G2"]
    assert [r.tag for r in listed.roles] == ["A1", "A2", "A3"]
    assert [lbl.tag for lbl in listed.labels] == ["L1", "L2", "L3"]
    full = plex.fetchItem(int(rk))
    assert [g.tag for g in full.genres] == ["G1", "G2", "G3", "G4"]
    assert [r.tag for r in full.roles] == ["A1", "A2", "A3", "A4", "A5"]
    assert [c.tag for c in full.collections] == ["C1", "C2"]
    assert all(g.id and g.filter == f"genre={g.id}" for g in full.genres)
    lib.listing_tag_limits["Genre"] = None
    assert len(plex.library.section("Movies").all()[0].genres) == 4


def test_fetch_item_shows_fields_locks_and_media(lib, plex):
    rk = lib.add_item(
        "1",
        "Full",
        files=[("/data/movies/full.mkv", 4_000_000)],
        summary="Sum",
        studio="Studio X",
        originallyAvailableAt="2021-03-04",
        genres=["Drama"],
        userRating=7,
        locked=["title"],
    )
    lib.set_field(rk, "genre", ["Drama", "Noir"], locked=True)
    movie = plex.fetchItem(int(rk))
    assert (movie.title, movie.summary, movie.studio, movie.year) == (
        "Full",
        "Sum",
        "Studio X",
        2021,
    )
    assert movie.originallyAvailableAt.strftime("%Y-%m-%d") == "2021-03-04"
    assert movie.userRating == 7.0
    assert movie.librarySectionID == 1 and movie.librarySectionTitle == "Movies"
    assert movie.isLocked("title") and movie.isLocked("genre") and not movie.isLocked("summary")
    assert [p.file for p in movie.iterParts()] == ["/data/movies/full.mkv"]
    assert movie.media[0].parts[0].size == 4_000_000
    with pytest.raises(NotFound):
        plex.fetchItem(999999)
    both = plex.fetchItems([int(rk), 999999])
    assert [m.title for m in both] == ["Full"]


def test_several_media_and_stacked_parts(lib, plex):
    rk = lib.add_item(
        "2",
        "Clip",
        media=[
            [("/data/clips/c.cd1.mp4", 10), ("/data/clips/c.cd2.mp4", 20)],
            [("/data/clips/Plex Versions/c.mp4", 5)],
        ],
    )
    clip = plex.fetchItem(int(rk))
    assert [[p.file for p in m.parts] for m in clip.media] == [
        ["/data/clips/c.cd1.mp4", "/data/clips/c.cd2.mp4"],
        ["/data/clips/Plex Versions/c.mp4"],
    ]
    assert [[p.size for p in m.parts] for m in clip.media] == [[10, 20], [5]]
    assert clip.TYPE == "movie" and clip._data.get("subtype") == "clip"
    assert lib.find_by_file("/data/clips/c.cd2.mp4").rating_key == rk
    assert lib.find_by_file("/data/clips/nope.mp4") is None


def test_file_filter_is_a_case_insensitive_directory_superset(lib, plex):
    a = lib.add_item("1", "A", files=[("/data/movies/Set/a.mp4", 1)])
    b = lib.add_item("1", "B", files=[("/data/movies/set/b.mp4", 1)])
    lib.add_item("1", "C", files=[("/data/movies/other/c.mp4", 1)])
    w = lib.add_item("3", "W", files=[("C:\\Videos\\Stuff\\W.mp4", 1)])
    lib.add_item("3", "V", files=[("C:\\Videos\\v.mp4", 1)])

    def by_file(section, path):
        found = plex.fetchItems(f"/library/sections/{section}/all?type=1&file={quote(path)}")
        return sorted(str(m.ratingKey) for m in found)

    assert by_file(1, "/data/movies/SET/a.mp4") == sorted([a, b])
    assert by_file(3, "c:\\videos\\stuff\\w.MP4") == [w]


def test_time_filters_and_switch(lib):
    old = lib.add_item("1", "Old", files=[("/data/movies/o.mp4", 1)], addedAt=1_600_000_000)
    new = lib.add_item(
        "1",
        "New",
        files=[("/data/movies/n.mp4", 1)],
        addedAt=1_700_000_000,
        updatedAt=1_750_000_000,
    )

    def listed(query):
        return [
            v.get("ratingKey") for v in xml(raw(lib, "/library/sections/1/all?type=1&" + query))
        ]

    assert listed("updatedAt>>=1700000000") == [new]
    assert listed(urlencode({"addedAt>>": 1_650_000_000})) == [new]  # key sent percent-encoded
    assert listed(urlencode({"addedAt>>=": 1_650_000_000})) == [new]
    assert listed("addedAt<<=1650000000") == [old]
    assert listed("updatedAt>>=-1d") == []
    assert listed("sort=addedAt:desc") == [new, old]
    lib.honour_time_filters = False
    assert sorted(listed("updatedAt>>=1700000000")) == sorted([old, new])


# ---- edits -----------------------------------------------------------------------------------


def test_batch_edits_replace_fields_locks_and_tags(lib, plex):
    rk = lib.add_item(
        "1",
        "Before",
        files=[("/data/movies/b.mp4", 1)],
        summary="old",
        genres=["Action", "Drama", "Noir"],
        updatedAt=1_600_000_000,
    )
    movie = plex.fetchItem(int(rk))
    lib.reset_log()
    movie.batchEdits()
    movie.editTitle("Zoë & <After>").editSummary("new summary\nline 2").addGenre("Sci, Fi")
    movie.removeGenre("Drama")
    movie.saveEdits()
    assert lib.count("PUT") == 1 and lib.writes == 1  # (plexapi also read /library/sections)
    put = lib.requests[-1]
    assert (put.method, put.path, put.query["id"]) == ("PUT", "/library/sections/1/all", [rk])
    assert put.query["genre[3].tag.tag"] == ["Sci, Fi"] and put.query["title.locked"] == ["1"]
    state = lib.item(rk)
    assert (state.title, state.summary) == ("Zoë & <After>", "new summary\nline 2")
    assert state.genres == ["Action", "Noir", "Sci, Fi"]
    assert {"title", "summary", "genre"} <= state.locked
    assert state.updated_at > 1_600_000_000
    movie.reload()
    assert movie.title == "Zoë & <After>" and movie.summary == "new summary\nline 2"
    assert movie.isLocked("genre")
    movie.editSummary("", locked=False)  # an empty value clears, locked=0 unlocks
    assert lib.item(rk).summary == "" and "summary" not in lib.item(rk).locked


def test_add_genre_on_a_listed_item_merges_the_truncated_list(lib, plex):
    rk = lib.add_item("1", "X", files=[("/data/movies/x.mp4", 1)], genres=["A", "B", "C", "D"])
    listed = plex.library.section("Movies").all()[0]
    listed.addGenre("E")  # plexapi merges with the 2 genres the listing showed
    assert lib.item(rk).genres == ["A", "B", "E"]


def test_raw_edit_syntax_actor_removal_and_clears(lib, plex):
    rk = lib.add_item(
        "1",
        "Raw",
        files=[("/data/movies/r.mp4", 1)],
        studio="S",
        originallyAvailableAt="2020-01-01",
        labels=["x", "y,z", "w"],
        actors=["Old Actor"],
        collections=["Col"],
    )
    params = {
        "type": 1,
        "id": rk,
        "actor[0].tag.tag": "Ann",
        "actor[1].tag.tag": "Bob",
        "actor.locked": 1,
        "label[].tag.tag-": ",".join(quote(t) for t in ["y,z", "w"]),
        "collection[].tag": "",
        "studio.value": "",
        "originallyAvailableAt.value": "",
        "tagline.value": "Tag line",
        "titleSort.value": "Raw, The",
    }
    raw(lib, "/library/sections/1/all?" + urlencode(params), "PUT").raise_for_status()
    state = lib.item(rk)
    assert state.actors == ["Ann", "Bob"] and "actor" in state.locked
    assert state.labels == ["x"] and state.collections == []
    assert (state.studio, state.originally_available_at, state.title_sort) == ("", None, "Raw, The")
    movie = plex.fetchItem(int(rk))
    assert movie.tagline == "Tag line" and movie.titleSort == "Raw, The" and movie.year is None
    assert [r.tag for r in movie.roles] == ["Ann", "Bob"]
    empty_removal = urlencode({"type": 1, "id": rk, "label[].tag.tag-": ""})
    raw(lib, "/library/sections/1/all?" + empty_removal, "PUT").raise_for_status()
    assert lib.item(rk).labels == ["x"]  # default: an empty removal removes nothing
    lib.empty_tag_removal_clears = True
    raw(lib, "/library/sections/1/all?" + empty_removal, "PUT").raise_for_status()
    assert lib.item(rk).labels == []


def test_edit_of_unknown_id_is_switchable(lib, plex):
    rk = lib.add_item("1", "Known", files=[("/data/movies/k.mp4", 1)])
    movie = plex.fetchItem(int(rk))
    lib.remove_item(rk)
    movie.editTitle("Gone")  # 200 and nothing happens
    assert lib.count("PUT") == 1 and lib.requests[-1].status == 200
    lib.unknown_id_edit_status = 404
    with pytest.raises(NotFound):
        movie.editTitle("Gone")
    other = lib.add_item("2", "Elsewhere", files=[("/data/clips/e.mp4", 1)])
    params = urlencode({"type": 1, "id": other, "title.value": "Wrong section"})
    assert raw(lib, "/library/sections/1/all?" + params, "PUT").status_code == 404
    assert lib.item(other).title == "Elsewhere"


def test_edit_without_id_touches_the_whole_section(lib):
    a = lib.add_item("1", "A", files=[("/data/movies/a.mp4", 1)])
    b = lib.add_item("1", "B", files=[("/data/movies/b.mp4", 1)])
    c = lib.add_item("2", "C", files=[("/data/clips/c.mp4", 1)])
    raw(lib, "/library/sections/1/all?type=1&summary.value=oops", "PUT").raise_for_status()
    assert [lib.item(k).summary for k in (a, b, c)] == ["oops", "oops", ""]


def test_poster_upload_and_url_form(lib, plex, tmp_path):
    rk = lib.add_item("1", "P", files=[("/data/movies/p.mp4", 1)])
    image = tmp_path / "cover.jpg"
    image.write_bytes(b"\xff\xd8\xff\xe0fake-jpeg" * 100)
    movie = plex.fetchItem(int(rk))
    assert movie.thumb is None
    movie.uploadPoster(filepath=str(image))
    state = lib.item(rk)
    assert state.poster == image.read_bytes() and state.poster_uploads == 1
    assert "thumb" in state.locked
    assert lib.requests[-1].body_length == len(image.read_bytes())
    movie.reload()
    first_thumb = movie.thumb
    assert first_thumb.startswith(f"/library/metadata/{rk}/thumb/")
    assert raw(lib, first_thumb).content == image.read_bytes()
    movie.uploadPoster(url="http://stash.local/scene/1/screenshot?apikey=secret")
    state = lib.item(rk)
    assert state.poster_url == "http://stash.local/scene/1/screenshot?apikey=secret"
    assert state.poster_uploads == 1
    assert movie.reload().thumb != first_thumb


def test_rate_scan_and_metadata_refresh(lib, plex):
    rk = lib.add_item(
        "1",
        "R",
        files=[("/data/movies/dir/r.mp4", 1)],
        summary="mine",
        studio="S",
        genres=["G"],
        labels=["L"],
    )
    lib.set_field(rk, "title", "Locked Title", locked=True)
    lib.set_field(rk, "label", ["L"], locked=True)
    movie = plex.fetchItem(int(rk))
    movie.rate(8)
    assert lib.item(rk).user_rating == 8.0
    movie.rate()
    assert lib.item(rk).user_rating is None
    added = []
    lib.on_scan = lambda section, path: added.append(
        lib.add_item(section, "Scanned", files=[(path + "/new.mp4", 1)])
    )
    plex.library.section("Movies").update(path="/data/movies/dir")
    assert [(s.section, s.path) for s in lib.scans] == [("1", "/data/movies/dir")]
    assert lib.find_by_file("/data/movies/dir/new.mp4").rating_key == added[0]
    movie.refresh()  # the agent reverts everything not locked
    assert lib.metadata_refreshes == [rk]
    state = lib.item(rk)
    assert (state.title, state.summary, state.studio) == ("Locked Title", "", "")
    assert (state.genres, state.labels) == ([], ["L"])
    lib.set_field(rk, "title", "Hand edit")  # unlocks
    lib.agent_refresh(rk)
    assert lib.item(rk).title == "r"
    lib.agent_refresh_keeps_locked_tags = False
    lib.agent_refresh(rk)
    assert lib.item(rk).labels == []


def test_rebuild_library_changes_every_rating_key(lib, plex):
    old = lib.add_item(
        "1",
        "Nice Title",
        files=[("/data/movies/file name.mkv", 1)],
        summary="S",
        genres=["G"],
        locked=["title"],
        poster=b"img",
    )
    lib.rebuild_library()
    with pytest.raises(KeyError):
        lib.item(old)
    with pytest.raises(NotFound):
        plex.fetchItem(int(old))
    (new,) = lib.items("1")
    assert int(new.rating_key) > int(old)
    assert (new.title, new.summary, new.genres, new.locked, new.poster) == (
        "file name",
        "",
        [],
        set(),
        None,
    )
    assert lib.find_by_file("/data/movies/file name.mkv").rating_key == new.rating_key


# ---- faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, Unauthorized),
        (403, BadRequest),
        (404, NotFound),
        (429, BadRequest),
        (500, BadRequest),
        (503, BadRequest),
        (520, TypeError),
    ],
)
def test_injected_status_raises_plexapis_exception(fake, plex, status, error):
    fake.fail(status, count=1)
    with pytest.raises(error) as caught:
        plex.query("/library/sections")
    assert type(caught.value) is error  # Unauthorized/NotFound are BadRequests: be exact
    if status == 503:
        assert "Maintenance" in str(caught.value) and "database migrations" in str(caught.value)
    if status == 520:
        assert requests.codes.get(520) is None  # why plexapi fails with a TypeError
    assert fake.requests[-1].status == status and fake.requests[-1].fault == str(status)
    assert plex.query("/library/sections") is not None  # count=1: the next one is fine


def test_fault_count_seconds_prefix_and_method(fake, plex):
    fault = fake.fail(500, count=2, path_prefix="/library/metadata")
    assert plex.query("/library/sections") is not None
    for _ in range(2):
        with pytest.raises(BadRequest):
            plex.query("/library/metadata/1")
    with pytest.raises(NotFound):  # the fault is spent: the real answer (no such item)
        plex.query("/library/metadata/1")
    assert fault.hits == 2
    fake.fail(503, method="PUT")
    assert plex.query("/library/sections") is not None
    with pytest.raises(BadRequest):
        plex.query("/library/sections/1/all?id=1", method=plex._session.put)
    fake.clear_faults()
    fake.fail(429, seconds=0.3)
    with pytest.raises(BadRequest):
        plex.query("/")
    time.sleep(0.35)
    assert plex.query("/") is not None


def test_down_refuses_connections_and_up_reuses_the_port(fake, plex):
    url = fake.url
    fake.down()
    with pytest.raises(requests.ConnectionError) as caught:
        plex.query("/")
    assert not isinstance(caught.value, requests.Timeout)
    fake.up()
    assert fake.url == url
    assert plex.query("/").get("machineIdentifier") == "fake-machine-1"


def test_slow_headers_is_a_read_timeout(fake):
    plex = PlexServer(fake.url, fake.token, timeout=(2, 0.3))
    fake.fail("slow_headers", count=1, delay=1.0)
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout) as caught:
        plex.query("/library/sections")
    assert time.monotonic() - started < 0.9
    assert not isinstance(caught.value, requests.ConnectionError)


def test_slow_body_is_a_connection_error(fake):
    plex = PlexServer(fake.url, fake.token, timeout=(2, 0.3))
    fake.fail("slow_body", count=1, delay=1.0)
    with pytest.raises(requests.ConnectionError) as caught:
        plex.query("/library/sections")
    assert not isinstance(caught.value, requests.Timeout)


@pytest.mark.parametrize(("kind", "cause"), [("reset", "reset by peer"), ("cut", "IncompleteRead")])
def test_cut_body_is_a_chunked_encoding_error(fake, plex, kind, cause):
    fake.fail(kind, count=1)
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match=cause) as caught:
        plex.query("/")
    assert not isinstance(caught.value, requests.ConnectionError)
    assert fake.requests[-1].fault == kind and fake.requests[-1].status == 200
    assert plex.query("/") is not None


def test_close_html_and_empty_bodies(fake, plex):
    fake.fail("close", count=1)
    with pytest.raises(requests.ConnectionError):
        plex.query("/")
    fake.fail("html", count=1)  # a web server that is not Plex "connects"...
    assert PlexServer(fake.url, fake.token, timeout=2).machineIdentifier is None
    fake.fail("empty", count=1)
    server = PlexServer(fake.url, fake.token, timeout=2)  # ...and an empty body half-connects
    with pytest.raises(AttributeError):
        _ = server.machineIdentifier
    with pytest.raises(ValueError):
        fake.fail("no-such-kind")


def test_latency_and_request_log(fake, plex):
    fake.latency = 0.2
    started = time.monotonic()
    plex.query("/library")
    assert time.monotonic() - started >= 0.2
    fake.latency = 0
    record = fake.requests[-1]
    assert (record.method, record.path, record.status) == ("GET", "/library", 200)
    assert fake.count() == 2 and fake.count("GET", "/library") == 1 and fake.writes == 0
    fake.reset_log()
    assert fake.requests == [] and fake.count() == 0


# ---- the captures of real Plex responses -----------------------------------------------------

ITEM_ATTRS = {
    "ratingKey",
    "key",
    "title",
    "summary",
    "studio",
    "originallyAvailableAt",
    "addedAt",
    "updatedAt",
}
# What the fake sends that the captures do not show, and where it comes from.
NOT_IN_CAPTURES = {
    "subtype": "Other Videos items (plexopedia page, README)",
    "userRating": "plexapi Video.userRating",
    "titleSort": "only on some items of the captures",
}


def _json_attrs(node: dict) -> dict[str, set[str]]:
    """Attribute names per element of a JSON capture (lists of objects are child elements)."""
    found: dict[str, set[str]] = {}

    def walk(tag, obj):
        found.setdefault(tag, set()).update(k for k, v in obj.items() if not isinstance(v, list))
        for k, v in obj.items():
            if isinstance(v, list):
                for child in v:
                    if isinstance(child, dict):
                        walk("Video" if k == "Metadata" else k, child)

    walk("MediaContainer", node["MediaContainer"])
    return found


def _xml_attrs(root: ET.Element) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for el in root.iter():
        found.setdefault(el.tag, set()).update(el.attrib)
    return found


@pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"Plex captures not found at {REFERENCE}")
def test_attributes_match_real_plex_captures(lib):
    def load(name):
        return ET.parse(REFERENCE / "xml" / name).getroot()

    page = load("plexdevices_library_sections_2_all_page.xml")
    real_list = _xml_attrs(page)
    for extra in (
        _xml_attrs(load("plex-docs_library_sections_all_movie.xml")),
        _json_attrs(json.loads((REFERENCE / "json/plex-api-rs_movie_library.json").read_text())),
    ):
        for tag, names in extra.items():
            real_list.setdefault(tag, set()).update(names)
    real_meta = _json_attrs(
        json.loads((REFERENCE / "json/plex-api-rs_metadata_108.json").read_text())
    )

    rk = lib.add_item(
        "1",
        "Full",
        files=[("/data/movies/f.mkv", 123456)],
        summary="S",
        studio="St",
        originallyAvailableAt="2001-09-27",
        genres=["G"],
        actors=["A"],
        userRating=5,
        titleSort="Full, The",
        poster=b"x",
    )
    lib.add_item("1", "Second", files=[("/data/movies/s.mkv", 1)])
    paging = {"X-Plex-Container-Start": "0", "X-Plex-Container-Size": "1"}
    fake_page = xml(raw(lib, "/library/sections/1/all?type=1", headers=paging))
    fake_list = _xml_attrs(fake_page)
    fake_meta = _xml_attrs(xml(raw(lib, f"/library/metadata/{rk}")))

    # Every attribute our code relies on is in the real captures and in the fake.
    for attrs in (real_list, fake_list, real_meta, fake_meta):
        assert attrs["Video"] >= ITEM_ATTRS
        assert {"file", "size", "key", "id"} <= attrs["Part"] and "id" in attrs["Media"]
    for attrs in (real_list, fake_list):
        assert {"size", "totalSize", "offset", "librarySectionID"} <= attrs["MediaContainer"]
    assert page.get("totalSize") and fake_page.get("totalSize") == "2"
    for attrs in (real_meta, fake_meta):
        assert {"librarySectionID", "librarySectionTitle", "librarySectionKey"} <= attrs["Video"]
        assert {"id", "filter", "tag"} <= attrs["Genre"] and {"id", "tag"} <= attrs["Role"]

    # And the fake invents no attribute names.
    real_any = {tag: real_list.get(tag, set()) | real_meta.get(tag, set()) for tag in fake_list}
    for tag in ("MediaContainer", "Video", "Media", "Part", "Genre", "Role"):
        invented = (
            (fake_list[tag] | fake_meta.get(tag, set())) - real_any[tag] - set(NOT_IN_CAPTURES)
        )
        assert not invented, f"{tag}: {sorted(invented)}"

    # Value formats agree.
    for video in (page.find("Video"), fake_page.find("Video")):
        assert video.get("key") == f"/library/metadata/{video.get('ratingKey')}"
        assert video.get("addedAt").isdigit() and video.get("updatedAt").isdigit()
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", video.get("originallyAvailableAt"))
        assert video.find("Media/Part").get("size").isdigit()

    root, sections = load("node-plex-api_root.xml"), load("node-plex-api_library_sections.xml")
    fake_root = xml(raw(lib, "/"))
    both = set(root.attrib) & set(fake_root.attrib)
    assert both >= {"friendlyName", "machineIdentifier", "version", "platform", "myPlex"}
    fake_sections = xml(raw(lib, "/library/sections"))
    both = set(sections.find("Directory").attrib) & set(fake_sections.find("Directory").attrib)
    assert both >= {"key", "type", "title", "agent", "scanner", "language", "uuid"}
    assert sections.find("Directory/Location").get("path")
    assert fake_sections.find("Directory/Location").get("path") == "/data/movies"
