"""The Plex client through the real plexapi against the fake Plex: timeouts, tenacity, errors."""

import time

import pytest

from plex.client import ConnectionRetry, PlexClient, Timeouts, probe
from plex.errors import (
    PlexAuthError,
    PlexConfigError,
    PlexNotFound,
    PlexTemporaryError,
    PlexUnreachable,
)
from tests.conftest import PLEX_TOKEN


def client_for(plex, sleeps=None, read=2.0, attempts=3):
    return PlexClient(
        plex.url,
        PLEX_TOKEN,
        Timeouts(connect=1.0, read=read, listing_read=read),
        ConnectionRetry(attempts=attempts),
        sleep=(sleeps.append if sleeps is not None else time.sleep),
    )


def test_connect_names_the_server(plex):
    info = client_for(plex).connect()
    assert (info.machine_identifier, info.name) == ("fake-machine-1", "Fake Plex")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, PlexAuthError),
        (403, PlexAuthError),
        (404, PlexNotFound),
        (429, PlexTemporaryError),
        (500, PlexTemporaryError),
        (503, PlexTemporaryError),
        (520, PlexTemporaryError),  # plexapi itself would raise TypeError here
    ],
)
def test_http_statuses_are_classified_and_not_retried_at_once(plex, status, expected):
    client = client_for(plex, sleeps=[])
    client.connect()
    plex.reset_log()
    plex.fail(status, count=5, path_prefix="/library/sections")
    with pytest.raises(expected):
        client.sections()
    assert plex.count(path_prefix="/library/sections") == 1  # HTTP errors go back to the queue


def test_connection_errors_are_retried_with_jitter_then_unreachable(plex):
    sleeps = []
    client = client_for(plex, sleeps=sleeps)
    client.connect()
    plex.down()
    with pytest.raises(PlexUnreachable):
        client.sections()
    assert len(sleeps) == 2 and all(0.1 <= s <= 0.4 for s in sleeps)
    assert client.requests_made == 1 + 3


def test_a_blip_is_absorbed_by_tenacity(plex):
    sleeps = []
    client = client_for(plex, sleeps=sleeps)
    client.connect()
    plex.fail("reset", count=1, path_prefix="/library/sections")
    assert [s.title for s in client.sections()] == ["Movies"]
    assert len(sleeps) == 1


def test_headers_delayed_past_the_read_timeout_are_a_timeout_not_a_hang(plex):
    client = client_for(plex, sleeps=[], read=0.3, attempts=2)
    client.connect()
    plex.fail("slow_headers", count=2, path_prefix="/library/sections", delay=1.5)
    started = time.monotonic()
    with pytest.raises(PlexUnreachable):
        client.sections()
    assert time.monotonic() - started < 3


def test_wrong_token_is_permanent_and_never_echoed(plex):
    client = PlexClient(plex.url, "wrong-token-abcdef", Timeouts(connect=1, read=2))
    with pytest.raises(PlexAuthError) as caught:
        client.connect()
    assert "wrong-token" not in str(caught.value)


@pytest.mark.parametrize("kind", ["html", "empty"])
def test_something_that_is_not_plex_is_a_configuration_error(plex, kind):
    plex.fail(kind, count=1, path_prefix="/")
    with pytest.raises(PlexConfigError):
        client_for(plex, sleeps=[]).connect()


def test_an_empty_token_never_reaches_plexapi():
    with pytest.raises(PlexConfigError):
        PlexClient("http://127.0.0.1:9", "")


def test_probe_is_one_quick_attempt(plex):
    plex.down()
    started = time.monotonic()
    with pytest.raises(PlexUnreachable):
        probe(plex.url, PLEX_TOKEN, 0.5)
    assert time.monotonic() - started < 2
    plex.up()
    assert probe(plex.url, PLEX_TOKEN, 0.5).name == "Fake Plex"


def test_edit_is_one_put_with_locks(plex):
    rating_key = plex.add_item("1", "old", files=[("/m/a.mp4", 5)])
    client = client_for(plex)
    client.connect()
    plex.reset_log()
    client.edit("1", rating_key, {"title.value": "New", "title.locked": "1"})
    assert plex.count() == 1 and plex.count("PUT") == 1
    item = plex.item(rating_key)
    assert item.title == "New" and "title" in item.locked
