"""Path map discovery: propose `pathMap` from Stash's files and the path index, and save it.

The index is listed afresh, Stash's scenes are read a page at a time, and
`plex.path_discovery.propose` does the rest; the rules are proposed from the raw paths, so the
`pathMap` already saved plays no part. `--apply` (or the page's Apply) saves the proposal.
"""

from __future__ import annotations

import logging

from entry.context import Context
from errors import ConfigError
from plex.path_discovery import Proposal, StashFile, propose
from plex.paths import PathMap
from setting_names import WHERE, setting
from stash.client import PAGE_SIZE
from worker import metadata as scenes
from worker.services import Services

log = logging.getLogger("plexsync.discover")


def discover(ctx: Context, apply: bool = False) -> dict:
    """The proposed rules and what they find; with `apply`, pathMap is saved too."""
    with ctx.services() as services:
        link = services.connect()
        link.index.rebuild()
        libraries = [section.title for section in link.sections]
        plex_files = list(link.index.files())
        proposal = propose(_stash_files(services), plex_files)
        current = services.config.path_map
    _explain(proposal, libraries, plex_files)
    answer = {
        **proposal.shown(),
        "libraries": libraries,
        "current": ";".join(f"{s}=>{p}" for s, p in current.rules),
    }
    _log(proposal)
    if apply and proposal.rules:
        answer["saved"] = apply_path_map(ctx, proposal.path_map())["pathMap"]
    return answer


def apply(ctx: Context, path_map: str) -> dict:
    """Save a pathMap (checked first: a malformed one is refused, nothing saved)."""
    return apply_path_map(ctx, path_map)


def apply_path_map(ctx: Context, path_map: str) -> dict:
    from entry.connect import save_settings

    PathMap.parse(path_map)  # ConfigError naming the entry that is not stashPrefix=>plexPrefix
    save_settings(ctx, {"pathMap": path_map})
    saved = f"{setting('pathMap')} saved: {path_map}"
    log.info("%s", saved)
    return {"pathMap": path_map, "said": saved}


def _stash_files(services: Services) -> list[StashFile]:
    found, after = [], 0
    while True:
        page, _ = services.stash.scene_page(after)
        for scene in page:
            found += [StashFile(int(scene["id"]), p, s) for p, s in scenes.files(scene)]
        if len(page) < PAGE_SIZE:
            return found
        after = int(page[-1]["id"])


def _explain(proposal: Proposal, libraries: list[str], plex_files: list) -> None:
    """Nothing in common at all: say so, with a path from each side to compare."""
    if proposal.rules or proposal.found_as_is or not proposal.scenes:
        return
    plex_example = plex_files[0][0] if plex_files else "nothing"
    raise ConfigError(
        f"No path map explains the paths: none of Stash's {proposal.scenes} scenes has a file "
        f"of the same name and size in Plex libraries {', '.join(map(repr, libraries))} "
        f"(Stash has e.g. {proposal.left_examples[0]}; Plex has e.g. {plex_example}). Check "
        f"that {setting('plexLibraries')} in {WHERE} names the libraries that hold these "
        "files and that Plex has scanned them"
    )


def _log(proposal: Proposal) -> None:
    for rule in proposal.rules:
        log.info("rule %s finds %d scene(s)", rule.text(), rule.scenes)
    for refused in proposal.refused:
        log.info("not proposed: %s would map a file onto another file of the same name", refused)
    log.info(
        "%d of %d scenes found (%d at their own path), %d not found",
        proposal.found,
        proposal.scenes,
        proposal.found_as_is,
        proposal.left,
    )
