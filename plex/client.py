"""The timeout-bounded Plex client: one session, tenacity for network blips.

Every call goes through plexapi's `PlexServer.query` (its headers, its XML parsing) with an
explicit `(connect, read)` timeout, a deadline for the whole call and a cap on the answer's
size (`plex.transport`). The session's response hook raises `HTTPStatusError` for every
status >= 400, so classification never depends on plexapi's status table (which raises
TypeError for statuses requests cannot name). Connection-level failures are retried at once,
with jitter, by tenacity; what is left is translated by `plex.errors.translate` (an
exception of another type is a bug of ours, and goes on as it is). 5xx/429 answers for
several different items in a row mean the server, not the item, is unwell: the client says
so with `PlexUnreachable`, and the worker pauses the run.

Every request, whichever thread sends it, waits for room under the client's limit on
requests in flight (`plex.limit`), which learns from each answer's time by its kind (a read,
a listing page, a write, a poster upload), halves on a 429, a 503 or a timeout, and holds
every request for as long as a `Retry-After` asks. Every request names PlexSync to Plex
(`plex.identity`), when the caller says who it is.

A little past the 300-line alarm on purpose: the endpoints at the end (sections, a listing
page, an item, an edit, a poster, a rating, a scan) are a few lines each and are the reason
the call machinery above exists; apart, each would be a module of one function.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
import tenacity

from plex.errors import (
    HTTPStatusError,
    PlexConfigError,
    PlexTemporaryError,
    PlexUnreachable,
    is_connection_error,
    not_plex,
    translatable,
    translate,
)
from plex.identity import ClientIdentity
from plex.limit import READS, ConcurrencyLimit
from plex.timeouts import Timeouts
from plex.transport import Deadline, MiB, PlexSession
from setting_names import setting

log = logging.getLogger("plexsync.plex")

ANSWER_CAP = 8 * MiB  # the server root, an item, an edit: a few KiB in practice
LISTING_CAP = 128 * MiB  # a 1,000-item listing page with every tag is a few MiB
UNWELL_AFTER = 3  # 5xx/429 for this many different items in a row: the server is unwell
OVERLOADED = (429, 503)  # the server says it has too much to do
DEFAULT_TIMEOUTS = Timeouts()


@dataclass(frozen=True)
class ConnectionRetry:
    """Immediate retries of network blips (refused, reset, timed out): a few, with jitter."""

    attempts: int = 3
    min_wait: float = 0.1
    max_wait: float = 0.4


@dataclass(frozen=True)
class ServerInfo:
    """Who answered: Plex's machine identifier keys everything we remember about items."""

    machine_identifier: str
    name: str
    version: str


@dataclass(frozen=True)
class Section:
    """A Plex library section."""

    key: str
    title: str
    type: str
    agent: str


def _import_plexapi():
    """Import plexapi without letting a user's config file or PLEXAPI_* variables steer it."""
    os.environ["PLEXAPI_CONFIG_PATH"] = os.path.join(os.devnull, "plexsync-no-config.ini")
    os.environ["PLEXAPI_PLEXAPI_AUTORELOAD"] = "false"
    os.environ["PLEXAPI_LOG_SHOW_SECRETS"] = "false"
    os.environ.pop("PLEXAPI_LOG_PATH", None)
    from plexapi.server import PlexServer

    return PlexServer


