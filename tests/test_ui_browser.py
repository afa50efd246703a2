"""Issue 13 in a real browser: the plugin's UI in headless Chromium, loaded by the rig's plugin
host (tests/rig/plugin_host: Stash's documented plugin API on npm's React, react-bootstrap,
react-router and FontAwesome) as Stash loads it, the fake Stash and fake Plex behind it, and
every plugin call answered by the real plexsync.py run as Stash runs it. Screenshots go to
build/screenshots/ (PLEXSYNC_SCREENSHOTS=docs/screenshots refreshes the README's), so a test
run leaves the repository as it was."""

from __future__ import annotations

import os
import re
import time

import pytest

from state.jobs import SceneJob
from state.store import Failure, Store
from tests.conftest import PLEX_TOKEN, ROOT, add_synced_pair
from tests.rig.browser import missing, open_tab
from tests.rig.plugin_host.server import PluginHost
from tests.rig.waiting import wait_until

SHOTS = ROOT / os.environ.get("PLEXSYNC_SCREENSHOTS", "build/screenshots")
SESSION = "ui-login-session-7"  # the browser's Stash login; /graphql refuses requests without it

if missing():
    pytest.skip(missing(), allow_module_level=True)
from playwright import sync_api  # noqa: E402 - after the skip: absent where the tests skip


@pytest.fixture
def ui(stash, runner):
    with PluginHost(stash, runner, session=SESSION) as server:
        yield server


@pytest.fixture
def page(browser, ui):
    errors: list[str] = []
    tab = open_tab(browser, ui.url, SESSION, errors)
    yield tab
    tab.context.close()
    assert errors == []  # no script error in the host or the plugin


def open_plex_tab(page, ui, scene_id):
    page.goto(f"{ui.url}/scenes/{scene_id}")
    page.get_by_role("tab", name="Plex").click()
    return page.locator(".plexsync-panel")


def toast(page):
    return page.locator(".toast-container .toast")


def test_after_sync_all_the_scene_page_shows_synced_with_an_open_in_plex_link(
    page, ui, runner, stash, plex
):
    pairs = add_synced_pair(stash, plex, 3)
    stash.plugin_settings["PlexSync"]["plexWebUrl"] = f"{ui.url}/plex-web/index.html"
    assert runner.run_task("sync_all").error is None
    scene_id, rating_key = pairs[1]
    panel = open_plex_tab(page, ui, scene_id)
    sync_api.expect(panel.locator(".plexsync-state")).to_have_text("synced")
    link = panel.locator("a.plexsync-open")
    href = link.get_attribute("href")
    assert href == (
        f"{ui.url}/plex-web/index.html#!/server/{plex.machine_identifier}/details"
        f"?key=%2Flibrary%2Fmetadata%2F{rating_key}"
    )
    assert PLEX_TOKEN not in page.content() and plex.item(rating_key).title == "Scene 1"
    assert link.get_attribute("target") == "_blank"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "scene-page.png"))
    with page.context.expect_page() as opened:
        link.click()
    assert opened.value.url == href  # the browser goes where the link says, no token added


def test_a_scene_whose_file_is_not_in_plex_shows_why(page, ui, runner, stash, plex):
    add_synced_pair(stash, plex, 1)
    missing = stash.add_scene(title="Missing", files=[("/media/new/clip.mp4", 77)])
    plex.add_item("1", "clip", files=[("/archive/clip.mp4", 5)])
    runner.run_task("sync_all")
    panel = open_plex_tab(page, ui, missing)
    # PlexSync retries a missing file for a while (Plex may still be scanning it), and says why
    sync_api.expect(panel.locator(".plexsync-state")).to_have_text("retrying")
    sync_api.expect(panel).to_contain_text("Looked for/media/new/clip.mp4")
    sync_api.expect(panel).to_contain_text("Closest in Plex/archive/clip.mp4")
    page.screenshot(path=str(SHOTS / "scene-not-in-plex.png"))


