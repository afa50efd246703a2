"""The connections one worker run needs, each made by an explicit call.

`read_settings()` reads the plugin settings (one small Stash query) and `connect()` reaches
Plex (connects, lists the libraries, opens the path index and the syncer); each says so at
its call site, and no attribute makes a request: `config` answers from the last read, `stash`
is the Stash client (no request until asked). The worker reads the settings before each
batch: when a person changed them, everything built from them (the Plex link, the retry
policy) is built again, from the new settings, at the next `connect()` or use. `read_config`
is the same settings read for a task that needs no Plex connection (status).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cached_property

from config import PlexSyncConfig, load_config
from errors import CLASSIFIED
from logs import add_secret
from plex.client import PlexClient, Section, probe
from plex.errors import PlexConfigError
from plex.identity import ClientIdentity, plugin_version
from plex.index import PathIndex
from setting_names import WHERE, setting
from stash.client import StashClient
from state.datadir import DataDir
from state.signin import ChosenServer, settings_with, stored_server, token_source
from state.store import Store
from worker.gate import Gate
from worker.routing import RetryPolicy
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
        self._settings = settings
        self._saved: dict | None = None  # the settings read from Stash, as last read
        # the signed-in server stored in the data directory, as read
        self._server_seen: ChosenServer | None = None
        self._config: PlexSyncConfig | None = None  # by read_settings()
        self._config_error: Exception | None = None  # why the last read gave no config
        self._overrides = overrides or {}
        self.clock = clock
        self.sleep = sleep
        self._reached: tuple[PlexClient, list[Section]] | None = None  # by reach()
        self._link: PlexLink | None = None  # by connect()
        self.gate = Gate()  # the one switch that stops requests to Plex (worker/gate.py)
        self.token_in_use: dict = {"source": None}  # which token config holds (status says)
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
        """The settings as `read_settings` last read them; its error while they could not be
        read or used."""
        if self._config is None:
            raise self._config_error or RuntimeError("Services.read_settings() was not called")
        return self._config

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
        """Read the plugin settings saved in Stash (one small query; none when they were given:
        tests, a settings file), with the command line's on top and the signed-in server stored
        in the data directory. What changed since the last read: "token", "where" (the server,
        path map or libraries), "other"; empty on the first read and when nothing changed.
        Settings that cannot be read or used are `config`'s error until a read succeeds (the
        step that needs them meets it); a re-read Stash does not answer changes nothing (the
        batch that follows finds Stash away by itself)."""
        if self._settings is not None:  # given settings never change
            if self._config is None and self._config_error is None:
                self._use(self._settings)
            return frozenset()
        if self._saved is None:  # the first read, or the first that Stash answers
            try:
                self._saved = saved_settings(self.stash.plugin_settings, self._overrides)
            except CLASSIFIED as exc:
                self._config_error = exc
                return frozenset()
            self._use(self._saved)
            return frozenset()
        try:
            saved = self.stash.plugin_settings()
        except CLASSIFIED:
            return frozenset()
        if saved == self._saved and stored_server(self.data) == self._server_seen:
            return frozenset()
        before = self._config
        self._rebuild()
        self._saved = saved
        self._use(saved)
        if self._config is None:  # the batch halts on it and says why
            return frozenset({"other"})
        return _changes(before, self._config)

    def _use(self, settings: dict) -> None:
        """Build the config of these settings; keep its error when they cannot be used."""
        self._server_seen = stored_server(self.data)
        try:
            self._config, self.token_in_use = config_of(settings, self._overrides, self.data)
            self._config_error = None
        except CLASSIFIED as exc:
            self._config, self._config_error = None, exc

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


def read_config(
    data: DataDir,
    connection: dict | None,
    settings: dict | None = None,
    overrides: dict | None = None,
) -> tuple[PlexSyncConfig, dict]:
    """The config a run with these arguments would use, and which token it holds, read once
    (one Stash query when no settings are given): for a task that needs the settings and no
    connection to Plex."""
    if settings is None:
        settings = saved_settings(lambda: _read_once(connection), overrides or {})
    return config_of(settings, overrides or {}, data)


def _read_once(connection: dict | None) -> dict:
    stash = StashClient(dict(connection or {}))
    try:
        return stash.plugin_settings()
    finally:
        stash.close()


def saved_settings(read: Callable[[], dict], overrides: dict) -> dict:
    """The plugin settings saved in Stash (`read` asks it); without Stash, none if the command
    line gave the Plex connection (the other settings then keep their defaults)."""
    try:
        return read()
    except CLASSIFIED:
        if overrides.get("plexUrl") and overrides.get("plexToken"):
            log.warning("Stash is unreachable: using the command line's Plex settings only")
            return {}
        raise


def config_of(settings: dict, overrides: dict, data: DataDir) -> tuple[PlexSyncConfig, dict]:
    """The config of these settings with the command line's on top and the signed-in server
    filling in (state/signin.py), and which token it holds; the token is redacted from every
    log line from now on."""
    merged, server = {**settings, **overrides}, stored_server(data)
    source = token_source(merged, server)
    merged = settings_with(merged, server)
    add_secret(str(merged.get("plexToken") or ""))
    return load_config(merged), source


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
