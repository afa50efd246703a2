"""Path map discovery on file lists: the rules proposed, what they find, what they refuse."""

from __future__ import annotations

import random

from plex.path_discovery import StashFile, propose
from plex.paths import PathMap, basename, normalize
from tests.rig import tricky_library


def stash_files(paths_sizes) -> list[StashFile]:
    return [StashFile(n, path, size) for n, (path, size) in enumerate(paths_sizes, start=1)]


def test_the_tricky_library_gets_per_folder_rules_and_never_the_one_that_maps_onto_another_file():
    stash, plex = tricky_library.files()
    proposal = propose(
        stash_files((path, size) for _, path, size in stash),
        [(path, size) for _, path, size in plex],
    )
    assert [rule.text() for rule in proposal.rules] == [
        "/data/Northlight Films=>/media/Northlight Films",
        "/data/Cobalt Pictures=>/media/Cobalt Pictures",
        "/data/Velvet Studios=>/media/Velvet Studios",
        "\\\\NAS\\Clips=>/mnt/clips",
    ]
    assert [rule.scenes for rule in proposal.rules] == [5, 5, 5, 3]  # trailers included
    assert proposal.refused == ["/data=>/media"]  # it would put intro.mp4 onto Plex's other one
    assert (proposal.scenes, proposal.found, proposal.found_as_is, proposal.left) == (21, 19, 1, 2)
    assert proposal.left_examples == [
        "/data/Extras/intro.mp4",
        "/data/Northlight Films/2025/new.mp4",
    ]
    assert proposal.rules[3].examples[0] == (
        "\\\\NAS\\Clips\\Beach Day.mp4",
        "/mnt/clips/beach day.mp4",
    )
    assert PathMap.parse(proposal.path_map()).rules  # what Apply saves is a valid setting


def test_one_docker_mount_is_one_rule_and_files_already_in_place_stay_in_place():
    files = [(f"/data/S{n % 3}/v{n}.mp4", 1000 + n) for n in range(12)]
    plex = [(f"/media/S{n % 3}/v{n}.mp4", 1000 + n) for n in range(12)]
    files.append(("/data/same/x.mp4", 5))  # Plex has this one at the very same path
    plex.append(("/data/same/x.mp4", 5))
    proposal = propose(stash_files(files), plex)
    mapping = PathMap.parse(proposal.path_map())
    assert {rule.text() for rule in proposal.rules} == {"/data=>/media", "/data/same=>/data/same"}
    assert mapping.to_plex("/data/same/x.mp4") == "/data/same/x.mp4"
    assert (proposal.found, proposal.left) == (13, 0)


def test_a_windows_drive_in_any_case_maps_onto_posix():
    files = [(f"d:\\Videos\\Studio {n}\\clip {n}.MP4", 50 + n) for n in range(4)]
    plex = [(f"/mnt/videos/studio {n}/clip {n}.mp4", 50 + n) for n in range(4)]
    proposal = propose(stash_files(files), plex)
    assert len(proposal.rules) == 1 and proposal.found == 4
    mapping = PathMap.parse(proposal.path_map())
    assert mapping.to_plex(files[0][0]).lower() == plex[0][0]


def test_nothing_in_common_proposes_nothing_and_says_what_is_left():
    proposal = propose(stash_files([("/a/x.mp4", 1), ("/a/y.mp4", 2)]), [("/b/z.mp4", 3)])
    assert proposal.rules == [] and (proposal.found, proposal.left) == (0, 2)


def test_random_libraries_never_get_a_rule_that_lands_a_file_on_another_file_of_its_name():
    rng = random.Random(11)
    for _ in range(40):
        stash, plex = [], []
        for n in range(rng.randint(5, 40)):
            folder = rng.choice(["A", "B", "C/D", "E"])
            name = rng.choice(["x.mp4", "y.mp4", f"f{n}.mp4"])
            size = rng.choice([1, 2, 3, 100 + n])
            stash.append((f"/{rng.choice(['data', 'srv'])}/{folder}/{name}", size))
            if rng.random() < 0.8:
                plex.append(
                    (
                        f"/{rng.choice(['media', 'mnt'])}/{folder}/{name}",
                        rng.choice([size, size, 7]),
                    )
                )
        proposal = propose(stash_files(stash), plex)
        mapping = PathMap.parse(proposal.path_map())
        plex_sizes = {normalize(p).lower(): s for p, s in plex}
        for path, size in stash:
            mapped = mapping.to_plex(path).lower()
            if mapped in plex_sizes and mapping.to_plex(path) != normalize(path):
                assert plex_sizes[mapped] == size, (proposal.path_map(), path)
                assert basename(mapped) == basename(normalize(path)).lower()


def test_a_stash_root_one_level_deeper_than_plexs_maps_onto_the_root():
    files = [(f"/data/S{n}/v{n}.mp4", 10 + n) for n in range(3)]
    plex = [(f"/S{n}/v{n}.mp4", 10 + n) for n in range(3)]
    proposal = propose(stash_files(files), plex)
    assert proposal.path_map() == "/data=>/" and proposal.found == 3
    assert PathMap.parse("/data=>/").to_plex("/data/S1/v1.mp4") == "/S1/v1.mp4"  # not //S1/...
