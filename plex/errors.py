"""Plex-side errors, and the one place foreign exceptions become ours.

    TransientError
    +-- PlexTemporaryError        HTTP 5xx, 429, other 4xx, an answer over the size cap: retry
    |   |                         later (`status` holds the HTTP status, if any)
    |   +-- PlexUnreachable       refused, reset, timed out after tenacity's retries, past the
    |                             call's deadline, in maintenance (503), or 5xx/429 for several
    |                             items in a row (also a ServiceUnreachable: the worker pauses
    |                             the run and probes instead of failing jobs)
    +-- PlexNotFound              the file is not in Plex (yet): its own, longer retry schedule
    PermanentError
    +-- PlexPermanentError
        +-- PlexAuthError         401/403: "Plex rejected the token"
        +-- PlexAmbiguous         two Plex items fit one file, or two scenes claim one item
    ConfigError
    +-- PlexConfigError           not a Plex server, TLS failure, a redirect, wrong section type,
                                  an answer declaring a DTD (plex/dtd.py)

plex.tv, met only while signing in (`plex.account`), has its own three:

    TransientError
    +-- PlexTvUnreachable         refused, timed out, 429, 5xx, a redirect, an answer not JSON
    PermanentError
    +-- PlexTvRejected            401/403 (the sign-in is not valid), 404
    +-- PinExpired                the code was not linked in time

`translate()` maps requests/plexapi exceptions to this tree by type. The only text it
reads is a status code out of a plexapi message, for errors raised outside our session
hook (which normally carries the status as `HTTPStatusError.status`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

import requests

from errors import ConfigError, PermanentError, RunWide, ServiceUnreachable, TransientError
from plex.dtd import DeclaresDTD
from setting_names import setting


class PlexTemporaryError(TransientError):
    """Plex answered with an error that may clear up (5xx, 429, other 4xx)."""

    status: int | None = None


class PlexUnreachable(PlexTemporaryError, ServiceUnreachable):
    """Plex could not be reached even after the immediate connection retries."""

    service = "Plex"


class PlexNotFound(TransientError):
    """No Plex item holds the scene's file (Plex may still be scanning it)."""


class PlexPermanentError(PermanentError):
    """Plex refused the request in a way that retrying will not change."""


class PlexAuthError(PlexPermanentError, RunWide):
    """Plex rejected the token (401/403)."""

    def __init__(self, message: str = "Plex rejected the token") -> None:
        super().__init__(message)


class PlexAmbiguous(PlexPermanentError):
    """A scene's file matches more than one Plex item, or an item is claimed twice."""


class PlexConfigError(ConfigError):
    """The Plex settings point at something that is not a usable Plex library."""


class PlexTvUnreachable(TransientError):
    """plex.tv could not be reached, or asked us to come back later."""

    status: int | None = None


class PlexTvRejected(PermanentError):
    """plex.tv refused the sign-in or the token."""

    status: int | None = None


class PinExpired(PermanentError):
    """The sign-in code expired before the person linked it."""


class HTTPStatusError(Exception):
    """Raised by our session's response hook for every HTTP status >= 400."""

    def __init__(self, status: int, path: str, body: str = "", retry_after: float = 0.0) -> None:
        super().__init__(f"HTTP {status} from Plex for {path}")
        self.status = status
        self.body = body
        self.retry_after = retry_after  # seconds a Retry-After header asked for


class HTTPRedirect(Exception):
    """Raised by our session's response hook for a 3xx: redirects are never followed."""

    def __init__(self, status: int, path: str, target: str) -> None:
        super().__init__(f"HTTP {status} from Plex for {path} to {target}")
        self.status = status
        self.target = target


