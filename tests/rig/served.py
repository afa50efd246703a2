"""How the rig's fakes are served: a real HTTP server on 127.0.0.1 in a daemon thread.

`Served` is the lifecycle every fake service shares: `start()` on an ephemeral port, `url`,
`down()` (refuse connections and cut the open ones, keeping the port) and `up()` (listen
again on it), `stop()`, and `with`. A fake names its request handler (`handler`); the
handler finds the fake as `self.server.fake`.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, TypeVar

S = TypeVar("S", bound="Served")


class FakeServer(ThreadingHTTPServer):
    """A threading server that knows its open connections, so `down()` can cut them."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], fake: Any
    ) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a cut connection is expected, a bug not
            super().handle_error(request, client_address)


class Served:
    """The lifecycle of a fake served over HTTP (mixed into each fake)."""

    handler: ClassVar[type[BaseHTTPRequestHandler]]
    port: int
    _server: FakeServer | None = None
    _thread: threading.Thread | None = None

    @property
    def scheme(self) -> str:
        return "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self: S) -> S:
        """Listen (on the previous port after `down()`) and serve in a daemon thread."""
        if self._server is None:
            server = FakeServer(("127.0.0.1", self.port), self.handler, self)
            self._listening(server)
            self.port = server.server_address[1]
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name=f"{type(self).__name__}-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def _listening(self, server: FakeServer) -> None:
        """A fake's last word on its server before it serves (TLS, for one)."""

    def stop(self) -> None:
        """Stop serving; open connections are cut."""
        self.down()

    def down(self) -> None:
        """Refuse connections and cut the open ones, keeping the port for `up()`."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.drop_connections()
            if self._thread is not None:
                self._thread.join(5)

    def up(self) -> None:
        """Listen again, on the same port."""
        self.start()

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
