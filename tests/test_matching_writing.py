"""Issue 4 against the fake Plex through the real plexapi: matching by path, every field
written and locked in one PUT, nothing written for an unchanged scene."""

from __future__ import annotations

import sqlite3
import time
import unicodedata

import pytest

from entry import tasks
from state.jobs import SceneJob
from state.queue import JobQueue
from tests.conftest import PLEX_TOKEN


def sync(ctx, *scene_ids, cover=False):
    """Queue these scenes and drain the queue in-process, as process_queue does."""
    with JobQueue(ctx.data.queue_path) as queue:
        for scene_id in scene_ids:
            queue.enqueue(SceneJob(int(scene_id), "Scene.Update.Post", time.time(), cover))
    return tasks.process_queue(ctx)


def failures(ctx):
    with ctx.data.open_store() as store:
        return {row["job_key"]: row["message"] for row in store.failed()}


def index_ages_by(ctx, seconds):
    """Pretend the last listing was `seconds` ago (the refresh is rate-limited)."""
    db = sqlite3.connect(ctx.data.index_path)
    db.execute("UPDATE sections SET refreshed_at = refreshed_at - ?", (seconds,))
    db.commit()
    db.close()


def delayed_errors(ctx):
    with ctx.data.open_store() as store:
        rows = store.db.execute("SELECT job_key, last_error FROM delayed").fetchall()
        return {key: error for key, error in rows}


def settings(stash, **more):
    stash.plugin_settings["PlexSync"].update(more)


def test_every_field_is_written_and_locked_in_one_put(ctx, stash, plex):
    path = "/media/videos/Studio/scene.mp4"
    rating_key = plex.add_item("1", "scene", files=[(path, 42)], genres=["Agent genre"])
    studio = stash.add_studio("Studio & Söhne")
    tags = [stash.add_tag(name) for name in ("Tag, with comma", "Ünïcode", 'Quote "q"')]
    performers = [stash.add_performer(name) for name in ("Zoë", "李小龙")]
    summary = ("Zeile eins\r\nline two\twith tab\x07 長い説明 " + "Lorem ipsum. " * 800)[:10_000]
    scene = stash.add_scene(
        title="Ein Titel",
        details=summary,
        date="2023-04-05",
        studio=studio,
        performers=performers,
        tags=tags,
        files=[(path, 42)],
    )
    plex.reset_log()
    assert sync(ctx, scene)["written"] == 1
    item = plex.item(rating_key)
    assert item.title == "Ein Titel"
    assert item.summary == summary.replace("\x07", "") and len(item.summary) > 9_000
    assert item.studio == "Studio & Söhne" and item.originally_available_at == "2023-04-05"
    assert item.genres == ["Tag, with comma", "Ünïcode", 'Quote "q"']  # agent genre replaced
    assert item.actors == ["Zoë", "李小龙"]
    assert {"title", "summary", "studio", "originallyAvailableAt", "genre", "actor"} <= item.locked
    assert plex.count("PUT") == 1 and item.poster_uploads == 1


def test_removed_tags_disappear_and_empty_fields_are_cleared(ctx, stash, plex):
    path = "/m/a.mp4"
    rating_key = plex.add_item("1", "a", files=[(path, 1)])
    tags = [stash.add_tag(n) for n in ("One", "Two", "Three")]
    scene = stash.add_scene(
        title="T",
        details="D",
        date="2020-01-01",
        studio=stash.add_studio("S"),
        tags=tags,
        files=[(path, 1)],
    )
    sync(ctx, scene)
    assert plex.item(rating_key).genres == ["One", "Two", "Three"]
    stash.update_scene(scene, tags=[tags[1]])
    sync(ctx, scene)
    assert plex.item(rating_key).genres == ["Two"]
    stash.update_scene(scene, title="", details="", date=None, studio=None, tags=[])
    sync(ctx, scene)
    item = plex.item(rating_key)
    assert item.title == "T"  # an empty Stash title leaves Plex's alone
    assert (item.summary, item.studio, item.genres) == ("", "", [])
    assert not item.originally_available_at
    assert {"summary", "studio", "genre", "originallyAvailableAt"} <= item.locked


