"""The rig's tricky library: Stash and Plex see the same files under other roots.

Stash runs in Docker with the media mounted at /data; Plex mounts it at /media. One more
folder of clips reaches Stash as a Windows share (`\\\\NAS\\Clips`), which Plex sees at
/mnt/clips, with the file names in another case. And the traps a path map must not fall into:

* /data/Extras/intro.mp4 is not in Plex, but Plex has another file, /media/Extras/intro.mp4,
  of another size: `/data=>/media` would map the one onto the other, so it must not be proposed
  (per-studio rules are, and Extras stays unmatched);
* trailer.mp4 of one size is in two studios: name + size alone cannot tell them apart, but the
  folder rule does;
* a scene Plex does not have at all, and one Plex has at the very same path (/shared).
"""

from __future__ import annotations

STUDIOS = ("Northlight Films", "Velvet Studios", "Cobalt Pictures")
CLIPS = ("Beach Day.mp4", "Interview Part 1.mp4", "Interview Part 2.mp4")


def files() -> tuple[list[tuple[str, str, int]], list[tuple[str, str, int]]]:
    """(Stash scenes as (title, path, size), Plex items as (section title, path, size))."""
    stash, plex = [], []
    size = 700_000_000
    for studio in STUDIOS:
        for n in range(4):
            size += 1
            name = f"{studio}/{2021 + n}/{studio.split()[0]} scene {n + 1}.mp4"
            stash.append((f"{studio}: scene {n + 1}", f"/data/{name}", size))
            plex.append(("Movies", f"/media/{name}", size))
        stash.append((f"{studio} trailer", f"/data/{studio}/trailer.mp4", 5_000_000))
        plex.append(("Movies", f"/media/{studio}/trailer.mp4", 5_000_000))
    for n, clip in enumerate(CLIPS):
        stash.append((clip.removesuffix(".mp4"), f"\\\\NAS\\Clips\\{clip}", 90_000_000 + n))
        plex.append(("Home Videos", f"/mnt/clips/{clip.lower()}", 90_000_000 + n))
    stash.append(("Intro", "/data/Extras/intro.mp4", 10_000))
    plex.append(("Movies", "/media/Extras/intro.mp4", 99_000))
    stash.append(("Not scanned yet", "/data/Northlight Films/2025/new.mp4", 123_456))
    stash.append(("Same on both", "/shared/together.mp4", 42_000))
    plex.append(("Movies", "/shared/together.mp4", 42_000))
    return stash, plex


def install(stash, plex) -> dict[str, str]:
    """Put the tricky library into a FakeStash and a FakePlex; {scene title: scene id}."""
    sections = {}
    for title, agent in (
        ("Movies", "tv.plex.agents.movie"),
        ("Home Videos", "tv.plex.agents.none"),
    ):
        known = {s.title: s.key for s in plex.sections()}
        sections[title] = known.get(title) or plex.add_section(title, agent=agent)
    scenes = {}
    stash_files, plex_files = files()
    for title, path, size in stash_files:
        scenes[title] = stash.add_scene(title=title, files=[(path, size)])
    for section, path, size in plex_files:
        name = path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
        plex.add_item(sections[section], name, files=[(path, size)])
    return scenes