def test_sync_now_on_an_edited_scene_makes_plex_show_the_edit(page, ui, runner, stash, plex):
    [(scene_id, rating_key)] = add_synced_pair(stash, plex, 1)
    runner.run_task("sync_all")
    stash.update_scene(scene_id, title="Edited in Stash")  # as if the hook had been missed
    panel = open_plex_tab(page, ui, scene_id)
    sync_api.expect(panel.locator(".plexsync-state")).to_have_text("synced")
    panel.locator(".plexsync-sync-now").click()
    sync_api.expect(toast(page)).to_contain_text("written to Plex")
    wait_until(lambda: plex.item(rating_key).title == "Edited in Stash", timeout=60)
    sync_api.expect(panel.locator(".plexsync-state")).to_have_text("synced")


def test_the_scene_list_shows_badges_with_one_operation_call_per_page(
    page, ui, runner, stash, plex, data_dir
):
    pairs = add_synced_pair(stash, plex, 44)
    runner.run_task("sync_all")
    stash.add_scene(title="Not in Plex", files=[("/elsewhere/x.mp4", 3)])
    fail(data_dir, pairs[0][0], "Plex answered 500 three times")
    page.goto(f"{ui.url}/scenes?sortby=title&sortdir=asc&perPage=40")
    cards = page.locator(".scene-card")
    sync_api.expect(cards).to_have_count(40)
    sync_api.expect(page.locator(".scene-card .plexsync-badge")).to_have_count(40)
    sync_api.expect(page.locator(".plexsync-badge-failed")).to_have_count(1)
    sync_api.expect(page.locator(".plexsync-badge-not_in_plex")).to_have_count(1)
    calls = ui.graphql.operations()
    assert [c.args["mode"] for c in calls] == ["scene_state"]
    assert len(calls[0].args["scenes"]) == 40 and calls[0].error is None
    page.screenshot(path=str(SHOTS / "scene-list.png"))
    page.locator(".pagination").first.get_by_role("button", name="2").click()
    sync_api.expect(page.locator(".scene-card .plexsync-badge")).to_have_count(5)
    assert [len(c.args["scenes"]) for c in ui.graphql.operations()] == [40, 5]


