"""Fault injection for the fake Plex server (see fake_plex.py).

A `Fault` is armed with `FakePlex.fail(kind, ...)` and hits the next matching requests:

* an int status (401, 403, 404, 429, 500, 503, 520, ...): that status with a Plex-like body
  (Plex's HTML error page; 503 is Plex's maintenance `<Response .../>` XML), and a
  `Retry-After` header when `retry_after` is given;
* "slow_headers": wait `delay` seconds before anything is sent, then answer normally
  (a client with a shorter read timeout sees `requests.ReadTimeout`);
* "slow_body": send the headers and half the body, wait `delay`, then the rest
  (a read timeout mid-body);
* "reset": send the headers and half the body, then reset the connection (RST, SO_LINGER 0);
* "cut": send the headers and half the body, then close the connection cleanly (FIN);
* "close": close the connection without answering;
* "html": 200 with a well-formed HTML page that is not Plex (a wrong URL);
* "empty": 200 with an empty body.
* "trickle": the normal answer, one byte every `delay` seconds (each read is quick, the whole
  answer takes for ever);
* "huge": 200 with a well-formed XML body of `size` bytes, streamed;
* "endless": a listing that claims 10^9 items and answers every page with its first page.
* "entities": the normal answer with an internal DTD whose entities, nested three deep, expand
  2 KiB of declarations into a 4 MiB attribute of the root element (`bloat`): what a hostile
  server does to get past a byte cap. Plex never sends a DTD.

A fault lasts for `count` matching requests, for `seconds`, both (whichever ends first)
or, with neither, until `clear_faults()`. `path_prefix` and `method` narrow what matches.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus

MAINTENANCE_BODY = (
    '<Response code="503" title="Maintenance" '
    'status="Plex Media Server is currently running database migrations."/>'
)
CONNECTION_KINDS = (
    "slow_headers",
    "slow_body",
    "reset",
    "cut",
    "close",
    "html",
    "empty",
    "trickle",
    "huge",
    "endless",
    "entities",
)
PARTIAL_BODY_KINDS = ("slow_body", "reset", "cut")
NOT_PLEX_HTML = (
    "<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head>"
    "<body><h1>Welcome to nginx!</h1></body></html>"
)


ENTITIES_DTD = (
    b'<!DOCTYPE MediaContainer [<!ENTITY e0 "' + b"x" * 1024 + b'">'
    b'<!ENTITY e1 "' + b"&e0;" * 64 + b'"><!ENTITY e2 "' + b"&e1;" * 64 + b'">]>\n'
)


def with_entities(data: bytes) -> bytes:
    """An XML answer with ENTITIES_DTD before its root, which gets a `bloat="&e2;"`."""
    head, sep, rest = data.partition(b"?>\n")
    if not sep:
        head, rest = b"", data
    else:
        head += sep
    return (
        head + ENTITIES_DTD + rest.replace(b"<MediaContainer ", b'<MediaContainer bloat="&e2;" ', 1)
    )


def reason(status: int) -> str:
    """The reason phrase for a status; unnamed statuses get a generic one."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def error_body(status: int) -> tuple[bytes, str]:
    """The body and content type Plex sends with an error status."""
    if status == 503:
        return MAINTENANCE_BODY.encode(), "text/xml;charset=utf-8"
    phrase = reason(status)
    html = (
        f"<html><head><title>{phrase}</title></head><body><h1>{status} {phrase}</h1></body></html>"
    )
    return html.encode(), "text/html"


@dataclass
class Fault:
    """One armed fault. `hits` counts the requests it has answered."""

    kind: int | str
    count: int | None = None
    until: float | None = None
    path_prefix: str | None = None
    method: str | None = None
    delay: float = 3.0
    size: int = 0
    location: str = ""  # a Location header for a redirect status
    retry_after: str | int | None = None  # a Retry-After header with the status
    hits: int = 0

    def active(self, now: float) -> bool:
        if self.count is not None and self.hits >= self.count:
            return False
        return self.until is None or now < self.until

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return not self.path_prefix or path.startswith(self.path_prefix)


class FaultList:
    """The armed faults; the first active one that matches a request answers it."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        if isinstance(fault.kind, bool) or not (
            (isinstance(fault.kind, int) and 100 <= fault.kind <= 999)
            or fault.kind in CONNECTION_KINDS
        ):
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        now = time.monotonic()
        with self._lock:
            self._faults = [f for f in self._faults if f.active(now)]
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __len__(self) -> int:
        now = time.monotonic()
        with self._lock:
            return sum(f.active(now) for f in self._faults)


def reset_connection(connection: socket.socket, *files) -> None:
    """Close a socket so that the peer gets an RST rather than a FIN."""
    with contextlib.suppress(OSError):
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    for f in files:
        with contextlib.suppress(OSError):
            f.close()
    connection.close()


def send_partial(handler, fault: Fault, head: bytes, body: bytes, sleep) -> None:
    """Send the head and half the body, then stall, reset or cut as the fault says.

    `handler` is the fake's request handler; `sleep(seconds)` waits (waking on stop).
    """
    cut = max(1, len(body) // 2)
    wfile = handler.wfile
    wfile.write(head + body[:cut])
    wfile.flush()
    if fault.kind == "slow_body":
        sleep(fault.delay)
        wfile.write(body[cut:])
        wfile.flush()
        return
    handler.close_connection = True
    # Give the client time to read the head, so it fails in the body, not before it.
    sleep(0.05)
    if fault.kind == "reset":
        reset_connection(handler.connection, handler.rfile, handler.wfile)
    else:
        handler.connection.shutdown(socket.SHUT_RDWR)


def send_trickle(handler, data: bytes, delay: float, sleep, stopping) -> None:
    """Send `data` one byte at a time, `delay` seconds apart, until done or stopped."""
    handler.close_connection = True
    with contextlib.suppress(OSError):
        for i in range(len(data)):
            if stopping.is_set():
                return
            handler.wfile.write(data[i : i + 1])
            handler.wfile.flush()
            sleep(delay)


def send_huge(handler, size: int) -> None:
    """A 200 whose XML body is `size` bytes, written in chunks (the fake holds none of it)."""
    opening, closing = b'<MediaContainer size="0">', b"</MediaContainer>"
    pad = size - len(opening) - len(closing)
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {size}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    handler.close_connection = True
    chunk = b" " * 65536
    with contextlib.suppress(OSError):
        handler.wfile.write(head + opening)
        while pad > 0:
            handler.wfile.write(chunk[: min(pad, len(chunk))])
            pad -= len(chunk)
        handler.wfile.write(closing)
