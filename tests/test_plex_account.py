"""plex.tv through our own client against the rig's fake plex.tv; the servers' addresses tried
against real fake Plex servers; the sign-in file in a real data directory."""

from __future__ import annotations

import socket
import stat
import threading
import time

import pytest

from plex.account import Pin, PlexTv
from plex.errors import PinExpired, PlexConfigError, PlexTvRejected, PlexTvUnreachable
from plex.server_choice import try_servers, usable_address
from plex.timeouts import Timeouts
from state.datadir import DataDir
from state.signin import ChosenServer, SignIn, settings_with, stored_server, token_source
from tests.rig.fake_plex import FakePlex
from tests.rig.fake_plextv import FakePlexTv

ACCOUNT = "account-token-opens-everything-1"
SERVER_TOKEN = "server-token-opens-one-2"


@pytest.fixture
def tv():
    with FakePlexTv(account_token=ACCOUNT) as fake:
        yield fake


def client(tv, **kwargs) -> PlexTv:
    return PlexTv("plexsync-test-client", base_url=tv.url, **kwargs)


def dead_address() -> str:
    """An address where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_pin_waits_until_the_person_links_it_and_then_carries_the_account_token(tv):
    plex_tv = client(tv)
    pin = plex_tv.create_pin()
    assert len(pin.code) == 4 and pin.expires_at > time.time() + 800
    assert plex_tv.check_pin(pin) is None
    tv.link(pin.code)
    assert plex_tv.check_pin(pin) == ACCOUNT
    made = tv.requests[0]
    assert made.method == "POST" and made.headers["X-Plex-Product"] == "PlexSync"
    assert made.headers["X-Plex-Client-Identifier"] == "plexsync-test-client"


def test_an_expired_pin_says_so_whether_plex_tv_forgot_it_or_its_time_ran_out(tv):
    plex_tv = client(tv)
    pin = plex_tv.create_pin()
    tv.expire(pin.code)
    with pytest.raises(PinExpired, match=f"The code {pin.code} expired before it was linked"):
        plex_tv.check_pin(pin)
    requests_before = len(tv.requests)
    with pytest.raises(PinExpired):
        plex_tv.check_pin(Pin(pin.id, pin.code, time.time() - 1))
    assert len(tv.requests) == requests_before  # past its time: plex.tv is not even asked


def test_the_servers_skip_players_and_keep_each_servers_own_token(tv):
    tv.add_server("Home", "machine-1", SERVER_TOKEN, [("http://10.0.0.5:32400", True, False)])
    [home] = client(tv).resources(ACCOUNT)
    assert (home.name, home.machine, home.owned, home.access_token) == (
        "Home", "machine-1", True, SERVER_TOKEN,
    )  # fmt: skip
    assert home.connections[0].uri == "http://10.0.0.5:32400" and home.connections[0].local
    assert ACCOUNT not in repr(home) and SERVER_TOKEN not in repr(home)
    seen = tv.requests[-1]
    assert seen.headers["X-Plex-Token"] == ACCOUNT and ACCOUNT not in seen.path


@pytest.mark.parametrize(
    ("status", "error", "says"),
    [
        (401, PlexTvRejected, "the sign-in is no longer valid"),
        (429, PlexTvUnreachable, "wait a minute"),
        (503, PlexTvUnreachable, "HTTP 503"),
    ],
)
def test_plex_tv_errors_are_one_clear_message_each(tv, status, error, says):
    tv.fail(status, path_prefix="/api/v2/resources")
    with pytest.raises(error, match=says) as caught:
        client(tv).resources(ACCOUNT)
    assert caught.value.status == status


def test_a_plex_tv_that_does_not_answer_is_said_plainly(tv):
    tv.down()
    with pytest.raises(PlexTvUnreachable, match="plex.tv does not answer"):
        client(tv).create_pin()


def test_a_plex_tv_that_accepts_but_never_answers_is_cut_by_the_deadline():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held = []
    threading.Thread(target=lambda: held.append(listener.accept()), daemon=True).start()
    plex_tv = PlexTv("c", base_url=f"http://127.0.0.1:{listener.getsockname()[1]}",
                     timeouts=Timeouts(connect=0.5, read=0.5))  # fmt: skip
    try:
        with pytest.raises(PlexTvUnreachable, match="plex.tv"):
            plex_tv.create_pin()
    finally:
        listener.close()


def test_an_answer_over_the_size_cap_is_not_read_into_memory(tv):
    tv.fail(200, path_prefix="/api/v2/pins", size=5 * 1024 * 1024)
    with pytest.raises(PlexTvUnreachable, match="is over 4194304 bytes"):
        client(tv).create_pin()


def test_a_redirect_is_not_followed_so_the_account_token_stays_with_plex_tv(tv):
    with FakePlexTv(account_token=ACCOUNT) as elsewhere:
        tv.fail(302, location=f"{elsewhere.url}/api/v2/resources")
        with pytest.raises(PlexTvUnreachable, match="never follows one"):
            client(tv).resources(ACCOUNT)
        assert elsewhere.requests == []


def test_addresses_are_tried_from_here_and_the_fastest_local_that_answers_wins(tv):
    home = FakePlex(token=SERVER_TOKEN, machine_identifier="machine-1")
    relay = FakePlex(token=SERVER_TOKEN, machine_identifier="machine-1")
    impostor = FakePlex(token=SERVER_TOKEN, machine_identifier="someone-else")
    with home, relay, impostor:
        tv.add_server(
            "Home", "machine-1", SERVER_TOKEN,
            [(dead_address(), True, False), (impostor.url, True, False),
             (f"http://localhost:{home.port}", False, False), (home.url, True, False),
             (relay.url, False, True)],
        )  # fmt: skip
        tv.add_server("Friend", "machine-2", "friend-token-xyz", [(dead_address(), False, False)],
                      owned=False)  # fmt: skip
        options = try_servers(client(tv).resources(ACCOUNT), seconds=2)
    home_option, friend = options
    assert home_option.name == "Home" and usable_address(home_option) == home.url
    shown = home_option.shown()
    assert [c["uri"] for c in shown["connections"]][:3] == [
        home.url, f"http://localhost:{home.port}", relay.url,
    ]  # fmt: skip
    impostor_row = next(c for c in shown["connections"] if c["uri"] == impostor.url)
    assert impostor_row["ms"] is None and "another server" in impostor_row["error"]
    assert SERVER_TOKEN not in str(shown)
    with pytest.raises(PlexConfigError, match="None of the addresses of Plex server 'Friend'"):
        usable_address(friend)


def test_the_sign_in_file_is_private_and_plex_token_wins_when_set(tmp_path):
    data = DataDir(tmp_path / "data")
    signin = SignIn(data)
    signin.choose(ChosenServer("Home", "machine-1", "http://10.0.0.5:32400", SERVER_TOKEN, 1.0))
    path = tmp_path / "data" / "plex_signin.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    server = stored_server(data)
    assert settings_with({}, server) == {"plexUrl": "http://10.0.0.5:32400",
                                         "plexToken": SERVER_TOKEN}  # fmt: skip
    assert settings_with({"plexUrl": "http://plex:32400"}, server)["plexUrl"] == "http://plex:32400"
    typed = {"plexUrl": "http://x:1", "plexToken": "typed-token"}
    assert settings_with(typed, server) == typed
    assert token_source(typed, server) == {"source": '"Plex token" setting'}
    assert token_source({}, server)["source"] == "signed in with Plex"
    assert SignIn(data).disconnect() is True and stored_server(data) is None
    assert token_source({}, None) == {"source": None}
