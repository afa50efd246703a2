"""The plugin settings a run uses, and what changed when they are read again.

Where they come from: saved in Stash (one small GraphQL query), unless given (tests, a
settings file); the command line's on top; the server signed in with Plex (state/signin.py)
filling in the Plex URL and token. What each setting means, and its checks, is config.py's.
A worker reads them at its start, before each batch and when a pause ends
(`Services.read_settings`); a change says what kind it is, so the worker brings back exactly
the work the old settings failed. `read_config` is the same read once, for a task that needs
no worker (status).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from config import PlexSyncConfig, load_config
from errors import CLASSIFIED
from logs import add_secret
from stash.client import StashClient
from state.datadir import DataDir
from state.signin import ChosenServer, settings_with, stored_server, token_source

log = logging.getLogger("plexsync.worker")


class RunSettings:
    """The settings of one run as last read: `config` answers from that read, no request."""

    def __init__(
        self,
        data: DataDir,
        read_saved: Callable[[], dict],
        given: dict | None,
        overrides: dict,
        on_change: Callable[[], None],
    ) -> None:
        self.data = data
        self._read_saved = read_saved  # asks Stash
        self._given = given
        self._overrides = overrides
        self._on_change = on_change  # forget what was built from the old settings
        self._saved: dict | None = None  # the settings read from Stash, as last read
        self._server_seen: ChosenServer | None = None  # the signed-in server, as last read
        self._config: PlexSyncConfig | None = None
        self._error: Exception | None = None  # why the last read gave no config

    @property
    def config(self) -> PlexSyncConfig:
        """The config of the last read; its error while the settings could not be read or
        used."""
        if self._config is None:
            raise self._error or RuntimeError("Services.read_settings() was not called")
        return self._config

    def read(self) -> frozenset[str]:
        """Read the settings. What changed since the last read: "token", "where" (the server,
        path map or libraries), "other"; empty on the first read and when nothing changed.
        Settings that cannot be read or used are `config`'s error until a read succeeds (the
        step that needs them meets it); a re-read Stash does not answer changes nothing (the
        batch that follows finds Stash away by itself)."""
        if self._given is not None:  # given settings never change
            if self._config is None and self._error is None:
                self._use(self._given)
            return frozenset()
        if self._saved is None:  # the first read, or the first that Stash answers
            try:
                self._saved = saved_settings(self._read_saved, self._overrides)
            except CLASSIFIED as exc:
                self._error = exc
                return frozenset()
            self._use(self._saved)
            return frozenset()
        try:
            saved = self._read_saved()
        except CLASSIFIED:
            return frozenset()
        if saved == self._saved and stored_server(self.data) == self._server_seen:
            return frozenset()
        before = self._config
        self._on_change()
        self._saved = saved
        self._use(saved)
        if self._config is None:  # the batch halts on it and says why
            return frozenset({"other"})
        return _changes(before, self._config)

    def _use(self, settings: dict) -> None:
        """Build the config of these settings; keep its error when they cannot be used."""
        self._server_seen = stored_server(self.data)
        try:
            self._config, _ = config_of(settings, self._overrides, self.data)
            self._error = None
        except CLASSIFIED as exc:
            self._config, self._error = None, exc


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
