"""The connections one worker run needs, each built once and only when first needed.

The settings are read again before each batch (`refresh_settings`, one small query): when a
person changed them, everything built from them (the Plex client, the libraries, the path
index, the syncer, the retry policy) is built again, from the new settings, on next use.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import cached_property

from errors import CLASSIFIED, ConfigError
from plex.client import PlexClient, Section, probe
from plex.errors import PlexAuthError, PlexConfigError
from plex.identity import ClientIdentity, plugin_version
from plex.index import PathIndex
from stash.client import StashClient
from stash.settings import PlexSyncConfig, load_config
from worker.datadir import DataDir
from worker.logs import add_secret
from worker.routing import RetryPolicy
from worker.signin import settings_with, stored_server, token_source
from worker.store import Store
from worker.sync import SceneSync

log = logging.getLogger("plexsync.worker")
MOVIE_TYPE = "movie"
# What this run builds from the settings: dropped when they change, built again on next use.
BUILT_FROM_SETTINGS = ("config", "retry_policy", "plex", "all_sections", "sections", "index")
BUILT_FROM_SETTINGS += ("syncer", "activity")


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
        self._saved: dict | None = None  # the settings read from Stash, as last read
        self._server_seen = None  # the signed-in server stored in the data directory, as read
        self._overrides = overrides or {}
        self.clock = clock
        self.sleep = sleep
        self.token_rejected = False
        self.token_in_use: dict = {"source": None}  # which token config holds (status says)
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
            if self._saved is None:
                self._saved = self.saved_settings()
            settings = self._saved
        settings, server = {**settings, **self._overrides}, stored_server(self.data)
        self._server_seen = server
        self.token_in_use = token_source(settings, server)
        settings = settings_with(settings, server)
        add_secret(str(settings.get("plexToken") or ""))
        return load_config(settings)

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        """The retry schedules of these settings."""
        config = self.config
        return RetryPolicy(
            http=config.http_retry,
            not_found=config.not_found_retry,
            drop_not_found=config.partial_library,
        )

    def refresh_settings(self) -> frozenset[str]:
        """Read the saved settings again (one small query) and the signed-in server stored in
        the data directory; what changed since this run read them: "token", "where" (the
        server, path map or libraries), "other" (empty: nothing). Given settings (tests, a
        settings file) never change; an unreadable answer changes nothing (the batch that
        follows finds Stash away by itself)."""
        if self._settings is not None or self._saved is None:
            return frozenset()  # given, or not read yet: the first use reads them
        try:
            saved = self.stash.plugin_settings()
        except CLASSIFIED:
            return frozenset()
        if saved == self._saved and stored_server(self.data) == self._server_seen:
            return frozenset()
        before = self.__dict__.get("config")
        self._rebuild()
        self._saved = saved
        try:
            after = self.config
        except ConfigError:  # the batch halts on it and says why
            return frozenset({"other"})
        return _changes(before, after)

    def _rebuild(self) -> None:
        """Forget what was built from the settings; it is built again on next use."""
        self.close_plex()
        for name in BUILT_FROM_SETTINGS:
            self.__dict__.pop(name, None)
        self.token_rejected = False  # a new token deserves a request

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
            identity=self.identity,
        )
        client.connect()
        return client

    @cached_property
    def identity(self) -> ClientIdentity:
        """Who we are to Plex: one device per data directory."""
        return ClientIdentity(self.data.client_identifier(), plugin_version())

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
                probe(
                    config.plex_url,
                    config.plex_token,
                    config.timeouts.probe,
                    config.verify_tls,
                    self.identity,
                )
            return True
        except CLASSIFIED as exc:  # any answer but a good one means "still away"
            log.debug("%s still away: %s", service, exc)
            return False

    def close_plex(self) -> None:
        if "syncer" in self.__dict__:
            self.syncer.close()
        if "plex" in self.__dict__:
            self.plex.close()

    def close(self) -> None:
        self.close_plex()
        if "stash" in self.__dict__:
            self.stash.close()


def _changes(before: PlexSyncConfig | None, after: PlexSyncConfig) -> frozenset[str]:
    """Which kinds of setting differ between two configs (the token compared by fingerprint)."""
    if before is None:
        return frozenset({"other"})
    changed = set()
    if before.token_fingerprint() != after.token_fingerprint():
        changed.add("token")
    where = ("plex_url", "path_map", "libraries")  # where a scene's file is looked for
    if any(getattr(before, name) != getattr(after, name) for name in where):
        changed.add("where")
    if before != after and not changed:
        changed.add("other")
    return frozenset(changed)


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
