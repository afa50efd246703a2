"""Stash's real web UI (../shared/stash-ui/build) served as Stash serves it, on one origin with
GraphQL for it (tests/rig/stash_ui_graphql.py) and the plugin's UI files, for a headless browser.

    with StashUIServer(stash, runner) as ui:   # a FakeStash and a StashRunner for the plugin
        browser.goto(ui.url + "/scenes")

What it does, after ../shared/stash-ui/README.md and Stash's internal/api/server.go:
  static    `X` answers the bytes of `X.gz` with Content-Encoding gzip (or `X` where the build
            left it uncompressed, as it does index.html and the icons); a path without an
            extension answers index.html (client-side routes) with %COLOR% filled in
  /graphql  POST (and GET): executed against Stash's real schema; a websocket upgrade with the
            graphql-transport-ws subprotocol is acknowledged (connection_ack, pong) and kept
  plugins   /plugin/<id>/javascript and /css: the manifest's ui files concatenated in order;
            any other /plugin/... path is a 404, as in Stash (so /plugin/plexsync is reached
            by in-app navigation only)
  other     /css, /javascript (empty), /customlocales ({}), /scene/<id>/screenshot (a PNG),
            /plex-web/... (a stand-in page for Open-in-Plex links to land on)
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import struct
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from tests.rig.fake_stash import FakeStash
from tests.rig.stash_runner import StashRunner
from tests.rig.stash_ui_graphql import UIGraphQL

BUILD = Path(__file__).resolve().parents[3] / "shared" / "stash-ui" / "build"
MISSING_REASON = f"Stash's built web UI is not available at {BUILD}"
COLOR = "#202b33"  # what Stash fills in
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class StashUIServer:
    """The UI, its GraphQL and the plugin's UI files on http://127.0.0.1:<port>."""

    def __init__(self, stash: FakeStash, runner: StashRunner, session: str | None = None) -> None:
        self.runner = runner
        self.session = session  # when set, /graphql answers 401 without this session cookie
        manifest = runner.manifest
        self.plugin_id = manifest.id
        self.ui_files = manifest.data.get("ui") or {}
        self.graphql = UIGraphQL(stash, runner, self._plugin_object(manifest))
        self.stash = stash
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.app = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> StashUIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _plugin_object(self, manifest) -> dict:
        base = f"/plugin/{manifest.id}"
        return {
            "id": manifest.id,
            "name": manifest.name,
            "enabled": True,
            "version": str(manifest.data.get("version", "")),
            "tasks": [{"name": t.name, "description": t.description} for t in manifest.tasks],
            "requires": [],
            # Stash answers absolute URLs; the UI only needs them to load from this origin
            "paths": {"javascript": [f"{base}/javascript"], "css": [f"{base}/css"]},
        }

    def plugin_file(self, kind: str) -> bytes:
        """What Stash serves for /plugin/<id>/javascript or /css: the files concatenated."""
        names = self.ui_files.get("javascript" if kind == "javascript" else "css") or []
        return b"\n".join((self.runner.plugin_dir / name).read_bytes() for name in names)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a browser hanging up is no bug
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "StashUI"

    def log_message(self, format, *args) -> None:  # noqa: A002
        pass

    @property
    def app(self) -> StashUIServer:
        return self.server.app

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if urlsplit(self.path).path != "/graphql":
            return self._send(404, b"404 page not found\n", "text/plain")
        if self.app.session and f"session={self.app.session}" not in self.headers.get("Cookie", ""):
            return self._send(401, b'{"errors":[{"message":"unauthorized"}]}', "application/json")
        answer = self.app.graphql.execute(json.loads(body), f"http://{self.headers['Host']}")
        self._send(200, json.dumps(answer).encode(), "application/json")

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/graphql" and self.headers.get("Upgrade", "").lower() == "websocket":
            return self._websocket()
        if path.startswith("/plugin/"):
            return self._plugin(path)
        if path in ("/css", "/javascript"):
            kind = "text/css" if path == "/css" else "text/javascript"
            return self._send(200, b"", kind)
        if path.startswith("/plex-web/"):  # where the tests point plexWebUrl
            return self._send(200, b"<!doctype html><title>Plex Web</title>", "text/html")
        if path == "/customlocales":
            return self._send(200, b"{}", "application/json")
        if path.startswith("/scene/") and path.endswith("/screenshot"):
            return self._send(200, poster(int(path.split("/")[2])), "image/png")
        self._static(path)

    def _plugin(self, path: str) -> None:
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[1] == self.app.plugin_id and parts[2] in ("javascript", "css"):
            kind = "text/javascript" if parts[2] == "javascript" else "text/css"
            return self._send(200, self.app.plugin_file(parts[2]), kind)
        self._send(404, b"404 page not found\n", "text/plain")

    def _static(self, path: str) -> None:
        name = path.lstrip("/") or "index.html"
        if "." not in name.rsplit("/", 1)[-1]:
            name = "index.html"
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        plain, packed = (BUILD / name).resolve(), (BUILD / (name + ".gz")).resolve()
        if BUILD.resolve() not in plain.parents:
            return self._send(404, b"404 page not found\n", "text/plain")
        if name == "index.html":
            data = plain.read_bytes().replace(b"%COLOR%", COLOR.encode())
            return self._send(200, data, "text/html; charset=utf-8")
        if plain.is_file():  # small files the build left uncompressed
            return self._send(200, plain.read_bytes(), kind)
        if packed.is_file():
            return self._send(200, packed.read_bytes(), kind, [("Content-Encoding", "gzip")])
        self._send(404, b"404 page not found\n", "text/plain")

    def _send(self, status: int, body: bytes, kind: str, headers=()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    # -- the websocket: acknowledged, kept open, never sends an event

    def _websocket(self) -> None:
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.send_header("Sec-WebSocket-Protocol", "graphql-transport-ws")
        self.end_headers()
        self.close_connection = True
        try:
            while True:
                opcode, payload = _read_frame(self.rfile)
                if opcode == 8:  # close
                    return
                if opcode != 1:
                    continue
                kind = json.loads(payload).get("type")
                reply = {"connection_init": "connection_ack", "ping": "pong"}.get(kind)
                if reply:
                    self.wfile.write(_frame(json.dumps({"type": reply}).encode()))
                    self.wfile.flush()
        except (OSError, ConnectionError, struct.error, ValueError):
            return


def _read_frame(stream) -> tuple[int, bytes]:
    head = stream.read(2)
    if len(head) < 2:
        raise ConnectionError("closed")
    opcode, length = head[0] & 0x0F, head[1] & 0x7F
    if length == 126:
        length = struct.unpack(">H", stream.read(2))[0]
    elif length == 127:
        length = struct.unpack(">Q", stream.read(8))[0]
    mask = stream.read(4) if head[1] & 0x80 else b"\0\0\0\0"
    data = stream.read(length)
    return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def _frame(payload: bytes) -> bytes:
    head = bytes([0x81])
    if len(payload) < 126:
        return head + bytes([len(payload)]) + payload
    return head + bytes([126]) + struct.pack(">H", len(payload)) + payload


def poster(scene_id: int, width: int = 320, height: int = 180) -> bytes:
    """A PNG the browser can draw (the fake's stand-in JPEG is a few bytes of header only):
    a two-tone card whose colours follow the scene id."""
    top = bytes(((scene_id * 53) % 160 + 40, (scene_id * 97) % 120 + 60, 150))
    bottom = bytes((30, 40, 52))
    rows = b"".join(b"\0" + (top if y < height * 2 // 3 else bottom) * width for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def available() -> bool:
    """Whether the built UI is present (tests skip with MISSING_REASON otherwise)."""
    return (BUILD / "index.html").is_file()
