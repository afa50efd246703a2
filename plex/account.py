"""plex.tv, the account side of Plex: a sign-in by PIN and the account's list of servers.

The wire format (plex.tv's API v2, asked for as JSON):

    POST /api/v2/pins            -> {"id", "code", "expiresIn", "expiresAt", "authToken": null}
    GET  /api/v2/pins/<id>       -> the same; `authToken` is set once the person entered the
                                    code at https://plex.tv/link; 404 once the PIN expired
    GET  /api/v2/resources?includeHttps=1&includeRelay=1   (X-Plex-Token: the account's)
                                 -> [{"name", "clientIdentifier", "provides", "owned",
                                      "accessToken", "connections": [{"uri", "local",
                                      "relay", "protocol", "address", "port"}]}]

Both PIN calls carry `X-Plex-Product` and `X-Plex-Client-Identifier`; plex.tv hands the token
only to the client identifier that made the PIN.

The token a PIN sign-in returns opens the whole Plex account; a server's `accessToken` from the
resources list opens that server only. So the account token lives in this module's callers for
one call and goes nowhere but here: to plex.tv, in a header, never in a URL.

Every call goes through the same session as a call to a Plex server (`plex.transport`): no
redirect is followed (the account token would go along), each answer is read with a byte cap,
and each call runs under a deadline. Errors become the plex.tv classes of `plex.errors`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

import requests

from plex.errors import (
    HTTPRedirect,
    HTTPStatusError,
    PinExpired,
    PlexTvRejected,
    PlexTvUnreachable,
    PlexUnreachable,
    ResponseTooLarge,
    is_connection_error,
)
from plex.timeouts import Timeouts
from plex.transport import Deadline, MiB, PlexSession

PLEX_TV = "https://plex.tv"
# Tests point the client at the rig's fake plex.tv; nothing else should ever set this.
PLEX_TV_ENV = "PLEXSYNC_PLEXTV_URL_FOR_TESTS"
LINK_PAGE = "https://plex.tv/link"
PRODUCT = "PlexSync"
ANSWER_CAP = 4 * MiB  # a PIN is a few hundred bytes; an account with 50 servers a few KiB
PLEX_TV_TIMEOUTS = Timeouts(connect=5.0, read=15.0)


@dataclass(frozen=True)
class Pin:
    """A PIN sign-in under way: the code the person enters, and when it stops working."""

    id: int
    code: str
    expires_at: float  # epoch seconds


@dataclass(frozen=True)
class Connection:
    """One address plex.tv lists for a server."""

    uri: str
    local: bool
    relay: bool


@dataclass(frozen=True)
class Resource:
    """A server the account may use, with the token that opens that server only."""

    name: str
    machine: str  # the server's clientIdentifier, which is its machineIdentifier
    owned: bool
    access_token: str = field(repr=False)
    connections: tuple[Connection, ...]


def plex_tv_url() -> str:
    """plex.tv, or the test rig's stand-in when the tests say so."""
    return (os.environ.get(PLEX_TV_ENV) or PLEX_TV).rstrip("/")


