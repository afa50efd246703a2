"""Issue 11: faults a review and a fault campaign found, each reproduced through the rig."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from errors import ServiceUnreachable
from plex.client import PlexClient, Timeouts
from plex.errors import PlexConfigError, PlexTemporaryError, PlexUnreachable
from plex.index import PathIndex
from tests.conftest import PLEX_TOKEN, add_synced_pair


@pytest.mark.parametrize("into_lower_id", [True, False])
def test_a_scene_merge_releases_the_deleted_scenes_claim(
    runner, stash, plex, data_dir, into_lower_id
):
    pairs = add_synced_pair(stash, plex, 4)
    assert runner.run_task("sync_all").output["written"] == 4
    (keep, keep_rk), (gone, gone_rk) = (
        (pairs[1], pairs[3]) if into_lower_id else (pairs[3], pairs[1])
    )
    stash.update_scene(keep, title="Merged scene")
    stash.merge_scenes(gone, keep)  # no hook runs, as in Stash
    result = runner.run_task("sync_all")
    assert "left alone" not in result.stderr_raw
    assert plex.item(keep_rk).title == "Merged scene"
    assert plex.item(gone_rk).title == "Merged scene"
    db = sqlite3.connect(data_dir / "state.db")
    owners = {row[0] for row in db.execute("SELECT scene_id FROM sync_state")}
    assert int(gone) not in owners and int(keep) in owners
    plex.reset_log()
    again = runner.run_task("sync_all").output
    assert plex.writes == 0 and again.get("failed") is None, again


# -- a hostile or unwell server at the configured address (items 3, 8, 11) -------------------


class Recorder:
    """A second origin: records every request it gets (headers included) and answers 200."""

    def __init__(self):
        import http.server

        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                length = int(self.headers.get("Content-Length") or 0)
                seen.append((self.command, self.path, dict(self.headers), self.rfile.read(length)))
                body = b'<MediaContainer size="0"/>'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_PUT = do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def elsewhere():
    recorder = Recorder()
    yield recorder
    recorder.close()


def client_for(plex, **timeouts):
    return PlexClient(plex.url, PLEX_TOKEN, Timeouts(**timeouts) if timeouts else Timeouts())


@pytest.mark.parametrize("status", [302, 307])
def test_plex_redirects_are_refused_and_the_token_stays_home(plex, elsewhere, status):
    rating_key = plex.add_item("1", "a", files=[("/m/a.mp4", 1)])
    client = client_for(plex)
    client.connect()
    plex.fail(status, location=f"{elsewhere.url}/sso?from=plex", method="PUT")
    with pytest.raises(PlexConfigError) as caught:
        client.edit("1", rating_key, {"title.value": "New", "title.locked": "1"})
    assert elsewhere.url in str(caught.value) and "redirect" in str(caught.value)
    assert PLEX_TOKEN not in str(caught.value)
    assert elsewhere.seen == []
    client.close()


def test_a_trickling_plex_cannot_hold_a_call(plex):
    plex.fail("trickle", delay=0.5)
    client = client_for(plex, connect=1.0, read=2.0)
    outcome = {}

    def call():
        started = time.monotonic()
        try:
            client.connect()
        except Exception as exc:  # noqa: BLE001 - the test looks at what arrived
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(30)
    assert "seconds" in outcome, "a server sending a byte every 0.5 s held the call for 30 s"
    assert isinstance(outcome["error"], PlexUnreachable)
    assert "within" in str(outcome["error"])
    client.close()


def test_a_huge_plex_answer_is_not_read_whole(plex):
    plex.fail("huge", size=300 * 1024 * 1024)
    client = client_for(plex)
    with pytest.raises(PlexTemporaryError) as caught:
        client.connect()
    assert "MiB" in str(caught.value)
    client.close()


def test_an_endless_listing_stops_with_a_clear_error(plex, tmp_path):
    for i in range(3):
        plex.add_item("1", f"e{i}", files=[(f"/m/e{i}.mp4", 1)])
    client = client_for(plex)
    (section,) = [s for s in client.sections() if s.key == "1"]
    plex.fail("endless", path_prefix="/library/sections/1/all")
    plex.reset_log()
    index = PathIndex(tmp_path / "index.db", client, [section])
    with pytest.raises(PlexTemporaryError) as caught:
        index.rebuild()
    assert "repeat" in str(caught.value) or "items" in str(caught.value)
    assert plex.count(path_prefix="/library/sections/1/all") <= 3
    client.close()


def test_a_single_5xx_stays_one_items_retry_but_several_in_a_row_pause(plex):
    keys = [plex.add_item("1", f"s{i}", files=[(f"/m/s{i}.mp4", 1)]) for i in range(4)]
    client = client_for(plex)
    client.connect()
    plex.fail(500, count=1, method="PUT")
    with pytest.raises(PlexTemporaryError) as one:
        client.edit("1", keys[0], {"title.value": "x"})
    assert not isinstance(one.value, ServiceUnreachable)
    client.edit("1", keys[1], {"title.value": "x"})  # a good answer ends the streak
    plex.fail(502, method="PUT")
    errors = []
    for key in keys:
        try:
            client.edit("1", key, {"title.value": "y"})
        except PlexTemporaryError as exc:
            errors.append(exc)
    assert not isinstance(errors[0], ServiceUnreachable)
    assert isinstance(errors[-1], ServiceUnreachable), errors
    client.close()


def test_plex_in_maintenance_pauses_the_run(plex):
    client = client_for(plex)
    client.connect()
    plex.fail(503, count=1)
    with pytest.raises(ServiceUnreachable) as caught:
        client.sections()
    assert "maintenance" in str(caught.value).lower()
    client.close()