def test_requests_per_scene_changed_and_unchanged(ctx, stash, plex):
    settings(stash, skipCovers=True)
    paths = [f"/lib/s{i}.mp4" for i in range(20)]
    keys = [plex.add_item("1", f"s{i}", files=[(p, 10)]) for i, p in enumerate(paths)]
    scenes = [
        stash.add_scene(title=f"Title {i}", files=[(p, 10)], cover=None)
        for i, p in enumerate(paths)
    ]
    sync(ctx, *scenes)  # builds the index
    plex.reset_log()
    stash.update_scene(scenes[3], title="Changed")
    sync(ctx, scenes[3])
    per_run = ("/", "/library/sections")  # one connect per worker run, not per scene
    assert [(r.method, r.path) for r in plex.requests if r.path not in per_run] == [
        ("PUT", "/library/sections/1/all")
    ]
    assert plex.item(keys[3]).title == "Changed"
    plex.reset_log()
    summary = sync(ctx, *scenes)
    assert summary == {"unchanged": 20, "seconds": summary["seconds"]}
    assert plex.writes == 0


def test_poster_uploads_only_when_the_cover_changes(ctx, stash, plex):
    rating_key = plex.add_item("1", "a", files=[("/c/a.mp4", 1)])
    scene = stash.add_scene(title="A", files=[("/c/a.mp4", 1)], cover=b"\xff\xd8cover-one")
    sync(ctx, scene)
    assert plex.item(rating_key).poster == b"\xff\xd8cover-one"
    stash.update_scene(scene, title="B")
    sync(ctx, scene)
    assert plex.item(rating_key).poster_uploads == 1
    stash.set_cover(scene, b"\xff\xd8cover-two")
    sync(ctx, scene, cover=True)  # a cover edit's hook has cover_image in inputFields
    item = plex.item(rating_key)
    assert item.poster == b"\xff\xd8cover-two" and item.poster_uploads == 2


def test_a_cover_generated_after_the_scan_arrives_on_a_later_attempt(ctx, stash, plex):
    rating_key = plex.add_item("1", "a", files=[("/c/late.mp4", 1)])
    scene = stash.add_scene(title="Late", files=[("/c/late.mp4", 1)], cover=None)
    stash.default_cover = None
    sync(ctx, scene)
    assert plex.item(rating_key).title == "Late" and plex.item(rating_key).poster is None
    with ctx.data.open_store() as store:
        assert store.counts()["delayed"] == 1  # retried for the cover
        stash.set_cover(scene, b"\xff\xd8generated", bump=False)
        store.db.execute("UPDATE delayed SET due_at = 0")
    tasks.process_queue(ctx)
    assert plex.item(rating_key).poster == b"\xff\xd8generated"


@pytest.mark.parametrize(
    ("stash_path", "plex_path", "path_map"),
    [
        ("/data/videos/a.mp4", "/media/videos/a.mp4", "/data=>/media"),
        ("D:\\Videos\\Clip.mp4", "/mnt/videos/Clip.mp4", "D:\\Videos=>/mnt/videos"),
        ("/data/videos/a.mp4", "C:\\Plex\\videos\\a.mp4", "/data=>C:\\Plex"),
        ("/m/Café.mp4", unicodedata.normalize("NFD", "/m/Café.mp4"), ""),
        ("/m/CASE/clip.MP4", "/m/case/clip.mp4", ""),
        ("\\\\?\\C:\\Long\\x.mp4", "C:\\Long\\x.mp4", ""),
        ("/elsewhere/renamed-folder/clip9.mp4", "/media/other/clip9.mp4", ""),  # name + size
    ],
)
def test_paths_match_across_the_usual_differences(
    ctx, stash, plex, stash_path, plex_path, path_map
):
    settings(stash, pathMap=path_map)
    rating_key = plex.add_item("1", "x", files=[(plex_path, 777)])
    scene = stash.add_scene(title="Matched", files=[(stash_path, 777)])
    sync(ctx, scene)
    assert plex.item(rating_key).title == "Matched"


