"""Issue 22: answers that try to get past our byte caps, from Plex (entities in a DTD) and from
Stash (a gzip bomb, an answer too large), and which Stash addresses are this machine."""

from __future__ import annotations

import pytest

from plex.client import PlexClient
from plex.errors import PlexConfigError
from plex.timeouts import Timeouts
from tests.conftest import PLEX_TOKEN

MiB = 1024 * 1024


def plex_client(plex) -> PlexClient:
    return PlexClient(plex.url, PLEX_TOKEN, Timeouts(connect=2, read=10))


def test_a_plex_listing_declaring_a_dtd_is_refused_before_it_is_parsed(plex):
    plex.add_item("1", "one", files=[("/media/one.mp4", 1)])
    client = plex_client(plex)
    client.connect()
    plex.fail("entities", path_prefix="/library/sections/1/all")
    try:
        with pytest.raises(PlexConfigError, match="declares a DTD"):
            page = client.list_page("1", 0, 10)
            # before: parsed, 2 KiB of declarations expanded into this attribute
            print(f"expanded to {len(page.get('bloat') or '') / MiB:.1f} MiB")
    finally:
        client.close()


def test_a_plex_root_declaring_a_dtd_is_not_plex(plex):
    plex.fail("entities", count=1, path_prefix="/")
    client = plex_client(plex)
    try:
        with pytest.raises(PlexConfigError, match="declares a DTD"):
            client.connect()  # before: connected
    finally:
        client.close()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_the_dtd_is_found_in_any_encoding_and_xml_without_one_passes(encoding):
    from plex.dtd import DeclaresDTD, refuse_dtd

    declared = f'<?xml version="1.0" encoding="{encoding}"?>\n<!DOCTYPE M [<!ENTITY e "x">]>'
    with pytest.raises(DeclaresDTD):
        refuse_dtd((declared + "<M a='&e;'/>").encode(encoding))
    refuse_dtd(f'<?xml version="1.0" encoding="{encoding}"?>\n<M a="1"/>'.encode(encoding))
    refuse_dtd(b'{"MediaContainer": {}}')
    refuse_dtd(b"")


def stash_client(stash, tmp_path):
    from stash.client import StashClient

    return StashClient(stash.server_connection(tmp_path, tmp_path), timeout=(2.0, 10.0))


def test_a_gzip_bomb_of_a_cover_from_stash_is_not_read_whole(stash, tmp_path):
    from stash.errors import StashError

    scene_id = stash.add_scene(title="Bomb", files=[("/m/bomb.mp4", 1)])
    stash.set_cover(scene_id, b"\xff\xd8\xff" + bytes(100 * MiB))  # ~100 KiB gzipped
    stash.gzip_covers = True
    client = stash_client(stash, tmp_path)
    try:
        with pytest.raises(StashError, match="over 64 MiB"):
            data = client.cover(f"{stash.url}/scene/{scene_id}/screenshot")
            print(f"read {len(data) / MiB:.0f} MiB")  # before: all 100 MiB, decoded
    finally:
        client.close()


def test_a_graphql_answer_from_stash_is_capped(stash, tmp_path):
    from stash.errors import StashError

    stash.plugin_settings = {"PlexSync": {"pathMap": "x" * (70 * MiB)}}
    client = stash_client(stash, tmp_path)
    try:
        with pytest.raises(StashError, match="over 64 MiB"):
            client.plugin_settings()  # before: all 70 MiB read
    finally:
        client.close()


def test_the_quick_settings_read_is_capped(stash, tmp_path):
    from stash.quick import plugin_settings

    stash.plugin_settings = {"PlexSync": {"pathMap": "x" * (70 * MiB)}}
    with pytest.raises(RuntimeError, match="over 64 MiB"):
        plugin_settings(stash.server_connection(tmp_path, tmp_path))  # before: read whole


@pytest.mark.parametrize("host", ["::1", "[::1]", "127.0.0.2", "localhost", "0.0.0.0", "::"])
def test_a_stash_on_this_machine_is_loopback_however_written(host):
    from stash.client import stash_session
    from stash.quick import loopback

    conn = {"Scheme": "https", "Host": host, "Port": 9999}
    assert loopback(conn)  # before: False for ::1, [::1], 127.0.0.2
    session = stash_session(conn, (1, 1))
    assert session.verify is False and not session.proxies


@pytest.mark.parametrize("host", ["stash.example", "192.168.1.5", "::2", "[fe80::1]"])
def test_a_stash_elsewhere_is_not_loopback(host):
    from stash.quick import loopback

    assert not loopback({"Scheme": "https", "Host": host, "Port": 9999})
