"""A fake plex.tv for tests: PIN sign-ins a test links or lets expire, and an account's servers.

    with FakePlexTv(account_token="acct") as tv:       # http://127.0.0.1:<port>
        tv.add_server("Home", "machine-1", "server-token", [(plex.url, True, False)])
        ... code = <what the client printed> ...
        tv.link(code)                                  # as if the person entered it

Answers JSON in the shape of plex.tv's API v2 (plex/account.py's docstring lists it):
* ``POST /api/v2/pins``: needs ``X-Plex-Product`` and ``X-Plex-Client-Identifier`` (400
  without); 201 with id, a four-character code, expiresIn, expiresAt, authToken null.
* ``GET /api/v2/pins/<id>``: the PIN, with authToken once linked; 404 for a PIN that expired
  (``expire(code)`` or ``pin_lifetime`` passed) or asked by another client identifier.
* ``GET /api/v2/resources``: needs ``X-Plex-Token`` = ``account_token`` (401 otherwise); every
  server of ``add_server`` plus a player (which a client must leave out).
* Faults: ``fail(status, count=1, path_prefix=None, location="", size=0)`` answers that status
  (a 3xx with ``Location``; ``size`` pads the body); ``down()`` refuses connections, ``up()``
  listens again on the same port.
* Log: ``requests`` (method, path, headers) for checking where a token went.
"""

from __future__ import annotations

import json
import random
import string
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from .served import Served


@dataclass
class FakePin:
    id: int
    code: str
    client: str
    created: float
    token: str | None = None
    expired: bool = False


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class _Fault:
    status: int
    count: int | None
    path_prefix: str | None
    location: str = ""
    size: int = 0


@dataclass
class FakePlexTv(Served):
    account_token: str = "plex-tv-account-token-9876"
    pin_lifetime: float = 900.0
    servers: list[dict] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._pins: dict[int, FakePin] = {}
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._random = random.Random(7)

    # -- lifecycle: start, url, down, up, stop, `with` (tests/rig/served.py)

    @property
    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _Handler

    # -- what a test does

    def add_server(
        self,
        name: str,
        machine: str,
        access_token: str,
        connections: list[tuple[str, bool, bool]],
        owned: bool = True,
    ) -> None:
        """A server of the account; connections are (uri, local, relay)."""
        self.servers.append(
            {
                "name": name,
                "product": "Plex Media Server",
                "productVersion": "1.41.0.0",
                "platform": "Linux",
                "clientIdentifier": machine,
                "provides": "server",
                "owned": owned,
                "home": False,
                "presence": True,
                "accessToken": access_token,
                "sourceTitle": None if owned else "a friend",
                "connections": [
                    {
                        "protocol": urlsplit(uri).scheme,
                        "address": urlsplit(uri).hostname,
                        "port": urlsplit(uri).port,
                        "uri": uri,
                        "local": local,
                        "relay": relay,
                        "IPv6": False,
                    }
                    for uri, local, relay in connections
                ],
            }
        )

    def pin(self, code: str) -> FakePin:
        with self._lock:
            return next(p for p in self._pins.values() if p.code == code)

    def link(self, code: str) -> None:
        """The person entered the code at plex.tv/link."""
        self.pin(code).token = self.account_token

    def expire(self, code: str) -> None:
        self.pin(code).expired = True

    def wait_for_code(self, timeout: float = 30.0) -> str:
        """The code of the newest PIN, once a client made one."""
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            with self._lock:
                if self._pins:
                    return self._pins[max(self._pins)].code
            time.sleep(0.02)
        raise TimeoutError("no PIN was made")

    def fail(self, status: int, count=1, path_prefix=None, location="", size=0) -> None:
        """The next `count` answers (under `path_prefix`) have this status; `size` pads the
        body to that many bytes (an answer too big to read)."""
        with self._lock:
            self._faults.append(_Fault(status, count, path_prefix, location, size))

    def tokens_seen(self) -> set[str]:
        return {s.headers.get("X-Plex-Token", "") for s in self.requests} - {""}

    # -- answering

    def _fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path_prefix and not path.startswith(fault.path_prefix):
                    continue
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def answer(self, method: str, path: str, headers) -> tuple[int, object]:
        if method == "POST" and path == "/api/v2/pins":
            return self._new_pin(headers)
        if method == "GET" and path.startswith("/api/v2/pins/"):
            return self._get_pin(path.rsplit("/", 1)[-1], headers)
        if method == "GET" and path == "/api/v2/resources":
            if headers.get("X-Plex-Token") != self.account_token:
                return 401, {
                    "errors": [{"code": 1001, "message": "User could not be authenticated"}]
                }
            player = {"name": "Living room TV", "provides": "player", "clientIdentifier": "tv-1"}
            return 200, [*self.servers, player]
        return 404, {"errors": [{"code": 1002, "message": "Not found"}]}

    def _new_pin(self, headers) -> tuple[int, object]:
        client = headers.get("X-Plex-Client-Identifier")
        if not client or not headers.get("X-Plex-Product"):
            return 400, {
                "errors": [{"code": 1000, "message": "X-Plex-Client-Identifier is missing"}]
            }
        with self._lock:
            pin_id = 1000 + len(self._pins) + 1
            code = "".join(self._random.choice(string.ascii_uppercase + "23456789") for _ in "1234")
            self._pins[pin_id] = FakePin(pin_id, code, client, time.time())
            return 201, self._pin_json(self._pins[pin_id])

    def _get_pin(self, pin_id: str, headers) -> tuple[int, object]:
        with self._lock:
            pin = self._pins.get(int(pin_id)) if pin_id.isdigit() else None
            gone = pin is None or pin.expired or time.time() - pin.created > self.pin_lifetime
            if gone or headers.get("X-Plex-Client-Identifier") != pin.client:
                return 404, {"errors": [{"code": 1020, "message": "Code not found or expired"}]}
            return 200, self._pin_json(pin)

    def _pin_json(self, pin: FakePin) -> dict:
        left = max(0, int(pin.created + self.pin_lifetime - time.time()))
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(pin.created + self.pin_lifetime))
        return {
            "id": pin.id,
            "code": pin.code,
            "product": "PlexSync",
            "trusted": False,
            "clientIdentifier": pin.client,
            "expiresIn": left,
            "expiresAt": expires,
            "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(pin.created)),
            "authToken": pin.token,
        }


def _error(code: int, message: str) -> dict:
    return {"errors": [{"code": code, "message": message}]}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # noqa: A002 - quiet
        pass

    def do_GET(self) -> None:
        fake: FakePlexTv = self.server.fake  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with fake._lock:
            fake.requests.append(Seen(self.command, path, dict(self.headers.items())))
        fault = fake._fault(path)
        extra = []
        if fault is not None:
            status, body = fault.status, {"errors": [{"message": f"fault {fault.status}"}]}
            if fault.size:
                body["pad"] = "x" * fault.size
            if fault.location:
                extra.append(("Location", fault.location))
        else:
            status, body = fake.answer(self.command, path, self.headers)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # a client that stopped reading
            self.close_connection = True

    do_POST = do_GET
