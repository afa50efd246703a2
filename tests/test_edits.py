"""Desired Plex state from a Stash scene, the single PUT's parameters, drift."""

from config import SyncOptions
from plex.edits import drift, edit_params
from worker.metadata import clean_text, to_plex

SCENE = {
    "id": "7",
    "title": "  A Title ",
    "details": "Line one\r\nLine two\ttabbed\x00\x07",
    "date": "2024-05-06",
    "rating100": 85,
    "organized": True,
    "studio": {"name": "Studio & Co", "parent_studio": {"name": "Parent"}},
    "performers": [{"name": "Zoë"}, {"name": "李"}],
    "tags": [{"name": "b, with comma"}, {"name": "ToDo"}, {"name": "b, with comma"}],
    "files": [{"path": "/a.mp4", "size": 10}],
}


def test_scene_to_plex_maps_every_field():
    meta = to_plex(SCENE, SyncOptions())
    assert meta.title == "A Title"
    assert meta.summary == "Line one\r\nLine two\ttabbed"
    assert meta.studio == "Studio & Co" and meta.originallyAvailableAt == "2024-05-06"
    assert dict(meta.tags) == {"actor": ("Zoë", "李"), "genre": ("b, with comma", "ToDo")}
    assert meta.rating is None


def test_options_change_the_mapping():
    options = SyncOptions(
        tags_as_labels=True,
        studio_collections=True,
        sync_rating=True,
        ignore_tags=frozenset({"todo"}),
    )
    meta = to_plex(SCENE, options)
    tags = dict(meta.tags)
    assert tags["label"] == ("b, with comma",) and "genre" not in tags
    assert tags["collection"] == ("Studio & Co", "Parent")
    assert meta.rating == 8.5


def test_one_put_writes_and_locks_everything():
    params = edit_params(to_plex(SCENE, SyncOptions()))
    assert params["title.value"] == "A Title" and params["title.locked"] == "1"
    assert params["summary.locked"] == "1" and params["studio.value"] == "Studio & Co"
    assert params["genre[0].tag.tag"] == "b, with comma" and params["genre[1].tag.tag"] == "ToDo"
    assert params["actor[1].tag.tag"] == "李" and params["actor.locked"] == "1"


def test_empty_stash_fields_clear_plex_but_empty_title_leaves_it():
    bare = {"id": "1", "title": "", "files": [{"path": "/a.mp4"}]}
    meta = to_plex(bare, SyncOptions())
    params = edit_params(meta)
    assert "title.value" not in params
    assert params["summary.value"] == "" and params["summary.locked"] == "1"
    assert params["genre[].tag"] == "" and params["genre.locked"] == "1"
    assert params["actor[].tag"] == "" and params["actor.locked"] == "1"


def test_fingerprint_changes_with_any_field():
    base = to_plex(SCENE, SyncOptions())
    changed = to_plex({**SCENE, "tags": [{"name": "other"}]}, SyncOptions())
    assert base.fingerprint() == to_plex(SCENE, SyncOptions()).fingerprint()
    assert base.fingerprint() != changed.fingerprint()


def test_drift_sees_listed_differences_but_not_truncated_tags():
    meta = to_plex(SCENE, SyncOptions())
    same = {
        "title": "A Title",
        "summary": meta.summary,
        "studio": "Studio & Co",
        "originallyAvailableAt": "2024-05-06",
        "genre": ["ToDo"],  # listing cut the list short: not drift
        "actor": [],
    }
    assert drift(meta, same) == []
    assert drift(meta, {**same, "title": "Edited in Plex"}) == ["title"]
    assert drift(meta, {**same, "genre": ["ToDo", "Agent genre"]}) == ["genre"]


def test_clean_text_keeps_unicode_and_line_breaks():
    assert clean_text("é\n\t\x1b[0m") == "é\n\t[0m"
