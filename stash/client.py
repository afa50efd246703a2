"""Reading from Stash: settings, scenes in batches and pages, cover bytes.

Built on stashapp-tools' `StashInterface`, with what it does not do by itself: an HTTP
timeout on every request (it sets none, so a hung Stash would block forever), keeping the
newest session cookie Stash sends back (the one Stash gave the hook expires after an hour),
credentials that never leave Stash's origin (no redirect is followed: requests would carry
the `ApiKey` header and the cookie along; the cookie is scoped to Stash's host), and errors
by type (`StashUnreachable` pauses the run like an unreachable Plex), and a cap on what one
answer may hold (`ANSWER_CAP`, counted after gzip is decoded, as for Plex): a cover or a
GraphQL answer past it fails as a StashError instead of filling memory.

TLS: a Stash on this machine is reached without a certificate check and never through a
proxy (its certificate names its host, never 127.0.0.1, and the traffic does not leave the
machine); a Stash elsewhere is verified (it needs a certificate that names its host) and
may use the environment's proxy.
"""

from __future__ import annotations

import http.cookiejar
import logging
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3

from errors import ConfigError, shown_location
from plex.errors import ResponseTooLarge
from plex.transport import read_capped
from stash.errors import StashAuthError, StashError, StashUnreachable
from stash.quick import ANSWER_CAP, stash_base_url
from stash.quick import loopback as _loopback

PLUGIN_ID = "PlexSync"
PAGE_SIZE = 500
log = logging.getLogger("plexsync.stash")

# The fields of a scene we read: ask Stash for exactly these (0.30+ schema).
SCENE_FRAGMENT = """
id title details date rating100 organized created_at updated_at
files { path size }
paths { screenshot }
studio { name parent_studio { name } }
performers { name }
tags { name }
"""


class _StashHTTPError(Exception):
    def __init__(self, status: int, location: str = "") -> None:
        super().__init__(f"HTTP {status} from Stash")
        self.status = status
        self.location = location


class _OnlyOurCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie, request) -> bool:
        return False


class _TimeoutSession(requests.Session):
    """A session that never waits without a bound, never follows a redirect, and keeps
    Stash's refreshed cookie (scoped to Stash's host)."""

    def __init__(self, timeout: tuple[float, float], host: str) -> None:
        super().__init__()
        self._timeout = timeout
        self.host = host
        # Only keep_cookie stores cookies: requests' own copy of a response's cookie could be
        # filed under another domain (`localhost.local`), and two would send the stale first.
        self.cookies.set_policy(_OnlyOurCookies())
        self.hooks["response"].append(self._check)

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", self._timeout)
        kwargs["allow_redirects"] = False
        kwargs["stream"] = True  # the body is read by _check, with the cap
        return super().request(*args, **kwargs)

    def keep_cookie(self, value: str) -> None:
        """Replace the one session cookie, in place: a clear-then-set would leave a moment in
        which another thread (the cover fetches run in a pool) sends none and is signed out."""
        self.cookies.set("session", value, domain=self.host, path="/")

    def _check(self, response: requests.Response, *args, **kwargs) -> None:
        fresh = response.cookies.get("session")
        if fresh:
            self.keep_cookie(fresh)
        if response.is_redirect or response.status_code >= 400 and response.status_code != 422:
            response.close()
            raise _StashHTTPError(response.status_code, response.headers.get("Location", ""))
        read_capped(response, ANSWER_CAP)


def stash_session(conn: dict, timeout: tuple[float, float]) -> _TimeoutSession:
    """The HTTP session for one Stash, credentials set (see the module docstring on TLS)."""
    base = stash_base_url(conn)
    session = _TimeoutSession(timeout, urlsplit(base).hostname or "127.0.0.1")
    session.trust_env = False  # the environment is read once, here, not on every request
    session.verify = not _loopback(conn)
    if session.verify:
        session.proxies.update(requests.utils.get_environ_proxies(base))
    else:  # deliberate, so not worth a warning on every request
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    cookie = (conn.get("SessionCookie") or {}).get("Value")
    if cookie:
        session.keep_cookie(cookie)
    if conn.get("ApiKey"):
        session.headers["ApiKey"] = conn["ApiKey"]
    return session


