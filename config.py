"""Plugin settings -> one frozen `PlexSyncConfig`, validated once.

Stash returns only the keys a user has saved, and its UI shows an unsaved BOOLEAN/NUMBER/STRING
as false/0/"", so an absent, empty or zero value always means the documented default, and every
boolean is phrased so that false is the safe choice. The community PlexSync plugin's keys
(`plexHost`, `plexPort`) are read as fallbacks for `plexUrl`.

Every setting in PlexSync.yml is read in `load_config` into its field, written out there as
plain code (tests/test_settings.py checks each setting changes exactly its field).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from errors import ConfigError
from plex.paths import PathMap
from plex.timeouts import Timeouts
from setting_names import WHERE, setting


@dataclass(frozen=True)
class Backoff:
    """Delays for one kind of retry: first, doubling to cap, given up after give_up_after."""

    first: float
    cap: float
    give_up_after: float | None  # seconds since the first failure; None = never

    def delay(self, attempts: int) -> float:
        """Delay before the next try after `attempts` failures (jitter is added by the caller)."""
        return min(self.cap, self.first * (2 ** max(0, attempts - 1)))


HOURS = 3600.0
# The two retry schedules, stated once: `failAfterHours` sets their horizon.
FAIL_AFTER = 24 * HOURS  # failAfterHours unsaved
HTTP_RETRY = Backoff(30, 1800, FAIL_AFTER)  # Plex answered an error: 30 s doubling to 30 min
NOT_FOUND_RETRY = Backoff(30, 3600, FAIL_AFTER)  # Plex may still be scanning: up to 1 h


@dataclass(frozen=True)
class SyncOptions:
    """Optional mappings, each off unless the user turns it on."""

    tags_as_labels: bool = False
    studio_collections: bool = False
    sync_rating: bool = False
    skip_unorganized: bool = False
    ignore_tags: frozenset[str] = frozenset()
    skip_covers: bool = False
    scan_missing: bool = False
    max_cover_bytes: int = 10_000_000  # Plex refuses an upload over about 10 MB


# Plex's hosted web app opens any server the signed-in user can reach, whatever plexUrl is.
PLEX_WEB_DEFAULT = "https://app.plex.tv/desktop"


@dataclass(frozen=True)
class PlexSyncConfig:
    """Everything the worker needs to know about the user's choices."""

    plex_url: str = ""
    plex_token: str = field(default="", repr=False)
    libraries: tuple[str, ...] = ()
    path_map: PathMap = PathMap()
    timeouts: Timeouts = Timeouts()
    verify_tls: bool = True
    http_retry: Backoff = HTTP_RETRY
    not_found_retry: Backoff = NOT_FOUND_RETRY
    partial_library: bool = False  # files missing from Plex are given up quietly, not failed
    options: SyncOptions = SyncOptions()
    plex_web_url: str = PLEX_WEB_DEFAULT  # the browser's Plex address, for Open-in-Plex links
    import_activity: bool = False  # Plex -> Stash plays and resume points, opt-in
    activity_accounts: tuple[str, ...] = ()  # Plex account names or ids; empty: the owner

    @property
    def configured(self) -> bool:
        return bool(self.plex_url and self.plex_token)

    def token_fingerprint(self) -> str:
        """Tells tokens apart without storing one (token failures retry when it changes)."""
        return hashlib.sha256(b"plexsync-token:" + self.plex_token.encode()).hexdigest()[:16]


LEGACY_KEYS = ("plexHost", "plexPort")


