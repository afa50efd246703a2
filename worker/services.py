"""The connections one worker run needs, each made by an explicit call.

`read_settings()` reads the plugin settings (one small Stash query; worker/settings.py) and
`connect()` reaches Plex (connects, lists the libraries, opens the path index and the syncer);
each says so at its call site, and no attribute makes a request: `config` answers from the
last read, `stash` is the Stash client (no request until asked). When a person changed the
settings, everything built from them (the Plex link, the retry policy) is built again, from
the new settings, at the next `connect()` or use.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cached_property

from config import PlexSyncConfig
from errors import CLASSIFIED
from logs import add_secret
from plex.client import PlexClient, Section, probe
from plex.errors import PlexConfigError
from plex.identity import ClientIdentity, plugin_version
from plex.index import PathIndex
from setting_names import WHERE, setting
from stash.client import StashClient
from state.datadir import DataDir
from state.store import Store
from worker.gate import Gate
from worker.routing import RetryPolicy
from worker.settings import RunSettings
from worker.sync import SceneSync

log = logging.getLogger("plexsync.worker")
MOVIE_TYPE = "movie"
# What this run builds from the settings: dropped when they change, built again on next use.
BUILT_FROM_SETTINGS = ("retry_policy", "activity")  # and the PlexLink


@dataclass(frozen=True)
class PlexLink:
    """What a run built to reach Plex from its settings: the connected client, the synced
    libraries, the path index and the scene syncer (`Services.connect`)."""

    plex: PlexClient
    listed: list[Section]  # every library, as Plex lists them
    sections: list[Section]  # the synced ones
    index: PathIndex
    syncer: SceneSync


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
        self.settings = RunSettings(
            data, self._saved_in_stash, settings, overrides or {}, on_change=self._rebuild
        )
        self.clock = clock
        self.sleep = sleep
        self._reached: tuple[PlexClient, list[Section]] | None = None  # by reach()
        self._link: PlexLink | None = None  # by connect()
        self.gate = Gate()  # the one switch that stops requests to Plex (worker/gate.py)
        for secret in (
            (self._connection.get("SessionCookie") or {}).get("Value"),
            self._connection.get("ApiKey"),
        ):
            add_secret(secret)

    @cached_property
    def stash(self) -> StashClient:
        return StashClient(self._connection)

    @property
    def config(self) -> PlexSyncConfig:
        """The settings as `read_settings` last read them (worker/settings.py); their error
        while they could not be read or used."""
        return self.settings.config

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        """The retry schedules of these settings."""
        config = self.config
        return RetryPolicy(
            http=config.http_retry,
            not_found=config.not_found_retry,
            drop_not_found=config.partial_library,
        )

    def read_settings(self) -> frozenset[str]:
        """Read the plugin settings (one small Stash query unless they were given); what
        changed since the last read (worker/settings.py). What was built from settings that
        changed is built again on next use."""
        return self.settings.read()

    def _saved_in_stash(self) -> dict:
        return self.stash.plugin_settings()

    def _rebuild(self) -> None:
        """Forget what was built from the settings; it is built again on next use."""
        self.close_plex()
        for name in BUILT_FROM_SETTINGS:
            self.__dict__.pop(name, None)
        self.gate.open(token_too=True)  # a new token deserves a request

    def reach(self) -> tuple[PlexClient, list[Section]]:
        """Connect to Plex and list its libraries, once per run (again after the settings
        changed); refused (the error that closed it) while the gate is closed."""
        self.gate.check()
        if self._reached is None:
            self._reached = self._reach()
        return self._reached

    def _reach(self) -> tuple[PlexClient, list[Section]]:
        config = self.config
        if not config.configured:
            raise PlexConfigError(
                f"PlexSync is not configured: enter {setting('plexUrl')} and "
                f"{setting('plexToken')} in {WHERE}, or Connect to Plex on the PlexSync page"
            )
        client = PlexClient(
            config.plex_url,
            config.plex_token,
            config.timeouts,
            verify_tls=config.verify_tls,
            sleep=self.sleep,
            identity=self.identity,
        )
        with ExitStack() as on_failure:
            on_failure.callback(client.close)  # unless it answers
            client.connect()
            listed = client.sections()
            on_failure.pop_all()
        return client, listed

    def connect(self) -> PlexLink:
        """`reach` Plex, choose the synced libraries, open the path index and the scene
        syncer: what a sync needs, once per run (again after the settings changed)."""
        client, listed = self.reach()
        if self._link is None:
            config = self.config
            sections = choose_sections(listed, config.libraries)
            index = PathIndex(
                self.data.private_path(self.data.index_path.name),
                client,
                sections,
                clock=self.clock,
                other_sections=[s for s in listed if s.type == MOVIE_TYPE and s not in sections],
            )
            syncer = SceneSync(client, index, self.store, self.stash, config, self.gate, self.clock)
            self._link = PlexLink(client, listed, sections, index, syncer)
        return self._link

    @cached_property
    def identity(self) -> ClientIdentity:
        """Who we are to Plex: one device per data directory."""
        return identity_of(self.data)

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
            self.gate.open()  # it answers: the next request may go
            return True
        except CLASSIFIED as exc:  # any answer but a good one means "still away"
            log.debug("%s still away: %s", service, exc)
            return False

    def close_plex(self) -> None:
        if self._link is not None:
            self._link.syncer.close()
            self._link = None
        if self._reached is not None:
            self._reached[0].close()
            self._reached = None

    def close(self) -> None:
        self.close_plex()
        if "stash" in self.__dict__:
            self.stash.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def identity_of(data: DataDir) -> ClientIdentity:
    """Who PlexSync is to Plex: one device per data directory."""
    return ClientIdentity(data.client_identifier(), plugin_version())


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
