"""The HTTP session under every Plex call: no redirects, a byte cap, a deadline per call.

requests bounds each socket wait (the `(connect, read)` timeout), not a call: a server that
sends a byte every half second holds a call for as long as it likes, and a 300 MB answer is
read into memory whole. And on a redirect requests keeps our `X-Plex-Token` header for the
new origin (it strips only `Authorization`), turning a PUT into a GET on a 302. So:

- redirects are never followed: a 3xx answer is an error naming where it pointed;
- a body is read with a byte cap, and the call fails once over it;
- a body that declares a DTD is refused before plexapi parses it (plex/dtd.py);
- each call runs under a `Deadline`: when it passes, a watchdog thread shuts the socket
  down, which wakes the blocked read at once, and the call fails as `PlexUnreachable`
  ("did not finish answering ... within N s"), whatever the cut socket raised. The pools
  record which connection a thread is using so the watchdog knows which socket is that
  call's.
"""

from __future__ import annotations

import contextlib
import email.utils
import heapq
import socket
import threading
import time
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from errors import shown_location
from plex.dtd import refuse_dtd
from plex.errors import HTTPRedirect, HTTPStatusError, PlexUnreachable, ResponseTooLarge

MiB = 1024 * 1024
CHUNK = 256 * 1024
_calls = threading.local()  # the Deadline of the call this thread is making, if any


class Deadline:
    """One call's time and size limits; `expired` once the watchdog cut it short.

    `what` names the call for the error an expired deadline raises on the way out."""

    def __init__(self, seconds: float, max_bytes: int, what: str = "the request") -> None:
        self.seconds = seconds
        self.max_bytes = max_bytes
        self.what = what
        self.at = 0.0
        self.expired = False
        self.done = False
        self._connection = None
        self._lock = threading.Lock()

    def __enter__(self) -> Deadline:
        _calls.current = self
        self.at = time.monotonic() + self.seconds
        _WATCHDOG.add(self)
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        with self._lock:
            self.done = True  # from here on the watchdog leaves this call alone
        _calls.current = None
        if self.expired and isinstance(exc, Exception):
            # Our watchdog cut the socket, so whatever the call raised (a reset, a short read,
            # plexapi choking on half an answer) is that cut: say why, and do not let tenacity
            # retry it as a blip. No expiry, or no exception: it goes on as it was.
            raise PlexUnreachable(
                f"Plex did not finish answering {self.what} within {self.seconds:.0f} s"
            ) from None

    def watch(self, connection) -> None:
        with self._lock:
            self._connection = connection

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            sock = getattr(self._connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One thread for every deadline of the process (a timer thread per call costs more
    than a fast call itself); it sleeps until the earliest one."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Deadline]] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, deadline: Deadline) -> None:
        with self._wake:
            earliest = self._due[0][0] if self._due else None
            heapq.heappush(self._due, (deadline.at, id(deadline), deadline))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="plexsync-deadlines", daemon=True
                )
                self._thread.start()
            elif earliest is None or deadline.at < earliest:
                self._wake.notify()

    def _run(self) -> None:
        with self._wake:
            while True:
                now = time.monotonic()
                while self._due and (self._due[0][2].done or self._due[0][0] <= now):
                    heapq.heappop(self._due)[2].expire()  # a no-op for a finished call
                self._wake.wait(self._due[0][0] - now if self._due else None)


_WATCHDOG = _Watchdog()


def _current() -> Deadline | None:
    return getattr(_calls, "current", None)


class _WatchedHTTPPool(HTTPConnectionPool):
    def _get_conn(self, timeout=None):
        connection = super()._get_conn(timeout)
        deadline = _current()
        if deadline is not None:
            deadline.watch(connection)
        return connection


class _WatchedHTTPSPool(HTTPSConnectionPool, _WatchedHTTPPool):
    pass


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }


class PlexSession(requests.Session):
    """A requests session for one Plex server (see the module docstring)."""

    def __init__(
        self,
        url: str,
        verify_tls: bool,
        default_max_bytes: int = 8 * MiB,
        identity: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.verify = verify_tls
        self.default_max_bytes = default_max_bytes
        self.identity = dict(identity or {})  # X-Plex-* headers over plexapi's own
        for prefix in ("http://", "https://"):
            self.mount(prefix, _WatchedAdapter())
        # Proxy settings from the environment, read once: requests would otherwise re-read
        # them (and ~/.netrc) on every request, a fifth of a fast edit's client time.
        self.proxies.update(requests.utils.get_environ_proxies(url))
        self.trust_env = False
        self.hooks["response"].append(self._check)

    def request(self, *args, **kwargs):
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True  # the body is read by _check, with the cap
        if self.identity:  # plexapi passes its process-wide headers with every call
            kwargs["headers"] = {**(kwargs.get("headers") or {}), **self.identity}
        return super().request(*args, **kwargs)

    def _check(self, response: requests.Response, *args, **kwargs) -> None:
        path = urlsplit(response.url).path
        if 300 <= response.status_code < 400:
            response.close()
            raise HTTPRedirect(
                response.status_code, path, shown_location(response.headers.get("Location", ""))
            )
        deadline = _current()
        read_capped(response, deadline.max_bytes if deadline else self.default_max_bytes)
        if response.status_code >= 400:
            raise HTTPStatusError(
                response.status_code,
                path,
                response.text[:300],
                retry_after(response.headers.get("Retry-After", "")),
            )
        refuse_dtd(response.content)


def retry_after(value: str, now: float | None = None) -> float:
    """Seconds a `Retry-After` header asks us to wait (a number, or an HTTP date); 0: none."""
    value = value.strip()
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, OverflowError):
        return 0.0
    return max(0.0, when - (time.time() if now is None else now))


def read_capped(response: requests.Response, max_bytes: int) -> None:
    """Read the body, failing once it is over `max_bytes` (nothing past that is kept)."""
    chunks, size = [], 0
    # iter_content raises requests' own classes for a cut or reset body, as a plain read would
    for chunk in response.iter_content(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            response.close()
            raise ResponseTooLarge(max_bytes)
        chunks.append(chunk)
    # requests serves `.content` / `.text` from here once it is set (plexapi reads `.text`).
    response._content = b"".join(chunks)  # noqa: SLF001
