"""The demo: a real PlexSync sync between the rig's fake Stash and fake Plex, no servers needed.

`python3 dev.py demo [--scenes N]` starts both fakes with a generated library, installs the
plugin into a temporary Stash plugins folder, and drives it exactly as Stash would: the
"Sync all" task, then a few edits saved in Stash with their hooks (the background worker
picks them up), then the "Show sync status" task. It prints what changed in Plex.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from tests.rig.fake_plex import FakePlex
from tests.rig.fake_stash import FakeStash
from tests.rig.stash_runner import StashRunner, install_plugin

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "demo-plex-token-not-a-secret"
STUDIOS = ["Northlight Films", "Velvet Studios", "Golden Hour Media", "Cobalt Pictures"]
PERFORMERS = ["Anna Berg", "Zoë Müller", "李小龙", "Inès Dubois", "Maya Tanaka", "Lucía García"]
TAGS = ["Outdoor", "Beach", "Interview", "4K", "Behind The Scenes", "Vintage", "Travel"]


def build_library(stash: FakeStash, plex: FakePlex, count: int, rng: random.Random):
    """Scenes in Stash under /data, the same files in Plex under /media (a Docker-style
    mount, bridged by a pathMap), some not yet in Plex, one in a library not synced."""
    studios = [stash.add_studio(name) for name in STUDIOS]
    performers = [stash.add_performer(name) for name in PERFORMERS]
    tags = [stash.add_tag(name) for name in TAGS]
    plex.add_section("Movies", key="1")
    plex.add_section("Home Videos", agent="tv.plex.agents.none", key="2")
    pairs = []
    for i in range(count):
        studio = rng.randrange(len(STUDIOS))
        name = f"{STUDIOS[studio]}/{2020 + i % 5}/Scene {i:04d}.mp4"
        size = 100_000_000 + i
        scene = stash.add_scene(
            title=f"{STUDIOS[studio].split()[0]} scene {i}",
            details=f"Scene {i} from {STUDIOS[studio]}.\nShot on location.",
            date=f"{2020 + i % 5}-0{1 + i % 9}-1{i % 10}",
            studio=studios[studio],
            performers=rng.sample(performers, rng.randint(1, 2)),
            tags=rng.sample(tags, rng.randint(1, 4)),
            files=[(f"/data/{name}", size)],
            rating100=rng.choice([None, 60, 80, 100]),
        )
        if i % 25 == 24:
            continue  # not scanned into Plex yet
        section = "2" if i == 7 else "1"
        rating_key = plex.add_item(section, f"Scene {i:04d}", files=[(f"/media/{name}", size)])
        pairs.append((scene, rating_key))
    return pairs


def show(label: str, plex: FakePlex, rating_keys: list[str]) -> None:
    print(f"\n{label}")
    for rating_key in rating_keys:
        item = plex.item(rating_key)
        genres = ", ".join(item.genres[:3])
        print(
            f"  item {rating_key:>4}  {item.title[:28]:28}  {item.studio[:18]:18}  "
            f"{(item.originally_available_at or '')[:10]:10}  [{genres}]"
            f"{'  +poster' if item.poster else ''}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=300)
    args = parser.parse_args(argv)
    rng = random.Random(42)
    with FakePlex(token=TOKEN) as plex, FakeStash() as stash, tempfile.TemporaryDirectory() as tmp:
        stash.plugin_settings = {
            "PlexSync": {
                "plexUrl": plex.url,
                "plexToken": TOKEN,
                "plexLibraries": "Movies",
                "pathMap": "/data=>/media",
            }
        }
        pairs = build_library(stash, plex, args.scenes, rng)
        plugin = install_plugin(ROOT, Path(tmp) / "plugins", name="PlexSync")
        data_dir = Path(tmp) / "plexsync-data"
        connection = stash.server_connection(plugin, Path(tmp) / "stash")
        runner = StashRunner(plugin, connection, env={"PLEXSYNC_DATA_DIR": str(data_dir)})
        sample = [rk for _, rk in pairs[:4]]
        print(f"Demo library: {args.scenes} scenes in the fake Stash, {len(pairs)} in Plex.")
        show("Plex before (titles are file names, nothing else is set):", plex, sample)

        result = runner.run_task("sync_all")
        print(f"\nTask 'Sync all scenes to Plex' ran in {result.wall_time:.1f} s as Stash runs it:")
        for level, message in result.log:
            print(f"  [{level}] {message}")
        print(f"  output: {result.output}")
        show("Plex after Sync all:", plex, sample)
        print(f"  Plex requests: {plex.count()} ({plex.writes} writes) for {args.scenes} scenes")

        plex.reset_log()
        scene_id, rating_key = pairs[1]
        stash.update_scene(scene_id, title="Renamed in Stash", tags=[stash.add_tag("Favourite")])
        started = time.monotonic()
        hook = runner.run_hook(
            "Scene.Update.Post", int(scene_id), input_fields=["id", "title", "tag_ids"]
        )
        while plex.item(rating_key).title != "Renamed in Stash":
            if time.monotonic() - started > 30:
                print("  the background worker did not deliver the edit in 30 s")
                return 1
            time.sleep(0.01)
        latency = time.monotonic() - started
        print(
            f"\nA save in Stash: the hook returned in {hook.wall_time * 1000:.0f} ms "
            f"({hook.output!r}); Plex showed it {latency:.2f} s after the save."
        )
        show("Plex after the edit:", plex, [rating_key])
        print(f"  Plex requests for that edit: {plex.count()} ({plex.writes} writes)")

        time.sleep(2.5)  # let the background worker linger and exit
        status = runner.run_task("status")
        print("\nTask 'Show sync status':")
        for level, message in status.log:
            print(f"  [{level}] {message}")
        print(f"  output: {status.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
