"""The connections one worker run needs, each built once and only when first needed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import cached_property

from config import PlexSyncConfig, load_config
from errors import CLASSIFIED
from logs import add_secret
from plex.client import PlexClient, Section, probe
from plex.errors import PlexAuthError, PlexConfigError
from plex.index import PathIndex
from stash.client import StashClient
from state.datadir import DataDir
from state.store import Store
from worker.sync import SceneSync

log = logging.getLogger("plexsync.worker")
MOVIE_TYPE = "movie"


class Services:
    """Stash, settings, Plex, the path index and the scene syncer for one run."""

    def __init__(
        self,
        data: DataDir,
        store: Store,
        stash_connection: dict | None,
        settings: dict | None = None,
        overrides: dict | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.data = data
        self.store = store
        self._connection = dict(stash_connection or {})
        self._settings = settings
        self._overrides = overrides or {}
        self.clock = clock
        self.sleep = sleep
        self.token_rejected = False
        for secret in (
            (self._connection.get("SessionCookie") or {}).get("Value"),
            self._connection.get("ApiKey"),
        ):
            add_secret(secret)

    @cached_property
    def stash(self) -> StashClient:
        return StashClient(self._connection)

    @cached_property
    def config(self) -> PlexSyncConfig:
        """Saved plugin settings, with any given on the command line on top."""
        settings = self._settings
        if settings is None:
            settings = self.saved_settings()
        settings = {**settings, **self._overrides}
        add_secret(str(settings.get("plexToken") or ""))
        return load_config(settings)

    def saved_settings(self) -> dict:
        """The plugin settings saved in Stash; without Stash, none if the command line gave
        the Plex connection (the other settings then keep their defaults)."""
        try:
            return self.stash.plugin_settings()
        except CLASSIFIED:
            if self._overrides.get("plexUrl") and self._overrides.get("plexToken"):
                log.warning("Stash is unreachable: using the command line's Plex settings only")
                return {}
            raise

    @cached_property
    def plex(self) -> PlexClient:
        config = self.config
        if not config.configured:
            raise PlexConfigError("PlexSync is not configured: set plexUrl and plexToken")
        client = PlexClient(
            config.plex_url,
            config.plex_token,
            config.timeouts,
            verify_tls=config.verify_tls,
            sleep=self.sleep,
        )
        client.connect()
        return client

    def checked_plex(self) -> PlexClient:
        """The Plex client, unless Plex already rejected the token in this run."""
        if self.token_rejected:
            raise PlexAuthError()
        return self.plex

    @cached_property
    def all_sections(self) -> list[Section]:
        return self.checked_plex().sections()

    @cached_property
    def sections(self) -> list[Section]:
        return choose_sections(self.all_sections, self.config.libraries)

    @cached_property
    def index(self) -> PathIndex:
        others = [s for s in self.all_sections if s.type == MOVIE_TYPE and s not in self.sections]
        return PathIndex(
            self.data.private_path(self.data.index_path.name),
            self.checked_plex(),
            self.sections,
            clock=self.clock,
            other_sections=others,
        )

    @cached_property
    def syncer(self) -> SceneSync:
        self.checked_plex()
        return SceneSync(self.plex, self.index, self.store, self.stash, self.config, self.clock)

    @cached_property
    def activity(self):
        """The watch-activity import's steps for this run."""
        from worker.activity import ActivityImport

        return ActivityImport(self, self.store, self.clock)

    def probe(self, service: str) -> bool:
        """One quick look at a service that was away; True when it answers."""
        try:
            if service == "Stash":
                self.stash.call("query PlexSyncPing { version { version } }")
            else:
                config = self.config
                probe(config.plex_url, config.plex_token, config.timeouts.probe, config.verify_tls)
            return True
        except CLASSIFIED as exc:  # any answer but a good one means "still away"
            log.debug("%s still away: %s", service, exc)
            return False

    def close(self) -> None:
        if "syncer" in self.__dict__:
            self.syncer.close()
        for name in ("plex", "stash"):
            if name in self.__dict__:
                self.__dict__[name].close()


def choose_sections(sections: list[Section], wanted: tuple[str, ...]) -> list[Section]:
    """The movie-type sections to sync: the named ones, or all of them when none are named."""
    if not wanted:
        chosen = [s for s in sections if s.type == MOVIE_TYPE]
        if not chosen:
            raise PlexConfigError("Plex has no movie or Other Videos library to sync")
        return chosen
    by_title = {s.title.casefold(): s for s in sections}
    chosen, problems = [], []
    for title in wanted:
        section = by_title.get(title.casefold())
        if section is None:
            names = ", ".join(sorted(s.title for s in sections)) or "none"
            problems.append(f"Plex has no library named {title!r} (it has: {names})")
        elif section.type != MOVIE_TYPE:
            problems.append(
                f"Plex library {title!r} is a {section.type} library; PlexSync syncs movie and "
                "Other Videos libraries only"
            )
        else:
            chosen.append(section)
    if problems:
        raise PlexConfigError("; ".join(problems))
    return chosen