def fail(data_dir, scene_id, reason):
    """A dead letter, as the worker leaves one after giving up on a scene."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with Store(data_dir / "state.db") as store:
        now = time.time()
        store.dead_letter(SceneJob(scene_id, "t", now), Failure(3, now),
                          RuntimeError(reason), now)  # fmt: skip


def open_plexsync_page(page, ui):
    page.goto(f"{ui.url}/scenes")  # a direct load of /plugin/plexsync is Stash's 404
    page.locator(".plexsync-nav").last.click()
    sync_api.expect(page).to_have_url(re.compile(r"/plugin/plexsync$"))
    return page.locator(".plexsync-page")


def test_the_plexsync_page_retries_a_failed_entry_and_starts_jobs(
    page, ui, runner, stash, plex, data_dir
):
    pairs = add_synced_pair(stash, plex, 3)
    runner.run_task("sync_all")
    runner.run_task("verify")
    (scene_id, rating_key) = pairs[2]
    stash.update_scene(scene_id, title="Retried title")
    fail(data_dir, scene_id, "Plex rejected the edit (HTTP 500)")
    screen = open_plexsync_page(page, ui)
    row = screen.locator(".plexsync-failed-row")
    sync_api.expect(row).to_have_count(1)
    sync_api.expect(row).to_contain_text("Plex rejected the edit (HTTP 500)")
    sync_api.expect(screen.locator(".plexsync-verify")).to_contain_text("3 in sync")
    sync_api.expect(screen.locator(".plexsync-runs")).to_contain_text("Sync all scenes to Plex")
    page.screenshot(path=str(SHOTS / "plexsync-page.png"), full_page=True)
    with page.context.expect_page() as opened:
        screen.locator(".plexsync-report").click()
    report = opened.value
    sync_api.expect(report).to_have_title("PlexSync verify report")
    sync_api.expect(report.locator("body")).to_contain_text("3 scenes checked")
    report.close()
    row.locator(".plexsync-retry").click()
    sync_api.expect(row).to_have_count(0)
    wait_until(lambda: plex.item(rating_key).title == "Retried title", timeout=60)
    screen.get_by_role("button", name="Sync all").click()
    sync_api.expect(toast(page)).to_contain_text("Sync all started")
    [task] = [c for c in ui.graphql.calls if c.kind == "task"]
    assert task.args == {"task_name": "Sync all scenes to Plex"}
    assert task.done.wait(120) and task.error is None


def test_plex_down_shows_why_not_a_blank_page(page, ui, runner, stash, plex):
    add_synced_pair(stash, plex, 1)
    runner.run_task("sync_all")
    plex.down()
    screen = open_plexsync_page(page, ui)
    sync_api.expect(screen.locator(".plexsync-problem")).to_contain_text("Plex does not answer")
    page.goto(f"{ui.url}/scenes")  # the cards' states need no Plex: badges as usual
    sync_api.expect(page.locator(".scene-card .plexsync-badge-synced")).to_have_count(1)


def test_an_unknown_operation_shows_the_plugins_error_as_a_toast(page, ui, runner, stash, plex):
    """As when the browser runs an older or newer PlexSync UI than the installed plugin."""
    [(scene_id, _)] = add_synced_pair(stash, plex, 1)

    def rename(route):
        body = route.request.post_data or ""
        route.continue_(post_data=body.replace('"mode":"scene_state"', '"mode":"scene_status"'))

    page.route("**/graphql", rename)
    panel = open_plex_tab(page, ui, scene_id)
    sync_api.expect(toast(page)).to_contain_text("unknown operation 'scene_status'")
    sync_api.expect(panel).to_contain_text("Plex state unavailable")


def test_not_configured_says_where_to_set_it(page, ui, stash):
    stash.plugin_settings = {}
    scene_id = stash.add_scene(title="A", files=[("/m/a.mp4", 1)])
    panel = open_plex_tab(page, ui, scene_id)
    sync_api.expect(panel.locator(".plexsync-problem")).to_contain_text("Plex server URL")
    page.goto(f"{ui.url}/scenes")
    sync_api.expect(page.locator(".scene-card")).to_have_count(1)
    assert page.locator(".plexsync-badge").count() == 0  # quiet: no badge until configured


def test_a_failed_scene_shows_its_reason_and_retries_from_its_tab(page, ui, stash, plex, data_dir):
    [(scene_id, rating_key)] = add_synced_pair(stash, plex, 1)
    fail(data_dir, scene_id, "Plex answered 503 for a day")
    panel = open_plex_tab(page, ui, scene_id)
    sync_api.expect(panel.locator(".plexsync-state")).to_have_text("failed")
    sync_api.expect(panel).to_contain_text("Plex answered 503 for a day")
    panel.locator(".plexsync-retry").click()
    sync_api.expect(toast(page)).to_contain_text("back in the queue")
    wait_until(lambda: plex.item(rating_key).title == "Scene 0", timeout=60)
    sync_api.expect(panel.locator(".plexsync-state")).to_have_text("synced")


def test_a_new_user_signs_in_with_plex_and_reaches_the_first_sync_all(
    page, ui, runner, stash, plex, monkeypatch
):
    """No settings -> Connect -> code -> linked on plex.tv -> server -> libraries -> path map
    found and applied -> preview -> Sync all -> synced. The screenshots are the README's."""
    from plex.account import PLEX_TV_ENV
    from tests.rig import tricky_library
    from tests.rig.fake_plextv import FakePlexTv
    from tests.test_signin_cli import TRICKY_MAP, dead_address

    account = "the-account-token-that-opens-everything"
    stash.plugin_settings = {}  # a new user: nothing saved
    tricky_library.install(stash, plex)
    with FakePlexTv(account_token=account) as tv:
        tv.add_server("Home", plex.machine_identifier, PLEX_TOKEN,
                      [(dead_address(), True, False), (plex.url, True, False)])  # fmt: skip
        tv.add_server("Friend", "friend-machine", "a-friends-token-0000",
                      [(dead_address(), False, False)], owned=False)  # fmt: skip
        monkeypatch.setenv(PLEX_TV_ENV, tv.url)
        SHOTS.mkdir(parents=True, exist_ok=True)
        screen = open_plexsync_page(page, ui)
        first_run = screen.locator(".plexsync-first-run")
        sync_api.expect(first_run).to_contain_text("Connect to Plex")
        page.screenshot(path=str(SHOTS / "connect-start.png"))
        first_run.locator(".plexsync-connect").click()

        code = first_run.locator(".plexsync-code")
        sync_api.expect(code).to_have_text(re.compile(r"^[A-Z0-9]{4}$"))
        link = first_run.locator("a.plexsync-link")
        assert link.get_attribute("href") == "https://plex.tv/link"
        page.screenshot(path=str(SHOTS / "connect-code.png"))
        tv.link(code.inner_text())

        servers = first_run.locator(".plexsync-server")
        sync_api.expect(servers).to_have_count(2)
        sync_api.expect(servers.first).to_contain_text(f"Home owned answers at {plex.url}")
        sync_api.expect(servers.last).to_contain_text("no address answers")
        assert servers.last.locator(".plexsync-choose").is_disabled()
        page.screenshot(path=str(SHOTS / "connect-servers.png"))
        servers.first.locator(".plexsync-choose").click()

        libraries = first_run.locator(".plexsync-library")
        sync_api.expect(libraries).to_have_count(2)
        sync_api.expect(libraries.first).to_have_text("Movies (17 items)")
        sync_api.expect(first_run.locator(".plexsync-chosen")).to_contain_text("Connected to Home")
        page.screenshot(path=str(SHOTS / "connect-libraries.png"))
        first_run.locator(".plexsync-save-libraries").click()

        rules = first_run.locator(".plexsync-rule")
        sync_api.expect(rules).to_have_count(4)
        sync_api.expect(rules.first).to_contain_text("/data/Northlight Films")
        sync_api.expect(rules.last).to_contain_text("\\\\NAS\\Clips")
        summary = first_run.locator(".plexsync-pathmap-summary")
        sync_api.expect(summary).to_have_text(
            "19 of 21 scenes found with these rules (1 at the same path), 2 not found."
        )
        page.screenshot(path=str(SHOTS / "connect-path-map.png"), full_page=True)
        first_run.locator(".plexsync-apply").click()

        preview = first_run.locator(".plexsync-preview")
        sync_api.expect(preview.locator(".plexsync-would-write")).to_contain_text("19")
        sync_api.expect(preview.locator(".plexsync-not-in-plex")).to_contain_text("2")
        sync_api.expect(first_run.locator(".plexsync-examples li").first).to_contain_text(" → ")
        assert stash.plugin_settings["PlexSync"]["pathMap"] == TRICKY_MAP
        assert plex.writes == 0  # nothing written before the person starts Sync all
        page.screenshot(path=str(SHOTS / "connect-preview.png"))
        first_run.locator(".plexsync-start-sync").click()

        sync_api.expect(toast(page)).to_contain_text("Sync all started")
        [task] = [c for c in ui.graphql.calls if c.kind == "task"]
        assert task.done.wait(180) and task.error is None
        wait_until(lambda: plex.find_by_file("/mnt/clips/beach day.mp4").title == "Beach Day")
        screen.locator(".plexsync-refresh").click()
        sync_api.expect(screen.locator(".plexsync-token-source")).to_contain_text(
            "Signed in with Plex: server Home"
        )
        sync_api.expect(screen.locator(".plexsync-counts")).to_contain_text("19")
        page.screenshot(path=str(SHOTS / "connect-synced.png"), full_page=True)
        html = page.content()
        assert PLEX_TOKEN not in html and account not in html
        assert tv.tokens_seen() == {account}
        assert {r.headers.get("X-Plex-Token") for r in plex.requests} == {PLEX_TOKEN}


def test_a_user_with_a_typed_token_finds_and_applies_the_path_map_from_the_page(
    page, ui, runner, stash, plex
):
    from tests.rig import tricky_library
    from tests.test_signin_cli import TRICKY_MAP

    tricky_library.install(stash, plex)
    screen = open_plexsync_page(page, ui)
    connection = screen.locator(".plexsync-connection")
    sync_api.expect(connection).to_contain_text('Plex token from the "Plex token" setting.')
    assert connection.locator(".plexsync-disconnect").count() == 0  # nothing signed in to undo
    connection.locator(".plexsync-find-path-map").click()
    sync_api.expect(connection.locator(".plexsync-rule")).to_have_count(4)
    connection.locator(".plexsync-apply").click()
    sync_api.expect(toast(page)).to_contain_text('"Path map" saved: ')
    assert stash.plugin_settings["PlexSync"]["pathMap"] == TRICKY_MAP
    assert stash.plugin_settings["PlexSync"]["plexToken"] == PLEX_TOKEN  # the rest kept
    connection.locator(".plexsync-preview-again").click()
    sync_api.expect(connection.locator(".plexsync-would-write")).to_contain_text("19")