class ResponseTooLarge(Exception):
    """An answer was over the call's byte cap; reading stopped there."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"an answer over {max_bytes} bytes")
        self.max_bytes = max_bytes


def is_connection_error(exc: BaseException) -> bool:
    """True for the network blips tenacity should retry at once; not TLS."""
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    return isinstance(
        exc,
        (
            requests.exceptions.ConnectionError,
            requests.exceptions.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ),
    )


_STATUS_IN_MESSAGE = re.compile(r"\(?(\d{3})\)?")


def status_error(status: int, what: str, body: str = "") -> Exception:
    """The error for an HTTP status from Plex."""
    if status == 503 and 'title="Maintenance"' in body:  # Plex's own maintenance answer
        away = PlexUnreachable(f"Plex is in maintenance (HTTP 503) for {what}")
        away.status = status
        return away
    if status in (401, 403):
        return PlexAuthError()
    if status == 404:
        return PlexNotFound(f"Plex has no {what} (404)")
    if status == 414:
        return PlexPermanentError(
            f"Plex refused the edit of {what} as too long (HTTP 414): shorten the scene's details"
        )
    error = PlexTemporaryError(f"Plex answered HTTP {status} for {what}")
    error.status = status
    return error


def translatable() -> tuple[type[Exception], ...]:
    """The exception types `translate` turns into ours: all a Plex call catches, so anything
    else (a bug of ours) goes on untouched, its traceback intact.

    A function, not a constant: plexapi is imported lazily (the hook path never imports it),
    and `except translatable():` evaluates this only once an exception is being matched."""
    from plexapi import exceptions as plex_exceptions

    return (
        HTTPStatusError,
        HTTPRedirect,
        ResponseTooLarge,
        DeclaresDTD,
        requests.exceptions.RequestException,  # SSLError and all is_connection_error accepts
        plex_exceptions.BadRequest,  # Unauthorized is one
        plex_exceptions.NotFound,
        ElementTree.ParseError,
    )


def translate(exc: BaseException, what: str = "the request") -> Exception:
    """The exception from a Plex call as one of this module's classes, if it is one of
    `translatable()`; any other is returned as it is."""
    from plexapi import exceptions as plex_exceptions  # plexapi is imported lazily (hook path)

    if isinstance(exc, HTTPStatusError):
        return status_error(exc.status, what, exc.body)
    if isinstance(exc, HTTPRedirect):
        return PlexConfigError(
            f"Plex answered {what} with a redirect (HTTP {exc.status}) to {exc.target}; "
            "PlexSync never follows one (the token would go along): set "
            f"{setting('plexUrl')} to the address Plex itself answers at"
        )
    if isinstance(exc, DeclaresDTD):
        return PlexConfigError(
            f"the answer for {what} declares a DTD (<!DOCTYPE>), which Plex never sends; "
            f"PlexSync refused to read it: check {setting('plexUrl')} (over plain http, "
            "anyone on the way can change answers)"
        )
    if isinstance(exc, ResponseTooLarge):
        return PlexTemporaryError(
            f"Plex's answer for {what} is over {exc.max_bytes // (1024 * 1024)} MiB; "
            "PlexSync stopped reading it"
        )
    if isinstance(exc, requests.exceptions.SSLError):
        return PlexConfigError(
            f"TLS to Plex failed ({type(exc).__name__}): check that {setting('plexUrl')} "
            f"starts with https:// only if Plex serves https, or turn on "
            f"{setting('allowInsecureTls')} for a self-signed certificate"
        )
    if is_connection_error(exc):
        return PlexUnreachable(f"Plex is unreachable ({type(exc).__name__}) for {what}")
    if isinstance(exc, plex_exceptions.Unauthorized):  # before BadRequest: it is one
        return PlexAuthError()
    if isinstance(exc, plex_exceptions.NotFound):
        return PlexNotFound(f"Plex has no {what} (404)")
    if isinstance(exc, plex_exceptions.BadRequest):
        match = _STATUS_IN_MESSAGE.search(str(exc))
        if match:
            return status_error(int(match.group(1)), what)
        return PlexTemporaryError(f"Plex request failed for {what}")
    if isinstance(exc, ElementTree.ParseError):
        return not_plex()
    if isinstance(exc, requests.exceptions.RequestException):
        return PlexTemporaryError(f"Plex request failed ({type(exc).__name__}) for {what}")
    # Anything else is not Plex's doing but a bug of ours: it stays what it is, so the
    # worker logs its traceback and retries the job instead of blaming the settings.
    return exc if isinstance(exc, Exception) else PlexTemporaryError(str(exc))


def not_plex() -> PlexConfigError:
    """The configured address answered, but not like a Plex server."""
    return PlexConfigError(
        f"{setting('plexUrl')} answered, but not like a Plex server: check its address and port"
    )
