"""Path normalisation and the Stash -> Plex prefix map, as a table."""

import pytest

from errors import ConfigError
from plex.paths import PathMap, basename, normalize, suggest_rule

NFD = "Cafe\u0301"  # "Café" as macOS filesystems store it
NFC = "Caf\u00e9"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/data/videos/a.mp4", "/data/videos/a.mp4"),
        ("/data//videos///a.mp4", "/data/videos/a.mp4"),
        ("/data/videos/", "/data/videos"),
        ("C:\\Videos\\a.mp4", "C:/Videos/a.mp4"),
        ("c:\\Videos\\a.mp4", "C:/Videos/a.mp4"),
        ("\\\\?\\C:\\Very\\Long\\a.mp4", "C:/Very/Long/a.mp4"),
        ("\\\\?\\UNC\\nas\\share\\a.mp4", "//nas/share/a.mp4"),
        ("\\\\nas\\share\\a.mp4", "//nas/share/a.mp4"),
        (f"/m/{NFD}/x.mp4", f"/m/{NFC}/x.mp4"),
        ("C:\\", "C:/"),
        ("  /padded/a.mp4 ", "/padded/a.mp4"),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("rules", "stash_path", "plex_path"),
    [
        ("", "/data/a.mp4", "/data/a.mp4"),
        ("/data=>/media", "/data/x/a.mp4", "/media/x/a.mp4"),
        ("/data=>/media", "/database/a.mp4", "/database/a.mp4"),  # whole components only
        ("/data=>/media;/data/special=>/mnt/s", "/data/special/a.mp4", "/mnt/s/a.mp4"),
        ("/data/special=>/mnt/s;/data=>/media", "/data/other/a.mp4", "/media/other/a.mp4"),
        ("D:\\Videos=>/mnt/videos", "D:\\Videos\\Sub\\a.mp4", "/mnt/videos/Sub/a.mp4"),
        ("d:\\videos=>/mnt/videos", "D:\\Videos\\a.mp4", "/mnt/videos/a.mp4"),
        ("/stash=>\\\\nas\\media", "/stash/a.mp4", "//nas/media/a.mp4"),
        ("/data/ => /media/ ", "/data/a.mp4", "/media/a.mp4"),
        ("/m=>/p", f"/m/{NFD}.mp4", f"/p/{NFC}.mp4"),
    ],
)
def test_path_map(rules, stash_path, plex_path):
    assert PathMap.parse(rules).to_plex(stash_path) == plex_path


@pytest.mark.parametrize("bad", ["/data", "/data=>", "=>/media", "/a=>/b=>/c", "/a->/b"])
def test_malformed_path_map_names_the_entry(bad):
    with pytest.raises(ConfigError, match='"Path map" rule 1'):
        PathMap.parse(bad)


def test_suggest_rule_keeps_the_common_tail():
    assert suggest_rule("/stash/videos/x/a.mp4", "/plex/media/x/a.mp4") == (
        "/stash/videos=>/plex/media"
    )
    assert basename("/a/b/c.mp4") == "c.mp4"
