"""Issue 21 against the fake Plex through the real plexapi: every request goes through the
client's limit, overloads and Retry-After reach it, and Plex sees PlexSync by its name."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from entry import tasks
from entry.scene_state import scene_state
from plex.client import ConnectionRetry, PlexClient, Timeouts, probe
from plex.errors import PlexTemporaryError
from plex.identity import ClientIdentity, plugin_version
from plex.limit import ConcurrencyLimit, LimitPolicy
from plex.transport import retry_after
from state.datadir import DataDir
from state.jobs import SceneJob
from state.queue import JobQueue
from tests.conftest import PLEX_TOKEN
from tests.rig.fake_plex_capacity import Capacity


def client_for(plex, limit=None, identity=None):
    return PlexClient(
        plex.url,
        PLEX_TOKEN,
        Timeouts(connect=2.0, read=5.0),
        ConnectionRetry(attempts=1),
        limit=limit,
        identity=identity,
    )


def test_every_kind_of_request_goes_through_the_limit_each_timed_as_its_own_kind(plex):
    rk = plex.add_item("1", "a", files=["/m/a.mp4"])
    client = client_for(plex)
    client.connect()
    client.list_page("1", 0, 50)
    client.metadata(rk)
    client.edit("1", rk, {"title.value": "A"})
    client.upload_poster(rk, b"\xff\xd8jpeg")
    assert set(client.limit.best) == {"read", "listing", "write", "poster"}
    assert client.limit.in_flight == 0


def test_the_server_never_sees_more_in_flight_than_the_limit_allows(plex):
    plex.capacity = Capacity(write=0.3, poster=0.3)  # long enough for 3 to be sent each turn
    keys = [plex.add_item("1", f"i{n}", files=[f"/m/{n}.mp4"]) for n in range(8)]
    client = client_for(plex, limit=ConcurrencyLimit(LimitPolicy.fixed(3)))
    client.connect()
    plex.load.reset()
    with ThreadPoolExecutor(12) as pool:
        list(pool.map(lambda rk: client.edit("1", rk, {"title.value": "x"}), keys))
    client_id = next(iter(plex.load.peaks))
    assert max(plex.load.peaks[client_id].values()) == 3  # 12 threads, 3 at a time


@pytest.mark.parametrize("most_work", [LimitPolicy().most_work, float("inf")])
def test_a_server_whose_writer_is_the_whole_round_trip_gets_one_write_at_a_time(plex, most_work):
    """A write holds the writer 0.2 s of its round trip, a read is answered at once: a second
    write in flight would only wait for the first (the count rule alone sends two)."""
    plex.capacity = Capacity(write=0.2, poster=0.2)
    keys = [plex.add_item("1", f"i{n}", files=[f"/m/{n}.mp4"]) for n in range(8)]
    client = client_for(plex, limit=ConcurrencyLimit(LimitPolicy(most_work=most_work)))
    client.connect()
    for key in keys[:3]:  # a read's time: the network and an answer
        client.metadata(key)
    client.edit("1", keys[0], {"title.value": "first"})  # a write's time
    plex.load.reset()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda rk: client.edit("1", rk, {"title.value": "x"}), keys))
    client_id = next(iter(plex.load.peaks))
    most = max(plex.load.peaks[client_id].values())
    assert most == 1 if most_work < 2 else most >= 2


def test_a_429_halves_the_limit_and_its_retry_after_holds_the_next_request(plex):
    rk = plex.add_item("1", "a", files=["/m/a.mp4"])
    client = client_for(plex, limit=ConcurrencyLimit(LimitPolicy(start=8)))
    client.connect()
    plex.fail(429, count=1, retry_after=1, method="PUT")
    with pytest.raises(PlexTemporaryError):
        client.edit("1", rk, {"title.value": "A"})
    assert client.limit.limit == 4
    assert 0.5 < client.limit.held_for() <= 1.0
    refused_at = time.time()
    plex.reset_log()
    client.edit("1", rk, {"title.value": "A"})  # waits out the Retry-After, then goes
    assert plex.requests[0].time - refused_at >= 0.9


def test_a_404_is_no_overload(plex):
    client = client_for(plex, limit=ConcurrencyLimit(LimitPolicy(start=8)))
    client.connect()
    with pytest.raises(Exception, match="404"):
        client.metadata("999")
    assert client.limit.limit == 8 and client.limit.held_for() == 0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("", 0.0), ("7", 7.0), (" 2.5 ", 2.5), ("-3", 0.0), ("soon", 0.0)],
)
def test_retry_after_reads_seconds(header, seconds):
    assert retry_after(header) == seconds


def test_retry_after_reads_an_http_date():
    now = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
    assert retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now) == 30.0
    assert retry_after("Tue, 14 Nov 2023 22:13:00 GMT", now) == 0.0


# -- who we are -------------------------------------------------------------------------------


def test_every_request_names_plexsync_not_plexapi(plex):
    identity = ClientIdentity("id-123", "9.9.9", "box")
    client = client_for(plex, identity=identity)
    client.connect()
    client.sections()
    probe(plex.url, PLEX_TOKEN, 2.0, identity=identity)
    assert len(plex.requests) == 3
    for request in plex.requests:
        headers = {k.lower(): v for k, v in request.headers.items()}
        assert headers["x-plex-product"] == "PlexSync"
        assert headers["x-plex-version"] == "9.9.9"
        assert headers["x-plex-device-name"] == "box"
        assert headers["x-plex-client-identifier"] == "id-123"
        assert headers["x-plex-token"] == PLEX_TOKEN  # plexapi's own headers are still there


def test_the_version_is_the_manifests(tmp_path):
    manifest = tmp_path / "PlexSync.yml"
    manifest.write_text("name: PlexSync\nversion: 2.3.4-abc\nurl: x\n")
    assert plugin_version(manifest) == "2.3.4-abc"
    assert plugin_version(tmp_path / "none.yml") == "unknown"
    assert plugin_version() not in ("", "unknown")


def test_the_client_identifier_is_made_once_per_data_directory_and_kept(tmp_path):
    first = DataDir(tmp_path / "a").client_identifier()
    assert first == DataDir(tmp_path / "a").client_identifier()
    assert (tmp_path / "a" / "plex_client_id").stat().st_mode & 0o077 == 0
    assert DataDir(tmp_path / "b").client_identifier() != first
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["plex_client_id"]


def test_processes_racing_for_the_identifier_all_get_the_same_one(tmp_path):
    data = DataDir(tmp_path / "d")
    got, start = [], threading.Barrier(8)

    def take():
        start.wait()
        got.append(data.client_identifier())

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(got) == 8 and len(set(got)) == 1


def sync(ctx, scene_id):
    with JobQueue(ctx.data.queue_path) as queue:
        queue.enqueue(SceneJob(int(scene_id), "Scene.Update.Post", time.time(), True))
    return tasks.process_queue(ctx)


def test_a_sync_names_plexsync_with_the_data_directorys_identifier(ctx, stash, plex):
    plex.add_item("1", "a", files=[("/c/a.mp4", 1)])
    scene = stash.add_scene(title="A", files=[("/c/a.mp4", 1)])
    sync(ctx, scene)
    kept = ctx.data.client_identifier()
    ids = {r.headers.get("X-Plex-Client-Identifier") for r in plex.requests}
    products = {r.headers.get("X-Plex-Product") for r in plex.requests}
    assert ids == {kept} and products == {"PlexSync"}


# -- covers Plex will take --------------------------------------------------------------------


def test_a_cover_over_the_cap_is_not_sent_the_rest_is_written_and_the_status_says_why(
    ctx, stash, plex
):
    stash.plugin_settings["PlexSync"]["maxCoverMB"] = 0.00005  # 50 bytes
    rating_key = plex.add_item("1", "a", files=[("/c/a.mp4", 1)])
    scene = stash.add_scene(title="Big", files=[("/c/a.mp4", 1)], cover=b"\xff\xd8" + b"x" * 98)
    summary = sync(ctx, scene)
    item = plex.item(rating_key)
    assert item.title == "Big" and item.poster is None and item.poster_uploads == 0
    assert summary.get("written") == 1
    state = scene_state(ctx, [{"id": str(scene)}])["states"][str(scene)]
    assert state["state"] == "synced"
    assert "cover (0.0 MB) is over the size cap" in state["reason"]
    stash.set_cover(scene, b"\xff\xd8small")  # a cover under the cap goes, and the note with it
    sync(ctx, scene)
    assert plex.item(rating_key).poster == b"\xff\xd8small"
    state = scene_state(ctx, [{"id": str(scene)}])["states"][str(scene)]
    assert "reason" not in state