def test_two_candidates_are_never_guessed_between(ctx, stash, plex):
    first = plex.add_item("1", "a", files=[("/one/dup.mp4", 5)])
    second = plex.add_item("1", "b", files=[("/two/dup.mp4", 5)])
    scene = stash.add_scene(title="Which?", files=[("/three/dup.mp4", 5)])
    sync(ctx, scene)
    message = failures(ctx)[f"scene:{scene}"]
    assert "/one/dup.mp4" in message and "/two/dup.mp4" in message
    assert plex.item(first).title == "a" and plex.item(second).title == "b"


def test_duplicate_names_in_different_folders_match_by_full_path(ctx, stash, plex):
    first = plex.add_item("1", "a", files=[("/one/dup.mp4", 5)])
    second = plex.add_item("1", "b", files=[("/two/dup.mp4", 5)])
    scene = stash.add_scene(title="Second", files=[("/two/dup.mp4", 5)])
    sync(ctx, scene)
    assert plex.item(second).title == "Second" and plex.item(first).title == "a"


def test_every_item_holding_a_file_gets_the_metadata(ctx, stash, plex):
    plex.add_section("Other Videos", agent="tv.plex.agents.none", key="2")
    stacked = plex.add_item("1", "stacked", media=[[("/s/cd1.mp4", 1), ("/s/cd2.mp4", 2)]])
    versions = plex.add_item("1", "versions", files=[("/v/hd.mp4", 3), ("/v/sd.mp4", 4)])
    clip = plex.add_item("2", "clip", files=[("/s/cd1.mp4", 1)])
    scene = stash.add_scene(title="Multi", files=[("/s/cd1.mp4", 1), ("/v/sd.mp4", 4)])
    sync(ctx, scene)
    assert [plex.item(k).title for k in (stacked, versions, clip)] == ["Multi"] * 3


def test_an_item_claimed_by_two_scenes_is_left_alone(ctx, stash, plex):
    rating_key = plex.add_item("1", "shared", files=[("/x/shared.mp4", 1)])
    first = stash.add_scene(title="First", files=[("/x/shared.mp4", 1)])
    second = stash.add_scene(title="Second", files=[("/x/shared.mp4", 1)])
    sync(ctx, first)
    sync(ctx, second)
    assert plex.item(rating_key).title == "First"
    assert "claimed by another scene" in failures(ctx)[f"scene:{second}"]


def test_a_file_not_in_plex_yet_is_retried_and_synced_when_it_appears(ctx, stash, plex):
    plex.add_item("1", "older", files=[("/old/older.mp4", 1)], addedAt=int(time.time()) - 99)
    scene = stash.add_scene(title="Fresh", files=[("/new/fresh.mp4", 9)])
    sync(ctx, scene)
    with ctx.data.open_store() as store:
        row = store.db.execute("SELECT * FROM delayed").fetchone()
        assert row["error_class"] == "PlexNotFound" and row["due_at"] - time.time() > 20
        rating_key = plex.add_item("1", "fresh", files=[("/new/fresh.mp4", 9)])
        store.db.execute("UPDATE delayed SET due_at = 0")  # as if the 30 s had passed...
    index_ages_by(ctx, 60)  # ...for the refresh's rate limit too
    plex.reset_log()
    tasks.process_queue(ctx)
    assert plex.item(rating_key).title == "Fresh"
    listing = [
        r for r in plex.requests if r.path == "/library/sections/1/all" and r.method == "GET"
    ]
    assert listing and all("addedAt>" in "".join(r.query) for r in listing)  # incremental


def test_many_missing_files_share_one_refresh(ctx, stash, plex):
    plex.add_item("1", "known", files=[("/k/known.mp4", 1)])
    missing = [stash.add_scene(title=f"M{i}", files=[(f"/new/m{i}.mp4", 1)]) for i in range(30)]
    plex.reset_log()
    sync(ctx, *missing)
    listings = plex.count("GET", "/library/sections/1/all")
    assert listings <= 2  # the first build, then at most one refresh for all 30 misses
    assert len([k for k in failures(ctx)]) == 0


