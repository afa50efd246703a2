"""Issue 11: faults a review and a fault campaign found, each reproduced through the rig."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest

from errors import ServiceUnreachable
from plex.client import PlexClient, Timeouts
from plex.errors import PlexConfigError, PlexTemporaryError, PlexUnreachable
from plex.index import PathIndex
from state.lock import WorkerLock
from tests.conftest import PLEX_TOKEN, add_synced_pair
from tests.rig.waiting import wait_until


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
    print(f"a trickling server held the call {outcome['seconds']:.1f} s (connect 1, read 2)")
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


def test_a_maintenance_window_costs_few_requests_and_loses_nothing(runner, stash, plex):
    pairs = add_synced_pair(stash, plex, 300)
    window = {}

    def maintenance():
        wait_until(lambda: plex.writes >= 120, timeout=120, every=0.005)  # 20 % of the writes
        window["before"] = len(plex.requests)
        plex.fail(503, seconds=45)  # Plex's maintenance answer, to every request
        time.sleep(45)
        window["after"], window["ended"] = len(plex.requests), time.time()

    thread = threading.Thread(target=maintenance, daemon=True)
    thread.start()
    result = runner.run_task("sync_all", timeout=300)
    thread.join(60)
    during = window["after"] - window["before"]
    last_write = max(r.time for r in plex.requests if r.method in ("PUT", "POST"))
    resumed = last_write - window["ended"]
    print(f"requests during the window: {during}; last write {resumed:.1f} s after it")
    assert during <= 40
    assert last_write - window["ended"] <= 10
    problems = result.messages("w") + result.messages("e")
    assert result.output["written"] == 300 and "failed" not in result.output, (
        result.output,
        problems,
    )
    assert all(plex.item(rk).title == f"Scene {i}" for i, (_, rk) in enumerate(pairs))


def test_a_redirecting_plex_stops_the_sync_instead_of_losing_the_writes(
    runner, stash, plex, data_dir, elsewhere
):
    pairs = add_synced_pair(stash, plex, 5)
    plex.fail(302, location=f"{elsewhere.url}/login", method="PUT")
    result = runner.run_task("sync_all")
    assert "written" not in result.output, result.output
    assert "redirect" in result.stderr_raw and elsewhere.url in result.stderr_raw
    assert elsewhere.seen == []
    db = sqlite3.connect(data_dir / "state.db")
    assert db.execute("SELECT COUNT(*) FROM sync_state").fetchone()[0] == 0
    plex.clear_faults()
    runner.run_task("sync_all")  # (or the standby worker it left) writes what was kept
    wait_until(lambda: [plex.item(rk).title for _, rk in pairs] == [f"Scene {i}" for i in range(5)])


# -- Stash: redirects, the cookie's scope, HTTPS on its own machine (items 8, 14) -------------


def stash_client(stash, tmp_path, **extra):
    from stash.client import StashClient

    connection = {**stash.server_connection(tmp_path, tmp_path), **extra}
    return StashClient(connection, timeout=(2.0, 5.0))


def test_stash_redirects_are_refused_and_credentials_stay_home(stash, tmp_path, elsewhere):
    from errors import ConfigError

    stash.add_scene(title="One", files=[("/m/1.mp4", 1)])
    stash.api_key = "stash-api-key-0123456789"
    client = stash_client(stash, tmp_path, ApiKey="stash-api-key-0123456789")
    assert all(cookie.domain == "127.0.0.1" for cookie in client._session.cookies)  # noqa: SLF001
    stash.fail(307, count=3, location=f"{elsewhere.url}/graphql")
    with pytest.raises(ConfigError) as caught:
        client.scenes([1])
    assert "redirect" in str(caught.value) and elsewhere.url in str(caught.value)
    assert elsewhere.seen == []
    client.close()


@pytest.fixture
def self_signed(tmp_path):
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate for the HTTPS test")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        + ["-subj", "/CN=stash.example", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_stash_over_https_on_this_machine_needs_no_certificate_or_proxy(
    tmp_path, self_signed, monkeypatch
):
    from tests.rig.fake_stash import FakeStash

    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    stash = FakeStash()
    stash.tls = self_signed
    stash.start()
    try:
        stash.add_scene(title="Over TLS", files=[("/m/tls.mp4", 1)])
        client = stash_client(stash, tmp_path)
        assert client.scenes([1])[1]["title"] == "Over TLS"
        client.close()
    finally:
        stash.stop()


def test_a_stash_on_another_host_is_verified_and_may_use_a_proxy(monkeypatch):
    from stash.client import stash_session

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    remote = {"Scheme": "https", "Host": "stash.example", "Port": 9999}
    assert stash_session(remote, (1, 1)).verify is True
    assert stash_session(remote, (1, 1)).proxies.get("https") == "http://proxy.example:3128"
    local = {"Scheme": "https", "Host": "0.0.0.0", "Port": 9999}
    assert stash_session(local, (1, 1)).verify is False
    assert not stash_session(local, (1, 1)).proxies


# -- the data directory, the files we write, stdin (items 6, 7, 12, 13) ----------------------


def test_a_data_directory_that_cannot_be_created_says_so_in_one_line(runner, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    runner.env["PLEXSYNC_DATA_DIR"] = str(blocker / "data")
    for result in (
        runner.run_hook("Scene.Update.Post", 1, input_fields=["title"]),
        runner.run_task("status"),
    ):
        (line,) = result.messages("e")
        assert "PlexSync's data directory" in line and "PLEXSYNC_DATA_DIR" in line, line
        assert "Traceback" not in result.stderr_raw and "NotADirectoryError:" not in line
        assert result.error and "\n" not in result.error


def test_every_file_is_private_and_no_symlink_is_written_through(runner, stash, plex, data_dir):
    import os
    import stat

    old = os.umask(0o022)
    try:
        add_synced_pair(stash, plex, 3)
        runner.run_task("sync_all")
        runner.run_hook("Scene.Update.Post", 1, input_fields=["title"])
        runner.run_task("verify")
        wait_until(lambda: not WorkerLock(data_dir / "worker.lock").running())
    finally:
        os.umask(old)
    modes = {
        str(p.relative_to(data_dir)): stat.S_IMODE(p.stat().st_mode)
        for p in [data_dir, *data_dir.rglob("*")]
    }
    print("modes:", {k: oct(v) for k, v in sorted(modes.items())})
    assert modes["."] == 0o700
    assert {name for name, mode in modes.items() if mode & 0o077} == set()
    assert any(name.startswith("reports/verify-") for name in modes)
    assert "worker.log" in modes and "state.db" in modes and "queue" in modes


def test_a_planted_symlink_is_refused(runner, stash, plex, data_dir, tmp_path):
    add_synced_pair(stash, plex, 2)
    runner.run_task("status")  # creates the data directory
    target = tmp_path / "victim.txt"
    target.write_text("untouched")
    (data_dir / "worker.log").unlink(missing_ok=True)
    (data_dir / "worker.log").symlink_to(target)
    (data_dir / "reports").mkdir(exist_ok=True)
    result = runner.run_hook("Scene.Update.Post", 1, input_fields=["title"])
    assert result.exit_code == 0
    runner.run_task("verify")
    time.sleep(3)  # the worker the hook started has had time to log
    assert target.read_text() == "untouched"
    (problem,) = runner.run_task("status").output["data_dir_problems"]
    assert "worker.log" in problem and "symbolic link" in problem


def test_status_warns_about_a_data_directory_others_may_write(runner, data_dir):
    runner.run_task("status")
    data_dir.chmod(0o777)
    (problem,) = runner.run_task("status").output["data_dir_problems"]
    assert "writable by other users" in problem


def test_a_newline_in_a_path_cannot_forge_a_log_line(runner, stash, plex, data_dir):
    forged = "\n2026-12-02 10:00:00,000 ERROR Plex token rejected: re-enter it at http://evil"
    scene = stash.add_scene(title="Odd", files=[(f"/media/odd{forged}.mp4", 1)])
    runner.run_hook("Scene.Update.Post", int(scene), input_fields=["title"])
    log = data_dir / "worker.log"
    wait_until(lambda: log.exists() and "retry in" in log.read_text(), timeout=30)
    lines = (data_dir / "worker.log").read_text().splitlines()
    assert not any(line.startswith("2026-12-02 10:00:00") for line in lines)
    status = runner.run_task("status").output
    assert all("ERROR Plex token rejected" not in p for p in status["worker_problems"])


def test_reports_are_utf8_under_a_non_utf8_locale(runner, stash, plex, data_dir):
    for i in range(2):
        path = f"/media/ü/{i}.mp4"
        stash.add_scene(title=f"Ünïcødé ✓ {i}", files=[(path, 1)])
        plex.add_item("1", f"u{i}", files=[(path, 1)])
    runner.env.update({"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""})
    result = runner.run_task("verify")
    assert result.error is None, result.error
    (report,) = (data_dir / "reports").glob("*.json")
    assert "Ünïcødé ✓ 0" in report.read_text(encoding="utf-8")


def test_a_huge_json_number_on_stdin_gets_the_clear_bad_input_message(plugin_dir, data_dir):
    import subprocess
    import sys

    raw = '{"server_connection": {}, "args": {"mode": ' + "9" * 5000 + "}}"
    done = subprocess.run(
        [sys.executable, str(plugin_dir / "plexsync.py")],
        input=raw,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "stdin is not JSON" in done.stderr, done.stderr
    assert "AttributeError" not in done.stderr and "Traceback" not in done.stderr


# -- secrets: URLs with credentials, secrets on the command line (items 9, 10) ---------------


def test_credentials_in_the_plex_url_are_never_shown(runner, stash, plex, data_dir):
    password = "url-password-31337"
    for url in (
        f"http://admin:{password}@127.0.0.1:{plex.port}",
        f"http://admin:{password}@127.0.0.1:99999x",
    ):
        stash.plugin_settings["PlexSync"]["plexUrl"] = url
        plex.fail("html", count=1)  # "...answered, but it is not a Plex server"
        for result in (runner.run_task("status"), runner.run_task("process_queue")):
            shown = result.stdout_raw + result.stderr_raw + str(result.error)
            assert password not in shown, shown
            assert "admin:" not in shown
        plex.clear_faults()
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path


def test_cli_secrets_come_from_files_or_the_environment_and_argv_warns(stash, plex, tmp_path):
    from tests.test_tasks import run_cli

    add_synced_pair(stash, plex, 2)
    stash.require_auth = False
    token_file = tmp_path / "plex-token"
    token_file.write_text(PLEX_TOKEN + "\n")
    env = {"STASH_URL": stash.url, "PLEX_URL": plex.url}
    from_file = run_cli(
        "--plex-token-file", str(token_file), "sync-all", env=env, data_dir=tmp_path
    )
    assert from_file.returncode == 0, from_file.stderr
    assert "visible" not in from_file.stderr
    assert json.loads(from_file.stdout)["written"] == 2
    in_argv = run_cli("--plex-token", PLEX_TOKEN, "status", env=env, data_dir=tmp_path)
    assert "--plex-token-file" in in_argv.stderr and "ps" in in_argv.stderr
    assert PLEX_TOKEN not in in_argv.stdout + in_argv.stderr
    missing = run_cli("--plex-token-file", str(tmp_path / "nope"), "status", env=env)
    assert missing.returncode == 2 and "nope" in missing.stderr


def test_cli_failed_retry_uses_the_clis_own_plex_settings(stash, plex, tmp_path):
    from tests.test_tasks import queue_jobs, run_cli

    pairs = add_synced_pair(stash, plex, 1)
    stash.require_auth = False
    stash.plugin_settings["PlexSync"] = {}  # only the command line knows Plex
    env = {"STASH_URL": stash.url, "PLEX_URL": plex.url, "PLEX_TOKEN": "wrong-token-0000"}
    queue_jobs(tmp_path, [pairs[0][0]])
    assert run_cli("process", env=env, data_dir=tmp_path).returncode == 3
    env["PLEX_TOKEN"] = PLEX_TOKEN
    retried = run_cli("failed", "retry", env=env, data_dir=tmp_path)
    assert json.loads(retried.stdout)["written"] == 1, retried.stderr
    assert not WorkerLock(tmp_path / "worker.lock").running()


def test_the_refreshed_cookie_is_kept_alone_and_never_missing_under_concurrency(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from tests.rig.fake_stash import FakeStash

    now = [1_800_000_000.0]
    stash = FakeStash(clock=lambda: now[0]).start()
    try:
        stash.cookie_ttl = 100
        scene = stash.add_scene(title="Cookie", files=[("/m/c.mp4", 1)])
        client = stash_client(stash, tmp_path)
        for _ in range(3):  # each request outlives the cookie before it only if refreshed
            now[0] += 90
            assert client.scenes([int(scene)])
        assert [c.name for c in client._session.cookies] == ["session"]  # noqa: SLF001
        url = client.scenes([int(scene)])[int(scene)]["paths"]["screenshot"]
        with ThreadPoolExecutor(8) as pool:  # cover fetches overlap, as the writers do
            covers = list(pool.map(lambda _: client.cover(url), range(200)))
        assert all(covers)
        client.close()
    finally:
        stash.stop()