class PlexClient:
    """A connection to one Plex server; methods raise only `plex.errors` classes."""

    def __init__(
        self,
        url: str,
        token: str,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        retry: ConnectionRetry = ConnectionRetry(),
        verify_tls: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        identity: ClientIdentity | None = None,
        limit: ConcurrencyLimit | None = None,
    ) -> None:
        if not url or not token:  # an empty token makes plexapi fall back to its config file
            raise PlexConfigError(
                f"{setting('plexUrl')} and {setting('plexToken')} are both needed"
            )
        self._url = url.rstrip("/")
        self._token = token
        self.timeouts = timeouts
        headers = identity.headers() if identity else None
        self._session = PlexSession(self._url, verify_tls, ANSWER_CAP, headers)
        self.limit = limit or ConcurrencyLimit()
        self._retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(self._is_blip),
            stop=tenacity.stop_after_attempt(retry.attempts),
            wait=tenacity.wait_random(retry.min_wait, retry.max_wait),
            sleep=sleep,
            reraise=True,
        )
        self._server: Any = None  # plexapi's PlexServer, once connected
        self.requests_made = 0
        self._count_lock = threading.Lock()
        self._failing: set[str] = set()  # items answered 5xx/429 since the last good answer
        self._calls_cut = 0  # calls under way whose connection failed at least once

    # -- connection -------------------------------------------------------------------------

    def connect(self) -> ServerInfo:
        """Open the connection (one `GET /`) and say which server answered."""
        if self._server is None:
            self._server = self._call("the server", self._open_server, self.timeouts.request())
        return self.info

    def _open_server(self, timeout):
        try:
            server = _import_plexapi()(
                self._url, self._token, session=self._session, timeout=timeout
            )
        except (AttributeError, ValueError) as exc:
            # plexapi parsing an answer that is no Plex root (an empty body, odd XML): here,
            # and only here, these mean the address, not a bug of ours.
            raise not_plex() from exc
        if not getattr(server, "machineIdentifier", None):  # an empty answer has none
            raise PlexConfigError(f"{self._url} answered, but it is not a Plex server")
        return server

    @property
    def info(self) -> ServerInfo:
        server = self._server
        assert server is not None, "connect() first"
        return ServerInfo(server.machineIdentifier, server.friendlyName or "", server.version or "")

    def close(self) -> None:
        if len(self.limit.changes) > 1 or set(self.limit.best) - READS:  # it limited writes
            log.info("%s", self.limit.summary())
        self._session.close()

    # -- calls ----------------------------------------------------------------------------

    def _call(
        self, what: str, fn: Callable, timeout, max_bytes: int = ANSWER_CAP, kind: str = "read"
    ) -> Any:
        """fn(timeout), retried on network blips, bounded, its errors translated."""
        cut: list[bool] = []  # set by the first attempt of this call that loses its connection
        try:  # a copy per call: a Retrying object keeps per-call state, and calls overlap
            result = self._retrying.copy()(self._attempt, what, fn, timeout, max_bytes, kind, cut)
        except translatable() as exc:  # requests, plexapi, our session's; not our own bugs
            raise self._judge(what, translate(exc, what)) from exc
        finally:
            if cut:
                with self._count_lock:
                    self._calls_cut -= 1
        with self._count_lock:
            self._failing.clear()
        return result

    def _is_blip(self, exc: BaseException) -> bool:
        """A connection error worth retrying at once: no other call lost its connection at the
        same time (when several do, the server is away, and the run pauses instead)."""
        with self._count_lock:
            return is_connection_error(exc) and self._calls_cut <= 1

    def _attempt(
        self, what: str, fn: Callable, timeout, max_bytes: int, kind: str, cut: list[bool]
    ) -> Any:
        ticket = self.limit.acquire(kind)
        with self._count_lock:
            self.requests_made += 1
        try:
            # Past the deadline, whatever fn raised leaves the block as PlexUnreachable.
            with Deadline(self.timeouts.deadline(timeout), max_bytes, what):
                result = fn(timeout)
        except BaseException as exc:
            if is_connection_error(exc) and not cut:
                cut.append(True)
                with self._count_lock:
                    self._calls_cut += 1
            status = getattr(exc, "status", None)
            self.limit.release(
                ticket,
                overloaded=status in OVERLOADED or is_timeout(exc),
                retry_after=exc.retry_after if isinstance(exc, HTTPStatusError) else 0.0,
            )
            raise
        self.limit.release(ticket, answered=True)
        return result

    def _judge(self, what: str, error: Exception) -> Exception:
        """5xx/429 for several different items in a row: the server is unwell, not the item."""
        status = getattr(error, "status", None)
        if not isinstance(error, PlexTemporaryError) or status is None:
            return error
        if status != 429 and status < 500:
            return error
        with self._count_lock:
            self._failing.add(what)
            streak = len(self._failing)
        if streak >= UNWELL_AFTER and not isinstance(error, PlexUnreachable):
            return PlexUnreachable(
                f"Plex answered HTTP {status} for {streak} different items in a row ({error})"
            )
        return error

    def query(
        self, what: str, path: str, method: str = "get", timeout=None, kind=None, **kwargs
    ) -> Any:
        """One request through plexapi; returns the parsed XML element or None. `kind` is
        its class of latency for the limit: "read" or "write" by its method unless given."""
        self.connect()
        send = getattr(self._session, method)
        max_bytes = kwargs.pop("max_bytes", ANSWER_CAP)
        kind = kind or ("read" if method == "get" else "write")

        def request(timeout):
            return self._server.query(path, method=send, timeout=timeout, **kwargs)

        return self._call(what, request, timeout or self.timeouts.request(), max_bytes, kind)

    def sections(self) -> list[Section]:
        """Every library section of the server."""
        root = self.query("the library sections", "/library/sections")
        return [
            Section(d.get("key", ""), d.get("title", ""), d.get("type", ""), d.get("agent", ""))
            for d in root.iter("Directory")
        ]

    def list_page(self, section_key: str, start: int, size: int, filters: dict | None = None):
        """One page of a section's movie listing (the MediaContainer element)."""
        params = {"type": 1, "includeGuids": 0, **(filters or {})}
        path = f"/library/sections/{section_key}/all?{urlencode(params, safe='>=')}"
        headers = {"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(size)}
        return self.query(
            f"section {section_key}",
            path,
            headers=headers,
            timeout=self.timeouts.listing(),
            kind="listing",
            max_bytes=LISTING_CAP,
        )

    def metadata(self, rating_key: str):
        """The full metadata of one item (all tags, field locks)."""
        return self.query(f"item {rating_key}", f"/library/metadata/{rating_key}")

    def edit(self, section_key: str, rating_key: str, params: dict[str, str]) -> None:
        """Write every changed field of one item in a single PUT."""
        query = urlencode({"type": 1, "id": rating_key, **params})
        self.query(f"item {rating_key}", f"/library/sections/{section_key}/all?{query}", "put")

    def upload_poster(self, rating_key: str, data: bytes) -> None:
        """Upload poster bytes (never a URL for Plex to fetch: it may not reach Stash)."""
        self.query(
            f"poster of item {rating_key}",
            f"/library/metadata/{rating_key}/posters",
            "post",
            kind="poster",
            data=data,
        )

    def rate(self, rating_key: str, rating: float | None) -> None:
        """Set the user rating (0-10); None clears it."""
        value = -1 if rating is None else rating
        query = urlencode(
            {"key": rating_key, "identifier": "com.plexapp.plugins.library", "rating": value}
        )
        self.query(f"rating of item {rating_key}", f"/:/rate?{query}", "put")

    def scan_folder(self, section_key: str, folder: str) -> None:
        """Ask Plex for a partial scan of one folder (not a metadata refresh)."""
        query = urlencode({"path": folder})
        self.query(f"scan of {folder}", f"/library/sections/{section_key}/refresh?{query}")


def is_timeout(exc: BaseException) -> bool:
    """A request that ran out of time: the server may be too busy to answer."""
    return isinstance(exc, (requests.exceptions.Timeout, PlexUnreachable))


def probe(
    url: str,
    token: str,
    timeout: float,
    verify_tls: bool = True,
    identity: ClientIdentity | None = None,
) -> ServerInfo:
    """One quick look at Plex, without retries: for status and for waiting out an outage."""
    client = PlexClient(
        url,
        token,
        Timeouts(connect=timeout, read=timeout),
        ConnectionRetry(attempts=1),
        verify_tls,
        identity=identity,
    )
    try:
        return client.connect()
    finally:
        client.close()