class StashClient:
    """One connection to Stash for the life of a worker or task."""

    def __init__(self, conn: dict, timeout: tuple[float, float] = (5.0, 60.0)) -> None:
        from stashapi.stashapp import StashInterface  # heavy: never on the hook path

        session = stash_session(conn, timeout)
        self.base_url = stash_base_url(conn)
        self._session = session
        self.requests_made = 0

        class _Interface(StashInterface):
            # StashInterface builds its own requests session in __init__; this property makes
            # it use ours (timeouts, cookie refresh) from its very first request.
            s = property(lambda _self: session, lambda _self, _value: None)

        parts = urlsplit(self.base_url)
        settings = {
            "Scheme": parts.scheme,
            "Host": parts.hostname,
            "Port": parts.port,
            "Logger": log,
        }
        # StashInterface sets `verify` on the session it is given: tell it our choice.
        self._stash = self._guard(lambda: _Interface(settings, verify_ssl=session.verify))

    def _guard(self, fn):
        self.requests_made += 1
        try:
            return fn()
        except _StashHTTPError as exc:
            if 300 <= exc.status < 400 and not self._to_login(exc.location):
                raise ConfigError(
                    f"Stash answered with a redirect (HTTP {exc.status}) to "
                    f"{shown_location(exc.location)}; PlexSync never follows one (its "
                    "credentials would go along)"
                ) from exc
            if exc.status in (401, 403) or 300 <= exc.status < 400:  # to /login: signed out
                raise StashAuthError(
                    "Stash refused the plugin's credentials (session expired?): "
                    "run the task again from Stash"
                ) from exc
            raise StashUnreachable(str(exc)) from exc
        except ResponseTooLarge as exc:
            raise StashError(
                f"Stash's answer is over {exc.max_bytes // 2**20} MiB; PlexSync stopped reading it"
            ) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise StashUnreachable(f"Stash is unreachable ({type(exc).__name__})") from exc
        except requests.RequestException as exc:
            raise StashError(f"Stash request failed ({type(exc).__name__})") from exc
        except Exception as exc:  # stashapi raises bare Exception for GraphQL errors
            raise StashError(f"Stash query failed: {exc}") from exc

    def _to_login(self, location: str) -> bool:
        """A redirect to Stash's own login page (an expired session), not elsewhere."""
        target = urlsplit(location)
        return target.path.startswith("/login") and target.netloc in (
            "",
            urlsplit(self.base_url).netloc,
        )

    def call(self, query: str, variables: dict | None = None) -> dict:
        return self._guard(lambda: self._stash.call_GQL(query, variables or {}))

    def plugin_settings(self) -> dict:
        """The PlexSync settings the user has saved (unsaved keys are absent)."""
        data = self.call(
            "query PlexSyncSettings($ids: [ID!]) { configuration { plugins(include: $ids) } }",
            {"ids": [PLUGIN_ID]},
        )
        return (data["configuration"]["plugins"] or {}).get(PLUGIN_ID) or {}

    def save_plugin_settings(self, changes: dict) -> dict:
        """Save these PlexSync settings, keeping the others: Stash's configurePlugin replaces
        the plugin's whole configuration, so it gets what is saved with the changes on top."""
        settings = {**self.plugin_settings(), **changes}
        self.call(
            "mutation PlexSyncSaveSettings($id: ID!, $input: Map!) {"
            " configurePlugin(plugin_id: $id, input: $input) }",
            {"id": PLUGIN_ID, "input": settings},
        )
        return settings

    def config_dir(self) -> str:
        """Stash's configuration folder (where the plugin keeps its data by default)."""
        data = self.call(
            "query PlexSyncConfigPath { configuration { general { configFilePath } } }"
        )
        path = data["configuration"]["general"]["configFilePath"]
        return path.rsplit("/", 1)[0] if "/" in path else path.rsplit("\\", 1)[0]

    def scenes(self, ids: list[int]) -> dict[int, dict]:
        """The named scenes, fresh, in one query; deleted scenes are simply absent."""
        if not ids:
            return {}
        try:
            data = self.call(
                "query PlexSyncScenes($ids: [ID!], $filter: FindFilterType) {"
                f" findScenes(ids: $ids, filter: $filter) {{ scenes {{ {SCENE_FRAGMENT} }} }} }}",
                {"ids": [str(i) for i in ids], "filter": {"per_page": -1}},
            )
        except StashError:
            # Stash fails the whole batch when one id no longer exists (a deleted scene):
            # ask for each alone, where a missing scene is simply null.
            return {i: s for i in ids if (s := self.scene(i)) is not None}
        return {int(s["id"]): s for s in data["findScenes"]["scenes"]}

    def scene(self, scene_id: int) -> dict | None:
        """One scene, or None when Stash no longer has it."""
        data = self.call(
            f"query PlexSyncScene($id: ID) {{ findScene(id: $id) {{ {SCENE_FRAGMENT} }} }}",
            {"id": str(scene_id)},
        )
        return data["findScene"]

    def scene_page(self, after_id: int, scene_filter: dict | None = None, size: int = PAGE_SIZE):
        """(the next `size` scenes with id > after_id in id order, how many scenes are left
        from after_id on, this page included): a stable cursor through 50,000 scenes."""
        criteria = dict(scene_filter or {})
        criteria["id"] = {"value": after_id, "modifier": "GREATER_THAN"}
        data = self.call(
            "query PlexSyncScenePage($filter: FindFilterType, $scene_filter: SceneFilterType) {"
            " findScenes(filter: $filter, scene_filter: $scene_filter) {"
            f" count scenes {{ {SCENE_FRAGMENT} }} }} }}",
            {
                "filter": {"per_page": size, "page": 1, "sort": "id", "direction": "ASC"},
                "scene_filter": criteria,
            },
        )
        return data["findScenes"]["scenes"], data["findScenes"]["count"]

    def count_scenes(self, scene_filter: dict | None = None) -> int:
        data = self.call(
            "query PlexSyncCount($filter: FindFilterType, $scene_filter: SceneFilterType) {"
            " findScenes(filter: $filter, scene_filter: $scene_filter) { count } }",
            {"filter": {"per_page": 0}, "scene_filter": scene_filter or {}},
        )
        return data["findScenes"]["count"]

    def cover(self, url: str) -> bytes | None:
        """A scene cover's bytes, fetched through the address the plugin reaches Stash at.

        Stash builds screenshot URLs from the request host or its external_host, which may
        not be reachable from here, so only the path and query of the URL are kept.
        """
        parts = urlsplit(url)
        base = urlsplit(self.base_url)
        local = urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))

        def fetch() -> bytes | None:
            try:  # an expired login is redirected to /login: StashAuthError, by _guard
                return self._session.get(local).content
            except _StashHTTPError as exc:
                if exc.status == 404:  # no cover yet (a scan runs hooks before generating it)
                    return None
                raise

        return self._guard(fetch)

    def close(self) -> None:
        self._session.close()