class PlexTv:
    """Calls to plex.tv as one client identifier; methods raise only plex.tv errors."""

    def __init__(
        self,
        client_id: str,
        version: str = "",
        base_url: str | None = None,
        timeouts: Timeouts = PLEX_TV_TIMEOUTS,
    ) -> None:
        self.base_url = (base_url or plex_tv_url()).rstrip("/")
        self.timeouts = timeouts
        self._headers = {
            "Accept": "application/json",
            "X-Plex-Product": PRODUCT,
            "X-Plex-Version": version or "1",
            "X-Plex-Client-Identifier": client_id,
        }
        self._session = PlexSession(self.base_url, verify_tls=True, default_max_bytes=ANSWER_CAP)

    def close(self) -> None:
        self._session.close()

    def create_pin(self) -> Pin:
        """A new PIN for the person to enter at plex.tv/link."""
        answer = self._call("post", "/api/v2/pins", "a sign-in code")
        return _pin(answer, time.time())

    def check_pin(self, pin: Pin, now: float | None = None) -> str | None:
        """The account token once the PIN is linked, None while it waits; PinExpired after."""
        now = time.time() if now is None else now
        if now >= pin.expires_at:
            raise PinExpired(_expired(pin))
        try:
            answer = self._call("get", f"/api/v2/pins/{pin.id}", "the sign-in code")
        except PlexTvRejected as exc:
            if exc.status == 404:  # plex.tv forgets a PIN when it expires
                raise PinExpired(_expired(pin)) from None
            raise
        token = answer.get("authToken") if isinstance(answer, dict) else None
        return str(token) if token else None

    def resources(self, account_token: str) -> list[Resource]:
        """The servers the account may use (clients and players left out)."""
        answer = self._call(
            "get",
            "/api/v2/resources?includeHttps=1&includeRelay=1",
            "the list of your servers",
            {"X-Plex-Token": account_token},
        )
        if not isinstance(answer, list):
            raise PlexTvUnreachable("plex.tv's list of servers was not a list: try again later")
        return [r for r in map(_resource, answer) if r is not None]

    def _call(self, method: str, path: str, what: str, headers: dict | None = None):
        """One request, bounded like a call to a server; its JSON, or a plex.tv error."""
        timeout = self.timeouts.request()
        send = getattr(self._session, method)
        try:
            with Deadline(self.timeouts.deadline(timeout), ANSWER_CAP, what):
                response = send(
                    self.base_url + path, headers={**self._headers, **(headers or {})},
                    timeout=timeout,
                )  # fmt: skip
            return json.loads(response.content or b"null")
        except HTTPStatusError as exc:
            raise _status_error(exc.status, what) from None
        except HTTPRedirect as exc:
            raise PlexTvUnreachable(
                f"plex.tv answered {what} with a redirect (HTTP {exc.status}) to {exc.target}; "
                "PlexSync never follows one (your account's token would go along)"
            ) from None
        except ResponseTooLarge as exc:
            raise PlexTvUnreachable(
                f"plex.tv's answer for {what} is over {exc.max_bytes} bytes"
            ) from None
        except PlexUnreachable:  # our deadline cut the call
            raise PlexTvUnreachable(
                f"plex.tv did not finish answering {what} within "
                f"{self.timeouts.deadline(timeout):.0f} s: try again later"
            ) from None
        except ValueError:  # JSON that is not
            raise PlexTvUnreachable(f"plex.tv's answer for {what} was not JSON") from None
        except requests.RequestException as exc:
            kind = "does not answer" if is_connection_error(exc) else "failed"
            raise PlexTvUnreachable(
                f"plex.tv {kind} ({type(exc).__name__}) for {what}: check this machine's "
                "internet connection, or try again later"
            ) from None


def _status_error(status: int, what: str) -> PlexTvRejected | PlexTvUnreachable:
    error: PlexTvRejected | PlexTvUnreachable
    if status in (401, 403):
        error = PlexTvRejected(
            f"plex.tv refused {what} (HTTP {status}): the sign-in is no longer valid; sign in again"
        )
    elif status == 404:
        error = PlexTvRejected(f"plex.tv does not know {what} (HTTP 404)")
    elif status == 429:
        error = PlexTvUnreachable(
            f"plex.tv is limiting requests (HTTP 429) for {what}: wait a minute and try again"
        )
    else:
        error = PlexTvUnreachable(f"plex.tv answered HTTP {status} for {what}: try again later")
    error.status = status
    return error


def _expired(pin: Pin) -> str:
    return f"The code {pin.code} expired before it was linked at {LINK_PAGE}: start again"


def _pin(answer, now: float) -> Pin:
    if not isinstance(answer, dict) or not answer.get("id") or not answer.get("code"):
        raise PlexTvUnreachable("plex.tv's answer for a sign-in code had no code")
    lifetime = answer.get("expiresIn")
    lifetime = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 900.0
    return Pin(int(answer["id"]), str(answer["code"]), now + lifetime)


def _resource(entry) -> Resource | None:
    """A server from the listing; None for anything that is not a server we can open."""
    if not isinstance(entry, dict) or "server" not in str(entry.get("provides", "")).split(","):
        return None
    token, machine = entry.get("accessToken"), entry.get("clientIdentifier")
    if not token or not machine:
        return None
    connections = tuple(
        Connection(str(c["uri"]).rstrip("/"), bool(c.get("local")), bool(c.get("relay")))
        for c in entry.get("connections") or ()
        if isinstance(c, dict) and str(c.get("uri", "")).startswith(("http://", "https://"))
    )
    return Resource(
        str(entry.get("name") or machine), str(machine), bool(entry.get("owned")),
        str(token), connections,
    )  # fmt: skip
