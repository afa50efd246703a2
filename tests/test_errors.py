"""Classification of real exceptions (requests, plexapi) into our tree: one table."""

import os
import xml.etree.ElementTree as ElementTree

import pytest
import requests

os.environ.setdefault("PLEXAPI_CONFIG_PATH", os.devnull + "/none.ini")
from plexapi import exceptions as plexapi_errors  # noqa: E402

from errors import ConfigError, PermanentError, ServiceUnreachable, TransientError  # noqa: E402
from plex.errors import (  # noqa: E402
    HTTPStatusError,
    PlexAuthError,
    PlexConfigError,
    PlexNotFound,
    PlexPermanentError,
    PlexTemporaryError,
    PlexUnreachable,
    is_connection_error,
    translatable,
    translate,
)

TRANSLATIONS = [
    (HTTPStatusError(401, "/"), PlexAuthError),
    (HTTPStatusError(403, "/"), PlexAuthError),
    (HTTPStatusError(404, "/"), PlexNotFound),
    (HTTPStatusError(429, "/"), PlexTemporaryError),
    (HTTPStatusError(500, "/"), PlexTemporaryError),
    (HTTPStatusError(503, "/"), PlexTemporaryError),
    (HTTPStatusError(520, "/"), PlexTemporaryError),
    (HTTPStatusError(400, "/"), PlexTemporaryError),
    (HTTPStatusError(414, "/"), PlexPermanentError),
    (requests.exceptions.ConnectionError(), PlexUnreachable),
    (requests.exceptions.ConnectTimeout(), PlexUnreachable),
    (requests.exceptions.ReadTimeout(), PlexUnreachable),
    (requests.exceptions.ChunkedEncodingError(), PlexUnreachable),
    (requests.exceptions.SSLError(), PlexConfigError),
    (plexapi_errors.Unauthorized("(401) unauthorized"), PlexAuthError),
    (plexapi_errors.BadRequest("(403) forbidden; http://x"), PlexAuthError),
    (plexapi_errors.NotFound("(404) not_found"), PlexNotFound),
    (plexapi_errors.BadRequest("(503) service_unavailable; http://x"), PlexTemporaryError),
    (ElementTree.ParseError("junk"), PlexConfigError),
    # Not caused by a Plex answer: our own bugs stay what they are (logged, retried).
    (TypeError("'NoneType' object is not subscriptable"), TypeError),
    (AttributeError("'NoneType' has no attribute"), AttributeError),
    (ValueError("invalid literal for int()"), ValueError),
    (KeyError("title"), KeyError),
    (plexapi_errors.Unsupported("not a Plex answer either"), plexapi_errors.Unsupported),
]


@pytest.mark.parametrize(("exc", "expected"), TRANSLATIONS)
def test_translate(exc, expected):
    assert type(translate(exc)) is expected


@pytest.mark.parametrize(("exc", "expected"), TRANSLATIONS)
def test_a_plex_call_catches_exactly_what_translate_translates(exc, expected):
    assert isinstance(exc, translatable()) is (expected is not type(exc))


def test_the_tree():
    assert issubclass(PlexUnreachable, PlexTemporaryError)
    assert issubclass(PlexUnreachable, ServiceUnreachable)
    assert issubclass(PlexTemporaryError, TransientError)
    assert issubclass(PlexNotFound, TransientError)
    assert not issubclass(PlexNotFound, PlexTemporaryError)
    assert issubclass(PlexAuthError, PermanentError)
    assert issubclass(PlexConfigError, ConfigError)


@pytest.mark.parametrize(
    ("exc", "retry"),
    [
        (requests.exceptions.ConnectionError(), True),
        (requests.exceptions.ConnectTimeout(), True),
        (requests.exceptions.ReadTimeout(), True),
        (requests.exceptions.ChunkedEncodingError(), True),
        (requests.exceptions.SSLError(), False),
        (HTTPStatusError(503, "/"), False),
        (ValueError(), False),
    ],
)
def test_only_connection_errors_are_retried_at_once(exc, retry):
    assert is_connection_error(exc) is retry


def test_auth_message_is_the_users_reason():
    assert str(PlexAuthError()) == "Plex rejected the token"