def test_plex_ignoring_the_time_filter_still_gives_a_right_index(ctx, stash, plex):
    plex.honour_time_filters = False
    long_ago = int(time.time()) - 100
    plex.add_item("1", "keeper", files=[("/i/keeper.mp4", 1)], addedAt=long_ago - 1000)
    plex.add_item("1", "old", files=[("/i/old.mp4", 1)], addedAt=long_ago)
    first = stash.add_scene(title="Old", files=[("/i/old.mp4", 1)])
    sync(ctx, first)
    added = plex.add_item("1", "new", files=[("/i/new.mp4", 1)])
    plex.remove_item(plex.find_by_file("/i/old.mp4").rating_key)
    second = stash.add_scene(title="New", files=[("/i/new.mp4", 1)])
    index_ages_by(ctx, 60)
    sync(ctx, second)
    assert plex.item(added).title == "New"
    sync(ctx, first)  # the removed item left the index with the full answer: no stale match
    assert "not in Plex" in next(iter(delayed_errors(ctx).values()))


@pytest.mark.parametrize(
    ("libraries", "message"),
    [("Nope", "no library named 'Nope'"), ("Shows", "is a show library")],
)
def test_library_settings_errors_keep_jobs_waiting(ctx, stash, plex, libraries, message, caplog):
    plex.add_section("Shows", kind="show", agent="tv.plex.agents.series", key="5")
    settings(stash, plexLibraries=libraries)
    scene = stash.add_scene(title="x", files=[("/a.mp4", 1)])
    summary = sync(ctx, scene)
    assert summary["stopped"] == "settings" and message in caplog.text
    assert failures(ctx) == {} and JobQueue(ctx.data.queue_path).ready() == 1


def test_options_labels_collections_rating_and_ignored_tags(ctx, stash, plex):
    settings(stash, tagsAsLabels=True, studioCollections=True, syncRating=True, ignoreTags="ToDo")
    rating_key = plex.add_item("1", "a", files=[("/o/a.mp4", 1)], genres=["Agent"])
    parent = stash.add_studio("Parent Co")
    studio = stash.add_studio("Child", parent=parent)
    tags = [stash.add_tag("Keep"), stash.add_tag("ToDo")]
    scene = stash.add_scene(
        title="Opt", studio=studio, tags=tags, rating100=80, files=[("/o/a.mp4", 1)]
    )
    sync(ctx, scene)
    item = plex.item(rating_key)
    assert item.labels == ["Keep"] and item.genres == ["Agent"]
    assert item.collections == ["Child", "Parent Co"] and item.user_rating == 8.0


def test_scan_missing_asks_plex_once_per_folder(ctx, stash, plex):
    settings(stash, scanMissing=True)
    plex.add_item("1", "known", files=[("/k/known.mp4", 1)])
    missing = [stash.add_scene(title=f"M{i}", files=[(f"/new/m{i}.mp4", 1)]) for i in range(5)]
    sync(ctx, *missing)
    assert [(s.section, s.path) for s in plex.scans] == [("1", "/new")]


def test_skip_unorganized(ctx, stash, plex):
    settings(stash, skipUnorganized=True)
    rating_key = plex.add_item("1", "a", files=[("/u/a.mp4", 1)])
    scene = stash.add_scene(title="Not yet", files=[("/u/a.mp4", 1)], organized=False)
    assert sync(ctx, scene).get("skipped") == 1
    assert plex.item(rating_key).title == "a"
    stash.update_scene(scene, organized=True)
    sync(ctx, scene)
    assert plex.item(rating_key).title == "Not yet"


def test_the_token_never_reaches_a_file_we_write(ctx, stash, plex, data_dir):
    plex.add_item("1", "a", files=[("/t/a.mp4", 1)])
    sync(ctx, stash.add_scene(title="T", files=[("/t/a.mp4", 1)]))
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert PLEX_TOKEN.encode() not in path.read_bytes(), path