def load_config(settings: dict | None) -> PlexSyncConfig:
    """Build the config from saved plugin settings; ConfigError lists every problem at once."""
    saved = _Saved(settings or {})
    plex_url = _plex_url(saved.settings, saved.problems)
    plex_token = saved.text("plexToken")
    if plex_url and not plex_token:  # a bad url is its own problem, not this one
        saved.problems.append(
            f"{setting('plexToken')} is empty: paste your X-Plex-Token into it in {WHERE}, "
            "or Connect to Plex on the PlexSync page"
        )
    path_map = saved.path_map("pathMap")
    timeouts = Timeouts(
        connect=saved.number("connectTimeout", Timeouts.connect),
        read=saved.number("readTimeout", Timeouts.read),
    )
    give_up = saved.number("failAfterHours", FAIL_AFTER, HOURS)  # one horizon for both
    config = PlexSyncConfig(
        plex_url=plex_url,
        plex_token=plex_token,
        libraries=saved.names("plexLibraries"),
        path_map=path_map,
        timeouts=timeouts,
        verify_tls=not saved.flag("allowInsecureTls"),
        http_retry=replace(HTTP_RETRY, give_up_after=give_up),
        not_found_retry=replace(NOT_FOUND_RETRY, give_up_after=give_up),
        partial_library=saved.flag("partialLibrary"),
        options=SyncOptions(
            tags_as_labels=saved.flag("tagsAsLabels"),
            studio_collections=saved.flag("studioCollections"),
            sync_rating=saved.flag("syncRating"),
            skip_unorganized=saved.flag("skipUnorganized"),
            ignore_tags=frozenset(n.casefold() for n in saved.names("ignoreTags")),
            skip_covers=saved.flag("skipCovers"),
            scan_missing=saved.flag("scanMissing"),
            max_cover_bytes=round(saved.number("maxCoverMB", SyncOptions.max_cover_bytes, 1e6)),
        ),
        plex_web_url=_web_url(saved.text("plexWebUrl"), saved.problems),
        import_activity=saved.flag("importActivity"),
        activity_accounts=saved.names("activityAccounts"),
    )
    if saved.problems:
        raise ConfigError("; ".join(saved.problems))
    return config


@dataclass
class _Saved:
    """The saved settings, read one key at a time; every problem found is kept, so the user
    hears them all at once. An absent, empty or zero value means the field's default."""

    settings: dict
    problems: list[str] = field(default_factory=list)

    def text(self, key: str) -> str:
        return _text(self.settings.get(key))

    def flag(self, key: str) -> bool:
        value = self.settings.get(key)
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)

    def names(self, key: str) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.text(key).split(",") if name.strip())

    def path_map(self, key: str) -> PathMap:
        try:
            return PathMap.parse(self.text(key))
        except ConfigError as exc:
            self.problems.append(str(exc))
            return PathMap()

    def number(self, key: str, default: float, unit: float = 1.0) -> float:
        """A number saved in `unit`s (seconds, HOURS, megabytes), times `unit`; `default` is
        already in the result's terms."""
        raw = self.settings.get(key)
        if raw in (None, "", 0, "0"):
            return default
        try:
            value = float(raw)
        except (TypeError, ValueError):
            self.problems.append(f"{setting(key)} is {raw!r}, not a number: {_NUMBER_FIX}")
            return default
        if value < 0:
            self.problems.append(f"{setting(key)} is {value:g}, below 0: {_NUMBER_FIX}")
            return default
        return value * unit


_NUMBER_FIX = "enter a number, or leave it empty for the default"


def _plex_url(settings: dict, problems: list[str]) -> str:
    url = _text(settings.get("plexUrl"))
    if not url and _text(settings.get("plexHost")):
        host = _text(settings.get("plexHost"))
        port = _text(settings.get("plexPort")) or "32400"
        url = host if "://" in host else f"http://{host}:{port}"
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        if "://" not in url:  # typed without a scheme: the one fix is plain
            problems.append(
                f"{setting('plexUrl')} is {url!r}, without http:// or https:// in front: "
                f"enter it as http://{url}"
            )
        else:
            problems.append(
                f"{setting('plexUrl')} is {url!r}, not an http:// or https:// address with a "
                "host: enter your server's address and port, e.g. http://192.168.1.10:32400"
            )
        return ""
    try:
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        problems.append(
            f"{setting('plexUrl')} {url!r} has an invalid port: "
            "enter a port from 1 to 65535, e.g. http://192.168.1.10:32400"
        )
        return ""
    return url.rstrip("/")


def _web_url(url: str, problems: list[str]) -> str:
    if not url:
        return PLEX_WEB_DEFAULT
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(
            f"{setting('plexWebUrl')} is {url!r}, without http:// or https:// and a host: "
            "enter Plex Web's address, e.g. http://192.168.1.10:32400/web/index.html, "
            f"or leave it empty for {PLEX_WEB_DEFAULT}"
        )
        return PLEX_WEB_DEFAULT
    return url.rstrip("/")


def _text(value) -> str:
    return "" if value is None else str(value).strip()
