"""The timeout-bounded Plex client: one requests.Session, tenacity for network blips.

Every call goes through plexapi's `PlexServer.query` (its headers, its XML parsing) with an
explicit `(connect, read)` timeout. Our session's response hook raises `HTTPStatusError` for
every status >= 400, so classification never depends on plexapi's status table (which raises
TypeError for statuses requests cannot name). Connection-level failures are retried at once,
with jitter, by tenacity; anything left is translated by `plex.errors.translate`.
"""

from __future__ import annotations

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
    is_connection_error,
    translate,
)
from plex.timeouts import Timeouts

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


def _raise_for_status(response: requests.Response, *args, **kwargs) -> None:
    if response.status_code >= 400:
        body = response.text[:300]
        raise HTTPStatusError(
            response.status_code, requests.utils.urlparse(response.url).path, body
        )


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
    ) -> None:
        if not url or not token:  # an empty token makes plexapi fall back to its config file
            raise PlexConfigError("plexUrl and plexToken are both required")
        self._url = url.rstrip("/")
        self._token = token
        self.timeouts = timeouts
        self._session = requests.Session()
        self._session.verify = verify_tls
        # Proxy settings from the environment, read once: requests would otherwise re-read
        # them (and ~/.netrc) on every request, a fifth of a fast edit's client time.
        self._session.proxies.update(requests.utils.get_environ_proxies(self._url))
        self._session.trust_env = False
        self._session.hooks["response"].append(_raise_for_status)
        self._retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_connection_error),
            stop=tenacity.stop_after_attempt(retry.attempts),
            wait=tenacity.wait_random(retry.min_wait, retry.max_wait),
            sleep=sleep,
            reraise=True,
        )
        self._server = None
        self.requests_made = 0
        self._count_lock = threading.Lock()

    # -- connection -------------------------------------------------------------------------

    def connect(self) -> ServerInfo:
        """Open the connection (one `GET /`) and say which server answered."""
        if self._server is None:
            self._server = self._call("the server", self._open_server, self.timeouts.request())
        return self.info

    def _open_server(self, timeout):
        server = _import_plexapi()(self._url, self._token, session=self._session, timeout=timeout)
        if not server.machineIdentifier:
            raise PlexConfigError(f"{self._url} answered, but it is not a Plex server")
        return server

    @property
    def info(self) -> ServerInfo:
        server = self._server
        return ServerInfo(server.machineIdentifier, server.friendlyName or "", server.version or "")

    def close(self) -> None:
        self._session.close()

    # -- calls ----------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:  # a copy per call: a Retrying object keeps per-call state, and calls overlap
            return self._retrying.copy()(self._counted, fn, *args)
        except Exception as exc:
            raise translate(exc, what) from exc

    def _counted(self, fn: Callable[..., Any], *args: Any) -> Any:
        with self._count_lock:
            self.requests_made += 1
        return fn(*args)

    def query(self, what: str, path: str, method: str = "get", timeout=None, **kwargs) -> Any:
        """One request through plexapi; returns the parsed XML element or None."""
        self.connect()
        send = getattr(self._session, method)
        timeout = timeout or self.timeouts.request()
        return self._call(
            what, lambda: self._server.query(path, method=send, timeout=timeout, **kwargs)
        )

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
            f"section {section_key}", path, headers=headers, timeout=self.timeouts.listing()
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


def probe(url: str, token: str, timeout: float, verify_tls: bool = True) -> ServerInfo:
    """One quick look at Plex, without retries: for status and for waiting out an outage."""
    client = PlexClient(
        url,
        token,
        Timeouts(connect=timeout, read=timeout),
        ConnectionRetry(attempts=1),
        verify_tls,
    )
    try:
        return client.connect()
    finally:
        client.close()
