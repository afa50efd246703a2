"""The plugin host's HTTP server: the host page, npm's libraries, the plugin's UI files and
/graphql on one origin, for a headless browser.

    with PluginHost(stash, runner) as host:   # a FakeStash and a StashRunner for the plugin
        browser.goto(host.url + "/scenes")

  page      any path without a file extension (the app's client-side routes) answers
            page/index.html, with the Content-Security-Policy Stash sends, widened by the
            manifest's ui.csp; /host/... are the page's own files
  /lib/...  files of node_modules (installed by `npm ci` from package-lock.json here)
  plugins   /plugin/<id>/javascript and /css: the manifest's ui files concatenated in order;
            any other /plugin/... path is a 404, as in Stash (so a plugin's page is reached
            by in-app navigation only)
  /graphql  POST: tests/rig/plugin_host/api.py; 401 without the browser's session cookie
  other     /scene/<id>/screenshot (a PNG), /plex-web/... (where Open-in-Plex links land)
"""

from __future__ import annotations

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
from tests.rig.plugin_host.api import HostGraphQL
from tests.rig.stash_runner import StashRunner

HERE = Path(__file__).resolve().parent
PAGE = HERE / "page"
NODE_MODULES = HERE / "node_modules"
MISSING_REASON = f"the plugin host's libraries are not installed in {NODE_MODULES} (npm ci)"
# Stash's policy for its UI (internal/api/server.go); a plugin's ui.csp adds sources to the
# three directives it names.
CSP = {
    "default-src": ["'self'"],
    "connect-src": ["'self'", "ws:", "wss:"],
    "img-src": ["data:", "*"],
    "script-src": ["'self'", "'unsafe-inline'", "'unsafe-eval'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "media-src": ["blob:", "'self'"],
    "worker-src": ["blob:"],
    "child-src": ["'none'"],
    "object-src": ["'none'"],
    "form-action": ["'self'"],
}
WIDENED = ("script-src", "style-src", "connect-src")


class PluginHost:
    """The host page, its libraries, the plugin's UI files and /graphql on http://127.0.0.1:<port>."""

    def __init__(self, stash: FakeStash, runner: StashRunner, session: str | None = None) -> None:
        self.runner = runner
        self.session = session  # when set, /graphql answers 401 without this session cookie
        manifest = runner.manifest
        self.plugin_id = manifest.id
        self.ui_files = manifest.data.get("ui") or {}
        base = f"/plugin/{manifest.id}"
        paths = {"javascript": [f"{base}/javascript"], "css": [f"{base}/css"]}
        plugin = {"id": manifest.id, "name": manifest.name, "enabled": True, "paths": paths}
        self.graphql = HostGraphQL(stash, runner, plugin)
        self.csp = content_security_policy(self.ui_files.get("csp") or {})
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.app = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> PluginHost:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def plugin_file(self, kind: str) -> bytes:
        """What Stash serves for /plugin/<id>/javascript or /css: the files concatenated."""
        names = self.ui_files.get(kind) or []
        return b"\n".join((self.runner.plugin_dir / name).read_bytes() for name in names)


def content_security_policy(widen: dict) -> str:
    """Stash's policy with a manifest's `ui.csp` sources added."""
    directives = {k: v + list(widen.get(k) or []) if k in WIDENED else v for k, v in CSP.items()}
    return " ".join(f"{name} {' '.join(sources)};" for name, sources in directives.items())


def installed() -> bool:
    """Whether `npm ci` has run (tests skip with MISSING_REASON otherwise)."""
    return (NODE_MODULES / "react" / "package.json").is_file()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a browser hanging up is no bug
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "PluginHost"

    def log_message(self, format, *args) -> None:  # noqa: A002
        pass

    @property
    def app(self) -> PluginHost:
        return self.server.app

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if urlsplit(self.path).path != "/graphql":
            return self._not_found()
        if self.app.session and f"session={self.app.session}" not in self.headers.get("Cookie", ""):
            return self._send(401, b'{"errors":[{"message":"unauthorized"}]}', "application/json")
        answer = self.app.graphql.execute(json.loads(body), f"http://{self.headers['Host']}")
        self._send(200, json.dumps(answer).encode(), "application/json")

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/plugin/"):
            return self._plugin(path)
        if path.startswith("/lib/"):
            return self._file(NODE_MODULES, path[len("/lib/") :])
        if path.startswith("/host/"):
            return self._file(PAGE, path[len("/host/") :])
        if path.startswith("/plex-web/"):  # where the tests point plexWebUrl
            return self._send(200, b"<!doctype html><title>Plex Web</title>", "text/html")
        if path.startswith("/scene/") and path.endswith("/screenshot"):
            return self._send(200, poster(int(path.split("/")[2])), "image/png")
        if "." in path.rsplit("/", 1)[-1]:
            return self._not_found()
        policy = [("Content-Security-Policy", self.app.csp)]
        self._send(200, (PAGE / "index.html").read_bytes(), "text/html; charset=utf-8", policy)

    def _plugin(self, path: str) -> None:
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[1] == self.app.plugin_id and parts[2] in ("javascript", "css"):
            kind = "text/javascript" if parts[2] == "javascript" else "text/css"
            return self._send(200, self.app.plugin_file(parts[2]), kind)
        self._not_found()

    def _file(self, root: Path, name: str) -> None:
        file = (root / name).resolve()
        if root.resolve() not in file.parents or not file.is_file():
            return self._not_found()
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        self._send(200, file.read_bytes(), kind)

    def _not_found(self) -> None:
        self._send(404, b"404 page not found\n", "text/plain")

    def _send(self, status: int, body: bytes, kind: str, headers=()) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


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
